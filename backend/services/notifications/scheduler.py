"""Scheduled jobs: per company, each run once per period by whichever worker claims it.

``JOBS`` is the one explicit list: a name, a period and an async function ``(tenant_id, now) ->
int`` (how many things it did: notices written, alerts raised). A job must be safe to run again
(a rerun in the same period notifies nobody twice: its notices' event keys name the period).

Each (company, job) has a ``scheduled_job_run`` row holding when the job is next due. A worker
creates the missing rows (``INSERT … ON CONFLICT DO NOTHING``, due at once), reads which are due,
and claims each by moving ``due_at`` on with a conditional update::

    UPDATE scheduled_job_run SET due_at = <next> WHERE tenant_id = ? AND job = ? AND due_at <= <now>

Only the worker whose update changed the row runs the job: several workers, on any number of
hosts, run it once per period. Periods are aligned on the UTC epoch (an hourly job's next run is
at the next full hour, a daily one's at 00:00 UTC), so a worker that was down for a day runs a
missed job once, not once per missed period. A job that fails is logged (its class, never its
message: it may carry personal data), its error kept on the row, and run again next period.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections

from backend.models import ScheduledJobRun
from backend.services.certificates import reminders as certificate_reminders
from backend.services.content import evidence_missing
from backend.services.credits import target_risk
from backend.services.integrity import scan
from backend.services.ojt import assignment_checks
from backend.services.sessions import reminders
from backend.sql import Params

LOG = logging.getLogger("xuefen.scheduler")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

JobFunction = Callable[[int, datetime], Awaitable[int]]


@dataclass(frozen=True)
class Job:
    """A job run for each company once per ``period``."""

    name: str  # stored in scheduled_job_run.job (at most 64 characters); never rename a job
    period: timedelta
    run: JobFunction

    def next_due(self, now: datetime) -> datetime:
        """The first period boundary after ``now`` (boundaries counted from the UTC epoch)."""
        periods = (now - EPOCH) // self.period
        return EPOCH + (periods + 1) * self.period


async def integrity_scan(tenant_id: int, now: datetime) -> int:
    """Every enabled integrity detector over the default lookback (30 days: the statistical
    detectors need their peers, and scan.DEFAULT_LOOKBACK is sized for an hourly run); returns the
    new alerts. A rescan raises nothing it raised before."""
    report = await scan.scan_company(tenant_id, now - scan.DEFAULT_LOOKBACK, now)
    return sum(report.raised.values())


# The one list of scheduled jobs. Never rename a job (its name keys scheduled_job_run rows).
JOBS: tuple[Job, ...] = (
    Job("integrity_scan", timedelta(hours=1), integrity_scan),
    # SESSION_TOMORROW, SESSION_SOON: the reminder windows are an hour wide, so any period up to an hour
    Job("session_reminders", timedelta(minutes=5), reminders.session_reminders),
    # Statuses, ASSIGNMENT_DUE_SOON / _OVERDUE / _ESCALATED, skill-gap plans
    Job("ojt_assignment_checks", timedelta(hours=1), assignment_checks.run_checks),
    Job("credit_targets_at_risk", timedelta(days=1), target_risk.targets_at_risk),
    Job("evidence_missing", timedelta(hours=1), evidence_missing.evidence_missing),
    # CERTIFICATE_EXPIRING 30 and 7 days before (company-local dates: hourly, so each zone's day turns soon)
    Job("certificates_expiring", timedelta(hours=1), certificate_reminders.certificates_expiring),
)


@dataclass(frozen=True)
class Ran:
    """One job run by this worker: for whom, its result (None when it failed)."""

    tenant_id: int
    job: str
    result: int | None


async def _ensure_rows(now: datetime, jobs: Sequence[Job], tenant_ids: Sequence[int] | None) -> None:
    """Every (company, job) pair has its row, new ones due at once: one statement."""
    connection = connections.get("default")
    p = Params(connection)
    names = p.rows([(job.name,) for job in jobs], ("text",))
    only = f" AND t.id {p.among(list(tenant_ids), 'int')}" if tenant_ids is not None else ""
    at = p(now)
    # WHERE true: SQLite reads "ON" after a join in INSERT … SELECT as the join's, not the upsert's.
    await connection.execute_query(
        f"WITH j (job) AS ({names}) "
        "INSERT INTO scheduled_job_run (tenant_id, job, due_at, last_error, created_at, updated_at) "
        f"SELECT t.id, j.job, {at}, '', {at}, {at} FROM tenant t CROSS JOIN j WHERE true{only} "
        "ON CONFLICT (tenant_id, job) DO NOTHING",
        p.values,
    )


async def _due(now: datetime, jobs: Sequence[Job], tenant_ids: Sequence[int] | None) -> list[tuple[int, str]]:
    connection = connections.get("default")
    p = Params(connection)
    only = f" AND tenant_id {p.among(list(tenant_ids), 'int')}" if tenant_ids is not None else ""
    rows = await connection.execute_query_dict(
        "SELECT tenant_id, job FROM scheduled_job_run "
        f"WHERE due_at <= {p(now)} AND job {p.among([job.name for job in jobs], 'text')}{only} "
        "ORDER BY due_at, tenant_id, job",
        p.values,
    )
    return [(int(row["tenant_id"]), str(row["job"])) for row in rows]


async def _claim(tenant_id: int, job: Job, now: datetime) -> bool:
    """Move the job's due time on if it is still due: True for the one worker whose update hit."""
    changed = await ScheduledJobRun.filter(tenant_id=tenant_id, job=job.name, due_at__lte=now).update(
        due_at=job.next_due(now), last_started_at=now, updated_at=now
    )
    return changed == 1


async def run_due(
    now: datetime | None = None,
    *,
    jobs: Sequence[Job] = JOBS,
    tenant_ids: Sequence[int] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[Ran]:
    """Run every job due at ``now`` that this worker claims (for every company, or for
    ``tenant_ids``); returns what it ran. ``should_stop`` is asked before each claim: a stopping
    worker finishes the job it runs and claims no other."""
    now = (now or datetime.now(UTC)).astimezone(UTC)  # SQLite compares times as text, in UTC
    if not jobs:
        return []
    await _ensure_rows(now, jobs, tenant_ids)
    by_name = {job.name: job for job in jobs}
    ran: list[Ran] = []
    for tenant_id, name in await _due(now, jobs, tenant_ids):
        if should_stop is not None and should_stop():
            break
        job = by_name[name]
        if not await _claim(tenant_id, job, now):
            continue  # another worker took it
        error = ""
        result: int | None = None
        started = time.monotonic()
        try:
            result = await job.run(tenant_id, now)
        except Exception as failure:
            error = type(failure).__name__
            LOG.warning("scheduled job %s for company %d failed: %s", job.name, tenant_id, error, exc_info=False)
        finished = now + timedelta(seconds=time.monotonic() - started)  # on the caller's clock
        await ScheduledJobRun.filter(tenant_id=tenant_id, job=job.name).update(
            last_finished_at=finished, last_error=error, updated_at=finished
        )
        ran.append(Ran(tenant_id, job.name, result))
    return ran
