"""What the in-process benchmarks share: a fresh database with the demo company, a signed-in
client on the real ASGI app, the SQL one request sent (to replay as the baseline), medians."""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from backend import demo
from backend.app import create_app
from backend.config import Settings
from backend.db import tortoise_config
from backend.services.people.auth import hash_password

# A benchmark's one signed-in phone sends thousands of requests a minute: `xuefen serve` keeps its
# rate limiter on (what it costs is part of what is measured) with limits no run reaches.
UNREACHED_RATE_LIMITS = {
    f"XUEFEN_RATE_LIMIT_{scope}": "1000000000/minute" for scope in ("TOKEN", "DEVICE", "PERSON", "ADDRESS")
}


class Statements(logging.Handler):
    """Captures the SQL (and parameters) Tortoise sends while attached."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.captured: list[tuple[str, list]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 2:
            sql, values = record.args
            self.captured.append((str(sql), list(values) if isinstance(values, list | tuple) else []))


async def timed(fn, rounds: int) -> float:
    """The median duration of ``rounds`` calls, seconds."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def captured(call) -> list[tuple[str, list]]:
    """The statements one call of ``call`` sends."""
    handler, logger = Statements(), logging.getLogger("tortoise.db_client")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        await call()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.WARNING)
    return handler.captured


async def replay(statements: list[tuple[str, list]]) -> None:
    db = connections.get("default")
    for sql, values in statements:
        await db.execute_query(sql, values)


@asynccontextmanager
async def demo_api(database: str | None, employee_no: str = "E0001"):
    """(engine name, httpx client, auth headers) on a fresh database holding the demo company:
    a new PostgreSQL database on the given server (dropped afterwards) or a temporary SQLite file."""
    settings = Settings(password_time_cost=1, password_memory_cost_kib=8 * 1024)
    dropped: str | None = None
    if database and database.startswith("postgres"):
        name = f"xuefen_bench_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(database)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url, dropped = urlunparse(urlparse(database)._replace(path=f"/{name}")), name
    else:
        url = f"sqlite://{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    try:
        await migrate(config=tortoise_config(url))
        await connections.close_all()
        await Tortoise.init(config=tortoise_config(url))
        await demo.seed_demo(hash_password(settings, demo.DEMO_PASSWORD))
        app = create_app(settings.with_overrides(database_url=url), manage_db=False)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http:
            login = await http.post(
                "/graphql",
                json={
                    "query": 'mutation { login(input: {tenant: "demo", '
                    f'employeeNo: "{employee_no}", password: "{demo.DEMO_PASSWORD}", '
                    'deviceId: "bench"}) { tokens { accessToken } } }'
                },
            )
            token = login.json()["data"]["login"]["tokens"]["accessToken"]
            yield ("PostgreSQL" if dropped else "SQLite"), http, {"Authorization": f"Bearer {token}"}
    finally:
        await connections.close_all()
        if dropped:
            admin = await asyncpg.connect(database)
            await admin.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')
            await admin.close()
