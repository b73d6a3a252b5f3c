"""The demo company's credits: the program, rules, targets, rewards, and about four months of
history (lessons, quizzes, check-ins at past sessions, confirmed practice, redemptions) recorded
through ``activity.ingest`` like phones record it, so every credit in the demo was derived by
the rules engine and every balance is the sum of its ledger.
"""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.demo.ojt import _answers, _phone
from backend.ids import to_global_id
from backend.models import (
    Course,
    CourseModule,
    CourseStatus,
    CreditAccount,
    CreditActivity,
    CreditProgram,
    CreditRule,
    CreditTarget,
    Employee,
    Enrollment,
    EnrollmentStatus,
    ModuleKind,
    Position,
    PracticeLog,
    Question,
    Quiz,
    QuizQuestion,
    Reward,
    RewardCategory,
    Site,
    Tenant,
    TrainingSession,
)
from backend.services.catalog import course_catalog
from backend.services.sessions import qr

# (rule key, name, activity, credits, other CreditRule fields); credits in tenths are set below.
RULES: tuple[tuple[str, str, CreditActivity, str, dict[str, Any]], ...] = (
    ("LESSON", "完成一节课", CreditActivity.LESSON_COMPLETED, "0.5", {"cap_per_day": "2"}),
    ("ATTEND", "准时参加面授培训", CreditActivity.ATTENDANCE, "1", {"min_score": 100}),
    ("QUIZ-80", "测验成绩 80 分以上", CreditActivity.QUIZ_PASSED, "2", {"min_score": 80}),
    ("PRACTICE-5", "每 5 次导师确认的实操练习", CreditActivity.PRACTICE_CONFIRMED, "1", {"every_n": 5}),
    ("EVAL-80", "导师评价 80 分以上", CreditActivity.EVALUATION_SCORED, "3", {"min_score": 80}),
    (
        "EVAL-95",
        "导师评价 95 分以上（优秀，需 HR 审核）",
        CreditActivity.EVALUATION_SCORED,
        "5",
        {"min_score": 95, "requires_approval": True},
    ),
    ("MODULE", "完成一个模块", CreditActivity.MODULE_COMPLETED, "0.5", {"cap_per_week": "5"}),
    ("COURSE", "完成一门课程", CreditActivity.COURSE_COMPLETED, "2", {}),
    ("FIRST-COURSE", "首次完成课程奖励", CreditActivity.COURSE_COMPLETED, "3", {"first_time_only": True}),
    ("SAFETY", "安全类课程加分", CreditActivity.COURSE_COMPLETED, "1", {"scenario": "安全"}),
    ("SURVEY", "回答培训反馈问卷", CreditActivity.SURVEY_ANSWERED, "0.5", {}),
)
# Yearly targets: base + per grade above 1, for every position family.
TARGET_BASE, TARGET_PER_GRADE = 20, 5
# (code, name, description, category, cost, stock, per person, needs approval)
REWARDS = (
    (
        "SUB-500",
        "外部培训补贴 500 元",
        "参加经批准的外部培训，凭发票报销。",
        RewardCategory.TRAINING_SUBSIDY,
        "20",
        30,
        2,
        True,
    ),
    ("CERT-PMP", "PMP 认证考试费用报销", "通过考试后报销报名费。", RewardCategory.CERTIFICATE, "40", 5, 1, True),
    ("STAR", "月度学习之星", "在月度会议上表彰，并记入个人档案。", RewardCategory.HONOUR, "10", None, None, False),
    ("PROMO", "储备干部培养计划名额", "进入下一期储备干部培养计划。", RewardCategory.PROMOTION_TRACK, "60", 3, 1, True),
    ("BOOK", "专业书籍一本", "从推荐书单中任选一本。", RewardCategory.GIFT, "5", 100, 3, False),
    ("MUG", "学分纪念马克杯", "限量纪念品。", RewardCategory.GIFT, "3", 50, 1, False),
)
HISTORY_DAYS = 120
LEARNERS = 80  # employees with a few months of recorded learning


def _tenths(credits: str) -> int:
    return int(float(credits) * 10)


