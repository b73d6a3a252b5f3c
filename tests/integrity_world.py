"""A generated company with planted credit gaming of every kind among honest activity, for the
precision and recall of the integrity detectors (tests/test_integrity_world.py).

Setup (people, courses, a quiz, rubrics, sites with coordinates, sessions, mentorships, credit
rules) is made with the ORM; every fact goes through the real ingest path (``ingest.ingest``, what
a push calls) from simulated phones, with their own clocks and arrival times, so flags, attempts,
attendance, practice logs, evaluations, credit events and ledger entries are as in production.

Three weeks of working days. Everyone learns honestly (lessons spread over the day, quizzes at
human speed with human mistakes, check-ins at the site, practice confirmed by their mentor after a
while, evaluations with ordinary scores) and the honest edge cases are there on purpose: a fast
learner who really knows the material (quizzes at 40 % of the usual time, full marks), a strict
mentor, an employee on a train between Shanghai and Beijing (two check-ins 5 hours apart), a phone
whose clock was wrong for a week and then corrected once, a remote office that syncs a week of
offline work in one go, a check-in 300 m from the site (GPS drift), two people sharing one common
misconception. Planted among them, each with its subject (the person an alert should name):

| kind | planted |
| --- | --- |
| FARMING_BURST | 3 learners: 25 lessons within 40 seconds |
| QUIZ_TOO_FAST | 3 learners: a 20-question quiz in 15 seconds (the median is about 5 minutes) |
| ANSWER_SHARING | 2 pairs, each copying a sheet: identical answers to 20 questions, five identical wrong ones, 18 minutes apart |
| LENIENT_MENTOR | 1 mentor giving full marks to everyone; 1 mentor confirming every practice within seconds |
| RECIPROCAL_CONFIRMATION | 1 pair of colleagues mentoring each other and confirming each other's practice |
| CODE_SHARING | 2 learners checking in from 30 km away; 1 without a location where everyone has one |
| SHARED_DEVICE | 2 learners recording their lessons on a colleague's phone |
| IMPOSSIBLE_TRAVEL | 2 learners checking in at Shanghai and, 40 minutes later, in Beijing |
| CLOCK_TAMPERING | 2 phones whose clock jumps back and forth by 3 hours; 1 phone backdating 8 lessons by 4 days |

The dice are seeded: the same seed makes the same company.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from backend.config import Settings
from backend.ids import to_global_id
from backend.models import (
    Course,
    CourseFormat,
    CourseModule,
    CourseStatus,
    CreditActivity,
    CreditRule,
    Device,
    Employee,
    EmployeeRole,
    IntegrityAlertKind,
    Mentorship,
    ModuleKind,
    OrgUnit,
    PracticeLog,
    Question,
    QuestionKind,
    Quiz,
    QuizQuestion,
    Role,
    Rubric,
    RubricCriterion,
    Site,
    Tenant,
    TrainingSession,
)
from backend.services.records import ingest
from backend.services.records.handler import IncomingRecord
from backend.services.sessions import qr
from backend.services.viewer import Viewer

K = IntegrityAlertKind
SHANGHAI = ZoneInfo("Asia/Shanghai")
HQ = (31.2304, 121.4737)  # 上海
NORTH = (39.9042, 116.4074)  # 北京, 1,070 km away
QUESTIONS, OPTIONS = 20, ("A", "B", "C", "D")
MISCONCEPTION = 6  # the question most people get wrong the same way (answering "B")
SETTINGS = Settings()


@dataclass
class World:
    tenant: Tenant
    people: dict[str, Employee]
    planted: set[tuple[IntegrityAlertKind, int]]  # (kind, subject employee id)
    honest: set[int]  # employees who did nothing wrong
    edge_cases: dict[str, int]  # honest edge case -> employee id
    start: datetime
    end: datetime


@dataclass
class Phone:
    """One phone of one employee: its outbox sequence and its clock's error."""

    employee: Employee
    device_uid: str
    roles: frozenset[Role]
    seq: int = 0
    clock_error: timedelta = timedelta(0)
    pending: list[IncomingRecord] = field(default_factory=list)

    def record(self, kind: str, at: datetime, payload: dict[str, Any]) -> uuid.UUID:
        """Queue a record that happened at ``at`` (true time; the phone writes its own clock's)."""
        self.seq += 1
        record_id = uuid.uuid4()
        self.pending.append(IncomingRecord(record_id, self.seq, kind, at + self.clock_error, payload))
        return record_id

    async def sync(self, now: datetime) -> None:
        """Push everything queued, arriving at ``now`` (sent by the phone's clock)."""
        if not self.pending:
            return
        viewer = Viewer(self.employee.tenant_id, self.employee, self.roles, uuid.uuid4(), self.device_uid)
        records, self.pending = self.pending, []
        for chunk in range(0, len(records), 200):
            batch = records[chunk : chunk + 200]
            result = await ingest.ingest(
                viewer, self.device_uid, batch, sent_at=now + self.clock_error, now=now, settings=SETTINGS
            )
            refused = [
                (answer.code, record.kind, record.payload)
                for answer, record in zip(result.results, batch)
                if answer.status != "ACCEPTED"
            ]
            assert not refused, (self.employee.employee_no, refused)


