"""Rotating-QR check-in: token rotation and window edges, forgeries and replays, offline scans
synced days later with a skewed clock, roster, manual marks, and the QR images (decoded back)."""

from __future__ import annotations

import io
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import zxingcpp
from PIL import Image

from backend.ids import to_global_id
from backend.models import (
    Attendance,
    AuditEntry,
    Device,
    EmployeeRole,
    Enrollment,
    EnrollmentStatus,
    Role,
    SessionStatus,
    TrainingSession,
)
from backend.services.sessions import qr
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, push_input

CHECK_IN = """
mutation C($input: CheckInInput!) {
  checkIn(input: $input) { result { status code message } errors { code } }
}
"""
KIT = """
query K($id: ID!) { sessionCheckInKit(sessionId: $id) { secret rotationSeconds currentToken sessionKey tenantKey projectorPath } }
"""
ROSTER = """
query R($id: ID!) { sessionRoster(sessionId: $id) { present late absent
  entries { employee { employeeNo } enrolled status manual reason riskFlags durationMinutes } } }
"""
NOW = datetime.now(UTC)


@pytest.fixture(autouse=True)
def _now_is_now() -> None:
    """Each test scans at its own start: an online scan's claimed time explains at most a minute
    of delay, and a whole suite takes longer than that to reach this file."""
    global NOW
    NOW = datetime.now(UTC)


async def make_session(company, starts_in=timedelta(minutes=10), enrolled=("LRN",), **extra) -> TrainingSession:
    instructor = company.employees["MGR"]
    if not await EmployeeRole.filter(employee=instructor, role=Role.INSTRUCTOR).exists():
        await EmployeeRole.create(tenant=company.tenant, employee=instructor, role=Role.INSTRUCTOR)
    site = company.sites["hq"]
    site.latitude, site.longitude = 31.2304, 121.4737  # 上海
    await site.save()
    session = await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses["S-001"],
        title="销售基础 · 第一期",
        instructor=instructor,
        site=site,
        starts_at=NOW + starts_in,
        ends_at=NOW + starts_in + timedelta(hours=2),
        capacity=20,
        secret=secrets.token_hex(32),
        **extra,
    )
    for employee_no in enrolled:
        await Enrollment.create(
            tenant=company.tenant,
            session=session,
            employee=company.employees[employee_no],
            status=EnrollmentStatus.ENROLLED,
        )
    return session


async def signed_in_long_ago(client, company, employee_no: str = "LRN", device_id: str = "device-1") -> str:
    """A token for a phone that has been signed in for a month (offline scans from before a phone
    was first signed in are held: tests/test_checkin_timing.py)."""
    token = await token_for(client, company.code, employee_no, device_id=device_id)
    await Device.filter(employee=company.employees[employee_no], device_uid=device_id).update(
        first_seen_at=datetime.now(UTC) - timedelta(days=30)
    )
    return token


def token_at(session: TrainingSession, moment: datetime, shift: int = 0) -> str:
    return qr.token_for(
        session.secret, session.tenant_id, session.id, qr.step_at(moment, session.rotation_seconds) + shift
    )


async def check_in(client, token, code, scanned_at=None, **where):
    body = await gql(
        client,
        CHECK_IN,
        {
            "input": {
                "clientId": str(uuid.uuid4()),
                "token": code,
                "scannedAt": scanned_at.isoformat() if scanned_at else None,
                **where,
            }
        },
        token=token,
    )
    assert body["data"]["checkIn"]["errors"] == [], body
    return body["data"]["checkIn"]["result"]


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


@pytest.mark.parametrize("shift,expected", [(-2, "QR_EXPIRED"), (-1, None), (0, None), (1, None), (2, "QR_EXPIRED")])
async def test_codes_are_accepted_one_step_either_side_of_the_scan_time(client, company, shift, expected):
    session = await make_session(company)
    learner = await token_for(client, company.code, "LRN")
    result = await check_in(client, learner, token_at(session, NOW, shift), NOW, latitude=31.2304, longitude=121.4737)
    assert (result["status"], result["code"]) == (("REJECTED", expected) if expected else ("ACCEPTED", None))
    assert await Attendance.filter(session=session).count() == (0 if expected else 1)


