"""Course authoring through the real HTTP app: creating and editing courses and modules (the code
standard, bounded decimals and counts), ordering modules, removing them (refused once learners have
records), eligibility by position, prerequisites without cycles, skills taught, the lifecycle
(allowed and refused changes), new versions that keep the old one's history, the feed phones see,
the audit rows, the role matrix and the old ARCHIVED status name."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from backend.errors import DomainError
from backend.ids import to_global_id
from backend.models import (
    AuditEntry,
    Course,
    CourseCompletion,
    CourseEligibilityRule,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    DataStandardSubject,
    EmployeeRole,
    ModuleKind,
    ModuleProgress,
    Question,
    QuestionKind,
    Quiz,
    QuizQuestion,
    Role,
)
from backend.services.catalog import course_authoring
from backend.services.people.standards import DEFAULTS, Standards
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PULL, pull_input

COURSE = "course { id code title status version hours credits previousVersion { code } nextVersion { code } }"
ERRORS = "errors { code field message }"

CREATE = f"mutation C($input: CreateCourseInput!) {{ createCourse(input: $input) {{ {COURSE} {ERRORS} }} }}"
UPDATE = f"mutation U($input: UpdateCourseInput!) {{ updateCourse(input: $input) {{ {COURSE} {ERRORS} }} }}"
MODULE = "module { id position title kind credits requiredCount requirement isRequired }"
COURSE_MODULES = "course { code modules { id position title kind } }"
ADD = f"mutation A($input: AddModuleInput!) {{ addModule(input: $input) {{ {MODULE} {COURSE_MODULES} {ERRORS} }} }}"
UPDATE_MODULE = (
    f"mutation M($input: UpdateModuleInput!) {{ updateModule(input: $input) {{ {MODULE} {COURSE_MODULES} {ERRORS} }} }}"
)
MOVE = f"mutation V($input: MoveModuleInput!) {{ moveModule(input: $input) {{ {MODULE} {COURSE_MODULES} {ERRORS} }} }}"
REORDER = (
    f"mutation R($input: ReorderModulesInput!) {{ reorderModules(input: $input) {{ {COURSE_MODULES} {ERRORS} }} }}"
)
REMOVE = (
    "mutation D($input: RemoveModuleInput!) { removeModule(input: $input) { removedModuleId "
    f"{COURSE_MODULES} {ERRORS} }} }}"
)
ELIGIBILITY = (
    "mutation E($input: SetCourseEligibilityInput!) { setCourseEligibility(input: $input) { course { "
    "eligibilityRules { position { code } positionFamily minGrade maxGrade orgUnit { code } } } "
    f"{ERRORS} }} }}"
)
PREREQUISITES = (
    "mutation P($input: SetCoursePrerequisitesInput!) { setCoursePrerequisites(input: $input) { "
    f"course {{ prerequisites {{ code }} }} {ERRORS} }} }}"
)
SKILLS = (
    "mutation S($input: SetCourseSkillsInput!) { setCourseSkills(input: $input) { "
    f"course {{ skills {{ skill {{ code }} targetLevel }} }} {ERRORS} }} }}"
)
PUBLISH = f"mutation B($input: CourseLifecycleInput!) {{ publishCourse(input: $input) {{ {COURSE} {ERRORS} }} }}"
RETIRE = f"mutation T($input: CourseLifecycleInput!) {{ retireCourse(input: $input) {{ {COURSE} {ERRORS} }} }}"
SET_STATUS = f"mutation X($input: SetCourseStatusInput!) {{ setCourseStatus(input: $input) {{ {COURSE} {ERRORS} }} }}"
VERSION = (
    f"mutation N($input: CreateCourseVersionInput!) {{ createCourseVersion(input: $input) {{ {COURSE} {ERRORS} }} }}"
)
ELIGIBLE = "query Q($id: ID!) { course(id: $id) { eligibility { eligible reasons { code message } } } }"


@pytest.fixture
async def company(password_hash) -> Company:
    return await make_company(password_hash)


def gid(kind: str, row: Any) -> str:
    return to_global_id(kind, row if isinstance(row, int) else row.id)


async def call(client, document: str, variables: dict[str, Any], token: str, language: str | None = None) -> dict:
    """The payload of the document's one mutation."""
    body = await gql(client, document, {"input": variables}, token=token, language=language)
    assert "errors" not in body, body
    return next(iter(body["data"].values()))


def codes(payload: dict) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def new_course(client, hr: str, code: str = "T-100-01", **extra: Any) -> dict:
    payload = await call(client, CREATE, {"code": code, "title": "新员工入职", "format": "ONLINE", **extra}, hr)
    assert payload["errors"] == [], payload
    return payload["course"]


async def add(client, hr: str, course_id: str, title: str, kind: str = "LESSON", **extra: Any) -> dict:
    payload = await call(client, ADD, {"courseId": course_id, "title": title, "kind": kind, **extra}, hr)
    assert payload["errors"] == [], payload
    return payload["module"]


async def audits(company: Company, action: str) -> list[AuditEntry]:
    return await AuditEntry.filter(tenant_id=company.tenant.id, action=action).order_by("id")


# --- the old status name -------------------------------------------------------------------------


