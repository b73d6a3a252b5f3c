"""Mentorships: who mentors whom, per OJT plan (course) and dates, managed by HR admins (audited).

A mentee's current mentor for a course on a day is the mentor of a mentorship of that mentee
covering the day, for that course or for all courses (course null). Only that person confirms the
mentee's practice, grades their open quiz answers or scores them; a role alone gives no such right.
Days are the mentee's local days (their site's time zone): a mentorship ending on the 31st covers
23:00 in Shanghai that day. Every service that asks "is this their current mentor?" judges the day
here (``local_day``, ``mentee_day``, ``current_mentorships``), so the answer is the same everywhere.

Practice logs and their reviews are ``practice``; it builds on this module. A mentorship's own
rows still count its mentee's PENDING logs and send them to a mentor who gains or loses sight of
them, since that follows from the mentorship changing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import Course, Employee, Mentorship, PracticeLog, PracticeStatus, Role
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.viewer import Viewer

DEFAULT_TIME_ZONE = "Asia/Shanghai"


# --- who mentors whom ---------------------------------------------------------------------------


async def current_mentor_ids(
    tenant_id: int, mentee_id: int, course_id: int, on: date, connection: BaseDBAsyncClient | None = None
) -> set[int]:
    """The mentors of ``mentee_id`` for ``course_id`` on day ``on``."""
    query = Mentorship.filter(
        Q(course_id=course_id) | Q(course_id=None),
        Q(ends_on=None) | Q(ends_on__gte=on),
        tenant_id=tenant_id,
        mentee_id=mentee_id,
        starts_on__lte=on,
    )
    if connection is not None:
        query = query.using_db(connection)
    return {mentor_id for (mentor_id,) in await query.values_list("mentor_id")}


async def require_current_mentor(
    tenant_id: int,
    mentor_id: int,
    mentee_id: int,
    course_id: int,
    on: date,
    connection: BaseDBAsyncClient | None = None,
) -> None:
    """NOT_YOUR_MENTEE unless ``mentor_id`` is a current mentor of the mentee for the course."""
    if mentor_id not in await current_mentor_ids(tenant_id, mentee_id, course_id, on, connection):
        raise DomainError(ErrorCode.NOT_YOUR_MENTEE)


def local_day(moment: datetime, time_zone: str | None) -> date:
    """The calendar day of ``moment`` in ``time_zone`` (Asia/Shanghai when unknown)."""
    try:
        zone = ZoneInfo(time_zone or DEFAULT_TIME_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TIME_ZONE)
    return moment.astimezone(zone).date()


async def time_zones(
    tenant_id: int, employee_ids: set[int] | list[int], connection: BaseDBAsyncClient | None = None
) -> dict[int, str | None]:
    """Each employee's site time zone (None without a site), for their local days."""
    query = Employee.filter(tenant_id=tenant_id, id__in=list(employee_ids))
    if connection is not None:
        query = query.using_db(connection)
    return dict(await query.values_list("id", "site__time_zone"))


async def mentee_day(
    tenant_id: int, mentee_id: int, moment: datetime, connection: BaseDBAsyncClient | None = None
) -> date:
    """The mentee's calendar day at ``moment``: the day their mentorships are judged on."""
    zones = await time_zones(tenant_id, [mentee_id], connection)
    return local_day(moment, zones.get(mentee_id))


def covers(mentorship: Mentorship, day: date, course_id: int | None = None) -> bool:
    """Whether a mentorship is in force on ``day`` (for ``course_id`` when given)."""
    in_dates = mentorship.starts_on <= day and (mentorship.ends_on is None or mentorship.ends_on >= day)
    in_scope = course_id is None or mentorship.course_id is None or mentorship.course_id == course_id
    return in_dates and in_scope


async def current_mentorships(
    tenant_id: int, now: datetime, connection: BaseDBAsyncClient | None = None, **match: Any
) -> list[Mentorship]:
    """Mentorships matching ``match`` (mentor_id=…, mentee_id__in=…) in force today, each judged
    on its mentee's local day."""
    query = Mentorship.filter(tenant_id=tenant_id, **match)
    if connection is not None:
        query = query.using_db(connection)
    rows = await query.order_by("starts_on", "id")
    zones = await time_zones(tenant_id, {row.mentee_id for row in rows}, connection) if rows else {}
    return [row for row in rows if covers(row, local_day(now, zones.get(row.mentee_id)))]


# --- mentorships, managed by HR ------------------------------------------------------------------


async def _active_employee(connection: BaseDBAsyncClient, tenant_id: int, employee_id: int, field: str) -> Employee:
    employee = await Employee.filter(tenant_id=tenant_id, id=employee_id).using_db(connection).first()
    if employee is None:
        raise DomainError(ErrorCode.NOT_FOUND, field=field)
    if not employee.is_active:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.inactive_employee")
    return employee


async def _touch_mentorship(connection: BaseDBAsyncClient, changes: ChangeSet, mentorship: Mentorship) -> None:
    """Send the mentorship to both people, and the mentee's practice logs in its scope to the
    mentor (who gains or loses sight of them)."""
    changes.touch(Entity.MENTORSHIP, mentorship.id, audience=mentorship.mentor_id)
    changes.touch(Entity.MENTORSHIP, mentorship.id, audience=mentorship.mentee_id)
    logs = PracticeLog.filter(tenant_id=mentorship.tenant_id, employee_id=mentorship.mentee_id)
    if mentorship.course_id is not None:
        logs = logs.filter(course_id=mentorship.course_id)
    for log_id in await logs.using_db(connection).values_list("id", flat=True):
        changes.touch(Entity.PRACTICE_LOG, log_id, audience=mentorship.mentor_id)


