"""The configuration reference (`docs/configuration.md`), generated from the services' Settings
classes so that it cannot drift from the code:

    python -m services.shared.settings_doc > docs/configuration.md
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from services.shared.limits import ServerLimits
from services.shared.settings import ServiceSettings

SERVICES = ("gateway", "users", "tracking", "subscriber")

# Read by the process runner or libraries rather than by a Settings class.
PROCESS_VARIABLES = (
    ("TME_WORKERS", "each", "gateway 2, others 1 (see docs/benchmarks.md)", "worker processes of the service"),
    ("OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_*", "each", "unset: tracing off",
     "OpenTelemetry exporter, selected by the standard variables (see docs/operations.md)"),
    ("PROMETHEUS_MULTIPROC_DIR", "each", "set by the runner when TME_WORKERS > 1",
     "where worker processes share their metrics"),
)
DEV_VARIABLES = (
    ("TME_DATA_DIR", ".tme", "where the embedded PostgreSQL and Redis keep their data"),
    ("TME_GATEWAY_PORT", "8000", "gateway port; users, tracking and subscriber take the next three"),
    ("TME_EMBEDDED_PG_PORT", "55432", "port of the embedded PostgreSQL"),
    ("TME_EMBEDDED_REDIS_PORT", "56379", "port of the embedded Redis"),
    ("TME_REDIS_APPENDFSYNC", "always",
     "the embedded Redis's AOF fsync: always (a 2xx means on disk) or everysec (faster; a power loss may drop "
     "the last second of accepted events; docs/operations.md)"),
)


def settings_classes() -> dict[str, type[ServiceSettings]]:
    classes = {}
    for name in SERVICES:
        module = importlib.import_module(f"services.{name}.settings")
        (cls,) = [v for v in vars(module).values()
                  if isinstance(v, type) and issubclass(v, ServiceSettings) and v is not ServiceSettings
                  and v.__module__ == module.__name__]
        classes[name] = cls
    return classes


def _default(field: FieldInfo) -> str:
    value: Any = field.default
    if value is PydanticUndefined:
        return "—"
    if value == "" or value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown() -> str:
    classes = settings_classes()
    # variable -> {(default, description): [services]}
    rows: dict[str, dict[tuple[str, str], list[str]]] = {}
    for service, cls in classes.items():
        for name, field in cls.model_fields.items():
            if name == "service_name":
                continue
            key = (_default(field), field.description or "")
            rows.setdefault(f"TME_{name.upper()}", {}).setdefault(key, []).append(service)
    lines = [
        "# Configuration",
        "",
        "Every service reads its settings from environment variables with the `TME_` prefix (each service",
        "only the ones it uses). There are no default secrets: PostgreSQL and Redis URLs must be given —",
        "`tme dev` (`make run`) and the tests start embedded servers and set them.",
        "",
        "_Generated from the services' Settings classes by `python -m services.shared.settings_doc`;",
        "a test fails when this file is out of date._",
        "",
        "## Service settings",
        "",
        "| variable | services | default | meaning |",
        "| --- | --- | --- | --- |",
    ]
    common = set(ServiceSettings.model_fields)
    for variable in sorted(rows, key=lambda v: (v.removeprefix("TME_").lower() not in common, v)):
        variants = rows[variable]
        services = [s for group in variants.values() for s in group]
        where = "each" if len(services) == len(SERVICES) else ", ".join(services)
        if len(variants) == 1:
            default = next(iter(variants))[0]
        else:  # the same setting with a default per service
            default = ", ".join(f"{d} ({', '.join(group)})" for (d, _), group in variants.items())
        description = max((d for _, d in variants), key=len)
        lines.append(f"| `{variable}` | {where} | {_cell(default)} | {_cell(description)} |")
    lines += ["", "## Request limits", "",
              "Enforced by every service's HTTP server before the application reads a request "
              "(`services/shared/limits.py`).", "",
              "| variable | services | default | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `TME_{name.upper()}` | each | {_cell(_default(field))} | {_cell(field.description or '')} |"
              for name, field in ServerLimits.model_fields.items()]
    lines += ["", "## Process settings", "", "| variable | services | default | meaning |", "| --- | --- | --- | --- |"]
    lines += [f"| `{v}` | {s} | {d} | {m} |" for v, s, d, m in PROCESS_VARIABLES]
    lines += ["", "## `tme dev` (`make run`)", "", "| variable | default | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{v}` | {d} | {m} |" for v, d, m in DEV_VARIABLES]
    lines += ["", "With `TME_DATABASE_URL` / `TME_REDIS_URL` set, `tme dev` uses those servers instead of embedded",
              "ones.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(render_markdown(), end="")
