"""Training sessions through the real ASGI app: who may schedule and edit them, validation, local
times in the site's time zone, the upcoming list each viewer sees (with keyset pages), the feed
and the audit log. The check-in secret never shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from backend import keyring
from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    EmployeeRole,
    Enrollment,
    EnrollmentStatus,
    Role,
    SessionStatus,
    SyncChange,
    TrainingSession,
)
from backend.services.sessions import qr
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.test_enrollment import add_employees, make_session, request, sid

SESSION_FIELDS = """
id title location startsAt endsAt localStartsAt localEndsAt capacity seatsTaken status
checkInOpensAt lateAfter allowsWalkIn course { code } module { position } instructor { employeeNo }
site { code timeZone } myEnrollment { status }
"""
ERRORS = "errors { code message field }"
CREATE = f"""
mutation Create($input: CreateSessionInput!) {{ createSession(input: $input) {{ session {{ {SESSION_FIELDS} }} {ERRORS} }} }}
"""
UPDATE = f"""
mutation Update($input: UpdateSessionInput!) {{ updateSession(input: $input) {{ session {{ {SESSION_FIELDS} }} {ERRORS} }} }}
"""
CANCEL = f"""
mutation Cancel($input: CancelSessionInput!) {{ cancelSession(input: $input) {{ session {{ id status }} {ERRORS} }} }}
"""
LIST = """
query List($first: Int!, $after: String, $filter: SessionFilter) {
  sessions(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id title course { code } myEnrollment { status } } }
  }
}
"""

START = datetime(2030, 12, 1, 1, 0, tzinfo=UTC)


def create_input(company: Company, **changes: Any) -> dict[str, Any]:
    given = {
        "courseId": to_global_id("Course", company.courses["A-001"].id),
        "title": "安全生产现场演练",
        "instructorId": to_global_id("Employee", company.employees["MGR"].id),
        "siteId": to_global_id("Site", company.sites["remote"].id),
        "location": "3 号车间",
        "startsAt": START.isoformat(),
        "endsAt": (START + timedelta(hours=2)).isoformat(),
        "capacity": 20,
    }
    given.update(changes)
    return {"input": given}


async def create(client, token: str, variables: dict[str, Any]) -> dict[str, Any]:
    body = await gql(client, CREATE, variables, token=token, language="en")
    assert "errors" not in body, body
    return body["data"]["createSession"]


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def make_instructor(company: Company, no: str = "MGR") -> None:
    await EmployeeRole.create(tenant=company.tenant, employee=company.employees[no], role=Role.INSTRUCTOR)


async def test_create_session_role_matrix_and_local_times(client, password_hash, test_settings):
    company = await make_company(password_hash)
    tokens = {no: await token_for(client, company.code, no) for no in ("HR1", "MGR", "LRN")}

    # MGR is not an instructor yet: neither may be scheduled nor schedule.
    not_instructor = await create(client, tokens["HR1"], create_input(company))
    assert codes(not_instructor) == ["VALIDATION"] and not_instructor["errors"][0]["field"] == "instructorId"
    assert codes(await create(client, tokens["MGR"], create_input(company))) == ["FORBIDDEN"]
    assert codes(await create(client, tokens["LRN"], create_input(company))) == ["FORBIDDEN"]

    await make_instructor(company)
    made = await create(client, tokens["HR1"], create_input(company, checkInOpensMinutes=45, lateAfterMinutes=5))
    assert made["errors"] == [], made
    session = made["session"]
    assert session["status"] == "SCHEDULED" and session["seatsTaken"] == 0
    assert session["instructor"] == {"employeeNo": "MGR"}
    assert session["site"] == {"code": "URC", "timeZone": "Asia/Urumqi"}
    assert session["localStartsAt"] == "2030-12-01T07:00:00+06:00"
    assert session["localEndsAt"] == "2030-12-01T09:00:00+06:00"
    assert datetime.fromisoformat(session["checkInOpensAt"]) == START - timedelta(minutes=45)
    assert datetime.fromisoformat(session["lateAfter"]) == START + timedelta(minutes=5)

    # An instructor schedules their own sessions, not someone else's.
    own = await create(client, tokens["MGR"], create_input(company))
    assert own["errors"] == [] and own["session"]["instructor"] == {"employeeNo": "MGR"}
    await make_instructor(company, "HR1")
    assert codes(
        await create(
            client,
            tokens["MGR"],
            create_input(company, instructorId=to_global_id("Employee", company.employees["HR1"].id)),
        )
    ) == ["FORBIDDEN"]

    row = await TrainingSession.get(id=int(_row_id(session["id"])))
    # Stored wrapped under the current key (docs/key-rotation.md), 32 random bytes inside.
    assert keyring.wrapped_kid(row.secret) == test_settings.keys.current_kid
    secret = qr.unwrap_secret(test_settings, row.secret)
    assert len(secret) == 64 and int(secret, 16) >= 0
    other = await TrainingSession.get(id=int(_row_id(own["session"]["id"])))
    assert qr.unwrap_secret(test_settings, other.secret) != secret
    assert await AuditEntry.filter(tenant_id=company.tenant.id, action="session.create").count() == 2
    assert await SyncChange.filter(tenant_id=company.tenant.id, entity="TRAINING_SESSION").count() == 2


def _row_id(global_id: str) -> str:
    from backend.ids import from_global_id

    return str(from_global_id(global_id)[1])


async def test_create_session_validation(client, password_hash):
    company = await make_company(password_hash)
    await make_instructor(company)
    token = await token_for(client, company.code, "HR1")
    cases = [
        ({"endsAt": START.isoformat()}, "endsAt"),
        ({"endsAt": (START - timedelta(hours=1)).isoformat()}, "endsAt"),
        ({"capacity": 0}, "capacity"),
        ({"checkInOpensMinutes": -1}, "checkInOpensMinutes"),
        ({"lateAfterMinutes": -5}, "lateAfterMinutes"),
        ({"title": "  "}, "title"),
        ({"moduleId": to_global_id("CourseModule", 999_999)}, "moduleId"),
        ({"siteId": to_global_id("Site", 999_999)}, "siteId"),
    ]
    for changes, field in cases:
        payload = await create(client, token, create_input(company, **changes))
        assert codes(payload) == ["VALIDATION"], (changes, payload)
        assert payload["errors"][0]["field"] == field, (changes, payload)
    # A time without an offset is refused where it enters, by the DateTime scalar.
    body = await gql(client, CREATE, create_input(company, startsAt="2030-12-01T01:00:00"), token=token)
    assert [(e["extensions"]["code"], e["extensions"]["field"]) for e in body["errors"]] == [
        ("VALIDATION", "input.startsAt")
    ]
    assert await TrainingSession.filter(tenant_id=company.tenant.id).count() == 0


async def test_update_and_cancel_session(client, password_hash):
    company = await make_company(password_hash)
    await make_instructor(company)
    tokens = {no: await token_for(client, company.code, no) for no in ("HR1", "MGR", "LRN", "OTH")}
    session = (
        await create(
            client,
            tokens["MGR"],
            create_input(company, courseId=to_global_id("Course", company.courses["A-002"].id), capacity=1),
        )
    )["session"]
    row = await TrainingSession.get(id=int(_row_id(session["id"])))
    first = await request(client, tokens["LRN"], row)
    second = await request(client, tokens["OTH"], row)
    assert (first["enrollment"]["status"], second["enrollment"]["status"]) == ("ENROLLED", "WAITLISTED")

    # Role matrix: HR and the instructor edit; others do not.
    for no in ("LRN", "OTH"):
        body = await gql(client, UPDATE, {"input": {"sessionId": session["id"], "title": "x"}}, token=tokens[no])
        assert codes(body["data"]["updateSession"]) == ["FORBIDDEN"]
    await make_instructor(company, "OTH")  # an instructor, but not this session's
    body = await gql(client, UPDATE, {"input": {"sessionId": session["id"], "title": "x"}}, token=tokens["OTH"])
    assert codes(body["data"]["updateSession"]) == ["FORBIDDEN"]

    # Capacity below the seats taken is refused; more capacity promotes the waiting list.
    body = await gql(client, UPDATE, {"input": {"sessionId": session["id"], "capacity": 0}}, token=tokens["HR1"])
    assert codes(body["data"]["updateSession"]) == ["VALIDATION"]
    body = await gql(
        client,
        UPDATE,
        {"input": {"sessionId": session["id"], "capacity": 2, "location": "B 教室"}},
        token=tokens["MGR"],
    )
    updated = body["data"]["updateSession"]
    assert updated["errors"] == [] and updated["session"]["capacity"] == 2
    assert updated["session"]["seatsTaken"] == 2 and updated["session"]["location"] == "B 教室"
    assert (
        await Enrollment.get(session_id=row.id, employee_id=company.employees["OTH"].id)
    ).status == EnrollmentStatus.ENROLLED
    body = await gql(
        client,
        UPDATE,
        {"input": {"sessionId": session["id"], "endsAt": (START - timedelta(hours=1)).isoformat()}},
        token=tokens["HR1"],
    )
    assert codes(body["data"]["updateSession"]) == ["VALIDATION"]

    # Cancel: the instructor or HR; then requests are refused and learners no longer see it.
    body = await gql(client, CANCEL, {"input": {"sessionId": session["id"]}}, token=tokens["LRN"])
    assert codes(body["data"]["cancelSession"]) == ["FORBIDDEN"]
    body = await gql(client, CANCEL, {"input": {"sessionId": session["id"], "reason": "讲师出差"}}, token=tokens["HR1"])
    assert body["data"]["cancelSession"] == {"session": {"id": session["id"], "status": "CANCELLED"}, "errors": []}
    extra = await add_employees(company, password_hash, 1)
    late = await request(client, await token_for(client, company.code, extra[0]), row)
    assert codes(late) == ["SESSION_CANCELLED"]
    body = await gql(client, UPDATE, {"input": {"sessionId": session["id"], "title": "y"}}, token=tokens["HR1"])
    assert codes(body["data"]["updateSession"]) == ["SESSION_CANCELLED"]

    actions = (
        await AuditEntry.filter(tenant_id=company.tenant.id, entity="TrainingSession")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["session.create", "session.update", "session.cancel"]
    cancel_entry = await AuditEntry.get(tenant_id=company.tenant.id, action="session.cancel")
    assert cancel_entry.details == {"reason": "讲师出差"}
    assert cancel_entry.actor_id == company.employees["HR1"].id


async def test_upcoming_sessions_list_and_pages(client, password_hash):
    company = await make_company(password_hash)
    # What LRN (销售族 grade 1, completed S-001) may attend: A-002, S-001, S-002. Not: S-003 (grade),
    # S-004 (org unit), S-007 (draft), a cancelled one, an ended one.
    visible = [
        await make_session(company, "A-002", starts_in=timedelta(days=1), title="v1"),
        await make_session(company, "S-001", starts_in=timedelta(days=2), title="v2"),
        await make_session(company, "S-002", starts_in=timedelta(days=2), title="v3"),  # same day as v2
        await make_session(company, "A-002", starts_in=timedelta(hours=-1), hours=3, title="v0"),  # running
    ]
    # Same start time as v2: ties are broken by id.
    await TrainingSession.filter(id=visible[2].id).update(starts_at=visible[1].starts_at)
    hidden = [
        await make_session(company, "S-003", title="h1"),
        await make_session(company, "S-004", title="h2"),
        await make_session(company, "S-007", title="h3"),
        await make_session(company, "A-002", status=SessionStatus.CANCELLED, title="h4"),
        await make_session(company, "A-002", starts_in=timedelta(days=-1), title="h5"),
    ]
    token = await token_for(client, company.code, "LRN")
    await request(client, token, visible[0])

    titles, cursor, pages = [], None, 0
    while True:
        body = await gql(client, LIST, {"first": 2, "after": cursor}, token=token)
        assert "errors" not in body, body
        connection = body["data"]["sessions"]
        assert connection["totalCount"] == 4
        assert connection["pageInfo"]["hasPreviousPage"] == (cursor is not None)
        titles += [edge["node"]["title"] for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        cursor = connection["pageInfo"]["endCursor"]
    assert titles == ["v0", "v1", "v2", "v3"] and pages == 2

    body = await gql(
        client,
        LIST,
        {"first": 10, "filter": {"courseId": to_global_id("Course", company.courses["A-002"].id)}},
        token=token,
    )
    nodes = [edge["node"] for edge in body["data"]["sessions"]["edges"]]
    assert [n["title"] for n in nodes] == ["v0", "v1"]
    assert [n["myEnrollment"] for n in nodes] == [None, {"status": "ENROLLED"}]

    # HR admins see every upcoming session, cancelled and draft-course ones included.
    hr = await token_for(client, company.code, "HR1")
    body = await gql(client, LIST, {"first": 20}, token=hr)
    assert sorted(e["node"]["title"] for e in body["data"]["sessions"]["edges"]) == sorted(
        ["v0", "v1", "v2", "v3", "h1", "h2", "h3", "h4"]
    )

    bad = await gql(client, LIST, {"first": 2, "after": "not-a-cursor"}, token=token)
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"
    too_many = await gql(client, LIST, {"first": 1000}, token=token)
    assert too_many["errors"][0]["extensions"]["code"] == "VALIDATION"

    # session(id): a learner sees a published course's session even if not eligible, not a draft's.
    one = "query O($id: ID!) { session(id: $id) { title } }"
    assert (await gql(client, one, {"id": sid(hidden[0])}, token=token))["data"]["session"] == {"title": "h1"}
    assert (await gql(client, one, {"id": sid(hidden[2])}, token=token))["data"]["session"] is None


async def test_the_secret_is_not_in_the_api():
    from backend.config import Settings
    from schema import build_schema

    sdl = build_schema(Settings()).as_str()
    session_type = sdl.split("type TrainingSession {", 1)[1].split("}", 1)[0]
    assert "secret" not in session_type.lower()


async def test_check_in_code_rotation_is_configurable_per_session(client, password_hash):
    from backend.models import TrainingSession

    company = await make_company(password_hash)
    await make_instructor(company)
    hr = await token_for(client, company.code, "HR1")
    made = await create(client, hr, create_input(company, checkInRotationSeconds=30))
    assert made["errors"] == []
    assert (await TrainingSession.get(tenant=company.tenant)).rotation_seconds == 30
    refused = await create(client, hr, create_input(company, checkInRotationSeconds=3))
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("VALIDATION", "checkInRotationSeconds")]