async def load_setup(tenant: Tenant) -> None:
    """Program, rules, targets and rewards (inside the demo's loading transaction)."""
    await CreditProgram.create(tenant=tenant, period_months=12, time_zone="Asia/Shanghai")
    hr = await Employee.get(tenant=tenant, employee_no="HR001")
    for key, name, activity, credits, extra in RULES:
        settings: dict[str, Any] = {k: (_tenths(v) if k.startswith("cap_") else v) for k, v in extra.items()}
        await CreditRule.create(
            tenant=tenant,
            rule_key=key,
            name=name,
            activity=activity,
            credits=_tenths(credits),
            created_by=hr,
            **settings,
        )
    families = {(p.family, p.grade) for p in await Position.filter(tenant=tenant)}
    await CreditTarget.bulk_create(
        CreditTarget(
            tenant=tenant,
            position_family=family,
            grade=grade,
            credits=(TARGET_BASE + TARGET_PER_GRADE * (grade - 1)) * 10,
        )
        for family, grade in sorted(families)
    )
    await Reward.bulk_create(
        Reward(
            tenant=tenant,
            code=code,
            name=name,
            description=description,
            category=category,
            cost=_tenths(cost),
            stock=stock,
            per_person_limit=limit,
            requires_approval=approval,
        )
        for code, name, description, category, cost, stock, limit, approval in REWARDS
    )


async def load_history(tenant_id: int, now: datetime | None = None) -> None:
    """About four months of learning before ``now`` by many employees, through ingest."""
    now = now or datetime.now(UTC)
    rng = random.Random(20261127)
    learners = (
        await Employee.filter(tenant_id=tenant_id, is_active=True, employee_no__startswith="E")
        .order_by("employee_no")
        .limit(LEARNERS)
    )
    online = await Course.filter(tenant_id=tenant_id, status=CourseStatus.PUBLISHED, format="ONLINE").order_by("code")
    modules: dict[int, list[CourseModule]] = {}
    for module in await CourseModule.filter(course_id__in=[c.id for c in online]).order_by("position"):
        modules.setdefault(module.course_id, []).append(module)
    quizzes = {q.module_id: q for q in await Quiz.filter(module_id__in=[m.id for ms in modules.values() for m in ms])}
    questions: dict[int, list[Question]] = {}
    for link in (
        await QuizQuestion.filter(quiz_id__in=[q.id for q in quizzes.values()])
        .select_related("question")
        .order_by("position")
    ):
        questions.setdefault(link.quiz_id, []).append(link.question)

    for employee in learners:
        phone, _ = await _phone(tenant_id, employee.employee_no)
        for course in rng.sample(online, rng.randint(1, 3)):
            day = now - timedelta(days=rng.randint(10, HISTORY_DAYS), hours=rng.randint(0, 10))
            for module in modules.get(course.id, []):
                day += timedelta(days=rng.randint(0, 4), hours=rng.randint(1, 5))
                if day >= now - timedelta(hours=1):
                    break
                if module.kind == ModuleKind.LESSON:
                    await phone.send(
                        "LESSON_COMPLETED",
                        day,
                        {"moduleId": to_global_id("CourseModule", module.id), "secondsSpent": rng.randint(600, 3600)},
                    )
                elif module.kind == ModuleKind.QUIZ and module.id in quizzes:
                    quiz = quizzes[module.id]
                    bank = questions.get(quiz.id, [])
                    payload = {
                        "quizId": to_global_id("CourseModule", module.id),
                        "answers": _answers(bank, rng.choice((len(bank), len(bank), len(bank) - 1, 2))),
                        "startedAt": (day - timedelta(minutes=rng.randint(4, 9))).isoformat(),
                    }
                    # Only learners who may take the course take its quiz (the server would refuse
                    # it); the random draws happen either way, so the rest of the history is the same.
                    if (await course_catalog.eligibility_for(phone.viewer, [course]))[course.id].eligible:
                        await phone.send("QUIZ_SUBMISSION", day, payload)
    await _past_sessions(tenant_id, now, rng)
    await _practice(tenant_id, now, rng)
    await _redemptions(tenant_id, now, rng)


