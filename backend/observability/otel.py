"""The OpenTelemetry side of ``backend.observability.tracing``, imported only when tracing is on
(the ``otel`` extra; these imports cost start-up time every worker would pay for nothing)."""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Generator
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import Scope
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension

from backend.config import ConfigError
from backend.logs import redact

log = logging.getLogger("xuefen.tracing")

# The OTLP exporter module of each OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf: the default).
_EXPORTERS = {
    "grpc": "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "http/protobuf": "opentelemetry.exporter.otlp.proto.http.trace_exporter",
}


def otlp_provider() -> TracerProvider:
    """An SDK provider exporting over OTLP as the OTEL_* variables say, made the global one."""
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or ""
    ).strip() or "http/protobuf"
    if protocol not in _EXPORTERS:
        raise ConfigError(f"OTEL_EXPORTER_OTLP_PROTOCOL must be one of {', '.join(_EXPORTERS)}, got {protocol!r}")
    try:
        exporter = importlib.import_module(_EXPORTERS[protocol]).OTLPSpanExporter
    except ImportError as exc:
        raise ConfigError(f"OpenTelemetry's OTLP exporter is missing: pip install 'xuefen[otel]' ({exc.name})") from exc
    # The service is "xuefen" unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES names it (the
    # attributes given here would override the environment's).
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    provider = TracerProvider(resource=Resource.create({} if named else {"service.name": "xuefen"}))
    provider.add_span_processor(BatchSpanProcessor(exporter()))
    trace.set_tracer_provider(provider)
    log.info("tracing on: spans exported over OTLP (%s)", protocol)
    return provider


class GraphQLTracing(OpenTelemetryExtension):
    """Strawberry's extension without the query text on the operation span (it can hold a literal
    password or personal data) and without resolver arguments (``arg_filter``)."""

    def on_operation(self) -> Generator[None, None, None]:
        name = self.execution_context.operation_name
        span = self._tracer.start_span(f"GraphQL Query: {name}" if name else "GraphQL Query", kind=SpanKind.INTERNAL)
        span.set_attribute("component", "graphql")
        self._span_holder[LifecycleStep.OPERATION] = span
        yield
        found = self.execution_context.operation_name
        if found:
            span.set_attribute("graphql.operation.name", found)
            if not name:
                span.update_name(f"GraphQL Query: {found}")
        span.end()


def graphql_extension(provider: Callable[[], Any]) -> Callable[[], GraphQLTracing]:
    """The extension factory strawberry calls per operation, tracing through ``provider()``."""

    def make() -> GraphQLTracing:
        return GraphQLTracing(arg_filter=lambda arguments, info: {}, tracer_provider=provider())

    return make


def start_request_span(provider: Any, scope: Scope) -> tuple[Any, object, str]:
    """A server span for an HTTP request, made current: (span, the context token, the method)."""
    carrier = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers") or []}
    method = scope.get("method", "")
    path = redact(scope.get("path", ""))  # a calendar feed's path is its token (backend/logs.py)
    span = provider.get_tracer("xuefen").start_span(
        f"{method} {path}",
        context=propagate.extract(carrier),
        kind=SpanKind.SERVER,
        attributes={"http.request.method": method, "url.path": path, "url.scheme": scope["scheme"]},
    )
    token = context.attach(trace.set_span_in_context(span))
    return span, token, method


def end_request_span(handle: tuple[Any, Any, str], status: int, route: str) -> None:
    span, token, method = handle
    span.update_name(f"{method} {route}")
    span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()
    context.detach(token)
