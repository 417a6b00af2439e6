"""The demo site and its audience: pages, how visitors move between them, where they come from,
which browsers they use, and the product's funnel. Plain data, read by the generator."""

from __future__ import annotations

from dataclasses import dataclass

SITE = "https://www.acme-analytics.example"
LIBRARY = {"name": "tme.js", "version": "1.0.0"}

# path -> page title
PAGES: dict[str, str] = {
    "/": "Acme Analytics — product analytics you own",
    "/features": "Features",
    "/pricing": "Pricing",
    "/signup": "Create your account",
    "/login": "Log in",
    "/about": "About us",
    "/changelog": "Changelog",
    "/contact": "Contact sales",
    "/docs": "Documentation",
    "/docs/getting-started": "Getting started",
    "/docs/sdk/javascript": "JavaScript SDK",
    "/docs/sdk/python": "Python SDK",
    "/docs/api": "HTTP API",
    "/docs/self-hosting": "Self-hosting",
    "/docs/funnels": "Funnels",
    "/docs/retention": "Retention",
    "/blog": "Blog",
    "/blog/why-self-host-analytics": "Why self-host your analytics",
    "/blog/postgres-partitioning": "Partitioning 10M events in PostgreSQL",
    "/blog/funnels-101": "Funnels 101",
    "/blog/launch-week": "Launch week recap",
    "/app/dashboard": "Dashboard",
    "/app/projects/new": "New project",
    "/app/settings": "Settings",
    "/app/reports": "Reports",
}

DOCS = ("/docs", "/docs/getting-started", "/docs/sdk/javascript", "/docs/sdk/python", "/docs/api",
        "/docs/self-hosting", "/docs/funnels", "/docs/retention")
BLOG_POSTS = ("/blog/why-self-host-analytics", "/blog/postgres-partitioning", "/blog/funnels-101",
              "/blog/launch-week")
APP = ("/app/dashboard", "/app/settings", "/app/reports")

Weighted = tuple[tuple[str, float], ...]

# where a visitor goes next from a page (anonymous visitors; signed-up users stay mostly in /app)
_MARKETING_NEXT: Weighted = (("/", 2), ("/features", 3), ("/pricing", 4), ("/docs", 1.5), ("/blog", 1),
                             ("/about", 0.5), ("/changelog", 0.5), ("/login", 0.7), ("/contact", 0.3))
_DOCS_NEXT: Weighted = (*((p, 2.0) for p in DOCS), ("/pricing", 1.5), ("/", 0.7), ("/signup", 0.4))
_BLOG_NEXT: Weighted = (*((p, 1.0) for p in BLOG_POSTS), ("/blog", 1), ("/", 1.5), ("/pricing", 1.5),
                        ("/docs/getting-started", 1))
_APP_NEXT: Weighted = (("/app/dashboard", 4), ("/app/reports", 3), ("/app/settings", 1), ("/docs", 0.5))


def next_pages(path: str) -> Weighted:
    if path.startswith("/app"):
        return _APP_NEXT
    if path.startswith("/docs"):
        return _DOCS_NEXT
    if path.startswith("/blog"):
        return _BLOG_NEXT
    return _MARKETING_NEXT


@dataclass(frozen=True)
class Source:
    """A way in: the referrer URL(s) a visitor arrives with, UTM tags on the landing URL, landing pages."""

    name: str
    weight: float
    referrers: tuple[str, ...]
    landings: Weighted
    utm: tuple[tuple[str, str, str, str | None], ...] = ()  # (source, medium, campaign, term)


_HOME: Weighted = (("/", 1),)
SOURCES: tuple[Source, ...] = (
    Source("direct", 26, ("",), (("/", 6), ("/pricing", 1), ("/docs", 1), ("/login", 1))),
    Source("google", 30, ("https://www.google.com/",),
           (("/", 2), ("/docs/getting-started", 2), ("/docs/sdk/javascript", 1), ("/docs/self-hosting", 1),
            ("/blog/why-self-host-analytics", 2), ("/blog/postgres-partitioning", 1.5), ("/pricing", 1))),
    Source("bing", 3, ("https://www.bing.com/",), (("/", 2), ("/docs/getting-started", 1), ("/pricing", 1))),
    Source("duckduckgo", 3, ("https://duckduckgo.com/",), (("/", 2), ("/docs/self-hosting", 2))),
    Source("twitter", 8, ("https://t.co/x7Qb2k", "https://t.co/Lm3pZa", "https://x.com/"),
           (("/blog/launch-week", 3), ("/", 2), ("/blog/funnels-101", 1))),
    Source("hackernews", 6, ("https://news.ycombinator.com/", "https://news.ycombinator.com/item?id=41234567"),
           (("/blog/postgres-partitioning", 4), ("/blog/why-self-host-analytics", 2), ("/", 1))),
    Source("github", 7, ("https://github.com/acme/analytics", "https://github.com/"),
           (("/docs/getting-started", 3), ("/", 2), ("/docs/self-hosting", 2))),
    Source("reddit", 2, ("https://www.reddit.com/r/selfhosted/",), (("/blog/why-self-host-analytics", 2), ("/", 1))),
    Source("newsletter", 5, ("",), (("/blog/funnels-101", 2), ("/changelog", 1), ("/pricing", 1)),
           (("newsletter", "email", "monthly-digest", None), ("newsletter", "email", "launch-announcement", None))),
    Source("google-ads", 7, ("https://www.google.com/",), (("/", 2), ("/pricing", 3)),
           (("google", "cpc", "brand", "acme analytics"),
            ("google", "cpc", "analytics-alternative", "self hosted analytics"),
            ("google", "cpc", "analytics-alternative", "product analytics postgres"))),
    Source("twitter-ads", 2, ("https://t.co/ad91Kq",), _HOME, (("twitter", "social", "launch-week", None),)),
    Source("producthunt", 1, ("https://www.producthunt.com/",), _HOME,
           (("producthunt", "referral", "launch", None),)),
)
SOURCE_WEIGHTS: tuple[float, ...] = tuple(s.weight for s in SOURCES)
DIRECT = SOURCES[0]


