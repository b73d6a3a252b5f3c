"""The read path against a hand-written server, on PostgreSQL (issue 14).

A fresh database gets the demo company (`xuefen migrate`, `xuefen seed-demo`, as IT runs them);
E0001's phone pushes lessons through `syncPush` until their ledger holds more than a page (the
demo's credit rules earn the entries), and the planner's statistics are refreshed (ANALYZE, as
autovacuum would do soon after a load). Then `xuefen serve --workers N` and the baseline,
bench/minimal_server.py (Starlette + asyncpg + orjson under uvicorn, the same worker count, doing
the same sign-in checks and answering the same bytes), serve the same database side by side, and
wrk sends each of three requests as E0001:

- course page: `courses(first: 50)` with modules and skills;
- ledger page: `creditLedger(first: 50)` with each entry's rule, source, course and module;
- one course: `course(id)`, five fields.

Before measuring, each request is sent to both servers and the bodies must be byte-identical (a
baseline answering other bytes measures nothing: the first difference is printed and the run exits
1). Each measurement is a wrk run (`-t1 -c16`, POST with the JSON body and the bearer token) per
server, Xuefen and the baseline alternating, `--repetitions` times; the servers' CPU time (every
process of each server, /proc/<pid>/stat) is read around each run. Printed per request: the median
requests/s of each, the median of the per-repetition ratios against the aim (Xuefen's throughput as
a share of the baseline's: ≥ 0.25, ≥ 0.25, ≥ 0.33), and CPU milliseconds per request of each.

    python -m bench.read_path [--database postgres://postgres@127.0.0.1:5432/postgres] [--workers 1]
        [--repetitions 5] [--duration 5] [--connections 16] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
import orjson

from backend import demo
from bench.common import UNREACHED_RATE_LIMITS
from bench.minimal_server import COURSE_PAGE, LEDGER_PAGE, ONE_COURSE, PAGE_SIZE

ROOT = Path(__file__).resolve().parent.parent
WRK = "/usr/bin/wrk"
SECRET = "bench-secret-key-" + "x" * 32
DEVICE = "bench-read-path"
LOGIN = """mutation L($input: LoginInput!) { login(input: $input) { tokens { accessToken } errors { code } } }"""
PUSH = """mutation P($input: SyncPushInput!) { syncPush(input: $input) { appliedSeq errors { code } } }"""
LESSON_MODULES = "query LessonModules { courses(first: 100) { edges { node { modules { id kind } } } } }"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Operation:
    label: str
    name: str  # the GraphQL operationName
    query: str
    aim: float
    variables: dict[str, Any] = field(default_factory=dict)
    body: bytes = b""
    answer_bytes: int = 0
    xuefen: list[float] = field(default_factory=list)  # requests/s per repetition
    minimal: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    cpu_ms: dict[str, list[float]] = field(default_factory=lambda: {"xuefen": [], "minimal": []})


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    base: str


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _cpu_ticks(root: int) -> int:
    """utime + stime of ``root`` and every process below it (uvicorn's workers), in clock ticks."""
    stats: dict[int, tuple[int, int]] = {}  # pid -> (parent pid, ticks)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                # The command name (field 2) may hold spaces and parentheses: split after it.
                fields = file.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended meanwhile
        stats[int(entry)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    total, below = 0, [root]
    while below:
        pid = below.pop()
        total += stats.get(pid, (0, 0))[1]
        below.extend(child for child, (parent, _) in stats.items() if parent == pid)
    return total


async def _create_database(server_url: str) -> tuple[str, str]:
    name = f"xuefen_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return name, urlunparse(urlparse(server_url)._replace(path=f"/{name}"))


async def _analyze(url: str) -> None:
    """Fresh planner statistics: without them PostgreSQL guesses one row per table and picks
    nested loops over sequential scans, and autovacuum would fix that at some moment mid-run."""
    connection = await asyncpg.connect(url)
    await connection.execute("ANALYZE")
    await connection.close()


async def _drop_database(server_url: str, name: str) -> None:
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


def _start(name: str, command: list[str], env: dict[str, str]) -> Server:
    port = _port()
    process = subprocess.Popen(
        [sys.executable, "-m", *command, "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,  # its workers share its process group, stopped together
    )
    return Server(name, process, f"http://127.0.0.1:{port}")


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited with {server.process.returncode} while starting")
        try:
            if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{server.name} did not start within 60 s")


def _stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def _graphql(http: httpx.Client, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = http.post("/graphql", json={"query": query, "variables": variables or {}}).json()
    if answer.get("errors"):
        raise SystemExit(f"setup request failed: {answer['errors']}")
    return answer["data"]


def _fill_ledger(http: httpx.Client) -> int:
    """Push E0001's lessons until their ledger holds more than a page; its total entries."""
    ledger = _graphql(http, LEDGER_PAGE)["creditLedger"]["totalCount"]
    if ledger > PAGE_SIZE:
        return ledger
    courses = _graphql(http, LESSON_MODULES)["courses"]["edges"]
    lessons = [m["id"] for edge in courses for m in edge["node"]["modules"] if m["kind"] == "LESSON"]
    # Three lessons a day over the last 25 days: under the demo's daily lesson cap (2.0 credits,
    # 0.5 a lesson) and its 30-day staleness bound, so each lesson earns an entry.
    start = datetime.now(UTC) - timedelta(days=25)
    records = [
        {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "kind": "LESSON_COMPLETED",
            "occurredAt": (start + timedelta(days=(seq - 1) // 3, minutes=seq)).isoformat(),
            "payload": {"moduleId": lessons[seq % len(lessons)], "secondsSpent": 300},
        }
        for seq in range(1, 76)
    ]
    push = {"protocolVersion": 1, "deviceId": DEVICE, "sentAt": datetime.now(UTC).isoformat(), "records": records}
    pushed = _graphql(http, PUSH, {"input": push})["syncPush"]
    if pushed["errors"] or pushed["appliedSeq"] != len(records):
        raise SystemExit(f"pushing E0001's lessons failed: {pushed}")
    ledger = _graphql(http, LEDGER_PAGE)["creditLedger"]["totalCount"]
    if ledger <= PAGE_SIZE:
        raise SystemExit(f"E0001 has {ledger} ledger entries after the push; the ledger page needs > {PAGE_SIZE}")
    return ledger


def _first_difference(ours: bytes, theirs: bytes) -> str:
    at = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
    start = max(at - 120, 0)
    return (
        f"bodies differ at byte {at} (Xuefen {len(ours)} bytes, minimal {len(theirs)} bytes)\n"
        f"  Xuefen : …{ours[start : at + 120].decode(errors='replace')}\n"
        f"  minimal: …{theirs[start : at + 120].decode(errors='replace')}"
    )


def _assert_same_bytes(operations: list[Operation], xuefen: Server, minimal: Server, token: str) -> None:
    """Each request answered with the same bytes by both, and without errors; else exit 1."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for op in operations:
        ours = httpx.post(f"{xuefen.base}/graphql", content=op.body, headers=headers, timeout=60).content
        theirs = httpx.post(f"{minimal.base}/graphql", content=op.body, headers=headers, timeout=60).content
        if ours != theirs:
            print(f"{op.label}: the baseline does not answer Xuefen's bytes", file=sys.stderr)
            print(_first_difference(ours, theirs), file=sys.stderr)
            raise SystemExit(1)
        op.answer_bytes = len(ours)


def _wrk_script(directory: Path, operation: Operation, token: str) -> Path:
    body = directory / f"{operation.name}.json"
    body.write_bytes(operation.body)
    script = directory / f"{operation.name}.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f'local file = assert(io.open("{body}", "rb"))\n'
        "wrk.body = file:read('*a')\n"
        "file:close()\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )
    return script


def _wrk(server: Server, script: Path, seconds: float, connections: int) -> tuple[float, int, float]:
    """(requests/s, requests, server CPU ms per request) of one wrk run against ``server``."""
    before = _cpu_ticks(server.process.pid)
    run = subprocess.run(
        # A long timeout: a request queued behind 15 others on a busy machine is slow, not failed,
        # and wrk leaves timed-out requests out of its count.
        [
            WRK,
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "60s",
            "-s",
            str(script),
            f"{server.base}/graphql",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    cpu_ms = (_cpu_ticks(server.process.pid) - before) * 1000 / CLOCK_TICKS
    rate = re.search(r"Requests/sec:\s+([\d.]+)", run.stdout)
    done = re.search(r"(\d+) requests in", run.stdout)
    if rate is None or done is None:
        raise SystemExit(f"cannot read wrk's output:\n{run.stdout}{run.stderr}")
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", run.stdout)
    if failed:
        raise SystemExit(f"{server.name} answered {failed.group(1)} requests with an error status:\n{run.stdout}")
    errors = re.search(r"Socket errors: (.*)", run.stdout)
    if errors:
        raise SystemExit(f"wrk could not talk to {server.name} ({errors.group(1)}):\n{run.stdout}")
    requests = int(done.group(1))
    return float(rate.group(1)), requests, cpu_ms / max(requests, 1)


def _measure(
    operations: list[Operation], xuefen: Server, minimal: Server, token: str, args: argparse.Namespace
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        scripts = {op.name: _wrk_script(Path(directory), op, token) for op in operations}
        for op in operations:  # warm both (parsing caches, connection pools) before anything counts
            for server in (xuefen, minimal):
                _wrk(server, scripts[op.name], 1, args.connections)
        for op in operations:
            for repetition in range(args.repetitions):
                # Alternate which goes first, so a drift of the shared machine hits both alike.
                order = (xuefen, minimal) if repetition % 2 == 0 else (minimal, xuefen)
                rates = {}
                for server in order:
                    rate, _, cpu_ms = _wrk(server, scripts[op.name], args.duration, args.connections)
                    rates[server.name] = rate
                    op.cpu_ms[server.name].append(cpu_ms)
                op.xuefen.append(rates["xuefen"])
                op.minimal.append(rates["minimal"])
                op.ratios.append(rates["xuefen"] / rates["minimal"])


def _report(operations: list[Operation], args: argparse.Namespace, ledger: int) -> None:
    workers = f"{args.workers} worker{'s' if args.workers > 1 else ''}"
    print(
        f"read path on PostgreSQL as E0001 ({ledger} ledger entries): xuefen serve vs hand-written "
        f"Starlette + asyncpg + orjson, {workers} each, wrk -t1 -c{args.connections} -d{args.duration}s, "
        f"{args.repetitions} interleaved repetitions, identical bodies asserted"
    )
    print(
        f"  {'request':<24}{'Xuefen req/s':>13}{'minimal req/s':>15}{'ratio':>8}{'aim':>9}"
        f"{'Xuefen CPU ms/req':>19}{'minimal CPU ms/req':>20}"
    )
    for op in operations:
        ratio = statistics.median(op.ratios)
        verdict = "met" if ratio >= op.aim else "NOT met"
        print(
            f"  {op.label:<24}{statistics.median(op.xuefen):>13.0f}{statistics.median(op.minimal):>15.0f}"
            f"{ratio:>8.2f}{'>= ' + format(op.aim, '.2f'):>9}"
            f"{statistics.median(op.cpu_ms['xuefen']):>19.2f}{statistics.median(op.cpu_ms['minimal']):>20.2f}"
            f"  {verdict}  (ratios {', '.join(f'{r:.2f}' for r in op.ratios)}; {op.answer_bytes} bytes answered)"
        )


def run(args: argparse.Namespace) -> None:
    name, url = asyncio.run(_create_database(args.database))
    env = {
        **os.environ,
        "XUEFEN_DATABASE_URL": url,
        "XUEFEN_SECRET_KEY": SECRET,
        "XUEFEN_LOG_LEVEL": "WARNING",
        "XUEFEN_ACCESS_TOKEN_TTL": str(24 * 3600),  # one sign-in lasts the whole run
        **UNREACHED_RATE_LIMITS,
    }
    servers: list[Server] = []
    try:
        for command in ("migrate", "seed-demo"):
            subprocess.run(
                [sys.executable, "-m", "backend.cli", command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
            )
        workers = ["--workers", str(args.workers)]
        xuefen = _start("xuefen", ["backend.cli", "serve", *workers], env)
        servers.append(xuefen)
        minimal = _start("minimal", ["bench.minimal_server", *workers], env)
        servers.append(minimal)
        _wait_ready(xuefen)
        _wait_ready(minimal)

        with httpx.Client(base_url=xuefen.base, timeout=120) as http:
            login = {"tenant": "demo", "employeeNo": "E0001", "password": demo.DEMO_PASSWORD, "deviceId": DEVICE}
            token = _graphql(http, LOGIN, {"input": login})["login"]["tokens"]["accessToken"]
            http.headers["Authorization"] = f"Bearer {token}"
            ledger = _fill_ledger(http)
            first_course = _graphql(http, COURSE_PAGE)["courses"]["edges"][0]["node"]["id"]
        asyncio.run(_analyze(url))

        operations = [
            Operation("course page (50)", "CoursePage", COURSE_PAGE, 0.25),
            Operation("ledger page (50)", "LedgerPage", LEDGER_PAGE, 0.25),
            Operation("one course (5 fields)", "OneCourse", ONE_COURSE, 0.33, {"id": first_course}),
        ]
        for op in operations:
            op.body = orjson.dumps({"query": op.query, "operationName": op.name, "variables": op.variables})
        _assert_same_bytes(operations, xuefen, minimal, token)
        _measure(operations, xuefen, minimal, token, args)
        _assert_same_bytes(operations, xuefen, minimal, token)  # still what was measured (no expired sign-in)
        _report(operations, args, ledger)
    finally:
        for server in servers:
            _stop(server)
        if args.keep:
            print(f"kept the database: {url}")
        else:
            asyncio.run(_drop_database(args.database, name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes of each server")
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds of each wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk's open connections")
    parser.add_argument("--keep", action="store_true", help="keep the database (its URL is printed)")
    args = parser.parse_args()
    if not os.path.exists(WRK):
        raise SystemExit("install wrk: apt-get install wrk")
    run(args)


if __name__ == "__main__":
    main()
