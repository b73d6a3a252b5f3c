"""Cross-tenant isolation and who sees which employee, over HTTP.

Another company's objects must look exactly like objects that do not exist: same status, same
body. Inside a company, employees are visible to themselves, HR admins, their manager and their
mentor (see ``backend/services/people/py``); the layout is in ``tests/factories.py``.
"""

from __future__ import annotations

import itertools
import json
import uuid

import pytest

from backend.models import Course, CourseFormat, CourseModule, CourseStatus, Position
from schema.ids import to_global_id
from tests.factories import make_company
from tests.graphql_client import gql, token_for

MISSING_ROW_ID = 2**31 - 1  # a well-formed id no row has

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Course { code title }
    ... on CourseModule { title }
    ... on OrgUnit { name }
    ... on Site { name }
    ... on Position { title }
    ... on Skill { name }
    ... on Employee { employeeNo name phone }
  }
}
"""

COURSE = "query Course($id: ID!) { course(id: $id) { id code title modules { title } } }"

EMPLOYEE = "query Employee($id: ID!) { node(id: $id) { __typename ... on Employee { employeeNo } } }"

PHONE = "query Phone($id: ID!) { node(id: $id) { ... on Employee { employeeNo phone } } }"

KINDS = ["Course", "CourseModule", "Employee", "OrgUnit", "Site", "Position", "Skill"]


# --- helpers -----------------------------------------------------------------------------------


async def row_id_of(company, kind: str) -> int:
    """The id of one ``kind`` object of ``company``."""
    if kind == "Course":
        return company.courses["S-001"].id
    if kind == "CourseModule":
        return (await CourseModule.get(course=company.courses["S-001"], position=1)).id
    if kind == "Employee":
        return company.employees["LRN"].id
    if kind == "OrgUnit":
        return company.org_units["east"].id
    if kind == "Site":
        return company.sites["hq"].id
    if kind == "Position":
        return (await Position.get(tenant=company.tenant, code="SAL-1")).id
    if kind == "Skill":
        return company.skills["NEG"].id
    raise AssertionError(kind)


async def body_text(client, query: str, global_id: str, token: str) -> str:
    """The response body as text, with the requested ID replaced so two bodies compare."""
    body = await gql(client, query, {"id": global_id}, token=token)
    return json.dumps(body, ensure_ascii=False, sort_keys=True).replace(global_id, "<id>")


async def node_of(client, token: str, query: str, global_id: str):
    body = await gql(client, query, {"id": global_id}, token=token)
    assert "errors" not in body, body
    return body["data"]["node"]


# --- another tenant's objects look missing -----------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
async def test_node_of_another_tenant_looks_missing(client, password_hash, kind):
    company_a = await make_company(password_hash)
    company_b = await make_company(password_hash)
    token = await token_for(client, company_a.code, "LRN")
    foreign_id = to_global_id(kind, await row_id_of(company_b, kind))
    missing_id = to_global_id(kind, MISSING_ROW_ID)

    foreign = await body_text(client, NODE, foreign_id, token)
    missing = await body_text(client, NODE, missing_id, token)

    assert foreign == missing
    assert json.loads(foreign) == {"data": {"node": None}}


@pytest.mark.parametrize("kind", KINDS)
async def test_own_tenant_object_is_visible_to_the_same_query(client, password_hash, kind):
    """The positive control of the test above: the same query finds A's own object."""
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    own_id = to_global_id(kind, await row_id_of(company, kind))

    node = await node_of(client, token, NODE, own_id)

    assert node is not None
    assert (node["__typename"], node["id"]) == (kind, own_id)


async def test_course_of_another_tenant_looks_missing(client, password_hash):
    company_a = await make_company(password_hash)
    company_b = await make_company(password_hash)
    token = await token_for(client, company_a.code, "LRN")
    foreign_id = to_global_id("Course", company_b.courses["S-001"].id)
    missing_id = to_global_id("Course", MISSING_ROW_ID)

    foreign = await body_text(client, COURSE, foreign_id, token)
    missing = await body_text(client, COURSE, missing_id, token)

    assert foreign == missing
    assert json.loads(foreign) == {"data": {"course": None}}


async def test_hr_admin_cannot_read_another_tenants_course(client, password_hash):
    company_a = await make_company(password_hash)
    company_b = await make_company(password_hash)
    token = await token_for(client, company_a.code, "HR1")
    foreign_id = to_global_id("Course", company_b.courses["S-007"].id)

    body = await gql(client, COURSE, {"id": foreign_id}, token=token)

    assert body == {"data": {"course": None}}


