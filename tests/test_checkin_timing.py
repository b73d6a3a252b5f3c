"""When did a scan happen? (issue 11, finding 1; docs/sync-protocol.md "Check-in timing").

Online check-ins are judged by the server's clock: a claimed scannedAt explains a short delay only,
so a photographed code cannot be used later. Offline scans count at their corrected device time
only when the push corroborates it; otherwise they are recorded but held for the instructor or HR.
The roster shows the code, device and place of every scan, and codes or phones shared by many."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    Attendance,
    AuditEntry,
    CreditAccount,
    CreditActivity,
    CreditRule,
    Device,
    Employee,
    EmployeeRole,
    Role,
)
from backend.services.sessions import qr
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, lesson, push_input
from tests.test_checkin import check_in, company, make_session, signed_in_long_ago, token_at  # noqa: F401
from tests.test_sync_push import lesson_module

ROSTER = """
query R($id: ID!) { sessionRoster(sessionId: $id) { present late held absent
  entries { employee { employeeNo } status held checkedInAt receivedAt codeStep deviceTag latitude longitude
            manual reason riskFlags } } }
"""
DECIDE = """
mutation D($input: DecideHeldCheckInInput!) {
  decideHeldCheckIn(input: $input) { entry { status held manual reason } errors { code field } }
}
"""
PUSH_RESULTS = PUSH.replace("receivedAt }", "receivedAt result }")


def now() -> datetime:
    return datetime.now(UTC)


def scan(session, at: datetime, seq: int, **where) -> dict:
    """An offline CHECK_IN record: the code shown at ``at``, scanned (device clock) at ``at``."""
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "CHECK_IN",
        "occurredAt": at.isoformat(),
        "payload": {"token": token_at(session, at), **where},
    }


async def push(client, token, records, device_id="device-1", sent_at=None) -> list[dict]:
    body = await gql(client, PUSH_RESULTS, push_input(records, device_id, sent_at), token=token)
    assert "errors" not in body and body["data"]["syncPush"]["errors"] == [], body
    return body["data"]["syncPush"]["results"]


async def roster(client, company, session, who="MGR") -> dict:
    token = await token_for(client, company.code, who, device_id=f"{who}-desk")
    body = await gql(client, ROSTER, {"id": to_global_id("TrainingSession", session.id)}, token=token)
    assert "errors" not in body, body
    return body["data"]["sessionRoster"]


def line(roster_: dict, employee_no: str) -> dict:
    return next(e for e in roster_["entries"] if e["employee"]["employeeNo"] == employee_no)


async def attendance_rule(company) -> None:
    await CreditRule.create(
        tenant=company.tenant, rule_key="attend", name="出勤", activity=CreditActivity.ATTENDANCE, credits=20
    )


async def balance(company, employee_no="LRN") -> int:
    account = await CreditAccount.get_or_none(employee_id=company.employees[employee_no].id)
    return account.balance if account else 0


# --- online: the server's clock -----------------------------------------------------------------


async def test_online_a_photographed_code_used_fifteen_minutes_later_has_expired(client, company):
    session = await make_session(company, starts_in=timedelta(minutes=-20))
    learner = await token_for(client, company.code, "LRN")
    photographed = now() - timedelta(minutes=15)
    result = await check_in(client, learner, token_at(session, photographed), photographed)
    assert (result["status"], result["code"]) == ("REJECTED", "QR_EXPIRED")
    assert await Attendance.filter(session=session).count() == 0


async def test_online_a_code_from_a_session_three_months_ago_is_refused(client, company):
    session = await make_session(company, starts_in=timedelta(days=-90))
    learner = await token_for(client, company.code, "LRN")
    that_day = session.starts_at + timedelta(minutes=1)
    result = await check_in(client, learner, token_at(session, that_day), that_day)
    assert result["status"] == "REJECTED" and result["code"] in ("QR_EXPIRED", "SESSION_NOT_OPEN")
    assert await Attendance.filter(session=session).count() == 0


async def test_online_a_claimed_time_explains_a_short_delay_only(client, company):
    session = await make_session(company, starts_in=timedelta(minutes=-5))
    learner = await token_for(client, company.code, "LRN")
    a_moment_ago = now() - timedelta(seconds=30)  # the request crawled over a bad link
    result = await check_in(client, learner, token_at(session, a_moment_ago), a_moment_ago)
    assert result["status"] == "ACCEPTED"
    attendance = await Attendance.get(session=session)
    assert abs((attendance.checked_in_at - a_moment_ago).total_seconds()) < 1
    assert attendance.hold_reason == ""


async def test_online_a_claimed_future_time_is_read_as_now(client, company):
    session = await make_session(company, starts_in=timedelta(minutes=-5))
    learner = await token_for(client, company.code, "LRN")
    result = await check_in(client, learner, token_at(session, now()), now() + timedelta(hours=3))
    assert result["status"] == "ACCEPTED"
    assert (await Attendance.get(session=session)).checked_in_at <= now()


# --- offline: corroborated, or held ------------------------------------------------------------


async def test_an_offline_scan_corroborated_by_its_push_counts_when_it_happened(client, company):
    await attendance_rule(company)
    session = await make_session(company, starts_in=timedelta(hours=-3))
    learner = await signed_in_long_ago(client, company)
    scanned = session.starts_at - timedelta(minutes=2)  # in a plant without signal; synced three hours later

    (result,) = await push(client, learner, [scan(session, scanned, 1, latitude=31.2304, longitude=121.4737)])

    assert (result["status"], result["result"]) == ("ACCEPTED", {"status": "PRESENT", "held": None})
    entry = line(await roster(client, company, session), "LRN")
    assert entry["status"] == "PRESENT" and entry["held"] is None
    assert await balance(company) == 20


async def test_a_scan_three_months_old_is_held_not_counted_until_someone_decides(client, company):
    await attendance_rule(company)
    session = await make_session(company, starts_in=timedelta(days=-90))
    learner = await signed_in_long_ago(client, company)
    that_day = session.starts_at + timedelta(minutes=1)

    (result,) = await push(client, learner, [scan(session, that_day, 1)])

    assert (result["status"], result["result"]) == ("ACCEPTED", {"status": "PRESENT", "held": "LATE_SYNC"})
    listed = await roster(client, company, session)
    assert (listed["present"], listed["held"]) == (0, 1)
    assert line(listed, "LRN")["held"] == "LATE_SYNC"
    assert await balance(company) == 0
    # The instructor (or HR) decides, once.
    instructor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    variables = {
        "input": {
            "sessionId": to_global_id("TrainingSession", session.id),
            "employeeId": to_global_id("Employee", company.employees["LRN"].id),
            "approve": True,
        }
    }
    decided = (await gql(client, DECIDE, variables, token=instructor))["data"]["decideHeldCheckIn"]
    assert decided == {"entry": {"status": "PRESENT", "held": None, "manual": False, "reason": ""}, "errors": []}
    assert await balance(company) == 20
    again = (await gql(client, DECIDE, variables, token=instructor))["data"]["decideHeldCheckIn"]
    assert again["errors"] == [{"code": "ALREADY_DECIDED", "field": None}]
    assert await AuditEntry.filter(tenant=company.tenant, action="CHECK_IN_HELD_DECIDED").count() == 1


async def test_a_held_scan_refused_by_hr_is_absent_and_needs_a_reason(client, company):
    await attendance_rule(company)
    session = await make_session(company, starts_in=timedelta(days=-90))
    learner = await signed_in_long_ago(client, company)
    await push(client, learner, [scan(session, session.starts_at, 1)])
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    variables = {
        "input": {
            "sessionId": to_global_id("TrainingSession", session.id),
            "employeeId": to_global_id("Employee", company.employees["LRN"].id),
            "approve": False,
        }
    }
    assert (await gql(client, DECIDE, variables, token=hr))["data"]["decideHeldCheckIn"]["errors"] == [
        {"code": "VALIDATION", "field": "reason"}
    ]
    assert (await gql(client, DECIDE, variables, token=learner))["data"]["decideHeldCheckIn"]["errors"] == [
        {"code": "FORBIDDEN", "field": None}
    ]
    variables["input"]["reason"] = "三个月后才同步，无法核实"
    decided = (await gql(client, DECIDE, variables, token=hr))["data"]["decideHeldCheckIn"]
    assert decided["entry"]["status"] == "ABSENT" and decided["entry"]["held"] is None
    assert await balance(company) == 0


async def test_a_scan_claimed_before_the_phone_was_last_online_is_held(client, company):
    """Late by 15 minutes, a code photographed by a colleague at the start, a claimed scan time
    from then: the phone had pushed a lesson 12 minutes ago, so the scan was not on it then."""
    session = await make_session(company, starts_in=timedelta(minutes=-20))
    learner = await signed_in_long_ago(client, company)
    module = await lesson_module(company)
    earlier = lesson(module.id, 1, occurred_at=now() - timedelta(minutes=40))  # before the session
    await push(client, learner, [earlier])
    await ActivityRecord.filter(id=earlier["id"]).update(received_at=now() - timedelta(minutes=12))
    photographed = session.starts_at - timedelta(minutes=1)

    (result,) = await push(client, learner, [scan(session, photographed, 2)])

    assert result["result"] == {"status": "PRESENT", "held": "ONLINE_SINCE"}
    assert (await roster(client, company, session))["held"] == 1


async def test_a_token_refresh_after_the_scan_time_is_contact_too(client, company):
    session = await make_session(company, starts_in=timedelta(minutes=-30))
    learner = await signed_in_long_ago(client, company)
    await Device.filter(employee=company.employees["LRN"]).update(last_seen_at=now() - timedelta(minutes=15))

    (result,) = await push(client, learner, [scan(session, session.starts_at - timedelta(minutes=1), 1)])

    assert result["result"]["held"] == "ONLINE_SINCE"


async def test_an_outbox_drained_in_several_pushes_is_not_held(client, company):
    """An honest phone back in coverage: it refreshes its token, sends its outbox in batches (its
    earlier lessons first, then the scan of three hours ago): all one return, nothing held."""
    await attendance_rule(company)
    session = await make_session(company, starts_in=timedelta(hours=-3))
    learner = await signed_in_long_ago(client, company)
    await Device.filter(employee=company.employees["LRN"]).update(last_seen_at=now() - timedelta(minutes=1))
    module = await lesson_module(company)
    lessons = [lesson(module.id, seq, occurred_at=session.starts_at - timedelta(hours=4 - seq)) for seq in (1, 2, 3)]
    await push(client, learner, lessons)

    (result,) = await push(client, learner, [scan(session, session.starts_at - timedelta(minutes=2), 4)])

    assert result["result"] == {"status": "PRESENT", "held": None}
    assert await balance(company) == 20


async def test_a_scan_from_before_the_phone_was_signed_in_is_held(client, company):
    """A phone signed in for the first time just now cannot have scanned a code 15 minutes ago."""
    session = await make_session(company, starts_in=timedelta(minutes=-20))
    learner = await token_for(client, company.code, "LRN", device_id="brand-new-phone")

    (result,) = await push(client, learner, [scan(session, session.starts_at, 1)], device_id="brand-new-phone")

    assert result["result"] == {"status": "PRESENT", "held": "SIGNED_IN_AFTER"}


@pytest.mark.parametrize("step", ["ZZZZZZZZZZ", "0"])
async def test_a_forged_code_naming_any_step_is_invalid(client, company, step):
    session = await make_session(company, starts_in=timedelta(minutes=-5))
    learner = await signed_in_long_ago(client, company)
    forged = f"XF1-{qr._base36(session.id)}-{step}-AAAAAAAAAAAAAAAA"
    online = await check_in(client, learner, forged, now())
    (offline,) = await push(client, learner, [{**scan(session, now(), 1), "payload": {"token": forged}}])
    assert (online["status"], online["code"]) == (offline["status"], offline["code"]) == ("REJECTED", "QR_INVALID")


async def test_a_scan_older_than_the_phones_earlier_records_is_held(client, company):
    session = await make_session(company, starts_in=timedelta(minutes=-20))
    learner = await signed_in_long_ago(client, company)
    module = await lesson_module(company)
    photographed = session.starts_at - timedelta(minutes=1)
    records = [lesson(module.id, 1, occurred_at=now() - timedelta(minutes=2)), scan(session, photographed, 2)]

    results = await push(client, learner, records)

    assert results[1]["result"] == {"status": "PRESENT", "held": "OUT_OF_ORDER"}


async def test_a_phone_whose_clock_cannot_be_believed_is_held_at_the_codes_own_time(client, company):
    session = await make_session(company, starts_in=timedelta(hours=-1))
    learner = await token_for(client, company.code, "LRN")
    shown = session.starts_at - timedelta(minutes=3)
    off = timedelta(days=30)  # beyond what the server corrects
    record = {**scan(session, shown, 1), "occurredAt": (shown + off).isoformat()}

    (result,) = await push(client, learner, [record], sent_at=now() + off)

    assert result["result"] == {"status": "PRESENT", "held": "CLOCK_UNTRUSTED"}
    attendance = await Attendance.get(session=session)
    assert abs((attendance.checked_in_at - shown).total_seconds()) <= session.rotation_seconds


async def test_a_fresh_scan_replaces_a_held_one(client, company):
    await attendance_rule(company)
    session = await make_session(company, starts_in=timedelta(minutes=-20))
    learner = await signed_in_long_ago(client, company)
    module = await lesson_module(company)
    await push(client, learner, [lesson(module.id, 1, occurred_at=now())])
    (held,) = await push(client, learner, [scan(session, session.starts_at, 2)])
    assert held["result"]["held"] == "OUT_OF_ORDER"

    fresh = await check_in(client, learner, token_at(session, now()), now())

    assert fresh["status"] == "ACCEPTED"
    attendance = await Attendance.get(session=session)
    assert (attendance.status, attendance.hold_reason) == ("LATE", "")
    assert await balance(company) == 20


# --- the roster's evidence -----------------------------------------------------------------------


async def test_the_roster_shows_code_device_place_and_arrival_of_each_scan(client, company):
    session = await make_session(company, starts_in=timedelta(minutes=-5), enrolled=("LRN", "OTH"))
    learner = await token_for(client, company.code, "LRN", device_id="lrn-phone")
    colleague = await token_for(client, company.code, "OTH", device_id="lrn-phone")  # the same phone
    at = now()
    await check_in(client, learner, token_at(session, at), at, latitude=31.2304, longitude=121.4737)
    await check_in(client, colleague, token_at(session, at), at)

    listed = await roster(client, company, session, who="HR1")  # HR sees rosters too

    lrn, oth = line(listed, "LRN"), line(listed, "OTH")
    assert lrn["codeStep"] == oth["codeStep"] == str(at.timestamp().__int__() // session.rotation_seconds)
    assert lrn["deviceTag"] == oth["deviceTag"] and len(lrn["deviceTag"]) == 12
    assert "lrn-phone" not in str(listed)  # the device id itself stays private
    assert (lrn["latitude"], lrn["longitude"]) == (31.2304, 121.4737)
    assert lrn["receivedAt"] is not None
    assert "SHARED_DEVICE" in lrn["riskFlags"] and "SHARED_DEVICE" in oth["riskFlags"]
    assert "NO_LOCATION" in oth["riskFlags"] and "SHARED_CODE" not in lrn["riskFlags"]


async def test_thirty_walk_ins_with_one_code_are_flagged_on_the_roster(client, company, password_hash):
    session = await make_session(company, starts_in=timedelta(minutes=-5), enrolled=(), allows_walk_in=True)
    code = token_at(session, now())
    tokens = []
    for number in range(30):
        employee = await Employee.create(
            tenant=company.tenant,
            employee_no=f"W{number:03}",
            name=f"散客{number}",
            password_hash=password_hash,
            org_unit=company.employees["LRN"].org_unit_id and await company.employees["LRN"].org_unit,
            site=company.sites["hq"],
        )
        await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
        tokens.append(await token_for(client, company.code, employee.employee_no, device_id=f"w{number}"))
    for token in tokens:
        assert (await check_in(client, token, code, now()))["status"] == "ACCEPTED"

    listed = await roster(client, company, session)

    assert len(listed["entries"]) == 30
    assert all("SHARED_CODE" in entry["riskFlags"] for entry in listed["entries"])
    assert len({entry["codeStep"] for entry in listed["entries"]}) == 1


async def test_two_people_deciding_a_held_scan_at_once_decide_it_once(client, company):
    await attendance_rule(company)
    session = await make_session(company, starts_in=timedelta(days=-90))
    learner = await signed_in_long_ago(client, company)
    await push(client, learner, [scan(session, session.starts_at, 1)])
    instructor = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    hr = await token_for(client, company.code, "HR1", device_id="hr-desk")
    target = {
        "sessionId": to_global_id("TrainingSession", session.id),
        "employeeId": to_global_id("Employee", company.employees["LRN"].id),
    }

    answers = await asyncio.gather(
        gql(client, DECIDE, {"input": {**target, "approve": True}}, token=instructor),
        gql(client, DECIDE, {"input": {**target, "approve": False, "reason": "不认可"}}, token=hr),
    )

    errors = sorted(str(a["data"]["decideHeldCheckIn"]["errors"]) for a in answers)
    assert errors == ["[]", "[{'code': 'ALREADY_DECIDED', 'field': None}]"], answers
    attendance = await Attendance.get(session=session)
    assert attendance.hold_reason == ""
    assert await balance(company) == (20 if attendance.status == "PRESENT" else 0)
