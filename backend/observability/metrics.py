"""Prometheus metrics (prometheus-client): what they count, how their labels stay bounded, and the
``/metrics`` endpoint. The list with each metric's meaning is in docs/observability.md.

Labels never carry a user, a tenant or anything a caller typed freely: route templates (not
paths), GraphQL operation names that are valid identifiers of at most 64 characters (at most
``MAX_OPERATION_NAMES`` different ones per process, then ``other``), record kinds the server knows,
error codes from ``ErrorCode``. A scrape stays small however the server is called.

Several server processes (``xuefen serve --workers N``) share their numbers through
prometheus-client's multiprocess mode: ``xuefen serve`` points PROMETHEUS_MULTIPROC_DIR at an empty
directory before the workers start (``prepare_multiprocess``), every process writes its values
there, and a scrape answered by any worker adds them up (``registry``).
"""

from __future__ import annotations

import atexit
import hmac
import os
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable, Container, Iterable, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from tortoise import connections

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
MAX_OPERATION_NAMES = 200
OTHER = "other"
ANONYMOUS = "anonymous"
_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Seconds. Phones on slow links: most answers are well under a second, a large sync push may
# take several.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "xuefen_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "xuefen_http_request_duration_seconds",
    "Time from a request's arrival to its last byte sent, by route template.",
    ("route",),
    buckets=_LATENCY_BUCKETS,
)
GRAPHQL_DURATION = Histogram(
    "xuefen_graphql_request_duration_seconds",
    "Time to answer a GraphQL request over HTTP, by operation name (anonymous: no name; other: "
    "a name that is not a short identifier, or beyond the per-process limit of distinct names).",
    ("operation",),
    buckets=_LATENCY_BUCKETS,
)
SYNC_RECORDS = Counter(
    "xuefen_sync_records",
    "Records received by syncPush, by kind and outcome (status ACCEPTED, REJECTED, CONFLICT or "
    "DUPLICATE; code the ErrorCode, none when accepted).",
    ("kind", "status", "code"),
)
LOGIN_FAILURES = Counter(
    "xuefen_login_failures",
    "Refused sign-ins, by reason (INVALID_CREDENTIALS, ACCOUNT_DISABLED, TOO_MANY_ATTEMPTS).",
    ("reason",),
)
NOTIFICATION_DELIVERIES = Counter(
    "xuefen_notification_deliveries",
    "Notification delivery attempts recorded by a worker, by channel and resulting status (SENT, "
    "PENDING: to be retried, DEAD).",
    ("channel", "status"),
)
DB_POOL = Gauge(
    "xuefen_db_pool_connections",
    "Database connections of the server processes, by state: open, in_use, idle, max (the pool's "
    "limit). SQLite: one open connection per process.",
    ("state",),
    multiprocess_mode="livesum",  # summed over the live worker processes
)

_operation_names: set[str] = set()
# The files prometheus_client writes in multiprocess mode (values.py: "<type>[_<mode>]_<pid>.db"):
# the only ones prepare_multiprocess deletes.
_METRIC_FILE = re.compile(r"(counter|histogram|summary|gauge_[a-z]+)_\d+\.db", re.ASCII)


def operation_name(name: str | None) -> str:
    """A GraphQL operation name as logs show it: the name when it is an identifier of at most 64
    characters, ``anonymous`` without one, ``other`` for anything else a client sent."""
    if not name:
        return ANONYMOUS
    return name if _OPERATION_NAME.fullmatch(name) else OTHER


def operation_label(name: str | None) -> str:
    """The ``operation`` label: ``operation_name``, and ``other`` beyond the first
    ``MAX_OPERATION_NAMES`` distinct names this process has seen."""
    name = operation_name(name)
    if name in _operation_names or name in (ANONYMOUS, OTHER):
        return name
    if len(_operation_names) >= MAX_OPERATION_NAMES:
        return OTHER
    _operation_names.add(name)
    return name


def method_label(method: str) -> str:
    return method if method in _METHODS else OTHER


def observe_request(method: str, route: str, status: int, seconds: float, operation: str | None) -> None:
    """One answered HTTP request (the access middleware calls this); ``operation`` is the label
    (``operation_label``) of a GraphQL request, None for anything else."""
    HTTP_REQUESTS.labels(method_label(method), route, str(status)).inc()
    HTTP_DURATION.labels(route).observe(seconds)
    if operation is not None:
        GRAPHQL_DURATION.labels(operation).observe(seconds)


