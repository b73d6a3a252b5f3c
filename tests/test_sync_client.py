"""The reference phone client (mobile_sync/client.py) against the real server.

- Unit-ish tests drive the real ASGI app in-process (``httpx.ASGITransport``), with a scripted
  transport in between that can kill a request before it is sent, lose the answer after the server
  did the work, or corrupt a page: the outbox, the cursor and the tokens must survive all of it.
- The bad-network simulation starts ``xuefen serve`` on loopback, puts ``tests/faultproxy.py`` in
  front, and lets 50 phones (one employee each) record and sync >= 100 lessons each through
  refused, dropped, truncated, delayed and stalled connections, with skewed clocks and access
  tokens that expire every few seconds. Afterwards the server holds every record exactly once,
  progress equals the records, and every phone's store equals a fresh snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from tortoise.transactions import in_transaction

from backend.app import create_app
from backend.models import (
    ActivityRecord,
    Course,
    CourseFormat,
    CourseModule,
    CourseStatus,
    Employee,
    EmployeeRole,
    ModuleKind,
    ModuleProgress,
    Position,
    Role,
)
from backend.services.feed import ChangeSet, Entity, purge_tombstones
from backend.services.records.registry import backfill
from mobile_sync.client import (
    SYNC_PULL,
    SequenceGapError,
    SyncClient,
    SyncNetworkError,
)
from schema.ids import to_global_id
from tests.factories import TEST_PASSWORD, Company, make_company
from tests.faultproxy import FaultProxy

ROOT = Path(__file__).resolve().parent.parent
BASE = "http://xuefen.test"


# --- helpers -----------------------------------------------------------------------------------


class Killed(Exception):
    """Stands for the app being killed in the middle of a request (not a network error, so the
    client does not retry it: the exception leaves sync() at once)."""


def operation_of(request: httpx.Request) -> str:
    body = request.content
    if request.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    query = json.loads(body)["query"]
    match = re.search(r"\b(?:query|mutation)\s+(\w+)", query)
    return match.group(1) if match else "?"


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Wraps the app's transport. ``plan(operation, n)`` (n counts that operation's requests from
    1) returns what to do with a request:

    - ``"ok"``: pass it on;
    - ``"kill"``: raise ``Killed`` before the server sees it;
    - ``"refuse"``: raise ``httpx.ConnectError`` before the server sees it;
    - ``"lose"``: let the server do the work, then raise ``httpx.ReadError`` (answer lost);
    - a callable ``(answer) -> answer``: let the server answer, then rewrite the JSON answer.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, plan: Callable[[str, int], Any] | None = None) -> None:
        self.inner = inner
        self.plan = plan or (lambda operation, n: "ok")
        self.calls: Counter[str] = Counter()
        self.requests: list[httpx.Request] = []
        self.answers: list[tuple[str, dict]] = []  # (operation, JSON answer) of answered requests

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        operation = operation_of(request)
        self.calls[operation] += 1
        self.requests.append(request)
        action = self.plan(operation, self.calls[operation])
        if action == "kill":
            raise Killed(operation)
        if action == "refuse":
            raise httpx.ConnectError("connection refused", request=request)
        response = await self.inner.handle_async_request(request)
        raw = b"".join([chunk async for chunk in response.stream])
        if action == "lose":
            raise httpx.ReadError("connection reset after the server answered", request=request)
        headers = httpx.Headers(response.headers)
        text = gzip.decompress(raw) if headers.get("content-encoding") == "gzip" else raw
        answer = json.loads(text)
        if callable(action):
            answer = action(answer)
            raw = json.dumps(answer).encode()
            headers.pop("content-encoding", None)
            headers["content-length"] = str(len(raw))
        self.answers.append((operation, answer))
        return httpx.Response(response.status_code, headers=headers, stream=httpx.ByteStream(raw))


class FakeSleep:
    """Records the backoff delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(scope="session")
def app(database_url, test_settings):
    return create_app(test_settings.with_overrides(database_url=database_url), manage_db=False)


def phone(path: Path, company: Company, employee_no: str = "LRN", **options: Any) -> SyncClient:
    options.setdefault("sleep", FakeSleep())
    options.setdefault("rng", random.Random(1))
    return SyncClient(path, BASE, tenant=company.code, employee_no=employee_no, password=TEST_PASSWORD, **options)


