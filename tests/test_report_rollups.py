"""The report rollups always equal their recount from the facts.

Facts go through the real paths (pushes over the ASGI app, the online services HR and mentors
use): lessons, quiz attempts (and an open answer graded by hand), practice logged and reviewed,
evaluations submitted and superseded, enrollments requested, approved, rejected and cancelled (and
the waiting list promoted), sessions moved, attendance marked, credit rules paying and a reward
redeemed. Their moments sit on either side of Asia/Shanghai midnights and month starts, where a
wrong time zone or a wrong moment moves a figure to another row. Then ``rollups.stored`` must
equal ``rollups.recount``; on PostgreSQL also in REPEATABLE READ snapshots taken while concurrent
pushes commit. ``xuefen reports rebuild`` / ``verify`` repair and check them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tortoise.transactions import in_transaction

from backend.errors import DomainError
from backend.ids import to_global_id
from backend.models import (
    AttemptStatus,
    AttendanceStatus,
    Course,
    CourseFormat,
    CourseModule,
    CourseStatus,
    CreditEvent,
    EmployeeRole,
    Enrollment,
    EnrollmentStatus,
    EvaluationStatus,
    MentorEvaluation,
    ModuleKind,
    PracticeLog,
    PracticeStatus,
    Question,
    QuestionKind,
    Quiz,
    QuizAttempt,
    QuizQuestion,
    ReportRollup,
    Reward,
    RewardCategory,
    Role,
    RollupGrain,
    RollupRole,
    RubricCriterion,
    TrainingSession,
)
from backend.services.credits import credit_engine
from backend.services.ojt import assessment, quiz_grading
from backend.services.reports import rollups
from backend.services.sessions import checkin, enrollment, training_sessions
from backend.services.viewer import Viewer
from tests.factories import Company, make_company
from tests.graphql_client import gql
from tests.sync_helpers import PUSH, push_input
from tests.test_credit_rules import Phone, create_rule
from tests.test_tenant_cli import xuefen

SHANGHAI = ZoneInfo("Asia/Shanghai")
REDEEM = """
mutation R($input: RedeemRewardInput!) { redeemReward(input: $input) { result { status code } errors { code } } }
"""


def test_measures_are_the_models_figures():
    """Every figure column of report_rollup has a source in MEASURES, in column order."""
    keys = {"id", "tenant", "tenant_id", "role", "grain", "day", "employee", "employee_id", "course_id"}
    columns = [name for name in ReportRollup._meta.fields_map if name not in keys]
    assert tuple(columns) == rollups.MEASURES


# --- moments ----------------------------------------------------------------------------------


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Shanghai wall-clock moment, in UTC."""
    return datetime.combine(day, time(hour, minute), SHANGHAI).astimezone(UTC)


def past_edges() -> list[datetime]:
    """Moments (UTC) half an hour either side of recent local midnights and month starts, all past:
    1 Feb local starts at 2026-01-31T16:00Z."""
    today = datetime.now(SHANGHAI).date()
    month = today.replace(day=1)
    if local(month, 0, 30) > datetime.now(UTC) - timedelta(minutes=5):
        month = (month - timedelta(days=1)).replace(day=1)
    moments = [local(today - timedelta(days=1), 23, 30), local(today, 0, 30)]
    moments += [local(month - timedelta(days=1), 23, 30), local(month, 0, 30)]
    moments += [datetime(2026, 1, 31, 15, 30, tzinfo=UTC), datetime(2026, 1, 31, 16, 30, tzinfo=UTC)]
    return [m for m in moments if m < datetime.now(UTC) - timedelta(minutes=5)]


def future_edges() -> list[datetime]:
    """Session starts either side of the next local month start and of a midnight, all ahead."""
    today = datetime.now(SHANGHAI).date()
    next_month = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
    return [
        local(next_month - timedelta(days=1), 23, 30),
        local(next_month, 0, 30),
        local(today + timedelta(days=3), 23, 30),
        local(today + timedelta(days=4), 0, 30),
    ]


# --- the world the facts happen in --------------------------------------------------------------


def viewer_of(company: Company, employee_no: str) -> Viewer:
    """An employee as the online services see them (HR1 and MGR also teach)."""
    roles = {"HR1": {Role.HR_ADMIN, Role.INSTRUCTOR}, "MGR": {Role.MANAGER, Role.MENTOR, Role.INSTRUCTOR}}
    held = frozenset({Role.EMPLOYEE, *roles.get(employee_no, set())})
    return Viewer(company.tenant.id, company.employees[employee_no], held, uuid.uuid4(), "test-device")


