"""Private calendar feeds through the real ASGI app (docs/calendars.md): the links made, shown once,
replaced, revoked (by their owner, by HR, by leaving) and refused alike when malformed; what a feed
holds, read back with a second, independent iCalendar parser (vobject): the person's sessions and
due dates and nobody else's, each in its site's time zone with its address, cancellations and
moves as updates with a higher SEQUENCE; ETag and 304; the token in no log line."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import vobject

from backend.demo.calendars import demo_token
from backend.ids import to_global_id
from backend.models import (
    AssignmentSource,
    AssignmentStatus,
    AuditEntry,
    CalendarFeed,
    CalendarFeedRevokeReason,
    Certificate,
    CertificateProgram,
    Employee,
    EmployeeRole,
    EmployeeSettings,
    Enrollment,
    EnrollmentStatus,
    OjtAssignment,
    OjtPlan,
    Role,
    SessionStatus,
    Site,
    TrainingSession,
)
from backend.services.calendars import events as calendar_events
from backend.services.calendars import feeds, ics
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.log_capture import captured_log

MY_FEED = "query { myCalendarFeed { employeeId active createdAt revokedAt revokeReason } }"
CREATE = """
mutation { createCalendarFeed { url webcalUrl path feed { employeeId active createdAt revokedAt revokeReason }
  errors { code field message } } }
