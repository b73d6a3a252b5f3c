"""Who each fact tells (docs/notification-events.md), through the real API and sync pushes: for
every event the tenant's notifications are exactly the expected (recipient, kind) pairs with the
expected params, nobody else is told, and a retry, a duplicate push or a second run of a
scheduled job tells no one again. A few are rendered in zh-CN and en in the recipient's zone.

Setup data (sessions, enrollments of bystanders, targets, credits) is written with the ORM; the
facts under test go over HTTP or through the job functions a worker calls.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tortoise.transactions import in_transaction

from backend.ids import to_global_id
from backend.models import (
    ActivityRecord,
    Course,
    CourseModule,
    CreditEntryKind,
    CreditTarget,
    Employee,
    EmployeeRole,
    Enrollment,
    EnrollmentStatus,
    EvidenceAttachment,
    EvidenceStatus,
    ModuleKind,
    Notification,
    NotificationDelivery,
    NotificationKind,
    PracticeLog,
    QuizAttempt,
    RewardCategory,
    Role,
    RubricCriterion,
    SessionStatus,
    TrainingSession,
)
from backend.services.content.evidence_missing import evidence_missing
from backend.services.credits import ledger
from backend.services.credits.target_risk import targets_at_risk
from backend.services.feed import ChangeSet
from backend.services.notifications import notices
from backend.services.notifications.kinds import render
from backend.services.records import registry
from backend.services.sessions.reminders import session_reminders
from tests.conftest import count_queries, is_postgres_run
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, push_input
from tests.test_credit_rules import Phone, create_rule, module_of
from tests.test_quizzes import answers, grade_as, make_quiz, submit
from tests.test_rewards import CANCEL as CANCEL_REDEMPTION
from tests.test_rewards import DECIDE as DECIDE_REDEMPTION
from tests.test_rewards import give, make_reward, redeem

K = NotificationKind
URUMQI = ZoneInfo("Asia/Urumqi")  # LRN's site
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime.now(UTC).replace(microsecond=0)

REQUEST = """mutation R($input: RequestEnrollmentInput!) {
  requestEnrollment(input: $input) { enrollment { id status } errors { code } } }"""
DECIDE = """mutation D($input: DecideEnrollmentInput!) {
  decideEnrollment(input: $input) { enrollment { id status } errors { code } } }"""
CANCEL_ENROLLMENT = """mutation C($input: CancelEnrollmentInput!) {
  cancelEnrollment(input: $input) { enrollment { id status } errors { code } } }"""
UPDATE_SESSION = """mutation U($input: UpdateSessionInput!) {
  updateSession(input: $input) { session { id startsAt } errors { code field } } }"""
CANCEL_SESSION = """mutation C($input: CancelSessionInput!) {
  cancelSession(input: $input) { session { id status } errors { code } } }"""
REVIEW_PUSH = """mutation Push($input: SyncPushInput!) {
  syncPush(input: $input) { results { id status code originalStatus } errors { code } } }"""
SAVE_EVALUATION = """mutation S($input: SaveMentorEvaluationInput!) {
  saveMentorEvaluation(input: $input) { result { status code } errors { code } } }"""
SUPERSEDE = """mutation S($input: SupersedeEvaluationInput!) {
  supersedeEvaluation(input: $input) { evaluation { id percent } errors { code field } } }"""
LOG_PRACTICE = """mutation L($input: LogPracticeInput!) {
  logPractice(input: $input) { result { id status code } errors { code } } }"""
DECIDE_CREDIT = """mutation D($input: DecidePendingCreditInput!) {
  decidePendingCredit(input: $input) { claim { id status } errors { code field } } }"""
PENDING_CREDITS = "query { pendingCredits(first: 10) { edges { node { id } } } }"


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash)


# --- helpers ------------------------------------------------------------------------------------


async def told(company: Company) -> list[tuple[str, str]]:
    """Every (recipient's employee number, kind) the company's notifications hold, sorted (a
    multiset: the same kind told twice to one person shows twice)."""
    numbers = {employee.id: number for number, employee in company.employees.items()}
    rows = await Notification.filter(tenant_id=company.tenant.id).values_list("recipient_id", "kind")
    return sorted((numbers.get(recipient, f"#{recipient}"), str(kind)) for recipient, kind in rows)


async def the(company: Company, number: str, kind: NotificationKind) -> Notification:
    return await Notification.get(tenant_id=company.tenant.id, recipient_id=company.employees[number].id, kind=kind)


async def person(company: Company, number: str, name: str, *roles: Role, **fields) -> Employee:
    employee = await Employee.create(
        tenant=company.tenant,
        employee_no=number,
        name=name,
        password_hash=company.employees["LRN"].password_hash,
        org_unit=company.org_units["east"],
        site=company.sites["hq"],
        **fields,
    )
    for role in (Role.EMPLOYEE, *roles):
        await EmployeeRole.create(tenant=company.tenant, employee=employee, role=role)
    company.employees[number] = employee
    return employee


async def make_session(
    company: Company,
    course: str = "A-002",
    *,
    starts_at: datetime | None = None,
    capacity: int = 10,
    instructor: str = "HR1",
    title: str = "消防演练第一期",
    location: str = "3楼培训室",
) -> TrainingSession:
    starts = starts_at or NOW + timedelta(days=3)
    return await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses[course],
        title=title,
        instructor=company.employees[instructor],
        site=company.sites["hq"],
        location=location,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=capacity,
        status=SessionStatus.SCHEDULED,
        secret="0" * 64,
    )


async def place(company: Company, session: TrainingSession, number: str, status: EnrollmentStatus) -> None:
    """An enrollment as setup data (seats counted as the services would)."""
    await Enrollment.create(
        tenant=company.tenant,
        session=session,
        employee=company.employees[number],
        status=status,
        waitlisted_at=NOW if status == EnrollmentStatus.WAITLISTED else None,
    )
    if status in (EnrollmentStatus.PENDING, EnrollmentStatus.ENROLLED):
        session.seats_taken += 1
        await session.save(update_fields=["seats_taken"])


def sid(session: TrainingSession) -> str:
    return to_global_id("TrainingSession", session.id)


async def request(client, token: str, session: TrainingSession) -> dict:
    body = await gql(client, REQUEST, {"input": {"sessionId": sid(session)}}, token=token)
    payload = body["data"]["requestEnrollment"]
    assert payload["errors"] == [], body
    return payload["enrollment"]


async def decide(client, token: str, enrollment_id: str, approve: bool, reason: str = "") -> list[str]:
    body = await gql(
        client, DECIDE, {"input": {"enrollmentId": enrollment_id, "approve": approve, "reason": reason}}, token=token
    )
    return [e["code"] for e in body["data"]["decideEnrollment"]["errors"]]


def session_params(session: TrainingSession, course: str = "Fire Safety 消防演练") -> dict:
    return {
        "session": session.title,
        "course": course,
        "startsAt": session.starts_at.astimezone(UTC).isoformat(),
        "location": f"上海总部 {session.location}",
    }


async def needs_approval(company: Company, code: str = "A-002") -> None:
    await Course.filter(id=company.courses[code].id).update(requires_approval=True)


# --- enrollment ---------------------------------------------------------------------------------


async def test_a_request_tells_the_manager_or_else_every_hr_admin_and_decisions_tell_the_employee(
    client, company, password_hash
):
    await needs_approval(company)
    session = await make_session(company)
    open_session = await make_session(company, "S-001", title="销售基础")  # no approval needed
    await person(company, "HR2", "黄人事", Role.HR_ADMIN)
    await person(company, "HR3", "何离职", Role.HR_ADMIN, is_active=False)
    lrn = await token_for(client, company.code, "LRN")  # manager MGR
    oth = await token_for(client, company.code, "OTH")  # no manager
    mgr = await token_for(client, company.code, "MGR")
    hr = await token_for(client, company.code, "HR1")

    assert (await request(client, lrn, open_session))["status"] == "ENROLLED"
    assert await told(company) == []  # nothing to decide, nobody to tell

    mine = await request(client, lrn, session)
    assert mine["status"] == "PENDING"
    theirs = await request(client, oth, session)
    assert await told(company) == [
        ("HR1", K.ENROLLMENT_REQUESTED),
        ("HR2", K.ENROLLMENT_REQUESTED),
        ("MGR", K.ENROLLMENT_REQUESTED),
    ]
    asked = await the(company, "MGR", K.ENROLLMENT_REQUESTED)
    assert asked.params == {"employee": "李学员", **session_params(session)}
    assert asked.subject_id == mine["id"] and asked.expires_at == session.starts_at
    assert (await the(company, "HR2", K.ENROLLMENT_REQUESTED)).params["employee"] == "欧阳工"

    assert await decide(client, mgr, mine["id"], True) == []
    assert await decide(client, hr, theirs["id"], False, "名额留给生产部新员工") == []
    for token, enrollment in ((mgr, mine), (hr, theirs)):  # decided once: a retry tells nobody
        assert await decide(client, token, enrollment["id"], True) == ["NOT_PENDING"]
    assert await told(company) == [
        ("HR1", K.ENROLLMENT_REQUESTED),
        ("HR2", K.ENROLLMENT_REQUESTED),
        ("LRN", K.ENROLLMENT_APPROVED),
        ("MGR", K.ENROLLMENT_REQUESTED),
        ("OTH", K.ENROLLMENT_REJECTED),
    ]
    approved = await the(company, "LRN", K.ENROLLMENT_APPROVED)
    assert approved.params == session_params(session) and approved.subject_id == sid(session)
    rejected = await the(company, "OTH", K.ENROLLMENT_REJECTED)
    assert rejected.params == {**session_params(session), "reason": "名额留给生产部新员工"}
    title, body = render(K.ENROLLMENT_REJECTED, rejected.params, "zh-CN", SHANGHAI)
    assert title == "报名未通过" and "「消防演练第一期」" in body and "名额留给生产部新员工" in body
    title, body = render(K.ENROLLMENT_APPROVED, approved.params, "en", URUMQI)
    local = session.starts_at.astimezone(URUMQI).strftime("%Y-%m-%d %H:%M")
    assert title == "Enrollment approved" and body == f"You are in “消防演练第一期”: {local} at 上海总部 3楼培训室."

    # Cancelled and asked again: a new request, told again (the same row, a new version).
    answer = await gql(client, CANCEL_ENROLLMENT, {"input": {"enrollmentId": mine["id"]}}, token=lrn)
    assert answer["data"]["cancelEnrollment"]["errors"] == []
    again = await request(client, lrn, session)
    assert again["id"] == mine["id"] and again["status"] == "PENDING"
    assert (await told(company)).count(("MGR", K.ENROLLMENT_REQUESTED)) == 2


async def test_an_offline_request_pushed_twice_tells_the_manager_once(client, company):
    await needs_approval(company)
    session = await make_session(company)
    lrn = await token_for(client, company.code, "LRN")
    record = {
        "id": str(uuid.uuid4()),
        "seq": 1,
        "kind": "ENROLLMENT_REQUESTED",
        "occurredAt": NOW.isoformat(),
        "payload": {"sessionId": sid(session)},
    }
    for expected in ("ACCEPTED", "DUPLICATE"):
        body = await gql(client, PUSH, push_input([record]), token=lrn)
        assert body["data"]["syncPush"]["results"][0]["status"] == expected, body
    assert await told(company) == [("MGR", K.ENROLLMENT_REQUESTED)]


async def test_a_seat_from_the_waiting_list_tells_the_employee_or_the_approver(client, company, password_hash):
    for number, name in (("E01", "员工一"), ("E02", "员工二")):
        await person(company, number, name, manager=company.employees["MGR"])
    e01 = await token_for(client, company.code, "E01")
    e02 = await token_for(client, company.code, "E02")
    # A course without approval: the promoted employee is in, and hears so.
    free = await make_session(company, "S-001", capacity=1, title="销售基础")
    first = await request(client, e01, free)
    assert (await request(client, e02, free))["status"] == "WAITLISTED"
    assert await told(company) == []
    body = await gql(client, CANCEL_ENROLLMENT, {"input": {"enrollmentId": first["id"]}}, token=e01)
    assert body["data"]["cancelEnrollment"]["errors"] == []
    assert await told(company) == [("E02", K.ENROLLMENT_PROMOTED)]
    promoted = await the(company, "E02", K.ENROLLMENT_PROMOTED)
    assert promoted.params == session_params(free, "销售基础") and promoted.expires_at == free.starts_at

    # A course with approval: the promoted seat is a request, told to the approver.
    await needs_approval(company)
    guarded = await make_session(company, capacity=1)
    lrn = await token_for(client, company.code, "LRN")
    held = await request(client, lrn, guarded)
    assert (await request(client, e01, guarded))["status"] == "WAITLISTED"
    mgr = await token_for(client, company.code, "MGR")
    assert await decide(client, mgr, held["id"], False, "本期人数已满") == []
    assert await told(company) == [
        ("E02", K.ENROLLMENT_PROMOTED),
        ("LRN", K.ENROLLMENT_REJECTED),
        ("MGR", K.ENROLLMENT_REQUESTED),  # LRN's request
        ("MGR", K.ENROLLMENT_REQUESTED),  # E01's seat from the waiting list, awaiting approval
    ]
    names = sorted(
        n.params["employee"]
        for n in await Notification.filter(tenant_id=company.tenant.id, kind=K.ENROLLMENT_REQUESTED)
    )
    assert names == ["员工一", "李学员"]


async def test_a_larger_capacity_seats_the_waiting_and_tells_them_or_their_approver(client, company):
    for number, name in (("E01", "员工一"), ("E02", "员工二"), ("E03", "员工三"), ("E04", "员工四")):
        await person(company, number, name, manager=company.employees["MGR"])
    tokens = {number: await token_for(client, company.code, number) for number in ("E01", "E02", "E03", "E04")}
    hr = await token_for(client, company.code, "HR1")

    async def resize(session: TrainingSession, capacity: int) -> None:
        body = await gql(client, UPDATE_SESSION, {"input": {"sessionId": sid(session), "capacity": capacity}}, hr)
        assert body["data"]["updateSession"]["errors"] == [], body

    async def status_of(session: TrainingSession, number: str) -> EnrollmentStatus:
        enrollment = await Enrollment.get(session=session, employee=company.employees[number])
        return enrollment.status

    # A course without approval: two more seats go to the first two waiting, who hear they are in.
    free = await make_session(company, "S-001", capacity=1, title="销售基础")
    assert (await request(client, tokens["E01"], free))["status"] == "ENROLLED"
    for number in ("E02", "E03", "E04"):
        assert (await request(client, tokens[number], free))["status"] == "WAITLISTED"
    await resize(free, 3)
    assert await told(company) == [("E02", K.ENROLLMENT_PROMOTED), ("E03", K.ENROLLMENT_PROMOTED)]
    assert [await status_of(free, number) for number in ("E02", "E03", "E04")] == [
        EnrollmentStatus.ENROLLED,
        EnrollmentStatus.ENROLLED,
        EnrollmentStatus.WAITLISTED,
    ]
    promoted = await the(company, "E03", K.ENROLLMENT_PROMOTED)
    assert promoted.params == session_params(free, "销售基础")
    assert promoted.subject_id == sid(free) and promoted.expires_at == free.starts_at
    await resize(free, 3)  # the same capacity again: nobody moves, nobody is told
    assert len(await told(company)) == 2

    # A course with approval: the seat from the waiting list is a request for the approver.
    await needs_approval(company)
    guarded = await make_session(company, capacity=1)
    assert (await request(client, tokens["E01"], guarded))["status"] == "PENDING"
    assert (await request(client, tokens["E04"], guarded))["status"] == "WAITLISTED"
    await resize(guarded, 2)
    assert await status_of(guarded, "E04") == EnrollmentStatus.PENDING
    assert await told(company) == [
        ("E02", K.ENROLLMENT_PROMOTED),
        ("E03", K.ENROLLMENT_PROMOTED),
        ("MGR", K.ENROLLMENT_REQUESTED),  # E01's request
        ("MGR", K.ENROLLMENT_REQUESTED),  # E04's seat from the waiting list, awaiting approval
    ]
    asked = await Notification.filter(tenant_id=company.tenant.id, kind=K.ENROLLMENT_REQUESTED).order_by("id")
    assert [n.params["employee"] for n in asked] == ["员工一", "员工四"]


# --- sessions cancelled and moved ---------------------------------------------------------------


async def session_with_people(company: Company) -> TrainingSession:
    await person(company, "INS", "殷讲师", Role.INSTRUCTOR)
    for number in ("E01", "E02", "E03", "E04"):
        await person(company, number, f"员工{number}")
    session = await make_session(company, instructor="INS")
    await place(company, session, "LRN", EnrollmentStatus.ENROLLED)
    await place(company, session, "E01", EnrollmentStatus.PENDING)
    await place(company, session, "E02", EnrollmentStatus.WAITLISTED)
    await place(company, session, "E03", EnrollmentStatus.CANCELLED)
    await place(company, session, "E04", EnrollmentStatus.REJECTED)
    return session


CONCERNED = ["E01", "E02", "INS", "LRN"]


async def test_a_moved_session_tells_its_instructor_and_everyone_with_a_place_or_waiting(client, company):
    session = await session_with_people(company)
    hr = await token_for(client, company.code, "HR1")
    later = session.starts_at + timedelta(days=1, hours=2)

    body = await gql(client, UPDATE_SESSION, {"input": {"sessionId": sid(session), "title": "新标题"}}, token=hr)
    assert body["data"]["updateSession"]["errors"] == []
    assert await told(company) == []  # neither time nor place changed
    move = {
        "sessionId": sid(session),
        "startsAt": later.isoformat(),
        "endsAt": (later + timedelta(hours=2)).isoformat(),
    }
    body = await gql(client, UPDATE_SESSION, {"input": move}, token=hr)
    assert body["data"]["updateSession"]["errors"] == []
    # The same values again move nothing.
    body = await gql(client, UPDATE_SESSION, {"input": move}, token=hr)
    assert await told(company) == [(number, K.SESSION_MOVED) for number in CONCERNED]
    moved = await the(company, "LRN", K.SESSION_MOVED)
    assert moved.params == {
        "session": "新标题",
        "course": "Fire Safety 消防演练",
        "startsAt": later.isoformat(),
        "location": "上海总部 3楼培训室",
        "previousStartsAt": session.starts_at.isoformat(),
    }
    assert moved.expires_at == later and moved.subject_id == sid(session)
    title, text = render(K.SESSION_MOVED, moved.params, "zh-CN", URUMQI)
    new_local = later.astimezone(URUMQI).strftime("%Y-%m-%d %H:%M")
    old_local = session.starts_at.astimezone(URUMQI).strftime("%Y-%m-%d %H:%M")
    assert title == "培训时间或地点有变"
    assert text == f"「新标题」改为 {new_local} 在 上海总部 3楼培训室（原定 {old_local}）。"

    # Another room only: a second move, told again.
    body = await gql(client, UPDATE_SESSION, {"input": {"sessionId": sid(session), "location": "5楼"}}, token=hr)
    assert body["data"]["updateSession"]["errors"] == []
    assert await told(company) == sorted([(number, K.SESSION_MOVED) for number in CONCERNED] * 2)


async def test_a_cancelled_session_tells_everyone_concerned_once_but_not_who_cancelled_it(client, company):
    session = await session_with_people(company)
    hr = await token_for(client, company.code, "HR1")
    for _ in range(2):
        body = await gql(client, CANCEL_SESSION, {"input": {"sessionId": sid(session), "reason": "讲师出差"}}, token=hr)
        assert body["data"]["cancelSession"]["errors"] == []
    assert await told(company) == [(number, K.SESSION_CANCELLED) for number in CONCERNED]
    cancelled = await the(company, "E02", K.SESSION_CANCELLED)
    assert cancelled.params == {**session_params(session), "reason": "讲师出差"}
    title, text = render(K.SESSION_CANCELLED, cancelled.params, "en", SHANGHAI)
    local = session.starts_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    assert (title, text) == ("Training cancelled", f"“消防演练第一期” planned for {local} is cancelled. 讲师出差")

    # The instructor cancelling their own session is not told of it.
    own = await make_session(company, instructor="INS", title="第二期")
    await place(company, own, "LRN", EnrollmentStatus.ENROLLED)
    ins = await token_for(client, company.code, "INS")
    body = await gql(client, CANCEL_SESSION, {"input": {"sessionId": sid(own)}}, token=ins)
    assert body["data"]["cancelSession"]["errors"] == []
    assert (await told(company)).count(("LRN", K.SESSION_CANCELLED)) == 2
    assert (await told(company)).count(("INS", K.SESSION_CANCELLED)) == 1


async def crowd(company: Company, session: TrainingSession, count: int, prefix: str) -> None:
    """``count`` enrolled employees (setup data, in two statements)."""
    password_hash = company.employees["LRN"].password_hash
    await Employee.bulk_create(
        [
            Employee(
                tenant=company.tenant,
                employee_no=f"{prefix}{index:04d}",
                name=f"学员{index}",
                password_hash=password_hash,
            )
            for index in range(count)
        ]
    )
    ids = await Employee.filter(tenant=company.tenant, employee_no__startswith=prefix).values_list("id", flat=True)
    await Enrollment.bulk_create(
        [
            Enrollment(
                tenant=company.tenant, session=session, employee_id=employee_id, status=EnrollmentStatus.ENROLLED
            )
            for employee_id in ids
        ]
    )


async def test_cancelling_a_crowded_session_costs_the_same_statements_as_a_small_one(client, company):
    """The people are read as ids and told in one insert (PostgreSQL; SQLite's inserts come in
    chunks of its parameter limit), whatever their number."""
    hr = await token_for(client, company.code, "HR1")
    statements, expected = [], 0
    for count, prefix in ((3, "CROWD-S"), (400, "CROWD-L")):
        session = await make_session(company, title=f"{count}人场")
        await crowd(company, session, count, prefix)
        with count_queries() as seen:
            body = await gql(client, CANCEL_SESSION, {"input": {"sessionId": sid(session)}}, token=hr)
        assert body["data"]["cancelSession"]["errors"] == []
        expected += count  # its enrolled; its instructor (HR1) cancelled it
        assert await Notification.filter(tenant_id=company.tenant.id, kind=K.SESSION_CANCELLED).count() == expected
        if not is_postgres_run():
            seen = [s for s in seen if "INSERT INTO notification" not in s]
        statements.append(len(seen))
    assert statements[0] == statements[1], statements


# --- quizzes, practice, evaluations -------------------------------------------------------------


async def test_a_quiz_graded_by_a_person_tells_the_learner_once(client, company):
    module, quiz, questions = await make_quiz(company)
    learner = await token_for(client, company.code, "LRN")
    mentor = await token_for(client, company.code, "MGR")
    await submit(client, learner, module, answers(questions), submitted_at=NOW - timedelta(minutes=1))
    attempt = await QuizAttempt.get(quiz=quiz)
    assert attempt.status == "NEEDS_MANUAL_GRADING"
    assert await told(company) == []  # graded by the answer key, waiting for a person: not yet
    assert (await grade_as(client, mentor, attempt, questions["manual"], 1, "理解到位"))["errors"] == []
    again = await grade_as(client, mentor, attempt, questions["manual"], 1)
    assert again["errors"][0]["code"] == "ALREADY_GRADED"
    assert await told(company) == [("LRN", K.QUIZ_GRADED)]
    graded = await the(company, "LRN", K.QUIZ_GRADED)
    assert graded.params == {"quiz": "消防知识测验", "score": "10.0", "passed": True}
    assert graded.subject_id == to_global_id("QuizAttempt", attempt.id)
    assert render(K.QUIZ_GRADED, graded.params, "zh-CN", URUMQI) == (
        "测验已评分",
        "「消防知识测验」已由老师评分：10.0 分。",
    )


async def test_reviews_pushed_in_one_batch_tell_the_employee_of_each_log(client, company):
    practice = await CourseModule.get(course=company.courses["A-002"], position=2)
    learner = await token_for(client, company.code, "LRN")
    logs = []
    for note in ("第一次", "第二次"):
        client_id = str(uuid.uuid4())
        variables = {
            "input": {
                "clientId": client_id,
                "moduleId": to_global_id("CourseModule", practice.id),
                "quantity": 1,
                "note": note,
                "practicedAt": (NOW - timedelta(hours=1)).isoformat(),
            }
        }
        body = await gql(client, LOG_PRACTICE, variables, token=learner)
        assert body["data"]["logPractice"]["result"]["status"] == "ACCEPTED", body
        logs.append(to_global_id("PracticeLog", (await PracticeLog.get(record_id=client_id)).id))
    assert await told(company) == []
    mentor = await token_for(client, company.code, "MGR", device_id="mentor-phone")
    records: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "kind": "PRACTICE_REVIEW",
            "occurredAt": NOW.isoformat(),
            "payload": {"practiceId": log, "decision": decision, "note": note},
        }
        for seq, (log, decision, note) in enumerate(
            ((logs[0], "CONFIRMED", ""), (logs[1], "REJECTED", "缺少客户签字")), start=1
        )
    ]
    for expected in ("ACCEPTED", "DUPLICATE"):
        body = await gql(client, REVIEW_PUSH, push_input(records, device_id="mentor-phone"), token=mentor)
        assert [r["status"] for r in body["data"]["syncPush"]["results"]] == [expected] * 2, body
    assert await told(company) == [("LRN", K.PRACTICE_CONFIRMED), ("LRN", K.PRACTICE_RETURNED)]
    confirmed = await the(company, "LRN", K.PRACTICE_CONFIRMED)
    returned = await the(company, "LRN", K.PRACTICE_RETURNED)
    assert (confirmed.params, confirmed.subject_id) == ({"module": "练习", "mentor": "孟经理"}, logs[0])
    assert (returned.params, returned.subject_id) == (
        {"module": "练习", "mentor": "孟经理", "note": "缺少客户签字"},
        logs[1],
    )
    assert render(K.PRACTICE_RETURNED, returned.params, "en", URUMQI)[1] == (
        "孟经理 returned your practice in “练习”: 缺少客户签字"
    )


async def test_a_fact_that_fails_in_its_transaction_leaves_no_notification(client, company, monkeypatch):
    """Reviews that would tell LRN, pushed in a batch that fails with a server error: once in a
    later record of the batch, once right after the notifications were written. The transaction
    rolls back whole: no notification (the outbox's first row), no delivery, the reviews undone
    and the records not stored, so the phone's retry, once the fault is gone, is applied and tells
    LRN once per review."""
    practice = await CourseModule.get(course=company.courses["A-002"], position=2)
    learner = await token_for(client, company.code, "LRN")
    logs = []
    for note in ("第一次", "第二次"):
        client_id = str(uuid.uuid4())
        variables = {
            "input": {
                "clientId": client_id,
                "moduleId": to_global_id("CourseModule", practice.id),
                "quantity": 1,
                "note": note,
                "practicedAt": (NOW - timedelta(hours=1)).isoformat(),
            }
        }
        body = await gql(client, LOG_PRACTICE, variables, token=learner)
        assert body["data"]["logPractice"]["result"]["status"] == "ACCEPTED", body
        logs.append(await PracticeLog.get(record_id=client_id))
    reward = await make_reward(company, cost=1)
    await give(company, "MGR", "5")  # the redemption itself would be accepted
    mentor = await token_for(client, company.code, "MGR", device_id="mentor-phone")
    reviews: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "kind": "PRACTICE_REVIEW",
            "occurredAt": NOW.isoformat(),
            "payload": {"practiceId": to_global_id("PracticeLog", log.id), "decision": "CONFIRMED", "note": ""},
        }
        for seq, log in enumerate(logs, start=1)
    ]
    # Applied after the reviews (records.registry.ORDER): by then the notices are noted.
    redeem_record = {
        "id": str(uuid.uuid4()),
        "seq": 3,
        "kind": "REWARD_REDEEMED",
        "occurredAt": NOW.isoformat(),
        "payload": {"rewardId": to_global_id("Reward", reward.id)},
    }
    batch = [*reviews, redeem_record]

    async def nothing_left() -> None:
        assert await told(company) == []
        assert await Notification.filter(tenant_id=company.tenant.id).count() == 0
        assert await NotificationDelivery.filter(tenant_id=company.tenant.id).count() == 0
        assert {log.status for log in await PracticeLog.filter(id__in=[log.id for log in logs])} == {"PENDING"}
        assert await ActivityRecord.filter(id__in=[record["id"] for record in batch]).count() == 0

    async def fails(reason: str) -> None:
        body = await gql(client, REVIEW_PUSH, push_input(batch, device_id="mentor-phone"), token=mentor)
        assert body.get("errors") and not (body.get("data") or {}).get("syncPush"), (reason, body)
        await nothing_left()

    async def broken(self, context, records):
        raise RuntimeError("the redemption's handler failed")

    with monkeypatch.context() as patch:
        patch.setattr(type(registry.KINDS["REWARD_REDEEMED"]), "apply", broken)
        await fails("a later record of the batch")

    written_then_failed: list[list[tuple[int, int]]] = []
    real_write = notices.write

    async def write_then_fail(connection, tenant_id, told_now, now):
        written = await real_write(connection, tenant_id, told_now, now)
        written_then_failed.append(written)
        raise RuntimeError("the statement after the notifications failed")

    with monkeypatch.context() as patch:
        patch.setattr(notices, "write", write_then_fail)
        await fails("right after the notifications were written")
    assert [len(written) for written in written_then_failed] == [2]  # they were written, then rolled back

    body = await gql(client, REVIEW_PUSH, push_input(batch, device_id="mentor-phone"), token=mentor)
    assert [r["status"] for r in body["data"]["syncPush"]["results"]] == ["ACCEPTED"] * 3, body
    assert await told(company) == [("LRN", K.PRACTICE_CONFIRMED)] * 2


async def test_a_submitted_evaluation_tells_the_mentee_a_draft_does_not(client, company):
    assessment = await CourseModule.create(
        tenant=company.tenant,
        course=company.courses["S-002"],
        position=3,
        title="客户拜访考核",
        kind=ModuleKind.ASSESSMENT,
        credits=Decimal("1.0"),
        required_count=1,
        rubric=company.rubrics["ROLEPLAY"],
        pass_score=70,
    )
    criteria = await RubricCriterion.filter(rubric=company.rubrics["ROLEPLAY"]).order_by("position")

    def scores(*values):
        return {to_global_id("RubricCriterion", c.id): v for c, v in zip(criteria, values, strict=True)}

    mentor = await token_for(client, company.code, "MGR")
    uid = str(uuid.uuid4())

    async def save(base: int, submit: bool) -> None:
        variables = {
            "input": {
                "clientId": str(uuid.uuid4()),
                "evaluatedAt": (NOW - timedelta(hours=1)).isoformat(),
                "evaluationId": uid,
                "menteeId": to_global_id("Employee", company.employees["LRN"].id),
                "moduleId": to_global_id("CourseModule", assessment.id),
                "baseVersion": base,
                "scores": scores(4, 3, 2) if submit else scores(4, 3, 3),
                "comment": "",
                "submit": submit,
            }
        }
        body = await gql(client, SAVE_EVALUATION, variables, token=mentor)
        assert body["data"]["saveMentorEvaluation"]["result"]["status"] == "ACCEPTED", body

    await save(0, False)
    assert await told(company) == []
    await save(1, True)
    assert await told(company) == [("LRN", K.EVALUATION_SUBMITTED)]
    submitted = await the(company, "LRN", K.EVALUATION_SUBMITTED)
    # (2·4 + 3 + 2) / 4 on a 1–5 scale: (3.25 - 1) / 4 = 56 %
    assert (submitted.params, submitted.subject_id) == (
        {"module": "客户拜访考核", "mentor": "孟经理", "score": 56},
        uid,
    )

    hr = await token_for(client, company.code, "HR1")
    given = {"evaluationId": uid, "scores": scores(5, 4, 4), "comment": "复核", "reason": "分数填反"}
    body = await gql(client, SUPERSEDE, {"input": given}, token=hr)
    new = body["data"]["supersedeEvaluation"]["evaluation"]
    assert new is not None, body
    assert await told(company) == [("LRN", K.EVALUATION_SUBMITTED)] * 2
    corrected = await Notification.get(tenant_id=company.tenant.id, subject_id=new["id"])
    assert corrected.params == {"module": "客户拜访考核", "mentor": "韩人事", "score": new["percent"]}


# --- credits ------------------------------------------------------------------------------------


async def test_pending_credits_decided_tell_the_employee_once(client, company):
    hr = await Phone.sign_in(client, company, "HR1")
    lrn = await Phone.sign_in(client, company, "LRN")
    s1 = await module_of(company, "S-001")
    await create_rule(
        hr,
        ruleKey="APPROVE",
        name="销售基础学习",
        moduleId=to_global_id("CourseModule", s1.id),
        credits="2",
        requiresApproval=True,
    )
    yesterday = NOW - timedelta(days=1)
    await lrn.lessons(s1.id, yesterday, yesterday)
    claims = [e["node"]["id"] for e in (await hr.gql(PENDING_CREDITS))["data"]["pendingCredits"]["edges"]]
    assert len(claims) == 2 and await told(company) == []
    decided = [
        await hr.gql(DECIDE_CREDIT, {"input": {"claimId": claims[0], "approve": True}}),
        await hr.gql(DECIDE_CREDIT, {"input": {"claimId": claims[1], "approve": False, "reason": "重复学习"}}),
        await hr.gql(DECIDE_CREDIT, {"input": {"claimId": claims[1], "approve": True}}),
    ]
    assert [[e["code"] for e in d["data"]["decidePendingCredit"]["errors"]] for d in decided] == [
        [],
        [],
        ["ALREADY_DECIDED"],
    ]
    assert await told(company) == [("LRN", K.PENDING_CREDIT_DECIDED)] * 2
    by_subject = {
        n.subject_id: n.params
        for n in await Notification.filter(tenant_id=company.tenant.id, kind=K.PENDING_CREDIT_DECIDED)
    }
    assert by_subject == {
        claims[0]: {"credits": "2.0", "rule": "销售基础学习", "decision": "APPROVED", "reason": ""},
        claims[1]: {"credits": "2.0", "rule": "销售基础学习", "decision": "REJECTED", "reason": "重复学习"},
    }
    assert render(K.PENDING_CREDIT_DECIDED, by_subject[claims[1]], "zh-CN", URUMQI)[1] == (
        "「销售基础学习」的 2.0 学分：未批准。重复学习"
    )


async def test_redemptions_decided_by_hr_tell_the_employee_a_cancellation_of_their_own_does_not(client, company):
    await give(company, "LRN", "50")
    reward = await make_reward(company, requires_approval=True, cost=100, category=RewardCategory.GIFT)
    lrn = await token_for(client, company.code, "LRN")
    hr = await token_for(client, company.code, "HR1")
    made = [(await redeem(client, lrn, to_global_id("Reward", reward.id)))["result"]["redemptionId"] for _ in range(3)]
    assert await told(company) == []
    decisions = [
        (made[0], True, ""),
        (made[1], False, "库存核对有误"),
        (made[1], True, ""),  # decided before: nothing happens, nobody is told
    ]
    for redemption_id, approve, reason in decisions:
        variables = {"input": {"redemptionId": redemption_id, "approve": approve, "reason": reason}}
        await gql(client, DECIDE_REDEMPTION, variables, token=hr)
    body = await gql(client, CANCEL_REDEMPTION, {"input": {"redemptionId": made[2]}}, token=lrn)
    assert body["data"]["cancelRedemption"]["errors"] == []
    assert await told(company) == [("LRN", K.REDEMPTION_DECIDED)] * 2
    by_subject = {
        n.subject_id: n.params
        for n in await Notification.filter(tenant_id=company.tenant.id, kind=K.REDEMPTION_DECIDED)
    }
    assert by_subject == {
        made[0]: {"reward": "定制保温杯", "credits": "10.0", "decision": "APPROVED", "reason": ""},
        made[1]: {"reward": "定制保温杯", "credits": "10.0", "decision": "REJECTED", "reason": "库存核对有误"},
    }
    assert render(K.REDEMPTION_DECIDED, by_subject[made[1]], "en", URUMQI)[1] == (
        "Your redemption of “定制保温杯” for 10.0 credits: rejected. 库存核对有误"
    )


# --- scheduled jobs -----------------------------------------------------------------------------


async def test_session_reminders_tell_the_instructor_and_the_enrolled_once_per_window(client, company):
    await person(company, "INS", "殷讲师", Role.INSTRUCTOR)
    await person(company, "E01", "员工一")
    soon = await make_session(company, starts_at=NOW + timedelta(minutes=40), instructor="INS", title="马上开始")
    later = await make_session(company, starts_at=NOW + timedelta(hours=5), title="下午场")
    far = await make_session(company, starts_at=NOW + timedelta(hours=30), instructor="INS", title="后天场")
    gone = await make_session(company, starts_at=NOW + timedelta(hours=2), instructor="INS", title="已取消")
    await TrainingSession.filter(id=gone.id).update(status=SessionStatus.CANCELLED)
    for session in (soon, later, far, gone):
        await place(company, session, "LRN", EnrollmentStatus.ENROLLED)
    await place(company, later, "E01", EnrollmentStatus.PENDING)  # not a place yet
    await place(company, soon, "E01", EnrollmentStatus.WAITLISTED)

    assert await session_reminders(company.tenant.id, NOW) == 4
    assert await session_reminders(company.tenant.id, NOW) == 0
    assert await session_reminders(company.tenant.id, NOW + timedelta(minutes=10)) == 0
    assert await told(company) == [
        ("HR1", K.SESSION_TOMORROW),  # instructor of 下午场
        ("INS", K.SESSION_SOON),
        ("LRN", K.SESSION_SOON),
        ("LRN", K.SESSION_TOMORROW),
    ]
    reminder = await Notification.get(
        tenant_id=company.tenant.id, recipient_id=company.employees["LRN"].id, kind=K.SESSION_SOON
    )
    assert reminder.params == session_params(soon) and reminder.expires_at == soon.starts_at
    assert reminder.event_key == f"session:{soon.id}:soon:{soon.starts_at.isoformat()}"
    local = soon.starts_at.astimezone(URUMQI).strftime("%Y-%m-%d %H:%M")
    assert render(K.SESSION_SOON, reminder.params, "zh-CN", URUMQI) == (
        "培训一小时后开始",
        f"「马上开始」将于 {local} 在 上海总部 3楼培训室 开始，请准时签到。",
    )

    # Someone enrolled since is reminded on the next run; later runs bring the other windows.
    await place(company, later, "OTH", EnrollmentStatus.ENROLLED)
    assert await session_reminders(company.tenant.id, NOW + timedelta(minutes=15)) == 1
    assert await session_reminders(company.tenant.id, NOW + timedelta(hours=4, minutes=5)) == 3  # 下午场 soon
    assert await session_reminders(company.tenant.id, NOW + timedelta(hours=7)) == 2  # 后天场 within a day
    assert await session_reminders(company.tenant.id, NOW + timedelta(hours=7)) == 0
    assert await told(company) == sorted(
        [
            ("HR1", K.SESSION_TOMORROW),
            ("HR1", K.SESSION_SOON),
            ("INS", K.SESSION_SOON),
            ("INS", K.SESSION_TOMORROW),
            ("LRN", K.SESSION_SOON),
            ("LRN", K.SESSION_SOON),
            ("LRN", K.SESSION_TOMORROW),
            ("LRN", K.SESSION_TOMORROW),
            ("OTH", K.SESSION_TOMORROW),
            ("OTH", K.SESSION_SOON),
        ]
    )


async def earn(company: Company, number: str, credits: str, at: datetime) -> None:
    """Credits earned at ``at`` (setup data, through the ledger)."""
    async with in_transaction() as connection:
        changes = ChangeSet(company.tenant.id)
        await ledger.post(
            connection,
            changes,
            company.tenant.id,
            ledger.Posting(
                employee_id=company.employees[number].id,
                kind=CreditEntryKind.EARN,
                amount=ledger.to_tenths(credits),
                entry_key=f"test:{uuid.uuid4()}",
                occurred_at=at,
            ),
            at,
        )
        await changes.publish(connection, at)


async def test_targets_at_risk_are_told_once_per_period_from_half_time(client, company):
    # The program's default: calendar-year periods in Asia/Shanghai.
    await CreditTarget.create(tenant=company.tenant, position_family="销售族", grade=1, credits=100)  # LRN: 10
    await CreditTarget.create(tenant=company.tenant, position_family="生产族", grade=2, credits=100)  # OTH: 10
    await CreditTarget.create(tenant=company.tenant, position_family="管理族", grade=2, credits=0)  # HR1, MGR
    march = datetime(2031, 3, 1, tzinfo=UTC)
    await earn(company, "LRN", "2", march)
    await earn(company, "OTH", "8", march)  # ahead of 7.5 expected by October too

    assert await targets_at_risk(company.tenant.id, datetime(2031, 5, 1, tzinfo=UTC)) == 0  # before half-time
    september = datetime(2031, 9, 1, tzinfo=UTC)  # two thirds through: 6.6 expected by now
    assert await targets_at_risk(company.tenant.id, september) == 1
    assert await targets_at_risk(company.tenant.id, september + timedelta(days=30)) == 0
    assert await told(company) == [("LRN", K.CREDIT_TARGET_AT_RISK)]
    risk = await the(company, "LRN", K.CREDIT_TARGET_AT_RISK)
    assert risk.params == {"target": "销售族 初级", "earned": "2.0", "required": "10.0", "endsOn": "2031-12-31"}
    assert risk.event_key == f"credit-target:{datetime(2030, 12, 31, 16, tzinfo=UTC).isoformat()}"
    assert render(K.CREDIT_TARGET_AT_RISK, risk.params, "en", URUMQI)[1] == (
        "Your credit target (销售族 初级): 2.0 of 10.0 credits, due 2031-12-31. At this pace it will be missed."
    )
    # The next period is another target: told again.
    assert await targets_at_risk(company.tenant.id, datetime(2032, 9, 1, tzinfo=UTC)) == 2
    assert await told(company) == [
        ("LRN", K.CREDIT_TARGET_AT_RISK),
        ("LRN", K.CREDIT_TARGET_AT_RISK),
        ("OTH", K.CREDIT_TARGET_AT_RISK),
    ]


async def test_evidence_missing_tells_the_employee_once_per_record_after_some_hours(client, company):
    practice = await CourseModule.get(course=company.courses["A-002"], position=2)
    learner = await token_for(client, company.code, "LRN")

    def attachment(name: str) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "sha256": uuid.uuid4().hex * 2,
            "sizeBytes": 1024,
            "mimeType": "image/jpeg",
            "fileName": name,
        }

    records: list[dict[str, Any]] = [
        {
            "id": str(uuid.uuid4()),
            "seq": seq,
            "kind": "PRACTICE_LOG",
            "occurredAt": (NOW - timedelta(hours=1)).isoformat(),
            "payload": {"moduleId": to_global_id("CourseModule", practice.id), "quantity": 1, "attachments": named},
        }
        for seq, named in enumerate(([attachment("a.jpg"), attachment("b.jpg")], [attachment("c.jpg")], []), start=1)
    ]
    body = await gql(client, PUSH, push_input(records), token=learner)
    assert [r["status"] for r in body["data"]["syncPush"]["results"]] == ["ACCEPTED"] * 3, body
    first = await EvidenceAttachment.filter(record_id=records[0]["id"]).order_by("created_at").first()
    assert first is not None
    arrived = first.created_at
    # The second record's photo arrived (setup: as the upload would mark it).
    await EvidenceAttachment.filter(record_id=records[1]["id"]).update(status=EvidenceStatus.RECEIVED)

    assert await evidence_missing(company.tenant.id, arrived + timedelta(hours=1)) == 0  # still uploading
    assert await evidence_missing(company.tenant.id, arrived + timedelta(hours=7)) == 1
    assert await evidence_missing(company.tenant.id, arrived + timedelta(hours=8)) == 0
    assert await told(company) == [("LRN", K.EVIDENCE_MISSING)]
    missing = await the(company, "LRN", K.EVIDENCE_MISSING)
    log = await PracticeLog.get(record_id=records[0]["id"])
    assert (missing.params, missing.subject_id) == ({"module": "练习", "count": 2}, to_global_id("PracticeLog", log.id))
    assert render(K.EVIDENCE_MISSING, missing.params, "zh-CN", URUMQI)[1] == (
        "您在「练习」的记录有 2 个附件尚未上传完成，请连网后打开应用。"
    )
    # A week on, a record never finished is no longer looked at.
    assert await evidence_missing(company.tenant.id, arrived + timedelta(days=8)) == 0
