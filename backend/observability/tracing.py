"""OpenTelemetry tracing, when configured (XUEFEN_OTEL_ENABLED=true, or an
OTEL_EXPORTER_OTLP_ENDPOINT in the environment) and the ``otel`` extra is installed.

Each HTTP request gets a server span (``AccessLogMiddleware`` calls ``start_request_span``), the
caller's ``traceparent`` continuing its trace; the GraphQL operation, its parsing, validation and
each resolver get child spans from strawberry's ``OpenTelemetryExtension``. Spans leave through the
OTLP exporter configured by the standard OTEL_* variables (endpoint, headers, protocol).

What spans never carry: the query text and resolver arguments (strawberry adds both by default;
a login's password or a search term would go to the tracing backend), the query string of a URL.

This module costs nothing when tracing is off: the OpenTelemetry code is in
``backend.observability.otel``, imported only once tracing is configured.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from starlette.types import Scope

from backend.config import ConfigError, Settings

# The provider spans go to: set by ``configure`` (or a test's ``use_provider``); None: tracing off.
_provider: Any = None


def use_provider(provider: Any) -> None:
    """Trace through ``provider`` (an SDK ``TracerProvider``), or stop tracing with None."""
    global _provider
    _provider = provider


def enabled() -> bool:
    return _provider is not None


def _otel() -> ModuleType:
    """backend.observability.otel, or the one-line refusal when the otel extra is missing."""
    try:
        return importlib.import_module("backend.observability.otel")
    except ImportError as exc:
        raise ConfigError(
            f"XUEFEN_OTEL_ENABLED needs the OpenTelemetry packages: pip install 'xuefen[otel]' ({exc.name} is missing)"
        ) from exc


def configure(settings: Settings) -> None:
    """Set up the OTLP exporter once per process when ``settings.otel_enabled`` (each server
    worker calls this from ``create_app``)."""
    if settings.otel_enabled and _provider is None:
        use_provider(_otel().otlp_provider())


def graphql_extensions(settings: Settings) -> list[Callable[[], Any]]:
    """Strawberry extensions for the schema: the OpenTelemetry one when tracing is configured."""
    if not settings.otel_enabled:
        return []
    return [_otel().graphql_extension(lambda: _provider)]


def start_request_span(scope: Scope) -> Any:
    """A server span for an HTTP request, current while it runs (None when tracing is off)."""
    return None if _provider is None else _otel().start_request_span(_provider, scope)


def end_request_span(handle: Any, status: int, route: str) -> None:
    if handle is not None:
        _otel().end_request_span(handle, status, route)