class World:
    """A company with a quiz graded by its key, one with an open answer, an assessment, a
    session needing approval, two open ones (capacity 2: a waiting list) and a past one for
    walk-ins, credit rules for every activity, and signed-in phones."""

    company: Company
    phones: dict[str, Phone]
    auto_quiz: CourseModule
    open_quiz: CourseModule
    auto_questions: list[Question]
    open_questions: list[Question]
    lesson: CourseModule
    whole_course: CourseModule  # the one lesson of a course: doing it completes the course
    practice: CourseModule
    assessment: CourseModule
    sessions: list[TrainingSession]
    past_session: TrainingSession
    reward: Reward

    def viewer(self, employee_no: str) -> Viewer:
        return viewer_of(self.company, employee_no)

    async def push(self, employee_no: str, records: list[dict]) -> list[dict]:
        phone = self.phones[employee_no]
        body = await gql(phone.client, PUSH, push_input(records, device_id=phone.device), token=phone.token)
        assert body["data"]["syncPush"]["errors"] == [], body
        return body["data"]["syncPush"]["results"]

    def make_record(self, employee_no: str, kind: str, at: datetime, payload: dict) -> dict:
        phone = self.phones[employee_no]
        return {
            "id": str(uuid.uuid4()),
            "seq": phone.next_seq(),
            "kind": kind,
            "occurredAt": at.isoformat(),
            "payload": payload,
        }


async def _quiz(company: Company, course: str, position: int, with_open_answer: bool) -> tuple[CourseModule, list]:
    row = company.courses[course]
    module = await CourseModule.create(
        tenant=company.tenant, course=row, position=position, title="测验", kind=ModuleKind.QUIZ, credits=Decimal(1)
    )
    quiz = await Quiz.create(tenant=company.tenant, module=module, title="测验", pass_mark=50, attempts_allowed=100)
    options = [{"key": "A", "text": "对"}, {"key": "B", "text": "错"}]
    questions = []
    for index in range(2):
        manual = with_open_answer and index == 1
        question = await Question.create(
            tenant=company.tenant,
            course=row,
            kind=QuestionKind.SHORT_TEXT if manual else QuestionKind.SINGLE_CHOICE,
            prompt=f"第{index + 1}题",
            options=[] if manual else options,
            answer_key={} if manual else ["A"],
            points=Decimal(1),
        )
        await QuizQuestion.create(tenant=company.tenant, quiz=quiz, question=question, position=index + 1)
        questions.append(question)
    return module, questions


def _session(company: Company, course: str, instructor: str, starts: datetime, **extra) -> dict:
    return {
        "tenant": company.tenant,
        "course": company.courses[course],
        "title": "场次",
        "instructor": company.employees[instructor],
        "site": company.sites["hq"],
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=2),
        "secret": "0" * 64,
        **extra,
    }


async def make_world(client, password_hash: str) -> World:
    world = World()
    world.company = company = await make_company(password_hash)
    tenant = company.tenant
    for number in ("HR1", "MGR"):
        await EmployeeRole.create(tenant=tenant, employee=company.employees[number], role=Role.INSTRUCTOR)
    world.lesson = await CourseModule.get(course=company.courses["A-002"], position=1)
    world.practice = await CourseModule.get(course=company.courses["A-002"], position=2)
    short = await Course.create(
        tenant=tenant,
        code="R-001",
        title="安全须知",
        summary="一课",
        scenario="安全",
        format=CourseFormat.ONLINE,
        status=CourseStatus.PUBLISHED,
        hours=Decimal(1),
        credits=Decimal(1),
    )
    world.whole_course = await CourseModule.create(
        tenant=tenant, course=short, position=1, title="学习", kind=ModuleKind.LESSON, credits=Decimal(1)
    )
    world.auto_quiz, world.auto_questions = await _quiz(company, "A-002", 3, with_open_answer=False)
    world.open_quiz, world.open_questions = await _quiz(company, "A-001", 3, with_open_answer=True)
    world.assessment = await CourseModule.create(
        tenant=tenant,
        course=company.courses["A-002"],
        position=4,
        title="考核",
        kind=ModuleKind.ASSESSMENT,
        credits=Decimal(1),
        required_count=1,
        rubric=company.rubrics["ROLEPLAY"],
        pass_score=70,
    )
    await Course.filter(id=company.courses["S-001"].id).update(requires_approval=True)
    starts = future_edges()
    world.sessions = [
        await TrainingSession.create(**_session(company, "A-002", "HR1", starts[0], capacity=2)),
        await TrainingSession.create(**_session(company, "A-002", "MGR", starts[2], capacity=2)),
        await TrainingSession.create(**_session(company, "S-001", "MGR", starts[1], capacity=5)),
    ]
    world.past_session = await TrainingSession.create(
        **_session(company, "A-002", "HR1", datetime(2026, 1, 31, 15, 30, tzinfo=UTC), capacity=9, allows_walk_in=True)
    )
    world.phones = {number: await Phone.sign_in(client, company, number) for number in ("HR1", "MGR", "LRN", "OTH")}
    for activity in ("LESSON_COMPLETED", "QUIZ_PASSED", "PRACTICE_CONFIRMED", "EVALUATION_SCORED", "ATTENDANCE"):
        await create_rule(world.phones["HR1"], activity=activity, credits="2")
    world.reward = await Reward.create(
        tenant=tenant, code="G-1", name="培训补贴", category=RewardCategory.TRAINING_SUBSIDY, cost=10
    )
    return world