"""
REVOKE = """
mutation Revoke($input: RevokeCalendarFeedInput) {
  revokeCalendarFeed(input: $input) { revoked feed { employeeId active revokedAt revokeReason } errors { code field } }
}
"""
UPDATE_SESSION = """
mutation U($input: UpdateSessionInput!) { updateSession(input: $input) { session { id } errors { code field } } }
"""
CANCEL_SESSION = """
mutation C($input: CancelSessionInput!) { cancelSession(input: $input) { session { id status } errors { code } } }
"""
LEAVE = """
mutation L($input: LeaveEmployeeInput!) { leaveEmployee(input: $input) { employee { isActive } errors { code field } } }
"""
URUMQI_ADDRESS = "新疆乌鲁木齐市天山区人民路 1 号"
SHANGHAI_ADDRESS = "上海市浦东新区张江路 88 号"


@pytest.fixture
async def company(password_hash) -> Company:
    company = await make_company(password_hash)
    await Site.filter(id=company.sites["remote"].id).update(address=URUMQI_ADDRESS)
    await Site.filter(id=company.sites["hq"].id).update(address=SHANGHAI_ADDRESS)
    await EmployeeRole.create(tenant=company.tenant, employee=company.employees["MGR"], role=Role.INSTRUCTOR)
    return company


async def make_session(
    company: Company,
    starts_at: datetime,
    *,
    site: str = "remote",
    instructor: str = "MGR",
    title: str = "安全生产现场演练",
    location: str = "3 号车间",
    status: SessionStatus = SessionStatus.SCHEDULED,
) -> TrainingSession:
    return await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses["A-001"],
        title=title,
        instructor=company.employees[instructor],
        site=company.sites[site],
        location=location,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        capacity=20,
        status=status,
        secret="0" * 64,
    )


async def enroll(company: Company, session: TrainingSession, no: str, status=EnrollmentStatus.ENROLLED) -> None:
    await Enrollment.create(tenant=company.tenant, session=session, employee=company.employees[no], status=status)


async def create_feed(client, token: str) -> dict[str, Any]:
    body = await gql(client, CREATE, token=token)
    assert "errors" not in body, body
    payload = body["data"]["createCalendarFeed"]
    assert payload["errors"] == [], payload
    return payload


async def revoke(client, token: str, employee_id: str | None = None) -> dict[str, Any]:
    variables = {"input": {"employeeId": employee_id}} if employee_id is not None else {}
    body = await gql(client, REVOKE, variables, token=token, language="en")
    assert "errors" not in body, body
    return body["data"]["revokeCalendarFeed"]


async def my_feed(client, token: str) -> dict[str, Any]:
    body = await gql(client, MY_FEED, token=token)
    assert "errors" not in body, body
    return body["data"]["myCalendarFeed"]


async def fetch(client, path: str, **headers: str):
    return await client.get(path, headers=headers)


async def parsed(client, path: str) -> Any:
    response = await fetch(client, path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    return vobject.readOne(response.content.decode("utf-8"))


def events_of(calendar: Any) -> dict[str, Any]:
    return {event.uid.value: event for event in getattr(calendar, "vevent_list", [])}


def tzid(prop: Any) -> str:
    """The TZID a date-time was written with (vobject keeps it aside once it made the tzinfo)."""
    return vobject.icalendar.TimezoneComponent.pickTzid(prop.value.tzinfo)


def session_uid(company: Company, session: TrainingSession) -> str:
    return f"session-{to_global_id('TrainingSession', session.id)}@{company.code}"


def gid(company: Company, no: str) -> str:
    return to_global_id("Employee", company.employees[no].id)


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def test_a_link_is_shown_once_stored_as_a_hash_replaced_and_revoked(client, company):
    token = await token_for(client, company.code, "LRN")
    assert await my_feed(client, token) == {
        "employeeId": gid(company, "LRN"),
        "active": False,
        "createdAt": None,
        "revokedAt": None,
        "revokeReason": None,
    }
    made = await create_feed(client, token)
    path = made["path"]
    secret = path.removeprefix("/calendar/").removesuffix(".ics")
    assert feeds.TOKEN_PATTERN.fullmatch(secret) and len(secret) == 43  # 256 random bits
    # At the public address (XUEFEN_PUBLIC_URL), whatever Host the request came with.
    assert made["url"] == f"http://localhost:8000{path}" and made["webcalUrl"] == f"webcal://localhost:8000{path}"
    assert made["feed"]["active"] is True and made["feed"]["createdAt"] is not None

    # Never shown again, and only its SHA-256 is kept.
    again = await my_feed(client, token)
    assert again["active"] is True and again["createdAt"] == made["feed"]["createdAt"]
    assert secret not in json.dumps(again)
    (row,) = await CalendarFeed.filter(employee_id=company.employees["LRN"].id)
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in json.dumps({k: str(v) for k, v in row.__dict__.items()})
    assert (await fetch(client, path)).status_code == 200

    # A new link kills the old one.
    newer = await create_feed(client, token)
    assert newer["path"] != path
    assert (await fetch(client, path)).status_code == 404
    assert (await fetch(client, newer["path"])).status_code == 200
    old = await CalendarFeed.get(id=row.id)
    assert old.revoke_reason == CalendarFeedRevokeReason.REPLACED and old.revoked_at is not None
    assert await CalendarFeed.filter(employee_id=company.employees["LRN"].id, revoked_at=None).count() == 1

    # Revoked by its owner: 404 at once; revoking again changes nothing.
    done = await revoke(client, token)
    assert done["errors"] == [] and done["revoked"] is True
    assert done["feed"]["active"] is False and done["feed"]["revokeReason"] == "REVOKED"
    assert (await fetch(client, newer["path"])).status_code == 404
    assert (await revoke(client, token))["revoked"] is False
    state = await my_feed(client, token)
    assert state["active"] is False and state["revokeReason"] == "REVOKED" and state["revokedAt"] is not None

    # Audited, never with a token.
    audits = await AuditEntry.filter(tenant_id=company.tenant.id, action__startswith="calendar.").order_by("id")
    assert [a.action for a in audits] == ["calendar.create", "calendar.create", "calendar.revoke", "calendar.revoke"]
    assert [a.details for a in audits] == [{"replaced": 0}, {"replaced": 1}, {"revoked": 1}, {"revoked": 0}]
    assert all(a.entity_id == str(company.employees["LRN"].id) for a in audits)


async def test_only_hr_revokes_someone_elses_link_and_only_in_their_company(client, company, password_hash):
    other = await make_company(password_hash)
    tokens = {no: await token_for(client, company.code, no) for no in ("LRN", "OTH", "MGR", "HR1")}
    link = (await create_feed(client, tokens["LRN"]))["path"]
    learner = gid(company, "LRN")

    # An employee, a manager (LRN's own): FORBIDDEN before anything is read; the link still works.
    for no in ("OTH", "MGR"):
        assert codes(await revoke(client, tokens[no], learner)) == ["FORBIDDEN"]
        assert codes(await revoke(client, tokens[no], to_global_id("Employee", 10**9))) == ["FORBIDDEN"]
    # Another company's HR admin: NOT_FOUND (they cannot tell the employee exists).
    assert codes(await revoke(client, await token_for(client, other.code, "HR1"), learner)) == ["NOT_FOUND"]
    assert codes(await revoke(client, tokens["HR1"], "not-an-id")) == ["VALIDATION"]
    assert codes(await revoke(client, tokens["HR1"], to_global_id("Course", 1))) == ["VALIDATION"]
    assert (await fetch(client, link)).status_code == 200

    done = await revoke(client, tokens["HR1"], learner)
    assert done["errors"] == [] and done["revoked"] is True
    assert done["feed"] == {
        "employeeId": learner,
        "active": False,
        "revokedAt": done["feed"]["revokedAt"],
        "revokeReason": "REVOKED_BY_HR",
    }
    assert (await fetch(client, link)).status_code == 404
    assert (await my_feed(client, tokens["LRN"]))["revokeReason"] == "REVOKED_BY_HR"
    assert (await my_feed(client, tokens["HR1"]))["active"] is False  # HR's own is another link
    row = await CalendarFeed.get(employee_id=company.employees["LRN"].id)
    assert row.revoked_by_id == company.employees["HR1"].id


async def test_without_a_sign_in_every_calendar_field_is_unauthenticated(client):
    for document, name in ((MY_FEED, None), (CREATE, "createCalendarFeed"), (REVOKE, "revokeCalendarFeed")):
        body = await gql(client, document)
        found = [e["extensions"]["code"] for e in body.get("errors") or []] or codes(body["data"][name])
        assert found == ["UNAUTHENTICATED"], body


@pytest.mark.parametrize("no", ["LRN", "OTH", "MGR", "HR1"])
async def test_every_role_makes_and_reads_its_own_link(client, company, no):
    token = await token_for(client, company.code, no)
    made = await create_feed(client, token)
    assert made["feed"]["employeeId"] == gid(company, no)
    assert (await my_feed(client, token))["active"] is True
    calendar = await parsed(client, made["path"])
    assert calendar.prodid.value.startswith("-//Xuefen//")


async def test_a_feed_holds_the_persons_sessions_and_due_dates_and_nobody_elses(client, company):
    now = datetime.now(UTC).replace(microsecond=0)
    starts = now + timedelta(days=20)
    remote = await make_session(company, starts)  # Asia/Urumqi, taught by MGR
    hq = await make_session(company, starts + timedelta(days=1), site="hq", title="消防演练（上海）", location="")
    others = await make_session(company, starts, title="别人的场次")
    waiting = await make_session(company, starts, title="候补中的场次")
    pending = await make_session(company, starts, title="待审批的场次")
    far = await make_session(company, now + timedelta(days=400), title="一年以后")
    old = await make_session(company, now - timedelta(days=100), title="很久以前")
    taught_by_hr = await make_session(company, starts, instructor="HR1", title="人事讲的课")
    for session in (remote, hq, far, old, taught_by_hr):
        await enroll(company, session, "LRN")
    await enroll(company, others, "OTH")
    await enroll(company, waiting, "LRN", EnrollmentStatus.WAITLISTED)
    await enroll(company, pending, "LRN", EnrollmentStatus.PENDING)
    plan = await OjtPlan.create(tenant=company.tenant, code="ONB", name="新员工上岗计划", description="30 天内完成")
    due = (now + timedelta(days=30)).date()
    assignment = await OjtAssignment.create(
        tenant=company.tenant,
        employee=company.employees["LRN"],
        plan=plan,
        source=AssignmentSource.MANUAL,
        starts_on=due - timedelta(days=30),
        due_on=due,
    )

    token = await token_for(client, company.code, "LRN")
    calendar = await parsed(client, (await create_feed(client, token))["path"])
    found = events_of(calendar)
    assignment_uid = f"ojt-assignment-{to_global_id('OjtAssignment', assignment.id)}@{company.code}"
    assert set(found) == {
        session_uid(company, remote),
        session_uid(company, hq),
        session_uid(company, taught_by_hr),
        assignment_uid,
    }

    event = found[session_uid(company, remote)]
    assert event.summary.value == "安全生产现场演练"  # Chinese intact
    assert tzid(event.dtstart) == tzid(event.dtend) == "Asia/Urumqi"
    assert event.dtstart.value.astimezone(UTC) == remote.starts_at.astimezone(UTC)
    assert event.dtend.value.astimezone(UTC) == remote.ends_at.astimezone(UTC)
    assert event.dtstart.value.utcoffset() == timedelta(hours=6)
    assert event.location.value == f"乌鲁木齐办事处，3 号车间，{URUMQI_ADDRESS}"
    assert "讲师：孟经理" in event.description.value and "课程：安全生产操作规程" in event.description.value
    assert event.status.value == "CONFIRMED" and event.sequence.value == "0"
    shanghai = found[session_uid(company, hq)]
    assert tzid(shanghai.dtstart) == "Asia/Shanghai"
    assert shanghai.dtstart.value.utcoffset() == timedelta(hours=8)
    assert shanghai.location.value == f"上海总部，{SHANGHAI_ADDRESS}"
    assert {tz.tzid.value for tz in calendar.vtimezone_list} == {"Asia/Urumqi", "Asia/Shanghai"}

    due_event = found[assignment_uid]
    assert due_event.dtstart.value == due and due_event.dtend.value == due + timedelta(days=1)
    assert due_event.summary.value == "培训计划截止：新员工上岗计划"
    assert due_event.transp.value == "TRANSPARENT"
    assert calendar.x_wr_calname.value == "学分 · 我的培训"

    # The instructor's feed: what they teach, titled so, and nothing they do not.
    mgr = await token_for(client, company.code, "MGR")
    taught = events_of(await parsed(client, (await create_feed(client, mgr))["path"]))
    assert set(taught) == {session_uid(company, s) for s in (remote, hq, others, waiting, pending)}
    assert taught[session_uid(company, remote)].summary.value == "授课：安全生产现场演练"
    # OTH sees only their own session.
    oth = await token_for(client, company.code, "OTH")
    assert set(events_of(await parsed(client, (await create_feed(client, oth))["path"]))) == {
        session_uid(company, others)
    }


async def test_the_feed_speaks_the_persons_language(client, company):
    session = await make_session(company, datetime.now(UTC) + timedelta(days=3))
    await enroll(company, session, "LRN")
    await EmployeeSettings.create(tenant=company.tenant, employee=company.employees["LRN"], locale="en")
    plan = await OjtPlan.create(tenant=company.tenant, code="ONB", name="Onboarding")
    today = datetime.now(UTC).date()
    await OjtAssignment.create(
        tenant=company.tenant,
        employee=company.employees["LRN"],
        plan=plan,
        source=AssignmentSource.MANUAL,
        starts_on=today,
        due_on=today + timedelta(days=10),
        status=AssignmentStatus.COMPLETED,
    )
    token = await token_for(client, company.code, "LRN")
    calendar = await parsed(client, (await create_feed(client, token))["path"])
    assert calendar.x_wr_calname.value == "Xuefen · My training"
    summaries = sorted(event.summary.value for event in calendar.vevent_list)
    assert summaries == ["Completed: Onboarding", "安全生产现场演练"]
    (session_event,) = [e for e in calendar.vevent_list if e.uid.value.startswith("session-")]
    assert "Instructor: 孟经理" in session_event.description.value
    assert session_event.location.value == f"乌鲁木齐办事处, 3 号车间, {URUMQI_ADDRESS}"


async def test_moves_and_cancellations_are_updates_with_a_higher_sequence(client, company):
    starts = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    session = await make_session(company, starts)
    await enroll(company, session, "LRN")
    # Past cancellations: within 30 days of their start they stay, as cancelled; older ones leave.
    recent = await make_session(company, starts - timedelta(days=15), status=SessionStatus.CANCELLED, title="近期取消")
    gone = await make_session(company, starts - timedelta(days=40), status=SessionStatus.CANCELLED, title="早已取消")
    for cancelled in (recent, gone):
        await enroll(company, cancelled, "LRN")
    hr = await token_for(client, company.code, "HR1")
    path = (await create_feed(client, await token_for(client, company.code, "LRN")))["path"]
    uid = session_uid(company, session)

    first = events_of(await parsed(client, path))
    assert session_uid(company, gone) not in first
    assert first[session_uid(company, recent)].status.value == "CANCELLED"
    assert first[uid].sequence.value == "0" and first[uid].status.value == "CONFIRMED"
    stamp = first[uid].dtstamp.value

    moved_to = starts + timedelta(days=1, hours=3)
    body = await gql(
        client,
        UPDATE_SESSION,
        {
            "input": {
                "sessionId": to_global_id("TrainingSession", session.id),
                "startsAt": moved_to.isoformat(),
                "endsAt": (moved_to + timedelta(hours=2)).isoformat(),
            }
        },
        token=hr,
    )
    assert body["data"]["updateSession"]["errors"] == [], body
    moved = events_of(await parsed(client, path))[uid]
    assert int(moved.sequence.value) > int(first[uid].sequence.value)
    assert moved.dtstart.value.astimezone(UTC) == moved_to
    assert moved.dtstamp.value >= stamp

    body = await gql(
        client,
        CANCEL_SESSION,
        {"input": {"sessionId": to_global_id("TrainingSession", session.id), "reason": "讲师出差"}},
        token=hr,
    )
    assert body["data"]["cancelSession"]["session"]["status"] == "CANCELLED", body
    cancelled = events_of(await parsed(client, path))[uid]
    assert cancelled.status.value == "CANCELLED"
    assert int(cancelled.sequence.value) > int(moved.sequence.value)
    assert cancelled.summary.value == "已取消：安全生产现场演练"
    assert "本场次已取消" in cancelled.description.value
    assert cancelled.dtstart.value.astimezone(UTC) == moved_to


async def test_a_place_taken_again_comes_back_as_an_update(client, company):
    session = await make_session(company, datetime.now(UTC) + timedelta(days=5))
    await enroll(company, session, "LRN")
    path = (await create_feed(client, await token_for(client, company.code, "LRN")))["path"]
    uid = session_uid(company, session)
    before = int(events_of(await parsed(client, path))[uid].sequence.value)
    place = Enrollment.filter(session_id=session.id, employee_id=company.employees["LRN"].id)
    await place.update(status=EnrollmentStatus.CANCELLED, version=2)
    assert uid not in events_of(await parsed(client, path))  # a place given up leaves the feed
    await place.update(status=EnrollmentStatus.ENROLLED, version=3)
    assert int(events_of(await parsed(client, path))[uid].sequence.value) > before


@pytest.mark.parametrize(
    "path",
    [
        "/calendar/" + "A" * 44 + ".ics",  # one too long
        "/calendar/" + "A" * 42 + ".ics",  # one too short
        "/calendar/" + "A" * 10_000 + ".ics",
        "/calendar/" + "令" * 43 + ".ics",  # non-ASCII
        "/calendar/" + "%E4%BB%A4" * 43 + ".ics",
        "/calendar/" + "A" * 42 + "%00.ics",  # a NUL
        "/calendar/" + "A" * 42 + "'.ics",  # a quote
        "/calendar/..%2F..%2Fetc%2Fpasswd.ics",  # path tricks
        "/calendar/%2e%2e.ics",
        "/calendar/" + "A" * 43 + ".ics.ics",
        "/calendar/" + "A" * 43 + "=.ics",
        "/calendar/.ics",
    ],
)
async def test_malformed_tokens_are_404_without_touching_the_database(client, path):
    with count_queries() as statements:
        response = await client.get(path)
    assert response.status_code == 404, response.text
    assert statements == []


async def test_unknown_revoked_and_inactive_answer_the_same_404(client, company):
    token = await token_for(client, company.code, "OTH")
    path = (await create_feed(client, token))["path"]
    unknown = "/calendar/" + "A" * 43 + ".ics"
    with count_queries() as statements:
        refused = await client.get(unknown)
    assert refused.status_code == 404 and len(statements) == 1  # one lookup of the hash
    assert refused.headers["cache-control"] == "no-store"
    assert refused.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"

    # Inactive (however it happened): refused exactly as unknown.
    await Employee.filter(id=company.employees["OTH"].id).update(is_active=False)
    inactive = await client.get(path)
    assert (inactive.status_code, inactive.content) == (refused.status_code, refused.content)
    await Employee.filter(id=company.employees["OTH"].id).update(is_active=True)
    assert (await client.get(path)).status_code == 200

    # Leaving the company revokes the link for good (a rehire makes a new one).
    hr = await token_for(client, company.code, "HR1")
    day = datetime.now(ZoneInfo(company.tenant.time_zone)).date()
    body = await gql(
        client,
        LEAVE,
        {"input": {"employeeId": gid(company, "OTH"), "leftOn": str(day), "reason": "个人原因"}},
        token=hr,
    )
    assert body["data"]["leaveEmployee"]["errors"] == [], body
    left = await client.get(path)
    assert (left.status_code, left.content) == (refused.status_code, refused.content)
    row = await CalendarFeed.get(employee_id=company.employees["OTH"].id)
    assert row.revoke_reason == CalendarFeedRevokeReason.LEFT
    leave = await AuditEntry.get(tenant_id=company.tenant.id, action="employee.leave")
    assert leave.details["revokedCalendarFeeds"] == 1


async def test_etag_and_304(client, company):
    session = await make_session(company, datetime.now(UTC) + timedelta(days=5))
    await enroll(company, session, "LRN")
    path = (await create_feed(client, await token_for(client, company.code, "LRN")))["path"]
    first = await fetch(client, path)
    etag = first.headers["etag"]
    assert etag.startswith('W/"') and first.headers["cache-control"] == "private, max-age=900"
    assert (await fetch(client, path)).headers["etag"] == etag  # the same facts, the same bytes

    for sent in (etag, etag.removeprefix("W/"), f'"other", {etag}', "*"):
        again = await fetch(client, path, **{"If-None-Match": sent})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert (await fetch(client, path, **{"If-None-Match": '"other"'})).status_code == 200

    hr = await token_for(client, company.code, "HR1")
    body = await gql(
        client,
        CANCEL_SESSION,
        {"input": {"sessionId": to_global_id("TrainingSession", session.id), "reason": ""}},
        token=hr,
    )
    assert body["data"]["cancelSession"]["session"]["status"] == "CANCELLED"
    changed = await fetch(client, path, **{"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    head = await client.head(path)
    assert head.status_code == 200 and head.content == b""


async def test_the_token_never_reaches_the_access_log(client, company):
    path = (await create_feed(client, await token_for(client, company.code, "LRN")))["path"]
    secret = path.removeprefix("/calendar/").removesuffix(".ics")
    with captured_log() as stream:
        assert (await client.get(path)).status_code == 200
        assert (await client.get(path + "?x=1")).status_code == 200
        assert (await client.get(f"/calendar/{secret}/extra.ics")).status_code == 404
    text = stream.getvalue()
    assert secret not in text
    access = [json.loads(line) for line in text.splitlines() if '"xuefen.access"' in line]
    redacted = "/calendar/[redacted]"
    assert [line["path"] for line in access] == [redacted, f"{redacted}?x=[redacted]", redacted]
    assert access[0]["route"] == "/calendar/{token}.ics"


async def test_calendar_events_for_is_the_feeds_content(company):
    """The service contract other features build on (certificate expiry dates join it later)."""
    session = await make_session(company, datetime.now(UTC) + timedelta(days=2))
    await enroll(company, session, "LRN")
    learner = await Employee.get(id=company.employees["LRN"].id)
    found = await calendar_events.calendar_events_for(learner)
    assert [(e.uid, e.summary, e.zone.key if e.zone else None) for e in found] == [
        (session_uid(company, session), "安全生产现场演练", "Asia/Urumqi")
    ]
    assert found[0].start == session.starts_at.astimezone(ZoneInfo("Asia/Urumqi"))


def test_demo_tokens_have_the_shape_of_real_ones():
    assert feeds.TOKEN_PATTERN.fullmatch(demo_token("demo", "E0001"))
    assert demo_token("demo", "E0001") != demo_token("demo", "MT001") != demo_token("other", "MT001")


# --- second reader's checks ----------------------------------------------------------------------

# ASCII controls RFC 5545 allows in no TEXT value (3.3.11); CR only as half of a line's CRLF.
_FORBIDDEN_CONTROLS = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


async def test_control_characters_in_titles_never_reach_the_feed(client, company):
    """A title, room or plan description typed with a control character (a pasted ESC sequence,
    a vertical tab, a lone CR) must not make the feed invalid: calendar apps refuse a whole feed
    with one bad line."""
    session = await make_session(
        company,
        datetime.now(UTC) + timedelta(days=3),
        title="消防\x0b演练\x1b[31m\x7f",
        location="3 号\r车间\x01",
    )
    await enroll(company, session, "LRN")
    plan = await OjtPlan.create(
        tenant=company.tenant, code="ONB", name="上岗\x08计划", description="第一行\r第二行\x1f"
    )
    today = datetime.now(UTC).date()
    await OjtAssignment.create(
        tenant=company.tenant,
        employee=company.employees["LRN"],
        plan=plan,
        source=AssignmentSource.MANUAL,
        starts_on=today,
        due_on=today + timedelta(days=10),
    )
    path = (await create_feed(client, await token_for(client, company.code, "LRN")))["path"]
    raw = (await fetch(client, path)).content
    assert not any(byte in _FORBIDDEN_CONTROLS for byte in raw), raw
    assert raw.count(b"\r") == raw.count(b"\r\n") == raw.count(b"\n")  # every line ends CRLF, no stray CR
    found = events_of(vobject.readOne(raw.decode("utf-8")))
    event = found[session_uid(company, session)]
    assert event.summary.value == "消防演练[31m"
    assert event.location.value == f"乌鲁木齐办事处，3 号\n车间，{URUMQI_ADDRESS}"
    (due,) = [e for uid, e in found.items() if uid.startswith("ojt-assignment-")]
    assert due.summary.value == "培训计划截止：上岗计划"
    assert due.description.value.startswith("第一行\n第二行\n")


async def test_the_same_facts_give_the_same_bytes_from_one_day_to_the_next(company):
    """The ETag holds until a fact changes: the time zone definitions must not follow the day of
    the request (they started on the window's first day, which moved every day)."""
    await Site.filter(id=company.sites["hq"].id).update(time_zone="Europe/Berlin")  # with summer time
    now = datetime(2027, 6, 10, 8, tzinfo=UTC)
    for site in ("hq", "remote"):
        await enroll(company, await make_session(company, now + timedelta(days=20), site=site), "LRN")
    learner = await Employee.get(id=company.employees["LRN"].id)
    first = ics.render(await calendar_events.calendar_for(learner, now))
    assert b"TZID:Europe/Berlin" in first and b"TZID:Asia/Urumqi" in first
    for later in (timedelta(hours=5), timedelta(days=1), timedelta(days=40)):
        assert ics.render(await calendar_events.calendar_for(learner, now + later)) == first, later


async def test_hundreds_of_sessions_cost_the_same_few_statements_all_scoped_to_the_company(client, company):
    """No N+1: the feed of a person with one session and of one with hundreds (taught and attended,
    changed, with due dates) costs the same statements, each scoped to the company but the token's
    lookup and the company's own row."""
    path = (await create_feed(client, await token_for(client, company.code, "LRN")))["path"]
    first = await make_session(company, datetime.now(UTC) + timedelta(days=1))
    await enroll(company, first, "LRN")
    with count_queries() as few:
        assert (await fetch(client, path)).status_code == 200

    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)  # 60 past, 240 to come
    learner, mgr = company.employees["LRN"], company.employees["MGR"]
    await TrainingSession.bulk_create(
        [
            TrainingSession(
                tenant=company.tenant,
                course=company.courses["A-001"],
                title=f"场次 {n}",
                instructor=learner if n % 5 == 0 else mgr,  # a fifth taught by the learner
                site=company.sites["remote" if n % 2 else "hq"],
                location="",
                starts_at=start + timedelta(hours=12 * n),
                ends_at=start + timedelta(hours=12 * n + 2),
                capacity=20,
                secret="0" * 64,
            )
            for n in range(300)
        ]
    )
    sessions = await TrainingSession.filter(tenant_id=company.tenant.id, title__startswith="场次 ").order_by("id")
    await Enrollment.bulk_create(
        [
            Enrollment(tenant=company.tenant, session=s, employee=learner, status=EnrollmentStatus.ENROLLED, version=2)
            for s in sessions
            if s.instructor_id != learner.id
        ]
    )
    await AuditEntry.bulk_create(
        [
            AuditEntry(
                tenant=company.tenant,
                actor=company.employees["HR1"],
                action="session.update",
                entity="TrainingSession",
                entity_id=str(s.id),
                details={},
            )
            for s in sessions[::3]
        ]
    )
    await OjtPlan.bulk_create([OjtPlan(tenant=company.tenant, code=f"P{n}", name=f"计划 {n}") for n in range(1, 40)])
    plans = await OjtPlan.filter(tenant_id=company.tenant.id).order_by("id")
    today = datetime.now(UTC).date()
    await OjtAssignment.bulk_create(
        [
            OjtAssignment(
                tenant=company.tenant,
                employee=learner,
                plan=plan,
                source=AssignmentSource.MANUAL,
                starts_on=today,
                due_on=today + timedelta(days=n),
            )
            for n, plan in enumerate(plans, 1)
        ]
    )
    with count_queries() as many:
        response = await fetch(client, path)
    assert response.status_code == 200
    assert response.content.count(b"BEGIN:VEVENT") == 1 + 300 + 39
    assert len(many) == len(few) <= 10, many
    unscoped = [s for s in many if "tenant_id" not in s.split(" WHERE ", 1)[-1]]
    assert len(unscoped) == 2, unscoped  # the token's lookup (its hash names the company) and the company's row