async def test_archived_is_read_as_retired_in_filters_and_status_changes(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course_id = gid("Course", company.courses["S-003"])
    done = await call(client, SET_STATUS, {"courseId": course_id, "status": "ARCHIVED"}, hr)
    assert done["errors"] == [] and done["course"]["status"] == "RETIRED"
    listed = await gql(
        client,
        "query L($f: CourseFilter) { courses(first: 50, filter: $f) { edges { node { code status } } } }",
        {"f": {"statuses": ["ARCHIVED"]}},
        token=hr,
    )
    assert [e["node"] for e in listed["data"]["courses"]["edges"]] == [{"code": "S-003", "status": "RETIRED"}]


# --- roles and tenants ---------------------------------------------------------------------------


async def test_only_hr_admins_author_courses_and_other_companies_look_missing(client, company, password_hash):
    await EmployeeRole.create(tenant=company.tenant, employee=company.employees["OTH"], role=Role.INSTRUCTOR)
    course_id = gid("Course", company.courses["S-001"])
    module_id = gid("CourseModule", await CourseModule.get(course=company.courses["S-001"], position=1))
    attempts = [
        (CREATE, {"code": "T-200-01", "title": "x", "format": "ONLINE"}),
        (UPDATE, {"courseId": course_id, "title": "x"}),
        (ADD, {"courseId": course_id, "title": "x", "kind": "LESSON"}),
        (UPDATE_MODULE, {"moduleId": module_id, "title": "x"}),
        (MOVE, {"moduleId": module_id, "position": 2}),
        (REMOVE, {"moduleId": module_id}),
        (ELIGIBILITY, {"courseId": course_id, "rules": []}),
        (PREREQUISITES, {"courseId": course_id, "requiredCourseIds": []}),
        (SKILLS, {"courseId": course_id, "skills": []}),
        (PUBLISH, {"courseId": course_id}),
        (RETIRE, {"courseId": course_id}),
        (VERSION, {"courseId": course_id}),
    ]
    for employee_no in ("LRN", "MGR", "OTH"):
        token = await token_for(client, company.code, employee_no, device_id=f"d-{employee_no}")
        for document, variables in attempts:
            payload = await call(client, document, variables, token)
            assert codes(payload) == [("FORBIDDEN", None)], (employee_no, document, payload)
    elsewhere = await make_company(password_hash)
    other_hr = await token_for(client, elsewhere.code, "HR1", device_id="other-hr")
    for document, variables in attempts[1:]:
        payload = await call(client, document, variables, other_hr)
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"], (document, payload)
    assert await CourseModule.filter(course=company.courses["S-001"]).count() == 2
    assert not await Course.filter(tenant=company.tenant, code="T-200-01").exists()


# --- courses -------------------------------------------------------------------------------------


async def test_a_course_is_created_as_a_draft_and_audited(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course = await new_course(client, hr, hours="12.5", credits="3", summary="入职须知", scenario="入职")
    assert course | {"id": None} == {
        "id": None,
        "code": "T-100-01",
        "title": "新员工入职",
        "status": "DRAFT",
        "version": 1,
        "hours": "12.5",
        "credits": "3.0",
        "previousVersion": None,
        "nextVersion": None,
    }
    [entry] = await audits(company, "course.create")
    assert entry.details["before"] is None and entry.details["after"]["code"] == "T-100-01"
    assert entry.details["after"]["hours"] == "12.5" and entry.actor_id == company.employees["HR1"].id
    again = await call(client, CREATE, {"code": "T-100-01", "title": "重复", "format": "OJT"}, hr, language="en")
    assert codes(again) == [("ALREADY_EXISTS", "code")]
    assert again["errors"][0]["message"] == "course code T-100-01 already exists."


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "S-100"}, "code"),
        ({"code": "T-１00-01"}, "code"),
        ({"title": ""}, "title"),
        ({"title": "长" * 201}, "title"),
        ({"title": "a\u0000b"}, "title"),
        ({"scenario": "s" * 65}, "scenario"),
        ({"summary": "x" * 4001}, "summary"),
        ({"hours": "100000"}, "hours"),
        ({"hours": "-1"}, "hours"),
        ({"hours": "1.25"}, "hours"),
        ({"credits": "999999999999"}, "credits"),
    ],
)
async def test_course_fields_are_checked(client, company, change, field):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    given = {"code": "T-101-01", "title": "课程", "format": "ONLINE", **change}
    body = await gql(client, CREATE, {"input": given}, token=hr)
    payload = body["data"]["createCourse"] if body.get("data") else None
    if payload is not None and payload["errors"]:
        assert codes(payload) == [("VALIDATION", field)]
    else:  # refused by the String scalar while reading the request (U+0000)
        assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body
    assert not await Course.filter(tenant=company.tenant, title="课程").exists()


