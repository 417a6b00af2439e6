"""Long-lived analytics answers (the realtime event stream, exports): their own upstream
pool, and a cap per user and per project.

A realtime stream holds an upstream connection for as long as its browser tab is open, an export
for as long as it takes. On the pool of ordinary questions, one account holding a few hundred
streams left no connection for anybody's dashboard (503 after the pool timeout). They go
through the gateway state's `streams` client instead (`TME_STREAM_MAX_CONNECTIONS`), and each gateway process
lets one user hold at most `TME_STREAM_MAX_PER_USER` of them and one project
`TME_STREAM_MAX_PER_PROJECT`; beyond that the answer is 429 with `Retry-After`. The counts are
per process (a deployment of N gateway processes allows N times as many in all): they bound
what one tenant can take from the others on each process, which is what starved them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import TypeVar

from services.shared.errors import ApiError, TooManyStreams

# the path segments (after the project) of the tracking routes whose answers stay open
LONG_LIVED = frozenset({("realtime", "stream"), ("events", "export"), ("export",)})
RETRY_AFTER_SECONDS = 10


def is_long_lived(segments: Sequence[str]) -> bool:
    """Also a person's export, persons/<id>/export (an id may hold slashes)."""
    if len(segments) >= 3 and segments[0] == "persons" and segments[-1] == "export":
        return True
    return tuple(segments) in LONG_LIVED


_K = TypeVar("_K", str, int)


class StreamSlots:
    def __init__(self, *, per_user: int, per_project: int) -> None:
        self.per_user = per_user
        self.per_project = per_project
        self.users: Counter[str] = Counter()
        self.projects: Counter[int] = Counter()

    def acquire(self, user_id: str, project_id: int) -> Callable[[], None]:
        """Take a slot for one stream, or raise ApiError 429; returns its release (safe to call twice).
        `user_id`: the caller, an account (`user:12`) or an API key (`key:3`)."""
        if self.users[user_id] >= self.per_user:
            raise _too_many(f"You have {self.per_user} live streams or exports open; close one (another tab?) "
                            "and retry.")
        if self.projects[project_id] >= self.per_project:
            raise _too_many(f"This project has {self.per_project} live streams or exports open; retry later.")
        self.users[user_id] += 1
        self.projects[project_id] += 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._release(self.users, user_id)
            self._release(self.projects, project_id)

        return release

    @staticmethod
    def _release(counts: Counter[_K], key: _K) -> None:
        counts[key] -= 1
        if counts[key] <= 0:
            del counts[key]


def _too_many(message: str) -> ApiError:
    return TooManyStreams(message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