def count_sync_records(kinds: Iterable[str], outcomes: Iterable[tuple[str, Any]], known: Container[str]) -> None:
    """A push's records: ``kinds`` as sent and ``(status, code)`` of each, in the same order; a
    kind not in ``known`` (the server's record kinds) is counted as ``other``."""
    for kind, (status, code) in zip(kinds, outcomes, strict=False):
        code_label = str(getattr(code, "value", code) or "none")
        SYNC_RECORDS.labels(kind if kind in known else OTHER, str(status), code_label).inc()


def count_login_failure(reason: str) -> None:
    LOGIN_FAILURES.labels(reason).inc()


def count_deliveries(outcomes: Sequence[tuple[str, str]]) -> None:
    """Recorded delivery outcomes as ``(channel, status)``."""
    for channel, status in outcomes:
        NOTIFICATION_DELIVERIES.labels(channel, status).inc()


# --- the database pool ------------------------------------------------------------------------

_POOL_SAMPLE_SECONDS = 1.0
_last_pool_sample = 0.0


def sample_pool(force: bool = False) -> None:
    """Read the default connection's pool into ``DB_POOL`` (at most once a second unless
    ``force``): asyncpg's pool sizes on PostgreSQL, one connection on SQLite. Called at each scrape
    and after requests, so that with several processes each one's last reading is in the shared
    directory when another answers the scrape."""
    global _last_pool_sample
    now = time.monotonic()
    if not force and now - _last_pool_sample < _POOL_SAMPLE_SECONDS:
        return
    _last_pool_sample = now
    try:
        client: Any = connections.get("default")
    except Exception:  # not initialised (a test app without a database, start-up, shutdown)
        return
    pool = getattr(client, "_pool", None)
    if pool is not None and hasattr(pool, "get_size"):
        size, idle = pool.get_size(), pool.get_idle_size()
        readings = {"open": size, "idle": idle, "in_use": size - idle, "max": pool.get_max_size()}
    elif hasattr(client, "_pool"):  # asyncpg's pool, made at the first query
        readings = {"open": 0, "idle": 0, "in_use": 0}
    elif hasattr(client, "_connection"):  # SQLite: one connection per process, opened at the first query
        readings = {"open": 0 if client._connection is None else 1, "max": 1}
    else:
        return
    for state, value in readings.items():
        DB_POOL.labels(state).set(value)


# --- exposition -------------------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def registry() -> CollectorRegistry:
    """What a scrape reads: this process's registry, or (multiprocess mode) every process's files."""
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected, path=directory)
    return collected


def exposition() -> bytes:
    """The metrics in Prometheus' text format."""
    return generate_latest(registry())


def authorised(header: str | None, token: str) -> bool:
    """``Authorization: Bearer <token>``, compared in constant time."""
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def metrics_endpoint(token: str) -> Callable[[Request], Awaitable[Response]]:
    """``GET /metrics`` on the public port: 404 without a configured token (the endpoint does not
    exist there), 401 without the right bearer token."""

    async def metrics(request: Request) -> Response:
        if not token:
            return PlainTextResponse("Not Found", status_code=404)
        if not authorised(request.headers.get("authorization"), token):
            return PlainTextResponse("Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"})
        sample_pool(force=True)
        return Response(exposition(), media_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})

    return metrics


def prepare_multiprocess(workers: int) -> str | None:
    """Before ``xuefen serve`` starts its workers: with more than one, the shared directory of
    multiprocess mode, emptied (numbers of an earlier run must not add up with this one's). An
    operator's PROMETHEUS_MULTIPROC_DIR is used if set, else a fresh directory. Must run before
    prometheus_client is imported by the workers (they are new processes: they inherit the
    environment). Returns the directory, None in single-process mode."""
    if workers <= 1:
        return None
    directory = multiprocess_dir()
    if directory is None:
        directory = tempfile.mkdtemp(prefix="xuefen-metrics-")
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    else:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            if _METRIC_FILE.fullmatch(stale.name):  # an operator's directory may hold other files
                stale.unlink()
    os.environ[MULTIPROC_ENV] = directory
    return directory


def process_exited() -> None:
    """A worker is stopping: its live gauges (the pool) leave the sum."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(os.getpid(), directory)


def start_internal_server(host: str, port: int) -> None:
    """Serve the metrics (no token) on ``host:port`` from a thread of this process: the parent of
    ``xuefen serve``'s workers (multiprocess mode reads their files), or the one server process."""
    start_http_server(port, addr=host, registry=registry())