@pytest.mark.parametrize("value", ["1e30", "１２", "NaN", "1 2"])
async def test_decimals_are_read_strictly(client, company, value):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    body = await gql(
        client, CREATE, {"input": {"code": "T-102-01", "title": "x", "format": "ONLINE", "hours": value}}, hr
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION", body


async def test_the_code_standard_is_shown_in_both_languages(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    variables = {"code": "course-1", "title": "x", "format": "ONLINE"}
    zh = (await call(client, CREATE, variables, hr, language="zh-CN"))["errors"][0]["message"]
    en = (await call(client, CREATE, variables, hr, language="en"))["errors"][0]["message"]
    pattern = DEFAULTS[DataStandardSubject.COURSE_CODE].pattern
    assert pattern in zh and "T-001-01" in zh and "课程编码" in zh
    assert pattern in en and "T-001-01" in en and "course code" in en


async def test_updating_checks_only_a_new_code(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    legacy = gid("Course", company.courses["S-001"])  # a code from before the standard
    kept = await call(client, UPDATE, {"courseId": legacy, "title": "销售基础（修订）", "credits": "4.5"}, hr)
    assert kept["errors"] == [] and kept["course"]["title"] == "销售基础（修订）"
    [entry] = await audits(company, "course.update")
    assert entry.details["before"]["title"] == "销售基础" and entry.details["after"]["credits"] == "4.5"
    bad = await call(client, UPDATE, {"courseId": legacy, "code": "S-999"}, hr)
    assert codes(bad) == [("VALIDATION", "code")]
    taken = await call(client, UPDATE, {"courseId": legacy, "code": "T-100-01"}, hr)
    assert taken["errors"] == []
    other = await new_course(client, hr, "T-100-02")
    clash = await call(client, UPDATE, {"courseId": other["id"], "code": "T-100-01"}, hr)
    assert codes(clash) == [("ALREADY_EXISTS", "code")]
    same = await call(client, UPDATE, {"courseId": other["id"], "title": "新员工入职"}, hr)
    assert same["errors"] == [] and len(await audits(company, "course.update")) == 2  # nothing changed


async def test_two_admins_creating_one_code_make_one_course(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    variables = {"code": "T-300-01", "title": "并发", "format": "ONLINE"}
    results = await asyncio.gather(*(call(client, CREATE, variables, hr) for _ in range(3)))
    assert sorted(len(r["errors"]) for r in results) == [0, 1, 1]
    assert {e["code"] for r in results for e in r["errors"]} == {"ALREADY_EXISTS"}
    assert await Course.filter(tenant=company.tenant, code="T-300-01").count() == 1


def test_pure_checks_read_spreadsheet_values():
    standards = Standards(dict(DEFAULTS))
    fields = course_authoring.check_course_fields(
        standards, code=" T-001-01 ", title="课程", format="ojt", hours="2.0", credits=3, requires_approval="是"
    )
    assert (fields.code, fields.format, fields.hours, fields.credits, fields.requires_approval) == (
        "T-001-01",
        "OJT",
        Decimal("2.0"),
        Decimal("3.0"),
        True,
    )
    module = course_authoring.check_module_fields(title="练习", kind="practice", required_count="10", is_required="否")
    assert (module.kind, module.required_count, module.is_required) == (ModuleKind.PRACTICE, 10, False)
    for bad in ({"required_count": "１０"}, {"required_count": "0"}, {"kind": "VIDEO"}, {"is_required": "maybe"}):
        with pytest.raises(DomainError):
            course_authoring.check_module_fields(**{"title": "x", "kind": "LESSON", **bad})
    with pytest.raises(DomainError):
        course_authoring.check_course_fields(standards, code="T-001-01", title="x", format="ONLINE", hours="1e30")


# --- modules ------------------------------------------------------------------------------------


async def test_modules_are_added_moved_and_reordered_with_unique_positions(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course = await new_course(client, hr)
    a = await add(client, hr, course["id"], "A 入职须知")
    b = await add(client, hr, course["id"], "B 实操", "PRACTICE", requiredCount=10, requirement="完成 10 次")
    c = await add(client, hr, course["id"], "C 测验", "QUIZ", credits="1.5", isRequired=False)
    first = await call(client, ADD, {"courseId": course["id"], "title": "0 欢迎", "kind": "LESSON", "position": 1}, hr)
    assert [m["title"][0] for m in first["course"]["modules"]] == ["0", "A", "B", "C"]
    assert [m["position"] for m in first["course"]["modules"]] == [1, 2, 3, 4]
    zero = first["module"]
    assert (c["credits"], c["isRequired"], b["requiredCount"]) == ("1.5", False, 10)

    moved = await call(client, MOVE, {"moduleId": c["id"], "position": 1}, hr)
    assert [m["title"][0] for m in moved["course"]["modules"]] == ["C", "0", "A", "B"]
    order = [b["id"], a["id"], zero["id"], c["id"]]
    done = await call(client, REORDER, {"courseId": course["id"], "moduleIds": order}, hr)
    assert [m["id"] for m in done["course"]["modules"]] == order
    assert [m["position"] for m in done["course"]["modules"]] == [1, 2, 3, 4]
    [_, reorder] = await audits(company, "course.reorder_modules")
    by_title = {m.title[0]: m.id for m in await CourseModule.filter(tenant=company.tenant, course__code="T-100-01")}
    assert reorder.details == {
        "before": {"moduleIds": [by_title[t] for t in "C0AB"]},
        "after": {"moduleIds": [by_title[t] for t in "BA0C"]},
    }

    for bad, field in (
        ({"courseId": course["id"], "moduleIds": order[:3]}, "moduleIds"),
        ({"courseId": course["id"], "moduleIds": [*order[:3], order[0]]}, "moduleIds"),
        ({"courseId": course["id"], "moduleIds": [*order[:3], gid("CourseModule", 999999)]}, "moduleIds"),
    ):
        assert codes(await call(client, REORDER, bad, hr)) == [("VALIDATION", field)]
    for position in (0, 5):
        assert codes(await call(client, MOVE, {"moduleId": a["id"], "position": position}, hr)) == [
            ("VALIDATION", "position")
        ]
    late = await call(client, ADD, {"courseId": course["id"], "title": "x", "kind": "LESSON", "position": 6}, hr)
    assert codes(late) == [("VALIDATION", "position")]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"requiredCount": 0}, "requiredCount"),
        ({"requiredCount": 1001}, "requiredCount"),
        ({"credits": "-0.5"}, "credits"),
        ({"requirement": "要" * 301}, "requirement"),
        ({"title": " "}, "title"),
    ],
)
async def test_module_fields_are_checked(client, company, change, field):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course_id = gid("Course", company.courses["S-007"])
    payload = await call(client, ADD, {"courseId": course_id, "title": "新模块", "kind": "LESSON", **change}, hr)
    assert codes(payload) == [("VALIDATION", field)]
    assert await CourseModule.filter(course=company.courses["S-007"]).count() == 2


async def test_modules_with_learners_records_keep_their_shape(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course = company.courses["S-001"]
    lesson = await CourseModule.get(course=course, position=1)
    await ModuleProgress.create(
        tenant=company.tenant, employee=company.employees["LRN"], module=lesson, course=course, completed_count=1
    )
    removed = await call(client, REMOVE, {"moduleId": gid("CourseModule", lesson)}, hr, language="en")
    assert codes(removed) == [("STILL_IN_USE", "moduleId")]
    assert "new version" in removed["errors"][0]["message"]
    kind = await call(client, UPDATE_MODULE, {"moduleId": gid("CourseModule", lesson), "kind": "QUIZ"}, hr)
    assert codes(kind) == [("STILL_IN_USE", "kind")]
    words = await call(
        client, UPDATE_MODULE, {"moduleId": gid("CourseModule", lesson), "title": "学习（新）", "requiredCount": 2}, hr
    )
    assert words["errors"] == [] and words["module"]["requiredCount"] == 2
    [entry] = await audits(company, "module.update")
    assert entry.details["before"]["requiredCount"] == 1 and entry.details["after"]["title"] == "学习（新）"
    assert await CourseModule.filter(course=course).count() == 2

    # On a draft nobody has touched, removal is allowed and the rest close up.
    draft = company.courses["S-007"]
    first = await CourseModule.get(course=draft, position=1)
    gone = await call(client, REMOVE, {"moduleId": gid("CourseModule", first)}, hr)
    assert gone["errors"] == [] and gone["removedModuleId"] == gid("CourseModule", first)
    assert [(m["position"], m["title"]) for m in gone["course"]["modules"]] == [(1, "练习")]
    [entry] = await audits(company, "module.delete")
    assert entry.details["after"] is None and entry.details["before"]["title"] == "学习"


# --- eligibility, prerequisites, skills ----------------------------------------------------------


async def test_eligibility_by_position(client, company, password_hash):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course_id = gid("Course", company.courses["A-002"])
    sales_1 = await company.employees["LRN"].position
    rules = [{"positionId": gid("Position", sales_1)}, {"positionFamily": "管理族", "minGrade": 2, "maxGrade": 3}]
    done = await call(client, ELIGIBILITY, {"courseId": course_id, "rules": rules}, hr)
    assert done["errors"] == []
    assert done["course"]["eligibilityRules"] == [
        {"position": {"code": "SAL-1"}, "positionFamily": None, "minGrade": None, "maxGrade": None, "orgUnit": None},
        {"position": None, "positionFamily": "管理族", "minGrade": 2, "maxGrade": 3, "orgUnit": None},
    ]
    learner = await token_for(client, company.code, "LRN")
    assert (await gql(client, ELIGIBLE, {"id": course_id}, learner))["data"]["course"]["eligibility"] == {
        "eligible": True,
        "reasons": [],
    }
    other = await token_for(client, company.code, "OTH", device_id="oth")
    verdict = (await gql(client, ELIGIBLE, {"id": course_id}, other, language="en"))["data"]["course"]["eligibility"]
    assert verdict["eligible"] is False and verdict["reasons"][0]["code"] == "POSITION"
    assert "销售族-客户经理序列-初级" in verdict["reasons"][0]["message"]
    [entry] = await audits(company, "course.eligibility")
    assert entry.details["before"] == {"rules": []} and entry.details["after"]["rules"][0]["positionId"] == sales_1.id

    elsewhere = await make_company(password_hash)
    foreign = await elsewhere.employees["LRN"].position
    refusals = [
        ([{"positionId": gid("Position", foreign)}], "NOT_FOUND", "rules.0.positionId"),
        ([{}], "VALIDATION", "rules.0"),
        ([{"minGrade": 3, "maxGrade": 2}], "VALIDATION", "rules.0.maxGrade"),
        ([{"minGrade": 21}], "VALIDATION", "rules.0.minGrade"),
        ([{"orgUnitId": gid("Skill", 1)}], "VALIDATION", "rules.0.orgUnitId"),
    ]
    for given, code, field in refusals:
        assert codes(await call(client, ELIGIBILITY, {"courseId": course_id, "rules": given}, hr)) == [(code, field)]
    assert await CourseEligibilityRule.filter(course=company.courses["A-002"]).count() == 2
    cleared = await call(client, ELIGIBILITY, {"courseId": course_id, "rules": []}, hr)
    assert cleared["errors"] == [] and cleared["course"]["eligibilityRules"] == []


async def test_prerequisites_refuse_self_and_cycles_of_any_length(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    a, b, c = (gid("Course", company.courses[code]) for code in ("A-001", "A-002", "S-005"))
    assert (await call(client, PREREQUISITES, {"courseId": a, "requiredCourseIds": [b]}, hr))["errors"] == []
    assert (await call(client, PREREQUISITES, {"courseId": b, "requiredCourseIds": [c]}, hr))["errors"] == []
    for course, required in ((c, [a]), (b, [a]), (a, [a])):
        payload = await call(client, PREREQUISITES, {"courseId": course, "requiredCourseIds": required}, hr)
        assert codes(payload) == [("WOULD_CREATE_CYCLE", "requiredCourseIds")]
    en = await call(client, PREREQUISITES, {"courseId": c, "requiredCourseIds": [a]}, hr, language="en")
    assert en["errors"][0]["message"] == "This change would create a cycle (course prerequisites)."
    dupes = await call(client, PREREQUISITES, {"courseId": c, "requiredCourseIds": [a, a]}, hr)
    assert codes(dupes) == [("VALIDATION", "requiredCourseIds")]
    # Replacing a's needs with none frees c to need a.
    assert (await call(client, PREREQUISITES, {"courseId": a, "requiredCourseIds": []}, hr))["errors"] == []
    ok = await call(client, PREREQUISITES, {"courseId": c, "requiredCourseIds": [a]}, hr)
    assert ok["errors"] == [] and ok["course"]["prerequisites"] == [{"code": "A-001"}]
    actions = [e.details for e in await audits(company, "course.prerequisites")]
    assert actions[-1] == {
        "before": {"requiredCourseIds": []},
        "after": {"requiredCourseIds": [company.courses["A-001"].id]},
    }


async def test_skills_taught(client, company, password_hash):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course_id = gid("Course", company.courses["A-002"])
    safe, neg = (gid("Skill", company.skills[code]) for code in ("SAFE", "NEG"))
    done = await call(
        client,
        SKILLS,
        {"courseId": course_id, "skills": [{"skillId": safe, "targetLevel": 80}, {"skillId": neg, "targetLevel": 0}]},
        hr,
    )
    assert done["errors"] == []
    assert done["course"]["skills"] == [
        {"skill": {"code": "NEG"}, "targetLevel": 0},
        {"skill": {"code": "SAFE"}, "targetLevel": 80},
    ]
    elsewhere = await make_company(password_hash)
    for skills, code, field in (
        ([{"skillId": safe, "targetLevel": 101}], "VALIDATION", "skills.0.targetLevel"),
        ([{"skillId": safe, "targetLevel": 1}, {"skillId": safe, "targetLevel": 2}], "VALIDATION", "skills"),
        ([{"skillId": gid("Skill", elsewhere.skills["SAFE"]), "targetLevel": 5}], "NOT_FOUND", "skills.0.skillId"),
    ):
        assert codes(await call(client, SKILLS, {"courseId": course_id, "skills": skills}, hr)) == [(code, field)]
    assert await CourseSkill.filter(course=company.courses["A-002"]).count() == 2
    [entry] = await audits(company, "course.skills")
    assert entry.details["before"] == {"skills": []}


# --- lifecycle ----------------------------------------------------------------------------------


async def test_lifecycle_transitions(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course = await new_course(client, hr)
    empty = await call(client, PUBLISH, {"courseId": course["id"]}, hr)
    assert codes(empty) == [("VALIDATION", "courseId")]
    await add(client, hr, course["id"], "选修", isRequired=False)
    optional_only = await call(client, PUBLISH, {"courseId": course["id"]}, hr, language="en")
    assert codes(optional_only) == [("VALIDATION", "courseId")] and "required" in optional_only["errors"][0]["message"]
    refused = await call(client, RETIRE, {"courseId": course["id"]}, hr, language="en")
    assert codes(refused) == [("INVALID_STATUS_CHANGE", "status")]
    assert refused["errors"][0]["message"] == "Cannot change from status DRAFT to RETIRED."
    await add(client, hr, course["id"], "必修")
    published = await call(client, PUBLISH, {"courseId": course["id"]}, hr)
    assert published["errors"] == [] and published["course"]["status"] == "PUBLISHED"
    again = await call(client, PUBLISH, {"courseId": course["id"]}, hr)
    assert again["errors"] == [] and len(await audits(company, "course.publish")) == 1
    # Back to DRAFT while nobody has started it; then published again.
    back = await call(client, SET_STATUS, {"courseId": course["id"], "status": "DRAFT"}, hr)
    assert back["errors"] == [] and back["course"]["status"] == "DRAFT"
    assert (await call(client, PUBLISH, {"courseId": course["id"]}, hr))["errors"] == []
    retired = await call(client, RETIRE, {"courseId": course["id"]}, hr)
    assert retired["course"]["status"] == "RETIRED"
    for document, variables in (
        (PUBLISH, {"courseId": course["id"]}),
        (SET_STATUS, {"courseId": course["id"], "status": "DRAFT"}),
        (SET_STATUS, {"courseId": course["id"], "status": "PUBLISHED"}),
    ):
        assert codes(await call(client, document, variables, hr)) == [("INVALID_STATUS_CHANGE", "status")]
    [entry] = await audits(company, "course.retire")
    assert (entry.details["before"]["status"], entry.details["after"]["status"]) == ("PUBLISHED", "RETIRED")
    # A course learners have started does not go back to DRAFT.
    started = await call(
        client, SET_STATUS, {"courseId": gid("Course", company.courses["S-001"]), "status": "DRAFT"}, hr
    )
    assert codes(started) == [("STILL_IN_USE", "status")]
    assert (await Course.get(id=company.courses["S-001"].id)).status == "PUBLISHED"


async def test_the_feed_shows_published_courses_to_learners_and_drafts_to_nobody_else(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    learner = await token_for(client, company.code, "LRN")
    cursor = (await gql(client, PULL, pull_input(None, 1000), token=learner))["data"]["syncPull"]["cursor"]
    course = await new_course(client, hr)
    module = await add(client, hr, course["id"], "第一课")

    async def seen(cursor: str | None, token: str, device: str = "device-1") -> dict[tuple[str, str], str]:
        page = (await gql(client, PULL, pull_input(cursor, 1000, device), token=token))["data"]["syncPull"]
        return {(c["entity"], c["id"]): c["op"] for c in page["changes"]}

    draft_view = await seen(cursor, learner)
    assert draft_view.get(("COURSE", course["id"])) != "UPSERT"
    assert draft_view.get(("COURSE_MODULE", module["id"])) != "UPSERT"
    staff = await seen(None, hr, "hr")
    assert staff[("COURSE", course["id"])] == "UPSERT"  # HR still sees drafts
    await call(client, PUBLISH, {"courseId": course["id"]}, hr)
    after = await seen(cursor, learner)
    assert after[("COURSE", course["id"])] == "UPSERT" and after[("COURSE_MODULE", module["id"])] == "UPSERT"


# --- versions ----------------------------------------------------------------------------------


async def test_a_new_version_copies_the_course_and_keeps_the_old_ones_history(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    tenant, learner = company.tenant, company.employees["LRN"]
    old = await new_course(client, hr, hours="2", credits="5", requiresApproval=True)
    old_id = (await Course.get(tenant=tenant, code="T-100-01")).id
    await add(client, hr, old["id"], "学习")
    quiz_module = await add(client, hr, old["id"], "测验", "QUIZ")
    practice = await add(client, hr, old["id"], "练习", "PRACTICE", requiredCount=3)
    module_pk = (await CourseModule.get(course_id=old_id, title="练习")).id
    await CourseModule.filter(id=module_pk).update(rubric_id=company.rubrics["ROLEPLAY"].id, pass_score=70)
    question = await Question.create(
        tenant=tenant, course_id=old_id, kind=QuestionKind.TRUE_FALSE, prompt="安全第一？", answer_key=True
    )
    quiz = await Quiz.create(
        tenant=tenant, module_id=(await CourseModule.get(course_id=old_id, title="测验")).id, title="小测"
    )
    await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=1)
    await call(client, ELIGIBILITY, {"courseId": old["id"], "rules": [{"positionFamily": "销售族"}]}, hr)
    await call(
        client,
        PREREQUISITES,
        {"courseId": old["id"], "requiredCourseIds": [gid("Course", company.courses["S-001"])]},
        hr,
    )
    await call(
        client,
        SKILLS,
        {"courseId": old["id"], "skills": [{"skillId": gid("Skill", company.skills["NEG"]), "targetLevel": 50}]},
        hr,
    )
    draft_version = await call(client, VERSION, {"courseId": old["id"]}, hr)
    assert codes(draft_version) == [("VALIDATION", "courseId")]  # a draft is edited in place
    await call(client, PUBLISH, {"courseId": old["id"]}, hr)
    lesson_pk = (await CourseModule.get(course_id=old_id, title="学习")).id
    await ModuleProgress.create(
        tenant=tenant, employee=learner, module_id=lesson_pk, course_id=old_id, completed_count=1
    )
    await CourseCompletion.create(tenant=tenant, employee=learner, course_id=old_id, completed_at=datetime.now(UTC))

    made = await call(client, VERSION, {"courseId": old["id"]}, hr)
    assert made["errors"] == []
    new = made["course"]
    assert (new["code"], new["version"], new["status"], new["previousVersion"]) == (
        "T-100-02",
        2,
        "DRAFT",
        {"code": "T-100-01"},
    )
    new_pk = (await Course.get(tenant=tenant, code="T-100-02")).id
    copied = await CourseModule.filter(course_id=new_pk).order_by("position")
    assert [(m.title, m.kind, m.required_count) for m in copied] == [
        ("学习", "LESSON", 1),
        ("测验", "QUIZ", 1),
        ("练习", "PRACTICE", 3),
    ]
    assert (copied[2].rubric_id, copied[2].pass_score) == (company.rubrics["ROLEPLAY"].id, 70)
    new_quiz = await Quiz.get(module_id=copied[1].id)
    [link] = await QuizQuestion.filter(quiz=new_quiz).prefetch_related("question")
    assert new_quiz.title == "小测" and link.question.course_id == new_pk and link.question.prompt == "安全第一？"
    assert await CourseEligibilityRule.filter(course_id=new_pk, position_family="销售族").exists()
    assert await CoursePrerequisite.filter(course_id=new_pk, required_course=company.courses["S-001"]).exists()
    assert await CourseSkill.filter(course_id=new_pk, skill=company.skills["NEG"], target_level=50).exists()
    assert quiz_module and practice

    twice = await call(client, VERSION, {"courseId": old["id"]}, hr)
    assert codes(twice) == [("ALREADY_EXISTS", "courseId")]

    published = await call(client, PUBLISH, {"courseId": new["id"]}, hr)
    assert published["errors"] == [] and published["course"]["status"] == "PUBLISHED"
    retired = await Course.get(id=old_id)
    assert retired.status == "RETIRED"
    assert await ModuleProgress.filter(course_id=old_id, employee=learner).exists()
    assert await CourseCompletion.filter(course_id=old_id, employee=learner).exists()
    shown = await gql(
        client, "query Q($id: ID!) { course(id: $id) { status nextVersion { code } } }", {"id": old["id"]}, hr
    )
    assert shown["data"]["course"] == {"status": "RETIRED", "nextVersion": {"code": "T-100-02"}}
    [entry] = await audits(company, "course.new_version")
    assert entry.details["before"] is None and entry.details["after"]["previousVersionId"] == old_id


async def test_a_prerequisite_is_met_by_any_version_of_the_required_course(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    learner = await token_for(client, company.code, "LRN")
    tenant = company.tenant
    base = await Course.create(
        tenant=tenant, code="T-500-01", title="基础", format="ONLINE", status="PUBLISHED", version=1
    )
    await CourseModule.create(tenant=tenant, course=base, position=1, title="学习", kind=ModuleKind.LESSON)
    await CourseCompletion.create(
        tenant=tenant, employee=company.employees["LRN"], course=base, completed_at=datetime.now(UTC)
    )
    made = await call(client, VERSION, {"courseId": gid("Course", base)}, hr)
    assert made["errors"] == [] and made["course"]["code"] == "T-500-02"
    # A course that needs the new version: the learner completed the old one, which counts.
    target = company.courses["A-002"]
    await call(
        client, PREREQUISITES, {"courseId": gid("Course", target), "requiredCourseIds": [made["course"]["id"]]}, hr
    )
    verdict = (await gql(client, ELIGIBLE, {"id": gid("Course", target)}, learner))["data"]["course"]["eligibility"]
    assert verdict == {"eligible": True, "reasons": []}
    other = await token_for(client, company.code, "OTH", device_id="oth")
    theirs = (await gql(client, ELIGIBLE, {"id": gid("Course", target)}, other))["data"]["course"]["eligibility"]
    assert [r["code"] for r in theirs["reasons"]] == ["PREREQUISITE_MISSING"]
    # A course may not need a version of itself, and a cycle through a version is still a cycle.
    own = await call(
        client, PREREQUISITES, {"courseId": made["course"]["id"], "requiredCourseIds": [gid("Course", base)]}, hr
    )
    assert codes(own) == [("WOULD_CREATE_CYCLE", "requiredCourseIds")]
    loop = await call(
        client, PREREQUISITES, {"courseId": gid("Course", base), "requiredCourseIds": [gid("Course", target)]}, hr
    )
    assert codes(loop) == [("WOULD_CREATE_CYCLE", "requiredCourseIds")]


async def test_a_version_code_is_asked_for_when_none_follows(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    legacy = gid("Course", company.courses["S-001"])  # S-002 exists and S-00x is not the standard anyway
    asked = await call(client, VERSION, {"courseId": legacy}, hr, language="en")
    assert codes(asked) == [("VALIDATION", "code")] and "S-001" in asked["errors"][0]["message"]
    bad = await call(client, VERSION, {"courseId": legacy, "code": "S-001-2"}, hr)
    assert codes(bad) == [("VALIDATION", "code")]
    taken = await new_course(client, hr, "T-600-01")
    clash = await call(client, VERSION, {"courseId": legacy, "code": taken["code"]}, hr)
    assert codes(clash) == [("ALREADY_EXISTS", "code")]
    given = await call(client, VERSION, {"courseId": legacy, "code": "T-001-02"}, hr)
    assert given["errors"] == [] and given["course"]["version"] == 2
    assert await Course.filter(tenant=company.tenant, previous_version=company.courses["S-001"]).count() == 1


# --- second reading: holes found in review -------------------------------------------------------


async def test_an_old_version_is_not_published_again_beside_its_replacement(client, company):
    """A → DRAFT (nobody started it), its new version B published: A may not come back as a second
    published version of the same course."""
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    old = await new_course(client, hr)
    await add(client, hr, old["id"], "学习")
    assert (await call(client, PUBLISH, {"courseId": old["id"]}, hr))["errors"] == []
    new = (await call(client, VERSION, {"courseId": old["id"]}, hr))["course"]
    assert (await call(client, SET_STATUS, {"courseId": old["id"], "status": "DRAFT"}, hr))["errors"] == []
    assert (await call(client, PUBLISH, {"courseId": new["id"]}, hr))["errors"] == []
    again = await call(client, PUBLISH, {"courseId": old["id"]}, hr, language="en")
    assert codes(again) == [("VALIDATION", "courseId")] and "T-100-02" in again["errors"][0]["message"]
    statuses = dict(await Course.filter(tenant=company.tenant, code__startswith="T-100").values_list("code", "status"))
    assert statuses == {"T-100-01": "DRAFT", "T-100-02": "PUBLISHED"}


async def test_a_published_course_keeps_a_required_module(client, company):
    """Publishing needs a required module; editing afterwards may not take the last one away (a
    course with no required module would count as completed at a learner's first lesson)."""
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    first, second = await CourseModule.filter(course=company.courses["A-002"]).order_by("position")
    optional = await call(client, UPDATE_MODULE, {"moduleId": gid("CourseModule", first), "isRequired": False}, hr)
    assert optional["errors"] == []
    last = await call(client, UPDATE_MODULE, {"moduleId": gid("CourseModule", second), "isRequired": False}, hr)
    assert codes(last) == [("VALIDATION", "isRequired")]
    removed = await call(client, REMOVE, {"moduleId": gid("CourseModule", second)}, hr)
    assert codes(removed) == [("VALIDATION", "moduleId")]
    assert (await call(client, REMOVE, {"moduleId": gid("CourseModule", first)}, hr))["errors"] == []
    assert await CourseModule.filter(course=company.courses["A-002"], is_required=True).count() == 1
    # A draft is still being written: anything goes until it is published.
    draft = await CourseModule.filter(course=company.courses["S-007"]).order_by("position")
    for module in draft:
        assert (await call(client, REMOVE, {"moduleId": gid("CourseModule", module)}, hr))["errors"] == []


async def test_a_retired_course_keeps_its_modules_as_they_were(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course = company.courses["A-002"]
    course_id = gid("Course", course)
    assert (await call(client, RETIRE, {"courseId": course_id}, hr))["errors"] == []
    first, second = await CourseModule.filter(course=course).order_by("position")
    attempts = [
        (ADD, {"courseId": course_id, "title": "新", "kind": "LESSON"}, "courseId"),
        (UPDATE_MODULE, {"moduleId": gid("CourseModule", first), "requiredCount": 3}, "moduleId"),
        (MOVE, {"moduleId": gid("CourseModule", first), "position": 2}, "moduleId"),
        (
            REORDER,
            {"courseId": course_id, "moduleIds": [gid("CourseModule", second), gid("CourseModule", first)]},
            "courseId",
        ),
        (REMOVE, {"moduleId": gid("CourseModule", first)}, "moduleId"),
    ]
    for document, variables, field in attempts:
        payload = await call(client, document, variables, hr, language="en")
        assert codes(payload) == [("VALIDATION", field)], (document, payload)
        assert "new version" in payload["errors"][0]["message"]
    modules = await CourseModule.filter(course=course).order_by("position")
    assert [(m.id, m.required_count) for m in modules] == [(first.id, 1), (second.id, 10)]
    # Its words may still be corrected.
    assert (await call(client, UPDATE, {"courseId": course_id, "title": "消防演练（旧）"}, hr))["errors"] == []


async def test_the_same_eligibility_rule_twice_is_refused(client, company):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course_id = gid("Course", company.courses["A-002"])
    rules = [{"positionFamily": "销售族"}, {"positionFamily": "销售族"}]
    assert codes(await call(client, ELIGIBILITY, {"courseId": course_id, "rules": rules}, hr)) == [
        ("VALIDATION", "rules")
    ]
    assert not await CourseEligibilityRule.filter(course=company.courses["A-002"]).exists()


async def test_other_companies_ids_are_missing_in_every_list(client, company, password_hash):
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    course_id = gid("Course", company.courses["S-007"])
    elsewhere = await make_company(password_hash)
    unit = await elsewhere.employees["LRN"].org_unit
    foreign_module = await CourseModule.filter(course=elsewhere.courses["S-007"]).first()
    own = await CourseModule.filter(course=company.courses["S-007"]).order_by("position")
    for document, variables, expected in (
        (
            PREREQUISITES,
            {"requiredCourseIds": [gid("Course", elsewhere.courses["S-001"])]},
            ("NOT_FOUND", "requiredCourseIds"),
        ),
        (ELIGIBILITY, {"rules": [{"orgUnitId": gid("OrgUnit", unit)}]}, ("NOT_FOUND", "rules.0.orgUnitId")),
        (
            REORDER,
            {"moduleIds": [gid("CourseModule", own[1]), gid("CourseModule", foreign_module)]},
            ("VALIDATION", "moduleIds"),
        ),
    ):
        assert codes(await call(client, document, {"courseId": course_id, **variables}, hr)) == [expected]
    assert not await CoursePrerequisite.filter(course=company.courses["S-007"]).exists()
    assert [m.position for m in await CourseModule.filter(course=company.courses["S-007"]).order_by("id")] == [1, 2]


async def test_completing_a_new_version_hands_out_quizzes_of_courses_needing_the_old_one(client, company):
    """A QUIZ feed row withheld for a missing prerequisite comes to the learner once they complete
    any version of the required course (backend/services/catalog/progress.py)."""
    from tests.test_quiz_gating_and_review import course_with_lesson, lesson_record, push
    from tests.test_quizzes import latest, make_quiz, pull_all

    tenant = company.tenant
    old, _ = await course_with_lesson(company, "T-700-01")
    new = await Course.create(
        tenant=tenant,
        code="T-700-02",
        title="新版",
        format="ONLINE",
        status="PUBLISHED",
        version=2,
        previous_version=old,
    )
    lesson = await CourseModule.create(tenant=tenant, course=new, position=1, title="学习", kind=ModuleKind.LESSON)
    await course_with_lesson(company, "T-701-01", requires=old)
    module, _, _ = await make_quiz(company, course="T-701-01")
    from backend.services.records import registry

    await registry.backfill(tenant.id)
    learner = await token_for(client, company.code, "OTH", device_id="oth-phone")
    quiz_id = gid("CourseModule", module)
    changes, _ = await pull_all(client, learner, device_id="oth-phone")
    assert latest(changes, "QUIZ", quiz_id)["op"] == "DELETE"
    page = await gql(client, PULL, pull_input(None, 1000, "oth-phone"), token=learner)
    cursor = page["data"]["syncPull"]["cursor"]
    [result] = await push(client, learner, [lesson_record(lesson, 1)], device_id="oth-phone")
    assert (result["status"], result["code"]) == ("ACCEPTED", None)
    assert await CourseCompletion.filter(course=new, employee=company.employees["OTH"]).exists()
    page = await gql(client, PULL, pull_input(cursor, 1000, "oth-phone"), token=learner)
    row = latest(page["data"]["syncPull"]["changes"], "QUIZ", quiz_id)
    assert row is not None and row["op"] == "UPSERT"


async def test_two_admins_at_once_make_one_version_and_close_no_cycle(client, company):
    """Run on PostgreSQL too: the course lock and the company lock make concurrent writers take turns."""
    hr = await token_for(client, company.code, "HR1", device_id="hr")
    other = await token_for(client, company.code, "HR1", device_id="hr2")
    course = await new_course(client, hr)
    await add(client, hr, course["id"], "学习")
    await call(client, PUBLISH, {"courseId": course["id"]}, hr)
    made = await asyncio.gather(*(call(client, VERSION, {"courseId": course["id"]}, t) for t in (hr, other, hr)))
    assert sorted(codes(r) for r in made) == [[], [("ALREADY_EXISTS", "courseId")], [("ALREADY_EXISTS", "courseId")]]
    new_id = next(r["course"]["id"] for r in made if r["course"])
    published = await asyncio.gather(*(call(client, PUBLISH, {"courseId": new_id}, t) for t in (hr, other)))
    assert [r["errors"] for r in published] == [[], []]
    statuses = dict(await Course.filter(tenant=company.tenant, code__startswith="T-100").values_list("code", "status"))
    assert statuses == {"T-100-01": "RETIRED", "T-100-02": "PUBLISHED"}
    a, b = gid("Course", company.courses["A-001"]), gid("Course", company.courses["A-002"])
    both = await asyncio.gather(
        call(client, PREREQUISITES, {"courseId": a, "requiredCourseIds": [b]}, hr),
        call(client, PREREQUISITES, {"courseId": b, "requiredCourseIds": [a]}, other),
    )
    assert sorted(codes(r) for r in both) == [[], [("WOULD_CREATE_CYCLE", "requiredCourseIds")]]
    assert (
        await CoursePrerequisite.filter(course_id__in=[company.courses[c].id for c in ("A-001", "A-002")]).count() == 1
    )
