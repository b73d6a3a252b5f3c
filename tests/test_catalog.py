"""The course catalog over HTTP: paging, filters, eligibility, statuses, lookups by ID, malformed
input and the number of SQL statements a page costs.

Every test makes its own company (``make_company``), whose catalog and people are described in
``tests/factories.py``. LRN (销售族 grade 1, 华东销售组, completed S-001) sees eight published
courses: A-001, A-002, S-001 … S-006; S-007 is a draft.
"""

from __future__ import annotations

import base64
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from tortoise.expressions import Q, Subquery

from backend.models import (
    Course,
    CourseEligibilityRule,
    CourseFormat,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    CourseStatus,
    ModuleKind,
    Position,
    Role,
    Skill,
)
from backend.services.catalog import course_catalog
from backend.services.viewer import Viewer
from schema.ids import to_global_id
from tests.conftest import count_queries
from tests.factories import make_company
from tests.graphql_client import gql, token_for

PUBLISHED = ["A-001", "A-002", "S-001", "S-002", "S-003", "S-004", "S-005", "S-006"]

COURSES = """
query Courses($first: Int!, $after: String, $filter: CourseFilter) {
  courses(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { code } }
  }
}
"""

ELIGIBILITY = """
query Eligibility($id: ID!) {
  course(id: $id) {
    code
    eligibility { eligible reasons { code message requiredCourse { code } } }
  }
}
"""

