"""Check-in fields: the instructor's kit and roster, manual marks, and the online twins of the
CHECK_IN and CHECK_OUT record kinds (the same service as a synced scan)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import strawberry

from backend.ids import expect_global_id
from backend.services.sessions import checkin
from backend.services.viewer import Viewer
from schema.checkin.types import AttendanceStatus, CheckInKit, Roster, RosterEntry
from schema.common import UserError
from schema.evidence.types import EvidenceInput, with_attachments
from schema.payloads import mutate
from schema.sync.records import RecordPayload, submit_record


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
    attachments: list[EvidenceInput] | None = strawberry.field(
        default=None, description="Evidence (photos, voice notes, videos, PDFs), at most 10; uploaded afterwards."
    )


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


async def _attendance_change(
    info: strawberry.Info,
    input: MarkAttendanceInput | DecideHeldCheckInInput,
    change: Callable[[Viewer, int, int], Awaitable[Any]],
    payload: type[MarkAttendancePayload] | type[DecideHeldCheckInPayload],
) -> Any:
    """Run ``change(viewer, session id, employee id)`` on one roster line of ``input`` and answer
    ``payload`` with the line as the roster now shows it."""

    async def work(viewer: Viewer) -> RosterEntry:
        session_id = expect_global_id(input.session_id, "TrainingSession", "sessionId")
        employee_id = expect_global_id(input.employee_id, "Employee", "employeeId")
        await change(viewer, session_id, employee_id)
        _, entries = await _roster(info, viewer, session_id)
        return next(entry for entry, line in entries if line.employee_id == employee_id)

    return await mutate(info, work, lambda entry, errors: payload(entry=entry, errors=errors))


async def _roster(
    info: strawberry.Info, viewer: Viewer, session_id: int
) -> tuple[Any, list[tuple[RosterEntry, checkin.RosterLine]]]:
    """The session and its roster lines as the roster shows them (with the roster-wide flags)."""
    session, lines = await checkin.roster(viewer, session_id)
    checkin.flag_shared(lines, info.context.settings.checkin_shared_code)
    employees = await (await info.context.loaders()).employee.load_many([line.employee_id for line in lines])
    secret_key = info.context.settings.keys.tag_key
    return session, [
        (RosterEntry.from_line(employee, line, secret_key), line) for employee, line in zip(employees, lines)
    ]


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
        return CheckInKit.of(session, viewer, info.context.settings)

    @strawberry.field(description="Who is in, late or absent (the session's instructor only).")
    async def session_roster(
        self,
        info: strawberry.Info,
        session_id: Annotated[strawberry.ID, strawberry.argument(description="The TrainingSession.")],
    ) -> Roster:
        viewer = await info.context.require_viewer()
        session, entries = await _roster(info, viewer, expect_global_id(session_id, "TrainingSession"))
        return Roster.of(session, [entry for entry, _ in entries])


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
        payload = with_attachments({"sessionId": str(input.session_id)}, input.attachments)
        return await submit_record(info, input.client_id, checkin.CHECK_OUT, input.at, payload)

    @strawberry.mutation(description="Mark someone's attendance by hand, with a reason (audited).")
    async def mark_attendance(
        self,
        info: strawberry.Info,
        input: Annotated[MarkAttendanceInput, strawberry.argument(description="The mark.")],
    ) -> MarkAttendancePayload:
        async def change(viewer: Viewer, session_id: int, employee_id: int) -> None:
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
        async def change(viewer: Viewer, session_id: int, employee_id: int) -> None:
            await checkin.decide_held(viewer, session_id, employee_id, input.approve, input.reason)

        return await _attendance_change(info, input, change, DecideHeldCheckInPayload)
