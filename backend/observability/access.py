"""One access line per HTTP request, written by our own ASGI middleware (uvicorn's access log is
off): method, path (query values blanked unless harmless), route template, status, duration,
bytes sent, and what the GraphQL layer learnt (operation name, tenant) — plus the request id
every line of the request carries. The same middleware counts the request in the metrics and,
when tracing is on, wraps it in a server span. An error nothing below handled is logged here,
while the request id is still bound, and answered as a JSON 500 (code INTERNAL, the request id)
if the answer has not started.

Nothing personal is written: no client address, no headers, no query values (a GET /graphql
carries its variables in the query string; HR's list pages carry search terms), no user.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

import orjson
import structlog
from starlette.datastructures import Headers
from starlette.routing import Match, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import ErrorCode
from backend.i18n import negotiate_locale, translate
from backend.logs import redact
from backend.observability import metrics, tracing

log = logging.getLogger("xuefen.access")

# Where the access middleware leaves its ``Observed`` for the layers below (scope["state"]).
OBSERVED = "xuefen_observed"
# A caller's X-Request-ID is kept when it is this (UUIDs with dashes included); else a new one.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
# Query parameters whose values say nothing about anyone (shown as sent); every other value is
# written as [redacted]: link keys (?k=, ?key=), GraphQL documents and variables, search terms.
SAFE_QUERY_PARAMETERS = frozenset({"lang", "locale", "download", "format", "operationName", "page"})
_MAX_PATH = 512
_MEDIA_PREFIX = "/media/"


@dataclass
class Observed:
    """Filled in below the middleware while the request runs (schema/… via the GraphQL
    extension): what the access line and the metrics say about the request."""

    operation: str | None = None  # the GraphQL operation name as sent or found in the document
    # Whether that name may be a metric label of its own (backend/observability/graphql.py: the
    # document validated and came from a signed-in viewer or the allow-list); else "other".
    operation_labelled: bool = False
    graphql: bool = False
    tenant: int | None = None


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's X-Request-ID (the first one) when it is sane: 1..128 of [A-Za-z0-9._:-];
    else a new random id."""
    for name, value in headers:
        if name == b"x-request-id":
            incoming = value.decode("latin-1")
            return incoming if _SANE_REQUEST_ID.fullmatch(incoming) else uuid.uuid4().hex
    return uuid.uuid4().hex


def logged_path(scope: Scope) -> str:
    """The path as the access line shows it: the query's values blanked except harmless ones."""
    path = quote(scope.get("path", ""), safe="/:@!$&'()*+,;=-._~%")
    raw = scope.get("query_string", b"")
    if raw:
        pairs = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)
        query = "&".join(f"{quote(name, safe='')}={_shown_value(name, value)}" for name, value in pairs)
        path = f"{path}?{query}"
    path = redact(path)
    return path if len(path) <= _MAX_PATH else path[: _MAX_PATH - 1] + "…"


def _shown_value(name: str, value: str) -> str:
    """A query value as the access line shows it: a harmless parameter's value as sent (the
    operation name only when it is a short identifier, as metrics.operation_name checks), every
    other value as [redacted]."""
    if name not in SAFE_QUERY_PARAMETERS:
        return "[redacted]"
    if name == "operationName":
        return metrics.operation_name(value) if value else ""
    return quote(value, safe="")


def route_template(scope: Scope) -> str:
    """The route the request matched (``/sessions/{session_id}/qr.svg``), ``/media/{sha256}``,
    a mount's prefix with ``/*``, or ``unmatched``: a bounded label for the metrics."""
    path = scope.get("path", "")
    if path.startswith(_MEDIA_PREFIX):
        return _MEDIA_PREFIX + "{sha256}"
    app = scope.get("app")
    for route in getattr(app, "routes", ()):
        if isinstance(route, Route):
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return route.path_format
        elif isinstance(route, Mount):
            match, _ = route.matches(scope)
            if match != Match.NONE:
                return route.path + "/*"
    return "unmatched"


async def _internal_error(scope: Scope, send: Send, request_id: str) -> None:
    """The 500 of an unhandled error, as the GraphQL layer masks one (schema/api.py): INTERNAL,
    in the caller's language, with the request id to quote to support."""
    locale = negotiate_locale(Headers(scope=scope).get("accept-language"))
    body = orjson.dumps(
        {
            "errors": [
                {
                    "message": translate("error.INTERNAL", locale, request_id=request_id),
                    "extensions": {"code": ErrorCode.INTERNAL.value, "requestId": request_id},
                }
            ]
        }
    )
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class AccessLogMiddleware:
    """Binds the request id to the logging context, times the request, writes the access line,
    counts it (backend.observability.metrics) and traces it (backend.observability.tracing)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        state = scope.setdefault("state", {})
        observed = Observed()
        state[OBSERVED] = observed
        request_id = state.get("request_id") or request_id_of(scope.get("headers") or [])
        state["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status: int | None = None
        sent = 0
        gone = False  # the client hung up: an unanswered request is then no server error

        async def observing_receive() -> Message:
            nonlocal gone
            message = await receive()
            gone = gone or message["type"] == "http.disconnect"
            return message

        async def observing_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        span = tracing.start_request_span(scope)
        try:
            await self.app(scope, observing_receive, observing_send)
        except asyncio.CancelledError:
            status = status or 499  # the client went away before an answer (nginx's number)
            raise
        except Exception:
            if status is not None:  # the answer has started: nothing to do but let the server close it
                raise
            # Logged here, while the request id is still bound (uvicorn would log it after the
            # ``finally`` below has cleared it), and answered in the API's error shape with the id.
            log.error("unhandled error while answering the request", exc_info=True)
            status = 500
            await _internal_error(scope, observing_send, request_id)
        except BaseException:
            status = status or 500
            raise
        finally:
            seconds = time.perf_counter() - started
            # Nothing answered: the client went away (uvicorn drops what is sent after that) or the
            # app returned without answering, which is a server error.
            status = status or (499 if gone else 500)
            self._finish(scope, observed, status, seconds, sent)
            tracing.end_request_span(span, status, route_template(scope) if span is not None else "")
            structlog.contextvars.clear_contextvars()

    def _finish(self, scope: Scope, observed: Observed, status: int, seconds: float, sent: int) -> None:
        method = scope.get("method", "")
        route = route_template(scope)
        operation = None
        if observed.graphql:
            if observed.operation_labelled or not observed.operation:
                operation = metrics.operation_label(observed.operation)
            else:  # a name anyone could have made up (backend/observability/graphql.py)
                operation = metrics.OTHER
        try:
            metrics.observe_request(method, route, status, seconds, operation)
            metrics.sample_pool()
        except Exception:  # metrics must never fail a request
            log.exception("could not record the request's metrics")
        fields: dict[str, Any] = {
            "method": method,
            "path": logged_path(scope),
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "bytes": sent,
        }
        if observed.graphql:
            fields["operation"] = metrics.operation_name(observed.operation)
        if observed.tenant is not None:
            fields["tenant"] = observed.tenant
        log.log(logging.WARNING if status >= 500 else logging.INFO, "request", extra=fields)
