"""Check-in and check-out: the CHECK_IN and CHECK_OUT record kinds, the instructor's kit, the
roster, held scans and manual marks.

When did the scan happen? (docs/sync-protocol.md, "Check-in timing")
- Online (``checkIn``), the server's clock decides: a claimed ``scannedAt`` may explain at most
  ``checkin_online_grace_seconds`` of delay, so a photo of an earlier code is QR_EXPIRED.
- Offline (a pushed CHECK_IN), the corrected device time decides, if the push corroborates it:
  the device's clock was measured and is believable, the scan arrived within
  ``offline_grace_seconds``, the phone had signed in before it, it is not older than the
  device's earlier records, and the phone was not in touch with the server after it without it. Otherwise the attendance is recorded but
  *held* (``hold_reason``): not counted, no credits, until the instructor or HR decides.

One attendance per employee and session, by database key: a second scan is harmless (it only
replaces a held one). Each attendance keeps the code (time step) it used, the device, the place and
when it arrived, so one code used by many people shows on the roster.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import (
    Attendance,
    AttendanceStatus,
    CreditActivity,
    Device,
    Enrollment,
    EnrollmentStatus,
    IntegrityAlertKind,
    RecordStatus,
    Role,
    SessionStatus,
    TrainingSession,
)
from backend.services.audit import audit
from backend.services.content import evidence
from backend.services.credits import credit_engine
from backend.services.feed import ChangeSet
from backend.services.integrity import code_sharing, detectors
from backend.services.records.clock import UNREADABLE_TIME
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload, payload_id
from backend.services.records.spec import Field, GlobalId, Nullable, Number, Obj, Text
from backend.services.records.work import UnitOfWork
from backend.services.reports import rollups
from backend.services.sessions import qr
from backend.services.validation import text
from backend.services.viewer import Viewer
from backend.sql import Params, db_time, db_uuid, placeholders

CHECK_IN = "CHECK_IN"
CHECK_OUT = "CHECK_OUT"
FAR_FROM_SITE_METRES = 1000


@dataclass(frozen=True)
class Scan:
    """A CHECK_IN payload, read once: the scanned code's parts (``qr.parse``) and the place."""

    session_id: int
    step: int
    mac: str
    latitude: float | None
    longitude: float | None


def _coordinate(payload: dict[str, Any], name: str, limit: float) -> float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -limit <= value <= limit:
        raise invalid_payload(name)
    return float(value)


# Why a scan is held instead of counted (Attendance.hold_reason).
HELD_CLOCK_UNTRUSTED = "CLOCK_UNTRUSTED"  # the device clock was not measured, too far off, or in the future
HELD_LATE_SYNC = "LATE_SYNC"  # arrived longer than offline_grace_seconds after it happened
HELD_SIGNED_IN_AFTER = "SIGNED_IN_AFTER"  # the phone first signed in (for this employee) after the scan time
HELD_OUT_OF_ORDER = "OUT_OF_ORDER"  # older than records the device made before it
HELD_ONLINE_SINCE = "ONLINE_SINCE"  # the phone was in touch with the server after the scan time without it
EVIDENCE_TOLERANCE = timedelta(minutes=5)  # clocks are not exact; a scan is held only beyond this
# Contacts this close before the push are the same return to coverage (a token refresh, a batch of
# the outbox just before): the outbox is still draining, not skipping the scan.
DRAINING = timedelta(minutes=10)
EARLIER_RECORDS = 20  # how many of the device's previous records testify


def verify_scan(settings: Settings, session: TrainingSession | None, tenant_id: int, scan: Scan) -> TrainingSession:
    """``session`` if ``scan`` is a genuine code of it; QR_INVALID for anything else, a missing
    session included (another tenant's or a made-up one). Checked before the step is used for
    anything: a forged code may name any step."""
    if (
        session is None
        or session.id != scan.session_id
        or not qr.mac_matches(qr.session_secret(settings, session), tenant_id, scan.session_id, scan.step, scan.mac)
    ):
        raise DomainError(ErrorCode.QR_INVALID)
    return session