class Builder:
    def __init__(self, seed: int) -> None:
        self.dice = random.Random(seed)
        self.phones: dict[str, Phone] = {}
        self.people: dict[str, Employee] = {}
        self.planted: set[tuple[IntegrityAlertKind, int]] = set()
        self.edge_cases: dict[str, int] = {}
        self.roles: dict[str, set[Role]] = defaultdict(lambda: {Role.EMPLOYEE})
        self.start = self.end = datetime.now(UTC)  # the three weeks, set by ``build``

    # --- setup ------------------------------------------------------------------------------

    async def setup(self, password_hash: str, learners: int) -> None:
        self.tenant = tenant = await Tenant.create(code=f"i{uuid.uuid4().hex[:10]}", name="诚信测试有限公司")
        root = await OrgUnit.create(tenant=tenant, code="ROOT", name="总部")
        root.path = f"{root.id}."
        await root.save(update_fields=["path"])
        self.hq = await Site.create(tenant=tenant, code="SH", name="上海", latitude=HQ[0], longitude=HQ[1])
        self.north = await Site.create(tenant=tenant, code="BJ", name="北京", latitude=NORTH[0], longitude=NORTH[1])

        async def person(no: str, *roles: Role) -> Employee:
            employee = await Employee.create(
                tenant=tenant,
                employee_no=no,
                name=f"员工{no}",
                password_hash=password_hash,
                org_unit=root,
                site=self.hq,
            )
            for role in (Role.EMPLOYEE, *roles):
                await EmployeeRole.create(tenant=tenant, employee=employee, role=role)
                self.roles[no].add(role)
            self.people[no] = employee
            return employee

        await person("HR", Role.HR_ADMIN)
        self.mentors = [f"M{i}" for i in range(1, 7)]
        for no in self.mentors:
            await person(no, Role.MENTOR)
        self.learners = [f"L{i:02d}" for i in range(1, learners + 1)]
        for no in self.learners:
            await person(no)
        course = await Course.create(
            tenant=tenant,
            code="C1",
            title="岗位实操",
            summary="",
            scenario="新员工入职",
            format=CourseFormat.OJT,
            status=CourseStatus.PUBLISHED,
            hours=Decimal(8),
            credits=Decimal(10),
        )
        self.course = course
        self.rubric = await Rubric.create(tenant=tenant, code="R", title="实操评分", scale_min=1, scale_max=5)
        self.criteria = [
            await RubricCriterion.create(tenant=tenant, rubric=self.rubric, position=p, title=f"维度{p}", weight=1)
            for p in (1, 2, 3)
        ]
        self.lessons = [
            await CourseModule.create(
                tenant=tenant, course=course, position=p, title=f"课{p}", kind=ModuleKind.LESSON, required_count=50
            )
            for p in (1, 2, 3)
        ]
        self.quiz_module = await CourseModule.create(
            tenant=tenant, course=course, position=4, title="测验", kind=ModuleKind.QUIZ
        )
        quiz = await Quiz.create(
            tenant=tenant, module=self.quiz_module, title="测验", pass_mark=60, attempts_allowed=10
        )
        self.questions = []
        for position in range(1, QUESTIONS + 1):
            question = await Question.create(
                tenant=tenant,
                course=course,
                kind=QuestionKind.SINGLE_CHOICE,
                prompt=f"第{position}题",
                options=[{"key": key, "text": key} for key in OPTIONS],
                answer_key=["A"],
                points=Decimal(1),
            )
            await QuizQuestion.create(tenant=tenant, quiz=quiz, question=question, position=position)
            self.questions.append(question)
        self.practice = await CourseModule.create(
            tenant=tenant,
            course=course,
            position=5,
            title="实操",
            kind=ModuleKind.PRACTICE,
            required_count=100,
            rubric=self.rubric,
        )
        for key, activity, credits in (
            ("lesson", CreditActivity.LESSON_COMPLETED, 10),
            ("quiz", CreditActivity.QUIZ_PASSED, 20),
            ("practice", CreditActivity.PRACTICE_CONFIRMED, 10),
            ("evaluation", CreditActivity.EVALUATION_SCORED, 20),
            ("attendance", CreditActivity.ATTENDANCE, 10),
        ):
            await CreditRule.create(tenant=tenant, rule_key=key, name=key, activity=activity, credits=credits)
        # Each mentor has the learners whose number is theirs modulo the mentors.
        self.mentor_of = {no: self.mentors[i % len(self.mentors)] for i, no in enumerate(self.learners)}
        for no, mentor in self.mentor_of.items():
            await self._mentorship(mentor, no)
        for no in self.people:
            await self._phone(no, f"phone-{no}")

    async def _mentorship(self, mentor: str, mentee: str) -> None:
        await Mentorship.create(
            tenant=self.tenant,
            mentor=self.people[mentor],
            mentee=self.people[mentee],
            starts_on=(self.start - timedelta(days=30)).date(),
        )

    async def _phone(self, no: str, device_uid: str, key: str | None = None) -> Phone:
        employee = self.people[no]
        await Device.create(tenant=self.tenant, employee=employee, device_uid=device_uid)
        phone = Phone(employee, device_uid, frozenset(self.roles[no]))
        self.phones[key or no] = phone
        return phone

    def plant(self, kind: IntegrityAlertKind, no: str) -> None:
        self.planted.add((kind, self.people[no].id))

    # --- facts --------------------------------------------------------------------------------

    def at(self, day: datetime, hour: float) -> datetime:
        """A Shanghai working hour of ``day``, in UTC."""
        local = datetime.combine(day.astimezone(SHANGHAI).date(), time(), SHANGHAI) + timedelta(hours=hour)
        return local.astimezone(UTC)

    def lesson(self, phone: Phone, at: datetime, seconds: int = 900) -> uuid.UUID:
        module = self.dice.choice(self.lessons)
        return phone.record(
            "LESSON_COMPLETED",
            at,
            {"moduleId": to_global_id("CourseModule", module.id), "secondsSpent": seconds},
        )

    def answers(self, skill: float) -> dict[str, str]:
        """A person's answers: right with probability ``skill``; a wrong one is the common
        misconception on its question, else any wrong option."""
        chosen = {}
        for position, question in enumerate(self.questions, 1):
            if self.dice.random() < skill:
                chosen[str(question.id)] = "A"
            elif position == MISCONCEPTION:
                chosen[str(question.id)] = "B"
            else:
                chosen[str(question.id)] = self.dice.choice(OPTIONS[1:])
        return chosen

    def quiz(self, phone: Phone, finished: datetime, seconds: float, answers: dict[str, str]) -> uuid.UUID:
        started = finished - timedelta(seconds=seconds) + phone.clock_error
        return phone.record(
            "QUIZ_SUBMISSION",
            finished,
            {
                "quizId": to_global_id("CourseModule", self.quiz_module.id),
                "answers": answers,
                "startedAt": started.isoformat(),
            },
        )

    async def session(self, site: Site, starts: datetime) -> TrainingSession:
        return await TrainingSession.create(
            tenant=self.tenant,
            course=self.course,
            title="实操课",
            instructor=self.people["HR"],
            site=site,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            capacity=100,
            allows_walk_in=True,
            secret=secrets.token_hex(32),
        )

    def check_in(
        self, phone: Phone, session: TrainingSession, at: datetime, where: tuple[float, float] | None
    ) -> uuid.UUID:
        step = qr.step_at(at, session.rotation_seconds)
        payload: dict[str, Any] = {"token": qr.token_for(session.secret, self.tenant.id, session.id, step)}
        if where is not None:
            payload |= {"latitude": where[0], "longitude": where[1]}
        return phone.record("CHECK_IN", at, payload)

    def near(self, place: tuple[float, float], metres: float) -> tuple[float, float]:
        """A point about ``metres`` north-east of ``place``."""
        step = metres / 111_000 / 1.4142
        return place[0] + step, place[1] + step

    def log_practice(self, phone: Phone, at: datetime) -> uuid.UUID:
        return phone.record(
            "PRACTICE_LOG", at, {"moduleId": to_global_id("CourseModule", self.practice.id), "quantity": 1}
        )

    async def review(self, mentor: Phone, log_record: uuid.UUID, at: datetime, confirm: bool) -> None:
        log = await PracticeLog.get(record_id=log_record)
        payload: dict[str, Any] = {
            "practiceId": to_global_id("PracticeLog", log.id),
            "decision": "CONFIRMED" if confirm else "REJECTED",
        }
        if not confirm:
            payload["note"] = "请补充细节"
        mentor.record("PRACTICE_REVIEW", at, payload)

    def evaluate(self, mentor: Phone, mentee: str, at: datetime, scores: list[int]) -> None:
        mentor.record(
            "MENTOR_EVALUATION",
            at,
            {
                "evaluationId": str(uuid.uuid4()),
                "menteeId": to_global_id("Employee", self.people[mentee].id),
                "moduleId": to_global_id("CourseModule", self.practice.id),
                "baseVersion": 0,
                "scores": {to_global_id("RubricCriterion", c.id): s for c, s in zip(self.criteria, scores)},
                "submit": True,
            },
        )


