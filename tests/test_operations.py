"""Operations: the CLI, health checks and the served app, as an operator would use them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.servers import Served

ROOT = Path(__file__).resolve().parent.parent


def _xuefen(*args: str, env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_export_schema_check_passes_for_the_committed_contract():
    done = _xuefen("export-schema", "--check")
    assert done.returncode == 0, done.stderr


def test_export_schema_check_fails_when_stale(tmp_path):
    stale = tmp_path / "schema.graphql"
    stale.write_text("type Query { old: Int }\n")
    assert _xuefen("export-schema", "--check", "--path", str(stale)).returncode == 1
    assert _xuefen("export-schema", "--path", str(stale)).returncode == 0
    assert _xuefen("export-schema", "--check", "--path", str(stale)).returncode == 0
    assert '"""' in stale.read_text()


def test_contract_describes_every_type_and_field():
    from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType
    from graphql import build_schema as read_sdl

    from backend.config import Settings
    from schema import build_schema

    graphql_schema = read_sdl(build_schema(Settings()).as_str())
    missing = []
    for name, kind in graphql_schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Boolean", "ID", "Float", "Decimal", "DateTime"}:
            continue
        if not kind.description:
            missing.append(name)
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            missing += [f"{name}.{field}" for field, f in kind.fields.items() if not f.description]
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
            missing += [
                f"{name}.{field}({arg})"
                for field, f in kind.fields.items()
                for arg, a in f.args.items()
                if not a.description
            ]
        if isinstance(kind, GraphQLEnumType) and name.endswith("ReasonCode"):
            missing += [f"{name}.{value}" for value, v in kind.values.items() if not v.description]
    assert missing == []


def test_serve_migrate_and_health_checks_end_to_end(migrated_sqlite_url):
    url = migrated_sqlite_url  # migrated from nothing by `xuefen migrate` (tests/test_cli.py reads its output)
    again = _xuefen("migrate", env={"XUEFEN_DATABASE_URL": url})  # idempotent
    assert again.returncode == 0, again.stderr
    with Served(url) as server:
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"
        graphiql = httpx.get(f"{server.url}/graphql", headers={"Accept": "text/html"})
        assert graphiql.status_code == 200 and "graphiql" in graphiql.text.lower()


