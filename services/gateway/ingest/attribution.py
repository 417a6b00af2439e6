"""Whose agent an event carries, and what Segment's context says about the sender and the device.

**Whose agent.** On Segment's HTTP API (`/v1/*`) the request's `User-Agent` belongs to the library
that sent it (analytics-python, okhttp, urllib, Go-http-client, ...), never to the person, so the
person's agent comes only from `context.userAgent`, else from `context.userAgentData` (a browser's
user-agent client hints: brands, platform, mobile). On the native endpoints, which browsers call
directly, the request's header is the person's unless the event carries `context.userAgent`. An
agent that is an HTTP library's default (enrich.py) is nobody's. An event without a person's
agent has no browser and is not a bot: it counts in every answer.

**Mobile and server context** (Segment's spec), each used when sent:
- `context.os.name/version` replaces the agent's operating system (iPadOS counts as iOS, macOS as
  Mac OS X: the names ua-parser gives browsers, so one breakdown row holds both);
- `context.device.type` sets the device type: ios/android -> mobile, or tablet when the model is
  an iPad or the screen's smallest width is at least 600 dp (Android's own tablet threshold);
- `context.library.name` is the sending library (`library`; "http" when none is named);
- `context.app.version` (else `app.build`) is the app version, `context.locale` the locale
  (canonical BCP 47 case: en-US), on native endpoints else the request's `Accept-Language`;
- `context.screen.width/height` (points on iOS, pixels over `density` on Android, CSS pixels in a
  browser) gives a size class as Plausible defines it: mobile < 576 <= tablet < 992 <= laptop
  < 1440 <= desktop;
- device model and manufacturer, app name and build, time zone, network and the rest stay in
  `context`, stored as sent (without `ip`)."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from services.gateway.ingest.enrich import EMPTY_AGENT, MAX_UA_LENGTH, Agent, AgentParser

NO_LIBRARY = "http"  # an event whose context names no library was sent with plain HTTP
MAX_LIBRARY = 100
MAX_APP_VERSION = 100
MAX_LOCALE = 35  # BCP 47's practical maximum
MOBILE_OS = frozenset({"iOS", "Android"})
_OS_NAMES = {"ipados": "iOS", "ios": "iOS", "iphone os": "iOS", "android": "Android", "macos": "Mac OS X",
             "mac os x": "Mac OS X", "mac os": "Mac OS X", "windows": "Windows", "linux": "Linux",
             "chrome os": "Chrome OS", "chromeos": "Chrome OS"}
_DEVICE_TYPES = {"ios": "mobile", "android": "mobile", "mobile": "mobile", "phone": "mobile", "tablet": "tablet",
                 "macos": "desktop", "windows": "desktop", "linux": "desktop", "desktop": "desktop",
                 "tvos": "other", "tv": "other", "watchos": "other", "wearable": "other"}
_DESKTOP_PLATFORMS = frozenset({"Windows", "Mac OS X", "Linux", "Chrome OS"})
_BRANDS = {"Google Chrome": "Chrome", "Microsoft Edge": "Edge", "Chromium": "Chromium", "Opera": "Opera",
           "Brave": "Brave", "Yandex": "Yandex Browser", "Samsung Internet": "Samsung Internet"}
SCREEN_CLASSES = ((576, "mobile"), (992, "tablet"), (1440, "laptop"))  # below the width -> the class
TABLET_MIN_DP = 600


class Attribution(NamedTuple):
    user_agent: str | None  # the person's agent, as stored
    agent: Agent
    library: str
    app_version: str | None
    locale: str | None
    screen_class: str | None


def _text(value: Any, limit: int) -> str | None:
    if isinstance(value, str):
        value = value.strip()
        return value[:limit] if value else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)[:limit]
    return None


def _number(value: Any) -> float | None:
    kind = type(value)
    if (kind is int or kind is float) and 0 < value < 1_000_000:
        number: float = value
        return number
    return None


def canonical_locale(value: Any) -> str | None:
    """'en_us' -> 'en-US', 'zh-hant-tw' -> 'zh-Hant-TW'; None for anything that is not a tag."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_LOCALE:
        return None
    return _canonical_locale(value)


@functools.lru_cache(maxsize=1024)  # a site's visitors share a few dozen locales
def _canonical_locale(value: str) -> str | None:
    parts = value.strip().replace("_", "-").split("-")
    if not parts[0].isalpha() or not 2 <= len(parts[0]) <= 8 or not all(p.isalnum() for p in parts):
        return None
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part.lower())
    return "-".join(out)


def header_locale(accept_language: str) -> str | None:
    """The first language of an Accept-Language header ('de-CH,de;q=0.9' -> 'de-CH')."""
    first = accept_language.split(",", 1)[0].split(";", 1)[0]
    return canonical_locale(first) if first and first != "*" else None