# --- the facts --------------------------------------------------------------------------------


class Facts:
    """Each method makes one kind of fact happen, its details drawn from ``rng``."""

    def __init__(self, world: World, rng: random.Random) -> None:
        self.world, self.rng = world, rng

    def when(self) -> datetime:
        return self.rng.choice(past_edges())

    async def lesson(self) -> None:
        who = self.rng.choice(["LRN", "OTH"])
        module = self.rng.choice([self.world.lesson, self.world.whole_course])
        payload = {"moduleId": to_global_id("CourseModule", module.id), "secondsSpent": 60}
        results = await self.world.push(who, [self.world.make_record(who, "LESSON_COMPLETED", self.when(), payload)])
        assert results[0]["status"] == "ACCEPTED", results

    async def quiz(self) -> None:
        world, who = self.world, self.rng.choice(["LRN", "OTH"])
        module, questions = self.rng.choice(
            [(world.auto_quiz, world.auto_questions), (world.open_quiz, world.open_questions)]
        )
        answers = {str(q.id): self.rng.choice(["A", "B"]) for q in questions}
        payload = {"quizId": to_global_id("CourseModule", module.id), "answers": answers}
        results = await world.push(who, [world.make_record(who, "QUIZ_SUBMISSION", self.when(), payload)])
        assert results[0]["status"] == "ACCEPTED", results

    async def grade(self) -> None:
        waiting = await QuizAttempt.filter(
            tenant_id=self.world.company.tenant.id, status=AttemptStatus.NEEDS_MANUAL_GRADING
        ).order_by("id")
        if not waiting:
            return await self.quiz()
        attempt = self.rng.choice(waiting)
        points = self.rng.choice(["0", "0.5", "1"])
        await quiz_grading.grade_answer(self.world.viewer("HR1"), attempt.id, self.world.open_questions[1].id, points)

    async def practice(self) -> None:
        payload = {"moduleId": to_global_id("CourseModule", self.world.practice.id), "quantity": self.rng.randint(1, 3)}
        results = await self.world.push("LRN", [self.world.make_record("LRN", "PRACTICE_LOG", self.when(), payload)])
        assert results[0]["status"] == "ACCEPTED", results

    async def review(self, at: datetime | None = None, log_id: int | None = None) -> None:
        pending = await PracticeLog.filter(
            tenant_id=self.world.company.tenant.id, status=PracticeStatus.PENDING
        ).order_by("id")
        if not pending:
            return await self.practice()
        log = next(p for p in pending if p.id == log_id) if log_id else self.rng.choice(pending)
        confirmed = self.rng.random() < 0.6
        payload = {
            "practiceId": to_global_id("PracticeLog", log.id),
            "decision": "CONFIRMED" if confirmed else "REJECTED",
            "note": "" if confirmed else "动作不规范",
        }
        # Reviewed now, or (an offline review) at an edge, maybe before the log arrived: waited 0.
        at = at or self.rng.choice([datetime.now(UTC), self.when()])
        results = await self.world.push("MGR", [self.world.make_record("MGR", "PRACTICE_REVIEW", at, payload)])
        assert results[0]["status"] == "ACCEPTED", results

    async def evaluate(self, score: int | None = None) -> None:
        world = self.world
        criteria = await RubricCriterion.filter(rubric=world.company.rubrics["ROLEPLAY"]).order_by("position")
        payload = {
            "evaluationId": str(uuid.uuid4()),
            "menteeId": to_global_id("Employee", world.company.employees["LRN"].id),
            "moduleId": to_global_id("CourseModule", world.assessment.id),
            "baseVersion": 0,
            "scores": {to_global_id("RubricCriterion", c.id): score or self.rng.choice([1, 3, 5]) for c in criteria},
            "comment": "",
            "submit": True,
        }
        results = await world.push("MGR", [world.make_record("MGR", "MENTOR_EVALUATION", self.when(), payload)])
        assert results[0]["status"] == "ACCEPTED", results

    async def supersede(self) -> None:
        submitted = await MentorEvaluation.filter(
            tenant_id=self.world.company.tenant.id, status=EvaluationStatus.SUBMITTED
        ).order_by("id")
        if not submitted:
            return await self.evaluate()
        old = self.rng.choice(submitted)
        criteria = await RubricCriterion.filter(rubric_id=old.rubric_id).order_by("position")
        scores = {to_global_id("RubricCriterion", c.id): self.rng.choice([1, 5]) for c in criteria}
        await assessment.supersede_evaluation(self.world.viewer("HR1"), old.uid, scores, "", "评分有误")

    async def enroll(self) -> None:
        who = self.rng.choice(["LRN", "OTH", "MGR"])
        session = self.rng.choice(self.world.sessions)
        if self.rng.random() < 0.5:
            with contextlib.suppress(DomainError):  # already enrolled, rejected before …
                await enrollment.request_enrollment(self.world.viewer(who), session.id)
            return
        payload = {"sessionId": to_global_id("TrainingSession", session.id)}
        await self.world.push(who, [self.world.make_record(who, "ENROLLMENT_REQUESTED", datetime.now(UTC), payload)])

    async def decide(self) -> None:
        pending = await Enrollment.filter(
            tenant_id=self.world.company.tenant.id, status=EnrollmentStatus.PENDING
        ).order_by("id")
        if not pending:
            return await self.enroll()
        approve = self.rng.random() < 0.7
        await enrollment.decide_enrollment(
            self.world.viewer("HR1"), self.rng.choice(pending).id, approve, "" if approve else "名额已满"
        )

    async def cancel(self) -> None:
        active = await Enrollment.filter(
            tenant_id=self.world.company.tenant.id, status__in=list(enrollment.ACTIVE)
        ).order_by("id")
        if not active:
            return await self.enroll()
        chosen = self.rng.choice(active)
        number = next(n for n, e in self.world.company.employees.items() if e.id == chosen.employee_id)
        await enrollment.cancel_enrollment(self.world.viewer(number), chosen.id)

    async def move(self) -> None:
        """A session gets another start, length or instructor (the past one: length or instructor)."""
        world = self.world
        session = self.rng.choice([*world.sessions, world.past_session])
        change = training_sessions.SessionInput(
            instructor_id=world.company.employees[self.rng.choice(["HR1", "MGR"])].id
        )
        if session.id == world.past_session.id:
            change.ends_at = session.starts_at + timedelta(minutes=self.rng.choice([60, 90, 150]))
        elif self.rng.random() < 0.7:
            change.starts_at = self.rng.choice(future_edges())
            change.ends_at = change.starts_at + timedelta(hours=2)
        else:
            change.capacity = self.rng.choice([2, 3])  # more seats promote the waiting list
        with contextlib.suppress(DomainError):  # a capacity below the seats taken
            await training_sessions.update_session(world.viewer("HR1"), session.id, change)
        await session.refresh_from_db()

    async def attend(self) -> None:
        """A manual mark; ABSENT or EXCUSED corrects an earlier one (its credit event stays, uncounted)."""
        who = self.rng.choice(["LRN", "OTH", "MGR"])
        status = self.rng.choice(list(AttendanceStatus))
        await checkin.mark_attendance(
            self.world.viewer("HR1"),
            self.world.past_session.id,
            self.world.company.employees[who].id,
            status,
            "忘带手机",
        )

    async def call_off(self) -> None:
        """A session with people enrolled is cancelled: they stay ENROLLED but count nothing, and
        a later cancellation of theirs (``cancel``) takes nothing more back."""
        world = self.world
        starts = self.rng.choice(future_edges())
        session = await TrainingSession.create(**_session(world.company, "A-002", "MGR", starts, capacity=3))
        for who in self.rng.sample(["LRN", "OTH"], self.rng.randint(1, 2)):
            await enrollment.request_enrollment(world.viewer(who), session.id)
        await training_sessions.cancel_session(world.viewer("HR1"), session.id, "讲师临时出差")

    async def redeem(self) -> None:
        phone = self.world.phones[self.rng.choice(["LRN", "OTH"])]
        body = await phone.gql(REDEEM, {"input": {"rewardId": to_global_id("Reward", self.world.reward.id)}})
        assert "errors" not in body, body
        payload = body["data"]["redeemReward"]
        assert payload["errors"] == [], payload