@pytest.mark.parametrize("forgery", ["mac", "non-ascii-mac", "garbage", "lowercase-ok", "other-tenant"])
async def test_forged_or_foreign_codes_are_invalid(client, company, password_hash, forgery):
    session = await make_session(company)
    learner = await token_for(client, company.code, "LRN")
    code = token_at(session, NOW)
    if forgery == "mac":
        code = code[:-1] + ("A" if code[-1] != "A" else "B")
    elif forgery == "non-ascii-mac":  # compared as bytes: a str with non-ASCII made compare_digest raise
        code = code[:-16] + "É" * 16
    elif forgery == "garbage":
        code = "https://example.com/not-a-code"
    elif forgery == "lowercase-ok":
        code = code.lower()  # scanners may lower-case; still the same code
    else:
        other = await make_company(password_hash)
        code = token_at(await make_session(other), NOW)
    result = await check_in(client, learner, code, NOW)
    expected = ("ACCEPTED", None) if forgery == "lowercase-ok" else ("REJECTED", "QR_INVALID")
    assert (result["status"], result["code"]) == expected


async def test_each_scan_of_a_pushed_batch_gets_its_own_answer(client, company):
    """A code is read once, when the record is parsed: unreadable codes are refused before the
    batch is applied (QR_INVALID, or INVALID_PAYLOAD for a bad place, which is checked first) and
    do not stop the genuine scan beside them."""
    session = await make_session(company)
    learner = await signed_in_long_ago(client, company)
    scanned = datetime.now(UTC) - timedelta(seconds=20)
    genuine = token_at(session, scanned)
    forged = genuine[:-1] + ("A" if genuine[-1] != "A" else "B")
    payloads = [
        {"token": "not-a-code"},
        {"token": "not-a-code", "latitude": 91},
        {"token": forged},
        {"token": genuine, "latitude": 31.2304, "longitude": 121.4737},
    ]
    records = [
        {"id": str(uuid.uuid4()), "seq": seq, "kind": "CHECK_IN", "occurredAt": scanned.isoformat(), "payload": payload}
        for seq, payload in enumerate(payloads, start=1)
    ]
    body = await gql(client, PUSH, push_input(records), token=learner)
    answers = [(r["status"], r["code"]) for r in body["data"]["syncPush"]["results"]]
    assert answers == [
        ("REJECTED", "QR_INVALID"),
        ("REJECTED", "INVALID_PAYLOAD"),
        ("REJECTED", "QR_INVALID"),
        ("ACCEPTED", None),
    ]
    attendance = await Attendance.get(session=session)
    assert (attendance.status, attendance.hold_reason) == ("PRESENT", "")


async def test_another_sessions_code_checks_into_that_session_only_if_enrolled(client, company):
    await make_session(company)
    other = await make_session(company, enrolled=())
    learner = await token_for(client, company.code, "LRN")
    result = await check_in(client, learner, token_at(other, NOW), NOW)
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_ENROLLED")


async def test_a_code_replayed_later_by_a_second_employee_has_expired(client, company):
    session = await make_session(company, enrolled=("LRN", "OTH"))
    learner = await token_for(client, company.code, "LRN")
    colleague = await token_for(client, company.code, "OTH", device_id="oth-phone")
    now = datetime.now(UTC)
    assert (await check_in(client, learner, token_at(session, now), now))["status"] == "ACCEPTED"
    shown_at = now - timedelta(minutes=3)  # forwarded in a chat three minutes ago
    for claimed in (now, shown_at):  # neither the true time nor the code's own time helps
        replay = await check_in(client, colleague, token_at(session, shown_at), claimed)
        assert (replay["status"], replay["code"]) == ("REJECTED", "QR_EXPIRED")
    assert await Attendance.filter(session=session).count() == 1


async def test_walk_ins_only_where_allowed(client, company):
    closed = await make_session(company, enrolled=())
    open_door = await make_session(company, enrolled=(), allows_walk_in=True)
    learner = await token_for(client, company.code, "LRN")
    assert (await check_in(client, learner, token_at(closed, NOW), NOW))["code"] == "NOT_ENROLLED"
    assert (await check_in(client, learner, token_at(open_door, NOW), NOW))["status"] == "ACCEPTED"


