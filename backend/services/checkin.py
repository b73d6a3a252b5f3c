"""Check-in and check-out: the CHECK_IN and CHECK_OUT record kinds, the instructor's kit, the
roster and manual marks.

A scan is judged by when it happened (the record's corrected time), not when it reached the
server: a phone that scanned in a plant without signal and synced two days later checks in as it
would have then. One attendance per employee and session, by database key: a second scan is
harmless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Attendance,
    AttendanceStatus,
    CreditActivity,
    Enrollment,
    EnrollmentStatus,
    RecordStatus,
    SessionStatus,
    TrainingSession,
)
from backend.services import credits, qr
from backend.services.activity import (
    ApplyContext,
    Outcome,
    ParsedRecord,
    invalid_payload,
    payload_id,
    register,
)
from backend.services.audit import audit
from backend.services.feed import ChangeSet
from backend.services.viewer import Viewer
from backend.sql import db_time, db_uuid, placeholders

CHECK_IN = "CHECK_IN"
CHECK_OUT = "CHECK_OUT"
FAR_FROM_SITE_METRES = 1000


@dataclass(frozen=True)
class Scan:
    token: str
    latitude: float | None
    longitude: float | None


def _coordinate(payload: dict[str, Any], name: str, limit: float) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
        raise invalid_payload(name)
    return float(value)


def _metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def judge_scan(session: TrainingSession, tenant_id: int, token: str, scanned_at: datetime) -> AttendanceStatus:
    """PRESENT or LATE for a valid scan at ``scanned_at``; the stable rejection otherwise."""
    session_id, step, mac = qr.parse(token)
    if session.id != session_id or not qr.mac_matches(session.secret, tenant_id, session_id, step, mac):
        raise DomainError(ErrorCode.QR_INVALID)
    if abs(step - qr.step_at(scanned_at, session.rotation_seconds)) > 1:
        raise DomainError(ErrorCode.QR_EXPIRED)
    if session.status == SessionStatus.CANCELLED:
        raise DomainError(ErrorCode.SESSION_CANCELLED)
    opens = session.starts_at - timedelta(minutes=session.checkin_opens_minutes)
    if not opens <= scanned_at <= session.ends_at:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN)
    late_from = session.starts_at + timedelta(minutes=session.late_after_minutes)
    return AttendanceStatus.PRESENT if scanned_at <= late_from else AttendanceStatus.LATE


class CheckIn:
    """Payload: ``{"token": "XF1-…", "latitude": …, "longitude": …}`` (location optional)."""

    kind = CHECK_IN

    def parse(self, payload: dict[str, Any]) -> Scan:
        if not isinstance(payload, dict) or not isinstance(payload.get("token"), str):
            raise invalid_payload("token")
        return Scan(payload["token"][:64], _coordinate(payload, "latitude", 90), _coordinate(payload, "longitude", 180))

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        session_ids = set()
        for parsed in records:
            try:
                session_ids.add(qr.parse(parsed.payload.token)[0])
            except DomainError:
                pass
        sessions = {
            s.id: s
            for s in await TrainingSession.filter(tenant_id=viewer.tenant_id, id__in=list(session_ids))
            .select_related("site")
            .using_db(connection)
        }
        enrolled = set(
            await Enrollment.filter(
                tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, session_id__in=list(sessions),
                status=EnrollmentStatus.ENROLLED,
            ).using_db(connection).values_list("session_id", flat=True)
        )
        outcomes = []
        for parsed in records:
            try:
                session_id = qr.parse(parsed.payload.token)[0]
                session = sessions.get(session_id)
                if session is None:  # another tenant's or a made-up session: just invalid
                    raise DomainError(ErrorCode.QR_INVALID)
                status = judge_scan(session, viewer.tenant_id, parsed.payload.token, parsed.occurred_at)
                if session.id not in enrolled and not session.allows_walk_in:
                    raise DomainError(ErrorCode.NOT_ENROLLED)
            except DomainError as error:
                outcomes.append(Outcome.rejected(error))
                continue
            flags = list(parsed.flags) + _location_flags(session, parsed.payload)
            await _record_attendance(context, session, status, parsed, flags)
            credits.note(context, attendance_creditable(viewer.employee_id, session, status, parsed.occurred_at,
                                                        parsed.record.id))
            outcomes.append(Outcome(RecordStatus.ACCEPTED, params={"status": status.value}))
        return outcomes


def _location_flags(session: TrainingSession, scan: Scan) -> list[str]:
    site = session.site
    if scan.latitude is None or scan.longitude is None:
        return ["NO_LOCATION"]
    if site.latitude is None or site.longitude is None:
        return []
    distance = _metres_between(scan.latitude, scan.longitude, site.latitude, site.longitude)
    return ["FAR_FROM_SITE"] if distance > FAR_FROM_SITE_METRES else []


async def _record_attendance(context: ApplyContext, session, status, parsed: ParsedRecord, flags) -> None:
    """Insert the attendance unless there is one already (the first scan counts)."""
    connection, viewer = context.connection, context.viewer
    now = db_time(connection, context.received_at)
    values = [
        viewer.tenant_id, session.id, viewer.employee_id, status.value,
        db_time(connection, parsed.occurred_at), db_uuid(connection, parsed.record.id), context.device.id,
        context.clock_offset_ms, ",".join(sorted(set(flags))),
        parsed.payload.latitude, parsed.payload.longitude, False, "", "", now, now,
    ]
    await connection.execute_query(
        "INSERT INTO attendance (tenant_id, session_id, employee_id, status, checked_in_at, record_id,"
        " device_id, clock_offset_ms, risk_flags, latitude, longitude, manual, reason, hold_reason,"
        " created_at, updated_at)"
        f" VALUES ({placeholders(connection, 16)}) ON CONFLICT (session_id, employee_id) DO NOTHING",
        values,
    )


class CheckOut:
    """Payload: ``{"sessionId": "<TrainingSession global ID>"}``; gives the attendance a duration."""

    kind = CHECK_OUT

    def parse(self, payload: dict[str, Any]) -> int:
        return payload_id(payload, "sessionId", "TrainingSession")

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        outcomes = []
        for parsed in records:
            updated = await Attendance.filter(
                tenant_id=viewer.tenant_id, session_id=parsed.payload, employee_id=viewer.employee_id,
                checked_in_at__lte=parsed.occurred_at,
            ).using_db(connection).update(checked_out_at=parsed.occurred_at)
            outcomes.append(
                Outcome(RecordStatus.ACCEPTED) if updated else Outcome.rejected(DomainError(ErrorCode.NOT_CHECKED_IN))
            )
        return outcomes


async def session_for_instructor(viewer: Viewer, session_id: int) -> TrainingSession:
    """The session, if the viewer is its instructor (HR admins too); FORBIDDEN / NOT_FOUND."""
    session = await TrainingSession.filter(tenant_id=viewer.tenant_id, id=session_id).select_related("site").first()
    if session is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if session.instructor_id != viewer.employee_id:
        raise DomainError(ErrorCode.FORBIDDEN)
    return session


async def roster(viewer: Viewer, session_id: int) -> tuple[TrainingSession, list[dict[str, Any]]]:
    """Who is in, late or absent: every enrolled employee and every attendance (walk-ins too)."""
    session = await session_for_instructor(viewer, session_id)
    enrolled = await Enrollment.filter(session_id=session.id, status=EnrollmentStatus.ENROLLED).values_list(
        "employee_id", flat=True
    )
    attendances = {a.employee_id: a for a in await Attendance.filter(session_id=session.id)}
    rows = []
    for employee_id in sorted(set(enrolled) | set(attendances)):
        attendance = attendances.get(employee_id)
        rows.append({"employee_id": employee_id, "enrolled": employee_id in set(enrolled), "attendance": attendance})
    return session, rows


def attendance_creditable(employee_id: int, session: TrainingSession, status: AttendanceStatus,
                          at: datetime, record_id=None) -> credits.Creditable:
    """Attending a session, for the credit rules: one fact per employee and session (a second
    scan or a manual correction is the same fact). Score 100 on time, 50 late, so a rule with
    minScore 100 credits punctual attendance only."""
    return credits.Creditable(
        employee_id, CreditActivity.ATTENDANCE, f"attendance:{employee_id}:{session.id}", at, record_id,
        session.course_id, session.module_id, 100 if status == AttendanceStatus.PRESENT else 50,
    )


async def mark_attendance(
    viewer: Viewer, session_id: int, employee_id: int, status: AttendanceStatus, reason: str
) -> Attendance:
    """An instructor's manual mark (a phone without a camera, a forgotten phone), with a reason;
    audited."""
    if not reason.strip():
        raise DomainError(ErrorCode.VALIDATION, field="reason", reason_key="reason.required")
    session = await session_for_instructor(viewer, session_id)
    if not await Enrollment.filter(session_id=session.id, employee_id=employee_id).exists() and not session.allows_walk_in:
        raise DomainError(ErrorCode.NOT_ENROLLED)
    async with in_transaction() as connection:
        attendance, _ = await Attendance.update_or_create(
            tenant_id=viewer.tenant_id, session_id=session.id, employee_id=employee_id,
            defaults={"status": status, "manual": True, "marked_by_id": viewer.employee_id, "reason": reason[:300]},
            using_db=connection,
        )
        await audit(
            connection, viewer, viewer.tenant_id, "ATTENDANCE_MARKED", "Attendance", attendance.id,
            {"session": session.id, "employee": employee_id, "status": status.value, "reason": reason[:300]},
        )
        if status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE):
            now = datetime.now(timezone.utc)
            context = ApplyContext(viewer, None, connection, ChangeSet(viewer.tenant_id), now)  # type: ignore[arg-type]
            credits.note(context, attendance_creditable(employee_id, session, status, session.starts_at))
            await context.finish()
    return attendance


register(CheckIn())
register(CheckOut())