KINDS = [name for name in vars(Facts) if not name.startswith("_") and name != "when"]


async def assert_rollups_agree(tenant_id: int) -> dict:
    async with in_transaction() as connection:
        found = await rollups.stored(connection, tenant_id)
        months = await rollups.stored_activity(connection, tenant_id)
        counted = await rollups.recount(connection, tenant_id)
    assert found == counted, [d.describe() for d in await rollups.verify(tenant_id)]
    # The learning months follow the month rows, cancellations and corrections included.
    assert months == rollups.activity_of(counted), [d.describe() for d in await rollups.verify(tenant_id)]
    return found


@pytest.fixture(scope="module")
async def world(client, password_hash) -> World:
    return await make_world(client, password_hash)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 2**32)), min_size=1, max_size=10))
async def test_any_mix_of_facts_keeps_the_rollups_equal_to_their_recount(world, steps):
    for kind, seed in steps:
        await getattr(Facts(world, random.Random(seed)), kind)()
        await assert_rollups_agree(world.company.tenant.id)


async def test_every_kind_of_fact_reaches_the_rollups(world):
    """Each kind of fact at least once, in an order where each finds what it acts on; then every
    figure has been counted somewhere (a source that never fires would leave its column at zero)."""
    facts = Facts(world, random.Random(7))
    for kind in ("lesson", "quiz", "quiz", "practice", "practice", "review", "review", "evaluate", "evaluate"):
        await getattr(facts, kind)()
    for kind in (
        *("supersede", "enroll", "enroll", "enroll", "decide", "cancel", "move", "attend", "redeem", "grade"),
        "call_off",
    ):
        await getattr(facts, kind)()
    # Make sure of the rare ones: a course completed, a review that waited, full marks, an
    # approved enrollment, an open answer graded, a session moved.
    payload = {"moduleId": to_global_id("CourseModule", world.whole_course.id), "secondsSpent": 60}
    await world.push("OTH", [world.make_record("OTH", "LESSON_COMPLETED", past_edges()[-1], payload)])
    await facts.practice()
    # A log that arrived an hour ago (its arrival is what the wait is counted from), reviewed now.
    log = await PracticeLog.filter(tenant_id=world.company.tenant.id, status=PracticeStatus.PENDING).latest("id")
    await PracticeLog.filter(id=log.id).update(created_at=datetime.now(UTC) - timedelta(hours=1))
    await facts.review(datetime.now(UTC), log.id)
    await facts.evaluate(score=5)
    lrn = world.viewer("LRN")
    approval = world.sessions[2]
    with contextlib.suppress(DomainError):  # asked before
        await enrollment.request_enrollment(lrn, approval.id)
    for pending in await Enrollment.filter(session_id=approval.id, status=EnrollmentStatus.PENDING):
        await enrollment.decide_enrollment(world.viewer("HR1"), pending.id, True)
    open_payload = {
        "quizId": to_global_id("CourseModule", world.open_quiz.id),
        "answers": {str(world.open_questions[0].id): "A", str(world.open_questions[1].id): "安全第一"},
    }
    await world.push("LRN", [world.make_record("LRN", "QUIZ_SUBMISSION", past_edges()[0], open_payload)])
    for attempt in await QuizAttempt.filter(
        quiz__module_id=world.open_quiz.id, status=AttemptStatus.NEEDS_MANUAL_GRADING
    ):
        await quiz_grading.grade_answer(world.viewer("HR1"), attempt.id, world.open_questions[1].id, "1")
    # An attendance that counts, whatever marks ``attend`` drew.
    oth = world.company.employees["OTH"].id
    await checkin.mark_attendance(world.viewer("HR1"), world.past_session.id, oth, AttendanceStatus.PRESENT, "补签")
    moved = future_edges()
    await training_sessions.update_session(
        world.viewer("HR1"),
        approval.id,
        training_sessions.SessionInput(starts_at=moved[3], ends_at=moved[3] + timedelta(hours=1)),
    )
    found = await assert_rollups_agree(world.company.tenant.id)
    totals = [sum(row[i] for row in found.values()) for i in range(len(rollups.MEASURES))]
    never = [name for name, total in zip(rollups.MEASURES, totals, strict=True) if total == 0]
    assert never == [], never