@dataclass
class Cast:
    """Who plays which part: learners by number (the rest are plain honest people)."""

    burst: list[str]
    too_fast: list[str]
    sharers: list[tuple[str, str]]
    reciprocal: tuple[str, str]
    far_away: list[str]
    no_location: str
    shared: dict[str, str]  # learner -> the colleague whose phone they use
    travellers: list[str]
    jumpy: list[str]
    backdater: str
    fast_learner: str
    train: str
    wrong_clock: str
    remote: str
    drifting: str
    lenient: str = "M1"
    quick: str = "M2"
    strict: str = "M3"

    @classmethod
    def of(cls, learners: list[str]) -> Cast:
        L = learners
        return cls(
            burst=L[0:3],
            too_fast=L[3:6],
            sharers=[(L[6], L[7]), (L[8], L[9])],
            reciprocal=(L[10], L[11]),
            far_away=L[12:14],
            no_location=L[14],
            shared={L[15]: L[30], L[16]: L[31]},
            travellers=L[17:19],
            jumpy=L[19:21],
            backdater=L[21],
            fast_learner=L[22],
            train=L[23],
            wrong_clock=L[24],
            remote=L[26],  # mentored by the strict mentor (the quick one confirms everything within seconds)
            drifting=L[25],
        )

    def partner(self, no: str) -> str:
        return self.reciprocal[1 - self.reciprocal.index(no)]