async def test_an_enrollment_pointing_at_another_companys_session_shows_nothing(client, company, password_hash):
    """An enrollment row of this company naming another company's session (no path writes one):
    the feed reads sessions of the person's company only."""
    other = await make_company(password_hash)
    theirs = await TrainingSession.create(
        tenant=other.tenant,
        course=other.courses["A-001"],
        title="别家公司的场次",
        instructor=other.employees["MGR"],
        site=other.sites["hq"],
        starts_at=datetime.now(UTC) + timedelta(days=2),
        ends_at=datetime.now(UTC) + timedelta(days=2, hours=1),
        capacity=5,
        secret="0" * 64,
    )
    await Enrollment.create(
        tenant=company.tenant, session=theirs, employee=company.employees["LRN"], status=EnrollmentStatus.ENROLLED
    )
    path = (await create_feed(client, await token_for(client, company.code, "LRN")))["path"]
    raw = (await fetch(client, path)).content
    assert b"BEGIN:VEVENT" not in raw and "别家公司".encode() not in raw


async def test_the_demo_never_gives_an_existing_company_a_predictable_link(company, password_hash):
    """Demo links are derived from the company code and employee number: seeding the demo under an
    existing company's code must leave that company alone (no link of any kind)."""
    from backend import demo

    assert await demo.seed_demo(password_hash, tenant_code=company.code) is False
    assert not await CalendarFeed.filter(tenant_id=company.tenant.id).exists()
    predictable = [feeds.token_hash(demo_token(company.code, no)) for no in (*company.employees, "E0001", "MT001")]
    assert not await CalendarFeed.filter(token_hash__in=predictable).exists()