# --- what lands where, by hand ----------------------------------------------------------------


def rows_of(found: dict, employee_id: int, role: RollupRole, measure: str) -> dict[tuple[str, str], int]:
    """(grain, day) -> the measure, for one person and role (all courses)."""
    index = rollups.MEASURES.index(measure)
    sums: dict[tuple[str, str], int] = {}
    for (row_role, grain, day, employee, _), amounts in found.items():
        if row_role == role and employee == employee_id and amounts[index]:
            key = (RollupGrain(grain).value, day.isoformat())
            sums[key] = sums.get(key, 0) + amounts[index]
    return sums


async def test_facts_count_on_the_companys_local_day_and_month(client, password_hash):
    """Two lessons half an hour either side of 1 Feb 00:00 in Shanghai (2026-01-31T16:00Z) count
    in January and in February; an enrollment counts on its session's start, and moving the session
    across the next month start moves it, for the learner and for the instructor."""
    company = await make_company(password_hash)
    tenant_id = company.tenant.id
    learner, instructor = company.employees["LRN"], company.employees["HR1"]
    await EmployeeRole.create(tenant=company.tenant, employee=instructor, role=Role.INSTRUCTOR)
    hr, phone = await Phone.sign_in(client, company, "HR1"), await Phone.sign_in(client, company, "LRN")
    await create_rule(hr, activity="LESSON_COMPLETED", credits="1.5")
    lesson = await CourseModule.get(course=company.courses["A-002"], position=1)
    payload = {"moduleId": to_global_id("CourseModule", lesson.id), "secondsSpent": 60}
    records = [
        {
            "id": str(uuid.uuid4()),
            "seq": phone.next_seq(),
            "kind": "LESSON_COMPLETED",
            "occurredAt": at,
            "payload": payload,
        }
        for at in ("2026-01-31T15:30:00+00:00", "2026-01-31T16:30:00+00:00")
    ]
    await phone.push(records)
    found = await assert_rollups_agree(tenant_id)
    expected = {
        ("DAY", "2026-01-31"): 1,
        ("DAY", "2026-02-01"): 1,
        ("MONTH", "2026-01-01"): 1,
        ("MONTH", "2026-02-01"): 1,
    }
    assert rows_of(found, learner.id, RollupRole.LEARNER, "lessons_completed") == expected
    # Their credits are entries dated as far back as the rules allow (credit_engine.credit_time).
    credited = (datetime.now(UTC) - credit_engine.BACKDATING_ALLOWED).astimezone(SHANGHAI).date()
    assert rows_of(found, learner.id, RollupRole.LEARNER, "credits_earned") == {
        ("DAY", credited.isoformat()): 30,
        ("MONTH", credited.replace(day=1).isoformat()): 30,
    }

    before, after = future_edges()[:2]  # 23:30 on a month's last day, 00:30 on the next's first
    session = await TrainingSession.create(**_session(company, "A-002", "HR1", before, capacity=3))
    await enrollment.request_enrollment(viewer_of(company, "LRN"), session.id)
    found = await assert_rollups_agree(tenant_id)
    month = before.astimezone(SHANGHAI).date().replace(day=1).isoformat()
    first_day = after.astimezone(SHANGHAI).date().isoformat()
    last_day = before.astimezone(SHANGHAI).date().isoformat()
    at_first = {("DAY", last_day): 1, ("MONTH", month): 1}
    assert rows_of(found, learner.id, RollupRole.LEARNER, "enrolled") == at_first
    assert rows_of(found, instructor.id, RollupRole.INSTRUCTOR, "enrolled") == at_first
    await training_sessions.update_session(
        viewer_of(company, "HR1"),
        session.id,
        training_sessions.SessionInput(starts_at=after, ends_at=after + timedelta(hours=2)),
    )
    found = await assert_rollups_agree(tenant_id)
    moved = {("DAY", first_day): 1, ("MONTH", first_day): 1}
    assert rows_of(found, learner.id, RollupRole.LEARNER, "enrolled") == moved
    assert rows_of(found, instructor.id, RollupRole.INSTRUCTOR, "enrolled") == moved


