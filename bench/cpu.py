"""CPU time (and resident memory) of each part of a benchmark stack, from /proc: every service's
process tree (uvicorn's worker processes included), PostgreSQL's postmaster with its backends, Redis.

A process's count includes the time of the children it has reaped (PostgreSQL's parallel
workers, through the postmaster), so work done by processes that ended during the phase is
not lost; a process started during the phase counts from zero."""

from __future__ import annotations

import os
from pathlib import Path

from services.devstack import DevStack

PARTS = ("gateway", "subscriber", "postgres", "redis", "tracking", "users")
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, CPU ticks of the process and its reaped children)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), sum(int(f) for f in fields[11:15])  # ppid; utime, stime, cutime, cstime


def _roots(stack: DevStack) -> dict[int, str]:
    roots: dict[int, str] = {}
    for key, service in stack.services.items():
        if service.proc is not None and service.proc.poll() is None:
            roots[service.proc.pid] = next((p for p in PARTS if key.startswith(p)), key)
    for part, embedded in (("postgres", stack.postgres), ("redis", stack.redis)):
        if embedded is not None and embedded.proc is not None and embedded.proc.poll() is None:
            roots[embedded.proc.pid] = part
    return roots


def _stats_and_parts(stack: DevStack) -> tuple[dict[int, tuple[int, int]], dict[int, str]]:
    """Every process's (ppid, ticks), and the part of each live process of the stack."""
    stats = {int(d): s for d in os.listdir("/proc") if d.isdigit() and (s := _stat(int(d))) is not None}
    part_of = dict(_roots(stack))
    changed = True
    while changed:  # descendants of the roots, however deep
        changed = False
        for pid, (ppid, _) in stats.items():
            if pid not in part_of and ppid in part_of:
                part_of[pid] = part_of[ppid]
                changed = True
    return stats, part_of


def snapshot(stack: DevStack) -> dict[int, tuple[str, int]]:
    """pid -> (part, ticks) for every live process of the stack."""
    stats, part_of = _stats_and_parts(stack)
    return {pid: (part, stats[pid][1]) for pid, part in part_of.items() if pid in stats}


def resident_mb(stack: DevStack) -> dict[str, float]:
    """Resident memory (MB) of each part, summed over its process tree: each process's own pages
    (RssAnon + RssFile), not the shared memory it has touched (RssShmem: PostgreSQL's shared
    buffers, which every backend maps, would count once per backend and grow with the buffers each
    one has read, though nothing was allocated)."""
    _, part_of = _stats_and_parts(stack)
    out: dict[str, float] = {}
    for pid, part in part_of.items():
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        kb = sum(int(fields[k].split()[0]) for k in ("RssAnon", "RssFile") if k in fields)
        out[part] = out.get(part, 0.0) + kb / 1024
    return out


def seconds_between(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]]) -> dict[str, float]:
    """CPU seconds of each part from one snapshot to the other."""
    out: dict[str, float] = {}
    for pid, (part, ticks) in after.items():
        start = before.get(pid, (part, 0))[1]
        out[part] = out.get(part, 0.0) + max(0, ticks - start) / _TICK
    return out


def per_event(before: dict[int, tuple[str, int]], after: dict[int, tuple[str, int]], events: int) -> str:
    """'gateway 17.5, subscriber 2.1, ... µs of CPU per event (total ...)' for a phase."""
    spent = seconds_between(before, after)
    parts = [p for p in PARTS if spent.get(p, 0) > 0]
    total = sum(spent.values())
    each = ", ".join(f"{p} {spent[p] / max(events, 1) * 1e6:.1f}" for p in parts)
    return f"CPU µs per event: {each} (all {total / max(events, 1) * 1e6:.1f})"


def machine_ticks() -> list[int]:
    """The machine's CPU time by state (/proc/stat: user, nice, system, idle, iowait, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:9]]


def steal_share(before: list[int], after: list[int]) -> float:
    """Share of the machine's CPU time the hypervisor gave to other guests between two readings."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return spent[7] / max(sum(spent), 1)