async def test_course_list_never_includes_another_tenants_courses(client, password_hash):
    company_a = await make_company(password_hash)
    company_b = await make_company(password_hash)
    unique_title = f"仅B公司可见-{uuid.uuid4().hex[:8]}"
    await Course.create(
        tenant=company_b.tenant,
        code="B-001",
        title=unique_title,
        scenario="销售",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
    )
    query = """
    query($search: String) {
      courses(first: 50, filter: {search: $search}) { totalCount edges { node { code title } } }
    }
    """

    for employee_no in ("LRN", "HR1"):
        token = await token_for(client, company_a.code, employee_no)
        body = await gql(client, query, {"search": unique_title}, token=token)
        assert body == {"data": {"courses": {"totalCount": 0, "edges": []}}}, employee_no
    # Control: B's own learner finds it with the same query.
    token_b = await token_for(client, company_b.code, "LRN")
    body = await gql(client, query, {"search": unique_title}, token=token_b)
    assert body["data"]["courses"]["edges"] == [{"node": {"code": "B-001", "title": unique_title}}]


async def test_course_list_counts_only_own_tenant(client, password_hash):
    company_a = await make_company(password_hash)
    await make_company(password_hash)
    token = await token_for(client, company_a.code, "HR1")

    body = await gql(client, "{ courses(first: 50) { totalCount } }", token=token)

    assert body == {"data": {"courses": {"totalCount": 9}}}


async def test_skill_filter_with_another_tenants_skill_finds_nothing(client, password_hash):
    company_a = await make_company(password_hash)
    company_b = await make_company(password_hash)
    token = await token_for(client, company_a.code, "LRN")
    foreign_skill = to_global_id("Skill", company_b.skills["NEG"].id)

    body = await gql(
        client,
        "query($skill: ID) { courses(first: 50, filter: {skillId: $skill}) { totalCount edges { cursor } } }",
        {"skill": foreign_skill},
        token=token,
    )

    assert body == {"data": {"courses": {"totalCount": 0, "edges": []}}}


# --- who sees which employee -------------------------------------------------------------------

PEOPLE = ("HR1", "MGR", "LRN", "OTH")

# viewer -> the employees whose profile they may open with node(id).
VISIBLE = {
    "HR1": {"HR1", "MGR", "LRN", "OTH"},  # HR admin: everyone in the company
    "MGR": {"MGR", "LRN"},  # self, and LRN (his direct report and mentee)
    "LRN": {"LRN"},  # self only (not even his manager)
    "OTH": {"OTH"},  # self only
}

ROLE_MATRIX = [
    pytest.param(viewer, target, target in VISIBLE[viewer], id=f"{viewer}-sees-{target}")
    for viewer, target in itertools.product(PEOPLE, PEOPLE)
]


@pytest.mark.parametrize(("viewer", "target", "visible"), ROLE_MATRIX)
async def test_employee_visibility(client, password_hash, viewer, target, visible):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, viewer)
    target_id = to_global_id("Employee", company.employees[target].id)

    node = await node_of(client, token, EMPLOYEE, target_id)

    expected = {"__typename": "Employee", "employeeNo": target} if visible else None
    assert node == expected


@pytest.mark.parametrize("target", PEOPLE)
async def test_hr_admin_of_another_company_sees_no_employee(client, password_hash, target):
    company_a = await make_company(password_hash)
    company_b = await make_company(password_hash)
    token = await token_for(client, company_b.code, "HR1")
    target_id = to_global_id("Employee", company_a.employees[target].id)

    node = await node_of(client, token, EMPLOYEE, target_id)

    assert node is None


@pytest.mark.parametrize(
    ("viewer", "phone_visible"),
    [
        pytest.param("LRN", True, id="self"),
        pytest.param("HR1", True, id="hr-admin"),
        pytest.param("MGR", False, id="manager"),
    ],
)
async def test_phone_only_for_self_and_hr_admins(client, password_hash, viewer, phone_visible):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, viewer)
    target_id = to_global_id("Employee", company.employees["LRN"].id)

    node = await node_of(client, token, PHONE, target_id)

    assert node == {"employeeNo": "LRN", "phone": "13800000000" if phone_visible else None}


async def test_own_manager_shows_only_name_and_number(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    manager_id = to_global_id("Employee", company.employees["MGR"].id)

    body = await gql(client, "{ me { phone manager { id employeeNo name } } }", token=token)
    assert body == {
        "data": {
            "me": {
                "phone": "13800000000",
                "manager": {"id": manager_id, "employeeNo": "MGR", "name": "孟经理"},
            }
        }
    }
    # Nothing deeper is reachable through the link: no phone, no org unit, no chain upwards...
    deeper = await gql(client, "{ me { manager { phone orgUnit { name } manager { name } } } }", token=token)
    assert deeper["data"] is None
    assert {e["extensions"]["code"] for e in deeper["errors"]} == {"GRAPHQL_VALIDATION"}
    # ...and the full profile follows the visibility rules (LRN may not open MGR's).
    assert await node_of(client, token, PHONE, manager_id) is None