async def test_a_cancelled_session_and_an_absence_stop_counting(client, password_hash):
    """Cancelling a session takes its enrollments out of ``enrolled`` (learner and instructor);
    correcting an attendance to ABSENT or EXCUSED takes it out of ``attended`` and its minutes, and
    marking it PRESENT again puts it back once, while its credit event stays as it was."""
    company = await make_company(password_hash)
    tenant_id = company.tenant.id
    learner, instructor = company.employees["LRN"], company.employees["HR1"]
    await EmployeeRole.create(tenant=company.tenant, employee=instructor, role=Role.INSTRUCTOR)
    hr = viewer_of(company, "HR1")
    starts = future_edges()[2]
    session = await TrainingSession.create(**_session(company, "A-002", "HR1", starts, capacity=3))
    await enrollment.request_enrollment(viewer_of(company, "LRN"), session.id)
    day = starts.astimezone(SHANGHAI).date()
    counted = {("DAY", day.isoformat()): 1, ("MONTH", day.replace(day=1).isoformat()): 1}
    found = await assert_rollups_agree(tenant_id)
    assert rows_of(found, learner.id, RollupRole.LEARNER, "enrolled") == counted
    await training_sessions.cancel_session(hr, session.id, "讲师生病")
    await training_sessions.cancel_session(hr, session.id, "再点一次")  # once is what counts
    found = await assert_rollups_agree(tenant_id)
    assert rows_of(found, learner.id, RollupRole.LEARNER, "enrolled") == {}
    assert rows_of(found, instructor.id, RollupRole.INSTRUCTOR, "enrolled") == {}
    (enrolled,) = await Enrollment.filter(session_id=session.id)
    assert enrolled.status == EnrollmentStatus.ENROLLED  # the enrollment itself stays
    await enrollment.cancel_enrollment(viewer_of(company, "LRN"), enrolled.id)
    found = await assert_rollups_agree(tenant_id)
    assert rows_of(found, learner.id, RollupRole.LEARNER, "enrolled") == {}

    past = await TrainingSession.create(
        **_session(company, "A-002", "HR1", datetime(2026, 3, 2, 1, 0, tzinfo=UTC), capacity=5, allows_walk_in=True)
    )
    march = {("DAY", "2026-03-02"): 1, ("MONTH", "2026-03-01"): 1}
    minutes = dict.fromkeys(march, 120)
    marks = [
        (AttendanceStatus.PRESENT, march),
        (AttendanceStatus.ABSENT, {}),
        (AttendanceStatus.ABSENT, {}),
        (AttendanceStatus.LATE, march),
        (AttendanceStatus.EXCUSED, {}),
        (AttendanceStatus.ABSENT, {}),
        (AttendanceStatus.PRESENT, march),
    ]
    for status, expected in marks:
        await checkin.mark_attendance(hr, past.id, learner.id, status, "更正考勤")
        found = await assert_rollups_agree(tenant_id)
        assert rows_of(found, learner.id, RollupRole.LEARNER, "attended") == expected, status
        assert rows_of(found, instructor.id, RollupRole.INSTRUCTOR, "attended") == expected, status
        assert rows_of(found, learner.id, RollupRole.LEARNER, "attended_minutes") == (minutes if expected else {})
    assert await CreditEvent.filter(tenant_id=tenant_id, activity="ATTENDANCE").count() == 1