async def lesson_modules(company: Company) -> list[str]:
    """Global IDs of the LESSON modules of the company's published courses."""
    ids = (
        await CourseModule.filter(
            tenant_id=company.tenant.id, kind=ModuleKind.LESSON, course__status=CourseStatus.PUBLISHED
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    return [to_global_id("CourseModule", i) for i in ids]


async def synced_company(password_hash: str) -> Company:
    """A factory company whose rows are in the change log (as after the demo's bulk load)."""
    company = await make_company(password_hash)
    await backfill(company.tenant.id)
    return company


async def snapshot(path: Path, company: Company, employee_no: str, device_id: str, **options: Any) -> dict:
    """What a fresh pull (no cursor) gives this employee's device: a new phone file, same device."""
    fresh = phone(path, company, employee_no, device_id=device_id, **options)
    try:
        await fresh.pull()
        return fresh.store_items()
    finally:
        await fresh.close()


def outbox_rows_on_disk(path: Path) -> int:
    """Counted through a separate connection: only committed rows are visible."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    finally:
        db.close()


# --- the outbox --------------------------------------------------------------------------------


async def test_outbox_is_written_before_sending_and_a_new_client_resends_exactly_once(app, password_hash, tmp_path):
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    path = tmp_path / "phone.sqlite3"

    # 1. The app dies while sending the push: nothing reached the server, nothing is lost.
    killer = ScriptedTransport(httpx.ASGITransport(app=app), lambda op, n: "kill" if op == "SyncPush" else "ok")
    first = phone(path, company, transport=killer)
    ids = [first.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 60 * i}) for i in range(3)]
    assert outbox_rows_on_disk(path) == 3  # committed before anything was sent
    with pytest.raises(Killed):
        await first.sync()
    assert first.outbox_size() == 3 and killer.calls["SyncPush"] == 1
    assert await ActivityRecord.filter(id__in=ids).count() == 0
    await first.close()

    # 2. A new client on the file: the server commits every try, but each answer is lost.
    loser = ScriptedTransport(httpx.ASGITransport(app=app), lambda op, n: "lose" if op == "SyncPush" else "ok")
    second = phone(path, company, transport=loser, max_attempts=3)
    with pytest.raises(SyncNetworkError):
        await second.sync()
    assert loser.calls["SyncPush"] == 3 and second.outbox_size() == 3
    await second.close()

    # 3. Another start, a good network: the outbox drains, the server has each record once.
    good = ScriptedTransport(httpx.ASGITransport(app=app))
    third = phone(path, company, transport=good)
    assert third.device_id == first.device_id
    summary = await third.sync()
    assert summary.pushed == 3 and third.outbox_size() == 0 and summary.rejected == []
    push_answer = next(answer for op, answer in good.answers if op == "SyncPush")
    results = push_answer["data"]["syncPush"]["results"]
    assert [(r["status"], r["originalStatus"]) for r in results] == [("DUPLICATE", "ACCEPTED")] * 3
    stored = await ActivityRecord.filter(id__in=ids).order_by("device_seq")
    assert [str(r.id) for r in stored] == ids and [r.device_seq for r in stored] == [1, 2, 3]
    employee = company.employees["LRN"]
    progress = await ModuleProgress.get(employee_id=employee.id, module_id=_row_id(module))
    assert progress.completed_count == 3 and progress.seconds_spent == 0 + 60 + 120
    # Sequence numbers go on from where the file left off, never reused.
    assert third.outbox() == []
    third.record("LESSON_COMPLETED", {"moduleId": module})
    assert [row["seq"] for row in third.outbox()] == [4]
    await third.close()


async def test_requests_are_gzipped_and_failures_back_off_with_full_jitter(app, password_hash, tmp_path):
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    flaky = ScriptedTransport(
        httpx.ASGITransport(app=app), lambda op, n: "refuse" if op == "SyncPush" and n <= 3 else "ok"
    )
    sleep = FakeSleep()
    client = phone(tmp_path / "p.sqlite3", company, transport=flaky, sleep=sleep, retry_base=0.5, retry_cap=1.5)
    client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 5})
    summary = await client.sync()
    assert summary.pushed == 1 and summary.retries == 3
    # attempt n waits uniform(0, min(cap, base * 2^(n-1))): caps 0.5, 1.0, 1.5
    assert len(sleep.delays) == 3
    assert all(0 <= d <= cap for d, cap in zip(sleep.delays, [0.5, 1.0, 1.5]))
    for request in flaky.requests:
        assert request.headers["content-encoding"] == "gzip"
        assert "gzip" in request.headers["accept-encoding"]
    await client.close()


async def test_final_answers_leave_the_outbox_and_are_reported(app, password_hash, tmp_path):
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    client = phone(tmp_path / "p.sqlite3", company, transport=httpx.ASGITransport(app=app))
    bad = client.record("LESSON_COMPLETED", {"moduleId": "nonsense", "secondsSpent": 1})
    good = client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 1})
    first = client.record("SETTINGS_CHANGED", {"baseVersion": 0, "locale": "en"})
    stale = client.record("SETTINGS_CHANGED", {"baseVersion": 0, "locale": "zh-CN"})
    summary = await client.sync()
    assert summary.pushed == 4 and client.outbox_size() == 0
    assert [(r["id"], r["code"]) for r in summary.rejected] == [(bad, "INVALID_PAYLOAD")]
    assert [(r["id"], r["serverVersion"]) for r in summary.conflicts] == [(stale, {"version": 1, "locale": "en"})]
    outcomes = client.store_items("RECORD_OUTCOME")
    assert {key[1]: value["status"] for key, value in outcomes.items()} == {
        bad: "REJECTED",
        good: "ACCEPTED",
        first: "ACCEPTED",
        stale: "CONFLICT",
    }
    profile = next(iter(client.store_items("PROFILE").values()))
    assert profile["settings"] == {"version": 1, "locale": "en"}
    await client.close()


async def test_a_body_over_the_server_limit_is_sent_in_smaller_batches(
    database_url, test_settings, password_hash, tmp_path
):
    settings = test_settings.with_overrides(database_url=database_url, max_body_bytes=4000)
    counting = ScriptedTransport(httpx.ASGITransport(app=create_app(settings, manage_db=False)))
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    client = phone(tmp_path / "p.sqlite3", company, transport=counting)
    ids = [client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": i}) for i in range(40)]
    summary = await client.sync()
    assert summary.pushed == 40 and client.outbox_size() == 0 and summary.retries == 0
    assert counting.calls["SyncPush"] > 2  # 40, then halves until the body fits
    assert await ActivityRecord.filter(id__in=ids).count() == 40
    await client.close()


async def test_a_sequence_gap_stops_the_push_and_keeps_the_outbox(app, password_hash, tmp_path):
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    path = tmp_path / "p.sqlite3"
    client = phone(path, company, transport=httpx.ASGITransport(app=app))
    for _ in range(3):
        client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 1})
    with contextlib.closing(sqlite3.connect(path)) as db:  # a buggy app loses seq 1
        db.execute("DELETE FROM outbox WHERE seq = 1")
        db.commit()
    with pytest.raises(SequenceGapError):
        await client.sync()
    assert [row["seq"] for row in client.outbox()] == [2, 3]
    assert await ActivityRecord.filter(employee_id=company.employees["LRN"].id).count() == 0
    await client.close()


async def test_a_phone_restored_from_an_old_backup_renumbers_instead_of_losing_records(app, password_hash, tmp_path):
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    path, backup = tmp_path / "p.sqlite3", tmp_path / "backup.sqlite3"
    client = phone(path, company, transport=httpx.ASGITransport(app=app))
    await client.sync()
    source, target = sqlite3.connect(path), sqlite3.connect(backup)
    source.backup(target)  # the phone's backup: next seq 1
    source.close(), target.close()
    sent = [client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 1}) for _ in range(2)]
    await client.sync()
    await client.close()

    for leftover in (tmp_path / "p.sqlite3-wal", tmp_path / "p.sqlite3-shm"):
        leftover.unlink(missing_ok=True)
    backup.replace(path)  # the user restores the phone: seq 1 and 2 will be handed out again
    restored = phone(path, company, transport=httpx.ASGITransport(app=app))
    later = [restored.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 2}) for _ in range(3)]
    assert [row["seq"] for row in restored.outbox()] == [1, 2, 3]
    summary = await restored.sync()
    assert summary.pushed == 3 and restored.outbox_size() == 0 and summary.rejected == []
    stored = await ActivityRecord.filter(id__in=sent + later).order_by("device_seq").values_list("id", "device_seq")
    # Nothing lost, nothing doubled. (The third restored record, seq 3, was new to the server and
    # accepted in the same batch that refused the first two, so those became 4 and 5.)
    assert [(str(i), s) for i, s in stored][:2] == list(zip(sent, [1, 2]))
    assert {str(i): s for i, s in stored[2:]} == {later[2]: 3, later[0]: 4, later[1]: 5}
    restored.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 3})
    assert [row["seq"] for row in restored.outbox()] == [6]
    await restored.close()


# --- the pull ----------------------------------------------------------------------------------


async def test_cursor_advances_only_after_its_page_is_applied(app, password_hash, tmp_path):
    company = await synced_company(password_hash)
    path = tmp_path / "p.sqlite3"

    def plan(op: str, n: int):
        if op != "SyncPull":
            return "ok"
        if n == 3:  # the third page arrives broken in its middle: applying it must fail whole

            def corrupt(answer: dict) -> dict:
                changes = answer["data"]["syncPull"]["changes"]
                del changes[len(changes) // 2]["entity"]
                return answer

            return corrupt
        return "kill" if n == 4 else "ok"

    scripted = ScriptedTransport(httpx.ASGITransport(app=app), plan)
    client = phone(path, company, transport=scripted, pull_limit=5)
    with pytest.raises(KeyError):
        await client.pull()
    pages = [answer["data"]["syncPull"] for op, answer in scripted.answers if op == "SyncPull"]
    assert len(pages) == 3 and all(page["hasMore"] for page in pages)
    # Pages 1 and 2 are applied with their cursor; nothing of page 3 is.
    applied = {}
    for page in pages[:2]:
        for change in page["changes"]:
            if change["op"] == "UPSERT":
                applied[(change["entity"], change["id"])] = change["data"]
            else:
                applied.pop((change["entity"], change["id"]), None)
    assert client.cursor == pages[1]["cursor"] and client.store_items() == applied
    with contextlib.closing(sqlite3.connect(path)) as db:  # and that is what is on disk
        assert db.execute("SELECT value FROM meta WHERE key = 'cursor'").fetchone()[0] == pages[1]["cursor"]

    # The next page now fails before it arrives: still page 2's cursor.
    with pytest.raises(Killed):
        await client.pull()
    assert client.cursor == pages[1]["cursor"] and client.store_items() == applied
    await client.close()

    # A new client on the file resumes from page 2 and ends with the full snapshot.
    resumed = phone(path, company, transport=httpx.ASGITransport(app=app), pull_limit=5)
    summary = await resumed.pull()
    assert summary.pages >= 2
    expected = await snapshot(
        tmp_path / "fresh.sqlite3", company, "LRN", resumed.device_id, transport=httpx.ASGITransport(app=app)
    )
    assert resumed.store_items() == expected
    assert {entity for entity, _ in expected} >= {"COURSE", "COURSE_MODULE", "PROFILE"}
    await resumed.close()


async def test_reset_required_rebuilds_the_store_and_keeps_the_outbox(app, password_hash, tmp_path):
    company = await synced_company(password_hash)
    tenant_id = company.tenant.id
    module = (await lesson_modules(company))[0]
    transport = httpx.ASGITransport(app=app)
    client = phone(tmp_path / "p.sqlite3", company, transport=transport)

    # A course the phone syncs, then HR deletes it: a tombstone after the phone's cursor.
    doomed = await Course.create(
        tenant_id=tenant_id,
        code="X-001",
        title="将删除",
        scenario="销售",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
    )
    changes = ChangeSet(tenant_id)
    changes.touch(Entity.COURSE, doomed.id)
    async with in_transaction() as connection:
        await changes.publish(connection)
    await client.sync()
    doomed_key = ("COURSE", to_global_id("Course", doomed.id))
    assert doomed_key in client.store_items()
    old_cursor = client.cursor

    await doomed.delete()
    changes.touch(Entity.COURSE, doomed.id, deleted=True)
    async with in_transaction() as connection:
        await changes.publish(connection)
    # The phone stays offline longer than tombstones are kept: the deletion is forgotten.
    assert await purge_tombstones(tenant_id, timedelta(days=30), now=datetime.now(UTC) + timedelta(days=31)) >= 1
    ids = [client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 1}) for _ in range(2)]

    summary = await client.pull()
    assert summary.resets == 1
    assert client.outbox_size() == 2 and [row["id"] for row in client.outbox()] == ids  # never cleared
    assert doomed_key not in client.store_items() and client.cursor != old_cursor
    expected = await snapshot(tmp_path / "fresh.sqlite3", company, "LRN", client.device_id, transport=transport)
    assert client.store_items() == expected

    pushed = await client.sync()
    assert pushed.pushed == 2 and client.outbox_size() == 0
    assert await ActivityRecord.filter(id__in=ids).count() == 2
    await client.close()


# --- tokens ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def short_lived_app(database_url, test_settings):
    """The app with access tokens that expire after four seconds: short enough to wait for, long
    enough that a token fetched mid-test does not expire again on a loaded CI machine (with one
    second it did, and the client rightly refreshed once more than the test counted)."""
    settings = test_settings.with_overrides(database_url=database_url, access_token_ttl_seconds=4)
    return create_app(settings, manage_db=False)


async def wait_for_expiry() -> None:
    await asyncio.sleep(5.1)  # JWT expiry has one-second resolution


async def test_an_expired_token_is_refreshed_once_for_concurrent_calls_and_stored_first(
    short_lived_app, password_hash, tmp_path
):
    company = await synced_company(password_hash)
    path = tmp_path / "p.sqlite3"
    counting = ScriptedTransport(httpx.ASGITransport(app=short_lived_app))
    client = phone(path, company, transport=counting)
    await client.login()
    first_pair = (client._meta("access_token"), client._meta("refresh_token"))
    await wait_for_expiry()

    pull = {"input": {"protocolVersion": 1, "deviceId": client.device_id, "cursor": None, "limit": 5}}
    pages = await asyncio.gather(*(client._call(SYNC_PULL, json.loads(json.dumps(pull)), "syncPull") for _ in range(4)))
    assert all(page["errors"] == [] for page in pages)
    assert counting.calls["Refresh"] == 1 and counting.calls["Login"] == 1  # single flight, no re-login
    second_pair = (client._meta("access_token"), client._meta("refresh_token"))
    assert second_pair[0] != first_pair[0] and second_pair[1] != first_pair[1]
    await client.close()

    # The new pair is on disk: a restarted app uses it without signing in again.
    restarted_transport = ScriptedTransport(httpx.ASGITransport(app=short_lived_app))
    restarted = phone(path, company, transport=restarted_transport)
    await wait_for_expiry()
    await restarted.sync()
    assert restarted_transport.calls["Login"] == 0 and restarted_transport.calls["Refresh"] >= 1
    await restarted.close()


async def test_a_lost_refresh_answer_is_retried_and_gets_the_same_pair(short_lived_app, password_hash, tmp_path):
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    # The first refresh reaches the server (the token is spent) but its answer is lost; the retry
    # presents the spent token within the server's retry window and gets the same pair: no login.
    scripted = ScriptedTransport(
        httpx.ASGITransport(app=short_lived_app), lambda op, n: "lose" if op == "Refresh" and n == 1 else "ok"
    )
    client = phone(tmp_path / "p.sqlite3", company, transport=scripted)
    await client.login()
    await wait_for_expiry()
    record_id = client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 1})
    summary = await client.sync()
    assert summary.pushed == 1 and client.outbox_size() == 0
    assert scripted.calls["Refresh"] == 2 and scripted.calls["Login"] == 1
    [retry] = [answer for op, answer in scripted.answers if op == "Refresh"]
    assert retry["data"]["refreshToken"]["errors"] == []
    assert await ActivityRecord.filter(id=record_id).count() == 1
    await client.close()


async def test_a_lost_refresh_answer_without_the_retry_window_ends_in_a_new_login_not_a_lockout(
    database_url, test_settings, password_hash, tmp_path
):
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    # With XUEFEN_REFRESH_RETRY_SECONDS=0 the retry presents a spent token: REFRESH_TOKEN_REUSED
    # ends the session, so the client signs in again.
    settings = test_settings.with_overrides(
        database_url=database_url, access_token_ttl_seconds=4, refresh_retry_seconds=0
    )
    scripted = ScriptedTransport(
        httpx.ASGITransport(app=create_app(settings, manage_db=False)),
        lambda op, n: "lose" if op == "Refresh" and n == 1 else "ok",
    )
    client = phone(tmp_path / "p.sqlite3", company, transport=scripted)
    await client.login()
    await wait_for_expiry()
    record_id = client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 1})
    summary = await client.sync()
    assert summary.pushed == 1 and client.outbox_size() == 0
    assert scripted.calls["Refresh"] == 2 and scripted.calls["Login"] == 2
    reuse = [answer for op, answer in scripted.answers if op == "Refresh"]
    assert reuse[0]["data"]["refreshToken"]["errors"][0]["code"] == "REFRESH_TOKEN_REUSED"
    assert await ActivityRecord.filter(id=record_id).count() == 1
    await client.close()


async def test_a_device_clock_a_month_off_still_gets_its_answers(app, password_hash, tmp_path):
    """A phone whose clock is a month ahead (a dead RTC battery, a user playing with the date)
    must still be able to deliver its records and hear the answer."""
    company = await synced_company(password_hash)
    module = (await lesson_modules(company))[0]
    skew = timedelta(days=30)
    client = phone(
        tmp_path / "p.sqlite3",
        company,
        transport=httpx.ASGITransport(app=app),
        max_attempts=2,
        clock=lambda: datetime.now(UTC) + skew,
    )
    record_id = client.record("LESSON_COMPLETED", {"moduleId": module, "secondsSpent": 1})
    summary = await client.sync()
    assert summary.pushed == 1 and client.outbox_size() == 0
    stored = await ActivityRecord.get(id=record_id)
    assert "FUTURE" in stored.clock_flags and stored.occurred_at <= stored.received_at
    await client.close()


# --- the bad-network simulation ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """`xuefen serve` in a subprocess on a free loopback port, its output in a file (a pipe nobody
    reads would block the server once full)."""

    def __init__(self, database_url: str, log_path: Path, **env: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "w")  # noqa: SIM115  (closed in __exit__: it outlives this call)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, "XUEFEN_DATABASE_URL": database_url, "XUEFEN_LOG_LEVEL": "WARNING", **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.log_path.read_text())
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("server did not start")

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text()


async def add_learners(company: Company, password_hash: str, count: int) -> list[Employee]:
    """``count`` more learners like LRN (销售族 grade 1 in 华东销售组), each with the EMPLOYEE role."""
    position = await Position.get(tenant_id=company.tenant.id, code="SAL-1")
    learners = []
    for i in range(count):
        employee = await Employee.create(
            tenant=company.tenant,
            employee_no=f"L{i:04d}",
            name=f"学员{i}",
            password_hash=password_hash,
            org_unit=company.org_units["east"],
            site=company.sites["hq"],
            position=position,
        )
        await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
        learners.append(employee)
    return learners


DEVICES = 50
STRETCHES = 4  # offline stretches per device, each followed by a sync through the bad network
CONCURRENCY = 10  # devices syncing at the same time
# Device clocks: most right, some minutes or hours off, some days ahead: 10 days is beyond the 7 the
# server corrects for, 40 days is an offset beyond 2^31 ms (a GraphQL Int).
SKEWS = [timedelta(0)] * 5 + [
    timedelta(minutes=-5),
    timedelta(hours=3),
    timedelta(hours=-9),
    timedelta(days=10),
    timedelta(days=40),
]


async def test_fifty_phones_on_a_bad_network_end_up_exactly_consistent(database_url, password_hash, tmp_path):
    started = time.monotonic()
    company = await make_company(password_hash)
    learners = await add_learners(company, password_hash, DEVICES)
    await backfill(company.tenant.id)
    modules = await lesson_modules(company)
    assert len(modules) >= 5

    env = {"XUEFEN_ACCESS_TOKEN_TTL": "4", "XUEFEN_SECRET_KEY": uuid.uuid4().hex}
    with Server(database_url, tmp_path / "server.log", **env) as server:
        proxy = FaultProxy(
            server.port,
            seed=20261126,
            refuse=0.05,
            drop_request=0.05,
            drop_response=0.07,
            truncate=0.05,
            delay=0.15,
            stall=0.005,
            max_delay=0.3,
            stall_seconds=2.5,
        )
        async with proxy:
            result = await asyncio.wait_for(_simulate(proxy.url, company, learners, modules, tmp_path), timeout=110)
            faults = dict(proxy.counts)
        elapsed = time.monotonic() - started

        # --- the server has every record exactly once, and nothing else ---
        created: dict[str, dict[str, str]] = result["created"]  # employee_no -> {record id: module}
        by_employee = {e.id: e.employee_no for e in learners}
        rows = await ActivityRecord.filter(tenant_id=company.tenant.id).values_list(
            "id", "employee_id", "device_seq", "status", "payload", "clock_offset_ms"
        )
        assert len(rows) == sum(len(records) for records in created.values())
        server_ids: dict[str, set[str]] = defaultdict(set)
        seqs: dict[str, list[int]] = defaultdict(list)
        for record_id, employee_id, seq, status, payload, offset_ms in rows:
            employee_no = by_employee[employee_id]
            server_ids[employee_no].add(str(record_id))
            seqs[employee_no].append(seq)
            assert status == "ACCEPTED", (record_id, status)
            assert payload["moduleId"] == created[employee_no][str(record_id)]
            skew = result["skews"][employee_no]
            # The server measured the device clock: offset = −skew, up to network delay.
            assert abs(offset_ms / 1000 + skew.total_seconds()) < 30, (employee_no, offset_ms, skew)
        for employee_no, records in created.items():
            assert server_ids[employee_no] == set(records), employee_no
            assert sorted(seqs[employee_no]) == list(range(1, len(records) + 1))

        # --- progress is derived from exactly those records ---
        expected_progress: Counter[tuple[int, int]] = Counter()
        numbers = {e.employee_no: e.id for e in learners}
        for employee_no, records in created.items():
            for module in records.values():
                expected_progress[(numbers[employee_no], _row_id(module))] += 1
        progress = await ModuleProgress.filter(tenant_id=company.tenant.id).values_list(
            "employee_id", "module_id", "completed_count"
        )
        assert {(e, m): c for e, m, c in progress} == dict(expected_progress)

        # --- every phone's store is what a fresh pull gives its employee ---
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def compare(employee_no: str, device_id: str, store: dict) -> None:
            async with semaphore:
                fresh = SyncClient(
                    tmp_path / f"fresh-{employee_no}.sqlite3",
                    server.url,
                    tenant=company.code,
                    employee_no=employee_no,
                    password=TEST_PASSWORD,
                    device_id=device_id,
                )
                try:
                    await fresh.pull()
                    assert fresh.store_items() == store, employee_no
                    outcomes = fresh.store_items("RECORD_OUTCOME")
                    assert {key[1] for key in outcomes} == set(created[employee_no])
                finally:
                    await fresh.close()

        await asyncio.gather(*(compare(no, dev, store) for no, (dev, store) in result["stores"].items()))
        log = server.log()

    assert "Traceback" not in log, log[-5000:]
    report = {
        "database": "postgres" if database_url.startswith("postgres") else "sqlite",
        "seconds": round(elapsed, 1),
        "records": len(rows),
        "faults": faults,
        **{k: v for k, v in result.items() if k not in ("created", "stores", "skews")},
    }
    print(f"\nbad-network simulation: {json.dumps(report)}")
    # Every kind of fault happened, and the clients had to work for it.
    assert all(faults.get(f, 0) > 0 for f in ("refuse", "drop_request", "drop_response", "truncate", "delay")), faults
    assert result["retries"] > 0 and result["refreshes_or_logins"] > DEVICES


async def test_the_fault_proxy_does_what_each_fault_says():
    """Each fault at probability 1, in front of a tiny HTTP server that counts what reaches it."""
    arrived = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal arrived
        await reader.readuntil(b"\r\n\r\n")
        arrived += 1
        body = b"x" * 5000
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    expectations = {  # fault: (the client gets the answer, the server saw the request)
        "pass": (True, True),
        "delay": (True, True),
        "refuse": (False, False),
        "drop_request": (False, False),
        "drop_response": (False, True),
        "truncate": (False, True),
        "stall": (False, True),
    }
    try:
        for fault, (answered, reached) in expectations.items():
            before = arrived
            odds = {fault: 1.0} if fault != "pass" else {}
            async with (
                FaultProxy(port, seed=1, stall_seconds=1.0, **odds) as proxy,
                httpx.AsyncClient(timeout=0.5) as http,
            ):
                try:
                    response = await http.get(f"{proxy.url}/x")
                    got = response.status_code == 200 and len(response.content) == 5000
                except httpx.HTTPError:
                    got = False
            assert (got, arrived > before) == (answered, reached), fault
            assert proxy.counts[fault] == 1, proxy.counts
    finally:
        server.close()
        await server.wait_closed()


def _row_id(global_id: str) -> int:
    from schema.ids import expect_global_id

    return expect_global_id(global_id, "CourseModule")


async def _simulate(url: str, company: Company, learners: list[Employee], modules: list[str], tmp_path: Path) -> dict:
    """Each phone: STRETCHES offline stretches (record, then try to sync), then sync until its
    outbox is empty and one more sync changes nothing."""
    semaphore = asyncio.Semaphore(CONCURRENCY)
    stats: Counter[str] = Counter()
    created: dict[str, dict[str, str]] = {}
    stores: dict[str, tuple[str, dict]] = {}
    skews: dict[str, timedelta] = {}

    def no_keepalive() -> httpx.AsyncClient:
        # One request per connection, so the proxy's per-connection faults hit single requests.
        return httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))

    last_failure: dict[str, str] = {}

    async def attempt_sync(client: SyncClient) -> Any:
        async with semaphore:
            try:
                summary = await client.sync()
            except SyncNetworkError as error:
                stats["gave_up"] += 1  # the network won this round; the outbox keeps everything
                last_failure[client.employee_no] = str(error)
                return None
            stats["syncs"] += 1
            stats["pushed"] += summary.pushed
            stats["pulled"] += summary.pulled
            return summary

    async def run_device(index: int, employee: Employee) -> None:
        rng = random.Random(index)
        skew = SKEWS[index % len(SKEWS)]
        skews[employee.employee_no] = skew
        device_time = datetime.now(UTC) - timedelta(days=3)
        client = SyncClient(
            tmp_path / f"phone-{index}.sqlite3",
            url,
            tenant=company.code,
            employee_no=employee.employee_no,
            password=TEST_PASSWORD,
            http_factory=no_keepalive,
            clock=lambda: datetime.now(UTC) + skew,
            rng=rng,
            batch_size=rng.choice([7, 40, 500]),
            pull_limit=rng.choice([25, 200]),
            retry_base=0.05,
            retry_cap=0.4,
            max_attempts=4,
            timeout=2.0,
        )
        mine: dict[str, str] = {}
        created[employee.employee_no] = mine
        try:
            for _ in range(STRETCHES):
                for _ in range(rng.randint(25, 32)):  # >= 100 records in all
                    module = rng.choice(modules)
                    device_time += timedelta(minutes=rng.randint(1, 30))
                    record_id = client.record(
                        "LESSON_COMPLETED",
                        {"moduleId": module, "secondsSpent": rng.randint(30, 1800)},
                        occurred_at=device_time + skew,
                    )
                    mine[record_id] = module
                await attempt_sync(client)
            for _ in range(60):
                summary = await attempt_sync(client)
                if summary is not None and client.outbox_size() == 0 and summary.pushed == 0 and summary.pulled == 0:
                    break
            else:
                raise AssertionError(
                    f"{employee.employee_no} did not converge: outbox {client.outbox_size()}, last summary "
                    f"{summary}, last failure {last_failure.get(employee.employee_no)}"
                )
            stores[employee.employee_no] = (client.device_id, client.store_items())
            stats["retries"] += client.retries
        finally:
            await client.close()

    await asyncio.gather(*(run_device(i, e) for i, e in enumerate(learners)))
    # Tokens live 4 s: the sum of logins and refreshes (the server's sessions and refresh tokens)
    # shows how often the clients had to renew.
    from backend.models import RefreshToken

    stats["refreshes_or_logins"] = await RefreshToken.filter(tenant_id=company.tenant.id).count()
    return {"created": created, "stores": stores, "skews": skews, **stats}
