"""The change log behind the sync feed.

Every write of a synced row marks it in a ``ChangeSet``; ``publish`` runs as the **last**
statement of the writing transaction and gives the marked rows feed sequence numbers from the
tenant's ``sync_clock`` row. That row stays locked until the transaction commits, so feed numbers
become visible in commit order: a reader that has seen number n has seen every number below it.
(SQLite has a single writer anyway; on PostgreSQL this is what keeps cursors from skipping.)

``sync_change`` keeps one row per (entity, id, audience), moved forward on each change; a pull
from zero is therefore a snapshot, and the log never outgrows the data plus recent tombstones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.models import (
    ActivityRecord,
    Course,
    CourseCompletion,
    CourseModule,
    Employee,
    Enrollment,
    ModuleProgress,
    SyncChange,
    SyncClock,
    TrainingSession,
)
from backend.services.notifications import notices
from backend.services.notifications.notices import Notice
from backend.services.reports.rollups import Tally
from backend.sql import db_time, insert_many, placeholders

EVERYONE = 0  # audience of rows every employee of the tenant may (subject to visibility) see


class Entity(StrEnum):
    """What the feed carries (see docs/sync-protocol.md for the data of each)."""

    COURSE = "COURSE"
    COURSE_MODULE = "COURSE_MODULE"
    PROFILE = "PROFILE"
    MODULE_PROGRESS = "MODULE_PROGRESS"
    COURSE_COMPLETION = "COURSE_COMPLETION"
    RECORD_OUTCOME = "RECORD_OUTCOME"
    TRAINING_SESSION = "TRAINING_SESSION"
    ENROLLMENT = "ENROLLMENT"
    QUIZ = "QUIZ"
    QUIZ_ATTEMPT = "QUIZ_ATTEMPT"
    MENTORSHIP = "MENTORSHIP"
    PRACTICE_LOG = "PRACTICE_LOG"
    RUBRIC = "RUBRIC"
    MENTOR_EVALUATION = "MENTOR_EVALUATION"
    SKILL_LEVEL = "SKILL_LEVEL"
    CREDIT_ACCOUNT = "CREDIT_ACCOUNT"
    CREDIT_ENTRY = "CREDIT_ENTRY"
    REWARD = "REWARD"
    REDEMPTION = "REDEMPTION"
    TEAM_MEMBER = "TEAM_MEMBER"
    CONTENT_PROGRESS = "CONTENT_PROGRESS"  # an employee's study of one file of a module
    COURSE_CONTENT = "COURSE_CONTENT"  # a course's download manifest (lesson text, files, renditions)
    NOTIFICATION = "NOTIFICATION"  # one inbox row of the viewer's, with its read state
    OJT_ASSIGNMENT = "OJT_ASSIGNMENT"  # an OJT plan given to the viewer, with its items and status
    SURVEY = "SURVEY"  # a feedback survey open to answers, its questions, whether the viewer answered it
    CERTIFICATE = "CERTIFICATE"  # one certificate of the viewer's: status, dates, PDF link


_CHANGE_COLUMNS = {
    "tenant_id": "int",
    "seq": "bigint",
    "entity": "text",
    "entity_id": "text",
    "audience": "int",
    "deleted": "boolean",
    "changed_at": "timestamptz",
}


class ChangeSet:
    """The synced rows one transaction changed. Mark them as you write; publish last."""

    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id
        # (entity, id, audience) -> deleted: one change per row and audience, the last one marked.
        self._changes: dict[tuple[Entity, str, int], bool] = {}
        # What the transaction's facts add to the report rollups, written by ``publish`` too.
        self.tally = Tally()
        # Whom the transaction's facts tell (notifications.notices), written by ``publish`` first.
        self.notices: list[Notice] = []

    def touch(self, entity: Entity, entity_id: object, audience: int = EVERYONE, deleted: bool = False) -> None:
        self._changes[(entity, str(entity_id), audience)] = deleted

    def notify(self, *notices: Notice) -> None:
        """Tell people of what this transaction writes (see notifications.notices)."""
        self.notices.extend(notices)

    def __len__(self) -> int:
        return len(self._changes)

    async def publish(self, connection: BaseDBAsyncClient, now: datetime | None = None) -> int:
        """Give the marked rows feed numbers. Call as the last step of the transaction that
        wrote them, on its connection. Returns the highest number given (0 if nothing changed).
        The notices are written first: each new notification is a feed row of its recipient's.
        The report rollups are added to right after the counter is taken: every writer takes
        that lock first, so rollup rows are locked in one order and ``reports rebuild``, which
        takes the counter before recounting, never sees half a transaction."""
        if self.notices:
            written = await notices.write(connection, self.tenant_id, self.notices, now or datetime.now(UTC))
            self.notices = []
            for notification_id, recipient_id in written:
                self.touch(Entity.NOTIFICATION, notification_id, audience=recipient_id)
        if not self._changes:
            if self.tally:  # facts that changed nothing synced still lock the counter first
                await _advance_clock(connection, self.tenant_id, 0)
                await self.tally.flush(connection, self.tenant_id)
            return 0
        now = now or datetime.now(UTC)
        count = len(self._changes)
        last = await _advance_clock(connection, self.tenant_id, count)
        await self.tally.flush(connection, self.tenant_id)
        first = last - count + 1
        changed_at = db_time(connection, now)
        await insert_many(
            connection,
            "sync_change",
            _CHANGE_COLUMNS,
            [
                (self.tenant_id, first + i, entity.value, entity_id, audience, deleted, changed_at)
                for i, ((entity, entity_id, audience), deleted) in enumerate(self._changes.items())
            ],
            on_conflict="ON CONFLICT (tenant_id, entity, entity_id, audience) DO UPDATE SET "
            "seq = excluded.seq, deleted = excluded.deleted, changed_at = excluded.changed_at",
        )
        self._changes.clear()
        return last


async def _advance_clock(connection: BaseDBAsyncClient, tenant_id: int, count: int) -> int:
    # execute_query_dict: Tortoise's asyncpg execute_query drops the rows of INSERT … RETURNING.
    rows = await connection.execute_query_dict(
        f"INSERT INTO sync_clock (tenant_id, seq, purged_through) VALUES ({placeholders(connection, 2)}, 0) "
        "ON CONFLICT (tenant_id) DO UPDATE SET seq = sync_clock.seq + excluded.seq "
        "RETURNING seq",
        [tenant_id, count],
    )
    return int(rows[0]["seq"])


async def feed_head(tenant_id: int) -> tuple[int, int]:
    """(highest feed number, highest purged tombstone number) of a tenant."""
    clock = await SyncClock.get_or_none(tenant_id=tenant_id)
    return (clock.seq, clock.purged_through) if clock else (0, 0)


async def purge_tombstones(tenant_id: int, older_than: timedelta, now: datetime | None = None) -> int:
    """Forget tombstones older than the window. Cursors from before them must re-snapshot."""
    cutoff = (now or datetime.now(UTC)) - older_than
    async with in_transaction():
        old = SyncChange.filter(tenant_id=tenant_id, deleted=True, changed_at__lt=cutoff)
        newest = await old.order_by("-seq").values_list("seq", flat=True)
        if not newest:
            return 0
        await old.delete()
        await SyncClock.filter(tenant_id=tenant_id, purged_through__lt=newest[0]).update(purged_through=newest[0])
        return len(newest)


# Marks a domain's synced rows in a ChangeSet; records.registry lists them all and runs them.
Backfiller = Callable[[int, ChangeSet], Awaitable[None]]


async def mark_shared_rows(tenant_id: int, changes: ChangeSet) -> None:
    """The backfiller of the rows the feed has carried from the start (courses, modules, profiles,
    progress, completions, sessions, enrollments, record outcomes)."""
    for course_id in await Course.filter(tenant_id=tenant_id).values_list("id", flat=True):
        changes.touch(Entity.COURSE, course_id)
    for module_id in await CourseModule.filter(tenant_id=tenant_id).values_list("id", flat=True):
        changes.touch(Entity.COURSE_MODULE, module_id)
    for (employee_id,) in await Employee.filter(tenant_id=tenant_id).values_list("id"):
        changes.touch(Entity.PROFILE, employee_id, audience=employee_id)
    for employee_id, module_id in await ModuleProgress.filter(tenant_id=tenant_id).values_list(
        "employee_id", "module_id"
    ):
        changes.touch(Entity.MODULE_PROGRESS, module_id, audience=employee_id)
    for employee_id, course_id in await CourseCompletion.filter(tenant_id=tenant_id).values_list(
        "employee_id", "course_id"
    ):
        changes.touch(Entity.COURSE_COMPLETION, course_id, audience=employee_id)
    for session_id in await TrainingSession.filter(tenant_id=tenant_id).values_list("id", flat=True):
        changes.touch(Entity.TRAINING_SESSION, session_id)
    for employee_id, enrollment_id in await Enrollment.filter(tenant_id=tenant_id).values_list("employee_id", "id"):
        changes.touch(Entity.ENROLLMENT, enrollment_id, audience=employee_id)
    for employee_id, record_id in await ActivityRecord.filter(tenant_id=tenant_id).values_list("employee_id", "id"):
        changes.touch(Entity.RECORD_OUTCOME, record_id, audience=employee_id)
