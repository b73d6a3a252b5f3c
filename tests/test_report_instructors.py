"""The instructors and mentors report: every figure of a small company computed by hand, facts
made through the real services (enrollments, attendance marks, practice logs and reviews, mentor
evaluations over GraphQL), the peers' comparison (a mentor who gives everyone 100 stands out),
histograms, the role matrix and the exports.

Instructors, October 2026 (02:00 UTC is 10:00 in the company's zone):

| session | instructor | course | starts | minutes | enrolled | attended |
| --- | --- | --- | --- | --- | --- | --- |
| A | T1 (华东销售组) | A-001 | 10-15 | 120 | LRN, OTH | LRN |
| B | T1 | S-001 | 10-20 | 90 | OTH | OTH |
| C | T1 | A-001 | 10-22, CANCELLED | 60 | | |
| D | HR1 (总部) | A-001 | 10-25 | 60 | LRN | LRN |
| E | T1 | A-001 | 11-05 (after) | 60 | OTH | |

Mentors, the last 30 days: MGR (销售部) mentors LRN (every course) and mentored S2 until June; MEN
(生产部) mentors OTH (every course) and P2 (A-001). MGR confirms LRN's 3 role-plays that waited 3
hours and returns one that waited 1 hour; MEN confirms OTH's 2 that waited 30 minutes. MGR scores
LRN 100 five times; MEN scores OTH 50, 75 and 0.
"""

from __future__ import annotations

import math
import secrets
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backend.ids import to_global_id
from backend.models import (
    AttendanceStatus,
    CourseModule,
    Employee,
    EmployeeRole,
    Mentorship,
    ModuleKind,
    Position,
    PracticeLog,
    Role,
    RubricCriterion,
    SessionStatus,
    TrainingSession,
)
from backend.services.reports import instructors
from backend.services.reports.frame import Period, ReportFilter
from backend.services.reports.tables import ReportOptions
from backend.services.sessions import checkin, enrollment
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.report_world import viewer_of

INSTRUCTORS = """
query I($filter: ReportFilterInput!) { instructorReport(filter: $filter) {
  from to truncated
  instructors { person { employeeNo name } sessionsDelivered hoursDelivered enrolled attended attendanceRate
    learnerHours averageRating } } }
"""
MENTORS = """
query M($filter: ReportFilterInput!) { mentorReport(filter: $filter) {
  truncated peerEvaluations peerAverageScore peerScoreSd peerHistogram { counts }
  mentors { person { employeeNo } mentees practiceReviews practiceConfirmed practiceReturned averageReviewHours
    evaluations averageScore scoreSd fullMarksShare zScore standsOut histogram { counts } } } }
"""
LOG = """
mutation L($input: LogPracticeInput!) { logPractice(input: $input) { result { id status } errors { code } } }
"""
REVIEW = """
mutation R($input: ReviewPracticeInput!) { reviewPractice(input: $input) { result { status } errors { code } } }
"""
SAVE = """
mutation S($input: SaveMentorEvaluationInput!) {
  saveMentorEvaluation(input: $input) { result { status code } errors { code } } }
"""


def at(month: int, day: int, hour: int = 2, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def gid(type_name: str, row_id: int) -> str:
    return to_global_id(type_name, row_id)


async def _person(company: Company, password_hash: str, no: str, name: str, unit: str, position: str, *roles):
    employee = await Employee.create(
        tenant=company.tenant,
        employee_no=no,
        name=name,
        password_hash=password_hash,
        org_unit=company.org_units[unit],
        site=company.sites["hq"],
        position=await Position.get(tenant=company.tenant, code=position),
    )
    for role in (Role.EMPLOYEE, *roles):
        await EmployeeRole.create(tenant=company.tenant, employee=employee, role=role)
    company.employees[no] = employee
    return employee


async def _session(company, instructor, course, starts, minutes, **extra) -> TrainingSession:
    return await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses[course],
        title=f"{course} {starts:%m-%d}",
        instructor=company.employees[instructor],
        site=company.sites["hq"],
        starts_at=starts,
        ends_at=starts + timedelta(minutes=minutes),
        capacity=20,
        secret=secrets.token_hex(32),
        **extra,
    )


@pytest.fixture
async def company(password_hash):
    company = await make_company(password_hash)
    await _person(company, password_hash, "T1", "唐讲师", "east", "SAL-1", Role.INSTRUCTOR)
    await _person(company, password_hash, "MEN", "闵导师", "plant", "PRD-2", Role.MENTOR)
    await _person(company, password_hash, "S2", "苏销售", "east", "SAL-1")
    await _person(company, password_hash, "P2", "潘工", "plant", "PRD-2")
    return company