async def _past_sessions(tenant_id: int, now: datetime, rng: random.Random) -> None:
    """Weekly 新产品知识 sessions at HQ over the last months, with scans at the door."""
    course = await Course.get(tenant_id=tenant_id, code="T-001-01")
    site = await Site.get(tenant_id=tenant_id, code="HQ")
    instructor = await Employee.get(tenant_id=tenant_id, employee_no="MT001")
    attendees = (
        await Employee.filter(
            tenant_id=tenant_id, is_active=True, org_unit__code__startswith="SALES", employee_no__startswith="E"
        )
        .order_by("employee_no")
        .limit(24)
    )
    for weeks_ago in range(14, 0, -2):
        starts_at = (now - timedelta(weeks=weeks_ago)).replace(hour=2, minute=0, second=0, microsecond=0)
        # Stored as plain hex, as before wrapping (`xuefen keys rewrap` wraps it); the demo computes
        # its scans' codes from this copy rather than reading the column back.
        secret = secrets.token_hex(32)
        session = await TrainingSession.create(
            tenant_id=tenant_id,
            course=course,
            title=f"新产品知识 · 往期（{starts_at:%m-%d}）",
            instructor=instructor,
            site=site,
            location="培训室 A",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            capacity=30,
            seats_taken=0,
            secret=secret,
        )
        group = rng.sample(attendees, 8)
        await Enrollment.bulk_create(
            Enrollment(tenant_id=tenant_id, session=session, employee=e, status=EnrollmentStatus.ENROLLED)
            for e in group
        )
        await TrainingSession.filter(id=session.id).update(seats_taken=len(group))
        for employee in group[:7]:  # one of them never came
            scan = starts_at + timedelta(minutes=rng.choice((-12, -6, -2, 3, 14)))  # 14 minutes: LATE
            token = qr.token_for(secret, tenant_id, session.id, qr.step_at(scan, session.rotation_seconds))
            # Scanned with the work phone, whose records run in time order (the personal phone's
            # months of lessons were sent first, and a scan older than them would be held).
            phone, _ = await _phone(tenant_id, employee.employee_no, "-work")
            await phone.send("CHECK_IN", scan, {"token": token, "latitude": 31.2036, "longitude": 121.5905})


async def _practice(tenant_id: int, now: datetime, rng: random.Random) -> None:
    """Sales staff practise 客户拜访 with their mentor confirming; the mentor's phone reviews."""
    practice = await CourseModule.get(
        course__tenant_id=tenant_id, course__code="T-002-01", kind=ModuleKind.PRACTICE, position=2
    )
    staff = (
        await Employee.filter(
            tenant_id=tenant_id, is_active=True, mentor_id__not_isnull=True, org_unit__code="SALES-EAST"
        )
        .exclude(employee_no="E0001")
        .order_by("employee_no")
        .limit(8)
    )
    for employee in staff:
        phone, _ = await _phone(tenant_id, employee.employee_no)
        for _ in range(rng.randint(2, 5)):
            day = now - timedelta(days=rng.randint(5, 90), hours=rng.randint(0, 8))
            await phone.send(
                "PRACTICE_LOG",
                day,
                {
                    "moduleId": to_global_id("CourseModule", practice.id),
                    "quantity": rng.randint(1, 3),
                    "note": "客户拜访练习",
                },
            )
        mentor_no = (await Employee.get(id=employee.mentor_id)).employee_no
        mentor, _ = await _phone(tenant_id, mentor_no)
        for log in await PracticeLog.filter(tenant_id=tenant_id, employee=employee).order_by("practiced_at"):
            await mentor.send(
                "PRACTICE_REVIEW",
                log.practiced_at + timedelta(hours=6),
                {
                    "practiceId": to_global_id("PracticeLog", log.id),
                    "decision": "CONFIRMED",
                    "note": "确认",
                },
            )


async def _redemptions(tenant_id: int, now: datetime, rng: random.Random) -> None:
    """The richest learners have spent some credits in the store."""
    rewards = {r.code: r for r in await Reward.filter(tenant_id=tenant_id)}
    accounts = await CreditAccount.filter(tenant_id=tenant_id).order_by("-balance", "employee_id").limit(12)
    for account in accounts:
        employee = await Employee.get(id=account.employee_id)
        phone, _ = await _phone(tenant_id, employee.employee_no)
        for code in rng.sample(("BOOK", "MUG", "STAR", "SUB-500"), 2):
            reward = rewards[code]
            if account.balance >= reward.cost:
                await phone.send(
                    "REWARD_REDEEMED",
                    now - timedelta(days=rng.randint(1, 20)),
                    {"rewardId": to_global_id("Reward", reward.id)},
                )
                account.balance -= reward.cost
