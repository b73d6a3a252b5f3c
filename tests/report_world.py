"""A small company whose training facts of September–November 2026 are known to the last figure,
for the training-effect and credit-distribution report tests. Setup (people, courses, sessions,
rules, targets, a reward) is made with the ORM; the facts go through the real services: history
results through ingest (lessons, practice, evaluations: credits settled as they happened),
enrollments and attendance through the sessions services, quiz attempts and a redemption pushed
as records over HTTP, so every rollup, event and ledger row exists as in production.

Times are 02:00 UTC (10:00 in Asia/Shanghai, the company's zone), so local days are the UTC days.

| who | unit (position) | facts |
| --- | --- | --- |
| S2 | 销售部 (销售族 1) | S-001 lesson 09-10, quiz 100 % 10-05, practice ×10 10-06 (course completed), evaluation 80 10-20; enrolled in session A |
| LRN | 华东销售组 (销售族 1) | S-001 lesson 10-08, quiz 0 % 10-09, quiz 100 % 11-03; enrolled in and attended session A; redeems GIFT-1 (1.5) 11-20 |
| OTH | 生产部 (生产族 2) | enrolled in and attended session A; A-001 lesson 11-12, practice ×10 11-13 (course completed), evaluation 90 11-14 |
| P2 | 生产部 (生产族 2) | A-001 lesson 2026-08-20 (before the period) |

Sessions: A (A-001, HQ, 10-15 02:00–04:00: 120 minutes), B (S-001, remote site, 11-05), C (S-001,
11-06, CANCELLED), D (A-001, 12-02, after the period). One credit rule: a lesson 2.0 (history is
settled as it happened; a fact arriving online is credited no earlier than 30 days before it
arrived, which would make credits depend on the day the tests run). Targets: 销售族 1 12.0,
生产族 2 40.0. GIFT-1 costs 1.5.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tortoise.transactions import in_transaction

from backend.ids import to_global_id
from backend.models import (
    AttendanceStatus,
    CourseModule,
    CreditActivity,
    CreditRule,
    CreditTarget,
    Employee,
    EmployeeRole,
    ModuleKind,
    Position,
    Question,
    QuestionKind,
    Quiz,
    QuizQuestion,
    Reward,
    RewardCategory,
    Role,
    SessionStatus,
    TrainingSession,
)
from backend.services.imports.history_records import HistoryRow, RowStatus, ingest_history
from backend.services.sessions import checkin, enrollment
from backend.services.viewer import Viewer
from tests.factories import Company, make_company
from tests.graphql_client import gql, token_for
from tests.sync_helpers import PUSH, push_input


def at(month: int, day: int, hour: int = 2) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@dataclass
class World:
    company: Company
    quiz_module: CourseModule
    sessions: dict[str, TrainingSession]
    reward: Reward

    @property
    def code(self) -> str:
        return self.company.code

    def id(self, type_name: str, row_id: int) -> str:
        return to_global_id(type_name, row_id)


def viewer_of(company: Company, no: str, *roles: Role) -> Viewer:
    return Viewer(company.tenant.id, company.employees[no], frozenset({Role.EMPLOYEE, *roles}), uuid.uuid4(), "d")


async def _person(company: Company, password_hash: str, no: str, unit: str, position_code: str) -> None:
    position = await Position.get(tenant=company.tenant, code=position_code)
    employee = await Employee.create(
        tenant=company.tenant,
        employee_no=no,
        name=f"员工{no}",
        password_hash=password_hash,
        org_unit=company.org_units[unit],
        site=company.sites["hq"],
        position=position,
    )
    await EmployeeRole.create(tenant=company.tenant, employee=employee, role=Role.EMPLOYEE)
    company.employees[no] = employee


async def _session(company: Company, key: str, course: str, site: str, starts: datetime, **extra) -> TrainingSession:
    return await TrainingSession.create(
        tenant=company.tenant,
        course=company.courses[course],
        title=f"场次{key}",
        instructor=company.employees["HR1"],
        site=company.sites[site],
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=20,
        secret=secrets.token_hex(32),
        **extra,
    )


async def _history(company: Company, rows: list[HistoryRow]) -> None:
    async with in_transaction() as connection:
        outcomes = await ingest_history(connection, company.tenant.id, rows)
    assert [outcome.status for outcome in outcomes] == [RowStatus.CREATED] * len(rows), outcomes


async def _push(client, company: Company, no: str, records: list[dict]) -> None:
    token = await token_for(client, company.code, no, device_id=f"phone-{no}")
    body = await gql(client, PUSH, push_input(records, device_id=f"phone-{no}"), token=token)
    results = body["data"]["syncPush"]["results"]
    assert [r["status"] for r in results] == ["ACCEPTED"] * len(records), body


def _quiz_record(module: CourseModule, question: Question, answer: str, seq: int, when: datetime) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "seq": seq,
        "kind": "QUIZ_SUBMISSION",
        "occurredAt": when.isoformat(),
        "payload": {"quizId": to_global_id("CourseModule", module.id), "answers": {str(question.id): answer}},
    }


async def build(client, password_hash: str) -> World:
    company = await make_company(password_hash)
    tenant = company.tenant
    await _person(company, password_hash, "S2", "sales", "SAL-1")
    await _person(company, password_hash, "P2", "plant", "PRD-2")
    await CreditRule.create(
        tenant=tenant, rule_key="lesson", name="课时", activity=CreditActivity.LESSON_COMPLETED, credits=20
    )
    await CreditTarget.create(tenant=tenant, position_family="销售族", grade=1, credits=120)
    await CreditTarget.create(tenant=tenant, position_family="生产族", grade=2, credits=400)
    s1 = company.courses["S-001"]
    quiz_module = await CourseModule.create(
        tenant=tenant, course=s1, position=3, title="测验", kind=ModuleKind.QUIZ, credits=Decimal("1.0")
    )
    quiz = await Quiz.create(tenant=tenant, module=quiz_module, title="销售基础测验", pass_mark=60)
    question = await Question.create(
        tenant=tenant,
        course=s1,
        kind=QuestionKind.SINGLE_CHOICE,
        prompt="拜访客户前先做什么？",
        options=[{"key": "A", "text": "需求分析"}, {"key": "B", "text": "直接报价"}],
        answer_key=["A"],
        points=Decimal("1"),
    )
    await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=1)
    sessions = {
        "A": await _session(company, "A", "A-001", "hq", at(10, 15)),
        "B": await _session(company, "B", "S-001", "remote", at(11, 5)),
        "C": await _session(company, "C", "S-001", "hq", at(11, 6), status=SessionStatus.CANCELLED),
        "D": await _session(company, "D", "A-001", "hq", at(12, 2)),
    }
    reward = await Reward.create(
        tenant=tenant, code="GIFT-1", name="定制水杯", category=RewardCategory.GIFT, cost=15, stock=None
    )

    lesson = {
        code: await CourseModule.get(course=company.courses[code], kind=ModuleKind.LESSON)
        for code in ("S-001", "A-001")
    }
    practice = {
        code: await CourseModule.get(course=company.courses[code], kind=ModuleKind.PRACTICE)
        for code in ("S-001", "A-001")
    }
    ids = {no: company.employees[no].id for no in ("S2", "LRN", "OTH", "P2")}
    await _history(
        company,
        [
            HistoryRow(ids["S2"], lesson["S-001"].id, "LESSON", at(9, 10)),
            HistoryRow(ids["LRN"], lesson["S-001"].id, "LESSON", at(10, 8)),
            HistoryRow(ids["OTH"], lesson["A-001"].id, "LESSON", at(11, 12)),
            HistoryRow(ids["OTH"], practice["A-001"].id, "PRACTICE", at(11, 13), count=10),
            HistoryRow(ids["P2"], lesson["A-001"].id, "LESSON", at(8, 20)),
        ],
    )
    await _push(client, company, "S2", [_quiz_record(quiz_module, question, "A", 1, at(10, 5))])
    await _push(
        client,
        company,
        "LRN",
        [
            _quiz_record(quiz_module, question, "B", 1, at(10, 9)),
            _quiz_record(quiz_module, question, "A", 2, at(11, 3)),
        ],
    )
    # After the quiz: S2's course completes with the practice on 10-06 (a course completed by a pushed
    # quiz is dated when the record arrives, which would depend on the day the tests run).
    await _history(
        company,
        [
            HistoryRow(ids["S2"], practice["S-001"].id, "PRACTICE", at(10, 6), count=10),
            HistoryRow(ids["S2"], practice["S-001"].id, "EVALUATION", at(10, 20), score=80),
            HistoryRow(ids["OTH"], practice["A-001"].id, "EVALUATION", at(11, 14), score=90),
        ],
    )
    session_a = sessions["A"]
    for no in ("S2", "LRN", "OTH"):
        await enrollment.request_enrollment(viewer_of(company, no), session_a.id, now=at(10, 1))
    hr = viewer_of(company, "HR1", Role.HR_ADMIN)
    for no in ("LRN", "OTH"):
        await checkin.mark_attendance(hr, session_a.id, company.employees[no].id, AttendanceStatus.PRESENT, "补签")
    await _push(
        client,
        company,
        "LRN",
        [
            {
                "id": str(uuid.uuid4()),
                "seq": 3,
                "kind": "REWARD_REDEEMED",
                "occurredAt": at(11, 20).isoformat(),
                "payload": {"rewardId": to_global_id("Reward", reward.id)},
            }
        ],
    )
    return World(company, quiz_module, sessions, reward)
