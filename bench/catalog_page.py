"""How much does the GraphQL layer cost on the hottest read, a catalog page?

Loads the demo company into a fresh database, signs in as E0001 and fetches a page of 50 courses
with modules, skills, prerequisites and eligibility through the real ASGI app (in process, over
httpx). The baseline replays the very SQL statements that request sent, straight on the same
connection, so the ratio is what auth, loaders, eligibility and serialisation add on top of the
database work.

    python -m bench.catalog_page                      # SQLite
    python -m bench.catalog_page --database postgres://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from backend import demo
from backend.app import create_app
from backend.config import Settings
from backend.db import tortoise_config
from backend.services.auth import hash_password

PAGE = """
query Page($after: String) {
  courses(first: 50, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { code title credits hours
      modules { position title kind credits requiredCount }
      skills { skill { name } targetLevel }
      prerequisites { code }
      eligibility { eligible reasons { code message } } } }
  }
}
"""


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.captured: list[tuple[str, list]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if isinstance(record.args, tuple) and len(record.args) == 2:
            self.captured.append((str(record.args[0]), list(record.args[1] or [])))


async def _timed(fn, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def run(database: str | None, rounds: int) -> None:
    settings = Settings(password_time_cost=1, password_memory_cost_kib=8 * 1024)
    dropped: str | None = None
    if database and database.startswith("postgres"):
        import asyncpg

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
            login = await http.post("/graphql", json={"query": 'mutation { login(input: {tenant: "demo", employeeNo: "E0001", password: "xuefen-demo", deviceId: "bench"}) { tokens { accessToken } } }'})
            token = login.json()["data"]["login"]["tokens"]["accessToken"]
            headers = {"Authorization": f"Bearer {token}"}

            async def api() -> None:
                response = await http.post("/graphql", json={"query": PAGE}, headers=headers)
                assert "errors" not in response.json()

            await api()  # warm up, then capture the statements of one request
            handler, logger = _Statements(), logging.getLogger("tortoise.db_client")
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            await api()
            logger.removeHandler(handler)
            logger.setLevel(logging.WARNING)
            db = connections.get("default")

            async def raw() -> None:
                for sql, values in handler.captured:
                    await db.execute_query(sql, values)

            api_s = await _timed(api, rounds)
            raw_s = await _timed(raw, rounds)
        engine = "PostgreSQL" if dropped else "SQLite"
        print(f"catalog page (50 courses + modules, skills, prerequisites, eligibility) on {engine}")
        print(f"  SQL statements per request : {len(handler.captured)}")
        print(f"  raw SQL baseline (median)  : {raw_s * 1000:7.2f} ms")
        print(f"  GraphQL over HTTP (median) : {api_s * 1000:7.2f} ms")
        print(f"  ratio API / raw SQL        : {api_s / raw_s:7.1f}x")
    finally:
        await connections.close_all()
        if dropped:
            import asyncpg

            admin = await asyncpg.connect(database)
            await admin.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", help="a postgres:// server URL (default: a temporary SQLite file)")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    asyncio.run(run(args.database, args.rounds))


if __name__ == "__main__":
    main()
