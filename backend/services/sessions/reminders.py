"""Session reminders, a scheduled job: SESSION_TOMORROW and SESSION_SOON to a session's
instructor and enrolled employees (docs/notification-events.md).

Windows rather than moments, so the rule holds whether the job runs every 5 or every 15 minutes
and after downtime: a session is reminded of "tomorrow" when the job first sees it starting more
than one hour and at most 24 hours ahead, and "soon" when it first sees it starting within the
hour. The windows do not overlap, so a session first seen late (scheduled at short notice, or
after the job was down) gets the one that fits, never both at once. The key names the session and
its start (``session:<id>:tomorrow:<start>``): a rerun, a second worker or a later run tells no one
twice, a session moved to another start is reminded again, and someone enrolled after a reminder
went out gets it on the next run. A reminder expires at the start: worthless once it has begun.

Only SCHEDULED and OPEN sessions; only ENROLLED employees (a PENDING request is not a place yet,
a waiting employee has no seat). Per run: one query for the sessions, one for the people not yet
told (``NOT EXISTS`` against their notifications), one insert.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from tortoise import connections

from backend.models import EnrollmentStatus, NotificationKind, SessionStatus, TrainingSession
from backend.services.notifications import standalone
from backend.services.notifications.notices import Notice
from backend.services.sessions import session_notices
from backend.sql import Params

TOMORROW = timedelta(hours=24)
SOON = timedelta(hours=1)


def _window(kind: NotificationKind) -> str:
    return "tomorrow" if kind == NotificationKind.SESSION_TOMORROW else "soon"


def reminder_key(kind: NotificationKind, session_id: int, starts_at: datetime) -> str:
    return f"session:{session_id}:{_window(kind)}:{session_notices.iso(starts_at)}"


async def session_reminders(tenant_id: int, now: datetime) -> int:
    """Remind the people of the company's sessions starting soon; how many notices were new."""
    found = (
        await TrainingSession.filter(
            tenant_id=tenant_id,
            status__in=[SessionStatus.SCHEDULED, SessionStatus.OPEN],
            starts_at__gt=now,
            starts_at__lte=now + TOMORROW,
        )
        .order_by("starts_at", "id")
        .values_list("id", flat=True)
    )
    ids = cast(list[int], found)
    if not ids:
        return 0
    connection = connections.get("default")
    sessions = await session_notices.session_facts(connection, tenant_id, ids)
    keys: dict[int, tuple[NotificationKind, str]] = {}
    for session in sessions.values():
        kind = NotificationKind.SESSION_SOON if session.starts_at <= now + SOON else NotificationKind.SESSION_TOMORROW
        keys[session.id] = (kind, reminder_key(kind, session.id, session.starts_at))
    p = Params(connection)
    table = p.rows([(session_id, key) for session_id, (_, key) in keys.items()], ("int", "text"))
    rows = await connection.execute_query_dict(
        f"WITH k(session_id, event_key) AS ({table})"
        " SELECT en.session_id AS session_id, en.employee_id AS employee_id"
        " FROM enrollment en JOIN k ON k.session_id = en.session_id"
        f" WHERE en.tenant_id = {p(tenant_id)} AND en.status = {p(EnrollmentStatus.ENROLLED.value)}"
        " AND NOT EXISTS (SELECT 1 FROM notification n"
        f" WHERE n.tenant_id = {p(tenant_id)} AND n.recipient_id = en.employee_id AND n.event_key = k.event_key)",
        p.values,
    )
    people: dict[int, list[int]] = {session_id: [] for session_id in keys}
    for row in rows:
        people[int(row["session_id"])].append(int(row["employee_id"]))
    told: list[Notice] = []
    for session_id, (kind, key) in keys.items():
        session = sessions[session_id]
        # The instructor goes through the insert's ON CONFLICT: one row per session, not worth a query.
        told += session_notices.tell_everyone(kind, key, session, people[session_id], {}, session.starts_at)
    return await standalone.tell(tenant_id, told, now)
