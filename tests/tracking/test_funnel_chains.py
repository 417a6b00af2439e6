"""The funnel's chain follower (numpy) on packed rows like those PostgreSQL sends: the same answer
as the rules in plain Python however the visitors are chunked, and visitors whose first hash
collides are still told apart."""

from __future__ import annotations

import hashlib
import random

import numpy as np
import pytest

from services.tracking.queries import funnel_chains
from services.tracking.queries.funnel_chains import ROW, follow

from .funnel_reference import reference_funnel

Event = tuple[str, float, str, str]


def _pack(events: list[Event], steps: list[str], hashes: dict[str, tuple[int, int]] | None = None) -> bytes:
    rows = np.zeros(len(events), dtype=ROW)
    for i, (visitor, seconds, _, name) in enumerate(events):
        if hashes and visitor in hashes:
            first, second = hashes[visitor]
        else:
            digest = hashlib.sha256(visitor.encode()).digest()
            first, second = (int.from_bytes(digest[k:k + 8], "big", signed=True) for k in (0, 8))
        mask = sum(1 << k for k, step in enumerate(steps) if step == name)
        rows[i] = (first, second, round(seconds * 1e6), mask)
    return rows.tobytes()


def _random_events(count: int, visitors: int, seed: int) -> list[Event]:
    rnd = random.Random(seed)
    return [(f"v{rnd.randrange(visitors)}", float(rnd.choice([0, 60, 600, 1800]) * rnd.randrange(1, 40)),
             f"m{n}", rnd.choice("AABC")) for n in range(count)]


def _answer(packed: bytes, steps: list[str], window: float) -> tuple[list[int], list[float | None]]:
    tally = follow(packed, len(steps), round(window * 1e6))
    return tally.users, [None if m is None else round(m, 1) for m in tally.medians()]


@pytest.mark.parametrize("steps", [["A", "B", "C"], ["A", "A", "B"], ["A", "B", "A"], ["C", "B"]])
def test_chunked_visitors_follow_the_rules(steps: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    events = [e for e in _random_events(3000, 300, seed=11) if e[3] in steps]
    packed = _pack(events, steps)
    expected = reference_funnel(events, steps, 3600)
    assert _answer(packed, steps, 3600) == expected
    monkeypatch.setattr(funnel_chains, "CHUNK_ROWS", 100)  # 32 chunks of ~100 rows
    assert _answer(packed, steps, 3600) == expected


def test_visitors_whose_first_hash_collides_stay_apart() -> None:
    steps = ["A", "B"]
    events = [("x", 0.0, "m1", "A"), ("y", 10.0, "m2", "B"), ("y", 20.0, "m3", "A"), ("x", 30.0, "m4", "B")]
    same_first = {"x": (42, 1), "y": (42, 2)}
    # as one visitor, A at 0 s would reach B at 10 s; apart, x converts in 30 s and y not at all
    assert _answer(_pack(events, steps, same_first), steps, 3600) == ([2, 1], [None, 30.0])


def test_no_events_and_no_starts() -> None:
    assert _answer(b"", ["A", "B"], 60) == ([0, 0], [None, None])
    only_b = _pack([("x", 0.0, "m1", "B")], ["A", "B"])
    assert _answer(only_b, ["A", "B"], 60) == ([0, 0], [None, None])