@dataclass(frozen=True)
class Device:
    user_agent: str
    weight: float
    locale_tz: tuple[tuple[str, str], ...] = (("en-US", "America/New_York"),)
    screen: tuple[int, int] = (1920, 1080)  # window.screen in CSS pixels, as the SDK sends it


_EU = (("en-GB", "Europe/London"), ("de-DE", "Europe/Berlin"), ("fr-FR", "Europe/Paris"), ("nl-NL", "Europe/Amsterdam"))
_US = (("en-US", "America/New_York"), ("en-US", "America/Chicago"), ("en-US", "America/Los_Angeles"))
_WORLD = (*_US, *_EU, ("pt-BR", "America/Sao_Paulo"), ("ja-JP", "Asia/Tokyo"), ("en-IN", "Asia/Kolkata"))

# Real user-agent strings (2025-2026 browsers); the gateway's ua-parser turns them into browser/os/device.
DEVICES: tuple[Device, ...] = (
    Device("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36", 24, _WORLD),
    Device("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36", 14, _WORLD, (1512, 982)),
    Device("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/18.1 Safari/605.1.15", 9, _US, (1440, 900)),
    Device("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", 6, _EU),
    Device("Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", 4, _EU, (1366, 768)),
    Device("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
           3, _WORLD, (1280, 800)),
    Device("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", 7, _US),
    Device("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/18.1 Mobile/15E148 Safari/604.1", 12, _US, (393, 852)),
    Device("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.6778.81 Mobile Safari/537.36", 6, _WORLD, (412, 915)),
    Device("Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
           "SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", 3, _WORLD, (384, 824)),
    Device("Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "Version/18.1 Mobile/15E148 Safari/604.1", 2, _US, (820, 1180)),
    Device("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
           "CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", 2, _WORLD, (390, 844)),
    Device("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/131.0.0.0 Safari/537.36 OPR/114.0.0.0", 1, _EU),
)
DEVICE_WEIGHTS: tuple[float, ...] = tuple(d.weight for d in DEVICES)

BOT_AGENTS: tuple[str, ...] = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
)

# The product funnel, in order: each step's event and the chance to reach the next one in the session.
FUNNEL = ("Viewed Pricing", "Started Signup", "Signed Up", "Created Project")
PRICING_TO_SIGNUP = 0.30
SIGNUP_COMPLETED = 0.55
PROJECT_CREATED = 0.70

PLANS = (("free", 70), ("pro", 22), ("team", 8))
FIRST_NAMES = ("Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Frances", "Edsger",
               "Radia", "Guido", "Sophie", "Yukihiro", "Hedy", "Tim", "Katherine", "John", "Anita", "Bjarne")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov", "Ritchie", "Allen",
              "Dijkstra", "Perlman", "Rossum", "Wilson", "Matsumoto", "Lamarr", "Berners-Lee", "Johnson", "McCarthy",
              "Borg", "Stroustrup")
COMPANIES = ("Initech", "Globex", "Hooli", "Umbrella", "Stark Industries", "Wayne Enterprises", "Soylent",
             "Cyberdyne", "Wonka", "Aperture", None, None, None)
DOC_SEARCHES = ("install", "funnel", "retention", "segment", "api key", "docker", "kubernetes", "export csv",
                "python", "react", "sessions", "bots")
SNIPPET_LANGUAGES = (("javascript", 5), ("python", 2), ("curl", 2), ("go", 1))
CTA_LABELS = (("Get started free", 5), ("Book a demo", 1), ("See pricing", 2))

# traffic shape: relative weight of each UTC hour of the day, each weekday (Monday first)
HOUR_WEIGHTS = (2.2, 1.7, 1.3, 1.1, 1.0, 1.2, 1.8, 2.8, 4.0, 5.0, 5.6, 5.9, 6.1, 6.5, 7.0, 7.3, 7.2, 6.9, 6.3,
                5.6, 4.9, 4.1, 3.3, 2.7)
WEEKDAY_WEIGHTS = (1.0, 1.06, 1.05, 1.0, 0.9, 0.55, 0.5)
