"""Training sessions: scheduling (HR admins and instructors) and the list of upcoming sessions an
employee may attend.

Every write publishes the session in the feed (``TRAINING_SESSION``, audience everyone) as the last
statement of its transaction, and appends an ``AuditEntry`` (HR sees who changed what). The
session's ``secret`` keys the check-in codes: it is made here and never leaves the server from this
module (the instructor's kit is elsewhere); it is stored wrapped under the key ring (qr.new_secret).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseModule,
    CourseStatus,
    Employee,
    EmployeeRole,
    NotificationKind,
    Role,
    SessionStatus,
    Site,
    TrainingSession,
)
from backend.services.audit import audit
from backend.services.catalog.course_catalog import LearnerProfile, ineligible_course_ids, learner_profile
from backend.services.feed import ChangeSet, Entity
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.reports import rollups
from backend.services.sessions import qr, session_notices
from backend.services.sessions.seats import promote_waitlist
from backend.services.validation import text
from backend.services.viewer import Viewer

# Upcoming sessions in start-time order; the cursor is (start in UTC, id).
SESSION_ORDER: Keyset[TrainingSession] = Keyset("session", ("starts_at", "id"), (datetime, int))
MAX_TITLE = 200
MAX_LOCATION = 200
MAX_MINUTES = 24 * 60


@dataclass
class SessionInput:
    """What a create or update gives. ``None`` means "unchanged" on update."""

    course_id: int | None = None
    module_id: int | None = None
    title: str | None = None
    instructor_id: int | None = None
    site_id: int | None = None
    location: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = None
    checkin_opens_minutes: int | None = None
    late_after_minutes: int | None = None
    allows_walk_in: bool | None = None
    rotation_seconds: int | None = None


@dataclass(frozen=True)
class SessionFilter:
    course_id: int | None = None
    site_id: int | None = None


def manages_sessions(viewer: Viewer) -> bool:
    """HR admins and instructors see every session (any course status, cancelled ones too)."""
    return viewer.has_role(Role.HR_ADMIN, Role.INSTRUCTOR)


def may_edit(viewer: Viewer, session: TrainingSession) -> bool:
    """HR admins edit every session; an instructor edits the sessions they teach."""
    if viewer.has_role(Role.HR_ADMIN):
        return True
    return viewer.has_role(Role.INSTRUCTOR) and session.instructor_id == viewer.employee_id


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise DomainError(ErrorCode.VALIDATION, field=name, reason_key="reason.timezone_required")
    return moment.astimezone(UTC)


def _minutes(value: int, name: str) -> int:
    if not 0 <= value <= MAX_MINUTES:
        raise DomainError(ErrorCode.VALIDATION, field=name, reason_key="reason.minutes", max=MAX_MINUTES)
    return value


async def _check_refs(
    viewer: Viewer, given: SessionInput, course_id: int, connection: BaseDBAsyncClient
) -> dict[str, Any]:
    """Resolve and check the foreign keys named in ``given`` (all inside the viewer's tenant)."""
    tenant_id = viewer.tenant_id
    values: dict[str, Any] = {}
    if given.course_id is not None:
        if not await Course.filter(tenant_id=tenant_id, id=given.course_id).using_db(connection).exists():
            raise DomainError(ErrorCode.VALIDATION, field="courseId", reason_key="reason.bad_id")
        values["course_id"] = given.course_id
    if given.module_id is not None:
        if (
            not await CourseModule.filter(tenant_id=tenant_id, id=given.module_id, course_id=course_id)
            .using_db(connection)
            .exists()
        ):
            raise DomainError(ErrorCode.VALIDATION, field="moduleId", reason_key="reason.bad_id")
        values["module_id"] = given.module_id
    if given.instructor_id is not None:
        if (
            not await Employee.filter(tenant_id=tenant_id, id=given.instructor_id, is_active=True)
            .using_db(connection)
            .exists()
        ):
            raise DomainError(ErrorCode.VALIDATION, field="instructorId", reason_key="reason.bad_id")
        if (
            not await EmployeeRole.filter(employee_id=given.instructor_id, role=Role.INSTRUCTOR)
            .using_db(connection)
            .exists()
        ):
            raise DomainError(ErrorCode.VALIDATION, field="instructorId", reason_key="reason.not_instructor")
        if not viewer.has_role(Role.HR_ADMIN) and given.instructor_id != viewer.employee_id:
            raise DomainError(ErrorCode.FORBIDDEN)  # instructors schedule their own sessions
        values["instructor_id"] = given.instructor_id
    if given.site_id is not None:
        if not await Site.filter(tenant_id=tenant_id, id=given.site_id).using_db(connection).exists():
            raise DomainError(ErrorCode.VALIDATION, field="siteId", reason_key="reason.bad_id")
        values["site_id"] = given.site_id
    return values


def _plain_values(given: SessionInput) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if given.title is not None:
        values["title"] = text(given.title, "title", MAX_TITLE)
    if given.location is not None:
        values["location"] = text(given.location, "location", MAX_LOCATION, required=False)
    if given.starts_at is not None:
        values["starts_at"] = _utc(given.starts_at, "startsAt")
    if given.ends_at is not None:
        values["ends_at"] = _utc(given.ends_at, "endsAt")
    if given.capacity is not None:
        if given.capacity < 1:
            raise DomainError(ErrorCode.VALIDATION, field="capacity", reason_key="reason.capacity")
        values["capacity"] = given.capacity
    if given.checkin_opens_minutes is not None:
        values["checkin_opens_minutes"] = _minutes(given.checkin_opens_minutes, "checkInOpensMinutes")
    if given.late_after_minutes is not None:
        values["late_after_minutes"] = _minutes(given.late_after_minutes, "lateAfterMinutes")
    if given.allows_walk_in is not None:
        values["allows_walk_in"] = given.allows_walk_in
    if given.rotation_seconds is not None:
        if not 5 <= given.rotation_seconds <= 300:
            raise DomainError(
                ErrorCode.VALIDATION,
                field="checkInRotationSeconds",
                reason_key="reason.field",
                name="checkInRotationSeconds",
            )
        values["rotation_seconds"] = given.rotation_seconds
    return values


def _audit_details(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


async def create_session(settings: Settings, viewer: Viewer, given: SessionInput) -> TrainingSession:
    """Schedule a session (HR admins, or instructors for themselves). Like every write here, it
    answers the session as it now is, with its course, module, site and instructor."""
    viewer.require_role(Role.HR_ADMIN, Role.INSTRUCTOR)
    for name, value in (
        ("courseId", given.course_id),
        ("title", given.title),
        ("instructorId", given.instructor_id),
        ("siteId", given.site_id),
        ("startsAt", given.starts_at),
        ("endsAt", given.ends_at),
        ("capacity", given.capacity),
    ):
        if value is None:
            raise DomainError(ErrorCode.VALIDATION, field=name, reason_key="reason.required")
    assert given.course_id is not None  # checked just above
    values = _plain_values(given)
    if values["ends_at"] <= values["starts_at"]:
        raise DomainError(ErrorCode.VALIDATION, field="endsAt", reason_key="reason.ends_before_start")
    async with in_transaction() as connection:
        values.update(await _check_refs(viewer, given, given.course_id, connection))
        session = await TrainingSession.create(
            tenant_id=viewer.tenant_id,
            secret=qr.new_secret(settings),
            status=SessionStatus.SCHEDULED,
            using_db=connection,
            **values,
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "session.create",
            "TrainingSession",
            session.id,
            _audit_details(values),
        )
        changes = ChangeSet(viewer.tenant_id)
        changes.touch(Entity.TRAINING_SESSION, session.id)
        await changes.publish(connection)
    return await _shown(viewer, session.id)


async def _locked_for_edit(viewer: Viewer, session_id: int, connection: BaseDBAsyncClient) -> TrainingSession:
    """The session row, locked for this transaction, if the viewer may edit it."""
    session = (
        await TrainingSession.filter(tenant_id=viewer.tenant_id, id=session_id)
        .select_for_update()
        .using_db(connection)
        .first()
    )
    if session is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if not may_edit(viewer, session):
        raise DomainError(ErrorCode.FORBIDDEN)
    return session


async def update_session(viewer: Viewer, session_id: int, given: SessionInput) -> TrainingSession:
    """Change a session. A larger capacity promotes waiting employees at once; a capacity below the
    seats already taken is refused (checked in the same UPDATE, so a concurrent request cannot
    slip in between)."""
    viewer.require_role(Role.HR_ADMIN, Role.INSTRUCTOR)
    values = _plain_values(given)
    async with in_transaction() as connection:
        session = await _locked_for_edit(viewer, session_id, connection)
        if session.status == SessionStatus.CANCELLED:
            raise DomainError(ErrorCode.SESSION_CANCELLED)
        course_id = given.course_id if given.course_id is not None else session.course_id
        values.update(await _check_refs(viewer, given, course_id, connection))
        if "course_id" in values and values["course_id"] != session.course_id and "module_id" not in values:
            values["module_id"] = None  # the old module belongs to the old course
        starts = values.get("starts_at", session.starts_at)
        ends = values.get("ends_at", session.ends_at)
        if ends <= starts:
            raise DomainError(ErrorCode.VALIDATION, field="endsAt", reason_key="reason.ends_before_start")
        capacity = values.pop("capacity", None)
        if capacity is not None:
            updated = (
                await TrainingSession.filter(id=session.id, seats_taken__lte=capacity)
                .using_db(connection)
                .update(capacity=capacity)
            )
            if updated != 1:
                raise DomainError(ErrorCode.VALIDATION, field="capacity", reason_key="reason.capacity_below_taken")
        if values:
            await TrainingSession.filter(id=session.id).using_db(connection).update(**values)
        changes = ChangeSet(viewer.tenant_id)
        # Its enrollments count on its start, its attendance for its instructor and length.
        await rollups.note_session_change(
            connection,
            changes.tally,
            viewer.tenant_id,
            session.id,
            _times(session, {}),
            _times(session, values),
        )
        if capacity is not None:
            await promote_waitlist(connection, changes, viewer.tenant_id, session.id, datetime.now(UTC))
            values["capacity"] = capacity
        await _tell_moved(connection, changes, viewer, session, values)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "session.update",
            "TrainingSession",
            session.id,
            _audit_details(values),
        )
        changes.touch(Entity.TRAINING_SESSION, session.id)
        await changes.publish(connection)
    return await _shown(viewer, session.id)


async def _tell_moved(
    connection: BaseDBAsyncClient, changes: ChangeSet, viewer: Viewer, before: TrainingSession, values: dict[str, Any]
) -> None:
    """SESSION_MOVED to its instructor and everyone with a place or waiting for one (less whoever
    moved it) when its start or its place changed. The key names the change by its new start and
    the moment it was made: a session moved back and forth tells each move, and a change that
    moves nothing (the same values saved again) tells nobody."""
    moved = {
        name
        for name in ("starts_at", "site_id", "location")
        if name in values and values[name] != getattr(before, name)
    }
    if not moved:
        return
    facts = (await session_notices.session_facts(connection, viewer.tenant_id, [before.id]))[before.id]
    changed = datetime.now(UTC)
    changes.notify(
        *session_notices.tell_everyone(
            NotificationKind.SESSION_MOVED,
            f"session:{before.id}:moved:{session_notices.iso(facts.starts_at)}:{changed.timestamp():.6f}",
            facts,
            await session_notices.people_of(connection, before.id),
            {"previousStartsAt": session_notices.iso(before.starts_at)},
            expires_at=facts.starts_at,
            actor_id=viewer.employee_id,
        )
    )


def _times(session: TrainingSession, values: dict[str, Any]) -> rollups.SessionTimes:
    """What the report rollups read of ``session`` with ``values`` written over it."""
    return rollups.SessionTimes(
        values.get("instructor_id", session.instructor_id),
        values.get("course_id", session.course_id),
        values.get("starts_at", session.starts_at),
        values.get("ends_at", session.ends_at),
    )


async def cancel_session(viewer: Viewer, session_id: int, reason: str = "") -> TrainingSession:
    """Cancel a session (HR admins, or its instructor). Enrollments stay as they are; check-in and
    new requests are refused from now on."""
    viewer.require_role(Role.HR_ADMIN, Role.INSTRUCTOR)
    reason = text(reason, "reason", 300, required=False)
    async with in_transaction() as connection:
        session = await _locked_for_edit(viewer, session_id, connection)
        if session.status != SessionStatus.CANCELLED:
            session.status = SessionStatus.CANCELLED
            await session.save(update_fields=["status", "updated_at"], using_db=connection)
            await audit(
                connection,
                viewer,
                viewer.tenant_id,
                "session.cancel",
                "TrainingSession",
                session.id,
                {"reason": reason},
            )
            changes = ChangeSet(viewer.tenant_id)
            changes.touch(Entity.TRAINING_SESSION, session.id)
            await rollups.note_session_cancelled(
                connection, changes.tally, viewer.tenant_id, session.id, _times(session, {})
            )
            facts = (await session_notices.session_facts(connection, viewer.tenant_id, [session.id]))[session.id]
            changes.notify(
                *session_notices.tell_everyone(
                    NotificationKind.SESSION_CANCELLED,
                    f"session:{session.id}:cancelled",
                    facts,
                    await session_notices.people_of(connection, session.id),
                    {"reason": reason},
                    expires_at=facts.starts_at,
                    actor_id=viewer.employee_id,
                )
            )
            await changes.publish(connection)
    return await _shown(viewer, session.id)


# --- reading ------------------------------------------------------------------------------------


def _related(query):
    return query.select_related("course", "module", "site", "instructor")


async def get_session(viewer: Viewer, session_id: int) -> TrainingSession | None:
    """A session the viewer may see (a published course's, or any for HR admins and instructors),
    or None. Seeing is not attending: eligibility is checked when enrolling."""
    query = TrainingSession.filter(tenant_id=viewer.tenant_id, id=session_id)
    if not manages_sessions(viewer):
        query = query.filter(course__status=CourseStatus.PUBLISHED)
    return await _related(query).first()


async def list_sessions(
    viewer: Viewer,
    first: int,
    after: str | None,
    session_filter: SessionFilter,
    max_page_size: int,
    learner: LearnerProfile | None = None,
    now: datetime | None = None,
) -> Page[TrainingSession]:
    """Upcoming sessions (not yet ended) in (start time, id) order.

    Employees see the sessions they may attend: published course, eligible, not cancelled. HR
    admins and instructors see every upcoming session."""
    first = check_page_size(first, max_page_size)
    now = now or datetime.now(UTC)
    query = TrainingSession.filter(tenant_id=viewer.tenant_id, ends_at__gt=now)
    if not manages_sessions(viewer):
        query = query.filter(course__status=CourseStatus.PUBLISHED).exclude(status=SessionStatus.CANCELLED)
        learner = learner or await learner_profile(viewer)
        ineligible = await ineligible_course_ids(viewer.tenant_id, learner)
        if ineligible:
            query = query.filter(course_id__not_in=sorted(ineligible))
    if session_filter.course_id is not None:
        query = query.filter(course_id=session_filter.course_id)
    if session_filter.site_id is not None:
        query = query.filter(site_id=session_filter.site_id)
    return await SESSION_ORDER.fetch(_related(query), first, after)


async def sessions_by_id(tenant_id: int, ids: list[int]) -> dict[int, TrainingSession]:
    rows = await _related(TrainingSession.filter(tenant_id=tenant_id, id__in=ids))
    return {row.id: row for row in rows}


async def _shown(viewer: Viewer, session_id: int) -> TrainingSession:
    """A session just written, as it now is, with the relations every answer shows."""
    return await _related(TrainingSession.filter(tenant_id=viewer.tenant_id, id=session_id)).get()


def check_in_opens_at(session: TrainingSession) -> datetime:
    return session.starts_at - timedelta(minutes=session.checkin_opens_minutes)


def late_after(session: TrainingSession) -> datetime:
    return session.starts_at + timedelta(minutes=session.late_after_minutes)


__all__ = [
    "SessionFilter",
    "SessionInput",
    "audit",
    "cancel_session",
    "create_session",
    "get_session",
    "list_sessions",
    "manages_sessions",
    "may_edit",
    "update_session",
]
