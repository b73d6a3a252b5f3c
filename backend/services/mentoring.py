"""Mentorships: who mentors whom, per OJT plan (course) and dates.

A mentee's current mentor for a course on a day is the mentor of a mentorship of that mentee
covering the day, for that course or for all courses (course null). Only that person confirms the
mentee's practice or scores them; a role alone gives no such right.
"""

from __future__ import annotations

from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from backend.errors import DomainError, ErrorCode
from backend.models import Mentorship


async def current_mentor_ids(
    tenant_id: int, mentee_id: int, course_id: int, on: date, connection: BaseDBAsyncClient | None = None
) -> set[int]:
    """The mentors of ``mentee_id`` for ``course_id`` on day ``on``."""
    query = Mentorship.filter(
        Q(course_id=course_id) | Q(course_id=None),
        Q(ends_on=None) | Q(ends_on__gte=on),
        tenant_id=tenant_id, mentee_id=mentee_id, starts_on__lte=on,
    )
    if connection is not None:
        query = query.using_db(connection)
    return set(await query.values_list("mentor_id", flat=True))


async def require_current_mentor(
    tenant_id: int, mentor_id: int, mentee_id: int, course_id: int, on: date,
    connection: BaseDBAsyncClient | None = None,
) -> None:
    """NOT_YOUR_MENTEE unless ``mentor_id`` is a current mentor of the mentee for the course."""
    if mentor_id not in await current_mentor_ids(tenant_id, mentee_id, course_id, on, connection):
        raise DomainError(ErrorCode.NOT_YOUR_MENTEE)