# --- instructors ---------------------------------------------------------------------------------


async def _teach(company):
    sessions = {
        "A": await _session(company, "T1", "A-001", at(10, 15), 120),
        "B": await _session(company, "T1", "S-001", at(10, 20), 90),
        "C": await _session(company, "T1", "A-001", at(10, 22), 60, status=SessionStatus.CANCELLED),
        "D": await _session(company, "HR1", "A-001", at(10, 25), 60),
        "E": await _session(company, "T1", "A-001", at(11, 5), 60),
    }
    for key, no in (("A", "LRN"), ("A", "OTH"), ("B", "OTH"), ("D", "LRN"), ("E", "OTH")):
        await enrollment.request_enrollment(viewer_of(company, no), sessions[key].id, now=at(10, 1))
    hr = viewer_of(company, "HR1", Role.HR_ADMIN)
    for key, no in (("A", "LRN"), ("B", "OTH"), ("D", "LRN")):
        await checkin.mark_attendance(hr, sessions[key].id, company.employees[no].id, AttendanceStatus.PRESENT, "补签")


OCTOBER = {"from": "2026-10-01", "to": "2026-10-31"}


def instructor(no, name, sessions, hours, enrolled, attended, rate, learner_hours):
    return {
        "person": {"employeeNo": no, "name": name},
        "sessionsDelivered": sessions,
        "hoursDelivered": hours,
        "enrolled": enrolled,
        "attended": attended,
        "attendanceRate": rate,
        "learnerHours": learner_hours,
        "averageRating": None,
    }


async def _instructors(client, company, no, **filters):
    token = await token_for(client, company.code, no)
    return await gql(client, INSTRUCTORS, {"filter": {**OCTOBER, **filters}}, token=token)


async def test_instructors_of_a_period_with_every_figure(client, company):
    await _teach(company)
    body = await _instructors(client, company, "HR1")
    assert "errors" not in body, body
    report = body["data"]["instructorReport"]
    assert (report["from"], report["to"], report["truncated"]) == ("2026-10-01", "2026-10-31", False)
    # By name: 唐 (U+5510) before 韩 (U+97E9). T1: A and B (C cancelled, E in November).
    assert report["instructors"] == [
        instructor("T1", "唐讲师", 2, "3.5", 3, 2, 0.6667, "3.5"),
        instructor("HR1", "韩人事", 1, "1.0", 1, 1, 1.0, "1.0"),
    ]
    # The course narrows the facts: A-001 leaves T1 with session A only.
    body = await _instructors(client, company, "HR1", courseId=gid("Course", company.courses["A-001"].id))
    assert body["data"]["instructorReport"]["instructors"] == [
        instructor("T1", "唐讲师", 1, "2.0", 2, 1, 0.5, "2.0"),
        instructor("HR1", "韩人事", 1, "1.0", 1, 1, 1.0, "1.0"),
    ]
    # A manager sees the instructors in their subtree (销售部: T1), whoever they taught.
    body = await _instructors(client, company, "MGR")
    assert [line["person"]["employeeNo"] for line in body["data"]["instructorReport"]["instructors"]] == ["T1"]

    table = await instructors.export_instructors(
        viewer_of(company, "HR1", Role.HR_ADMIN),
        ReportOptions(filter=ReportFilter(Period.of(date(2026, 10, 1), date(2026, 10, 31)))),
    )
    assert [column.en for column in table.columns][:3] == ["Employee no.", "Name", "Sessions delivered"]
    assert [list(row) async for row in table.rows] == [
        ["T1", "唐讲师", 2, Decimal("3.5"), 3, 2, 0.6667, Decimal("3.5"), None, 0],
        ["HR1", "韩人事", 1, Decimal("1.0"), 1, 1, 1.0, Decimal("1.0"), None, 0],
    ]


def _code(body, field):
    assert body.get("data") is None or body["data"].get(field) is None, body
    return body["errors"][0]["extensions"]["code"]


