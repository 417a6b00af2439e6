"""Rendered previews of the chart's Grafana dashboards, from real data.

    python -m scripts.dashboard_previews [--seconds 150] [--out docs/screenshots]   # about 4 minutes
    python -m scripts.dashboard_previews --from-data previews.json   # re-render saved results only

Needs Debian's `prometheus` binary (`apt-get install prometheus`); no Grafana is involved.

1. Starts a private stack like the benchmarks do (`bench.common.start_stack`: embedded PostgreSQL
   and Redis, the four services on free ports) plus a second subscriber, so per-pod panels show
   two pods.
2. Runs Prometheus as a child process (its own config, a temporary TSDB, a free port on
   127.0.0.1) scraping every service process every 2 s, with the labels the chart's scrape
   configs give (`namespace`, `pod`) and `honor_labels` (the services' own `service` label wins).
3. Sends a few minutes of mixed traffic to the gateway on 127.0.0.1 only, at a rate that varies
   over time: native and Segment-style ingest (batched and single, identify/alias, some invalid
   events, unknown write keys), analytics queries, logins (some failing), refreshes, logouts.
4. Evaluates every panel's PromQL with Prometheus' `/api/v1/query_range` over that window
   (template variables replaced as Grafana would with "All" selected) and renders each dashboard
   with matplotlib, laid out by the panels' `gridPos` in a dark Grafana-like theme, to
   `docs/screenshots/grafana-<dashboard>.png`.

Prints, per dashboard, how many panels and queries returned data, names every query that
returned no series (with the reason when it is expected), and every PromQL error. Exit code 0.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import matplotlib
import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global figure state
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

from bench.common import register, start_stack  # the benchmarks' private stack
from services.shared.embedded import free_port

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "charts" / "trackmyevents" / "dashboards"
OUT_DIR = ROOT / "docs" / "screenshots"

SCRAPE_SECONDS = 2
STEP_SECONDS = 5
RATE_INTERVAL = "30s"  # $__rate_interval
INTERVAL = "10s"  # $__interval
NAMESPACE = "tme"
MAX_REQUESTS = 30_000  # a hard cap on the traffic, whatever the rate

# --------------------------------------------------------------------------------------------
# Prometheus


def prometheus_binary() -> str:
    path = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None)
    if not path:
        raise SystemExit("the `prometheus` binary is required for dashboard previews: apt-get install prometheus")
    return path


@dataclass(frozen=True)
class ScrapeTarget:
    address: str  # 127.0.0.1:port
    pod: str  # gateway-0, subscriber-1, ...


def prometheus_config(targets: list[ScrapeTarget]) -> str:
    """The config file (JSON is YAML): one static target per service process."""
    config = {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "scrape_timeout": f"{SCRAPE_SECONDS * 750}ms",
                   "evaluation_interval": f"{SCRAPE_SECONDS}s"},
        "scrape_configs": [{
            "job_name": "trackmyevents",
            "honor_labels": True,
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [t.address], "labels": {"namespace": NAMESPACE, "pod": t.pod}}
                               for t in targets],
        }],
    }
    return json.dumps(config, indent=2)


class Prometheus:
    """`prometheus` as a child process with a temporary TSDB; stopped by stop() (idempotent)."""

    def __init__(self, binary: str, targets: list[ScrapeTarget], workdir: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = workdir / "prometheus.log"
        config = workdir / "prometheus.yml"
        config.write_text(prometheus_config(targets))
        self.args = [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                     f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d"]
        self.targets = len(targets)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait(lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200, 30, "ready")
        self._wait(self._all_targets_up, 30, "scraping every target")

    def _all_targets_up(self) -> bool:
        active = httpx.get(f"{self.url}/api/v1/targets", timeout=2).json()["data"]["activeTargets"]
        return len(active) == self.targets and all(t["health"] == "up" for t in active)

    def _wait(self, check: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with code {self.proc.returncode}:\n{self._log_tail()}")
            with contextlib.suppress(httpx.HTTPError, KeyError, ValueError):
                if check():
                    return
            time.sleep(0.5)
        raise TimeoutError(f"prometheus was not {what} within {timeout:.0f}s:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-15:])

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def query_range(self, expr: str, start: float, end: float, step: float) -> dict[str, Any]:
        """The API's answer: {"status": "success", "data": {...}} or {"status": "error", "error": ...}."""
        r = httpx.get(f"{self.url}/api/v1/query_range", timeout=30,
                      params={"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step}s"})
        try:
            return r.json()
        except ValueError:
            return {"status": "error", "errorType": f"http {r.status_code}", "error": r.text[:300]}


# --------------------------------------------------------------------------------------------
# Traffic

PAGES = ["/", "/pricing", "/docs", "/docs/install", "/blog/launch", "/signup", "/cart", "/checkout", "/p/1",
         "/p/2", "/p/3", "/about"]
EVENT_NAMES = ["PAGE_VIEW"] * 6 + ["Viewed Pricing", "Signed Up", "Added to Cart", "Checkout Started",
                                   "Purchased", "Searched"]