# --- rebuild and verify -----------------------------------------------------------------------


async def test_rebuild_restores_damaged_rollups_and_verify_says_so(world, database_url, test_settings):
    """Rows changed, deleted and invented: ``reports verify`` exits 1 naming them, ``reports
    rebuild`` writes the recount back, and ``verify`` then exits 0."""
    tenant_id, code = world.company.tenant.id, world.company.code
    await Facts(world, random.Random(3)).lesson()
    before = await assert_rollups_agree(tenant_id)
    # Two rows that count something (amounts that cancelled out leave rows of zeros: no damage).
    rows = [
        row
        for row in await ReportRollup.filter(tenant_id=tenant_id).order_by("id")
        if any(getattr(row, name) for name in rollups.MEASURES)
    ][:2]
    await ReportRollup.filter(id=rows[0].id).update(lessons_completed=rows[0].lessons_completed + 5)
    await ReportRollup.filter(id=rows[1].id).delete()
    await ReportRollup.create(
        tenant_id=tenant_id,
        role=RollupRole.LEARNER,
        grain=RollupGrain.DAY,
        day=date(2025, 12, 31),
        employee_id=world.company.employees["OTH"].id,
        course_id=0,
        credits_earned=99,
    )
    checked = xuefen(database_url, test_settings, "reports", "verify", "--tenant", code)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert f"{code}: 3 rollup row(s) differ from their facts" in checked.stdout
    assert "LEARNER DAY 2025-12-31 employee" in checked.stdout and "credits_earned 99 ≠ 0" in checked.stdout

    rebuilt = xuefen(database_url, test_settings, "reports", "rebuild", "--tenant", code)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.strip() == f"{code}: {len(before)} rollup rows rebuilt."
    assert await assert_rollups_agree(tenant_id) == before
    checked = xuefen(database_url, test_settings, "reports", "verify", "--tenant", code)
    assert (checked.returncode, checked.stdout.strip()) == (0, "Every company's report rollups equal their facts.")
    unknown = xuefen(database_url, test_settings, "reports", "verify", "--tenant", "no-such-company")
    assert unknown.returncode == 2 and "No tenant" in unknown.stderr