async def test_who_may_see_the_instructors_and_mentors(client, company, password_hash):
    plant = gid("OrgUnit", company.org_units["plant"].id)
    for query, field in ((INSTRUCTORS, "instructorReport"), (MENTORS, "mentorReport")):
        for no, filters, expected in (
            ("MGR", {"orgUnitId": plant}, "FORBIDDEN"),  # outside their subtree
            ("LRN", {}, "FORBIDDEN"),
            ("T1", {}, "FORBIDDEN"),  # instructing is no licence to read reports
        ):
            token = await token_for(client, company.code, no)
            body = await gql(client, query, {"filter": {**OCTOBER, **filters}}, token=token)
            assert _code(body, field) == expected, (no, field, body)
        other = await make_company(password_hash, courses=False)
        token = await token_for(client, other.code, "HR1")
        body = await gql(client, query, {"filter": {**OCTOBER, "orgUnitId": plant}}, token=token)
        assert _code(body, field) == "NOT_FOUND", body


# --- mentors -------------------------------------------------------------------------------------


async def _assessment(company, course):
    return await CourseModule.create(
        tenant=company.tenant,
        course=company.courses[course],
        position=3,
        title="角色扮演考核",
        kind=ModuleKind.ASSESSMENT,
        credits=Decimal("1.0"),
        required_count=1,
        rubric=company.rubrics["ROLEPLAY"],
        pass_score=70,
    )


async def _log(client, company, no, course, quantity, waited: timedelta) -> str:
    """A practice log of ``no`` that reached the server ``waited`` ago (its arrival set back)."""
    token = await token_for(client, company.code, no)
    practice = await CourseModule.get(course=company.courses[course], kind=ModuleKind.PRACTICE)
    client_id = str(uuid.uuid4())
    body = await gql(
        client,
        LOG,
        {"input": {"clientId": client_id, "moduleId": gid("CourseModule", practice.id), "quantity": quantity}},
        token=token,
    )
    assert body["data"]["logPractice"]["errors"] == [], body
    log = await PracticeLog.get(record_id=client_id)
    await PracticeLog.filter(id=log.id).update(created_at=datetime.now(UTC) - waited)
    return gid("PracticeLog", log.id)


async def _review(client, company, no, practice_id, decision, note=""):
    token = await token_for(client, company.code, no)
    body = await gql(
        client,
        REVIEW,
        {"input": {"clientId": str(uuid.uuid4()), "practiceId": practice_id, "decision": decision, "note": note}},
        token=token,
    )
    assert body["data"]["reviewPractice"]["result"]["status"] == "ACCEPTED", body


async def _evaluate(client, company, mentor, mentee, module, score):
    """A submitted evaluation scoring every ROLEPLAY criterion ``score`` (1–5: 0, 25, 50, 75, 100 %)."""
    criteria = await RubricCriterion.filter(rubric=company.rubrics["ROLEPLAY"])
    token = await token_for(client, company.code, mentor)
    body = {
        "evaluationId": str(uuid.uuid4()),
        "menteeId": gid("Employee", company.employees[mentee].id),
        "moduleId": gid("CourseModule", module.id),
        "baseVersion": 0,
        "scores": {gid("RubricCriterion", c.id): score for c in criteria},
        "comment": "",
        "submit": True,
        "clientId": str(uuid.uuid4()),
        "evaluatedAt": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
    }
    answer = await gql(client, SAVE, {"input": body}, token=token)
    assert answer["data"]["saveMentorEvaluation"]["result"] == {"status": "ACCEPTED", "code": None}, answer


async def _mentor(client, company):
    tenant, employees = company.tenant, company.employees
    await Mentorship.create(
        tenant=tenant,
        mentor=employees["MGR"],
        mentee=employees["S2"],
        starts_on=date(2026, 1, 1),
        ends_on=date(2026, 6, 30),
    )
    await Mentorship.create(tenant=tenant, mentor=employees["MEN"], mentee=employees["OTH"], starts_on=date(2026, 1, 1))
    await Mentorship.create(
        tenant=tenant,
        mentor=employees["MEN"],
        mentee=employees["P2"],
        course=company.courses["A-001"],
        starts_on=date(2026, 1, 1),
    )
    confirmed = await _log(client, company, "LRN", "S-001", 3, timedelta(hours=3))
    returned = await _log(client, company, "LRN", "S-001", 1, timedelta(hours=1))
    theirs = await _log(client, company, "OTH", "A-001", 2, timedelta(minutes=30))
    await _review(client, company, "MGR", confirmed, "CONFIRMED")
    await _review(client, company, "MGR", returned, "REJECTED", "动作不规范，请重做")
    await _review(client, company, "MEN", theirs, "CONFIRMED")
    sales, safety = await _assessment(company, "S-001"), await _assessment(company, "A-001")
    for _ in range(5):
        await _evaluate(client, company, "MGR", "LRN", sales, 5)
    for score in (3, 4, 1):
        await _evaluate(client, company, "MEN", "OTH", safety, score)