SOURCES = ["google", "newsletter", "twitter", "bing", "partner"]
REFERRERS = ["https://www.google.com/", "https://news.ycombinator.com/", "https://t.co/x", "", "https://duckduckgo.com/"]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
    "Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
]


def intensity(t: float, seconds: float) -> float:
    """How busy the site is at second t of the run: a slow wave, a gentle ramp, one burst."""
    wave = 0.5 - 0.5 * math.cos(2 * math.pi * t / 70)
    ramp = 0.4 * t / seconds
    burst = 0.9 if 0.62 * seconds <= t < 0.72 * seconds else 0.0
    return 0.25 + 0.6 * wave + ramp + burst


def native_event(rng: random.Random) -> dict[str, Any]:
    user = rng.randrange(400)
    page = rng.choice(PAGES)
    return {"eventName": rng.choice(EVENT_NAMES), "sessionId": f"s{user}-{rng.randrange(3)}", "userId": f"u{user}",
            "page": f"https://shop.example.com{page}?utm_source={rng.choice(SOURCES)}",
            "referrer": rng.choice(REFERRERS), "context": {"plan": rng.choice(["free", "pro", "team"])},
            "properties": {"price": rng.randrange(5, 200)}}


def invalid_event(rng: random.Random) -> dict[str, Any]:
    event = native_event(rng)
    match rng.randrange(3):
        case 0:
            del event["eventName"]
        case 1:
            event["eventName"] = 12345
        case _:
            event["context"] = "not an object"
    return event


def segment_call(rng: random.Random) -> dict[str, Any]:
    user = rng.randrange(400)
    now = datetime.now(UTC).isoformat()
    kind = rng.choices(["track", "page", "identify", "alias"], weights=[6, 3, 2, 1])[0]
    call: dict[str, Any] = {"type": kind, "userId": f"u{user}", "timestamp": now, "anonymousId": f"anon-{user}"}
    if kind == "track":
        call |= {"event": rng.choice(EVENT_NAMES[6:]), "properties": {"plan": rng.choice(["free", "pro"])}}
    elif kind == "page":
        call |= {"name": "Home", "properties": {"url": f"https://shop.example.com{rng.choice(PAGES)}"}}
    elif kind == "identify":
        call["traits"] = {"email": f"user{user}@example.com", "plan": rng.choice(["free", "pro"])}
    else:
        call["previousId"] = f"anon-{user}"
    return call


@dataclass
class Account:
    project_id: int
    write_key: str
    token: str
    refresh_token: str
    email: str
    password: str = "bench-password-1"  # bench.common.register's

    @classmethod
    def of(cls, registered: dict[str, Any]) -> Account:
        return cls(int(registered["project"]["id"]), registered["project"]["writeKey"], registered["accessToken"],
                   registered["refreshToken"], registered["user"]["email"])