COURSE_FIELDS = """
  id code title status credits hours
  modules { id position title kind credits requiredCount requirement }
  skills { skill { code name } targetLevel }
  prerequisites { code }
"""

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Course { code }
    ... on CourseModule { title position }
    ... on OrgUnit { name }
    ... on Site { name }
    ... on Position { title }
    ... on Skill { name }
    ... on Employee { employeeNo }
  }
}
"""


# --- helpers -----------------------------------------------------------------------------------


def gid(type_name: str, row) -> str:
    return to_global_id(type_name, row.id)


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


async def list_courses(client, token, first=20, after=None, language=None, **filter_) -> dict:
    """The ``courses`` connection (asserting the request succeeded)."""
    variables = {"first": first, "after": after, "filter": filter_ or None}
    body = await gql(client, COURSES, variables, token=token, language=language)
    assert "errors" not in body, body
    return body["data"]["courses"]


def codes(connection: dict) -> list[str]:
    return [edge["node"]["code"] for edge in connection["edges"]]


async def eligibility_of(client, token, course, language=None) -> dict:
    body = await gql(client, ELIGIBILITY, {"id": gid("Course", course)}, token=token, language=language)
    assert "errors" not in body, body
    return body["data"]["course"]["eligibility"]


def assert_validation_error(body: dict) -> None:
    """One GraphQL error with code VALIDATION and a message (never INTERNAL)."""
    assert "errors" in body, body
    assert [error["extensions"]["code"] for error in body["errors"]] == ["VALIDATION"], body
    assert all(error["message"] for error in body["errors"]), body


# --- paging ------------------------------------------------------------------------------------


async def test_paging_walks_every_published_course_in_code_order(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    pages, after = [], None
    while True:
        page = await list_courses(client, token, first=3, after=after)
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 10, "paging does not terminate"

    assert [codes(page) for page in pages] == [
        ["A-001", "A-002", "S-001"],
        ["S-002", "S-003", "S-004"],
        ["S-005", "S-006"],
    ]
    assert [page["totalCount"] for page in pages] == [8, 8, 8]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    for page in pages:
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_first_zero_returns_no_edges(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    page = await list_courses(client, token, first=0)

    assert page["edges"] == []
    assert page["totalCount"] == 8
    assert page["pageInfo"]["hasNextPage"] is True
    assert page["pageInfo"]["endCursor"] is None


async def test_page_size_above_maximum_is_a_validation_error(client, password_hash, test_settings):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    body = await gql(client, COURSES, {"first": test_settings.max_page_size + 1}, token=token)

    assert_validation_error(body)
    assert body["errors"][0]["extensions"]["field"] == "first"


async def test_page_size_of_exactly_the_maximum_is_accepted(client, password_hash, test_settings):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    page = await list_courses(client, token, first=test_settings.max_page_size)

    assert codes(page) == PUBLISHED


async def test_negative_page_size_is_a_validation_error(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    body = await gql(client, COURSES, {"first": -1}, token=token)

    assert_validation_error(body)


# --- filters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        pytest.param({"scenario": "安全"}, ["A-001", "A-002"], id="scenario"),
        pytest.param({"format": "OJT"}, ["A-001", "S-002", "S-004"], id="format"),
        pytest.param({"search": "谈判"}, ["S-003"], id="search-chinese"),
        pytest.param({"search": "s-00"}, PUBLISHED[2:], id="search-code-case-insensitive"),
        pytest.param({"search": "Fire 消防"}, ["A-002"], id="search-two-words"),
        pytest.param({"search": "fire 谈判"}, [], id="search-every-word-must-match"),
        pytest.param({"search": "   "}, PUBLISHED, id="search-blank"),
        pytest.param({"scenario": "销售", "format": "ONLINE"}, ["S-001", "S-006"], id="combined"),
    ],
)
async def test_filters(client, password_hash, filter_, expected):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    page = await list_courses(client, token, **filter_)

    assert codes(page) == expected
    assert page["totalCount"] == len(expected)


async def test_skill_filter_finds_courses_teaching_the_skill(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    page = await list_courses(client, token, skillId=gid("Skill", company.skills["NEG"]))

    assert codes(page) == ["S-001", "S-003"]


@pytest.mark.parametrize("search", ["%", "_", "S-00_", "%谈判", "\\", "S\\%"])
async def test_search_treats_like_wildcards_literally(client, password_hash, search):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    page = await list_courses(client, token, search=search)

    assert codes(page) == []


async def test_search_finds_a_literal_percent_sign(client, password_hash):
    company = await make_company(password_hash)
    await Course.create(
        tenant=company.tenant,
        code="P-001",
        title="100% 达标",
        scenario="质量",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
    )
    token = await token_for(client, company.code, "LRN")

    page = await list_courses(client, token, search="100%")

    assert codes(page) == ["P-001"]


async def test_eligible_only_for_learner(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    page = await list_courses(client, token, eligibleOnly=True)

    assert codes(page) == ["A-001", "A-002", "S-001", "S-002"]
    assert page["totalCount"] == 4


async def test_eligible_only_for_plant_employee(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "OTH")

    page = await list_courses(client, token, eligibleOnly=True)

    assert "S-004" in codes(page)
    assert "S-002" not in codes(page)
    assert codes(page) == ["A-001", "A-002", "S-001", "S-004"]


async def test_eligible_only_pages_like_the_full_list(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    first = await list_courses(client, token, first=3, eligibleOnly=True)
    second = await list_courses(client, token, first=3, after=first["pageInfo"]["endCursor"], eligibleOnly=True)

    assert codes(first) + codes(second) == ["A-001", "A-002", "S-001", "S-002"]
    assert second["pageInfo"]["hasNextPage"] is False


async def test_eligibility_agrees_with_eligible_only(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    query = "{ courses(first: 50) { edges { node { code eligibility { eligible } } } } }"

    body = await gql(client, query, token=token)

    eligible = [
        edge["node"]["code"] for edge in body["data"]["courses"]["edges"] if edge["node"]["eligibility"]["eligible"]
    ]
    assert eligible == codes(await list_courses(client, token, eligibleOnly=True))


# --- eligibility reasons -----------------------------------------------------------------------


async def test_open_course_is_eligible_without_reasons(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    assert await eligibility_of(client, token, company.courses["S-002"]) == {
        "eligible": True,
        "reasons": [],
    }


async def test_grade_too_low(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    eligibility = await eligibility_of(client, token, company.courses["S-003"])

    assert eligibility["eligible"] is False
    assert [reason["code"] for reason in eligibility["reasons"]] == ["GRADE_TOO_LOW"]
    assert "2" in eligibility["reasons"][0]["message"]


async def test_org_unit_reason_names_the_unit(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    eligibility = await eligibility_of(client, token, company.courses["S-004"])

    assert [reason["code"] for reason in eligibility["reasons"]] == ["ORG_UNIT"]
    assert "生产部" in eligibility["reasons"][0]["message"]


async def test_alternative_rules_report_the_closest_one(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    eligibility = await eligibility_of(client, token, company.courses["S-005"])

    assert eligibility["eligible"] is False
    assert len(eligibility["reasons"]) == 1
    assert eligibility["reasons"][0]["code"] in {"POSITION_FAMILY", "GRADE_TOO_LOW"}


async def test_missing_prerequisite_names_the_course(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    eligibility = await eligibility_of(client, token, company.courses["S-006"])

    assert eligibility["eligible"] is False
    [reason] = eligibility["reasons"]
    assert reason["code"] == "PREREQUISITE_MISSING"
    assert reason["requiredCourse"] == {"code": "S-003"}
    assert reason["message"] == "需先完成课程 S-003《大客户谈判》。"


async def test_reason_messages_follow_accept_language(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    eligibility = await eligibility_of(client, token, company.courses["S-006"], language="en")

    assert eligibility["reasons"][0]["message"] == "Complete S-003 \u201c大客户谈判\u201d first."


# --- statuses ----------------------------------------------------------------------------------


async def test_learner_never_sees_drafts_even_when_asking_for_them(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    page = await list_courses(client, token, statuses=["DRAFT"])

    assert "S-007" not in codes(page)
    assert codes(page) == PUBLISHED


async def test_hr_admin_sees_drafts_on_request(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "HR1")

    page = await list_courses(client, token, statuses=["DRAFT"])

    assert codes(page) == ["S-007"]


async def test_hr_admin_sees_every_status_without_a_filter(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "HR1")

    page = await list_courses(client, token)

    assert page["totalCount"] == 9
    assert codes(page) == sorted([*PUBLISHED, "S-007"])


async def test_draft_course_is_not_eligible(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "HR1")

    eligibility = await eligibility_of(client, token, company.courses["S-007"])

    assert eligibility["eligible"] is False
    assert [reason["code"] for reason in eligibility["reasons"]] == ["NOT_PUBLISHED"]


@pytest.mark.parametrize("root", ["course", "node"])
async def test_learner_gets_null_for_a_draft_by_id(client, password_hash, root):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    query = f"query($id: ID!) {{ {root}(id: $id) {{ id }} }}"

    body = await gql(client, query, {"id": gid("Course", company.courses["S-007"])}, token=token)

    assert body == {"data": {root: None}}


# --- course(id) and node(id) -------------------------------------------------------------------


async def fetch_course(client, token, root: str, course) -> dict:
    """A course by ID through ``course(id:)`` or ``node(id:)``."""
    selection = COURSE_FIELDS if root == "course" else f"... on Course {{ {COURSE_FIELDS} }}"
    query = f"query($id: ID!) {{ {root}(id: $id) {{ {selection} }} }}"
    body = await gql(client, query, {"id": gid("Course", course)}, token=token)
    assert "errors" not in body, body
    return body["data"][root]


@pytest.mark.parametrize("root", ["course", "node"])
async def test_course_by_id_has_its_modules_in_order(client, password_hash, root):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    course = company.courses["S-003"]
    modules = await CourseModule.filter(course=course).order_by("position")

    found = await fetch_course(client, token, root, course)

    assert found["id"] == gid("Course", course)
    assert (found["code"], found["title"], found["status"]) == ("S-003", "大客户谈判", "PUBLISHED")
    # strawberry's Decimal scalar serializes with str(): a string keeping the scale.
    assert (found["credits"], found["hours"]) == ("3.0", "2.0")
    assert found["modules"] == [
        {
            "id": gid("CourseModule", modules[0]),
            "position": 1,
            "title": "学习",
            "kind": "LESSON",
            "credits": "1.0",
            "requiredCount": 1,
            "requirement": "",
        },
        {
            "id": gid("CourseModule", modules[1]),
            "position": 2,
            "title": "练习",
            "kind": "PRACTICE",
            "credits": "2.0",
            "requiredCount": 10,
            "requirement": "完成 10 次客户角色扮演",
        },
    ]


@pytest.mark.parametrize("root", ["course", "node"])
async def test_course_by_id_has_its_skills(client, password_hash, root):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    found = await fetch_course(client, token, root, company.courses["S-003"])

    assert found["skills"] == [{"skill": {"code": "NEG", "name": "谈判技巧"}, "targetLevel": 70}]
    assert found["prerequisites"] == []


@pytest.mark.parametrize("root", ["course", "node"])
async def test_course_by_id_has_its_prerequisites(client, password_hash, root):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    found = await fetch_course(client, token, root, company.courses["S-006"])

    assert found["prerequisites"] == [{"code": "S-003"}]
    assert found["skills"] == []


async def _node_target(company, kind: str) -> tuple[str, dict]:
    """The global ID of one ``kind`` object of ``company`` and what ``node`` should return."""
    if kind == "Course":
        row = company.courses["S-001"]
        return gid(kind, row), {"code": "S-001"}
    if kind == "CourseModule":
        row = await CourseModule.get(course=company.courses["S-001"], position=2)
        return gid(kind, row), {"title": "练习", "position": 2}
    if kind == "OrgUnit":
        return gid(kind, company.org_units["plant"]), {"name": "生产部"}
    if kind == "Site":
        return gid(kind, company.sites["remote"]), {"name": "乌鲁木齐办事处"}
    if kind == "Position":
        row = await Position.get(tenant=company.tenant, code="SAL-1")
        return gid(kind, row), {"title": "销售族-客户经理序列-初级"}
    if kind == "Skill":
        return gid(kind, company.skills["SAFE"]), {"name": "消防安全"}
    if kind == "Employee":
        return gid(kind, company.employees["LRN"]), {"employeeNo": "LRN"}
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["Course", "CourseModule", "OrgUnit", "Site", "Position", "Skill", "Employee"])
async def test_node_resolves_every_type(client, password_hash, kind):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    node_id, fields = await _node_target(company, kind)

    body = await gql(client, NODE, {"id": node_id}, token=token)

    assert body == {"data": {"node": {"__typename": kind, "id": node_id, **fields}}}


# --- malformed input ---------------------------------------------------------------------------


def _cursor(payload: str) -> str:
    return b64(payload)


MALFORMED = [
    pytest.param("course", "garbage", id="course-garbage"),
    pytest.param("course", b64("Course:abc"), id="course-non-numeric"),
    pytest.param("course", b64("Course:-3"), id="course-negative"),
    pytest.param("course", b64("Course:0"), id="course-zero"),
    pytest.param("course", b64("Course:99999999999"), id="course-too-large"),
    pytest.param("course", b64("Course: 7"), id="course-padded-number"),
    pytest.param("course", b64("Nope:7"), id="course-unknown-type"),
    pytest.param("course", "", id="course-empty"),
    pytest.param("course", "课程", id="course-non-ascii"),
    pytest.param("node", "!!!", id="node-punctuation"),
    pytest.param("node", "garbage", id="node-garbage"),
    pytest.param("node", b64("Course"), id="node-no-colon"),
    pytest.param("node", b64("Tenant:1"), id="node-not-a-node-type"),
]


@pytest.mark.parametrize(("root", "bad_id"), MALFORMED)
async def test_malformed_id_is_a_validation_error(client, password_hash, root, bad_id):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    body = await gql(client, f"query($id: ID!) {{ {root}(id: $id) {{ id }} }}", {"id": bad_id}, token=token)

    assert_validation_error(body)
    assert body["data"] == {root: None}


async def test_course_given_another_types_id_is_a_validation_error(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    body = await gql(
        client,
        "query($id: ID!) { course(id: $id) { id } }",
        {"id": gid("Site", company.sites["hq"])},
        token=token,
    )

    assert_validation_error(body)


@pytest.mark.parametrize(
    "after",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param("!!!", id="punctuation"),
        pytest.param(_cursor(json.dumps({"page": 2, "offset": 40})), id="random-json"),
        pytest.param(_cursor("xf1:" + json.dumps({"page": 2})), id="prefixed-object"),
        pytest.param(_cursor("xf1:" + json.dumps(["employee", ["E1"]])), id="other-kind"),
        pytest.param(_cursor("xf1:" + json.dumps(["course", [42]])), id="non-string-key"),
        pytest.param(_cursor("xf1:" + json.dumps(["course", ["A", "B"]])), id="wrong-arity"),
        pytest.param(_cursor("xf1:" + json.dumps(["course", "S-001"])), id="key-not-a-list"),
        pytest.param(_cursor("xf1:" + json.dumps("course")), id="prefixed-string"),
        pytest.param(_cursor("xf1:{not json"), id="prefixed-broken-json"),
        pytest.param("课程", id="non-ascii"),
    ],
)
async def test_malformed_cursor_is_a_validation_error(client, password_hash, after):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    body = await gql(client, COURSES, {"first": 3, "after": after}, token=token)

    assert_validation_error(body)
    assert body["errors"][0]["extensions"]["field"] == "after"


@pytest.mark.parametrize(
    "skill_id",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param(b64("Skill:x"), id="non-numeric"),
        pytest.param("not-a-course", id="dashes"),
    ],
)
async def test_malformed_skill_id_is_a_validation_error(client, password_hash, skill_id):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    body = await gql(client, COURSES, {"first": 3, "filter": {"skillId": skill_id}}, token=token)

    assert_validation_error(body)
    assert body["errors"][0]["extensions"]["field"] == "filter.skillId"


async def test_skill_filter_given_a_course_id_is_a_validation_error(client, password_hash):
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")

    body = await gql(
        client,
        COURSES,
        {"first": 3, "filter": {"skillId": gid("Course", company.courses["S-001"])}},
        token=token,
    )

    assert_validation_error(body)


# --- query count -------------------------------------------------------------------------------

HEAVY_PAGE = """
query Heavy($first: Int!) {
  courses(first: $first) {
    totalCount
    edges { node {
      code
      modules { title }
      skills { skill { name } targetLevel }
      prerequisites { code }
      eligibility { eligible reasons { code message } }
    } }
  }
}
"""


async def make_big_catalog(password_hash: str, size: int = 60):
    """A company whose ``size`` published courses each have 3 modules, 2 skills, 1 eligibility
    rule and 1 prerequisite (the next course, wrapping around)."""
    company = await make_company(password_hash, courses=False)
    tenant = company.tenant
    skills = [await Skill.create(tenant=tenant, code=f"K{n}", name=f"技能{n}", category="测试") for n in range(2)]
    await Course.bulk_create(
        [
            Course(
                tenant=tenant,
                code=f"C-{n:03d}",
                title=f"课程{n}",
                scenario="销售",
                format=CourseFormat.ONLINE,
                status=CourseStatus.PUBLISHED,
                hours=Decimal("1.0"),
                credits=Decimal("1.0"),
            )
            for n in range(size)
        ]
    )
    courses = await Course.filter(tenant=tenant).order_by("code")
    assert len(courses) == size
    await CourseModule.bulk_create(
        [
            CourseModule(
                tenant=tenant,
                course=course,
                position=p,
                title=f"模块{p}",
                kind=ModuleKind.LESSON,
                credits=Decimal("0.5"),
            )
            for course in courses
            for p in (1, 2, 3)
        ]
    )
    await CourseSkill.bulk_create(
        [
            CourseSkill(tenant=tenant, course=course, skill=skill, target_level=50)
            for course in courses
            for skill in skills
        ]
    )
    await CourseEligibilityRule.bulk_create(
        [
            CourseEligibilityRule(tenant=tenant, course=course, position_family="销售族", min_grade=2)
            if n % 2
            else CourseEligibilityRule(tenant=tenant, course=course, org_unit=company.org_units["sales"])
            for n, course in enumerate(courses)
        ]
    )
    await CoursePrerequisite.bulk_create(
        [
            CoursePrerequisite(tenant=tenant, course=course, required_course=courses[(n + 1) % size])
            for n, course in enumerate(courses)
        ]
    )
    return company


async def _count_heavy_page(client, token, first: int) -> tuple[list[str], dict]:
    with count_queries() as statements:
        body = await gql(client, HEAVY_PAGE, {"first": first}, token=token)
    assert "errors" not in body, body
    return list(statements), body["data"]["courses"]


async def test_page_of_courses_costs_a_constant_number_of_queries(client, password_hash):
    company = await make_big_catalog(password_hash)
    token = await token_for(client, company.code, "LRN")

    small, small_page = await _count_heavy_page(client, token, 5)
    large, large_page = await _count_heavy_page(client, token, 50)

    assert len(small_page["edges"]) == 5 and len(large_page["edges"]) == 50
    node = large_page["edges"][0]["node"]
    assert len(node["modules"]) == 3 and len(node["skills"]) == 2
    assert node["prerequisites"] == [{"code": "C-001"}]
    assert node["eligibility"]["eligible"] is False
    listing = "\n".join(f"  {n}. {sql}" for n, sql in enumerate(large, 1))
    print(f"first=5: {len(small)} statements, first=50: {len(large)} statements\n{listing}")
    assert len(small) == len(large), f"first=5 cost {len(small)} statements, first=50 cost {len(large)}:\n{listing}"
    assert len(large) <= 10, f"{len(large)} statements:\n{listing}"


@pytest.mark.parametrize("kind", ["TrainingSession", "Enrollment", "Rubric", "PracticeLog", "QuizAttempt"])
async def test_node_of_a_type_with_its_own_field_is_null_not_an_error(client, password_hash, kind):
    """IDs of these types are valid (their own fields take them) but not `node` types."""
    company = await make_company(password_hash)
    token = await token_for(client, company.code, "LRN")
    body = await gql(client, NODE, {"id": b64(f"{kind}:1")}, token=token)
    assert body == {"data": {"node": None}}


def _orm_list(viewer: Viewer, course_filter: course_catalog.CourseFilter, ineligible: set[int]) -> Any:
    """The course list's conditions through the ORM, as list_courses wrote them before it wrote
    plain SQL: the reference its statement must agree with."""
    query = Course.filter(tenant_id=viewer.tenant_id)
    if not course_catalog.sees_all_statuses(viewer):
        query = query.filter(status=CourseStatus.PUBLISHED)
    elif course_filter.statuses:
        query = query.filter(status__in=list(course_filter.statuses))
    for term in (course_filter.search or "").strip()[: course_catalog.MAX_SEARCH_LENGTH].split():
        query = query.filter(Q(code__icontains=term) | Q(title__icontains=term))
    if course_filter.scenario:
        query = query.filter(scenario=course_filter.scenario)
    if course_filter.format:
        query = query.filter(format=course_filter.format)
    if course_filter.skill_id is not None:
        taught = CourseSkill.filter(tenant_id=viewer.tenant_id, skill_id=course_filter.skill_id).values("course_id")
        query = query.filter(id__in=Subquery(taught))
    if course_filter.eligible_only and ineligible:
        query = query.filter(id__not_in=sorted(ineligible))
    return query.order_by("code")


async def test_the_course_list_selects_what_the_orm_would_for_every_filter(password_hash):
    """list_courses writes its statement by hand; for every kind of filter, as HR and as a learner,
    page after page, it lists and counts exactly the courses the ORM's conditions select —
    LIKE's wildcards and the escape character in a search term matching only themselves."""
    company = await make_company(password_hash)
    tenant = company.tenant
    for code, title in (("X-%1", "100%达标"), ("X_2", "a_b 课程"), ("X\\3", "反斜杠\\课"), ("X-4", "xa1b")):
        await Course.create(
            tenant=tenant, code=code, title=title, format=CourseFormat.ONLINE, status=CourseStatus.PUBLISHED
        )
    skill = next(iter(company.skills.values()))
    filters = [
        course_catalog.CourseFilter(),
        *(
            course_catalog.CourseFilter(search=term)
            for term in ("s-00", "S-00 3", "%", "_", "\\", "1%", "a_b", "安全", "x-", "  ", "不存在")
        ),
        course_catalog.CourseFilter(scenario="安全"),
        course_catalog.CourseFilter(format=CourseFormat.ONLINE),
        course_catalog.CourseFilter(skill_id=skill.id),
        course_catalog.CourseFilter(statuses=(CourseStatus.DRAFT,)),
        course_catalog.CourseFilter(statuses=(CourseStatus.DRAFT, CourseStatus.PUBLISHED), search="s"),
        course_catalog.CourseFilter(eligible_only=True),
        course_catalog.CourseFilter(eligible_only=True, search="S", format=CourseFormat.OJT),
    ]
    roles = {"HR1": frozenset({Role.HR_ADMIN, Role.EMPLOYEE}), "LRN": frozenset({Role.EMPLOYEE})}
    for who, held in roles.items():
        viewer = Viewer(tenant.id, company.employees[who], held, uuid.uuid4(), "device-1")
        learner = await course_catalog.learner_profile(viewer)
        ineligible = await course_catalog.ineligible_course_ids(tenant.id, learner)
        for course_filter in filters:
            expected = [c.code for c in await _orm_list(viewer, course_filter, ineligible)]
            listed, after = [], None
            while True:
                page = await course_catalog.list_courses(viewer, 3, after, course_filter, 100, learner)
                listed += [c.code for c in page.items]
                assert await page.count_total() == len(expected), (who, course_filter)
                if not page.has_next_page:
                    break
                after = page.cursor_of(page.items[-1])
            assert listed == expected, (who, course_filter)