def _hinted_agent(hints: dict[str, Any]) -> Agent:
    """An agent from user-agent client hints (`navigator.userAgentData.toJSON()`)."""
    browser = version = None
    brands = hints.get("brands")
    if isinstance(brands, list):
        named = [b for b in brands if isinstance(b, dict) and isinstance(b.get("brand"), str)
                 and "brand" not in b["brand"].lower().replace("-", " ").split()]
        # a specific brand (Chrome, Edge, Opera) over the engine they share (Chromium)
        named.sort(key=lambda b: b["brand"] == "Chromium")
        if named:
            browser = _BRANDS.get(named[0]["brand"], named[0]["brand"][:100])
            version = _text(named[0].get("version"), 20)
    platform = _text(hints.get("platform"), 50)
    os = _OS_NAMES.get(platform.lower(), platform) if platform else None
    mobile = hints.get("mobile")
    device = "mobile" if mobile is True else "desktop" if os in _DESKTOP_PLATFORMS else None
    return Agent(browser, version, os, None, device, False)


def _screen_dp(screen: Any, os: str | None) -> tuple[float, float] | None:
    """The screen's (width, smallest side) in the units the size classes use: CSS pixels or points,
    Android's physical pixels over its density."""
    if not isinstance(screen, dict):
        return None
    width, height = _number(screen.get("width")), _number(screen.get("height"))
    if width is None:
        return None
    if os == "Android":
        density = _number(screen.get("density"))
        if density is not None and density >= 0.5:
            width, height = width / density, (height / density if height is not None else None)
    return width, min(width, height) if height is not None else width


def screen_class(width: float) -> str:
    for below, name in SCREEN_CLASSES:
        if width < below:
            return name
    return "desktop"


def _size_class(size: tuple[float, float], os: str | None) -> str:
    """A phone's or tablet's class by its smallest side (any orientation), others' by width."""
    return screen_class(size[1] if os in MOBILE_OS else size[0])


def _device_type(device: dict[str, Any], os: str | None, agent: Agent,
                 screen: tuple[float, float] | None) -> str | None:
    given = _text(device.get("type"), 20)
    kind = _DEVICE_TYPES.get(given.lower(), "other") if given else agent.device_type
    if given is None and os in MOBILE_OS and agent.device_type in (None, "other", "desktop"):
        kind = "mobile"  # a phone's OS without an agent that says more
    if kind == "mobile":
        model = _text(device.get("model"), 100) or ""
        if model.lower().startswith("ipad") or (os == "Android" and screen is not None and screen[1] >= TABLET_MIN_DP):
            kind = "tablet"
    return kind


def attribute(agents: AgentParser, context: dict[str, Any], header_agent: str | None, default_library: str,
              fallback_locale: str | None = None) -> Attribution:
    """The event's person's agent and sender facts. `header_agent` is the request's User-Agent on a
    native endpoint, None on Segment's API; `fallback_locale` the request's language (native)."""
    ua = context.get("userAgent")
    if not isinstance(ua, str) or not ua:
        ua = header_agent or None
    if ua is not None and len(ua) > MAX_UA_LENGTH:  # cut before it is parsed, cached or stored
        ua = ua[:MAX_UA_LENGTH]
    agent = agents.parse(ua) if ua else EMPTY_AGENT
    if agent.is_library:
        ua, agent = None, EMPTY_AGENT
    if ua is None:
        hints = context.get("userAgentData")
        if isinstance(hints, dict):
            agent = _hinted_agent(hints)
    library = context.get("library")
    name = _text(library.get("name"), MAX_LIBRARY) if isinstance(library, dict) else None
    app = context.get("app")
    app_version = (_text(app.get("version"), MAX_APP_VERSION) or _text(app.get("build"), MAX_APP_VERSION)) \
        if isinstance(app, dict) else None
    locale = canonical_locale(context.get("locale")) or fallback_locale
    os_given, device, screen = context.get("os"), context.get("device"), context.get("screen")
    os = agent.os
    if isinstance(os_given, dict) and not agent.is_bot:
        os_name = _text(os_given.get("name"), 50)
        if os_name:
            os = _OS_NAMES.get(os_name.lower(), os_name)
            version = _text(os_given.get("version"), 50)
            agent = agent._replace(os=os, os_version=".".join(version.split(".")[:2]) if version else None)
    size = _screen_dp(screen, os) if screen is not None else None
    if (isinstance(device, dict) or isinstance(os_given, dict)) and not agent.is_bot:
        agent = agent._replace(device_type=_device_type(device if isinstance(device, dict) else {}, os, agent, size))
    return Attribution(ua, agent, name or default_library, app_version, locale,
                       _size_class(size, os) if size is not None else None)
