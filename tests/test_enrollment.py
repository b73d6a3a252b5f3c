"""Enrollment through the real ASGI app: rules and typed refusals, approval paths, the waiting list
under concurrent requests and cancellations, the role matrix, and the offline ENROLLMENT_REQUESTED
record kind giving the same outcome as the online mutation.

Sessions are set up with the ORM (setup data); everything under test goes over HTTP. Each test
checks the answer and the database (seats_taken, enrollment rows).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    Course,
    Employee,
    EmployeeRole,
    Enrollment,
    EnrollmentStatus,
    Role,
    SessionStatus,
    TrainingSession,
)
from tests.conftest import count_queries
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, PUSH, pull_input, push_input

ENROLLMENT_FIELDS = (
    "enrollment { id status waitlistedAt decidedAt reason version "
    "employee { employeeNo } decidedBy { employeeNo } session { id seatsTaken capacity } }"
)
ERRORS = "errors { code message field }"

REQUEST = f"""
mutation Request($input: RequestEnrollmentInput!) {{
  requestEnrollment(input: $input) {{ {ENROLLMENT_FIELDS} ineligibleReasons {{ code message requiredCourse {{ code }} }} {ERRORS} }}
}}
"""
DECIDE = f"""
mutation Decide($input: DecideEnrollmentInput!) {{
  decideEnrollment(input: $input) {{ {ENROLLMENT_FIELDS} {ERRORS} }}
}}
"""
CANCEL = f"""
mutation Cancel($input: CancelEnrollmentInput!) {{
  cancelEnrollment(input: $input) {{ {ENROLLMENT_FIELDS} {ERRORS} }}
}}
"""
PENDING = "query { pendingEnrollments { id status employee { employeeNo } session { title } } }"
SESSION = "query S($id: ID!) { session(id: $id) { seatsTaken capacity myEnrollment { id status } } }"


# --- helpers ----------------------------------------------------------------------------------


async def make_session(
    company: Company,
    course_code: str = "A-002",
    *,
    capacity: int = 10,
    starts_in: timedelta = timedelta(days=2),
    hours: int = 2,
    status: SessionStatus = SessionStatus.SCHEDULED,
    title: str = "场次",
) -> TrainingSession:
    starts = datetime.now(UTC) + starts_in
    return await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses[course_code],
        title=title,
        instructor=company.employees["HR1"],
        site=company.sites["hq"],
        starts_at=starts,
        ends_at=starts + timedelta(hours=hours),
        capacity=capacity,
        status=status,
        secret="0" * 64,
    )


async def add_employees(company: Company, password_hash: str, count: int, prefix: str = "E") -> list[str]:
    """Employees reporting to MGR, in 华东销售组, with no position (open courses only)."""
    numbers = []
    for index in range(count):
        number = f"{prefix}{index:02d}"
        employee = await Employee.create(
            tenant=company.tenant,
            employee_no=number,
            name=f"员工{index}",
            password_hash=password_hash,
            org_unit=company.org_units["east"],
            site=company.sites["hq"],
            manager=company.employees["MGR"],
        )
        await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
        company.employees[number] = employee
        numbers.append(number)
    return numbers


def sid(session: TrainingSession) -> str:
    return to_global_id("TrainingSession", session.id)


async def request(client, token: str, session: TrainingSession, language: str = "en") -> dict[str, Any]:
    body = await gql(client, REQUEST, {"input": {"sessionId": sid(session)}}, token=token, language=language)
    assert "errors" not in body, body
    return body["data"]["requestEnrollment"]


async def decide(client, token: str, enrollment_id: str, approve: bool, reason: str = "") -> dict[str, Any]:
    body = await gql(
        client,
        DECIDE,
        {"input": {"enrollmentId": enrollment_id, "approve": approve, "reason": reason}},
        token=token,
        language="en",
    )
    assert "errors" not in body, body
    return body["data"]["decideEnrollment"]


async def cancel(client, token: str, enrollment_id: str) -> dict[str, Any]:
    body = await gql(client, CANCEL, {"input": {"enrollmentId": enrollment_id}}, token=token, language="en")
    assert "errors" not in body, body
    return body["data"]["cancelEnrollment"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def seats(session: TrainingSession) -> int:
    return (await TrainingSession.get(id=session.id)).seats_taken


async def statuses_of(session: TrainingSession) -> dict[int, EnrollmentStatus]:
    return {e.employee_id: e.status for e in await Enrollment.filter(session_id=session.id)}


# --- requests and refusals ----------------------------------------------------------------------


async def test_request_enrolls_once_and_duplicates_are_refused(client, password_hash):
    company = await make_company(password_hash)
    session = await make_session(company, capacity=5)
    token = await token_for(client, company.code, "LRN")

    first = await request(client, token, session)
    assert first["errors"] == [], first
    assert first["enrollment"]["status"] == "ENROLLED"
    assert first["enrollment"]["employee"]["employeeNo"] == "LRN"
    assert first["enrollment"]["session"]["seatsTaken"] == 1

    again = await request(client, token, session)
    assert codes(again) == ["ALREADY_ENROLLED"] and again["enrollment"] is None
    assert "ENROLLED" in again["errors"][0]["message"]
    assert await seats(session) == 1
    assert await Enrollment.filter(session_id=session.id).count() == 1

    body = await gql(client, SESSION, {"id": sid(session)}, token=token)
    assert body["data"]["session"]["myEnrollment"] == {"id": first["enrollment"]["id"], "status": "ENROLLED"}


async def test_eligibility_reasons_are_typed_and_translated(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    grade = await request(client, token, await make_session(company, "S-003"))  # 销售族 grade >= 2
    assert codes(grade) == ["NOT_ELIGIBLE"]
    assert [r["code"] for r in grade["ineligibleReasons"]] == ["GRADE_TOO_LOW"]
    assert "grade 2" in grade["ineligibleReasons"][0]["message"]

    prerequisite = await request(client, token, await make_session(company, "S-006"))  # needs S-003
    assert [r["code"] for r in prerequisite["ineligibleReasons"]] == ["PREREQUISITE_MISSING"]
    assert prerequisite["ineligibleReasons"][0]["requiredCourse"] == {"code": "S-003"}

    org = await request(client, token, await make_session(company, "S-004"), language="zh-CN")  # 生产部 only
    assert [r["code"] for r in org["ineligibleReasons"]] == ["ORG_UNIT"]
    assert "生产部" in org["ineligibleReasons"][0]["message"]

    assert await Enrollment.filter(employee_id=company.employees["LRN"].id).count() == 0

    # LRN completed S-001, so S-002's prerequisite is met.
    ok = await request(client, token, await make_session(company, "S-002"))
    assert ok["errors"] == [] and ok["enrollment"]["status"] == "ENROLLED"


async def test_cancelled_ended_and_unknown_sessions_are_refused(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    cancelled = await make_session(company, status=SessionStatus.CANCELLED)
    ended = await make_session(company, starts_in=timedelta(hours=-3), hours=1)
    draft = await make_session(company, "S-007")  # a draft course's session looks missing to learners

    assert codes(await request(client, token, cancelled)) == ["SESSION_CANCELLED"]
    assert codes(await request(client, token, ended)) == ["SESSION_ENDED"]
    assert codes(await request(client, token, draft)) == ["NOT_FOUND"]
    other = await make_company(password_hash)
    assert codes(await request(client, token, await make_session(other))) == ["NOT_FOUND"]
    body = await gql(client, REQUEST, {"input": {"sessionId": to_global_id("Course", 1)}}, token=token)
    assert body["data"]["requestEnrollment"]["errors"][0]["code"] == "VALIDATION"


# --- approval paths and the role matrix ---------------------------------------------------------


async def test_approval_paths_and_role_matrix(client, password_hash):
    company = await make_company(password_hash)
    await Course.filter(id=company.courses["A-001"].id).update(requires_approval=True)
    session = await make_session(company, "A-001", capacity=2)
    extra = await add_employees(company, password_hash, 1)  # E00, also reporting to MGR
    tokens = {no: await token_for(client, company.code, no) for no in ("HR1", "MGR", "LRN", "OTH", *extra)}

    pending = await request(client, tokens["LRN"], session)
    assert pending["errors"] == [] and pending["enrollment"]["status"] == "PENDING"
    assert await seats(session) == 1  # a pending request holds its seat
    lrn_enrollment = pending["enrollment"]["id"]

    # Who sees pending requests: the manager (direct reports), HR (everyone); others nothing.
    async def pending_of(no):
        body = await gql(client, PENDING, token=tokens[no])
        assert "errors" not in body, body
        return [e["employee"]["employeeNo"] for e in body["data"]["pendingEnrollments"]]

    other = await request(client, tokens["OTH"], session)  # OTH has no manager
    assert other["enrollment"]["status"] == "PENDING"
    assert await pending_of("MGR") == ["LRN"]
    assert sorted(await pending_of("HR1")) == ["LRN", "OTH"]
    assert await pending_of("LRN") == [] and await pending_of("OTH") == []

    # Who may decide: the employee's manager or HR; not a colleague, not the employee.
    assert codes(await decide(client, tokens["OTH"], lrn_enrollment, True)) == ["FORBIDDEN"]
    assert codes(await decide(client, tokens["LRN"], lrn_enrollment, True)) == ["FORBIDDEN"]
    assert codes(await decide(client, tokens["MGR"], other["enrollment"]["id"], True)) == ["FORBIDDEN"]

    approved = await decide(client, tokens["MGR"], lrn_enrollment, True)
    assert approved["errors"] == [] and approved["enrollment"]["status"] == "ENROLLED"
    assert approved["enrollment"]["decidedBy"] == {"employeeNo": "MGR"}
    assert approved["enrollment"]["decidedAt"]
    assert codes(await decide(client, tokens["MGR"], lrn_enrollment, False, "late")) == ["NOT_PENDING"]

    # The session is full now: E00 waits.
    waiting = await request(client, tokens["E00"], session)
    assert waiting["enrollment"]["status"] == "WAITLISTED" and waiting["enrollment"]["waitlistedAt"]

    # A rejection needs a reason, frees the seat and promotes the waiting list (to PENDING: the
    # course still needs approval).
    assert codes(await decide(client, tokens["HR1"], other["enrollment"]["id"], False)) == ["VALIDATION"]
    rejected = await decide(client, tokens["HR1"], other["enrollment"]["id"], False, "名额优先给销售部")
    assert rejected["errors"] == [] and rejected["enrollment"]["status"] == "REJECTED"
    assert rejected["enrollment"]["reason"] == "名额优先给销售部"
    found = await statuses_of(session)
    assert found[company.employees["E00"].id] == EnrollmentStatus.PENDING
    assert await seats(session) == 2
    assert await pending_of("MGR") == ["E00"]
    assert codes(await request(client, tokens["OTH"], session)) == ["ENROLLMENT_REJECTED"]

    actions = sorted(
        await AuditEntry.filter(tenant_id=company.tenant.id, entity="Enrollment").values_list("action", flat=True)
    )
    assert actions == ["enrollment.approve", "enrollment.reject"]


PENDING_PAGE = """
query P($first: Int!, $after: String) {
  pendingEnrollmentConnection(first: $first, after: $after) {
    totalCount edges { cursor node { status employee { employeeNo } } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def test_pending_requests_page_through_a_connection(client, password_hash):
    company = await make_company(password_hash)
    await Course.filter(id=company.courses["A-001"].id).update(requires_approval=True)
    session = await make_session(company, "A-001", capacity=10)
    extra = await add_employees(company, password_hash, 4)  # E00..E03, reporting to MGR
    for number in ("OTH", *extra):  # OTH has no manager: HR decides
        assert (await request(client, await token_for(client, company.code, number), session))["errors"] == []

    async def pages(no: str, first: int) -> list[dict[str, Any]]:
        token, after, seen = await token_for(client, company.code, no), None, []
        while True:
            body = await gql(client, PENDING_PAGE, {"first": first, "after": after}, token=token)
            assert "errors" not in body, body
            seen.append(page := body["data"]["pendingEnrollmentConnection"])
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]

    def numbers(seen: list[dict[str, Any]]) -> list[str]:
        return [edge["node"]["employee"]["employeeNo"] for page in seen for edge in page["edges"]]

    # Oldest first, the same as the (deprecated) list; every page counts the whole list.
    hr_pages = await pages("HR1", 2)
    assert [len(page["edges"]) for page in hr_pages] == [2, 2, 1]
    assert {page["totalCount"] for page in hr_pages} == {5}
    assert [page["pageInfo"]["hasPreviousPage"] for page in hr_pages] == [False, True, True]
    listed = await gql(client, PENDING, token=await token_for(client, company.code, "HR1"))
    assert numbers(hr_pages) == [e["employee"]["employeeNo"] for e in listed["data"]["pendingEnrollments"]]
    assert sorted(numbers(hr_pages)) == sorted(["OTH", *extra])
    # A manager pages through their direct reports' requests only.
    assert numbers(await pages("MGR", 3)) == [n for n in numbers(hr_pages) if n != "OTH"]
    assert numbers(await pages("LRN", 3)) == []

    token = await token_for(client, company.code, "HR1")
    bad = await gql(client, PENDING_PAGE, {"first": 2, "after": "not-a-cursor"}, token=token)
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"
    too_many = await gql(client, PENDING_PAGE, {"first": 101}, token=token)
    assert too_many["errors"][0]["extensions"]["code"] == "VALIDATION"


PENDING_WITH_SESSIONS = """
query P($first: Int!) {
  pendingEnrollmentConnection(first: $first) {
    edges { node { employee { employeeNo } session { title site { code } myEnrollment { status } } } }
  }
}
"""


async def test_a_page_of_pending_requests_costs_the_same_however_many_sessions_it_shows(client, password_hash):
    """Each request's session (and the viewer's own enrollment in it) comes through a batched
    loader, not one read per request."""
    company = await make_company(password_hash)
    await Course.filter(id=company.courses["A-001"].id).update(requires_approval=True)
    extra = await add_employees(company, password_hash, 8)
    for n, number in enumerate(extra):
        session = await make_session(company, "A-001", title=f"场次{n}")
        assert (await request(client, await token_for(client, company.code, number), session))["errors"] == []
    token = await token_for(client, company.code, "MGR")

    async def statements(first: int) -> int:
        with count_queries() as sent:
            body = await gql(client, PENDING_WITH_SESSIONS, {"first": first}, token=token)
        assert "errors" not in body, body
        edges = body["data"]["pendingEnrollmentConnection"]["edges"]
        assert len(edges) == first and all(e["node"]["session"]["site"]["code"] == "HQ" for e in edges)
        assert {e["node"]["session"]["myEnrollment"] for e in edges} == {None}  # the manager's own: none
        return len(sent)

    assert await statements(2) == await statements(8)


async def test_mutations_of_one_document_each_show_the_session_as_it_is_after_them(client, password_hash):
    """Sessions are batched, not cached across a document: a second mutation shows the seats the
    first one freed."""
    company = await make_company(password_hash)
    await Course.filter(id=company.courses["A-001"].id).update(requires_approval=True)
    session = await make_session(company, "A-001", capacity=5)
    extra = await add_employees(company, password_hash, 2)
    ids = []
    for number in extra:
        payload = await request(client, await token_for(client, company.code, number), session)
        ids.append(payload["enrollment"]["id"])
    document = """
    mutation Two($a: DecideEnrollmentInput!, $b: DecideEnrollmentInput!) {
      a: decideEnrollment(input: $a) { enrollment { session { seatsTaken } } errors { code } }
      b: decideEnrollment(input: $b) { enrollment { session { seatsTaken } } errors { code } }
    }
    """
    decisions = {
        key: {"enrollmentId": enrollment_id, "approve": False, "reason": "名额调整"}
        for key, enrollment_id in zip("ab", ids)
    }
    body = await gql(client, document, decisions, token=await token_for(client, company.code, "HR1"))
    assert "errors" not in body, body
    assert [body["data"][key]["enrollment"]["session"]["seatsTaken"] for key in "ab"] == [1, 0]


async def test_cancel_frees_the_seat_and_promotes_in_order(client, password_hash):
    company = await make_company(password_hash)
    session = await make_session(company, capacity=1)
    numbers = await add_employees(company, password_hash, 3)
    tokens = {no: await token_for(client, company.code, no) for no in ("LRN", *numbers)}

    enrolled = await request(client, tokens["LRN"], session)
    waits = [await request(client, tokens[no], session) for no in numbers]
    assert [w["enrollment"]["status"] for w in waits] == ["WAITLISTED"] * 3

    # Someone else's enrollment cannot be cancelled.
    assert codes(await cancel(client, tokens["E00"], enrolled["enrollment"]["id"])) == ["FORBIDDEN"]
    # Leaving the waiting list frees no seat.
    left = await cancel(client, tokens["E00"], waits[0]["enrollment"]["id"])
    assert left["enrollment"]["status"] == "CANCELLED"
    assert await seats(session) == 1

    done = await cancel(client, tokens["LRN"], enrolled["enrollment"]["id"])
    assert done["errors"] == [] and done["enrollment"]["status"] == "CANCELLED"
    found = await statuses_of(session)
    assert found[company.employees["E01"].id] == EnrollmentStatus.ENROLLED  # earliest still waiting
    assert found[company.employees["E02"].id] == EnrollmentStatus.WAITLISTED
    assert await seats(session) == 1
    assert codes(await cancel(client, tokens["LRN"], enrolled["enrollment"]["id"])) == ["ENROLLMENT_NOT_ACTIVE"]

    # Cancelled before: asking again gives the same row back, at the end of the queue.
    back = await request(client, tokens["LRN"], session)
    assert back["enrollment"]["id"] == enrolled["enrollment"]["id"]
    assert back["enrollment"]["status"] == "WAITLISTED"


# --- concurrency --------------------------------------------------------------------------------


async def test_concurrent_requests_never_exceed_capacity(client, password_hash):
    company = await make_company(password_hash)
    session = await make_session(company, capacity=4)
    numbers = await add_employees(company, password_hash, 14)
    tokens = [await token_for(client, company.code, no) for no in numbers]

    payloads = await asyncio.gather(*(request(client, token, session) for token in tokens))
    assert all(p["errors"] == [] for p in payloads), payloads
    outcomes = sorted(p["enrollment"]["status"] for p in payloads)
    assert outcomes == ["ENROLLED"] * 4 + ["WAITLISTED"] * 10
    assert await seats(session) == 4
    assert await Enrollment.filter(session_id=session.id, status=EnrollmentStatus.ENROLLED).count() == 4

    # The same employee asking many times at once gets one row.
    again = await asyncio.gather(*(request(client, tokens[0], session) for _ in range(5)))
    assert all(codes(p) == ["ALREADY_ENROLLED"] for p in again)
    assert await Enrollment.filter(session_id=session.id).count() == 14
    assert await seats(session) == 4


async def test_concurrent_cancellations_promote_exactly_as_many_as_freed(client, password_hash):
    company = await make_company(password_hash)
    session = await make_session(company, capacity=4)
    numbers = await add_employees(company, password_hash, 12)
    tokens = {no: await token_for(client, company.code, no) for no in numbers}
    ids = {}
    for no in numbers:  # in order, so the waiting list order is known
        ids[no] = (await request(client, tokens[no], session))["enrollment"]["id"]
    enrolled, waiting = numbers[:4], numbers[4:]

    # Three seat holders and two waiting employees cancel at once.
    leaving = enrolled[:3] + waiting[:2]
    results = await asyncio.gather(*(cancel(client, tokens[no], ids[no]) for no in leaving))
    assert all(r["errors"] == [] for r in results), results

    found = await statuses_of(session)
    by_no = {no: found[company.employees[no].id] for no in numbers}
    seat_holders = sorted(no for no, status in by_no.items() if status == EnrollmentStatus.ENROLLED)
    assert len(seat_holders) == 4
    assert await seats(session) == 4
    promoted = [no for no in waiting if by_no[no] == EnrollmentStatus.ENROLLED]
    assert len(promoted) == 3
    still_waiting = [no for no in waiting if by_no[no] == EnrollmentStatus.WAITLISTED]
    assert len(still_waiting) == len(waiting) - 2 - 3
    # Promotion goes in waiting-list order: nobody waiting was passed over.
    assert all(waiting.index(p) < waiting.index(w) for p in promoted for w in still_waiting)


# --- offline: the ENROLLMENT_REQUESTED record kind -----------------------------------------------


def enrollment_record(session: TrainingSession, seq: int) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "ENROLLMENT_REQUESTED",
        "occurredAt": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "payload": {"sessionId": sid(session)},
    }


async def test_offline_request_has_the_same_rules_and_outcome(client, password_hash):
    company = await make_company(password_hash)
    open_session = await make_session(company, capacity=1, title="开放场次")
    ineligible = await make_session(company, "S-003")
    token = await token_for(client, company.code, "LRN")
    oth = await token_for(client, company.code, "OTH")

    records = [
        enrollment_record(open_session, 1),
        enrollment_record(ineligible, 2),
        enrollment_record(open_session, 3),  # a second request: duplicate
        {**enrollment_record(open_session, 4), "payload": {"sessionId": "nonsense"}},
    ]
    body = await gql(client, PUSH, push_input(records), token=token, language="en")
    assert "errors" not in body, body
    results = body["data"]["syncPush"]["results"]
    assert [(r["status"], r["code"]) for r in results] == [
        ("ACCEPTED", None),
        ("REJECTED", "NOT_ELIGIBLE"),
        ("REJECTED", "ALREADY_ENROLLED"),
        ("REJECTED", "INVALID_PAYLOAD"),
    ]
    assert "GRADE_TOO_LOW" in results[1]["message"]
    mine = await Enrollment.get(session_id=open_session.id, employee_id=company.employees["LRN"].id)
    assert mine.status == EnrollmentStatus.ENROLLED
    assert await seats(open_session) == 1

    # The online twin refuses the same way; OTH, online, waits for the full session.
    assert codes(await request(client, token, open_session)) == ["ALREADY_ENROLLED"]
    assert (await request(client, oth, open_session))["enrollment"]["status"] == "WAITLISTED"
    # And OTH's offline request for it is a duplicate too.
    body = await gql(client, PUSH, push_input([enrollment_record(open_session, 1)]), token=oth)
    assert body["data"]["syncPush"]["results"][0]["code"] == "ALREADY_ENROLLED"

    # The feed carries the session (without its secret) and the employee's own enrollment.
    pulled = (await gql(client, PULL, pull_input(), token=token))["data"]["syncPull"]
    changes = {(c["entity"], c["id"]): c["data"] for c in pulled["changes"]}
    session_data = changes[("TRAINING_SESSION", sid(open_session))]
    assert session_data["seatsTaken"] == 1 and session_data["title"] == "开放场次"
    assert "secret" not in session_data and "0" * 64 not in str(pulled)
    enrollment_data = changes[("ENROLLMENT", to_global_id("Enrollment", mine.id))]
    assert enrollment_data["status"] == "ENROLLED"
    others = [
        c for c in pulled["changes"] if c["entity"] == "ENROLLMENT" and c["id"] != to_global_id("Enrollment", mine.id)
    ]
    assert others == []  # OTH's enrollment is not LRN's to see
