"""OpenTelemetry tracing, configured from the standard OTEL_* variables.

Off by default (no exporter, no cost beyond the no-op API). When OTEL_TRACES_EXPORTER=otlp or
OTEL_EXPORTER_OTLP_ENDPOINT is set, spans are batched to an OTLP/HTTP collector."""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def tracing_enabled() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "")
    if exporter == "none":
        return False
    return exporter == "otlp" or bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure_tracing(service: str, extra_processor: SpanProcessor | None = None) -> None:
    """Install a TracerProvider when an exporter is configured (or a processor is given, as tests do)."""
    global _configured
    if _configured or not (tracing_enabled() or extra_processor):
        return
    provider = TracerProvider(resource=Resource.create({"service.name": f"tme-{service}"}))
    if tracing_enabled():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if extra_processor:
        provider.add_span_processor(extra_processor)
    trace.set_tracer_provider(provider)
    _configured = True


def tracer(name: str) -> trace.Tracer:
    return trace.get_tracer(name)
