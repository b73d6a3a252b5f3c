"""The ASGI application: GraphQL at /graphql, health checks, request ids, gzip.

This is the one module that imports every layer (it mounts the GraphQL schema on the core).
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from tortoise import connections
from tortoise.contrib.starlette import RegisterTortoise

from backend.admin.pages import admin_routes
from backend.calendar_route import calendar_feed
from backend.certificate_pages import certificate_endpoints
from backend.config import Settings
from backend.cors import cors_middleware
from backend.db import tortoise_config
from backend.downloads import download_endpoints
from backend.evidence_uploads import evidence_endpoints
from backend.graphiql_assets import graphiql_asset_route
from backend.http_limits import RequestBodyMiddleware
from backend.logs import redact_access_log
from backend.media_route import MediaRoute
from backend.observability import metrics, tracing
from backend.observability.access import AccessLogMiddleware, request_id_of
from backend.qr_pages import qr_endpoints
from backend.rate_limit import RateLimitMiddleware, check_at_start
from backend.report_downloads import report_endpoint
from backend.services.content import renditions
from backend.startup import OneLineStartupFailure, check_ready
from backend.worker import EmbeddedWorker, Worker
from mobile_sync import contract
from schema.api import GraphQLView

log = logging.getLogger("xuefen.app")


class RequestIdMiddleware:
    """Gives every request an id (or keeps a sane one from X-Request-ID) for logs and answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A caller's id is kept when sane (1..128 of [A-Za-z0-9._:-], so UUIDs with dashes too).
        request_id = request_id_of(scope.get("headers") or [])
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _settle_garbage_collector() -> None:
    """Once the server has started: move everything alive (modules, the schema, ORM metadata)
    out of the collector's sight, and collect young objects less often. A request allocates
    thousands of short-lived objects; with the default threshold (700) the collector ran several
    times per request, each time walking the whole start-up heap (measured: +18% on a course
    page). Reference cycles are still collected, just in larger batches."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


async def healthz(request: Request) -> JSONResponse:
    """The process is alive (no dependencies checked)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """The database answers; load balancers send traffic only when this is 200."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:
        log.warning("readiness check failed: database unreachable", exc_info=True)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


def create_app(
    settings: Settings | None = None, *, manage_db: bool = True, embedded_worker: bool | Worker | None = None
) -> Starlette:
    """Build the app. With ``manage_db`` the app opens and closes the database in its lifespan;
    tests that manage connections themselves pass False. With ``embedded_worker`` (default:
    ``XUEFEN_EMBEDDED_WORKER``; or a ``Worker`` of the caller's) the notification worker runs as a
    task of this process, as ``xuefen demo`` and SQLite deployments want (backend/worker.py)."""
    settings = settings or Settings.from_env()
    settings.warn_if_unsafe()
    check_at_start(settings)
    redact_access_log()
    tracing.configure(settings)
    graphql = GraphQLView(settings)
    if embedded_worker is None:
        embedded_worker = settings.embedded_worker
    run_worker = embedded_worker is not False

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker = EmbeddedWorker(embedded_worker if isinstance(embedded_worker, Worker) else Worker(settings))
        if not manage_db:
            if run_worker:
                worker.start()
            yield
            await worker.close()
            return
        await check_ready(settings)  # an unusable or un-migrated database: one line (backend/startup.py)
        async with RegisterTortoise(app, config=tortoise_config(settings.database_url, settings.db_pool_max)):
            _settle_garbage_collector()
            if run_worker:
                worker.start()
            yield
            await worker.close()  # finishes the batch in flight before the database closes
            await renditions.stop()  # a copy being made is taken again once its lease runs out
        metrics.process_exited()  # this worker's pool gauges leave the sum (several processes)

    qr_svg, qr_png, projector = qr_endpoints(settings)
    verify_certificate, certificate_issuer, issuer_jwks, certificate_pdf = certificate_endpoints(settings)
    import_template, export = download_endpoints(settings)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            graphiql_asset_route(),  # GraphiQL's vendored files (backend/static/graphiql), cached a year
            Route("/sessions/{session_id:int}/qr.svg", qr_svg),
            Route("/sessions/{session_id:int}/qr.png", qr_png),
            Route("/sessions/{session_id:int}/projector", projector),
            Route("/imports/templates/{kind}.{format}", import_template),
            Route("/exports/{kind}.{format}", export),
            Route("/reports/{name}.{format}", report_endpoint(settings)),
            # Certificates (backend/certificate_pages.py): the public verification page, the issuer's
            # profile and public keys (Open Badges), and the PDF (bearer token or signed link).
            Route("/verify/{code}", verify_certificate, methods=["GET"]),
            Route("/issuers/{tenant_id:int}", certificate_issuer, methods=["GET"]),
            Route("/issuers/{tenant_id:int}/jwks.json", issuer_jwks, methods=["GET"]),
            Route("/certificates/{certificate_id:int}.pdf", certificate_pdf, methods=["GET"]),
            # Private calendar feeds (backend/calendar_route.py): the token in the path is the credential.
            Route("/calendar/{token}.ics", calendar_feed, methods=["GET"]),
            # Evidence uploads (tus): OPTIONS, HEAD, PATCH.
            Route("/evidence/{attachment_id}", evidence_endpoints(settings), methods=["OPTIONS", "HEAD", "PATCH"]),
            admin_routes(settings),  # the HR dashboard: /admin/ (server-rendered pages, cookie sign-in)
            # The sync contract's JSON Schemas (mobile_sync.contract): public, cached, ETag.
            Route(contract.URL_PATH, contract.contract_route, methods=["GET", "HEAD"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            # Prometheus metrics: 404 unless XUEFEN_METRICS_TOKEN is set, then that bearer token.
            Route("/metrics", metrics.metrics_endpoint(settings.metrics_token)),
        ],
        middleware=[
            Middleware(OneLineStartupFailure),  # a failed start-up is logged as one line, not a traceback
            Middleware(RequestIdMiddleware),
            # The access line, metrics and trace span of every request, CORS preflights and 429s
            # included (backend/observability).
            Middleware(AccessLogMiddleware),
            # CORS (backend/cors.py) when XUEFEN_CORS_ORIGINS lists origins: outside the rate limit,
            # so a 429 is readable by the page too.
            *cors_middleware(settings),
            # Rate limits per token, device and address (backend/rate_limit.py): after the request id
            # (a 429 carries it), before everything that does work; /media/, health checks, OPTIONS exempt.
            Middleware(RateLimitMiddleware, settings=settings),
            # /media/… (lesson files for phones) is answered here, above compression: never gzipped.
            Middleware(MediaRoute, settings=settings),
            Middleware(GZipMiddleware, minimum_size=1024),
            Middleware(
                RequestBodyMiddleware,
                max_bytes=settings.max_body_bytes,
                drain_bytes=settings.max_body_drain_bytes,
                # File uploads (startImport, addLessonFiles): streamed, up to the larger of the import
                # and media limits plus the form's fields; each mutation holds its files to its own
                # limit while it spools them. Ordinary JSON requests keep max_body_bytes.
                upload_bytes=max(settings.import_max_bytes, settings.media_max_bytes) + 1024 * 1024,
                upload_paths=frozenset({"/graphql"}),
            ),
        ],
        lifespan=lifespan,
    )
