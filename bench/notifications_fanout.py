"""Notification fan-out and delivery, end to end: a session of a whole org unit cancelled.

A company with one org unit of N employees (10,000 by default), all enrolled in one session, and a
WEBHOOK channel pointing at a local receiver (a separate process on loopback: uvicorn with a bare
ASGI app that counts each ``X-Xuefen-Delivery`` id and notes when the last one arrived). An HR
admin cancels the session through the real service (``training_sessions.cancel_session``), whose
transaction writes one SESSION_CANCELLED notification per person; then workers (``backend.worker
.Worker``, the loop ``xuefen worker`` runs, as tasks of this process: several on PostgreSQL, one
on SQLite) fan them out and deliver them, signed, over HTTP.

Printed: notifications written per second (the cancel transaction), the time until every
notification was fanned out, messages delivered per second and the time until the last one
arrived (from the cancel's commit), whether every message arrived exactly once; and, against a
baseline measured in the same run, the same number of raw signed POSTs of the same payloads to the
same receiver with the same HTTP clients and the same number in flight: the ratio is what the
outbox (claims, reads, rendering, recording) costs over sending alone.

Everyone has quiet hours switched off (a preference row each with start == end): the run must not
depend on the hour it is started at in Shanghai.

    python -m bench.notifications_fanout [--database postgres://postgres@127.0.0.1:5432/postgres]
    python -m bench.notifications_fanout --database sqlite
    options: --people 10000 --workers 2 --concurrency 20 --batch 100 (the worker's defaults)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
import orjson
import uvicorn
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from backend.config import Settings
from backend.db import tortoise_config
from backend.models import (
    Course,
    CourseFormat,
    CourseStatus,
    DeliveryChannel,
    DeliveryStatus,
    Employee,
    EmployeeRole,
    Enrollment,
    EnrollmentStatus,
    Notification,
    NotificationChannelConfig,
    NotificationDelivery,
    NotificationPreference,
    OrgUnit,
    Role,
    Site,
    Tenant,
    TrainingSession,
)
from backend.services.notifications.channels.base import OutboundMessage, Recipient
from backend.services.notifications.channels.registry import CHANNELS
from backend.services.notifications.channels.webhook import payload, signed_headers
from backend.services.sessions import training_sessions
from backend.services.viewer import Viewer
from backend.worker import Worker

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret-0123456789abcdef0123"
DEADLINE_SECONDS = 900  # the run stops by itself, whatever happens


# --- the receiver (a process of its own) --------------------------------------------------------


def receiver_app() -> Any:
    """Counts delivery ids; GET /stats answers what it saw, POST /reset forgets it."""
    seen: dict[str, Any] = {"requests": 0, "ids": set(), "first": None, "last": None}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        answer = b"ok"
        if scope["path"] == "/stats":
            answer = orjson.dumps(
                {"requests": seen["requests"], "unique": len(seen["ids"]), "first": seen["first"], "last": seen["last"]}
            )
        elif scope["path"] == "/reset":
            seen.update(requests=0, ids=set(), first=None, last=None)
        else:
            now = time.time()
            seen["requests"] += 1
            seen["first"] = seen["first"] or now
            seen["last"] = now
            for key, value in scope["headers"]:
                if key == b"x-xuefen-delivery":
                    seen["ids"].add(value)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": answer})

    return app


def serve_receiver(port: int) -> None:
    uvicorn.run(receiver_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _stats(http: httpx.AsyncClient, base: str) -> dict[str, Any]:
    return (await http.get(f"{base}/stats")).json()


# --- the company ---------------------------------------------------------------------------------


async def build_company(people: int, receiver_url: str) -> tuple[Viewer, int]:
    """The company, its org unit of ``people`` enrolled in one session, and its WEBHOOK channel."""
    now = datetime.now(UTC)
    tenant = await Tenant.create(code=f"bench{uuid.uuid4().hex[:6]}", name="基准测试公司", time_zone="Asia/Shanghai")
    site = await Site.create(tenant=tenant, code="HQ", name="上海总部", is_headquarters=True)
    unit = await OrgUnit.create(tenant=tenant, code="PLANT", name="生产部")
    unit.path = f"{unit.id}."
    await unit.save(update_fields=["path"])
    admin = await Employee.create(
        tenant=tenant, employee_no="HR1", name="韩人事", password_hash="-", org_unit=unit, site=site
    )
    await EmployeeRole.create(tenant=tenant, employee=admin, role=Role.HR_ADMIN)
    course = await Course.create(
        tenant=tenant,
        code="SAFE-1",
        title="消防安全",
        summary="消防安全培训",
        scenario="安全",
        format=CourseFormat.OJT,
        status=CourseStatus.PUBLISHED,
        hours=Decimal("2.0"),
        credits=Decimal("1.0"),
    )
    session = await TrainingSession.create(
        tenant=tenant,
        course=course,
        title="消防演练（全员）",
        instructor=admin,
        site=site,
        location="一号厂房",
        starts_at=now + timedelta(days=7),
        ends_at=now + timedelta(days=7, hours=2),
        capacity=people,
        seats_taken=people,
        secret=uuid.uuid4().hex,
    )
    await Employee.bulk_create(
        [
            Employee(
                tenant=tenant,
                employee_no=f"E{i:06d}",
                name=f"员工{i:06d}",
                password_hash="-",
                org_unit=unit,
                site=site,
            )
            for i in range(people)
        ],
        batch_size=1000,
    )
    ids = await Employee.filter(tenant=tenant, org_unit=unit).exclude(id=admin.id).values_list("id", flat=True)
    await Enrollment.bulk_create(
        [
            Enrollment(tenant=tenant, session=session, employee_id=i, status=EnrollmentStatus.ENROLLED, decided_at=now)
            for i in ids
        ],
        batch_size=1000,
    )
    await NotificationPreference.bulk_create(
        [NotificationPreference(tenant=tenant, employee_id=i, quiet_start_minute=0, quiet_end_minute=0) for i in ids],
        batch_size=1000,
    )
    settings = CHANNELS[DeliveryChannel.WEBHOOK].check_settings({"url": receiver_url, "secret": SECRET})
    await NotificationChannelConfig.create(tenant=tenant, channel=DeliveryChannel.WEBHOOK, settings=settings)
    viewer = Viewer(tenant.id, admin, frozenset({Role.EMPLOYEE, Role.HR_ADMIN}), uuid.uuid4(), "bench")
    return viewer, session.id


# --- the two runs --------------------------------------------------------------------------------


async def baseline(workers: list[Worker], receiver_url: str, count: int, concurrency: int) -> float:
    """``count`` signed POSTs of webhook payloads, straight from the clients the workers use
    (``concurrency`` at a time per client): seconds from the first to the last answer."""
    transports = [worker.transport() for worker in workers]
    recipient = Recipient(employee_id=1, employee_no="E000001", name="员工000001")
    settings = {"url": receiver_url, "secret": SECRET}
    gates = [asyncio.Semaphore(concurrency) for _ in transports]

    async def one(i: int) -> None:
        index = i % len(transports)
        message = OutboundMessage(
            delivery_id=10**9 + i,
            tenant_code="bench",
            kind="SESSION_CANCELLED",
            title="培训已取消",
            body="原定于 2026-12-08 10:00 的「消防演练（全员）」已取消。",
            locale="zh-CN",
            recipient=recipient,
            created_at=datetime.now(UTC),
        )
        body = orjson.dumps(payload(message))
        async with gates[index]:
            answer = await transports[index].http.post(
                receiver_url, content=body, headers=signed_headers(settings, message.delivery_id, body, time.time())
            )
        answer.raise_for_status()

    started = time.perf_counter()
    try:
        await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        for transport in transports:
            await transport.http.aclose()
    return time.perf_counter() - started


async def run(database: str, people: int, workers: int, concurrency: int, batch: int) -> None:
    postgres = database.startswith("postgres")
    dropped: str | None = None
    if postgres:
        name = f"xuefen_bench_fanout_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(database)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        url, dropped = urlunparse(urlparse(database)._replace(path=f"/{name}")), name
    else:
        url = f"sqlite://{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
        workers = 1  # one writer: the embedded worker is SQLite's mode
    port = _port()
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.notifications_fanout", "--receiver", str(port), cwd=ROOT
    )
    base = f"http://127.0.0.1:{port}"
    hook = f"{base}/hook"
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            for _ in range(300):  # the receiver imports this module: a few seconds on a busy machine
                try:
                    await _stats(http, base)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            await migrate(config=tortoise_config(url, pool_max=max(10, 4 * workers)))
            await connections.close_all()
            await Tortoise.init(config=tortoise_config(url, pool_max=max(10, 4 * workers)))
            engine = "PostgreSQL" if postgres else "SQLite"
            print(f"{engine}: a company of {people:,} people in one org unit, all in one session; receiver {hook}")
            built = time.perf_counter()
            viewer, session_id = await build_company(people, hook)
            print(f"  company built in {time.perf_counter() - built:.1f} s")
            settings = Settings(
                database_url=url,
                notify_allow_private_hosts=True,
                notify_timeout_seconds=10,
                worker_poll_seconds=0.05,
            )
            team = [Worker(settings, concurrency=concurrency, deliver_batch=batch, jobs=()) for _ in range(workers)]

            # Baseline: the same number of signed POSTs, nothing else.
            raw_seconds = await baseline(team, hook, people, concurrency)
            raw = await _stats(http, base)
            assert raw["unique"] == people, raw
            await http.post(f"{base}/reset")

            # The real thing: cancel, then the workers.
            began = time.perf_counter()
            await training_sessions.cancel_session(viewer, session_id, "讲师临时出差")
            written_seconds = time.perf_counter() - began
            committed = time.time()
            written = await Notification.filter(tenant_id=viewer.tenant_id).count()
            stop = asyncio.Event()
            tasks = [asyncio.create_task(worker.run(stop)) for worker in team]
            deadline = time.monotonic() + DEADLINE_SECONDS
            seen = await _stats(http, base)
            while seen["unique"] < written and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                seen = await _stats(http, base)
            stop.set()
            await asyncio.gather(*tasks)
            seen = await _stats(http, base)

            dispatched = await Notification.filter(tenant_id=viewer.tenant_id).order_by("-dispatched_at").first()
            fanned = (
                (dispatched.dispatched_at.timestamp() - committed) if dispatched and dispatched.dispatched_at else 0
            )
            sent = await NotificationDelivery.filter(tenant_id=viewer.tenant_id, status=DeliveryStatus.SENT).count()
            last = (seen["last"] or committed) - committed
            rate = seen["unique"] / last if last > 0 else 0.0
            raw_rate = people / raw_seconds
            print(
                f"  cancel_session wrote {written:,} notifications in {written_seconds:.2f} s"
                f" ({written / written_seconds:,.0f}/s, the whole cancel transaction)"
            )
            print(f"  fanned out {written:,} in {fanned:.2f} s after the cancel committed")
            print(
                f"  delivered {seen['unique']:,} messages ({seen['requests']:,} requests, {sent:,} SENT) by {workers}"
                f" worker(s) x {concurrency} at a time: {rate:,.0f} messages/s;"
                f" the last one arrived {last:.2f} s after the commit ({last + written_seconds:.2f} s after the cancel began)"
            )
            print(
                f"  baseline: {people:,} raw signed POSTs to the same receiver, same clients and concurrency:"
                f" {raw_seconds:.2f} s ({raw_rate:,.0f}/s)"
            )
            exactly_once = seen["unique"] == seen["requests"] == written == sent
            print(
                f"  ratio (delivered messages/s ÷ baseline POSTs/s): {rate / raw_rate:.2f};"
                f" every message exactly once: {'yes' if exactly_once else 'NO'}"
            )
    finally:
        receiver.terminate()
        await asyncio.wait_for(receiver.wait(), 10)
        await connections.close_all()
        if dropped:
            admin = await asyncpg.connect(database)
            await admin.execute(f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
        help="a PostgreSQL server URL (a database is created and dropped), or 'sqlite' for a temporary file",
    )
    parser.add_argument("--people", type=int, default=10_000, help="employees enrolled in the cancelled session")
    parser.add_argument("--workers", type=int, default=2, help="workers (PostgreSQL; SQLite runs one)")
    parser.add_argument("--concurrency", type=int, default=20, help="messages each worker sends at a time (20)")
    parser.add_argument("--batch", type=int, default=100, help="deliveries each worker claims at a time (100)")
    parser.add_argument("--receiver", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver is not None:
        serve_receiver(args.receiver)
        return
    asyncio.run(run(args.database, args.people, args.workers, args.concurrency, args.batch))


if __name__ == "__main__":
    main()