def judge_scan(session: TrainingSession, step: int, scanned_at: datetime) -> AttendanceStatus:
    """PRESENT or LATE for a scan of the (verified) code of ``step`` at ``scanned_at``; the stable
    rejection otherwise."""
    if abs(step - qr.step_at(scanned_at, session.rotation_seconds)) > 1:
        raise DomainError(ErrorCode.QR_EXPIRED)
    if session.status == SessionStatus.CANCELLED:
        raise DomainError(ErrorCode.SESSION_CANCELLED)
    opens = session.starts_at - timedelta(minutes=session.checkin_opens_minutes)
    if not opens <= scanned_at <= session.ends_at:
        raise DomainError(ErrorCode.SESSION_NOT_OPEN)
    late_from = session.starts_at + timedelta(minutes=session.late_after_minutes)
    return AttendanceStatus.PRESENT if scanned_at <= late_from else AttendanceStatus.LATE


@dataclass(frozen=True)
class ScanTime:
    """When a scan counts as having happened, and why it is held ("" when it is not)."""

    at: datetime
    hold_reason: str = ""


async def scan_time(context: ApplyContext, parsed: ParsedRecord, step_start: datetime) -> ScanTime:
    """The time a scan is judged at (see the module docstring). ``step_start`` is when the scanned
    code began to be shown: the best witness there is when the device clock is not."""
    received = context.received_at
    if parsed.record.seq is None:  # online: the server's clock, a claim explains a small delay only
        grace = timedelta(seconds=context.settings.checkin_online_grace_seconds)
        return ScanTime(min(max(parsed.occurred_at, received - grace), received))
    clock = context.clock
    if clock is None or not clock.trusted or "FUTURE" in parsed.flags:
        return ScanTime(step_start, HELD_CLOCK_UNTRUSTED)
    at = parsed.occurred_at
    if received - at > timedelta(seconds=context.settings.offline_grace_seconds):
        return ScanTime(at, HELD_LATE_SYNC)
    device = context.device
    if device.first_seen_at is not None and device.first_seen_at > at + EVIDENCE_TOLERANCE:
        return ScanTime(at, HELD_SIGNED_IN_AFTER)
    seq = parsed.record.seq
    in_batch = [moment for other, moment in context.batch_times.items() if seq - EARLIER_RECORDS <= other < seq]
    stored_latest, last_push = await _earlier_records(context, seq)
    latest_before = max([*in_batch, *([stored_latest] if stored_latest else [])], default=None)
    if latest_before is not None and latest_before > at + EVIDENCE_TOLERANCE:
        return ScanTime(at, HELD_OUT_OF_ORDER)
    # A phone sends its outbox in order whenever it reaches the server: a push, a sign-in or a
    # token refresh well after the scan and well before this push means the scan was not on it.
    contacts = [moment for moment in (last_push, device.last_seen_at) if moment is not None]
    if any(at + EVIDENCE_TOLERANCE < moment < received - DRAINING for moment in contacts):
        return ScanTime(at, HELD_ONLINE_SINCE)
    return ScanTime(at)


async def _earlier_records(context: ApplyContext, seq: int) -> tuple[datetime | None, datetime | None]:
    """(latest corrected time among the device's records just before ``seq`` whose time could be
    read, when the latest of them arrived) from earlier pushes."""
    p = Params(context.connection)
    rows = await context.connection.execute_query_dict(
        f"SELECT MAX(CASE WHEN clock_flags <> {p(UNREADABLE_TIME)} THEN occurred_at END) AS latest,"
        f" MAX(received_at) AS pushed FROM activity_record WHERE device_id = {p(context.device.id)}"
        f" AND device_seq >= {p(seq - EARLIER_RECORDS)} AND device_seq < {p(seq)}",
        p.values,
    )
    row = rows[0] if rows else {}
    return _moment(row.get("latest")), _moment(row.get("pushed"))