# --- concurrent pushes (PostgreSQL) -----------------------------------------------------------


async def _snapshot(tenant_id: int) -> tuple[dict, dict, str]:
    """Stored rollups and their recount from one REPEATABLE READ snapshot (learning months checked
    too), and the level it ran at."""
    async with in_transaction() as connection:
        await connection.execute_query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        level = (await connection.execute_query_dict("SHOW transaction_isolation"))[0]["transaction_isolation"]
        found, months = (
            await rollups.stored(connection, tenant_id),
            await rollups.stored_activity(connection, tenant_id),
        )
        counted = await rollups.recount(connection, tenant_id)
        assert months == rollups.activity_of(counted)
        return found, counted, level


@pytest.mark.postgres_only
async def test_concurrent_pushes_commit_facts_and_rollups_together(world):
    """Four people push batches of lessons, quiz attempts, practice and enrollment requests at
    once, from their own phones; meanwhile snapshots are taken over and over. In every snapshot
    the rollups equal the recount of the facts it sees, including snapshots taken part-way."""
    tenant_id = world.company.tenant.id
    lessons = rollups.MEASURES.index("lessons_completed")

    def done(found: dict) -> int:
        return sum(row[lessons] for key, row in found.items() if key[1] == RollupGrain.DAY)

    start = done(await assert_rollups_agree(tenant_id))
    pushing = True

    async def pushes(number: str, seed: int) -> None:
        rng = random.Random(seed)
        session = world.sessions[seed % 2]
        for batch in range(6):
            records = []
            for _ in range(4):
                payload = {"moduleId": to_global_id("CourseModule", world.lesson.id), "secondsSpent": 30}
                records.append(world.make_record(number, "LESSON_COMPLETED", rng.choice(past_edges()), payload))
            answers = {str(q.id): rng.choice(["A", "B"]) for q in world.auto_questions}
            quiz = {"quizId": to_global_id("CourseModule", world.auto_quiz.id), "answers": answers}
            records.append(world.make_record(number, "QUIZ_SUBMISSION", rng.choice(past_edges()), quiz))
            if batch == 0:
                request = {"sessionId": to_global_id("TrainingSession", session.id)}
                records.append(world.make_record(number, "ENROLLMENT_REQUESTED", datetime.now(UTC), request))
            await world.push(number, records)

    async def snapshots() -> list[int]:
        seen = []
        while pushing:
            found, counted, level = await _snapshot(tenant_id)
            assert level == "repeatable read"
            assert found == counted
            seen.append(done(found))
        return seen

    watcher = asyncio.create_task(snapshots())
    try:
        await asyncio.gather(*(pushes(number, seed) for seed, number in enumerate(("LRN", "OTH", "MGR", "HR1"))))
    finally:
        pushing = False
    seen = await watcher
    end = done(await assert_rollups_agree(tenant_id))
    assert end == start + 4 * 6 * 4
    assert any(start < total < end for total in seen), (start, seen, end)
