"""Scheduled jobs: each registered job runs once per period per company, however many workers race
for it (on separate connections on PostgreSQL), a failing job is recorded and runs again next
period, and a stopping worker claims nothing more. Time is driven by passing ``now``."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from backend.models import ScheduledJobRun
from backend.services.notifications import scheduler
from backend.services.notifications.scheduler import JOBS, Job, run_due
from tests.factories import Company, make_company

START = datetime(2026, 3, 10, 0, 20, tzinfo=UTC)


@pytest.fixture
async def company(password_hash: str, database_url: str) -> Company:
    return await make_company(password_hash, courses=False)


def test_the_registry_names_each_job_once_with_a_period() -> None:
    names = [job.name for job in JOBS]
    assert len(names) == len(set(names)) and all(len(name) <= 64 for name in names)
    assert all(job.period >= timedelta(minutes=1) for job in JOBS)
    assert "integrity_scan" in names


def test_periods_are_aligned_on_the_epoch() -> None:
    hourly = Job("x", timedelta(hours=1), scheduler.integrity_scan)
    assert hourly.next_due(datetime(2026, 3, 10, 0, 20, tzinfo=UTC)) == datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    assert hourly.next_due(datetime(2026, 3, 10, 1, 0, tzinfo=UTC)) == datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
    daily = Job("y", timedelta(days=1), scheduler.integrity_scan)
    assert daily.next_due(datetime(2026, 3, 10, 23, 59, tzinfo=UTC)) == datetime(2026, 3, 11, tzinfo=UTC)


async def test_every_registered_job_runs_once_per_period_with_two_workers(company: Company) -> None:
    tenant_id = company.tenant.id
    # The moments that matter: the start, and a second before, at and after each job's next three
    # period boundaries (stepping evenly through two days of a five-minute job would take long).
    moments = {START}
    for job in JOBS:
        for k in range(3):
            boundary = job.next_due(START) + k * job.period
            moments |= {boundary - timedelta(seconds=1), boundary, boundary + timedelta(seconds=1)}
    ran: dict[str, list[datetime]] = defaultdict(list)
    for now in sorted(moments):
        # Two workers, each on its own connection (PostgreSQL's pool), claim at the same moment.
        for runs in await asyncio.gather(*(run_due(now, tenant_ids=[tenant_id]) for _ in range(2))):
            for one in runs:
                assert one.tenant_id == tenant_id
                assert one.result is not None, f"{one.job} failed"
                ran[one.job].append(now)
    assert set(ran) == {job.name for job in JOBS}
    for job in JOBS:
        # Exactly one run in each period the clock passed through (the first one at once).
        periods = Counter((moment - scheduler.EPOCH) // job.period for moment in ran[job.name])
        assert set(periods.values()) == {1}, (job.name, periods)
        assert set(periods) == {(moment - scheduler.EPOCH) // job.period for moment in moments}
    rows = await ScheduledJobRun.filter(tenant_id=tenant_id).order_by("job")
    assert [row.job for row in rows] == sorted(job.name for job in JOBS)
    assert all(row.last_error == "" and row.due_at > max(moments) for row in rows)


async def test_a_slow_job_is_still_run_once_by_many_workers(company: Company) -> None:
    tenant_id = company.tenant.id
    calls: list[int] = []

    async def slow(tenant: int, now: datetime) -> int:
        calls.append(tenant)
        await asyncio.sleep(0.05)  # the others ask while it runs
        return 1

    jobs = (Job("test_slow", timedelta(hours=1), slow),)
    runs = await asyncio.gather(*(run_due(START, jobs=jobs, tenant_ids=[tenant_id]) for _ in range(4)))
    assert calls == [tenant_id] and sum(len(r) for r in runs) == 1
    later = await asyncio.gather(
        *(run_due(START + timedelta(minutes=39), jobs=jobs, tenant_ids=[tenant_id]) for _ in range(4))
    )
    assert calls == [tenant_id] and not any(later)  # 00:59: still the same period
    await asyncio.gather(*(run_due(START + timedelta(minutes=40), jobs=jobs, tenant_ids=[tenant_id]) for _ in range(4)))
    assert calls == [tenant_id, tenant_id]  # 01:00: the next one


async def test_a_failing_job_is_recorded_and_runs_again_next_period(company: Company) -> None:
    tenant_id = company.tenant.id
    attempts: list[datetime] = []

    async def broken(tenant: int, now: datetime) -> int:
        attempts.append(now)
        if len(attempts) == 1:
            raise RuntimeError("李学员 13800000000")  # personal data in a message never reaches the row
        return 0

    jobs = (Job("test_broken", timedelta(hours=1), broken),)
    (first,) = await run_due(START, jobs=jobs, tenant_ids=[tenant_id])
    assert first.result is None
    row = await ScheduledJobRun.get(tenant_id=tenant_id, job="test_broken")
    assert row.last_error == "RuntimeError" and row.due_at == datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    assert await run_due(START + timedelta(minutes=5), jobs=jobs, tenant_ids=[tenant_id]) == []
    (second,) = await run_due(START + timedelta(hours=1), jobs=jobs, tenant_ids=[tenant_id])
    assert second.result == 0
    row = await ScheduledJobRun.get(tenant_id=tenant_id, job="test_broken")
    assert row.last_error == "" and len(attempts) == 2


async def test_a_stopping_worker_claims_nothing_more(company: Company) -> None:
    tenant_id = company.tenant.id
    done: list[str] = []

    def job(name: str) -> Job:
        async def run(tenant: int, now: datetime) -> int:
            done.append(name)
            return 0

        return Job(name, timedelta(hours=1), run)

    jobs = (job("test_a"), job("test_b"))
    assert await run_due(START, jobs=jobs, tenant_ids=[tenant_id], should_stop=lambda: bool(done)) != []
    assert len(done) == 1
    # The job it did not claim is still due for the next worker.
    (left,) = await run_due(START, jobs=jobs, tenant_ids=[tenant_id])
    assert {left.job, *done} == {"test_a", "test_b"}