def _moment(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


CHECK_IN_PAYLOAD = Obj(
    {
        "token": Field(
            Text(description="The QR code's text as scanned (XF1-…); only its first 64 characters count."), True
        ),
        "latitude": Field(Nullable(Number(-90, 90, "Where the phone was (WGS 84), when it could tell."))),
        "longitude": Field(Nullable(Number(-180, 180))),
    },
    not_object="token",
    title="CHECK_IN",
)
CHECK_OUT_PAYLOAD = Obj(
    {
        "sessionId": Field(GlobalId("TrainingSession", "The session left."), required=True),
        "attachments": evidence.ATTACHMENTS,
    },
    not_object="sessionId",
    title="CHECK_OUT",
)


class CheckIn:
    """Payload: ``{"token": "XF1-…", "latitude": …, "longitude": …}`` (location optional). The
    answer's ``result`` says how it counted: ``{"status": "PRESENT"|"LATE", "held": reason|null}``."""

    kind = CHECK_IN
    payload_spec = CHECK_IN_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> Scan:
        """The scan; INVALID_PAYLOAD for a malformed payload, QR_INVALID for a token that is not
        a code of ours."""
        CHECK_IN_PAYLOAD.check(payload)
        if not isinstance(payload, dict) or not isinstance(payload.get("token"), str):
            raise invalid_payload("token")
        latitude, longitude = _coordinate(payload, "latitude", 90), _coordinate(payload, "longitude", 180)
        session_id, step, mac = qr.parse(payload["token"][:64])
        return Scan(session_id, step, mac, latitude, longitude)

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        session_ids = {parsed.payload.session_id for parsed in records}
        sessions = {
            s.id: s
            for s in await TrainingSession.filter(tenant_id=viewer.tenant_id, id__in=list(session_ids))
            .select_related("site")
            .using_db(connection)
        }
        enrolled = set(
            await Enrollment.filter(
                tenant_id=viewer.tenant_id,
                employee_id=viewer.employee_id,
                session_id__in=list(sessions),
                status=EnrollmentStatus.ENROLLED,
            )
            .using_db(connection)
            .values_list("session_id", flat=True)
        )
        outcomes = []
        for parsed in records:
            try:
                scan: Scan = parsed.payload
                session = verify_scan(context.settings, sessions.get(scan.session_id), viewer.tenant_id, scan)
                step = scan.step
                step_start = datetime.fromtimestamp(step * session.rotation_seconds, UTC)
                when = await scan_time(context, parsed, step_start)
                status = judge_scan(session, step, when.at)
                if session.id not in enrolled and not session.allows_walk_in:
                    raise DomainError(ErrorCode.NOT_ENROLLED)
            except DomainError as error:
                outcomes.append(Outcome.rejected(error))
                continue
            place_flags, metres = _location_flags(session, parsed.payload)
            flags = list(parsed.flags) + place_flags
            written = await _record_attendance(context, session, status, parsed, when, step, flags)
            if written is not None and not when.hold_reason:
                credit_engine.note(
                    context, attendance_creditable(viewer.employee_id, session, status, when.at, parsed.record.id)
                )
            if written is not None and metres is not None and metres > code_sharing.SIGNAL_BEYOND_METRES:
                # Far from the site even by the loosest limit a company may set: CODE_SHARING
                # judges it with the company's own when the push finishes (no read here).
                detectors.note(
                    context,
                    detectors.Signal(
                        IntegrityAlertKind.CODE_SHARING,
                        viewer.employee_id,
                        parsed.record.id,
                        when.at,
                        {"session_id": session.id, "metres": metres, "attendance_id": written},
                    ),
                )
            outcomes.append(
                Outcome(
                    RecordStatus.ACCEPTED,
                    params={"status": status.value},
                    result={"status": status.value, "held": when.hold_reason or None},
                )
            )
        return outcomes


def _location_flags(session: TrainingSession, scan: Scan) -> tuple[list[str], float | None]:
    """The scan's place flags, and its distance from the site in metres (None without both places)."""
    site = session.site
    if scan.latitude is None or scan.longitude is None:
        return ["NO_LOCATION"], None
    if site.latitude is None or site.longitude is None:
        return [], None
    distance = detectors.metres_between(scan.latitude, scan.longitude, site.latitude, site.longitude)
    return (["FAR_FROM_SITE"] if distance > FAR_FROM_SITE_METRES else []), distance


async def _record_attendance(
    context: ApplyContext, session, status, parsed: ParsedRecord, when: ScanTime, step: int, flags
) -> int | None:
    """Insert the attendance unless there is one already (the first scan counts), or replace a
    held, scanned one with a scan that is not held. The attendance's id when this scan wrote it
    (it counts unless it is held), else None."""
    connection, viewer = context.connection, context.viewer
    now = db_time(connection, context.received_at)
    values = [
        viewer.tenant_id,
        session.id,
        viewer.employee_id,
        status.value,
        db_time(connection, when.at),
        db_uuid(connection, parsed.record.id),
        context.device.id,
        context.clock_offset_ms,
        ",".join(sorted(set(flags))),
        parsed.payload.latitude,
        parsed.payload.longitude,
        False,
        "",
        when.hold_reason,
        step,
        now,
        now,
        now,
    ]
    replace = (
        ""
        if when.hold_reason
        else (
            " DO UPDATE SET status = excluded.status, checked_in_at = excluded.checked_in_at,"
            " record_id = excluded.record_id, device_id = excluded.device_id, clock_offset_ms = excluded.clock_offset_ms,"
            " risk_flags = excluded.risk_flags, latitude = excluded.latitude, longitude = excluded.longitude,"
            " hold_reason = '', code_step = excluded.code_step, received_at = excluded.received_at,"
            " updated_at = excluded.updated_at WHERE attendance.hold_reason <> '' AND attendance.manual = false"
        )
    )
    rows = await connection.execute_query_dict(
        "INSERT INTO attendance (tenant_id, session_id, employee_id, status, checked_in_at, record_id,"
        " device_id, clock_offset_ms, risk_flags, latitude, longitude, manual, reason, hold_reason, code_step,"
        " received_at, created_at, updated_at)"
        f" VALUES ({placeholders(connection, 18)}) ON CONFLICT (session_id, employee_id)"
        f"{replace or ' DO NOTHING'} RETURNING id",
        values,
    )
    return int(rows[0]["id"]) if rows else None


@dataclass(frozen=True)
class Leaving:
    """A CHECK_OUT payload, read once: the session and the evidence attached (a photo of the work)."""

    session_id: int
    attachments: tuple[evidence.Attachment, ...] = ()


class CheckOut:
    """Payload: ``{"sessionId": "<TrainingSession global ID>", "attachments": [...] (optional
    evidence, see ``content.evidence``)}``; gives the attendance a duration."""

    kind = CHECK_OUT
    payload_spec = CHECK_OUT_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> Leaving:
        CHECK_OUT_PAYLOAD.check(payload)
        return Leaving(payload_id(payload, "sessionId", "TrainingSession"), evidence.parse_attachments(payload))

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer, connection = context.viewer, context.connection
        claims = await evidence.claim(
            context,
            [
                (parsed.record.id, (CHECK_OUT, str(parsed.payload.session_id)), parsed.payload.attachments)
                for parsed in records
            ],
        )
        outcomes = []
        for parsed in records:
            leaving: Leaving = parsed.payload
            refusal = claims.refusal(parsed.record.id)
            if refusal is not None:
                outcomes.append(Outcome.rejected(refusal))
                continue
            updated = (
                await Attendance.filter(
                    tenant_id=viewer.tenant_id,
                    session_id=leaving.session_id,
                    employee_id=viewer.employee_id,
                    checked_in_at__lte=parsed.occurred_at,
                )
                .using_db(connection)
                .update(checked_out_at=parsed.occurred_at)
            )
            if updated:
                claims.accept(parsed.record.id)
            outcomes.append(
                Outcome(RecordStatus.ACCEPTED) if updated else Outcome.rejected(DomainError(ErrorCode.NOT_CHECKED_IN))
            )
        await claims.write()
        return outcomes


async def session_for_instructor(viewer: Viewer, session_id: int, hr_too: bool = False) -> TrainingSession:
    """The session, if the viewer is its instructor (or, with ``hr_too``, an HR admin of the
    tenant: rosters and attendance; the kit, which holds the secret, is the instructor's alone);
    FORBIDDEN / NOT_FOUND."""
    session = await TrainingSession.filter(tenant_id=viewer.tenant_id, id=session_id).select_related("site").first()
    if session is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if session.instructor_id != viewer.employee_id and not (hr_too and viewer.has_role(Role.HR_ADMIN)):
        raise DomainError(ErrorCode.FORBIDDEN)
    return session


@dataclass
class RosterLine:
    """One employee of a roster: enrolled or walked in, with their attendance (None: absent) and
    the integrity signals stored with it plus those only the whole roster shows."""

    employee_id: int
    enrolled: bool
    attendance: Attendance | None
    device_uid: str | None = None
    risk_flags: list[str] = field(default_factory=list)


async def roster(viewer: Viewer, session_id: int) -> tuple[TrainingSession, list[RosterLine]]:
    """Who is in, late, held or absent: every enrolled employee and every attendance (walk-ins
    too). SHARED_CODE marks scans of a code used by more people than ``checkin_shared_code``
    (settings); SHARED_DEVICE scans made on a phone that checked in someone else too."""
    session = await session_for_instructor(viewer, session_id, hr_too=True)
    enrolled: set[int] = {
        employee_id
        for (employee_id,) in await Enrollment.filter(
            tenant_id=viewer.tenant_id,
            session_id=session.id,
            status=EnrollmentStatus.ENROLLED,
        ).values_list("employee_id")
    }
    attendances = {a.employee_id: a for a in await Attendance.filter(tenant_id=viewer.tenant_id, session_id=session.id)}
    devices = dict(
        await Device.filter(
            tenant_id=viewer.tenant_id,
            id__in=[a.device_id for a in attendances.values() if a.device_id],
        ).values_list("id", "device_uid")
    )
    return session, [
        RosterLine(
            employee_id,
            employee_id in enrolled,
            attendances.get(employee_id),
            devices.get(attendances[employee_id].device_id) if employee_id in attendances else None,
        )
        for employee_id in sorted(enrolled | set(attendances))
    ]


def flag_shared(lines: list[RosterLine], shared_code: int) -> list[RosterLine]:
    """Add the roster-wide signals to each line's stored flags (see ``roster``)."""
    steps = [line.attendance.code_step if line.attendance else None for line in lines]  # None: not scanned
    per_code = Counter(step for step in steps if step is not None)
    per_device = Counter(line.device_uid for line, step in zip(lines, steps) if step is not None and line.device_uid)
    for line, step in zip(lines, steps):
        stored = [f for f in (line.attendance.risk_flags if line.attendance else "").split(",") if f]
        derived = []
        if step is not None and per_code[step] > shared_code:
            derived.append("SHARED_CODE")
        if step is not None and line.device_uid and per_device[line.device_uid] > 1:
            derived.append("SHARED_DEVICE")
        line.risk_flags = stored + derived
    return lines


def attendance_creditable(
    employee_id: int, session: TrainingSession, status: AttendanceStatus, at: datetime, record_id=None
) -> credit_engine.Creditable:
    """Attending a session, for the credit rules: one fact per employee and session (a second
    scan or a manual correction is the same fact). Score 100 on time, 50 late, so a rule with
    minScore 100 credits punctual attendance only."""
    return credit_engine.Creditable(
        employee_id,
        CreditActivity.ATTENDANCE,
        f"attendance:{employee_id}:{session.id}",
        at,
        record_id,
        session.course_id,
        session.module_id,
        100 if status == AttendanceStatus.PRESENT else 50,
    )


async def _decided(
    viewer: Viewer,
    connection,
    session: TrainingSession,
    employee_id: int,
    counted_before: bool,
    status: AttendanceStatus,
    at: datetime | None,
    record_id=None,
) -> None:
    """An attendance decided by a person (a manual mark, a held scan let through or refused): its
    credit, and the report rollups of one corrected to or from not attended (its credit event
    stays). One unit of work, published once after the credits, in the lock order every writer
    keeps (accounts, then the company's feed counter)."""
    context = UnitOfWork(viewer, connection, ChangeSet(viewer.tenant_id), datetime.now(UTC))
    await rollups.note_attendance_status(
        connection,
        context.changes.tally,
        viewer.tenant_id,
        session.id,
        employee_id,
        counted_before,
        rollups.attended(status),
    )
    if rollups.attended(status):
        assert at is not None  # a manual mark is at the session's start, a held scan at its scan
        credit_engine.note(context, attendance_creditable(employee_id, session, status, at, record_id))
    await context.finish()


async def mark_attendance(
    viewer: Viewer, session_id: int, employee_id: int, status: AttendanceStatus, reason: str
) -> Attendance:
    """A manual mark by the instructor or HR (a phone without a camera, a forgotten phone), with a
    reason; audited. It also decides a held scan."""
    reason = text(reason, "reason", 300)
    session = await session_for_instructor(viewer, session_id, hr_too=True)
    if (
        not await Enrollment.filter(session_id=session.id, employee_id=employee_id).exists()
        and not session.allows_walk_in
    ):
        raise DomainError(ErrorCode.NOT_ENROLLED)
    async with in_transaction() as connection:
        before = (
            await Attendance.filter(tenant_id=viewer.tenant_id, session_id=session.id, employee_id=employee_id)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        attendance, _ = await Attendance.update_or_create(
            tenant_id=viewer.tenant_id,
            session_id=session.id,
            employee_id=employee_id,
            defaults={
                "status": status,
                "manual": True,
                "marked_by_id": viewer.employee_id,
                "reason": reason,
                "hold_reason": "",
            },
            using_db=connection,
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "ATTENDANCE_MARKED",
            "Attendance",
            attendance.id,
            {"session": session.id, "employee": employee_id, "status": status.value, "reason": reason},
        )
        # As ``rollups.recount`` sees it: an event counts unless its attendance says not attended.
        counted_before = before is None or rollups.attended(before.status)
        await _decided(viewer, connection, session, employee_id, counted_before, status, session.starts_at)
    return attendance


async def decide_held(
    viewer: Viewer, session_id: int, employee_id: int, approve: bool, reason: str | None
) -> Attendance:
    """Let a held scan count as it was judged (PRESENT or LATE, credited) or refuse it (ABSENT,
    with a reason); once (ALREADY_DECIDED after that, or when nothing is held); the instructor
    or HR; audited."""
    session = await session_for_instructor(viewer, session_id, hr_too=True)
    reason = text(reason, "reason", 300, required=not approve)
    async with in_transaction() as connection:
        held = (
            await Attendance.filter(
                tenant_id=viewer.tenant_id,
                session_id=session.id,
                employee_id=employee_id,
            )
            .using_db(connection)
            .first()
        )
        if held is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        changes: dict[str, Any] = {"hold_reason": "", "marked_by_id": viewer.employee_id, "reason": reason}
        if not approve:
            changes["status"] = AttendanceStatus.ABSENT
        # Conditional on still being held: of two people deciding at once, one decides.
        if not await Attendance.filter(id=held.id).exclude(hold_reason="").using_db(connection).update(**changes):
            raise DomainError(ErrorCode.ALREADY_DECIDED, status=held.status.value)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "CHECK_IN_HELD_DECIDED",
            "Attendance",
            held.id,
            {
                "session": session.id,
                "employee": employee_id,
                "held": held.hold_reason,
                "approve": approve,
                "status": held.status.value if approve else AttendanceStatus.ABSENT.value,
                "reason": reason,
            },
        )
        decided = held.status if approve else AttendanceStatus.ABSENT
        await _decided(
            viewer,
            connection,
            session,
            employee_id,
            rollups.attended(held.status),
            decided,
            held.checked_in_at,
            held.record_id,
        )
        await held.refresh_from_db(using_db=connection)
    return held
