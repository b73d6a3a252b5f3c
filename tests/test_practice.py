"""Mentorships and practice logs through the real app: logging practice online and offline (once
per record), the mentor's confirm / reject (only a current mentor, for the mentored courses, on the
review's day; one decision per log even from two devices at once), confirmed practice completing
the PRACTICE module and the course, who may read whose logs, HR-managed mentorships with audit
rows, and the feed rows each person gets."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from backend.ids import from_global_id, to_global_id
from backend.models import AuditEntry, CourseModule, Mentorship, ModuleProgress, PracticeLog
from backend.services.ojt.mentoring import local_day
from backend.services.pagination import encode_cursor
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, pull_input, push_input

LOG = """
mutation L($input: LogPracticeInput!) {
  logPractice(input: $input) { result { id status code message originalStatus } errors { code field } }
}
"""
REVIEW = """
mutation R($input: ReviewPracticeInput!) {
  reviewPractice(input: $input) { result { id status code message } errors { code field } }
}
"""
LOGS = """
query P($employeeId: ID, $moduleId: ID, $status: PracticeStatus, $first: Int, $after: String) {
  practiceLogs(employeeId: $employeeId, moduleId: $moduleId, status: $status, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id quantity note practicedAt status reviewedAt reviewNote courseId
                   module { id kind } employee { employeeNo } reviewer { employeeNo name } } }
  }
}
"""
PENDING = """
query { pendingPracticeReviews { totalCount edges { node { id quantity employee { employeeNo } } } } }
"""
MENTEES = """
query { myMentees { id startsOn endsOn allCourses pendingPracticeCount mentor { employeeNo }
                    mentee { employeeNo name } course { code } } }
"""
MENTORS = "query { myMentors { id mentor { employeeNo } course { code } startsOn endsOn } }"
CREATE = """
mutation C($input: CreateMentorshipInput!) {
  createMentorship(input: $input) {
    mentorship { id startsOn endsOn mentor { employeeNo } mentee { employeeNo } course { code } }
    errors { code field message }
  }
}
"""
END = """
mutation E($input: EndMentorshipInput!) {
  endMentorship(input: $input) { mentorship { id endsOn } errors { code field } }
}
"""
PROGRESS = """
query C($id: ID!) { course(id: $id) { progress { completed modules { moduleId completed completedCount } } } }
"""
LESSON = """
mutation L($input: CompleteLessonInput!) { completeLesson(input: $input) { result { status code } errors { code } } }
"""

AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


@pytest.fixture
async def company(password_hash):
    return await make_company(password_hash)


async def module(company, course: str = "A-002", position: int = 2) -> CourseModule:
    return await CourseModule.get(course=company.courses[course], position=position)


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


async def log_practice(client, token, practice_module, quantity=1, note="客户角色扮演", client_id=None):
    """Log practice online; (the record result, the log's global id or None)."""
    client_id = client_id or str(uuid.uuid4())
    body = await gql(
        client,
        LOG,
        {
            "input": {
                "clientId": client_id,
                "moduleId": gid("CourseModule", practice_module.id),
                "quantity": quantity,
                "note": note,
                "practicedAt": AN_HOUR_AGO.isoformat(),
            }
        },
        token=token,
    )
    payload = body["data"]["logPractice"]
    assert payload["errors"] == [], body
    row = await PracticeLog.get_or_none(record_id=client_id)
    return payload["result"], gid("PracticeLog", row.id) if row else None


async def review(client, token, practice_id, decision="CONFIRMED", note=""):
    body = await gql(
        client,
        REVIEW,
        {"input": {"clientId": str(uuid.uuid4()), "practiceId": practice_id, "decision": decision, "note": note}},
        token=token,
    )
    payload = body["data"]["reviewPractice"]
    assert payload["errors"] == [], body
    return payload["result"]


def practice_record(practice_module, seq, quantity=1, note="", occurred_at=None, record_id=None):
    return {
        "id": record_id or str(uuid.uuid4()),
        "seq": seq,
        "kind": "PRACTICE_LOG",
        "occurredAt": (occurred_at or AN_HOUR_AGO).isoformat(),
        "payload": {"moduleId": gid("CourseModule", practice_module.id), "quantity": quantity, "note": note},
    }


def review_record(practice_id, seq, decision="CONFIRMED", note="", occurred_at=None):
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "PRACTICE_REVIEW",
        "occurredAt": (occurred_at or datetime.now(UTC)).isoformat(),
        "payload": {"practiceId": practice_id, "decision": decision, "note": note},
    }


