"""The demo's feedback surveys, answered through the same ingest path as phones' answers.

Two anonymous surveys with answers enough to show (``ANSWERS`` people each, above the threshold of
5): a course survey on 新产品知识 (T-001-01) and an instructor rating on its latest past session at
HQ (MT001 teaching), answered after a check-out; so ``surveyResults`` and the instructors report
show figures on the first run. Both stay open: E0003 (who has answered neither) can answer the
course survey after the check-in of the documented examples (docs/sync-protocol.md).

Idempotent like the rest of the demo: ``seed_demo`` loads it once, with the company.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.demo.ojt import _phone
from backend.ids import to_global_id
from backend.models import Attendance, Course, Employee, Role, Tenant, TrainingSession
from backend.services.surveys import templates
from backend.services.viewer import Viewer

ANSWERS = 6  # people answering each survey (the anonymity threshold is 5)
KEEP_FREE = ("E0001", "E0002", "E0003", "E0004")  # left to answer by hand and in the documented examples

COURSE_QUESTIONS: list[dict[str, Any]] = [
    {"id": "useful", "kind": "LIKERT", "text": "课程内容对工作有帮助", "textEn": "The course helps in my work"},
    {"id": "clear", "kind": "LIKERT", "text": "讲师讲解清晰易懂", "textEn": "The instructor explained clearly"},
    {
        "id": "nps",
        "kind": "NPS",
        "text": "您有多大可能向同事推荐本课程？",
        "textEn": "How likely are you to recommend it?",
    },
    {
        "id": "length",
        "kind": "SINGLE_CHOICE",
        "text": "课程时长",
        "textEn": "Course length",
        "options": [
            {"id": "short", "text": "偏短", "textEn": "Too short"},
            {"id": "right", "text": "合适", "textEn": "About right"},
            {"id": "long", "text": "偏长", "textEn": "Too long"},
        ],
    },
    {
        "id": "best",
        "kind": "MULTIPLE_CHOICE",
        "text": "收获最大的部分",
        "textEn": "What helped most",
        "required": False,
        "options": [
            {"id": "product", "text": "产品功能讲解", "textEn": "Product features"},
            {"id": "cases", "text": "客户案例", "textEn": "Customer cases"},
            {"id": "demo", "text": "现场演示", "textEn": "Live demo"},
        ],
    },
    {"id": "advice", "kind": "FREE_TEXT", "text": "您的建议", "textEn": "Your suggestions", "required": False},
]

SESSION_QUESTIONS: list[dict[str, Any]] = [
    {"id": "prepared", "kind": "LIKERT", "text": "讲师准备充分", "textEn": "The instructor was well prepared"},
    {"id": "interactive", "kind": "LIKERT", "text": "课堂互动充分", "textEn": "The session was interactive"},
    {"id": "pace", "kind": "LIKERT", "text": "节奏合适", "textEn": "The pace was right"},
    {"id": "comment", "kind": "FREE_TEXT", "text": "对讲师的评价", "textEn": "About the instructor", "required": False},
]

ADVICE = ("希望多一些客户案例", "演示环节很好", "", "可以增加练习时间", "", "资料可以提前发")
COMMENTS = ("讲得很清楚", "", "互动很多，气氛好", "", "节奏稍快", "")


def _course_answers(index: int) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "useful": 3 + index % 3,
        "clear": 4 + index % 2,
        "nps": (9, 10, 7, 8, 6, 9)[index % 6],
        "length": ("right", "right", "long", "short", "right", "right")[index % 6],
        "best": (["product", "cases"], ["demo"], ["cases"], ["product"], ["cases", "demo"], ["product"])[index % 6],
    }
    if ADVICE[index % 6]:
        answers["advice"] = ADVICE[index % 6]
    return answers


def _session_answers(index: int) -> dict[str, Any]:
    answers: dict[str, Any] = {"prepared": 4 + index % 2, "interactive": 3 + index % 3, "pace": 4}
    if COMMENTS[index % 6]:
        answers["comment"] = COMMENTS[index % 6]
    return answers


async def load(tenant: Tenant, now: datetime | None = None) -> None:
    """The two surveys, attached by HR001, and their answers (see the module docstring)."""
    now = now or datetime.now(UTC)
    hr = await Employee.get(tenant_id=tenant.id, employee_no="HR001")
    viewer = Viewer(tenant.id, hr, frozenset({Role.HR_ADMIN}), uuid.uuid4(), "demo-hr001")
    course = await Course.get(tenant_id=tenant.id, code="T-001-01")
    session = (
        await TrainingSession.filter(tenant_id=tenant.id, course=course, ends_at__lt=now).order_by("-starts_at").first()
    )
    course_template = await templates.create_template(
        viewer,
        {
            "title": "新产品知识课程反馈",
            "titleEn": "New product course feedback",
            "anonymous": True,
            "questions": COURSE_QUESTIONS,
        },
    )
    course_survey = await templates.attach_survey(viewer, course_template.id, templates.Target(course_id=course.id))
    session_survey = None
    if session is not None:
        session_template = await templates.create_template(
            viewer,
            {"title": "讲师评价", "titleEn": "Instructor rating", "anonymous": True, "questions": SESSION_QUESTIONS},
        )
        session_survey = await templates.attach_survey(
            viewer, session_template.id, templates.Target(session_id=session.id)
        )
    attended = []
    if session is not None:
        attended = [
            a
            for a in await Attendance.filter(tenant_id=tenant.id, session_id=session.id).order_by("employee_id")
            if a.checked_in_at is not None
        ]
    answered = 0
    for attendance in attended:
        employee = await Employee.get(id=attendance.employee_id)
        if employee.employee_no in KEEP_FREE:
            continue
        if answered >= ANSWERS:
            break
        index, answered = answered, answered + 1
        phone, _ = await _phone(tenant.id, employee.employee_no, "-work")
        assert session is not None and session_survey is not None
        await phone.send("CHECK_OUT", session.ends_at, {"sessionId": to_global_id("TrainingSession", session.id)})
        when = session.ends_at + timedelta(minutes=10)
        await phone.send(
            "SURVEY_RESPONSE",
            when,
            {"surveyId": to_global_id("Survey", session_survey.id), "answers": _session_answers(index)},
        )
        await phone.send(
            "SURVEY_RESPONSE",
            when + timedelta(minutes=5),
            {"surveyId": to_global_id("Survey", course_survey.id), "answers": _course_answers(index)},
        )
