"""The gateway's token/ownership cache forgets on time and never grows past its bound."""

from __future__ import annotations

from services.gateway.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl_or_an_earlier_deadline() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(ttl=5, max_entries=10, clock=clock)
    cache.set("a", 1)
    cache.set("b", 2, max_age=1)  # e.g. a token that expires in one second
    cache.set("c", 3, max_age=-1)  # already expired: not stored
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, 2, None)
    clock.now += 1
    assert (cache.get("a"), cache.get("b")) == (1, None)
    clock.now += 4
    assert cache.get("a") is None
    assert len(cache) == 0


def test_the_cache_is_bounded_and_drops_the_oldest_first() -> None:
    cache: TtlCache[int, int] = TtlCache(ttl=60, max_entries=3, clock=Clock())
    for n in range(10):
        cache.set(n, n)
    assert len(cache) == 3
    assert [cache.get(n) for n in range(10)] == [None] * 7 + [7, 8, 9]


def test_entries_can_be_forgotten_by_key_or_by_value() -> None:
    cache: TtlCache[str, tuple[int, str]] = TtlCache(ttl=60, max_entries=10, clock=Clock())
    cache.set("t1", (1, "s1"))
    cache.set("t2", (1, "s2"))
    cache.set("t3", (2, "s3"))
    cache.delete("t1")
    assert cache.delete_where(lambda v: v[0] == 1) == 1
    assert (cache.get("t1"), cache.get("t2"), cache.get("t3")) == (None, None, (2, "s3"))


def test_a_zero_ttl_disables_caching() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl=0, max_entries=10, clock=Clock())
    cache.set("a", 1)
    assert cache.get("a") is None