class Traffic:
    """Threads sending paced, randomised requests to the gateway until `seconds` have passed."""

    def __init__(self, gateway_url: str, account: Account, seconds: float) -> None:
        assert gateway_url.startswith("http://127.0.0.1:"), "traffic goes to the local stack only"
        self.url, self.account, self.seconds = gateway_url, account, seconds
        self.counts: Counter[str] = Counter()
        self.sent = 0
        self._lock = threading.Lock()
        self._registered = self._guessed = False  # the one-off account events, done once each
        self._t0 = time.monotonic()

    def run(self) -> None:
        self._t0 = time.monotonic()
        workers: list[tuple[Callable[[httpx.Client, random.Random], None], float]] = [
            (self._ingest, 5.0), (self._ingest, 5.0), (self._ingest, 5.0), (self._analytics, 2.0), (self._auth, 0.4)]
        threads = [threading.Thread(target=self._loop, args=(work, rate, seed), daemon=True)
                   for seed, (work, rate) in enumerate(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _elapsed(self) -> float:
        return time.monotonic() - self._t0

    def _loop(self, work: Callable[[httpx.Client, random.Random], None], rate: float, seed: int) -> None:
        rng = random.Random(seed)
        headers = {"user-agent": AGENTS[seed % len(AGENTS)]}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as client:
            while (t := self._elapsed()) < self.seconds and self.sent < MAX_REQUESTS:
                started = time.monotonic()
                try:
                    work(client, rng)
                except httpx.HTTPError as exc:
                    self._count(f"{type(exc).__name__}")
                pause = rng.expovariate(rate * intensity(t, self.seconds)) - (time.monotonic() - started)
                time.sleep(max(0.0, min(pause, self.seconds - self._elapsed())))

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1
            self.sent += 1

    def _send(self, client: httpx.Client, what: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        r = client.request(method, path, **kwargs)
        self._count(f"{what} -> {r.status_code}")
        return r

    # -- ingest -----------------------------------------------------------------------------
    def _ingest(self, client: httpx.Client, rng: random.Random) -> None:
        key = self.account.write_key
        size = max(1, int(rng.randint(5, 40) * intensity(self._elapsed(), self.seconds)))
        match rng.choices(range(7), weights=[45, 18, 5, 14, 6, 6, 6])[0]:
            case 0:
                batch = [native_event(rng) for _ in range(size)]
                if rng.random() < 0.25:
                    batch[rng.randrange(len(batch))] = invalid_event(rng)
                self._send(client, "native batch", "POST", "/api/track", json={"apiKey": key, "batch": batch})
            case 1:
                self._send(client, "native single", "POST", "/api/track", json={"apiKey": key, **native_event(rng)})
            case 2:
                self._send(client, "legacy single", "POST", "/api/tracking-service/v1/public/events/",
                           json=native_event(rng), headers={"x-write-key": key})
            case 3:
                body = {"batch": [segment_call(rng) for _ in range(size)], "sentAt": datetime.now(UTC).isoformat()}
                self._send(client, "segment batch", "POST", "/v1/batch", json=body, auth=(key, ""))
            case 4:
                call = segment_call(rng) | {"type": "track", "event": "Searched"}
                self._send(client, "segment track", "POST", "/v1/track", json=call, auth=(key, ""))
            case 5:
                self._send(client, "invalid batch", "POST", "/api/track",
                           json={"apiKey": key, "batch": [invalid_event(rng) for _ in range(3)]})
            case _:
                self._bad_request(client, rng)

    def _bad_request(self, client: httpx.Client, rng: random.Random) -> None:
        match rng.randrange(4):
            case 0:
                self._send(client, "unknown write key", "POST", "/api/track",
                           json={"apiKey": f"wk_unknown{rng.randrange(5)}", **native_event(rng)})
            case 1:
                self._send(client, "unknown write key (segment)", "POST", "/v1/batch",
                           json={"batch": [segment_call(rng)]}, auth=("wk_nope", ""))
            case 2:
                self._send(client, "missing write key", "POST", "/api/track", json=native_event(rng))
            case _:
                self._send(client, "invalid json", "POST", "/api/track", content=b'{"apiKey": ',
                           headers={"content-type": "application/json"})

    # -- analytics --------------------------------------------------------------------------
    def _analytics(self, client: httpx.Client, rng: random.Random) -> None:
        base = f"/api/projects/{self.account.project_id}"
        auth = {"authorization": f"Bearer {self.account.token}"}
        today = date.today()
        window = {"from": (today - timedelta(days=7)).isoformat(), "to": today.isoformat(), "tz": "Europe/Berlin"}
        match rng.choices(range(10), weights=[14, 12, 14, 6, 3, 4, 5, 5, 2, 2])[0]:
            case 0:
                self._send(client, "summary", "GET", f"{base}/stats/summary", params=window, headers=auth)
            case 1:
                params = window | {"metric": rng.choice(["events", "visitors", "pageviews"]), "interval": "hour"}
                self._send(client, "timeseries", "GET", f"{base}/stats/timeseries", params=params, headers=auth)
            case 2:
                params = window | {"by": rng.choice(["page", "event", "browser", "utmSource", "referrer"])}
                self._send(client, "breakdown", "GET", f"{base}/stats/breakdown", params=params, headers=auth)
            case 3:
                steps = [{"event": "Viewed Pricing"}, {"event": "Signed Up"}, {"event": "Purchased"}]
                self._send(client, "funnel", "POST", f"{base}/funnels", headers=auth,
                           json={"steps": steps, "windowSeconds": 86400, **window})
            case 4:
                self._send(client, "retention", "GET", f"{base}/retention", headers=auth,
                           params=window | {"period": "day", "periods": 7})
            case 5:
                self._send(client, "sessions", "GET", f"{base}/sessions", params=window, headers=auth)
            case 6:
                self._send(client, "realtime", "GET", f"{base}/realtime", headers=auth)
            case 7:
                self._send(client, "events", "GET", f"{base}/events", params=window | {"limit": 50}, headers=auth)
            case 8:
                self._send(client, "other project", "GET", "/api/projects/999999/stats/summary", headers=auth)
            case _:
                self._send(client, "no token", "GET", f"{base}/stats/summary", params=window)

    # -- accounts ---------------------------------------------------------------------------
    def _auth(self, client: httpx.Client, rng: random.Random) -> None:
        t = self._elapsed()
        if not self._registered and t > self.seconds / 3:
            self._registered = True
            email = f"preview-{rng.randrange(10**8)}@example.com"
            self._send(client, "register", "POST", "/api/auth/register",
                       json={"name": "Preview", "email": email, "password": "preview-pw-123"})
        if not self._guessed and t > self.seconds / 2:
            self._guessed = True  # someone guessing one account's password: throttled after 10 failures
            for _ in range(12):
                self._send(client, "password guessing", "POST", "/api/auth/login",
                           json={"email": "mallory-target@example.com", "password": "guess"})
        match rng.choices(range(4), weights=[45, 35, 10, 10])[0]:
            case 0:
                self._login_and_refresh(client, rng)
            case 1:
                self._send(client, "failed login", "POST", "/api/auth/login",
                           json={"email": f"someone{rng.randrange(10**6)}@example.com", "password": "wrong-password"})
            case 2:
                self._send(client, "me", "GET", "/api/me", headers={"authorization": f"Bearer {self.account.token}"})
            case _:
                self._send(client, "projects", "GET", "/api/projects",
                           headers={"authorization": f"Bearer {self.account.token}"})

    def _login_and_refresh(self, client: httpx.Client, rng: random.Random) -> None:
        r = self._send(client, "login", "POST", "/api/auth/login",
                       json={"email": self.account.email, "password": self.account.password})
        if r.status_code != 200:
            return
        session = r.json()
        if rng.random() < 0.5:
            r = self._send(client, "refresh", "POST", "/api/auth/refresh",
                           json={"refreshToken": session["refreshToken"]})
            if r.status_code == 200:
                session = r.json()
        if rng.random() < 0.4:
            self._send(client, "logout", "POST", "/api/auth/logout",
                       headers={"authorization": f"Bearer {session['accessToken']}"})


# --------------------------------------------------------------------------------------------
# Dashboards and their queries

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")


def substitute(expr: str, window_seconds: float) -> str:
    """Grafana's template variables, with "All" selected for the query variables."""
    values = {"namespace": ".*", "service": ".*", "__rate_interval": RATE_INTERVAL, "__interval": INTERVAL,
              "__range": f"{round(window_seconds)}s", "__range_s": str(round(window_seconds))}

    def replace(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        return values.get(name, m.group(0))

    return _VARIABLE.sub(replace, expr)


@dataclass
class SeriesData:
    legend: str
    values: list[float]  # on the window's grid, NaN where there is no sample


@dataclass
class TargetResult:
    ref: str
    expr: str
    error: str = ""
    series: list[SeriesData] = field(default_factory=list)

    @property
    def finite(self) -> bool:
        return any(math.isfinite(v) for s in self.series for v in s.values)


@dataclass
class Window:
    start: float
    end: float
    step: float

    @property
    def grid(self) -> list[float]:
        return [self.start + i * self.step for i in range(int((self.end - self.start) / self.step) + 1)]


def legend_for(fmt: str | None, labels: dict[str, str]) -> str:
    if not fmt:
        inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
        return f"{labels.get('__name__', '')}{{{inner}}}"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)


def evaluate(prom: Prometheus, target: dict[str, Any], window: Window) -> TargetResult:
    expr = substitute(target["expr"], window.end - window.start)
    result = TargetResult(target.get("refId", "A"), expr)
    answer = prom.query_range(expr, window.start, window.end, window.step)
    if answer.get("status") != "success":
        result.error = f"{answer.get('errorType', 'error')}: {answer.get('error', answer)}"
        return result
    grid = window.grid
    for item in answer["data"]["result"]:
        values = [math.nan] * len(grid)
        for ts, raw in item["values"]:
            index = round((float(ts) - window.start) / window.step)
            if 0 <= index < len(values):
                values[index] = float(raw)
        result.series.append(SeriesData(legend_for(target.get("legendFormat"), item["metric"]), values))
    return result


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def query_all(prom: Prometheus, window: Window) -> dict[str, dict[str, list[TargetResult]]]:
    """{dashboard stem: {panel key: [results]}}; panel key = f"{index}" in the dashboard's panel list."""
    data: dict[str, dict[str, list[TargetResult]]] = {}
    for path in dashboard_files():
        board = json.loads(path.read_text())
        data[path.stem] = {str(i): [evaluate(prom, t, window) for t in panel.get("targets", [])]
                           for i, panel in enumerate(board["panels"]) if panel.get("type") != "row"}
    return data


def save_data(path: Path, window: Window, data: dict[str, dict[str, list[TargetResult]]]) -> None:
    dump = {"window": asdict(window),
            "data": {b: {p: [asdict(r) for r in rs] for p, rs in panels.items()} for b, panels in data.items()}}
    path.write_text(json.dumps(dump).replace("NaN", "null"))


def load_data(path: Path) -> tuple[Window, dict[str, dict[str, list[TargetResult]]]]:
    dump = json.loads(path.read_text())
    data: dict[str, dict[str, list[TargetResult]]] = {}
    for board, panels in dump["data"].items():
        data[board] = {}
        for key, results in panels.items():
            data[board][key] = [
                TargetResult(r["ref"], r["expr"], r["error"], [
                    SeriesData(s["legend"], [math.nan if v is None else v for v in s["values"]]) for s in r["series"]])
                for r in results]
    return Window(**dump["window"]), data


# --------------------------------------------------------------------------------------------
# Units (Grafana's formats, the ones the dashboards use)

_SI = [(1e9, " Bil"), (1e6, " Mil"), (1e3, " K")]
_TIME = [(3600.0, " hour"), (60.0, " min"), (1.0, " s"), (1e-3, " ms"), (1e-6, " µs"), (1e-9, " ns")]
_BYTES = [(1024.0**4, " TiB"), (1024.0**3, " GiB"), (1024.0**2, " MiB"), (1024.0, " KiB")]


def _num(v: float) -> str:
    a = abs(v)
    text = f"{v:.0f}" if a >= 100 or a == 0 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 1 else f"{v:.3f}"
    if a and a < 0.001:
        text = f"{v:.2g}"
    if "." in text and "e" not in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _scaled(v: float, steps: list[tuple[float, str]], base: str) -> str:
    for factor, suffix in steps:
        if abs(v) >= factor:
            return _num(v / factor) + suffix
    return _num(v) + base


def format_value(v: float, unit: str | None) -> str:
    if not math.isfinite(v):
        return "NaN" if math.isnan(v) else ("+Inf" if v > 0 else "-Inf")
    match unit:
        case "percentunit":
            return _num(v * 100) + "%"
        case "percent":
            return _num(v) + "%"
        case "s" | "ms":
            seconds = v / 1000 if unit == "ms" else v
            return "0 s" if seconds == 0 else _scaled(seconds, _TIME[:-1], "") if abs(seconds) >= 1e-6 \
                else _num(seconds * 1e9) + " ns"
        case "bytes" | "decbytes":
            return _scaled(v, _BYTES, " B")
        case "reqps":
            return _scaled(v, _SI, "") + " req/s"
        case "ops":
            return _scaled(v, _SI, "") + " ops/s"
        case None | "" | "short" | "none":
            return _scaled(v, _SI, "")
        case _:
            return f"{_scaled(v, _SI, '')} {unit}"


# --------------------------------------------------------------------------------------------
# Rendering

WIDTH = 1600
DPI = 100
MARGIN = 8
GAP = 8
UNIT_H = 34  # one gridPos unit of height, gap included (Grafana: 30 px + 8 px margin)
TOPBAR = 44
VARBAR = 42
HEADER = TOPBAR + VARBAR

CANVAS = "#111217"
PANEL = "#181b1f"
BORDER = "#2a2d33"
TEXT = "#ccccdc"
MUTED = "#8e8ea0"
GRID = "#2a2d33"
PALETTE = ["#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2", "#B877D9", "#705DA0", "#37872D",
           "#FADE2A", "#447EBC", "#C15C17", "#890F02", "#0A437C", "#6D1F62", "#584477", "#96D98D", "#FFEE52",
           "#C0D8FF", "#FFB357", "#FF7383", "#A352CC"]
NAMED_COLORS = {"green": "#73BF69", "red": "#F2495C", "orange": "#FF9830", "yellow": "#FADE2A", "blue": "#5794F2",
                "purple": "#B877D9", "text": TEXT}

matplotlib.rcParams.update({"font.family": "DejaVu Sans", "font.size": 8, "axes.unicode_minus": False})


def pt(px: float) -> float:
    """Font size in points for a height in pixels."""
    return px * 72 / DPI


@dataclass
class Canvas:
    """A figure addressed in pixels from the top-left corner."""

    fig: Figure
    height: int

    def frac(self, x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        return x / WIDTH, 1 - (y + h) / self.height, w / WIDTH, h / self.height

    def rect(self, x: float, y: float, w: float, h: float, color: str, edge: str | None = None) -> None:
        left, bottom, fw, fh = self.frac(x, y, w, h)
        self.fig.add_artist(Rectangle((left, bottom), fw, fh, transform=self.fig.transFigure, facecolor=color,
                                      edgecolor=edge or color, linewidth=1, zorder=-5))

    def text(self, x: float, y: float, s: str, size: float = 8, color: str = TEXT, **kw: Any) -> None:
        kw.setdefault("va", "top")
        self.fig.text(x / WIDTH, 1 - y / self.height, s, fontsize=size, color=color, **kw)

    def swatch(self, x: float, y: float, color: str) -> None:
        yy = 1 - y / self.height
        self.fig.add_artist(Line2D([x / WIDTH, (x + 14) / WIDTH], [yy, yy], transform=self.fig.transFigure,
                                   color=color, linewidth=3.5, solid_capstyle="butt"))

    def axes(self, x: float, y: float, w: float, h: float) -> Any:
        ax = self.fig.add_axes(self.frac(x, y, w, h))
        ax.set_facecolor("none")
        for spine in ax.spines.values():
            spine.set_visible(False)
        return ax


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


def panel_box(grid: dict[str, int]) -> Box:
    col = (WIDTH - 2 * MARGIN + GAP) / 24
    return Box(MARGIN + grid["x"] * col, HEADER + grid["y"] * UNIT_H, grid["w"] * col - GAP, grid["h"] * UNIT_H - GAP)


def truncate(text: str, width_px: float, size: float) -> str:
    chars = max(4, int(width_px / (size * DPI / 72 * 0.6)))
    return text if len(text) <= chars else text[: chars - 1] + "…"


def finite(values: list[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def draw_header(c: Canvas, board: dict[str, Any], window: Window) -> None:
    c.rect(0, 0, WIDTH, TOPBAR, PANEL, BORDER)
    c.text(16, 14, "Home  \u203a  Dashboards  \u203a  ", 10, MUTED)  # single right-pointing angle quotes
    c.text(16 + 158, 14, board["title"], 10, TEXT, weight="bold")
    fmt = "%Y-%m-%d %H:%M:%S"
    span = (f"{datetime.fromtimestamp(window.start).strftime(fmt)} to "
            f"{datetime.fromtimestamp(window.end).strftime('%H:%M:%S')}")
    c.rect(WIDTH - 292, 8, 280, 28, CANVAS, BORDER)
    c.text(WIDTH - 152, 15, span, 8.5, TEXT, ha="center")
    c.text(WIDTH - 304, 16, "preview: real Prometheus data, rendered without Grafana", 7.5, MUTED, ha="right")
    x = 16.0
    for var in board.get("templating", {}).get("list", []):
        label = var.get("label") or var["name"]
        value = "Prometheus" if var.get("type") == "datasource" else "All" if var.get("includeAll") else "—"
        lw, vw = 14 + 7.6 * len(label), 30 + 7.6 * len(value)
        c.rect(x, TOPBAR + 8, lw, 26, "#22252b", BORDER)
        c.text(x + 6, TOPBAR + 14, label, 8.5, TEXT)
        c.rect(x + lw, TOPBAR + 8, vw, 26, CANVAS, BORDER)
        c.text(x + lw + 6, TOPBAR + 14, f"{value}  ▾", 8.5, TEXT)
        x += lw + vw + 12


def draw_row(c: Canvas, panel: dict[str, Any]) -> None:
    box = panel_box(panel["gridPos"])
    c.text(box.x + 2, box.y + 6, f"▾  {panel['title']}", 11, TEXT, weight="bold")


def draw_frame(c: Canvas, box: Box, title: str) -> None:
    c.rect(box.x, box.y, box.w, box.h, PANEL, BORDER)
    c.text(box.x + 9, box.y + 8, truncate(title, box.w - 18, 9.5), 9.5, TEXT, weight="bold")


def no_data(c: Canvas, box: Box, message: str = "No data") -> None:
    c.text(box.x + box.w / 2, box.y + box.h / 2, message, 11, MUTED, ha="center", va="center")


def threshold_color(defaults: dict[str, Any], value: float) -> str:
    steps = defaults.get("thresholds", {}).get("steps") or [{"color": "green", "value": None}]
    color = steps[0]["color"]
    for step in steps:
        if step.get("value") is None or (math.isfinite(value) and value >= step["value"]):
            color = step["color"]
    return NAMED_COLORS.get(color, color)


def time_axis(ax: Any, window: Window, width: float) -> None:
    ax.set_xlim(datetime.fromtimestamp(window.start), datetime.fromtimestamp(window.end))
    span = window.end - window.start
    every = 30 if width / max(span, 1) * 30 >= 90 else 60
    ax.xaxis.set_major_locator(mdates.SecondLocator(bysecond=range(0, 60, every)) if every < 60
                               else mdates.MinuteLocator())
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S" if every < 60 else "%H:%M"))


def nice_step(raw: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `raw`."""
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)


def style_axes(ax: Any, unit: str | None, height: float, high: float) -> None:
    ax.tick_params(colors=MUTED, labelsize=7.5, length=0, pad=4)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    bins = max(4, int(height / 36))
    if unit in ("bytes", "decbytes") and high >= 1024:  # ticks at round KiB/MiB/GiB
        scale = 1024.0 ** math.floor(math.log(high, 1024))
        ax.yaxis.set_major_locator(MultipleLocator(nice_step(high / scale / bins) * scale))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10], min_n_ticks=2))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_value(v, unit)))


def draw_legend(c: Canvas, box: Box, top: float, rows: list[tuple[str, str, list[float]]], unit: str | None,
                fit: int) -> None:
    col_w = 78.0
    right = box.x + box.w - 10
    for i, name in enumerate(("Mean", "Max", "Last *")):
        c.text(right - (2 - i) * col_w, top, name, 7.5, "#6e9fff", ha="right")
    if len(rows) > fit:  # Grafana would scroll the table; show the busiest series
        rows = sorted(rows, key=lambda row: -sum(finite(row[2]) or [0.0]) / max(1, len(finite(row[2]))))
    shown = rows if len(rows) <= fit else rows[: fit - 1]
    for i, (legend, color, values) in enumerate(shown):
        y = top + 16 * (i + 1)
        c.swatch(box.x + 10, y + 5.5, color)
        c.text(box.x + 30, y, truncate(legend, box.w - 60 - 3 * col_w, 7.5), 7.5, TEXT)
        vals = finite(values)
        stats = (sum(vals) / len(vals), max(vals), vals[-1]) if vals else (math.nan,) * 3
        for j, stat in enumerate(stats):
            c.text(right - (2 - j) * col_w, y, format_value(stat, unit) if vals else "-", 7.5, TEXT, ha="right")
    if len(rows) > len(shown):
        c.text(box.x + 30, top + 16 * (len(shown) + 1), f"+ {len(rows) - len(shown)} more series", 7.5, MUTED)


def draw_timeseries(c: Canvas, panel: dict[str, Any], results: list[TargetResult], window: Window) -> None:
    box = panel_box(panel["gridPos"])
    draw_frame(c, box, panel["title"])
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    unit, custom = defaults.get("unit"), defaults.get("custom", {})
    series = [s for r in results for s in r.series]
    if not any(r.finite for r in results):
        no_data(c, box, "No data" if not any(r.error for r in results) else "Query error")
        return
    fit = max(2, int((box.h * 0.42 - 16) / 16))
    legend_h = 16 * (min(len(series), fit) + 1) + 6
    plot = Box(box.x + 66, box.y + 34, box.w - 80, box.h - 34 - legend_h - 22)
    ax = c.axes(plot.x, plot.y, plot.w, plot.h)
    times = [datetime.fromtimestamp(t) for t in window.grid]
    stacked = custom.get("stacking", {}).get("mode") == "normal"
    base = np.zeros(len(times))
    rows: list[tuple[str, str, list[float]]] = []
    alpha = custom.get("fillOpacity", 10) / 100
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        y = np.array(s.values, dtype=float)
        y[~np.isfinite(y)] = np.nan
        lower = base.copy() if stacked else np.zeros(len(times))
        top = lower + y if stacked else y
        ax.plot(times, top, color=color, linewidth=max(1.0, custom.get("lineWidth", 1)) * 1.1)
        ax.fill_between(times, lower, top, where=np.isfinite(top), color=color, alpha=alpha, linewidth=0)
        if stacked:
            base = base + np.nan_to_num(y)
        rows.append((s.legend, color, s.values))
    everything = finite([v for s in series for v in s.values]) + ([float(base.max())] if stacked else [])
    low, high = min(everything), max(everything)
    ax.set_ylim(0 if low >= 0 else low * 1.1, (high * 1.1 if high > 0 else 1.0))
    time_axis(ax, window, plot.w)
    style_axes(ax, unit, plot.h, high)
    draw_legend(c, box, plot.y + plot.h + 22, rows, unit, fit)


def draw_stat(c: Canvas, panel: dict[str, Any], results: list[TargetResult], window: Window) -> None:
    box = panel_box(panel["gridPos"])
    draw_frame(c, box, panel["title"])
    defaults = panel.get("fieldConfig", {}).get("defaults", {})
    series = [s for r in results for s in r.series if finite(s.values)]
    if not series:
        no_data(c, box, "Query error" if any(r.error for r in results) else "No data")
        return
    inner = Box(box.x + 8, box.y + 30, box.w - 16, box.h - 36)
    tile_w = inner.w / len(series)
    for i, s in enumerate(series):
        tile = Box(inner.x + i * tile_w, inner.y, tile_w - 6, inner.h)
        draw_stat_tile(c, tile, s, defaults, window, named=len(series) > 1)


def draw_stat_tile(c: Canvas, tile: Box, s: SeriesData, defaults: dict[str, Any], window: Window,
                   named: bool) -> None:
    vals = finite(s.values)
    value = vals[-1]
    color = threshold_color(defaults, value)
    text = format_value(value, defaults.get("unit"))
    spark = c.axes(tile.x, tile.y + tile.h * 0.6, tile.w, tile.h * 0.4)
    times = [datetime.fromtimestamp(t) for t in window.grid]
    y = np.array(s.values, dtype=float)
    low, high = min(vals), max(vals)
    if high - low < 1e-12:  # a flat line a third of the way up
        pad = max(abs(high), 1.0)
        low, high = low - pad, high + 2 * pad
    else:
        low, high = min(low, 0.0), high + 0.1 * (high - min(low, 0.0))
    spark.set_ylim(low, high)
    spark.plot(times, y, color=color, linewidth=1.2, alpha=0.55)
    spark.fill_between(times, low, y, where=np.isfinite(y), color=color, alpha=0.12, linewidth=0)
    spark.set_xlim(times[0], times[-1])
    spark.axis("off")
    top = tile.y
    if named:
        c.text(tile.x + tile.w / 2, top + 2, truncate(s.legend, tile.w, 8.5), 8.5, TEXT, ha="center")
        top += 16
    size_px = min((tile.h - (top - tile.y)) * 0.5, tile.w / max(len(text), 2) / 0.62, 56)
    c.text(tile.x + tile.w / 2, top + (tile.y + tile.h - top) * 0.42, text, pt(size_px), color, ha="center",
           va="center", weight="bold")


def render(board: dict[str, Any], results: dict[str, list[TargetResult]], window: Window, out: Path) -> None:
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"])
    height = HEADER + bottom * UNIT_H + MARGIN
    fig = Figure(figsize=(WIDTH / DPI, height / DPI), dpi=DPI, facecolor=CANVAS)
    c = Canvas(fig, height)
    draw_header(c, board, window)
    for i, panel in enumerate(board["panels"]):
        kind = panel.get("type")
        if kind == "row":
            draw_row(c, panel)
        elif kind == "stat":
            draw_stat(c, panel, results[str(i)], window)
        elif kind == "timeseries":
            draw_timeseries(c, panel, results[str(i)], window)
        else:
            box = panel_box(panel["gridPos"])
            draw_frame(c, box, panel.get("title", ""))
            no_data(c, box, f"panel type {kind!r} is not rendered by this preview")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, facecolor=CANVAS, pil_kwargs={"optimize": True})


# --------------------------------------------------------------------------------------------
# Summary

# Queries that are expected to answer no series with a healthy stack, and why.
EXPECTED_EMPTY = [
    (re.compile(r'outcome=~"(overloaded\|)?queue_unavailable\|unavailable"'),
     "no ingest 503s: the backlog stayed small and Redis/users stayed up (these outcome series appear on "
     "the first 503)"),
    (re.compile(r"tme_redis_maxmemory_bytes.*>\s*0"), "the embedded Redis has no maxmemory (0), which `> 0` hides"),
    (re.compile(r'status=~"502\|503\|504"'), "no upstream 502/503/504 at the gateway"),
    (re.compile(r'status=~"5\.\."'), "no 5xx answers"),
]


def expected_reason(expr: str) -> str:
    return next((why for pattern, why in EXPECTED_EMPTY if pattern.search(expr)), "")


def summarise(board: dict[str, Any], stem: str, results: dict[str, list[TargetResult]]) -> list[str]:
    panels = [(i, p) for i, p in enumerate(board["panels"]) if p.get("type") != "row"]
    with_data = sum(1 for i, _ in panels if any(r.finite for r in results[str(i)]))
    queries = [(p, r) for i, p in panels for r in results[str(i)]]
    answered = sum(1 for _, r in queries if r.series)
    errors = [(p, r) for p, r in queries if r.error]
    lines = [f"{stem}: {with_data}/{len(panels)} panels with data; {answered}/{len(queries)} queries returned "
             f"series; {len(errors)} PromQL errors"]
    for panel, r in queries:
        where = f"panel {panel['title']!r} [{r.ref}]"
        if r.error:
            lines.append(f"  ERROR    {where}: {r.error}\n           {r.expr}")
        elif not r.series:
            why = expected_reason(r.expr)
            lines.append(f"  no series {where}" + (f" (expected: {why})" if why else " (UNEXPECTED)")
                         + f"\n           {r.expr}")
        elif not r.finite:
            lines.append(f"  only NaN  {where}: series exist, no finite value\n           {r.expr}")
    return lines


# --------------------------------------------------------------------------------------------
# Main


def scrape_targets(stack: Any) -> list[ScrapeTarget]:
    seen: Counter[str] = Counter()
    targets = []
    for svc in stack.services.values():
        targets.append(ScrapeTarget(f"127.0.0.1:{svc.port}", f"{svc.name}-{seen[svc.name]}"))
        seen[svc.name] += 1
    return targets


@contextlib.contextmanager
def terminated_on_sigterm() -> Iterator[None]:
    """SIGTERM/SIGHUP raise SystemExit, so the `finally` blocks stop the stack and Prometheus."""
    def handler(signum: int, _frame: Any) -> None:
        raise SystemExit(f"stopped by signal {signum}")
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def collect(seconds: float, save: Path | None) -> tuple[Window, dict[str, dict[str, list[TargetResult]]]]:
    binary = prometheus_binary()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tme-previews-") as tmp, contextlib.ExitStack() as cleanup:
        stack = start_stack({"TME_MONITOR_INTERVAL_SECONDS": "5", "TME_SUBSCRIBER_GAUGE_INTERVAL_SECONDS": "2"})
        cleanup.callback(stack.stop)
        stack.start_service("subscriber", key="subscriber-2", port=free_port())
        prom = Prometheus(binary, scrape_targets(stack), Path(tmp), free_port())
        cleanup.callback(prom.stop)
        prom.start()
        print(f"# stack and prometheus ({prom.url}) up in {time.monotonic() - began:.0f}s; "
              f"{seconds:.0f}s of traffic next", flush=True)
        time.sleep(3 * SCRAPE_SECONDS)
        account = Account.of(register(stack.gateway_url))
        traffic = Traffic(stack.gateway_url, account, seconds)
        start = time.time() - 10
        traffic.run()
        time.sleep(3 * SCRAPE_SECONDS)  # the last requests scraped
        window = Window(start, time.time(), STEP_SECONDS)
        print(f"# traffic: {traffic.sent} requests in {seconds:.0f}s", flush=True)
        for what, n in sorted(traffic.counts.items()):
            print(f"#   {what:<38} {n:>6}")
        data = query_all(prom, window)
    shutil.rmtree(stack.data_dir, ignore_errors=True)  # kept (logs) only when something failed
    if save:
        save_data(save, window, data)
    return window, data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=150, help="traffic duration (default 150)")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="directory of the PNGs")
    parser.add_argument("--save-data", type=Path, help="also write the query results to this JSON file")
    parser.add_argument("--from-data", type=Path, help="render saved query results (no stack, no traffic)")
    args = parser.parse_args(argv)
    began = time.monotonic()
    if args.from_data:
        window, data = load_data(args.from_data)
    else:
        with terminated_on_sigterm():
            window, data = collect(args.seconds, args.save_data)
    report: list[str] = []
    for path in dashboard_files():
        board = json.loads(path.read_text())
        out = args.out / f"grafana-{path.stem}.png"
        render(board, data[path.stem], window, out)
        report += [*summarise(board, path.stem, data[path.stem]), f"  -> {out} ({out.stat().st_size // 1024} KB)"]
    print("\n".join(report))
    print(f"# done in {time.monotonic() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
