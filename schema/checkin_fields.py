"""Check-in fields: the instructor's kit and roster, manual marks, and the online twins of the
CHECK_IN and CHECK_OUT record kinds (the same service as a synced scan)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import strawberry

from backend.errors import DomainError
from backend.ids import expect_global_id, to_global_id
from backend.models import AttendanceStatus as DomainAttendanceStatus
from backend.qr_pages import current_token, display_key
from backend.services import checkin
from schema.sync_fields import RecordPayload, _one_record
from schema.types.common import UserError
from schema.types.people import Colleague

AttendanceStatus = strawberry.enum(
    DomainAttendanceStatus, name="AttendanceStatus", description="How someone attended a session."
)


@strawberry.type(description="What an instructor's app needs to show rotating check-in codes offline.")
class CheckInKit:
    session_id: strawberry.ID = strawberry.field(description="The TrainingSession.")
    secret: str = strawberry.field(description="Hex HMAC key of the session. Keep it on the instructor's device only.")
    rotation_seconds: int = strawberry.field(description="A new code every this many seconds.")
    token_format: str = strawberry.field(
        description="How to build the code for Unix time t: step = floor(t / rotationSeconds); "
        "XF1-<session id base36>-<step base36>-<base32 of the first 10 bytes of "
        "HMAC-SHA256(secret, \"<tenant id>.<session id>.<step>\")>, upper case."
    )
    tenant_key: int = strawberry.field(description="The tenant id used in the MAC input.")
    session_key: int = strawberry.field(description="The session id used in the code and the MAC input.")
    current_token: str = strawberry.field(description="The code right now (to check an implementation).")
    check_in_opens_at: datetime = strawberry.field(description="Check-in opens (UTC).")
    ends_at: datetime = strawberry.field(description="The session ends; codes stop working for scans after it.")
    projector_path: str = strawberry.field(
        description="Path of a full-screen page showing the rotating code, with a display key valid "
        "until the session ends (for a projector or a browser)."
    )


@strawberry.type(description="One line of a session's roster.")
class RosterEntry:
    employee: Colleague = strawberry.field(description="Who.")
    enrolled: bool = strawberry.field(description="Whether they are enrolled (or came as walk-ins).")
    status: AttendanceStatus = strawberry.field(description="PRESENT, LATE, ABSENT (no check-in yet) or EXCUSED.")
    checked_in_at: datetime | None = strawberry.field(description="Scan time (corrected device time).")
    checked_out_at: datetime | None = strawberry.field(description="Check-out time, if any.")
    duration_minutes: int | None = strawberry.field(description="Minutes between check-in and check-out.")
    manual: bool = strawberry.field(description="Marked by the instructor rather than scanned.")
    reason: str = strawberry.field(description="The reason of a manual mark.")
    risk_flags: list[str] = strawberry.field(
        description="Integrity signals: CLOCK_SKEW, FUTURE, NO_LOCATION, FAR_FROM_SITE."
    )


@strawberry.type(description="Who is in, late or absent.")
class Roster:
    session_id: strawberry.ID = strawberry.field(description="The TrainingSession.")
    present: int = strawberry.field(description="Present on time.")
    late: int = strawberry.field(description="Checked in late.")
    absent: int = strawberry.field(description="Enrolled without a check-in.")
    entries: list[RosterEntry] = strawberry.field(description="Everyone enrolled or checked in.")


@strawberry.type(description="Result of markAttendance.")
class MarkAttendancePayload:
    entry: RosterEntry | None = strawberry.field(description="The roster line after the mark.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


@strawberry.input(description="A scanned check-in code, online.")
class CheckInInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    token: str = strawberry.field(description="The scanned code.")
    scanned_at: datetime | None = strawberry.field(default=None, description="When it was scanned; now if omitted.")
    latitude: float | None = strawberry.field(default=None, description="Where (optional).")
    longitude: float | None = strawberry.field(default=None, description="Where (optional).")


@strawberry.input(description="Leaving a session, online.")
class CheckOutInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    session_id: strawberry.ID = strawberry.field(description="The TrainingSession.")
    at: datetime | None = strawberry.field(default=None, description="When; now if omitted.")


@strawberry.input(description="An instructor's manual mark, with the reason (audited).")
class MarkAttendanceInput:
    session_id: strawberry.ID = strawberry.field(description="The TrainingSession.")
    employee_id: strawberry.ID = strawberry.field(description="The Employee.")
    status: AttendanceStatus = strawberry.field(description="PRESENT, LATE, ABSENT or EXCUSED.")
    reason: str = strawberry.field(description="Why (required).")


def _entry(employee, enrolled: bool, attendance) -> RosterEntry:
    duration = None
    if attendance and attendance.checked_in_at and attendance.checked_out_at:
        duration = int((attendance.checked_out_at - attendance.checked_in_at).total_seconds() // 60)
    return RosterEntry(
        employee=Colleague.from_model(employee),
        enrolled=enrolled,
        status=attendance.status if attendance else DomainAttendanceStatus.ABSENT,
        checked_in_at=attendance.checked_in_at if attendance else None,
        checked_out_at=attendance.checked_out_at if attendance else None,
        duration_minutes=duration,
        manual=attendance.manual if attendance else False,
        reason=attendance.reason if attendance else "",
        risk_flags=[f for f in (attendance.risk_flags if attendance else "").split(",") if f],
    )


@strawberry.type
class CheckInQueries:
    @strawberry.field(description="The rotating-code kit of a session (its instructor only).")
    async def session_check_in_kit(
        self, info: strawberry.Info,
        session_id: Annotated[strawberry.ID, strawberry.argument(description="The TrainingSession.")],
    ) -> CheckInKit:
        viewer = await info.context.require_viewer()
        session = await checkin.session_for_instructor(viewer, expect_global_id(session_id, "TrainingSession"))
        return CheckInKit(
            session_id=strawberry.ID(to_global_id("TrainingSession", session.id)),
            secret=session.secret,
            rotation_seconds=session.rotation_seconds,
            token_format="XF1",
            tenant_key=session.tenant_id,
            session_key=session.id,
            current_token=current_token(session),
            check_in_opens_at=session.starts_at - timedelta(minutes=session.checkin_opens_minutes),
            ends_at=session.ends_at,
            projector_path=f"/sessions/{session.id}/projector?key={display_key(info.context.settings, session)}",
        )

    @strawberry.field(description="Who is in, late or absent (the session's instructor only).")
    async def session_roster(
        self, info: strawberry.Info,
        session_id: Annotated[strawberry.ID, strawberry.argument(description="The TrainingSession.")],
    ) -> Roster:
        viewer = await info.context.require_viewer()
        session, rows = await checkin.roster(viewer, expect_global_id(session_id, "TrainingSession"))
        loaders = await info.context.loaders()
        entries = []
        for row in rows:
            employee = await loaders.employee.load(row["employee_id"])
            entries.append(_entry(employee, row["enrolled"], row["attendance"]))
        return Roster(
            session_id=strawberry.ID(to_global_id("TrainingSession", session.id)),
            present=sum(e.status == DomainAttendanceStatus.PRESENT for e in entries),
            late=sum(e.status == DomainAttendanceStatus.LATE for e in entries),
            absent=sum(e.status == DomainAttendanceStatus.ABSENT for e in entries),
            entries=entries,
        )


@strawberry.type
class CheckInMutations:
    @strawberry.mutation(description="Check in with a scanned code: the CHECK_IN kind, online.")
    async def check_in(
        self, info: strawberry.Info,
        input: Annotated[CheckInInput, strawberry.argument(description="The scan.")],
    ) -> RecordPayload:
        payload = {"token": input.token, "latitude": input.latitude, "longitude": input.longitude}
        return await _one_record(info, input.client_id, checkin.CHECK_IN, input.scanned_at, payload)

    @strawberry.mutation(description="Check out of a session: the CHECK_OUT kind, online.")
    async def check_out(
        self, info: strawberry.Info,
        input: Annotated[CheckOutInput, strawberry.argument(description="The session.")],
    ) -> RecordPayload:
        return await _one_record(info, input.client_id, checkin.CHECK_OUT, input.at, {"sessionId": str(input.session_id)})

    @strawberry.mutation(description="Mark someone's attendance by hand, with a reason (audited).")
    async def mark_attendance(
        self, info: strawberry.Info,
        input: Annotated[MarkAttendanceInput, strawberry.argument(description="The mark.")],
    ) -> MarkAttendancePayload:
        viewer = await info.context.require_viewer()
        try:
            session_id = expect_global_id(input.session_id, "TrainingSession", "sessionId")
            employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
            attendance = await checkin.mark_attendance(viewer, session_id, employee_id, input.status, input.reason)
        except DomainError as error:
            return MarkAttendancePayload(entry=None, errors=[UserError.from_domain(error, info.context.locale)])
        employee = await (await info.context.loaders()).employee.load(employee_id)
        return MarkAttendancePayload(entry=_entry(employee, True, attendance), errors=[])
