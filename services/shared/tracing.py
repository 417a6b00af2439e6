"""OpenTelemetry tracing, configured from the standard OTEL_* variables.

Off by default: no TracerProvider is installed, no middleware is added, nothing is patched, so
the only cost is the no-op API. Tracing is on when one of these is set:

- ``OTEL_TRACES_EXPORTER=otlp``, or an ``OTEL_EXPORTER_OTLP_ENDPOINT`` /
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (OTLP over HTTP/protobuf, batched; the exporter reads
  the other ``OTEL_EXPORTER_OTLP_*`` variables, headers and timeouts included);
- ``TME_TRACE_FILE=/path/spans.jsonl``: every finished span is appended to that file as one JSON
  line (tests and local debugging; every process of the stack may share one file).

``OTEL_TRACES_EXPORTER=none`` or ``OTEL_SDK_DISABLED=true`` turn it off whatever else is set.
``OTEL_SERVICE_NAME`` overrides the service name (default ``tme-<service>``),
``OTEL_RESOURCE_ATTRIBUTES`` adds resource attributes, and ``OTEL_TRACES_SAMPLER`` /
``OTEL_TRACES_SAMPLER_ARG`` choose the sampler (default: parent-based, always on)."""

from __future__ import annotations

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

log = logging.getLogger("tme.tracing")
TRACE_FILE_ENV = "TME_TRACE_FILE"
_configured = False


def _exporter_names() -> list[str]:
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if "none" in names:
        return []
    if not names and (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                      or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        names = ["otlp"]
    if os.environ.get(TRACE_FILE_ENV):
        names.append("file")
    return names


def tracing_enabled() -> bool:
    return bool(_exporter_names())


def configure_tracing(service: str) -> None:
    """Install a TracerProvider with the configured exporters (once per process); no-op when off."""
    global _configured
    names = _exporter_names()
    if _configured or not names:
        return
    name = os.environ.get("OTEL_SERVICE_NAME") or f"tme-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    for exporter in names:
        if exporter == "otlp":
            protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
                "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            if protocol != "http/protobuf":
                log.warning("OTLP protocol %r is not supported; sending traces over http/protobuf", protocol)
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif exporter == "file":
            from services.shared.tracing_file import JsonLinesSpanExporter

            path = os.environ[TRACE_FILE_ENV]
            provider.add_span_processor(SimpleSpanProcessor(JsonLinesSpanExporter(path)))
        else:
            log.warning("unknown OTEL_TRACES_EXPORTER %r ignored (supported: otlp, none)", exporter)
    trace.set_tracer_provider(provider)
    from services.shared.tracing_db import instrument_asyncpg

    instrument_asyncpg()
    _configured = True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)