def _recent() -> dict:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    return {"from": str(today - timedelta(days=30)), "to": str(today + timedelta(days=1))}


async def _mentors(client, company, no, **filters):
    token = await token_for(client, company.code, no)
    body = await gql(client, MENTORS, {"filter": {**_recent(), **filters}}, token=token)
    assert "errors" not in body, body
    return body["data"]["mentorReport"]


async def test_mentors_against_their_peers(client, company):
    await _mentor(client, company)
    report = await _mentors(client, company, "HR1")
    # Peers: 100 ×5, 50, 75, 0: n 8, mean 625 / 8 = 78.125, sd √(58125 / 8 − 78.125²) = √1162.109375.
    peer_sd = math.sqrt(1162.109375)
    assert (report["peerEvaluations"], report["peerAverageScore"], report["peerScoreSd"]) == (8, 78.1, 34.1)
    assert report["peerHistogram"] == {"counts": [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 5]}
    assert report["truncated"] is False
    mgr, men = report["mentors"]  # 孟 (U+5B5F) before 闵 (U+95F5)
    assert mgr == {
        "person": {"employeeNo": "MGR"},
        "mentees": 1,  # LRN; S2's mentorship ended in June
        "practiceReviews": 2,
        "practiceConfirmed": 3,
        "practiceReturned": 1,
        "averageReviewHours": 2.0,  # (3 h + 1 h) / 2
        "evaluations": 5,
        "averageScore": 100.0,
        "scoreSd": 0.0,
        "fullMarksShare": 1.0,
        "zScore": round((100 - 78.125) / (peer_sd / math.sqrt(5)), 2),  # 1.43: not |z| ≥ 3 …
        "standsOut": True,  # … but every score is full marks, over 5 evaluations
        "histogram": {"counts": [0] * 10 + [5]},
    }
    assert mgr["zScore"] == 1.43
    # MEN: 50, 75, 0: mean 41.67, sd √(8125 / 3 − 41.67²) = 31.18; 3 evaluations are too few to stand out.
    assert men == {
        "person": {"employeeNo": "MEN"},
        "mentees": 2,
        "practiceReviews": 1,
        "practiceConfirmed": 2,
        "practiceReturned": 0,
        "averageReviewHours": 0.5,
        "evaluations": 3,
        "averageScore": 41.7,
        "scoreSd": 31.2,
        "fullMarksShare": 0.0,
        "zScore": -1.85,  # (41.667 − 78.125) / (34.09 / √3)
        "standsOut": False,
        "histogram": {"counts": [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0]},
    }
    # The course narrows the facts: S-001 leaves MEN their all-course mentee OTH and nothing else.
    report = await _mentors(client, company, "HR1", courseId=gid("Course", company.courses["S-001"].id))
    assert (report["peerEvaluations"], report["peerAverageScore"], report["peerScoreSd"]) == (5, 100.0, 0.0)
    mgr, men = report["mentors"]
    assert (mgr["evaluations"], mgr["practiceReviews"], mgr["zScore"], mgr["standsOut"]) == (5, 2, None, True)
    assert (men["mentees"], men["evaluations"], men["practiceReviews"], men["histogram"]["counts"]) == (
        1,
        0,
        0,
        [0] * 11,
    )
    assert (men["averageScore"], men["averageReviewHours"], men["standsOut"]) == (None, None, False)
    # A manager sees the mentors in their subtree, against the peers in it.
    report = await _mentors(client, company, "MGR")
    assert [m["person"]["employeeNo"] for m in report["mentors"]] == ["MGR"]
    assert (report["peerEvaluations"], report["peerHistogram"]["counts"][10]) == (5, 5)

    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    table = await instructors.export_mentors(
        viewer_of(company, "HR1", Role.HR_ADMIN),
        ReportOptions(filter=ReportFilter(Period.of(today - timedelta(days=30), today + timedelta(days=1)))),
    )
    assert len(table.columns) == 15 + 11 and table.columns[-1].en == "Scores 100"  # rating and count: issue 20
    rows = [list(row) async for row in table.rows]
    assert rows[0] == ["MGR", "孟经理", 1, 2, 3, 1, 2.0, 5, 100.0, 0.0, 1.0, 1.43, True, None, 0, *[0] * 10, 5]
    assert rows[1][:2] == ["MEN", "闵导师"] and rows[1][-11:] == [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0]
