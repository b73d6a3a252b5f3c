"""Check-in types: the instructor's kit (rotating codes offline, the projector link) and the
session roster (who is in, late, held or absent, with the integrity signals)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from backend import models
from backend.config import Settings
from backend.ids import to_global_id
from backend.services.content import evidence
from backend.services.people import devices
from backend.services.sessions import checkin, qr
from backend.services.sessions.training_sessions import check_in_opens_at
from backend.services.viewer import Viewer
from schema.evidence.types import EvidenceAttachment
from schema.people.types import Colleague

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
AttendanceStatus = models.AttendanceStatus
strawberry.enum(AttendanceStatus, name="AttendanceStatus", description="How someone attended a session.")


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

    @classmethod
    def of(cls, session: models.TrainingSession, viewer: Viewer, settings: Settings) -> CheckInKit:
        """The kit of ``session`` for its instructor ``viewer`` (the projector link is bound to
        their sign-in)."""
        path, path_expires_at = qr.projector_path(settings, session, viewer)
        return cls(
            session_id=strawberry.ID(to_global_id("TrainingSession", session.id)),
            secret=qr.session_secret(settings, session),
            rotation_seconds=session.rotation_seconds,
            token_format="XF1",
            tenant_key=session.tenant_id,
            session_key=session.id,
            current_token=qr.current_token(settings, session),
            check_in_opens_at=check_in_opens_at(session),
            ends_at=session.ends_at,
            projector_path=path,
            projector_expires_at=path_expires_at,
        )


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
    _attendance: strawberry.Private[models.Attendance | None] = None

    @strawberry.field(
        description="Photos, videos, voice notes and files attached to the check-out, oldest first; PENDING ones "
        'are "evidence pending".'
    )
    async def evidence(self, info: strawberry.Info) -> list[EvidenceAttachment]:
        attendance = self._attendance
        if attendance is None:
            return []
        # The roster is its instructor's and HR's: whoever sees the line may see its evidence.
        key = (evidence.CHECK_OUT, attendance.employee_id, str(attendance.session_id))
        loaders = await info.context.loaders()
        return EvidenceAttachment.shown(info, await loaders.evidence_by_owner.load(key))

    @classmethod
    def from_line(cls, employee: models.Employee, line: checkin.RosterLine, secret_key: str) -> RosterEntry:
        """The roster line of ``employee``; ``secret_key`` keys the device tag."""
        attendance = line.attendance
        duration = None
        if attendance and attendance.checked_in_at and attendance.checked_out_at:
            duration = int((attendance.checked_out_at - attendance.checked_in_at).total_seconds() // 60)
        return cls(
            employee=Colleague.from_model(employee),
            enrolled=line.enrolled,
            status=attendance.status if attendance else AttendanceStatus.ABSENT,
            held=(attendance.hold_reason or None) if attendance else None,
            checked_in_at=attendance.checked_in_at if attendance else None,
            received_at=attendance.received_at if attendance else None,
            checked_out_at=attendance.checked_out_at if attendance else None,
            duration_minutes=duration,
            manual=attendance.manual if attendance else False,
            reason=attendance.reason if attendance else "",
            code_step=str(attendance.code_step) if attendance and attendance.code_step is not None else None,
            device_tag=devices.device_tag(secret_key, employee.tenant_id, line.device_uid) if line.device_uid else None,
            latitude=attendance.latitude if attendance else None,
            longitude=attendance.longitude if attendance else None,
            risk_flags=line.risk_flags,
            _attendance=attendance,
        )


@strawberry.type(description="Who is in, late or absent.")
class Roster:
    session_id: strawberry.ID = strawberry.field(description="The TrainingSession.")
    present: int = strawberry.field(description="Present on time (counted).")
    late: int = strawberry.field(description="Checked in late (counted).")
    held: int = strawberry.field(description="Scans held for a decision (not counted yet).")
    absent: int = strawberry.field(description="Enrolled without a check-in.")
    entries: list[RosterEntry] = strawberry.field(description="Everyone enrolled or checked in.")

    @classmethod
    def of(cls, session: models.TrainingSession, entries: list[RosterEntry]) -> Roster:
        counted = [e for e in entries if e.held is None]
        return cls(
            session_id=strawberry.ID(to_global_id("TrainingSession", session.id)),
            present=sum(e.status == AttendanceStatus.PRESENT for e in counted),
            late=sum(e.status == AttendanceStatus.LATE for e in counted),
            held=len(entries) - len(counted),
            absent=sum(e.status == AttendanceStatus.ABSENT for e in entries),
            entries=entries,
        )
