"""Test harness: one fresh database per test session, migrated with the real migrations, and the
real ASGI app driven over HTTP (httpx).

- SQLite by default (a file in a temporary folder).
- PostgreSQL when XUEFEN_TEST_DATABASE_URL=postgres://user@host:port/anydb: a database with a unique
  name is created on that server for the session and dropped afterwards. If the server cannot be
  reached the run stops with an error: a PostgreSQL run never silently turns into a skip.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx
import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate
from tortoise.queryset import QuerySet

from backend.app import create_app
from backend.config import Settings
from backend.db import tortoise_config
from backend.services.people.auth import hash_password
from tests.factories import TEST_PASSWORD

TEST_URL_ENV = "XUEFEN_TEST_DATABASE_URL"


def _refuse_values_under_a_lock() -> None:
    """tortoise (1.1) leaves FOR UPDATE out of ``values()``/``values_list()`` without a word, so a
    row "locked" that way is not: the whole suite refuses that spelling (``backend.sql.values_of``
    keeps the lock). Certificates and OJT assessments each lost a race to it."""
    for name in ("values", "values_list"):
        original = getattr(QuerySet, name)

        def guarded(self, *args, _original=original, _name=name, **kwargs):
            if self._select_for_update:
                raise AssertionError(
                    f"select_for_update() then {_name}(): tortoise drops the lock; use backend.sql.values_of"
                )
            return _original(self, *args, **kwargs)

        setattr(QuerySet, name, guarded)


_refuse_values_under_a_lock()


def _test_url() -> str:
    return os.environ.get(TEST_URL_ENV, "sqlite")


def is_postgres_run() -> bool:
    return _test_url().startswith(("postgres://", "postgresql://", "asyncpg://"))


def pytest_report_header(config: pytest.Config) -> str:
    target = "PostgreSQL" if is_postgres_run() else "SQLite"
    return f"xuefen test database: {target} ({TEST_URL_ENV}={_test_url()!r})"


def _server_url(url: str, database: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{database}"))


async def _pg_admin(url: str, sql: str) -> None:
    import asyncpg

    parts = urlparse(url)
    conn = await asyncpg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password,
        database=(parts.path or "/postgres").lstrip("/") or "postgres",
        timeout=10,
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def test_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings for the suite: cheap password hashing, small throttle numbers, media in a
    temporary directory."""
    return Settings(
        media_dir=str(tmp_path_factory.mktemp("media")),
        database_url="unused",
        secret_key="test-secret-" + uuid.uuid4().hex,
        password_time_cost=1,
        password_memory_cost_kib=8 * 1024,
        login_max_failures=3,
        # Every test signs in from the ASGI transport's one address: the per-address limit across
        # accounts is tested with its own addresses and app (tests/test_auth_throttle.py).
        login_source_max_failures=1_000_000,
    )


@pytest.fixture(scope="session")
def fresh_migration(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A SQLite file migrated from nothing by the real `xuefen migrate`, and what the command printed:
    once per run, as a migration from nothing costs tens of seconds on SQLite. (A subprocess, so it
    can be made from inside the session's running event loop.)"""
    path = tmp_path_factory.mktemp("template") / "migrated.sqlite3"
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "XUEFEN_DATABASE_URL": f"sqlite://{path}"},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return path, done


@pytest.fixture(scope="session")
def migrated_sqlite(fresh_migration: tuple[Path, subprocess.CompletedProcess[str]]) -> Path:
    """The migrated SQLite file: the SQLite session database and the tests that run `xuefen` on a
    file of their own start from copies of it (`sqlite_copy`). Never written to."""
    path, done = fresh_migration
    assert done.returncode == 0, done.stderr
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    """A copy of a SQLite file (through SQLite's backup, whatever its journal holds): its URL."""
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return f"sqlite://{target}"


@pytest.fixture
def migrated_sqlite_url(migrated_sqlite: Path, tmp_path: Path) -> str:
    """A migrated SQLite file of the test's own (a copy of `migrated_sqlite`): its URL."""
    return sqlite_copy(migrated_sqlite, tmp_path / "migrated.sqlite3")


@pytest.fixture(scope="session")
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """The session's database: created empty and migrated (on SQLite: a copy of the migrated
    template), dropped at the end."""
    created: str | None = None
    if is_postgres_run():
        base = _test_url()
        name = f"xuefen_test_{uuid.uuid4().hex[:12]}"
        try:
            await _pg_admin(base, f'CREATE DATABASE "{name}"')
        except Exception as exc:
            pytest.exit(f"PostgreSQL test run requested but the server is unusable: {exc!r}", 3)
        created = name
        url = _server_url(base, name)
    else:
        url = sqlite_copy(request.getfixturevalue("migrated_sqlite"), tmp_path_factory.mktemp("db") / "xuefen.sqlite3")
    if created:
        await migrate(config=tortoise_config(url))
        await connections.close_all()
    await Tortoise.init(config=tortoise_config(url))
    try:
        yield url
    finally:
        await connections.close_all()
        if created:
            await _pg_admin(_test_url(), f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


@pytest.fixture(scope="session")
def password_hash(test_settings: Settings, database_url: str) -> str:
    """The hash of TEST_PASSWORD; asking for it also opens the session database."""
    return hash_password(test_settings, TEST_PASSWORD)


@pytest.fixture(scope="session")
async def client(database_url: str, test_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the real ASGI app (the session's database is already open)."""
    app = create_app(test_settings.with_overrides(database_url=database_url), manage_db=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
        yield http


@contextmanager
def count_queries() -> Iterator[list[str]]:
    """Collects every SQL statement Tortoise sends while the block runs."""
    statements: list[str] = []

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if not message.startswith(("Created connection", "Closed connection")):
                statements.append(message)

    logger = logging.getLogger("tortoise.db_client")
    handler, old_level = Collector(level=logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _belongs_to_the_other_run(item: pytest.Item) -> bool:
    """Tests marked postgres_only (several server processes on one database, say) belong to the
    PostgreSQL run, those marked sqlite_only (a SQLite branch of a migration) to the SQLite run. A
    test that never asks for the session's database (directly or through a fixture: a parser, the
    deployment files, a subprocess with its own SQLite file) cannot depend on the engine, so it runs
    once, in the SQLite run: the PostgreSQL run would repeat it unchanged."""
    if is_postgres_run():
        return "sqlite_only" in item.keywords or (
            "postgres_only" not in item.keywords and "database_url" not in getattr(item, "fixturenames", ())
        )
    return "postgres_only" in item.keywords


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests of the other run are deselected, visibly, rather than skipped (CI fails on a skip)."""
    selected = [item for item in items if not _belongs_to_the_other_run(item)]
    deselected = [item for item in items if _belongs_to_the_other_run(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI a skipped test is a failure: a suite that silently skips proves nothing."""
    if os.environ.get("CI", "").lower() == "true" and _skipped and exitstatus == 0:
        print(f"\nCI=true and {len(_skipped)} test(s) skipped: {', '.join(_skipped[:10])}")
        session.exitstatus = 1


def require_tools(*names: str, install: str) -> list[str]:
    """The paths of outside programs a test needs (chromium, node, …): a missing one skips the test
    locally and fails it in CI, where a skip would prove nothing."""
    paths = [shutil.which(name) for name in names]
    if None in paths:
        message = f"{' and '.join(names)} are needed ({install})"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return [path for path in paths if path is not None]
