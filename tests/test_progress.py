"""Progress derived from records, as `me`, `node(Employee)` and `course` show it."""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import CourseModule, ModuleKind
from tests.factories import make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, lesson, push_input

LEARNING = """
query Learning($id: ID!) {
  node(id: $id) { ... on Employee { learning { course { code } progress {
    completed completedModules totalModules modules { completedCount requiredCount completed } } } } }
}
"""


async def test_learning_shows_records_as_progress_to_the_learner_and_their_manager(client, password_hash):
    company = await make_company(password_hash)
    learner = await token_for(client, company.code, "LRN")
    lesson_module = await CourseModule.filter(course=company.courses["S-002"], kind=ModuleKind.LESSON).first()
    await gql(client, PUSH, push_input([lesson(lesson_module.id, 1), lesson(lesson_module.id, 2)]), token=learner)
    me = await gql(
        client,
        "{ me { learning { course { code } progress { completedModules totalModules completed modules { completedCount } } } } }",
        token=learner,
    )
    learning = me["data"]["me"]["learning"]
    # S-002 (in progress, most recent) first, then S-001 (completed earlier, from the seed data).
    assert [entry["course"]["code"] for entry in learning] == ["S-002", "S-001"]
    assert learning[0]["progress"] == {
        "completedModules": 1,
        "totalModules": 2,
        "completed": False,
        "modules": [{"completedCount": 2}, {"completedCount": 0}],
    }
    assert learning[1]["progress"]["completed"] is True
    manager = await token_for(client, company.code, "MGR", device_id="mgr-phone")
    seen = await gql(client, LEARNING, {"id": to_global_id("Employee", company.employees["LRN"].id)}, token=manager)
    assert [e["course"]["code"] for e in seen["data"]["node"]["learning"]] == ["S-002", "S-001"]
    stranger = await token_for(client, company.code, "OTH", device_id="oth-phone")
    hidden = await gql(client, LEARNING, {"id": to_global_id("Employee", company.employees["LRN"].id)}, token=stranger)
    assert hidden["data"]["node"] is None


async def test_course_progress_is_the_viewers_own(client, password_hash):
    company = await make_company(password_hash)
    learner = await token_for(client, company.code, "LRN")
    module = await CourseModule.filter(course=company.courses["A-001"], kind=ModuleKind.LESSON).first()
    await gql(client, PUSH, push_input([lesson(module.id, 1)]), token=learner)
    query = "query C($id: ID!) { course(id: $id) { progress { completedModules modules { completedCount } } } }"
    course_id = to_global_id("Course", company.courses["A-001"].id)
    mine = await gql(client, query, {"id": course_id}, token=learner)
    assert mine["data"]["course"]["progress"] == {
        "completedModules": 1,
        "modules": [{"completedCount": 1}, {"completedCount": 0}],
    }
    other = await token_for(client, company.code, "OTH", device_id="oth-phone")
    theirs = await gql(client, query, {"id": course_id}, token=other)
    assert theirs["data"]["course"]["progress"]["completedModules"] == 0


async def test_complete_lesson_with_a_malformed_client_id_is_a_validation_error(client, password_hash):
    company = await make_company(password_hash)
    learner = await token_for(client, company.code, "LRN")
    module = await CourseModule.filter(course=company.courses["A-001"], kind=ModuleKind.LESSON).first()
    body = await gql(
        client,
        "mutation C($input: CompleteLessonInput!) { completeLesson(input: $input) { result { status } errors { code field } } }",
        {"input": {"clientId": "not-a-uuid", "moduleId": to_global_id("CourseModule", module.id), "secondsSpent": 5}},
        token=learner,
    )
    assert body["data"]["completeLesson"] == {"result": None, "errors": [{"code": "VALIDATION", "field": "clientId"}]}


async def test_optional_modules_do_not_hold_back_a_course(client, password_hash):
    """A course completes when its required modules are met: an optional practice does not count."""
    company = await make_company(password_hash)
    learner = await token_for(client, company.code, "LRN")
    course = company.courses["A-002"]
    await CourseModule.filter(course=course, kind=ModuleKind.PRACTICE).update(is_required=False)
    lesson_module = await CourseModule.filter(course=course, kind=ModuleKind.LESSON).first()
    query = """query C($id: ID!) { course(id: $id) { modules { isRequired } progress {
      completed completedModules requiredModules totalModules modules { required completed } } } }"""
    course_id = to_global_id("Course", course.id)
    before = await gql(client, query, {"id": course_id}, token=learner)
    assert [m["isRequired"] for m in before["data"]["course"]["modules"]] == [True, False]
    assert before["data"]["course"]["progress"]["completed"] is False
    await gql(client, PUSH, push_input([lesson(lesson_module.id, 1)]), token=learner)
    after = (await gql(client, query, {"id": course_id}, token=learner))["data"]["course"]["progress"]
    assert after == {
        "completed": True,
        "completedModules": 1,
        "requiredModules": 1,
        "totalModules": 2,
        "modules": [{"required": True, "completed": True}, {"required": False, "completed": False}],
    }


async def test_a_required_module_left_undone_keeps_the_course_open(client, password_hash):
    company = await make_company(password_hash)
    learner = await token_for(client, company.code, "LRN")
    course = company.courses["A-002"]
    lesson_module = await CourseModule.filter(course=course, kind=ModuleKind.LESSON).first()
    await gql(client, PUSH, push_input([lesson(lesson_module.id, 1)]), token=learner)
    query = "query C($id: ID!) { course(id: $id) { progress { completed completedModules requiredModules } } }"
    body = await gql(client, query, {"id": to_global_id("Course", course.id)}, token=learner)
    assert body["data"]["course"]["progress"] == {"completed": False, "completedModules": 1, "requiredModules": 2}
