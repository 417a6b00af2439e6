"""The funnel's per-visitor chains, computed with numpy over rows PostgreSQL packs into bytes.

PostgreSQL finds the step events, resolves aliases and packs each event into 26 bytes: the
visitor as two 64-bit hashes of the resolved id, the time (µs) and a bit mask of the steps the
event matches (see funnels.py). Here they are put in order and followed (the rules are in
funnels.py's docstring):

1. Rows are sorted by visitor, then time, then the first step the event matches, then the
   mask. Rows left tied have the same time and match the same steps, so either order gives the
   same chains.
2. A chain is a list of row positions. On a step-k event, pos[j] is the row of step j of the
   chain it starts: its own row for j = k, else the least pos[j] among the later step-(k+1)
   events of the same visitor (the first of them starts the earliest chain, and a later event's
   chain is nowhere earlier). One reversed running minimum per step pair, from the last step back.
   Positions of one visitor are below every position of the next, so the running minimum needs
   no reset: a minimum that lands on another visitor's row means "none".
3. A start reaches the steps whose events lie within the window of it; each visitor keeps the
   deepest start, the first in order among equals.

Visitors are identified by two independent 64-bit hashes. Grouping uses the first; a second
differing inside a group (two ids with the same first hash, about once in 10^10 funnels of a
million visitors) regroups that chunk on both."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

_FIELDS = [("visitor", ">i8"), ("visitor2", ">i8"), ("time", ">i8"), ("steps", ">i2")]
ROW = np.dtype(_FIELDS)
MAX_STEPS = 10  # the step mask is a 16-bit integer; the tie key below keeps 4 + 10 bits for it
TIE_BITS = 14
# Rows are followed in chunks of visitors (by their hash) of about this many rows: small arrays
# stay in the CPU's cache, which makes the walk faster than over one big array, and memory stays
# bounded
CHUNK_ROWS = 50_000

Ints = npt.NDArray[np.int64]


def follow(packed: bytes, steps: int, window_us: int) -> Tally:
    """Visitors per deepest step and their times to convert, from rows packed as ROW."""
    tally = Tally(steps, window_us)
    rows = np.frombuffer(packed, dtype=ROW)
    columns = [rows[name].astype(np.int64) for name, _ in _FIELDS]
    chunks = 1 << max(0, (len(rows) // CHUNK_ROWS).bit_length())
    if chunks == 1:
        tally.add(*columns)
        return tally
    chunk = (columns[0] & (chunks - 1)).astype(np.uint16)
    order = np.argsort(chunk, kind="stable")  # a radix sort for 16-bit keys
    ends = np.cumsum(np.bincount(chunk, minlength=chunks))
    for start, end in zip(np.r_[0, ends[:-1]], ends, strict=True):
        mine = order[start:end]
        tally.add(*(column[mine] for column in columns))
    return tally


@dataclass
class Tally:
    """Visitors per deepest step and the gaps (seconds) of their chosen chains, over chunks."""

    steps: int
    window_us: int
    users: list[int] = field(init=False)
    gaps: list[list[npt.NDArray[np.float64]]] = field(init=False)

    def __post_init__(self) -> None:
        if not 2 <= self.steps <= MAX_STEPS:
            raise ValueError(f"a funnel has 2 to {MAX_STEPS} steps")
        self.users = [0] * self.steps
        self.gaps = [[] for _ in range(self.steps)]

    def add(self, visitor: Ints, visitor2: Ints, time: Ints, mask: Ints) -> None:
        """The rows (ROW's columns) of some visitors, all of their rows."""
        if len(time) == 0:
            return
        n = len(time)
        group = _groups(visitor, visitor2)
        order = _visitor_time_order(group, time, mask, self.steps)
        group, time, mask = group[order], time[order], mask[order]
        pos = self._chains(group, mask)
        starts = np.flatnonzero(mask & 1)
        if len(starts) == 0:
            return
        # pos[j][starts]: row of step j of each start's chain (n: none)
        chain = [p[starts] for p in pos]
        t1 = time[starts]
        reached = [np.ones(len(starts), dtype=bool)]
        for j in range(1, self.steps):
            row = chain[j]
            found = row < n
            reached.append(found & (time[np.minimum(row, n - 1)] <= t1 + self.window_us))
        depth = np.sum(reached, axis=0)
        best = _first_deepest(group[starts], depth)
        depth = depth[best]
        for k in range(self.steps):
            deep = depth > k
            self.users[k] += int(deep.sum())
            if k:
                rows_k, rows_prev = chain[k][best][deep], chain[k - 1][best][deep]
                self.gaps[k].append((time[rows_k] - time[rows_prev]) / 1e6)

    def medians(self) -> list[float | None]:
        """Median seconds from step k-1 to step k (None for step 1 and steps nobody reached)."""
        out: list[float | None] = [None]
        for k in range(1, self.steps):
            gaps = np.concatenate(self.gaps[k]) if self.gaps[k] else np.empty(0)
            out.append(float(np.median(gaps)) if len(gaps) else None)
        return out

    def _chains(self, group: Ints, mask: Ints) -> list[Ints]:
        """pos[j] on step-1 rows (see the module docstring), from the last step back."""
        n = len(group)
        index = np.arange(n, dtype=np.int64)
        none = np.int64(n)
        last = self.steps - 1
        pos: list[Ints] = [np.full(n, none)] * self.steps
        pos[last] = np.where((mask >> last) & 1 == 1, index, none)
        for k in range(last - 1, -1, -1):
            on_k = (mask >> k) & 1 == 1
            later = [np.where(on_k, _later_min(pos[j], group, none), none) for j in range(k + 1, self.steps)]
            pos = [*pos[:k], np.where(on_k, index, none), *later]
        return pos


def _groups(visitor: Ints, visitor2: Ints) -> Ints:
    """Dense visitor numbers (any order) from the first hash, or both when the first collides."""
    by_first = np.argsort(visitor)
    first, second = visitor[by_first], visitor2[by_first]
    new = np.empty(len(first), dtype=bool)
    new[0] = True
    new[1:] = first[1:] != first[:-1]
    if np.any(~new[1:] & (second[1:] != second[:-1])):
        by_first = np.lexsort((visitor2, visitor))
        first, second = visitor[by_first], visitor2[by_first]
        new[1:] = (first[1:] != first[:-1]) | (second[1:] != second[:-1])
    group = np.empty(len(first), dtype=np.int64)
    group[by_first] = np.cumsum(new) - 1
    return group


def _visitor_time_order(group: Ints, time: Ints, mask: Ints, steps: int) -> Ints:
    """Rows by visitor, then time, then first matched step, then mask: three unstable int sorts
    (a stable two-key lexsort is twice as slow). Times span less than 2^49 µs (the range limit),
    so time and tie key share one int64."""
    first_step = np.zeros_like(mask)
    for k in range(steps - 1, -1, -1):
        first_step = np.where((mask >> k) & 1 == 1, k, first_step)
    key = ((time - time.min()) << TIE_BITS) | (first_step << MAX_STEPS) | mask
    rank = np.empty(len(key), dtype=np.int64)
    rank[np.argsort(key)] = np.arange(len(key), dtype=np.int64)
    return np.argsort(group * len(key) + rank)


def _later_min(pos: Ints, group: Ints, none: np.int64) -> Ints:
    """For each row, the least pos over the later rows of the same visitor (none if there is none)."""
    suffix = np.minimum.accumulate(pos[::-1])[::-1]
    later = np.empty_like(pos)
    later[:-1] = suffix[1:]
    later[-1] = none
    mine = later < none
    mine[mine] = group[later[mine]] == group[mine]
    return np.where(mine, later, none)


def _first_deepest(group: Ints, depth: Ints) -> Ints:
    """Index of each group's first row of greatest depth (rows are grouped, in order)."""
    firsts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[firsts, len(group)])
    deepest = np.repeat(np.maximum.reduceat(depth, firsts), sizes)
    candidates = np.flatnonzero(depth == deepest)
    keep = np.r_[True, group[candidates][1:] != group[candidates][:-1]]
    return candidates[keep]