async def test_window_edges_late_and_cancelled(client, company):
    learner = await token_for(client, company.code, "LRN")
    early = await make_session(company, starts_in=timedelta(minutes=45))  # opens 30 min before
    result = await check_in(client, learner, token_at(early, NOW), NOW)
    assert (result["status"], result["code"]) == ("REJECTED", "SESSION_NOT_OPEN")
    started = await make_session(company, starts_in=timedelta(minutes=-30))  # late after 10 min
    assert (await check_in(client, learner, token_at(started, NOW), NOW))["status"] == "ACCEPTED"
    assert (await Attendance.get(session=started)).status == "LATE"
    cancelled = await make_session(company, status=SessionStatus.CANCELLED)
    result = await check_in(client, learner, token_at(cancelled, NOW), NOW)
    assert (result["status"], result["code"]) == ("REJECTED", "SESSION_CANCELLED")


async def test_a_second_check_in_is_harmless(client, company):
    session = await make_session(company)
    learner = await token_for(client, company.code, "LRN")
    earlier = datetime.now(UTC) - timedelta(seconds=60)
    later = earlier + timedelta(seconds=30)
    first = await check_in(client, learner, token_at(session, earlier), earlier)
    again = await check_in(client, learner, token_at(session, later), later)
    assert first["status"] == again["status"] == "ACCEPTED"
    attendance = await Attendance.filter(session=session)
    assert len(attendance) == 1 and abs((attendance[0].checked_in_at - earlier).total_seconds()) < 1


async def test_a_scan_synced_two_days_later_from_a_skewed_phone_is_judged_when_it_was_scanned(client, company):
    """The session was two days ago; the phone's clock runs an hour fast; it scanned offline and
    syncs only now. Its device times are corrected by the offset it shows when it syncs; arriving
    after the hold limit (a day), the scan is held for the instructor (tests/test_checkin_timing.py)."""
    session = await make_session(company, starts_in=timedelta(days=-2))
    learner = await token_for(client, company.code, "LRN")
    real_scan = session.starts_at - timedelta(minutes=5)
    skew = timedelta(hours=1)
    record = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "CHECK_IN",
        "occurredAt": (real_scan + skew).isoformat(),
        "payload": {"token": token_at(session, real_scan), "latitude": 31.2305, "longitude": 121.4738},
    }
    body = await gql(client, PUSH, push_input([record], sent_at=datetime.now(UTC) + skew), token=learner)
    result = body["data"]["syncPush"]["results"][0]
    assert (result["status"], result["code"]) == ("ACCEPTED", None)
    attendance = await Attendance.get(session=session)
    assert (attendance.status, attendance.hold_reason) == ("PRESENT", "LATE_SYNC")
    assert abs((attendance.checked_in_at - real_scan).total_seconds()) < 5
    assert "CLOCK_SKEW" in attendance.risk_flags
    # The same scan without the correction (no skew shown at sync time) would be an hour off.
    other = await make_session(company, starts_in=timedelta(days=-2), enrolled=("OTH",))
    colleague = await token_for(client, company.code, "OTH", device_id="oth-phone")
    stale = {**record, "id": str(uuid.uuid4()), "payload": {"token": token_at(other, real_scan)}}
    body = await gql(client, PUSH, push_input([stale], device_id="oth-phone"), token=colleague)
    assert body["data"]["syncPush"]["results"][0]["code"] == "QR_EXPIRED"


