"""Deployment: the image's entry point run directly, the deployment files' essentials, and every
start-up failure as one line on stderr (what, where, what to do) with a non-zero exit status, no
traceback and never the database password. The real `xuefen` command runs as a subprocess."""

from __future__ import annotations

import configparser
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing, suppress
from pathlib import Path

import httpx
import pytest
import yaml

from backend.config import Settings
from backend.startup import migration_names
from tests.servers import Served, free_port

ROOT = Path(__file__).resolve().parent.parent
ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"
LOOP = "127.0.0.1"
PASSWORD = "S3cret-Pa55word"  # in every PostgreSQL URL below: it must never be printed


def _env(**variables: str) -> dict[str, str]:
    """The caller's environment without XUEFEN_* (and with the venv's xuefen first on PATH)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XUEFEN_")}
    clean["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{clean.get('PATH', '')}"
    return {**clean, **variables}


def xuefen(*args: str, timeout: int = 120, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        cwd=ROOT,
        env=_env(**variables),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The failure's only line on stderr (and the checks every start-up failure must pass)."""
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert PASSWORD not in done.stderr and PASSWORD not in done.stdout
    assert lines[0].startswith("xuefen: ")
    return lines[0]


# --- The database cannot be used --------------------------------------------------------------

# Every command that opens the database, with the arguments it needs (serve and demo on a free port).
COMMANDS = {
    "serve": lambda: ("serve", "--port", str(free_port())),
    "demo": lambda: ("demo", "--port", str(free_port())),
    "migrate": lambda: ("migrate",),
    "worker": lambda: ("worker", "--once"),
    "seed-demo": lambda: ("seed-demo",),
    "purge-tombstones": lambda: ("purge-tombstones",),
    "credits verify": lambda: ("credits", "verify"),
    "reports verify": lambda: ("reports", "verify"),
    "integrity scan": lambda: ("integrity", "scan"),
    "tenant create": lambda: ("tenant", "create", "acme", "--name", "Acme", "--time-zone", "UTC", "--admin", "A1"),
    "content renditions": lambda: ("content", "renditions"),
}


@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_every_command_says_in_one_line_that_postgresql_refuses_connections(command):
    port = free_port()  # nothing listens there
    url = f"postgres://xuefen:{PASSWORD}@127.0.0.1:{port}/xuefen"
    line = one_line(xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=url))
    assert line == (
        f"xuefen: cannot reach PostgreSQL: connection refused (PostgreSQL 127.0.0.1:{port}/xuefen). "
        "Check that PostgreSQL is running and the host and port in XUEFEN_DATABASE_URL."
    )


@pytest.mark.parametrize("command", ["serve", "migrate", "worker"])
def test_an_unknown_database_host_is_one_line(command):
    url = f"postgres://xuefen:{PASSWORD}@db.invalid:5432/xuefen"
    line = one_line(xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=url))
    assert "the host name is unknown (PostgreSQL db.invalid:5432/xuefen)" in line
    assert line.endswith("Check the host in XUEFEN_DATABASE_URL.")


def _server_url(name: str, user: str = "postgres") -> str:
    """A URL on the test PostgreSQL server (XUEFEN_TEST_DATABASE_URL) for ``name`` as ``user``."""
    from urllib.parse import urlsplit

    parts = urlsplit(os.environ["XUEFEN_TEST_DATABASE_URL"])
    return f"postgres://{user}:{PASSWORD}@{parts.hostname}:{parts.port or 5432}/{name}"


@pytest.mark.postgres_only
@pytest.mark.parametrize("command", ["serve", "migrate", "worker", "tenant create"])
def test_a_missing_postgresql_database_is_one_line(command):
    line = one_line(xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=_server_url("no_such_xuefen_db")))
    assert "PostgreSQL has no database 'no_such_xuefen_db'" in line
    assert "Create it (createdb -O postgres no_such_xuefen_db)" in line


@pytest.mark.postgres_only
@pytest.mark.parametrize("command", ["serve", "migrate"])
def test_an_unknown_postgresql_user_is_one_line(command):
    line = one_line(xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=_server_url("postgres", user="no_such_user")))
    assert 'role "no_such_user" does not exist' in line and "Check the user in XUEFEN_DATABASE_URL" in line