async def build(password_hash: str, seed: int = 17, learners: int = 36, days: int = 21) -> World:
    b = Builder(seed)
    # Three weeks ending on a Friday at least two days back: every arrival (a mentor's next-morning
    # sync) is in the past, and whatever the day the test runs, the weeks fall the same way, so the
    # seeded dice make the same company.
    friday = datetime.now(SHANGHAI).date() - timedelta(days=2)
    friday -= timedelta(days=(friday.weekday() - 4) % 7)
    b.end = end = datetime.combine(friday, time(23), SHANGHAI).astimezone(UTC)
    b.start = start = end - timedelta(days=days)
    await b.setup(password_hash, learners)
    cast = Cast.of(b.learners)
    people = b.people
    b.edge_cases = {
        "fast learner": people[cast.fast_learner].id,
        "strict mentor": people[cast.strict].id,
        "train between sites": people[cast.train].id,
        "wrong clock corrected once": people[cast.wrong_clock].id,
        "a week offline": people[cast.remote].id,
        "GPS drift": people[cast.drifting].id,
    }
    # The pair mentoring each other; the colleagues' phones the shared-device learners use (the
    # owners' own device ids); the phone whose clock is 5 hours ahead until corrected.
    await b._mentorship(cast.reciprocal[0], cast.reciprocal[1])
    await b._mentorship(cast.reciprocal[1], cast.reciprocal[0])
    for no, owner in cast.shared.items():
        await b._phone(no, f"phone-{owner}", key=f"{no}@{owner}")
    b.phones[cast.wrong_clock].clock_error = timedelta(hours=5)
    days_worked = [
        start + timedelta(days=d) for d in range(days) if (start + timedelta(days=d)).astimezone(SHANGHAI).weekday() < 5
    ]
    skill = {no: b.dice.uniform(0.6, 0.9) for no in b.learners} | {cast.fast_learner: 1.0}
    waiting: list[tuple[str, uuid.UUID, datetime]] = []  # practice logs not reviewed yet
    for index, day in enumerate(days_worked):
        waiting = await _honest_day(b, cast, index, day, day in days_worked[1::4], skill, waiting)
    # The offline office syncs its weeks at last; its mentor reviews them the next morning.
    evening = b.at(days_worked[-1], 19.8)
    await b.phones[cast.remote].sync(evening)
    for mentee, record, _ in waiting:
        await b.review(b.phones[b.mentor_of[mentee]], record, evening + timedelta(hours=13), True)
    await b.phones[b.mentor_of[cast.remote]].sync(evening + timedelta(hours=14))
    await _plant(b, cast, days_worked)
    planted_people = {employee for _, employee in b.planted}
    honest = {people[no].id for no in (*b.learners, *b.mentors) if people[no].id not in planted_people}
    return World(b.tenant, people, b.planted, honest, b.edge_cases, start, end)


