"""Enrichment at the gateway: a parsed user agent (ua-parser, cached by UA string), whether the
agent is a bot or an HTTP library, URL path, UTM parameters and referrer host. No IP address is
ever stored.

Bots and HTTP libraries come from maintained lists rather than a hand-written regex: the
`crawler-user-agents` package (1,500 patterns, each tagged: its `http-library` ones name HTTP
client libraries such as python-requests, curl, okhttp or Go-http-client, the rest crawlers,
scanners, monitors and browser automation such as HeadlessChrome), plus uap-core's own spider
rules through ua-parser. All patterns run as one Rust regex set (ua-parser-rs), far cheaper per
agent than a Python alternation of them (docs/benchmarks.md). An agent from an HTTP library is
not a person's and not a bot: the attribution (attribution.py) then treats the event as sent by
a server, with no browser."""

from __future__ import annotations

import functools
from typing import NamedTuple
from urllib.parse import parse_qsl, urlsplit

import ua_parser
import ua_parser_rs
from crawleruseragents import CRAWLER_USER_AGENTS_DATA

_UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_UA_LENGTH = 1024

# HTTP client libraries the crawler list does not name (their default User-Agent headers); ua-parser
# calls Java's a spider. Each is anchored at the start: a browser's agent never starts so.
_MORE_HTTP_LIBRARIES = (
    r"^Java/", r"^Java-http-client/", r"^Dart/", r"^Ruby\b", r"^Faraday ", r"^RestSharp/", r"^undici\b",
    r"^Deno/", r"^Bun/", r"^GuzzleHttp/", r"^PostmanRuntime/", r"^insomnia/", r"^Apache-CXF/", r"^Jakarta ",
    r"^libcurl", r"^Microsoft\.NET", r"^\.NET", r"^reqwest", r"^ureq/", r"^hyper/", r"^analytics-",
    r"^@segment/", r"^rudder", r"^RudderStack",
)
_LIBRARY, _BOT = "library", "bot"
_BROWSER_PREFIXES = ("Mozilla/", "Opera/")


def _agent_kinds() -> ua_parser_rs.DeviceExtractor:
    """One regex set: the first pattern that matches says "library" or "bot" (libraries first)."""
    # DeviceParser (pattern, regex flag, device family, brand, model) exists in the stubs only
    entries: list[ua_parser_rs.DeviceParser] = [(p, None, _LIBRARY, None, None) for p in _MORE_HTTP_LIBRARIES]
    for item in CRAWLER_USER_AGENTS_DATA:
        kind = _LIBRARY if "http-library" in item.get("tags", ()) else _BOT
        entries.append((item["pattern"], None, kind, None, None))
    entries.sort(key=lambda e: e[2] != _LIBRARY)  # stable: libraries first, each list in its order
    return ua_parser_rs.DeviceExtractor(entries)


_KINDS = _agent_kinds()


class Agent(NamedTuple):
    browser: str | None
    browser_version: str | None
    os: str | None
    os_version: str | None
    device_type: str | None  # desktop | mobile | tablet | bot | other
    is_bot: bool
    is_library: bool = False  # an HTTP client library's default agent: not a person, not a bot


EMPTY_AGENT = Agent(None, None, None, None, None, False)


def _version(*parts: str | None) -> str | None:
    got = [p for p in parts if p]
    return ".".join(got) if got else None


def _device_type(ua: str, os_family: str | None, device_family: str | None, is_bot: bool, browser: bool) -> str:
    if is_bot:
        return "bot"
    dev = (device_family or "").lower()
    low = ua.lower()
    if "ipad" in dev or "tablet" in dev or "tablet" in low or "ipad" in low:
        return "tablet"
    if browser and os_family == "Android" and "mobile" not in low:
        return "tablet"  # Android browsers say "Mobile" on phones only
    if os_family in ("iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS") or "mobile" in low:
        return "mobile"
    if os_family in ("Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD", "macOS"):
        return "desktop"
    return "other"


def _parse_agent(ua: str) -> Agent:
    if not ua:
        return EMPTY_AGENT
    kind = _KINDS.extract(ua)
    if kind is not None and kind.family == _LIBRARY:
        return Agent(None, None, None, None, None, False, True)
    result = ua_parser.parse(ua)
    # every browser's agent starts so; an app's own (Dalvik/..., MyApp/1 CFNetwork/... Darwin/...)
    # names its OS and device but no browser
    browser = result.user_agent if ua.startswith(_BROWSER_PREFIXES) else None
    os = result.os
    device = result.device
    is_bot = kind is not None or bool(device and device.family == "Spider")
    return Agent(
        browser=browser.family if browser else None,
        browser_version=_version(browser.major, browser.minor) if browser else None,
        os=os.family if os else None,
        os_version=_version(os.major, os.minor) if os else None,
        device_type=_device_type(ua, os.family if os else None, device.family if device else None, is_bot,
                                 browser is not None),
        is_bot=is_bot,
    )


class AgentParser:
    """`parse(ua)` with an LRU cache keyed by the UA string (a page's visitors share a few UAs).
    Its caller (attribution.attribute) cuts agents to MAX_UA_LENGTH first, so the cache's keys are
    bounded too."""

    def __init__(self, cache_size: int) -> None:
        self.parse = functools.lru_cache(maxsize=cache_size)(_parse_agent) if cache_size else _parse_agent

    @staticmethod
    def warm_up() -> None:
        """Load the regexes now rather than on the first request (~0.1 s)."""
        _parse_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0")


# utm_source, utm_medium, utm_campaign, utm_term, utm_content
Utm = tuple[str | None, str | None, str | None, str | None, str | None]


class PageInfo(NamedTuple):
    path: str | None
    utm: Utm


_NO_UTM: tuple[None, None, None, None, None] = (None, None, None, None, None)


@functools.lru_cache(maxsize=4096)
def page_info(url: str | None) -> PageInfo:
    """URL path and UTM parameters of a page URL (tolerates garbage: returns what it can)."""
    if not url:
        return PageInfo(None, _NO_UTM)
    try:
        parts = urlsplit(url)
    except ValueError:
        return PageInfo(None, _NO_UTM)
    path = parts.path or ("/" if parts.netloc else None)
    if "utm_" not in parts.query:
        return PageInfo(path, _NO_UTM)
    found: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=False):
        k = key.lower()
        if k in _UTM_KEYS and k not in found:
            found[k] = value[:500]
    source, medium, campaign, term, content = (found.get(k) for k in _UTM_KEYS)
    return PageInfo(path, (source, medium, campaign, term, content))


@functools.lru_cache(maxsize=4096)
def url_host(url: str | None) -> str | None:
    """Lower-cased host of a URL ("www.google.com"), or None when there is none."""
    if not url:
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host or None