@pytest.fixture(scope="module")
def password_server():
    """A PostgreSQL server of our own that wants passwords (the shared test server trusts
    everyone): initdb with scram-sha-256, on a free port, run as the postgres system user."""
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not binaries or os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs PostgreSQL's server binaries and root (to run them as the postgres user)")
    # Not under pytest's tmp_path: its folders are private to root, the postgres user needs in.
    folder = Path(tempfile.mkdtemp(prefix="xuefen-pg-"))
    folder.chmod(0o777)
    data, secret = folder / "data", folder / "password"
    secret.write_text("right-password\n")
    secret.chmod(0o644)
    as_postgres = ["runuser", "-u", "postgres", "--"]
    initdb = [str(binaries[-1] / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256"]
    subprocess.run([*as_postgres, *initdb, f"--pwfile={secret}"], check=True, capture_output=True, timeout=120)
    port = free_port()
    server = subprocess.Popen(
        [*as_postgres, str(binaries[-1] / "postgres"), "-D", str(data), "-p", str(port), "-k", str(folder), "-h", LOOP],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with closing(socket.socket()) as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield port
    finally:
        stop = [str(binaries[-1] / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]
        subprocess.run([*as_postgres, *stop], capture_output=True, timeout=60, check=False)
        server.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("command", ["serve", "migrate", "worker"])
def test_a_wrong_postgresql_password_is_one_line_without_the_password(password_server, command):
    url = f"postgres://postgres:{PASSWORD}@127.0.0.1:{password_server}/postgres"
    line = one_line(xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=url))
    assert line == (
        f"xuefen: PostgreSQL refused the password of user 'postgres' (PostgreSQL 127.0.0.1:{password_server}/postgres). "
        "Check the user and password in XUEFEN_DATABASE_URL."
    )


@pytest.mark.parametrize("command", ["serve", "migrate", "worker", "seed-demo"])
def test_a_sqlite_file_in_a_missing_folder_is_one_line_and_no_hang(command, tmp_path):
    # tortoise's SQLite client would wait forever on its own lock here: the probe comes first.
    missing = tmp_path / "no-such-folder" / "xuefen.sqlite3"
    line = one_line(xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=f"sqlite://{missing}", timeout=60))
    assert line == (
        f"xuefen: cannot create the SQLite database: its folder does not exist (SQLite {missing}). "
        f"Create {missing.parent} or point XUEFEN_DATABASE_URL elsewhere."
    )


def test_a_file_that_is_no_database_is_one_line(tmp_path):
    garbage = tmp_path / "notes.sqlite3"
    garbage.write_text("these are not the tables you are looking for\n" * 100)
    for command in ("serve", "migrate"):
        line = one_line(xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=f"sqlite://{garbage}"))
        assert f"cannot open the SQLite database: file is not a database (SQLite {garbage})" in line


def test_an_unwritable_sqlite_folder_is_one_line(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir(mode=0o555)
    url = f"sqlite://{folder / 'x.sqlite3'}"
    if os.geteuid() == 0:
        # Root writes anywhere; without the capability that lets it (setpriv drops it from the
        # bounding set, so the command runs as a root that obeys folder permissions) it cannot.
        done = subprocess.run(
            ["setpriv", "--bounding-set", "-dac_override", "--", sys.executable, "-m", "backend.cli", "migrate"],
            cwd=ROOT,
            env=_env(XUEFEN_DATABASE_URL=url),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    else:
        done = xuefen("migrate", XUEFEN_DATABASE_URL=url)
    assert "its folder is not writable" in one_line(done)


def test_serving_an_unmigrated_database_is_refused(tmp_path):
    empty = tmp_path / "empty.sqlite3"
    for command in ("serve", "worker", "tenant create"):
        line = one_line(xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=f"sqlite://{empty}"))
        assert line == (
            f"xuefen: the database is not migrated yet (no migration applied) (SQLite {empty}). "
            "Run `xuefen migrate` first (and after every upgrade)."
        )
    assert not empty.exists()  # looked at, not created


# --- The port, the configuration ---------------------------------------------------------------


@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_port_in_use_is_one_line(command, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = xuefen(command, "--port", str(port), XUEFEN_DATABASE_URL=f"sqlite://{tmp_path / 'x.sqlite3'}")
    assert one_line(done) == (
        f"xuefen: cannot listen: the address is already in use (127.0.0.1:{port}). "
        "Stop the other server on that port or choose another with --port."
    )
    assert not (tmp_path / "x.sqlite3").exists()  # demo checks the port before it migrates


BAD_VALUES = {
    "XUEFEN_DB_POOL_MAX": ("ten", "xuefen: XUEFEN_DB_POOL_MAX must be an integer, got 'ten'"),
    "XUEFEN_LOG_LEVEL": (
        "loud",
        "xuefen: XUEFEN_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'",
    ),
    "XUEFEN_NOTIFY_TIMEOUT": ("nan", "xuefen: XUEFEN_NOTIFY_TIMEOUT must be a finite number, got 'nan'"),
    "XUEFEN_GRAPHIQL": ("maybe", "xuefen: XUEFEN_GRAPHIQL must be true or false, got 'maybe'"),
}


@pytest.mark.parametrize("command", ["serve", "migrate", "worker"])
@pytest.mark.parametrize("variable", BAD_VALUES, ids=list(BAD_VALUES))
def test_a_bad_configuration_value_is_one_line(command, variable, tmp_path):
    value, expected = BAD_VALUES[variable]
    done = xuefen(*COMMANDS[command](), XUEFEN_DATABASE_URL=f"sqlite://{tmp_path / 'x.sqlite3'}", **{variable: value})
    assert one_line(done) == expected


STRONG_SECRET = "Qm8v" * 12


def test_production_refuses_sqlite_unless_allowed(tmp_path):
    url = f"sqlite://{tmp_path / 'prod.sqlite3'}"
    production = {
        "XUEFEN_ENV": "production",
        "XUEFEN_SECRET_KEY": STRONG_SECRET,
        "XUEFEN_DATABASE_URL": url,
        "XUEFEN_PUBLIC_URL": "https://xuefen.example.com",
    }
    line = one_line(xuefen(*COMMANDS["serve"](), **production))
    assert line.startswith("xuefen: XUEFEN_ENV=production refuses to start: ")
    assert "use PostgreSQL in XUEFEN_DATABASE_URL, or set XUEFEN_ALLOW_SQLITE_IN_PRODUCTION=true" in line
    # Allowed on purpose: the configuration passes, and the next check (migrations) speaks.
    allowed = one_line(xuefen(*COMMANDS["serve"](), XUEFEN_ALLOW_SQLITE_IN_PRODUCTION="true", **production))
    assert "the database is not migrated yet" in allowed
    # The other refusals still stand when SQLite is allowed.
    weak = one_line(
        xuefen("migrate", XUEFEN_ALLOW_SQLITE_IN_PRODUCTION="true", **{**production, "XUEFEN_SECRET_KEY": "short"})
    )
    assert "set XUEFEN_SECRET_KEY" in weak and "XUEFEN_ALLOW_SQLITE" not in weak


def test_production_warns_when_graphiql_or_introspection_is_turned_on(caplog):
    production = {
        "XUEFEN_ENV": "production",
        "XUEFEN_SECRET_KEY": STRONG_SECRET,
        "XUEFEN_DATABASE_URL": "postgres://h/x",
        "XUEFEN_PUBLIC_URL": "https://xuefen.example.com",
    }
    Settings.from_env(production).warn_if_unsafe()
    assert "XUEFEN_GRAPHIQL" not in caplog.text  # off by default in production: nothing to say
    Settings.from_env({**production, "XUEFEN_GRAPHIQL": "true"}).warn_if_unsafe()
    assert "XUEFEN_GRAPHIQL=true and XUEFEN_INTROSPECTION=false" in caplog.text


# --- The image's entry point, run directly ----------------------------------------------------


def _entrypoint(*args: str, **variables: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["sh", str(ENTRYPOINT), *args],
        cwd=ROOT,
        env=_env(XUEFEN_LOG_LEVEL="WARNING", **variables),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(process: subprocess.Popen[str], timeout: int = 300) -> subprocess.CompletedProcess[str]:
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_the_entrypoint_migrates_then_serves_and_passes_other_commands_through(migrated_sqlite_url):
    # A database migrated from nothing (tests/conftest.py: `xuefen migrate`, whose output
    # tests/test_cli.py checks): the entry point's migration then has nothing to apply and says so.
    url = migrated_sqlite_url
    port = free_port()
    server = _entrypoint(XUEFEN_DATABASE_URL=url, XUEFEN_PORT=str(port))
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and server.poll() is None:
                try:
                    if http.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            assert server.poll() is None, server.communicate()
            assert http.get("/readyz").json()["database"] == "ok"
    finally:
        server.send_signal(signal.SIGTERM)  # what `docker stop` sends: the exec'd server gets it
    done = _finish(server, timeout=60)
    # uvicorn finishes, then re-raises the signal it caught so its parent sees it: ended by SIGTERM.
    assert done.returncode in (0, -signal.SIGTERM) and "Traceback" not in done.stderr, done.stderr
    names = migration_names()
    assert done.stdout.startswith(f"Database is up to date ({len(names)} migrations)."), done.stdout

    worker = _finish(_entrypoint("worker", "--once", XUEFEN_DATABASE_URL=url))
    assert worker.returncode == 0, worker.stderr
    again = _finish(_entrypoint("migrate", XUEFEN_DATABASE_URL=url))
    assert again.returncode == 0 and again.stdout.strip() == f"Database is up to date ({len(names)} migrations)."


def test_the_entrypoint_migrates_only_for_serve(tmp_path):
    empty = tmp_path / "empty.sqlite3"
    url = f"sqlite://{empty}"
    # A passed-through command runs as it is: the worker refuses the un-migrated database.
    worker = _finish(_entrypoint("worker", "--once", XUEFEN_DATABASE_URL=url))
    assert "the database is not migrated yet" in one_line(worker)
    # Options alone mean `serve`; with XUEFEN_MIGRATE_ON_START=false it does not migrate either.
    serve = _finish(
        _entrypoint(
            "--workers", "1", XUEFEN_DATABASE_URL=url, XUEFEN_PORT=str(free_port()), XUEFEN_MIGRATE_ON_START="false"
        )
    )
    assert "the database is not migrated yet" in one_line(serve)
    assert not empty.exists()
    bad = _finish(_entrypoint(XUEFEN_DATABASE_URL=url, XUEFEN_MIGRATE_ON_START="perhaps"))
    assert bad.returncode == 2 and "XUEFEN_MIGRATE_ON_START must be true or false" in bad.stderr


# --- /readyz when the database goes away after start (PostgreSQL behind a TCP relay) ------------


class Relay:
    """A TCP relay on 127.0.0.1 to ``target_port`` that can be cut: every connection closed and
    no new one accepted (the database "goes away" for the server behind it)."""

    def __init__(self, target_port: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.target_port = target_port
        self.sockets: list[socket.socket] = []
        self.open = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with closing(end), suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with suppress(OSError):  # wakes the accept() in progress (close alone leaves it listening)
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for end in self.sockets:
            with suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)


@pytest.mark.postgres_only
@pytest.mark.timeout(900)  # the session database may be migrated for this test first
def test_readyz_turns_503_when_the_database_goes_away_after_start(database_url):
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(database_url)
    relay = Relay(parts.port or 5432)
    relayed = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{relay.port}"))
    with Served(relayed) as server:
        assert httpx.get(f"{server.url}/readyz").json() == {"status": "ok", "database": "ok"}
        relay.cut()
        ready = httpx.get(f"{server.url}/readyz", timeout=30)
        assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
        assert httpx.get(f"{server.url}/healthz").status_code == 200  # alive, not ready


# --- The deployment files' essentials ----------------------------------------------------------


def _dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined), as (INSTRUCTION, arguments)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_the_dockerfile_installs_the_package_and_runs_unprivileged_with_a_healthcheck():
    instructions = _dockerfile()
    final_stage = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM") :]
    users = [args for op, args in final_stage if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert "pip install" in runs and " -e " not in runs and "--editable" not in runs
    healthcheck = next(args for op, args in final_stage if op == "HEALTHCHECK")
    assert "urllib.request" in healthcheck and "/healthz" in healthcheck and "curl" not in healthcheck
    assert ("EXPOSE", "8000") in final_stage
    entrypoint = next(args for op, args in final_stage if op == "ENTRYPOINT")
    copied = [args for op, args in final_stage if op == "COPY" and "deploy/docker-entrypoint.sh" in args]
    assert copied and copied[0].split()[-1].endswith(entrypoint.strip('[]"'))
    assert os.access(ENTRYPOINT, os.X_OK)
    # The media folder the image declares is the one compose keeps in a volume.
    env = " ".join(args for op, args in final_stage if op == "ENV")
    media = re.search(r"XUEFEN_MEDIA_DIR=(\S+)", env)
    assert media and f"media:{media.group(1)}" in _compose()["x-xuefen"]["volumes"]


def test_the_build_context_leaves_out_secrets_and_local_data():
    ignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert "*" in ignore  # an allow-list: what is not named stays out
    assert "**/.env" in ignore and "**/*.sqlite3" in ignore
    copied = {
        source for op, args in _dockerfile() if op == "COPY" and "--from" not in args for source in args.split()[:-1]
    }
    assert all(f"!{path}" in ignore or f"!{path}/" in ignore for path in copied)


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_runs_postgresql_the_server_and_the_worker_with_secrets_from_the_environment():
    compose = _compose()
    services = compose["services"]
    assert {"postgres", "server", "worker"} <= set(services)
    postgres = services["postgres"]
    assert postgres["healthcheck"]["test"] and any(v.startswith("pgdata:") for v in postgres["volumes"])
    assert services["server"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["command"][0] == "worker"
    environment = compose["x-xuefen"]["environment"]
    assert environment["XUEFEN_SECRET_KEY"].startswith("${XUEFEN_SECRET_KEY:?")  # refuses to start without
    assert "${POSTGRES_PASSWORD:?" in environment["XUEFEN_DATABASE_URL"]
    assert postgres["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    for name, value in {**environment, **postgres["environment"]}.items():  # no committed secret
        if any(word in name for word in ("SECRET", "PASSWORD", "TOKEN")):
            assert str(value).startswith("${"), name
    # Redis for the shared rate limits, under the name the settings read.
    assert "redis" in services and Settings.from_env({"XUEFEN_REDIS_URL": environment["XUEFEN_REDIS_URL"]}).redis_url


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs docker-compose to interpolate")
def test_compose_refuses_to_start_without_the_secret_key(tmp_path):
    shutil.copy(ROOT / "compose.yaml", tmp_path / "compose.yaml")
    run = lambda **env: subprocess.run(  # noqa: E731
        ["docker-compose", "-f", str(tmp_path / "compose.yaml"), "config"],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        check=False,
    )
    public = "https://xuefen.example.com"
    refused = run(POSTGRES_PASSWORD="pw", XUEFEN_PUBLIC_URL=public)
    assert refused.returncode != 0 and "set XUEFEN_SECRET_KEY in .env" in refused.stderr
    no_address = run(POSTGRES_PASSWORD="pw", XUEFEN_SECRET_KEY=STRONG_SECRET)
    assert no_address.returncode != 0 and "set XUEFEN_PUBLIC_URL in .env" in no_address.stderr
    accepted = run(POSTGRES_PASSWORD="pw", XUEFEN_SECRET_KEY=STRONG_SECRET, XUEFEN_PUBLIC_URL=public)
    assert accepted.returncode == 0, accepted.stderr
    assert yaml.safe_load(accepted.stdout)["services"]["server"]["environment"]["XUEFEN_SECRET_KEY"] == STRONG_SECRET


def _unit(name: str) -> dict[str, list[str]]:
    """A systemd unit's [Service] section: each key with all its values (keys may repeat)."""
    values: dict[str, list[str]] = {}
    section = ""
    for raw in (ROOT / "deploy" / name).read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize("unit, command", [("xuefen.service", "serve"), ("xuefen-worker.service", "worker")])
def test_the_systemd_units_are_hardened_and_may_write_the_data_and_media_folders(unit, command):
    service = _unit(unit)
    assert service["User"][0] not in ("root", "0") and service["NoNewPrivileges"] == ["yes"]
    assert service["ProtectSystem"] == ["strict"] and service["EnvironmentFile"]
    assert service["ExecStart"][0].split()[1] == command
    writable = [Path(p) for value in service["ReadWritePaths"] for p in value.split()]
    example = configparser.ConfigParser()
    example.read_string("[env]\n" + (ROOT / "deploy" / "xuefen.env.example").read_text())
    for folder in ("xuefen_data_dir", "xuefen_media_dir"):
        assert any(Path(example["env"][folder]).is_relative_to(p) for p in writable), folder


def test_every_variable_the_deployment_files_name_is_read_by_the_code():
    code = "\n".join(p.read_text() for p in (ROOT / "backend").rglob("*.py")) + ENTRYPOINT.read_text()
    named: set[str] = set()
    for path in ("compose.yaml", "Dockerfile", "deploy/env.example", "deploy/xuefen.env.example", "docs/deployment.md"):
        named |= set(re.findall(r"\bXUEFEN_[A-Z0-9_]*[A-Z0-9]\b", (ROOT / path).read_text()))
    assert named and sorted(name for name in named if f'"{name}"' not in code and name not in code) == []


def _forwarded_allow_ips_recommended() -> str:
    """The value deploy/env.example recommends behind a proxy (commented out: not the default)."""
    for line in (ROOT / "deploy" / "env.example").read_text().splitlines():
        if line.startswith("# XUEFEN_FORWARDED_ALLOW_IPS="):
            return line.split("=", 1)[1]
    raise AssertionError("deploy/env.example names no XUEFEN_FORWARDED_ALLOW_IPS")


async def test_compose_trusts_x_forwarded_for_from_no_one_unless_a_proxy_is_declared():
    """The default believes no X-Forwarded-For inside a container (127.0.0.1 is never the peer
    there); the value recommended for a proxy trusts a compose network's gateway and never an
    address of the internet, as the installed uvicorn reads it."""
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    assert (
        _compose()["x-xuefen"]["environment"]["XUEFEN_FORWARDED_ALLOW_IPS"]
        == "${XUEFEN_FORWARDED_ALLOW_IPS:-127.0.0.1}"
    )

    async def client_seen(trusted: str, peer: str) -> str:
        seen: list[str] = []

        async def app(scope, receive, send):
            seen.append(scope["client"][0])

        scope = {"type": "http", "client": (peer, 1), "headers": [(b"x-forwarded-for", b"198.51.100.7")]}
        await ProxyHeadersMiddleware(app, trusted_hosts=trusted)(scope, None, None)
        return seen[0]

    recommended = _forwarded_allow_ips_recommended()
    assert await client_seen("127.0.0.1", "172.18.0.1") == "172.18.0.1"  # the default: ignored
    for gateway in ("172.18.0.1", "172.17.0.1", "192.168.96.1", "10.0.5.1"):
        assert await client_seen(recommended, gateway) == "198.51.100.7"
    for public in ("203.0.113.9", "8.8.8.8", "2001:db8::1"):
        assert await client_seen(recommended, public) == public


async def test_an_ignored_x_forwarded_for_is_reported_once(database_url, test_settings, caplog):
    """Behind a proxy that is not trusted every anonymous client shares the proxy's address: the
    server says so, once per process, without naming an address."""
    from backend.app import create_app

    app = create_app(test_settings.with_overrides(database_url=database_url, rate_limit=True), manage_db=False)

    async def post(peer: str, forwarded: str) -> None:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://xuefen.test") as http:
            response = await http.post(
                "/graphql", json={"query": "{ __typename }"}, headers={"X-Forwarded-For": forwarded}
            )
            assert response.status_code == 200

    with caplog.at_level(logging.WARNING, logger="xuefen.rate_limit"):
        await post("198.51.100.7", "198.51.100.7")  # as uvicorn leaves a trusted proxy's request
        assert not caplog.records
        await post("172.18.0.1", "198.51.100.8")  # the proxy's address: the header was ignored
        await post("172.18.0.1", "198.51.100.9")
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "XUEFEN_FORWARDED_ALLOW_IPS" in warnings[0]
    assert "172.18" not in warnings[0] and "198.51" not in warnings[0]