async def _honest_day(
    b: Builder,
    cast: Cast,
    index: int,
    day: datetime,
    quiz_day: bool,
    skill: dict[str, float],
    waiting: list[tuple[str, uuid.UUID, datetime]],
) -> list[tuple[str, uuid.UUID, datetime]]:
    """One working day of honest activity, synced in the evening (the offline office keeps its
    records for later); the mentors review the logs on the server and sometimes evaluate.
    Returns the logs still waiting for a review (the offline office's)."""
    dice, phones = b.dice, b.phones
    # Clocks of the day: the jumpy phones 3 hours ahead, then behind, then ahead …; the wrong
    # clock corrected once, by its owner, on the sixth working day.
    for no in cast.jumpy:
        phones[no].clock_error = timedelta(hours=3 if index % 2 else -3)
    if index == 5:
        phones[cast.wrong_clock].clock_error = timedelta(0)
    session = await b.session(b.hq, b.at(day, 10))
    for no in b.learners:
        if no != cast.remote and dice.random() < 0.5:
            where = b.near(HQ, 300 if no == cast.drifting else dice.uniform(5, 120))
            b.check_in(phones[no], session, b.at(day, 9.9) + timedelta(seconds=dice.randint(0, 400)), where)
    for no in b.learners:
        phone = phones[no]
        for hour in sorted(dice.uniform(9, 17.5) for _ in range(dice.randint(2, 4))):
            on_loan = no in cast.shared and index % 2 == 0
            b.lesson(phones[f"{no}@{cast.shared[no]}"] if on_loan else phone, b.at(day, hour))
        if quiz_day:
            seconds = dice.uniform(200, 420) * (0.4 if no == cast.fast_learner else 1)
            b.quiz(phone, b.at(day, 15) + timedelta(minutes=dice.randint(0, 90)), seconds, b.answers(skill[no]))
        if dice.random() < 0.5:
            when = b.at(day, dice.uniform(13, 17))
            waiting.append((no, b.log_practice(phone, when), when))
    evening = b.at(day, 19) + timedelta(minutes=dice.randint(0, 60))
    for key, phone in phones.items():
        if key != cast.remote:
            await phone.sync(evening)
    return await _mentors_day(b, cast, index, day, evening, waiting)