def test_serve_runs_the_workers_asked_for(migrated_sqlite_url):
    url = migrated_sqlite_url
    with Served(url, workers=2) as server:
        deadline = time.monotonic() + 30
        while len(server.workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(server.workers()) == 2
        for _ in range(4):  # whichever worker answers has its own working database pool
            assert httpx.get(f"{server.url}/readyz").json()["database"] == "ok"
    refused = _xuefen("serve", "--workers", "0", env={"XUEFEN_DATABASE_URL": url})
    assert refused.returncode != 0 and "--workers" in refused.stderr


# /readyz for a database that goes away after start: tests/test_deployment.py (a server no longer
# starts on an unreachable database: it refuses with one line, also tested there).


def test_development_secret_on_postgres_is_loud(caplog):
    from backend.config import Settings

    Settings(database_url="postgres://db/x").warn_if_unsafe()
    assert "XUEFEN_SECRET_KEY is not set" in caplog.text
    caplog.clear()
    Settings(database_url="sqlite://x.sqlite3").warn_if_unsafe()
    Settings(database_url="postgres://db/x", secret_key="s3cret").warn_if_unsafe()
    assert caplog.text == ""


def test_settings_are_read_from_the_environment():
    from backend.config import Settings

    settings = Settings.from_env(
        {
            "XUEFEN_DATABASE_URL": "postgres://u@h/db",
            "XUEFEN_ACCESS_TOKEN_TTL": "60",
            "XUEFEN_ENV": "production",
            "XUEFEN_SECRET_KEY": "k" * 40,
            "XUEFEN_PUBLIC_URL": "https://xuefen.example.com",
        }
    )
    assert settings.database_url == "postgres://u@h/db"
    assert settings.access_token_ttl_seconds == 60
    assert settings.introspection is False and settings.graphiql is False
    with pytest.raises(SystemExit):
        Settings.from_env({"XUEFEN_ACCESS_TOKEN_TTL": "soon"})
    # The public address goes into printed QR codes and handed-out links: a plain http(s) address.
    assert Settings.from_env({"XUEFEN_PUBLIC_URL": " https://xuefen.example.com/ "}).public_url == (
        "https://xuefen.example.com"
    )
    assert Settings.from_env({}).public_url == "http://localhost:8000"
    for bad in (
        "xuefen.example.com",
        "ftp://xuefen.example.com",
        "https://",
        "https://xuefen.example.com/?next=1",
        "https://xuefen.example.com/#top",
        "https://admin:pw@xuefen.example.com",
        "https://学分.example.com",
        "https://xuefen.example.com:99999",
        "https://xuefen example.com",
    ):
        with pytest.raises(SystemExit, match="XUEFEN_PUBLIC_URL"):
            Settings.from_env({"XUEFEN_PUBLIC_URL": bad})


def test_purge_tombstones_command_runs(migrated_sqlite_url):
    url = migrated_sqlite_url
    done = _xuefen("purge-tombstones", env={"XUEFEN_DATABASE_URL": url})
    assert done.returncode == 0 and "Purged 0 tombstones." in done.stdout


_STRONG_SECRET = "Zq3v" * 12  # 48 characters
_PRODUCTION_REFUSALS = {
    "nothing set": ({}, ["XUEFEN_SECRET_KEY", "XUEFEN_DATABASE_URL"]),
    "development key": (
        {
            "XUEFEN_SECRET_KEY": "xuefen-development-secret-do-not-use-in-production",
            "XUEFEN_DATABASE_URL": "sqlite://prod.sqlite3",
        },
        ["XUEFEN_SECRET_KEY"],
    ),
    "short secret": (
        {"XUEFEN_SECRET_KEY": "s3cret-but-only-24-chars", "XUEFEN_DATABASE_URL": "sqlite://prod.sqlite3"},
        ["XUEFEN_SECRET_KEY"],
    ),
    "no database url": ({"XUEFEN_SECRET_KEY": _STRONG_SECRET}, ["XUEFEN_DATABASE_URL"]),
    "no public address": (
        {"XUEFEN_SECRET_KEY": _STRONG_SECRET, "XUEFEN_DATABASE_URL": "postgres://db/x"},
        ["XUEFEN_PUBLIC_URL"],
    ),
    "a public address on plain http": (
        {
            "XUEFEN_SECRET_KEY": _STRONG_SECRET,
            "XUEFEN_DATABASE_URL": "postgres://db/x",
            "XUEFEN_PUBLIC_URL": "http://xuefen.example.com",
        },
        ["XUEFEN_PUBLIC_URL"],
    ),
    "this machine as the public address": (
        {
            "XUEFEN_SECRET_KEY": _STRONG_SECRET,
            "XUEFEN_DATABASE_URL": "postgres://db/x",
            "XUEFEN_PUBLIC_URL": "https://localhost:8443",
        },
        ["XUEFEN_PUBLIC_URL"],
    ),
}


def _xuefen_bin(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """The installed `xuefen` command with only these XUEFEN_* variables (none from the caller)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XUEFEN_")}
    command = ROOT / ".venv" / "bin" / "xuefen"
    argv = [str(command)] if command.exists() else [sys.executable, "-m", "backend.cli"]
    try:
        return subprocess.run(
            [*argv, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=15
        )
    except subprocess.TimeoutExpired as exc:  # it started serving: exactly the bug
        raise AssertionError(f"`xuefen {' '.join(args)}` ran instead of refusing: {exc.stderr!r}") from None


@pytest.mark.parametrize("command", [("serve", "--port", "1"), ("migrate",)], ids=["serve", "migrate"])
@pytest.mark.parametrize("env, named", _PRODUCTION_REFUSALS.values(), ids=_PRODUCTION_REFUSALS.keys())
def test_production_refuses_to_start_without_a_real_secret_and_database(command, env, named):
    done = _xuefen_bin(*command, env={"XUEFEN_ENV": "production", **env})
    lines = done.stderr.strip().splitlines()
    assert done.returncode != 0 and len(lines) == 1, done.stderr  # one line, no traceback
    assert lines[0].startswith("xuefen: XUEFEN_ENV=production refuses to start: ")
    assert all(f"set {name}" in lines[0] for name in named), lines[0]
    assert not (ROOT / "prod.sqlite3").exists()  # refused before touching any database


@pytest.mark.parametrize("value", ["prod", "staging", "Production-1"])
def test_unknown_environments_are_refused(value):
    done = _xuefen_bin(
        "serve",
        "--port",
        "1",
        env={"XUEFEN_ENV": value, "XUEFEN_SECRET_KEY": _STRONG_SECRET, "XUEFEN_DATABASE_URL": "sqlite://x.sqlite3"},
    )
    assert done.returncode != 0 and done.stderr.strip().splitlines() == [
        f"xuefen: XUEFEN_ENV must be one of development, production, got {value.lower()!r}"
    ], done.stderr


def test_settings_built_in_code_cannot_run_production_on_the_development_key():
    from backend.app import create_app
    from backend.config import DEV_SECRET_KEY, ConfigError, Settings

    for secret in (DEV_SECRET_KEY, "short"):
        with pytest.raises(ConfigError):
            create_app(Settings(environment="production", secret_key=secret, database_url="sqlite://x"))
    with pytest.raises(ConfigError):
        Settings().with_overrides(environment="production")
    assert create_app(Settings(environment="production", secret_key=_STRONG_SECRET, database_url="sqlite://x"))


def test_a_valid_production_configuration_serves(database_url):
    import jwt

    from backend.config import DEV_SECRET_KEY

    sqlite = {"XUEFEN_ALLOW_SQLITE_IN_PRODUCTION": "true"} if database_url.startswith("sqlite") else {}
    production = {
        "XUEFEN_ENV": "production",
        "XUEFEN_SECRET_KEY": _STRONG_SECRET,
        "XUEFEN_PUBLIC_URL": "https://xuefen.example.com",
    }
    with Served(database_url, **production, **sqlite) as server:
        assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
        # A token forged with the public development key names a real-looking session: refused.
        forged = jwt.encode(
            {
                "iss": "xuefen",
                "aud": "xuefen-app",
                "sub": "1",
                "tid": 1,
                "sid": str(uuid.uuid4()),
                "iat": int(time.time()),
                "exp": int(time.time()) + 600,
            },
            DEV_SECRET_KEY,
            algorithm="HS256",
        )
        answer = httpx.post(
            f"{server.url}/graphql", json={"query": "{ me { name } }"}, headers={"Authorization": f"Bearer {forged}"}
        ).json()
        assert answer["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_the_code_keeps_no_session_state_on_pooled_connections():
    """backend/db.py hands connections back to the pool without asyncpg's reset query; that is
    only right while no code leaves session state on a connection (advisory locks, LISTEN,
    cursors, session SET): this fails when some code starts to."""
    # SQL here is written in capitals (prose "Set …" is not a statement).
    session_state = re.compile(
        r"(?i:pg_advisory_(?!xact))|\bUNLISTEN\b|[\"']\s*LISTEN\b|\bDECLARE\s+\w+\s+(?:\w+\s+)*CURSOR|[\"']\s*SET\s+(?!LOCAL\b|TRANSACTION\b)"
    )
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("backend", "schema", "mobile_sync")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "db.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if session_state.search(line)
    ]
    assert found == []