async def test_roster_check_out_and_risk_signals(client, company):
    session = await make_session(company, starts_in=timedelta(minutes=-100), enrolled=("LRN", "OTH"))
    instructor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    learner = await signed_in_long_ago(client, company)
    scanned = session.starts_at - timedelta(minutes=5)  # offline, synced now
    record = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "CHECK_IN",
        "occurredAt": scanned.isoformat(),
        "payload": {"token": token_at(session, scanned), "latitude": 39.9042, "longitude": 116.4074},
    }  # 北京
    pushed = await gql(client, PUSH, push_input([record]), token=learner)
    assert pushed["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED", pushed
    out = await gql(
        client,
        "mutation O($input: CheckOutInput!) { checkOut(input: $input) { result { status } } }",
        {
            "input": {
                "sessionId": to_global_id("TrainingSession", session.id),
                "at": (scanned + timedelta(minutes=95)).isoformat(),
            }
        },
        token=learner,
    )
    assert out["data"]["checkOut"]["result"]["status"] == "ACCEPTED"
    roster = (await gql(client, ROSTER, {"id": to_global_id("TrainingSession", session.id)}, token=instructor))["data"][
        "sessionRoster"
    ]
    assert (roster["present"], roster["late"], roster["absent"]) == (1, 0, 1)
    lrn = next(e for e in roster["entries"] if e["employee"]["employeeNo"] == "LRN")
    assert lrn["status"] == "PRESENT" and lrn["durationMinutes"] in (94, 95) and "FAR_FROM_SITE" in lrn["riskFlags"]


async def test_manual_marks_need_a_reason_and_are_audited(client, company):
    session = await make_session(company, enrolled=("LRN", "OTH"))
    instructor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    mark = "mutation M($input: MarkAttendanceInput!) { markAttendance(input: $input) { entry { status manual reason } errors { code field } } }"
    variables = {
        "input": {
            "sessionId": to_global_id("TrainingSession", session.id),
            "employeeId": to_global_id("Employee", company.employees["OTH"].id),
            "status": "PRESENT",
            "reason": " ",
        }
    }
    refused = await gql(client, mark, variables, token=instructor)
    assert refused["data"]["markAttendance"]["errors"] == [{"code": "VALIDATION", "field": "reason"}]
    variables["input"]["reason"] = "手机没电，现场确认到场"
    done = await gql(client, mark, variables, token=instructor)
    assert done["data"]["markAttendance"]["entry"] == {
        "status": "PRESENT",
        "manual": True,
        "reason": "手机没电，现场确认到场",
    }
    audit = await AuditEntry.filter(tenant=company.tenant, action="ATTENDANCE_MARKED")
    assert len(audit) == 1 and audit[0].actor_id == company.employees["MGR"].id
    learner = await token_for(client, company.code, "LRN")
    forbidden = await gql(client, mark, variables, token=learner)
    assert forbidden["data"]["markAttendance"]["errors"] == [{"code": "FORBIDDEN", "field": None}]


@pytest.mark.parametrize("who", ["LRN", "OTH", "HR1"])
async def test_only_the_instructor_gets_the_kit_and_the_images(client, company, who):
    session = await make_session(company)
    someone = await token_for(client, company.code, who, device_id=f"{who}-phone")
    kit = await gql(client, KIT, {"id": to_global_id("TrainingSession", session.id)}, token=someone)
    assert kit["data"] is None and kit["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for image in ("qr.svg", "qr.png", "projector"):
        assert (await client.get(f"/sessions/{session.id}/{image}")).status_code == 401
        denied = await client.get(f"/sessions/{session.id}/{image}", headers={"Authorization": f"Bearer {someone}"})
        assert denied.status_code == 403


async def test_the_instructor_kit_computes_the_same_codes_and_the_png_decodes_to_the_current_code(client, company):
    session = await make_session(company)
    instructor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    kit = (await gql(client, KIT, {"id": to_global_id("TrainingSession", session.id)}, token=instructor))["data"][
        "sessionCheckInKit"
    ]
    now = datetime.now(UTC)
    # An offline instructor app with only the kit derives the same code as the server.
    assert qr.token_for(
        kit["secret"], kit["tenantKey"], kit["sessionKey"], qr.step_at(now, kit["rotationSeconds"])
    ) in {token_at(session, now, shift) for shift in (-1, 0, 1)}
    png = await client.get(f"/sessions/{session.id}/qr.png", headers={"Authorization": f"Bearer {instructor}"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert decoded and decoded[0].text in {token_at(session, datetime.now(UTC), shift) for shift in (-1, 0)}
    learner = await token_for(client, company.code, "LRN")
    assert (await check_in(client, learner, decoded[0].text, datetime.now(UTC)))["status"] == "ACCEPTED"
    svg = await client.get(f"/sessions/{session.id}/qr.svg", headers={"Authorization": f"Bearer {instructor}"})
    assert svg.status_code == 200 and svg.text.lstrip().startswith("<?xml") and "<svg" in svg.text
    page = await client.get(kit["projectorPath"])
    assert page.status_code == 200 and "销售基础 · 第一期" in page.text and "qr.svg?key=" in page.text
    tampered = kit["projectorPath"][:-2] + "xx"
    assert (await client.get(tampered)).status_code == 401