def urumqi_today() -> date:
    return local_day(datetime.now(UTC), "Asia/Urumqi")  # LRN works at the Urumqi office


# --- logging ------------------------------------------------------------------------------------


async def test_practice_is_logged_online_and_offline_and_a_retried_push_applies_once(client, company):
    practice = await module(company)
    learner = await token_for(client, company.code, "LRN")
    result, online_id = await log_practice(client, learner, practice, quantity=3, note="模拟客户异议处理 3 次")
    assert (result["status"], result["code"]) == ("ACCEPTED", None)

    offline = practice_record(
        practice, 1, quantity=2, note="门店实地演练", occurred_at=datetime.now(UTC) - timedelta(days=1)
    )
    first = await gql(client, PUSH, push_input([offline]), token=learner)
    again = await gql(client, PUSH, push_input([offline]), token=learner)
    assert first["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED"
    retry = again["data"]["syncPush"]["results"][0]
    assert (retry["status"], retry["originalStatus"]) == ("DUPLICATE", "ACCEPTED")
    assert await PracticeLog.filter(tenant_id=company.tenant.id).count() == 2

    body = await gql(client, LOGS, {}, token=learner)
    logs = body["data"]["practiceLogs"]
    assert logs["totalCount"] == 2
    newest, older = [edge["node"] for edge in logs["edges"]]
    assert (newest["id"], newest["quantity"], newest["note"], newest["status"]) == (
        online_id,
        3,
        "模拟客户异议处理 3 次",
        "PENDING",
    )
    assert (older["quantity"], older["note"], older["module"]["kind"]) == (2, "门店实地演练", "PRACTICE")
    assert newest["reviewer"] is None and newest["reviewedAt"] is None
    assert newest["courseId"] == gid("Course", company.courses["A-002"].id)
    # One per page, with a cursor.
    page = (await gql(client, LOGS, {"first": 1}, token=learner))["data"]["practiceLogs"]
    assert page["pageInfo"]["hasNextPage"] and page["edges"][0]["node"]["id"] == online_id
    rest = await gql(client, LOGS, {"first": 1, "after": page["pageInfo"]["endCursor"]}, token=learner)
    assert [e["node"]["id"] for e in rest["data"]["practiceLogs"]["edges"]] == [older["id"]]
    # Cursors are written as before (the log's time and id), so those issued earlier read on.
    row = await PracticeLog.get(id=from_global_id(online_id)[1])
    assert page["pageInfo"]["endCursor"] == encode_cursor("practice", [row.practiced_at.isoformat(), row.id])
    bad = await gql(
        client, LOGS, {"after": encode_cursor("practice", [row.practiced_at.isoformat(), "1"])}, token=learner
    )
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_only_practice_modules_of_published_courses_take_practice(client, company):
    learner = await token_for(client, company.code, "LRN")
    practice, lesson, draft = await module(company), await module(company, position=1), await module(company, "S-007")
    cases = [
        (practice_record(lesson, 1), "INVALID_PAYLOAD"),
        (practice_record(draft, 2), "NOT_FOUND"),
        (practice_record(practice, 3, quantity=0), "INVALID_PAYLOAD"),
        (practice_record(practice, 4, quantity=101), "INVALID_PAYLOAD"),
        (practice_record(practice, 5, note="长" * 1001), "INVALID_PAYLOAD"),
        ({**practice_record(practice, 6), "payload": {"moduleId": gid("PracticeLog", 1)}}, "INVALID_PAYLOAD"),
    ]
    body = await gql(client, PUSH, push_input([record for record, _ in cases]), token=learner)
    results = body["data"]["syncPush"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [("REJECTED", code) for _, code in cases]
    assert not await PracticeLog.filter(tenant_id=company.tenant.id).exists()


# --- reviewing ----------------------------------------------------------------------------------


async def test_ten_confirmed_units_complete_the_practice_module_and_with_the_lesson_the_course(client, company):
    practice, lesson = await module(company), await module(company, position=1)
    course_id = gid("Course", company.courses["A-002"].id)
    learner = await token_for(client, company.code, "LRN")
    mentor = await token_for(client, company.code, "MGR")
    _, seven = await log_practice(client, learner, practice, quantity=7)
    _, three = await log_practice(client, learner, practice, quantity=3)
    mentees = (await gql(client, MENTEES, token=mentor))["data"]["myMentees"]
    assert [(m["mentee"]["employeeNo"], m["allCourses"], m["pendingPracticeCount"]) for m in mentees] == [
        ("LRN", True, 2)
    ]
    pending = (await gql(client, PENDING, token=mentor))["data"]["pendingPracticeReviews"]
    assert pending["totalCount"] == 2 and {e["node"]["id"] for e in pending["edges"]} == {seven, three}

    done = await gql(
        client,
        LESSON,
        {
            "input": {
                "moduleId": gid("CourseModule", lesson.id),
                "secondsSpent": 600,
                "completedAt": AN_HOUR_AGO.isoformat(),
            }
        },
        token=learner,
    )
    assert done["data"]["completeLesson"]["result"]["status"] == "ACCEPTED"
    result = await review(client, mentor, seven, note="表现不错")
    assert (result["status"], result["code"]) == ("ACCEPTED", None)
    progress = (await gql(client, PROGRESS, {"id": course_id}, token=learner))["data"]["course"]["progress"]
    assert progress["completed"] is False
    assert [(m["completedCount"], m["completed"]) for m in progress["modules"]] == [(1, True), (7, False)]

    assert (await review(client, mentor, three))["status"] == "ACCEPTED"
    progress = (await gql(client, PROGRESS, {"id": course_id}, token=learner))["data"]["course"]["progress"]
    assert [(m["completedCount"], m["completed"]) for m in progress["modules"]] == [(1, True), (10, True)]
    assert progress["completed"] is True
    row = await ModuleProgress.get(employee=company.employees["LRN"], module=practice)
    assert row.completed_count == 10
    confirmed = (await gql(client, LOGS, {"status": "CONFIRMED"}, token=learner))["data"]["practiceLogs"]
    assert {e["node"]["reviewer"]["employeeNo"] for e in confirmed["edges"]} == {"MGR"}
    assert {e["node"]["reviewNote"] for e in confirmed["edges"]} == {"表现不错", ""}
    mentees = (await gql(client, MENTEES, token=mentor))["data"]["myMentees"]
    assert mentees[0]["pendingPracticeCount"] == 0
    # Decided once: a second decision is refused with the status it has.
    again = await review(client, mentor, seven, "REJECTED", note="改主意了")
    assert (again["status"], again["code"]) == ("REJECTED", "ALREADY_REVIEWED")
    assert "CONFIRMED" in again["message"]


async def test_a_rejection_needs_a_note_and_does_not_count(client, company):
    practice = await module(company)
    learner = await token_for(client, company.code, "LRN")
    mentor = await token_for(client, company.code, "MGR")
    _, practice_id = await log_practice(client, learner, practice, quantity=10)
    for note in ("", "   "):
        refused = await review(client, mentor, practice_id, "REJECTED", note=note)
        assert (refused["status"], refused["code"]) == ("REJECTED", "INVALID_PAYLOAD")
    result = await review(client, mentor, practice_id, "REJECTED", note="没有客户在场，不算")
    assert result["status"] == "ACCEPTED"
    node = (await gql(client, LOGS, {}, token=learner))["data"]["practiceLogs"]["edges"][0]["node"]
    assert (node["status"], node["reviewNote"], node["reviewer"]["name"]) == (
        "REJECTED",
        "没有客户在场，不算",
        "孟经理",
    )
    assert node["reviewedAt"] is not None
    assert not await ModuleProgress.filter(employee=company.employees["LRN"], module=practice).exists()


async def test_only_the_current_mentor_may_review(client, company, password_hash):
    practice = await module(company)
    learner = await token_for(client, company.code, "LRN")
    _, practice_id = await log_practice(client, learner, practice)
    for who in ("OTH", "HR1", "LRN"):  # a colleague, HR (a role alone gives no right), the learner themself
        token = await token_for(client, company.code, who)
        result = await review(client, token, practice_id)
        assert (who, result["status"], result["code"]) == (who, "REJECTED", "NOT_YOUR_MENTEE")
    other = await make_company(password_hash)
    stranger = await token_for(client, other.code, "MGR")  # a mentor, but in another company
    result = await review(client, stranger, practice_id)
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_FOUND")
    assert (await PracticeLog.get(tenant_id=company.tenant.id)).status == "PENDING"
    mentor = await token_for(client, company.code, "MGR")
    assert (await review(client, mentor, practice_id))["status"] == "ACCEPTED"


async def test_a_mentorship_that_ended_yesterday_no_longer_lets_the_mentor_review(client, company):
    practice = await module(company)
    learner = await token_for(client, company.code, "LRN")
    mentor = await token_for(client, company.code, "MGR")
    hr = await token_for(client, company.code, "HR1")
    _, late = await log_practice(client, learner, practice)
    _, early = await log_practice(client, learner, practice)
    mentorship_id = (await gql(client, MENTEES, token=mentor))["data"]["myMentees"][0]["id"]
    yesterday = urumqi_today() - timedelta(days=1)
    ended = await gql(
        client, END, {"input": {"mentorshipId": mentorship_id, "endsOn": yesterday.isoformat()}}, token=hr
    )
    assert ended["data"]["endMentorship"] == {
        "mentorship": {"id": mentorship_id, "endsOn": yesterday.isoformat()},
        "errors": [],
    }
    result = await review(client, mentor, late)
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_YOUR_MENTEE")
    assert (await gql(client, MENTEES, token=mentor))["data"]["myMentees"] == []
    assert (await gql(client, MENTORS, token=learner))["data"]["myMentors"] == []
    # Reviewed on the phone two days ago, while still the mentor, synced only now: it counts.
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    body = await gql(client, PUSH, push_input([review_record(early, 1, occurred_at=two_days_ago)]), token=mentor)
    assert body["data"]["syncPush"]["results"][0]["status"] == "ACCEPTED"
    assert (await ModuleProgress.get(employee=company.employees["LRN"], module=practice)).completed_count == 1
    # No longer the mentor, still the manager: the logs stay readable.
    body = await gql(client, LOGS, {"employeeId": gid("Employee", company.employees["LRN"].id)}, token=mentor)
    assert body["data"]["practiceLogs"]["totalCount"] == 2


async def test_a_course_specific_mentorship_covers_only_that_course(client, company):
    hr = await token_for(client, company.code, "HR1")
    learner = await token_for(client, company.code, "LRN")
    lrn, oth = company.employees["LRN"], company.employees["OTH"]
    created = await gql(
        client,
        CREATE,
        {
            "input": {
                "mentorId": gid("Employee", oth.id),
                "menteeId": gid("Employee", lrn.id),
                "courseId": gid("Course", company.courses["A-001"].id),
                "startsOn": "2026-01-01",
            }
        },
        token=hr,
    )
    assert created["data"]["createMentorship"]["errors"] == []
    _, safety = await log_practice(client, learner, await module(company, "A-001"))
    _, fire = await log_practice(client, learner, await module(company, "A-002"))
    coach = await token_for(client, company.code, "OTH")
    mentees = (await gql(client, MENTEES, token=coach))["data"]["myMentees"]
    assert [(m["course"]["code"], m["allCourses"], m["pendingPracticeCount"]) for m in mentees] == [("A-001", False, 1)]
    pending = (await gql(client, PENDING, token=coach))["data"]["pendingPracticeReviews"]
    assert [e["node"]["id"] for e in pending["edges"]] == [safety]
    visible = (await gql(client, LOGS, {"employeeId": gid("Employee", lrn.id)}, token=coach))["data"]["practiceLogs"]
    assert [e["node"]["id"] for e in visible["edges"]] == [safety]
    result = await review(client, coach, fire)
    assert (result["status"], result["code"]) == ("REJECTED", "NOT_YOUR_MENTEE")
    assert (await review(client, coach, safety))["status"] == "ACCEPTED"
    mentors = (await gql(client, MENTORS, token=learner))["data"]["myMentors"]
    assert sorted((m["mentor"]["employeeNo"], (m["course"] or {}).get("code")) for m in mentors) == [
        ("MGR", None),
        ("OTH", "A-001"),
    ]


async def test_two_devices_confirming_at_once_count_once(client, company):
    practice = await module(company)
    learner = await token_for(client, company.code, "LRN")
    phone = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    tablet = await token_for(client, company.code, "MGR", device_id="mgr-tablet")
    ids = [(await log_practice(client, learner, practice, quantity=4))[1] for _ in range(3)]
    for practice_id in ids:
        results = await asyncio.gather(review(client, phone, practice_id), review(client, tablet, practice_id))
        assert sorted((r["status"], r["code"] or "") for r in results) == [
            ("ACCEPTED", ""),
            ("REJECTED", "ALREADY_REVIEWED"),
        ]
    # And as offline pushes from both devices at once.
    _, pushed = await log_practice(client, learner, practice, quantity=4)
    bodies = await asyncio.gather(
        gql(client, PUSH, push_input([review_record(pushed, 1)], device_id="mgr-phone"), token=phone),
        gql(client, PUSH, push_input([review_record(pushed, 1)], device_id="mgr-tablet"), token=tablet),
    )
    results = [body["data"]["syncPush"]["results"][0] for body in bodies]
    assert sorted((r["status"], r["code"] or "") for r in results) == [
        ("ACCEPTED", ""),
        ("REJECTED", "ALREADY_REVIEWED"),
    ]
    assert (await ModuleProgress.get(employee=company.employees["LRN"], module=practice)).completed_count == 16


# --- reading ------------------------------------------------------------------------------------


async def test_who_may_read_whose_practice_logs(client, company, password_hash):
    learner = await token_for(client, company.code, "LRN")
    await log_practice(client, learner, await module(company), quantity=2)
    lrn_id = {"employeeId": gid("Employee", company.employees["LRN"].id)}
    for who in ("LRN", "MGR", "HR1"):  # themself, manager and mentor, HR
        token = await token_for(client, company.code, who)
        body = await gql(client, LOGS, lrn_id, token=token)
        assert (who, body["data"]["practiceLogs"]["totalCount"]) == (who, 1)
    colleague = await token_for(client, company.code, "OTH")
    body = await gql(client, LOGS, lrn_id, token=colleague)
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await gql(client, PENDING, token=colleague))["data"]["pendingPracticeReviews"]["totalCount"] == 0
    assert (await gql(client, LOGS, {}, token=colleague))["data"]["practiceLogs"]["totalCount"] == 0
    # Another company's employee looks missing, even to HR.
    other = await make_company(password_hash)
    hr = await token_for(client, company.code, "HR1")
    body = await gql(client, LOGS, {"employeeId": gid("Employee", other.employees["LRN"].id)}, token=hr)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await gql(client, LOGS, {"employeeId": gid("Course", 1)}, token=hr)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


# --- mentorships --------------------------------------------------------------------------------


async def test_mentorships_are_created_and_ended_by_hr_only_and_audited(client, company, password_hash):
    e = company.employees
    hr = await token_for(client, company.code, "HR1")
    new = {
        "mentorId": gid("Employee", e["OTH"].id),
        "menteeId": gid("Employee", e["LRN"].id),
        "courseId": gid("Course", company.courses["S-002"].id),
        "startsOn": "2026-02-01",
        "endsOn": "2026-12-31",
    }
    for who in ("MGR", "LRN", "OTH"):
        token = await token_for(client, company.code, who)
        body = await gql(client, CREATE, {"input": new}, token=token)
        assert body["data"]["createMentorship"]["errors"][0]["code"] == "FORBIDDEN"
    other = await make_company(password_hash)
    bad = [
        ({"menteeId": new["mentorId"]}, "VALIDATION", "menteeId"),
        ({"mentorId": gid("Employee", e["OFF"].id)}, "VALIDATION", "mentorId"),
        ({"endsOn": "2026-01-31"}, "VALIDATION", "endsOn"),
        ({"mentorId": gid("Employee", other.employees["MGR"].id)}, "NOT_FOUND", "mentorId"),
        ({"courseId": gid("Course", other.courses["S-002"].id)}, "NOT_FOUND", "courseId"),
        ({"courseId": gid("Employee", e["LRN"].id)}, "VALIDATION", "courseId"),
    ]
    for change, code, field in bad:
        body = await gql(client, CREATE, {"input": {**new, **change}}, token=hr)
        errors = body["data"]["createMentorship"]["errors"]
        assert [(x["code"], x["field"]) for x in errors] == [(code, field)], change
    body = await gql(client, CREATE, {"input": {**new, "menteeId": new["mentorId"]}}, token=hr, language="en")
    assert "different people" in body["data"]["createMentorship"]["errors"][0]["message"]
    assert await Mentorship.filter(tenant_id=company.tenant.id).count() == 1
    assert not await AuditEntry.filter(tenant_id=company.tenant.id, entity="Mentorship").exists()

    body = await gql(client, CREATE, {"input": new}, token=hr)
    created = body["data"]["createMentorship"]
    assert created["errors"] == []
    assert created["mentorship"]["mentor"]["employeeNo"] == "OTH"
    assert (created["mentorship"]["course"]["code"], created["mentorship"]["endsOn"]) == ("S-002", "2026-12-31")
    mentorship_id = created["mentorship"]["id"]
    entry = await AuditEntry.get(tenant_id=company.tenant.id, action="mentorship.create")
    assert entry.actor_id == e["HR1"].id and entry.details["menteeId"] == e["LRN"].id

    change = {"mentorshipId": mentorship_id, "endsOn": "2026-06-30"}
    for who in ("MGR", "OTH"):
        token = await token_for(client, company.code, who)
        body = await gql(client, END, {"input": change}, token=token)
        assert body["data"]["endMentorship"]["errors"][0]["code"] == "FORBIDDEN"
    body = await gql(client, END, {"input": {**change, "endsOn": "2026-01-01"}}, token=hr)
    assert body["data"]["endMentorship"]["errors"][0]["code"] == "VALIDATION"
    other_hr = await token_for(client, other.code, "HR1")
    body = await gql(client, END, {"input": change}, token=other_hr)
    assert body["data"]["endMentorship"]["errors"][0]["code"] == "NOT_FOUND"
    body = await gql(client, END, {"input": change}, token=hr)
    assert body["data"]["endMentorship"] == {"mentorship": {"id": mentorship_id, "endsOn": "2026-06-30"}, "errors": []}
    entry = await AuditEntry.get(tenant_id=company.tenant.id, action="mentorship.end")
    assert entry.details == {"previousEndsOn": "2026-12-31", "endsOn": "2026-06-30"}


# --- the feed -----------------------------------------------------------------------------------


def _rows(body, entity):
    return [c for c in body["data"]["syncPull"]["changes"] if c["entity"] == entity]


async def test_the_feed_sends_practice_logs_to_the_employee_and_their_mentor_only(client, company):
    learner = await token_for(client, company.code, "LRN")
    mentor = await token_for(client, company.code, "MGR")
    colleague = await token_for(client, company.code, "OTH")
    hr = await token_for(client, company.code, "HR1")
    _, practice_id = await log_practice(client, learner, await module(company), quantity=5, note="电话回访练习")

    mine = await gql(client, PULL, pull_input(), token=learner)
    [row] = _rows(mine, "PRACTICE_LOG")
    assert row["id"] == practice_id and row["op"] == "UPSERT"
    data = row["data"]
    assert (data["quantity"], data["note"], data["status"], data["employee"]["employeeNo"]) == (
        5,
        "电话回访练习",
        "PENDING",
        "LRN",
    )
    [mentorship] = _rows(mine, "MENTORSHIP")
    assert (mentorship["data"]["mentor"]["employeeNo"], mentorship["data"]["courseId"]) == ("MGR", None)
    assert mentorship["data"]["startsOn"] == "2026-01-01"

    theirs = await gql(client, PULL, pull_input(), token=mentor)
    assert [r["id"] for r in _rows(theirs, "PRACTICE_LOG")] == [practice_id]
    assert len(_rows(theirs, "MENTORSHIP")) == 1
    for token in (colleague, hr):
        body = await gql(client, PULL, pull_input(), token=token)
        assert _rows(body, "PRACTICE_LOG") == [] and _rows(body, "MENTORSHIP") == []

    # The decision reaches both phones.
    learner_cursor = mine["data"]["syncPull"]["cursor"]
    mentor_cursor = theirs["data"]["syncPull"]["cursor"]
    assert (await review(client, mentor, practice_id, note="很好"))["status"] == "ACCEPTED"
    for token, cursor in ((learner, learner_cursor), (mentor, mentor_cursor)):
        body = await gql(client, PULL, pull_input(cursor), token=token)
        [row] = _rows(body, "PRACTICE_LOG")
        assert (row["data"]["status"], row["data"]["reviewNote"], row["data"]["reviewer"]["employeeNo"]) == (
            "CONFIRMED",
            "很好",
            "MGR",
        )
    assert _rows(await gql(client, PULL, pull_input(learner_cursor), token=learner), "MODULE_PROGRESS")

    # A mentorship ended: the former mentor's phone drops the logs.
    mentorship_id = mentorship["id"]
    yesterday = (urumqi_today() - timedelta(days=1)).isoformat()
    cursor = (await gql(client, PULL, pull_input(mentor_cursor), token=mentor))["data"]["syncPull"]["cursor"]
    await gql(client, END, {"input": {"mentorshipId": mentorship_id, "endsOn": yesterday}}, token=hr)
    body = await gql(client, PULL, pull_input(cursor), token=mentor)
    assert [(r["id"], r["op"]) for r in _rows(body, "PRACTICE_LOG")] == [(practice_id, "DELETE")]
    assert _rows(body, "MENTORSHIP")[0]["data"]["endsOn"] == yesterday


async def test_a_mentor_s_mentees_cost_the_same_however_many_courses_they_show(client, company):
    """Each mentorship's course comes through one batched, visibility-checked read."""
    mentor = company.employees["MGR"]
    token = await token_for(client, company.code, "MGR")

    async def statements() -> int:
        with count_queries() as sent:
            body = await gql(client, MENTEES, token=token)
        assert "errors" not in body, body
        return len(sent)

    courses = [c for code, c in sorted(company.courses.items()) if c.status == "PUBLISHED"]
    assert len(courses) >= 3
    await Mentorship.create(
        tenant=company.tenant,
        mentor=mentor,
        mentee=company.employees["OTH"],
        course=courses[0],
        starts_on=date(2026, 1, 1),
    )
    one = await statements()
    for course in courses[1:3]:
        await Mentorship.create(
            tenant=company.tenant,
            mentor=mentor,
            mentee=company.employees["OTH"],
            course=course,
            starts_on=date(2026, 1, 1),
        )
    body = await gql(client, MENTEES, token=token)
    shown = sorted(m["course"]["code"] for m in body["data"]["myMentees"] if m["course"])
    assert shown == sorted(c.code for c in courses[:3])
    assert await statements() == one
