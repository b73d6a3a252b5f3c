"""Check-in fields: the instructor's kit and roster, manual marks, and the online twins of the
CHECK_IN and CHECK_OUT record kinds (the same service as a synced scan)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import strawberry

from backend.ids import expect_global_id, to_global_id
from backend.models import AttendanceStatus as DomainAttendanceStatus
from backend.qr_pages import current_token, projector_path
from backend.services.sessions import checkin
from schema.common import UserError
from schema.payloads import mutate
from schema.people.types import Colleague
from schema.sync.records import RecordPayload, submit_record

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
        'HMAC-SHA256(secret, "<tenant id>.<session id>.<step>")>, upper case.'
    )
    tenant_key: int = strawberry.field(description="The tenant id used in the MAC input.")
    session_key: int = strawberry.field(description="The session id used in the code and the MAC input.")
    current_token: str = strawberry.field(description="The code right now (to check an implementation).")
    check_in_opens_at: datetime = strawberry.field(description="Check-in opens (UTC).")
    ends_at: datetime = strawberry.field(description="The session ends; codes stop working for scans after it.")
    projector_path: str = strawberry.field(
        description="Path of a full-screen page showing the rotating code (for a projector or a browser). "
        "Its key is a bearer secret bound to this sign-in: it stops working at projectorExpiresAt "
        "(15 minutes by default) or when this device signs out, whichever comes first. Each kit gives a "
        "fresh link; the page does not renew itself."
    )
    projector_expires_at: datetime = strawberry.field(description="When projectorPath stops working (UTC).")


@strawberry.type(description="One line of a session's roster.")
class RosterEntry:
    employee: Colleague = strawberry.field(description="Who.")
    enrolled: bool = strawberry.field(description="Whether they are enrolled (or came as walk-ins).")
    status: AttendanceStatus = strawberry.field(
        description="PRESENT, LATE, ABSENT (no check-in yet) or EXCUSED; a held scan shows how it was judged."
    )
    held: str | None = strawberry.field(
        description="Why the scan is held for the instructor or HR instead of counted (decideHeldCheckIn): "
        "CLOCK_UNTRUSTED (the phone's clock could not be believed), LATE_SYNC (arrived long after it happened), "
        "SIGNED_IN_AFTER (the phone first signed in after the scan time), OUT_OF_ORDER (older than the phone's "
        "earlier records), ONLINE_SINCE (the phone was in touch with the server after the scan time without it); "
        "null when it counts."
    )
    checked_in_at: datetime | None = strawberry.field(description="Scan time as judged (UTC).")
    received_at: datetime | None = strawberry.field(description="When the scan reached the server.")
    checked_out_at: datetime | None = strawberry.field(description="Check-out time, if any.")
    duration_minutes: int | None = strawberry.field(description="Minutes between check-in and check-out.")
    manual: bool = strawberry.field(
        description="Marked by hand by the instructor or HR rather than scanned (a held scan they let through "
        "stays a scan)."
    )
    reason: str = strawberry.field(description="The reason of a manual mark or of a decision on a held scan.")
    code_step: str | None = strawberry.field(
        description="Which code was scanned: its time step (the same for everyone who scanned one code)."
    )
    device_tag: str | None = strawberry.field(
        description="The phone that scanned, as a short stable tag (the same phone, the same tag; its device id "
        "itself stays private)."
    )
    latitude: float | None = strawberry.field(description="Where the phone was, if it said.")
    longitude: float | None = strawberry.field(description="Where the phone was, if it said.")
    risk_flags: list[str] = strawberry.field(
        description="Integrity signals: CLOCK_SKEW, FUTURE, STALE, NO_LOCATION, FAR_FROM_SITE; and, from the whole "
        "roster, SHARED_CODE (one code used by more people than a room plausibly scans at once) and SHARED_DEVICE "
        "(one phone checked in several people)."
    )


@strawberry.type(description="Who is in, late or absent.")
class Roster:
    session_id: strawberry.ID = strawberry.field(description="The TrainingSession.")
    present: int = strawberry.field(description="Present on time (counted).")
    late: int = strawberry.field(description="Checked in late (counted).")
    held: int = strawberry.field(description="Scans held for a decision (not counted yet).")
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


@strawberry.type(description="Result of decideHeldCheckIn.")
class DecideHeldCheckInPayload:
    entry: RosterEntry | None = strawberry.field(description="The roster line after the decision.")
    errors: list[UserError] = strawberry.field(description="Expected failures (ALREADY_DECIDED when nothing is held).")


@strawberry.input(description="Let a held scan count, or refuse it.")
class DecideHeldCheckInInput:
    session_id: strawberry.ID = strawberry.field(description="The TrainingSession.")
    employee_id: strawberry.ID = strawberry.field(description="The Employee whose scan is held.")
    approve: bool = strawberry.field(description="True: it counts as judged (and earns its credits); false: ABSENT.")
    reason: str | None = strawberry.field(default=None, description="Why; required to refuse (up to 300).")


def _entry(info: strawberry.Info, employee, line: checkin.RosterLine) -> RosterEntry:
    attendance = line.attendance
    duration = None
    if attendance and attendance.checked_in_at and attendance.checked_out_at:
        duration = int((attendance.checked_out_at - attendance.checked_in_at).total_seconds() // 60)
    return RosterEntry(
        employee=Colleague.from_model(employee),
        enrolled=line.enrolled,
        status=attendance.status if attendance else DomainAttendanceStatus.ABSENT,
        held=(attendance.hold_reason or None) if attendance else None,
        checked_in_at=attendance.checked_in_at if attendance else None,
        received_at=attendance.received_at if attendance else None,
        checked_out_at=attendance.checked_out_at if attendance else None,
        duration_minutes=duration,
        manual=attendance.manual if attendance else False,
        reason=attendance.reason if attendance else "",
        code_step=str(attendance.code_step) if attendance and attendance.code_step is not None else None,
        device_tag=checkin.device_tag(info.context.settings.secret_key, employee.tenant_id, line.device_uid)
        if line.device_uid
        else None,
        latitude=attendance.latitude if attendance else None,
        longitude=attendance.longitude if attendance else None,
        risk_flags=line.risk_flags,
    )


async def _attendance_change(info: strawberry.Info, input, change, payload):
    """Run ``change(viewer, session id, employee id)`` on one roster line of ``input`` and answer
    ``payload`` with the line as the roster now shows it."""

    async def work(viewer):
        session_id = expect_global_id(input.session_id, "TrainingSession", "sessionId")
        employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
        await change(viewer, session_id, employee_id)
        return await _line(info, session_id, employee_id)

    return await mutate(info, work, lambda entry, errors: payload(entry=entry, errors=errors))


async def _line(info: strawberry.Info, session_id: int, employee_id: int) -> RosterEntry:
    """One roster line, as the roster shows it (with the roster-wide flags)."""
    viewer = await info.context.require_viewer()
    _, lines = await checkin.roster(viewer, session_id)
    checkin.flag_shared(lines, info.context.settings.checkin_shared_code)
    line = next(line for line in lines if line.employee_id == employee_id)
    return _entry(info, await (await info.context.loaders()).employee.load(employee_id), line)


@strawberry.type
class CheckInQueries:
    @strawberry.field(description="The rotating-code kit of a session (its instructor only).")
    async def session_check_in_kit(
        self,
        info: strawberry.Info,
        session_id: Annotated[strawberry.ID, strawberry.argument(description="The TrainingSession.")],
    ) -> CheckInKit:
        viewer = await info.context.require_viewer()
        session = await checkin.session_for_instructor(viewer, expect_global_id(session_id, "TrainingSession"))
        path, path_expires_at = projector_path(info.context.settings, session, viewer)
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
            projector_path=path,
            projector_expires_at=path_expires_at,
        )

    @strawberry.field(description="Who is in, late or absent (the session's instructor only).")
    async def session_roster(
        self,
        info: strawberry.Info,
        session_id: Annotated[strawberry.ID, strawberry.argument(description="The TrainingSession.")],
    ) -> Roster:
        viewer = await info.context.require_viewer()
        session, lines = await checkin.roster(viewer, expect_global_id(session_id, "TrainingSession"))
        checkin.flag_shared(lines, info.context.settings.checkin_shared_code)
        loaders = await info.context.loaders()
        entries = [_entry(info, await loaders.employee.load(line.employee_id), line) for line in lines]
        counted = [e for e in entries if e.held is None]
        return Roster(
            session_id=strawberry.ID(to_global_id("TrainingSession", session.id)),
            present=sum(e.status == DomainAttendanceStatus.PRESENT for e in counted),
            late=sum(e.status == DomainAttendanceStatus.LATE for e in counted),
            held=len(entries) - len(counted),
            absent=sum(e.status == DomainAttendanceStatus.ABSENT for e in entries),
            entries=entries,
        )


@strawberry.type
class CheckInMutations:
    @strawberry.mutation(description="Check in with a scanned code: the CHECK_IN kind, online.")
    async def check_in(
        self,
        info: strawberry.Info,
        input: Annotated[CheckInInput, strawberry.argument(description="The scan.")],
    ) -> RecordPayload:
        payload = {"token": input.token, "latitude": input.latitude, "longitude": input.longitude}
        return await submit_record(info, input.client_id, checkin.CHECK_IN, input.scanned_at, payload)

    @strawberry.mutation(description="Check out of a session: the CHECK_OUT kind, online.")
    async def check_out(
        self,
        info: strawberry.Info,
        input: Annotated[CheckOutInput, strawberry.argument(description="The session.")],
    ) -> RecordPayload:
        return await submit_record(
            info, input.client_id, checkin.CHECK_OUT, input.at, {"sessionId": str(input.session_id)}
        )

    @strawberry.mutation(description="Mark someone's attendance by hand, with a reason (audited).")
    async def mark_attendance(
        self,
        info: strawberry.Info,
        input: Annotated[MarkAttendanceInput, strawberry.argument(description="The mark.")],
    ) -> MarkAttendancePayload:
        async def change(viewer, session_id, employee_id):
            await checkin.mark_attendance(viewer, session_id, employee_id, input.status, input.reason)

        return await _attendance_change(info, input, change, MarkAttendancePayload)

    @strawberry.mutation(
        description="Decide a held scan (the session's instructor or HR): approve lets it count as judged, "
        "with its credits; refuse marks the employee ABSENT. Once. Audited."
    )
    async def decide_held_check_in(
        self,
        info: strawberry.Info,
        input: Annotated[DecideHeldCheckInInput, strawberry.argument(description="The decision.")],
    ) -> DecideHeldCheckInPayload:
        async def change(viewer, session_id, employee_id):
            await checkin.decide_held(viewer, session_id, employee_id, input.approve, input.reason)

        return await _attendance_change(info, input, change, DecideHeldCheckInPayload)