REVOKE_CERTIFICATE = """
mutation R($input: RevokeCertificateInput!) { revokeCertificate(input: $input) { errors { code } } }
"""


async def test_a_certificate_expiry_is_an_all_day_event_and_a_revocation_cancels_it(client, company):
    """The last valid day of each certificate that expires (docs/certificates.md), in the person's
    language; revoked, it turns CANCELLED with a higher SEQUENCE (nothing to renew any more)."""
    program = await CertificateProgram.create(
        tenant=company.tenant, code="HV-SAFETY", name="高压电气安全", validity_months=12
    )
    forever = await CertificateProgram.create(tenant=company.tenant, code="FIRE", name="消防安全")
    today = datetime.now(UTC).date()
    learner = company.employees["LRN"]
    certificate = await Certificate.create(
        tenant=company.tenant,
        program=program,
        employee=learner,
        code=uuid.uuid4().hex,
        earned_at=datetime.now(UTC) - timedelta(days=345),
        issued_on=today - timedelta(days=345),
        expires_on=today + timedelta(days=20),
    )
    await Certificate.create(  # no expiry: no event
        tenant=company.tenant,
        program=forever,
        employee=learner,
        code=uuid.uuid4().hex,
        earned_at=datetime.now(UTC),
        issued_on=today,
    )
    path = (await create_feed(client, await token_for(client, company.code, "LRN")))["path"]
    uid = f"certificate-{to_global_id('Certificate', certificate.id)}@{company.code}"
    events = events_of(await parsed(client, path))
    assert [key for key in events if key.startswith("certificate-")] == [uid]
    event = events[uid]
    assert event.summary.value == "证书到期：高压电气安全" and "复训" in event.description.value
    assert event.dtstart.value == today + timedelta(days=20) and event.sequence.value == "0"
    assert event.status.value == "CONFIRMED"

    body = await gql(
        client,
        REVOKE_CERTIFICATE,
        {"input": {"id": to_global_id("Certificate", certificate.id), "reason": "培训记录造假"}},
        token=await token_for(client, company.code, "HR1"),
    )
    assert body["data"]["revokeCertificate"]["errors"] == [], body
    revoked = events_of(await parsed(client, path))[uid]
    assert revoked.status.value == "CANCELLED" and int(revoked.sequence.value) > 0
