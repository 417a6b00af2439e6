"""The funnel rules of services/tracking/queries/funnels.py, in plain Python, visitor by visitor."""

from __future__ import annotations

import statistics


def reference_funnel(events: list[tuple[str, float, str, str]], steps: list[str], window: float) -> tuple[
        list[int], list[float | None]]:
    """The documented rules, visitor by visitor in plain Python: events are (visitor, seconds,
    message id, event name); events at the same second go in the funnel's order (by the first
    step they match, then by the mask of the steps they match)."""
    def order(name: str) -> tuple[int, int]:
        mask = sum(1 << k for k, step in enumerate(steps) if step == name)
        return steps.index(name), mask

    best: dict[str, tuple[int, float, list[float]]] = {}
    for visitor in {e[0] for e in events}:
        mine = sorted((t, *order(name), name) for v, t, _, name in events if v == visitor and name in steps)
        for i, (t1, _, _, name) in enumerate(mine):
            if name != steps[0]:
                continue
            times, pos = [t1], i
            for step in steps[1:]:
                nxt = next((j for j in range(pos + 1, len(mine)) if mine[j][3] == step), None)
                if nxt is None:
                    break
                times.append(mine[nxt][0])
                pos = nxt
            depth = 1 + sum(1 for t in times[1:] if t <= t1 + window)
            old = best.get(visitor)
            if old is None or (depth, -t1) > (old[0], -old[1]):
                best[visitor] = (depth, t1, times)
    users = [sum(1 for d, _, _ in best.values() if d >= k) for k in range(1, len(steps) + 1)]
    medians: list[float | None] = [None]
    for k in range(2, len(steps) + 1):
        gaps = [times[k - 1] - times[k - 2] for d, _, times in best.values() if d >= k]
        medians.append(round(statistics.median(gaps), 1) if gaps else None)
    return users, medians