async def _mentors_day(
    b: Builder,
    cast: Cast,
    index: int,
    day: datetime,
    evening: datetime,
    waiting: list[tuple[str, uuid.UUID, datetime]],
) -> list[tuple[str, uuid.UUID, datetime]]:
    """The mentors review the logs on the server (the quick one within seconds, the others the
    next morning, a few returned) and, every other day, evaluate three mentees each. Returns the
    logs not on the server yet."""
    dice, phones = b.dice, b.phones
    still: list[tuple[str, uuid.UUID, datetime]] = []
    for mentee, record, when in waiting:
        if not await PracticeLog.exists(tenant_id=b.tenant.id, record_id=record):  # not on the server yet
            still.append((mentee, record, when))
            continue
        mentor = b.mentor_of[mentee] if mentee not in cast.reciprocal else cast.partner(mentee)
        if mentor == cast.quick:  # confirms within seconds of the log arriving
            await b.review(phones[mentor], record, evening + timedelta(seconds=dice.randint(3, 15)), True)
            await phones[mentor].sync(evening + timedelta(seconds=20))
        else:
            await b.review(
                phones[mentor], record, evening + timedelta(hours=dice.uniform(12, 14.5)), dice.random() < 0.85
            )
    if index % 2 == 1:
        for mentor in b.mentors:
            mentees = [no for no in b.learners if b.mentor_of[no] == mentor and no not in cast.reciprocal]
            for mentee in dice.sample(mentees, min(3, len(mentees))):
                if mentor == cast.lenient:
                    scores = [5, 5, 5]
                elif mentor == cast.strict:
                    scores = [dice.choice((1, 2, 3)) for _ in range(3)]
                else:
                    scores = [dice.choice((3, 4, 4, 4, 5)) for _ in range(3)]
                b.evaluate(phones[mentor], mentee, b.at(day, 16), scores)
    for no in (*b.mentors, *cast.reciprocal):
        await phones[no].sync(evening + timedelta(hours=15))
    return still


