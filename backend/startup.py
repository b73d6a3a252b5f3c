"""Start-up checks, and every start-up failure as one line.

What an operator sees when Xuefen cannot start must say what failed, where and what to do, in one
line on stderr with a non-zero exit status, never a traceback and never the database password.
The database is the usual culprit, and the drivers report it badly: asyncpg raises from deep inside
its connect loop (an 83-line traceback), and tortoise's SQLite client keeps its connection lock
when the file cannot be opened, so the next statement waits forever. So every command probes the
database itself first, with the driver directly, before tortoise opens it (``backend.db.init_db``
and ``backend.db.migrate`` call ``check_database``), and ``xuefen serve`` checks the database, its
migrations and the port in the parent process before uvicorn starts any worker.

A failure is a ``StartupError``: a ``SystemExit`` whose message is the line, so Python prints it on
stderr and exits with status 1 wherever it is raised.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import os
import pkgutil
import socket
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
from tortoise.backends.base.config_generator import expand_db_url

import backend.migrations
from backend.config import Settings

APP_LABEL = "xuefen"  # the app label the migrations are recorded under (backend/db.py)
MIGRATIONS_TABLE = "tortoise_migrations"
CONNECT_TIMEOUT_SECONDS = 10.0


class StartupError(SystemExit):
    """Xuefen cannot start: ``what`` failed at ``where``; ``todo`` says how to fix it. Printed by
    Python as one line on stderr, exit status 1."""

    def __init__(self, what: str, where: str, todo: str) -> None:
        self.line = f"xuefen: {what} ({where}). {todo}"
        super().__init__(self.line)


def describe_database(url: str) -> str:
    """The database URL without its secrets: ``PostgreSQL db.example:5432/xuefen`` or
    ``SQLite /srv/xuefen/xuefen.sqlite3`` (never the user's password)."""
    if url.startswith("sqlite"):
        path = expand_db_url(url)["credentials"]["file_path"]
        return f"SQLite {path if path == ':memory:' else os.path.abspath(path)}"
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "localhost", parts.port or 5432
    except ValueError:
        return "the database in XUEFEN_DATABASE_URL"
    return f"PostgreSQL {host}:{port}/{parts.path.lstrip('/') or '?'}"


def _without_password(message: str, url: str) -> str:
    """A driver's message with the URL's password blanked, should a driver ever repeat it."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return message.replace(password, "***") if password else message


@dataclass(frozen=True)
class DatabaseState:
    """What the probe found: the migrations recorded as applied (names)."""

    applied: frozenset[str]


def migration_names() -> list[str]:
    """Every migration shipped with this version, in order (as tortoise's loader finds them)."""
    return sorted(
        name
        for _, name, is_package in pkgutil.iter_modules(backend.migrations.__path__)
        if not is_package and name[0] not in "_~"
    )


async def check_database(settings: Settings) -> DatabaseState:
    """Connect with the driver itself and read which migrations are applied; a ``StartupError``
    naming the cause when the database cannot be used."""
    if settings.is_sqlite:
        return await asyncio.to_thread(_check_sqlite, settings.database_url)
    return await _check_postgres(settings.database_url)


def _check_sqlite(url: str) -> DatabaseState:
    where = describe_database(url)
    path = expand_db_url(url)["credentials"]["file_path"]
    if path == ":memory:":
        return DatabaseState(frozenset())
    file = Path(path).absolute()
    if not file.exists():
        folder = file.parent
        if not folder.is_dir():
            raise StartupError(
                "cannot create the SQLite database: its folder does not exist",
                where,
                f"Create {folder} or point XUEFEN_DATABASE_URL elsewhere.",
            )
        if not os.access(folder, os.W_OK | os.X_OK):
            raise StartupError(
                "cannot create the SQLite database: its folder is not writable",
                where,
                f"Let the user running xuefen write to {folder}, or point XUEFEN_DATABASE_URL elsewhere.",
            )
        return DatabaseState(frozenset())  # created by `xuefen migrate`; nothing applied yet
    if not os.access(file, os.R_OK | os.W_OK) or not os.access(file.parent, os.W_OK | os.X_OK):
        raise StartupError(
            "cannot write the SQLite database (SQLite also writes its -wal and -shm files beside it)",
            where,
            f"Let the user running xuefen read and write {file} and its folder.",
        )
    try:
        connection = sqlite3.connect(f"{file.as_uri()}?mode=rw", uri=True, timeout=CONNECT_TIMEOUT_SECONDS)
        try:
            return DatabaseState(_applied(connection.execute, "?"))
        finally:
            connection.close()
    except sqlite3.DatabaseError as error:
        raise StartupError(
            f"cannot open the SQLite database: {error}",
            where,
            "Check that XUEFEN_DATABASE_URL names a Xuefen database file.",
        ) from None


def _applied(execute: Any, placeholder: str) -> frozenset[str]:
    """The applied migration names read through a DB-API ``execute`` (SQLite)."""
    try:
        rows = execute(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE app = {placeholder}", (APP_LABEL,)).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return frozenset()
        raise
    return frozenset(name for (name,) in rows)


async def postgres_connection(url: str) -> Any:
    """One asyncpg connection to the database of ``url``, or the ``StartupError`` saying why not."""
    credentials = expand_db_url(url)["credentials"]
    user, database = credentials.get("user"), credentials.get("database")
    try:
        return await asyncpg.connect(
            host=credentials.get("host"),
            port=credentials.get("port"),
            user=user,
            password=credentials.get("password"),
            database=database,
            ssl=credentials.get("ssl") or credentials.get("sslmode"),
            timeout=CONNECT_TIMEOUT_SECONDS,
        )
    except Exception as error:
        raise _postgres_error(error, url, describe_database(url), user, database) from None


async def _check_postgres(url: str) -> DatabaseState:
    where = describe_database(url)
    connection = await postgres_connection(url)
    try:
        exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", MIGRATIONS_TABLE)
        rows = (
            await connection.fetch(f"SELECT name FROM {MIGRATIONS_TABLE} WHERE app = $1", APP_LABEL) if exists else []
        )
    except Exception as error:
        raise StartupError(
            f"cannot read the database: {_without_password(str(error), url)}",
            where,
            "Check that the user in XUEFEN_DATABASE_URL may read it.",
        ) from None
    finally:
        await connection.close()
    return DatabaseState(frozenset(row["name"] for row in rows))


def _postgres_error(error: Exception, url: str, where: str, user: Any, database: Any) -> StartupError:
    """The one line for a failed PostgreSQL connection, by cause."""
    if isinstance(error, socket.gaierror):
        return StartupError(
            "cannot reach PostgreSQL: the host name is unknown",
            where,
            "Check the host in XUEFEN_DATABASE_URL.",
        )
    if isinstance(error, ConnectionRefusedError):
        return StartupError(
            "cannot reach PostgreSQL: connection refused",
            where,
            "Check that PostgreSQL is running and the host and port in XUEFEN_DATABASE_URL.",
        )
    if isinstance(error, TimeoutError):
        return StartupError(
            f"cannot reach PostgreSQL: no answer within {CONNECT_TIMEOUT_SECONDS:.0f} s",
            where,
            "Check the host and port in XUEFEN_DATABASE_URL and any firewall on the way.",
        )
    if isinstance(error, asyncpg.InvalidPasswordError):
        return StartupError(
            f"PostgreSQL refused the password of user {user!r}",
            where,
            "Check the user and password in XUEFEN_DATABASE_URL.",
        )
    if isinstance(error, asyncpg.InvalidCatalogNameError):
        return StartupError(
            f"PostgreSQL has no database {database!r}",
            where,
            f"Create it (createdb -O {user or 'xuefen'} {database}) or fix the name in XUEFEN_DATABASE_URL.",
        )
    if isinstance(error, asyncpg.InvalidAuthorizationSpecificationError):
        return StartupError(
            f"PostgreSQL refused the connection: {_without_password(str(error), url)}",
            where,
            "Check the user in XUEFEN_DATABASE_URL and the server's pg_hba.conf.",
        )
    if isinstance(error, OSError):
        reason = os.strerror(error.errno) if error.errno else type(error).__name__
        return StartupError(
            f"cannot reach PostgreSQL: {reason.lower()}",
            where,
            "Check the host and port in XUEFEN_DATABASE_URL and the network.",
        )
    message = _without_password(str(error), url) or type(error).__name__
    return StartupError(
        f"cannot connect to PostgreSQL: {message}", where, "Check XUEFEN_DATABASE_URL and the server's log."
    )


def require_migrated(settings: Settings, state: DatabaseState) -> None:
    """A ``StartupError`` when migrations shipped with this version are not applied yet (the
    server and the worker refuse to run on a schema older than their code), or when the database
    was migrated by a newer Xuefen than this one."""
    where = describe_database(settings.database_url)
    shipped = migration_names()
    pending = [name for name in shipped if name not in state.applied]
    if pending:
        what = (
            "the database is not migrated yet (no migration applied)"
            if not state.applied
            else f"the database lacks {len(pending)} migration(s) of this version (first: {pending[0]})"
        )
        raise StartupError(what, where, "Run `xuefen migrate` first (and after every upgrade).")
    unknown = sorted(state.applied - set(shipped))
    if unknown:
        raise StartupError(
            f"the database has migration(s) this version does not know (e.g. {unknown[-1]}): "
            "a newer Xuefen migrated it",
            where,
            "Run the newer version, or restore the backup taken before the upgrade.",
        )


async def check_ready(settings: Settings) -> None:
    """The database answers and is migrated (``xuefen serve`` and ``xuefen worker``)."""
    require_migrated(settings, await check_database(settings))


def check_port(host: str, port: int) -> None:
    """Bind ``host:port`` for a moment, as uvicorn is about to (with SO_REUSEADDR as it does), so a
    busy port is one line here instead of uvicorn's logs from every worker."""
    if not 0 < port < 65536:
        raise StartupError(f"port {port} is not a TCP port", f"{host}:{port}", "Use --port between 1 and 65535.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise StartupError("cannot listen: the host name is unknown", f"{host}:{port}", "Check --host.") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise StartupError(
                    "cannot listen: the address is already in use",
                    f"{host}:{port}",
                    "Stop the other server on that port or choose another with --port.",
                ) from None
            if error.errno == errno.EACCES:
                raise StartupError(
                    "cannot listen: permission denied",
                    f"{host}:{port}",
                    "Ports below 1024 need privileges: use --port 8000 behind a reverse proxy.",
                ) from None
            if error.errno == errno.EADDRNOTAVAIL:
                raise StartupError(
                    "cannot listen: this machine has no such address",
                    f"{host}:{port}",
                    "Use one of its addresses, 0.0.0.0 or 127.0.0.1 with --host.",
                ) from None
            raise StartupError(
                f"cannot listen: {os.strerror(error.errno or 0).lower()}", f"{host}:{port}", "Check --host and --port."
            ) from None


def check_importable(module: str) -> None:
    """Import the app's module once in the parent: a dependency missing from the installation is
    one line here rather than a traceback from every uvicorn worker (which then keep dying)."""
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise StartupError(
            f"the installation is incomplete: {error}",
            sys.prefix,
            "Reinstall xuefen with its dependencies (pip install xuefen, or rebuild the image).",
        ) from None


class OneLineStartupFailure:
    """ASGI middleware for the app's lifespan: when start-up fails with a ``StartupError`` (a
    uvicorn worker checking the database itself, or the app run by plain ``uvicorn``), uvicorn
    logs the error's one line instead of Starlette's formatted traceback."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def send_one_line(message: Any) -> None:
            # Starlette sends this from inside its `except` block: the error is the one in hand.
            error = sys.exc_info()[1]
            if message["type"] == "lifespan.startup.failed" and isinstance(error, StartupError):
                message = {**message, "message": error.line}
            await send(message)

        await self.app(scope, receive, send_one_line)