async def create_mentorship(
    viewer: Viewer,
    mentor_id: int,
    mentee_id: int,
    course_id: int | None,
    starts_on: date,
    ends_on: date | None = None,
    now: datetime | None = None,
) -> Mentorship:
    """Make ``mentor_id`` the mentor of ``mentee_id`` for a course (None: every course) from
    ``starts_on`` to ``ends_on`` (None: open-ended). HR admins only; audited."""
    viewer.require_role(Role.HR_ADMIN)
    if mentor_id == mentee_id:
        raise DomainError(ErrorCode.VALIDATION, field="menteeId", reason_key="reason.self_mentoring")
    if ends_on is not None and ends_on < starts_on:
        raise DomainError(ErrorCode.VALIDATION, field="endsOn", reason_key="reason.ends_before_start")
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        await _active_employee(connection, viewer.tenant_id, mentor_id, "mentorId")
        await _active_employee(connection, viewer.tenant_id, mentee_id, "menteeId")
        if (
            course_id is not None
            and not await Course.filter(tenant_id=viewer.tenant_id, id=course_id).using_db(connection).exists()
        ):
            raise DomainError(ErrorCode.NOT_FOUND, field="courseId")
        mentorship = await Mentorship.create(
            tenant_id=viewer.tenant_id,
            mentor_id=mentor_id,
            mentee_id=mentee_id,
            course_id=course_id,
            starts_on=starts_on,
            ends_on=ends_on,
            using_db=connection,
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "mentorship.create",
            "Mentorship",
            mentorship.id,
            {
                "mentorId": mentor_id,
                "menteeId": mentee_id,
                "courseId": course_id,
                "startsOn": starts_on.isoformat(),
                "endsOn": ends_on.isoformat() if ends_on else None,
            },
        )
        changes = ChangeSet(viewer.tenant_id)
        await _touch_mentorship(connection, changes, mentorship)
        await changes.publish(connection, now)
    return mentorship


async def end_mentorship(viewer: Viewer, mentorship_id: int, ends_on: date, now: datetime | None = None) -> Mentorship:
    """Set the last day of a mentorship (earlier or later than before, never before its start).
    HR admins only; audited."""
    viewer.require_role(Role.HR_ADMIN)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        mentorship = (
            await Mentorship.filter(tenant_id=viewer.tenant_id, id=mentorship_id)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if mentorship is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="mentorshipId")
        if ends_on < mentorship.starts_on:
            raise DomainError(ErrorCode.VALIDATION, field="endsOn", reason_key="reason.ends_before_start")
        previous = mentorship.ends_on
        await Mentorship.filter(id=mentorship.id).using_db(connection).update(ends_on=ends_on, updated_at=now)
        mentorship.ends_on = ends_on
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "mentorship.end",
            "Mentorship",
            mentorship.id,
            {
                "previousEndsOn": previous.isoformat() if previous else None,
                "endsOn": ends_on.isoformat(),
            },
        )
        changes = ChangeSet(viewer.tenant_id)
        await _touch_mentorship(connection, changes, mentorship)
        await changes.publish(connection, now)
    return mentorship


async def pending_counts(tenant_id: int, mentorships: list[Mentorship]) -> dict[int, int]:
    """PENDING practice logs in each mentorship's scope (its mentee, its course or all)."""
    if not mentorships:
        return {}
    rows = (
        await PracticeLog.filter(
            tenant_id=tenant_id,
            status=PracticeStatus.PENDING,
            employee_id__in=list({m.mentee_id for m in mentorships}),
        )
        .annotate(count=Count("id"))
        .group_by("employee_id", "course_id")
        .values_list("employee_id", "course_id", "count")
    )
    by_mentee: dict[int, dict[int, int]] = defaultdict(dict)
    for employee_id, course_id, count in rows:
        by_mentee[employee_id][course_id] = count
    return {
        m.id: sum(
            count
            for course_id, count in by_mentee[m.mentee_id].items()
            if m.course_id is None or course_id == m.course_id
        )
        for m in mentorships
    }


async def my_mentees(viewer: Viewer, now: datetime | None = None) -> list[tuple[Mentorship, int]]:
    """The viewer's mentorships as mentor in force today, with each one's PENDING practice count."""
    rows = await current_mentorships(viewer.tenant_id, now or datetime.now(UTC), mentor_id=viewer.employee_id)
    counts = await pending_counts(viewer.tenant_id, rows)
    return [(row, counts[row.id]) for row in rows]


async def my_mentors(viewer: Viewer, now: datetime | None = None) -> list[tuple[Mentorship, int]]:
    """The viewer's mentorships as mentee in force today, with their PENDING practice count."""
    rows = await current_mentorships(viewer.tenant_id, now or datetime.now(UTC), mentee_id=viewer.employee_id)
    counts = await pending_counts(viewer.tenant_id, rows)
    return [(row, counts[row.id]) for row in rows]


async def mentorships_of(viewer: Viewer, ids: list[int]) -> dict[int, Mentorship]:
    """Mentorships the viewer is the mentor or the mentee of, by id (the feed's rows)."""
    rows = await Mentorship.filter(
        Q(mentor_id=viewer.employee_id) | Q(mentee_id=viewer.employee_id),
        tenant_id=viewer.tenant_id,
        id__in=ids,
    ).select_related("mentor", "mentee")
    return {row.id: row for row in rows}


# --- feed backfill ------------------------------------------------------------------------------


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    for mentorship_id, mentor_id, mentee_id in await Mentorship.filter(tenant_id=tenant_id).values_list(
        "id", "mentor_id", "mentee_id"
    ):
        changes.touch(Entity.MENTORSHIP, mentorship_id, audience=mentor_id)
        changes.touch(Entity.MENTORSHIP, mentorship_id, audience=mentee_id)