async def _plant(b: Builder, cast: Cast, days_worked: list[datetime]) -> None:
    """The planted cases, on the last working days."""
    phones, last, before = b.phones, days_worked[-1], days_worked[-2]
    for no in cast.burst:
        b.plant(K.FARMING_BURST, no)
        moment = b.at(before, 20)
        for i in range(25):
            b.lesson(phones[no], moment + timedelta(seconds=i * 1.6), seconds=60)
        await phones[no].sync(moment + timedelta(minutes=5))
    for no in cast.too_fast:
        b.plant(K.QUIZ_TOO_FAST, no)
        b.quiz(phones[no], b.at(last, 11), 15, b.answers(0.95))
        await phones[no].sync(b.at(last, 11.5))
    # Each pair copies a weaker colleague's sheet: five identical wrong answers, none the common one.
    sheets = (
        ((2, "C"), (4, "D"), (8, "C"), (9, "D"), (15, "B")),
        ((3, "D"), (7, "C"), (11, "B"), (13, "D"), (18, "C")),
    )
    for pair, mistakes in zip(cast.sharers, sheets):
        copied = {str(q.id): "A" for q in b.questions}
        for position, wrong in mistakes:
            copied[str(b.questions[position - 1].id)] = wrong
        for no, hour in zip(pair, (14, 14.3)):
            b.plant(K.ANSWER_SHARING, no)
            b.quiz(phones[no], b.at(last, hour), 400, dict(copied))
            await phones[no].sync(b.at(last, 18))
    b.plant(K.LENIENT_MENTOR, cast.lenient)
    b.plant(K.LENIENT_MENTOR, cast.quick)
    for mentee in cast.reciprocal:  # three more logs each, confirmed by the other
        b.plant(K.RECIPROCAL_CONFIRMATION, mentee)
        other = cast.partner(mentee)
        for hour in (10, 13, 16):
            when = b.at(last, hour)
            record = b.log_practice(phones[mentee], when)
            await phones[mentee].sync(when + timedelta(minutes=5))
            await b.review(phones[other], record, when + timedelta(hours=2), True)
            await phones[other].sync(when + timedelta(hours=2, minutes=1))
    await _plant_places(b, cast, last)
    for no in cast.shared:
        b.plant(K.SHARED_DEVICE, no)
    for no in cast.jumpy:
        b.plant(K.CLOCK_TAMPERING, no)
    b.plant(K.CLOCK_TAMPERING, cast.backdater)
    for i in range(8):  # lessons of four working days ago, sent after three evenings' syncs
        b.lesson(phones[cast.backdater], b.at(days_worked[-5], 9 + i * 0.5))
    await phones[cast.backdater].sync(b.at(last, 19.5))


async def _plant_places(b: Builder, cast: Cast, last: datetime) -> None:
    """Codes used far away or without a location; impossible travel; and the honest train."""
    phones = b.phones
    final = await b.session(b.hq, b.at(last, 10))
    located = b.learners[27:36]
    for no in located:
        b.check_in(phones[no], final, b.at(last, 9.95), b.near(HQ, 40))
    for no in cast.far_away:
        b.plant(K.CODE_SHARING, no)
        b.check_in(phones[no], final, b.at(last, 9.97), b.near(HQ, 30_000))
    b.plant(K.CODE_SHARING, cast.no_location)
    b.check_in(phones[cast.no_location], final, b.at(last, 9.96), None)
    for no in (*located, *cast.far_away, cast.no_location):
        await phones[no].sync(b.at(last, 10.2))
    # The train: Shanghai at 09:54, Beijing at 14:27 (1,070 km in 4.5 hours: a high-speed train).
    morning = await b.session(b.hq, b.at(last, 9.9))
    north_late = await b.session(b.north, b.at(last, 14.5))
    north_early = await b.session(b.north, b.at(last, 10.6))
    b.check_in(phones[cast.train], morning, b.at(last, 9.9), b.near(HQ, 50))
    b.check_in(phones[cast.train], north_late, b.at(last, 14.45), b.near(NORTH, 50))
    await phones[cast.train].sync(b.at(last, 15))
    for no in cast.travellers:  # Shanghai, then Beijing 40 minutes later
        b.plant(K.IMPOSSIBLE_TRAVEL, no)
        b.check_in(phones[no], morning, b.at(last, 9.92), b.near(HQ, 60))
        b.check_in(phones[no], north_early, b.at(last, 10.58), b.near(NORTH, 60))
        await phones[no].sync(b.at(last, 11))
