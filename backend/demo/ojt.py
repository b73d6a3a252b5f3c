"""The demo company's on-the-job training: quizzes, rubrics, mentorships, the skills each position
needs (with the 云计算 example of the product's seed article), and some weeks of history.

Setup rows (quizzes, rubrics, mentorships, requirements) are inserted directly. The history is
recorded the way phones record it, through ``activity.ingest``: lessons, quiz attempts, practice
logs, the mentors' confirmations and evaluations. Levels, evidence and progress are therefore
derived by the same code as in production, and the demo shows what real use looks like.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from backend.demo.media import EVIDENCE_PHOTOS, evidence_photo
from backend.ids import to_global_id
from backend.models import (
    Course,
    CourseFormat,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    CourseStatus,
    Device,
    Employee,
    EmployeeRole,
    EmployeeSkill,
    Mentorship,
    ModuleKind,
    Position,
    PositionSkill,
    PracticeLog,
    Question,
    QuestionKind,
    Quiz,
    QuizQuestion,
    Rubric,
    RubricCriterion,
    Skill,
    Tenant,
)
from backend.services.records.handler import IncomingRecord
from backend.services.records.ingest import ingest
from backend.services.viewer import Viewer

CLOUD = ("TEC-CLOUD", "云计算", "技术")
CLOUD_BAR = 80  # the seed article: project staff below 80 in 云计算 get the basics course
# (code, title, summary, format, target level, modules as (kind, title, required, requirement))
CLOUD_COURSES = (
    (
        "T-020-01",
        "云计算基础",
        "云服务模型、虚拟化、存储与网络、云上安全的基础知识。",
        CourseFormat.ONLINE,
        85,
        (
            (ModuleKind.LESSON, "云计算核心概念", 1, "学完全部课件"),
            (ModuleKind.LESSON, "主流云服务与计费", 1, "学完全部课件"),
            (ModuleKind.QUIZ, "随堂测验", 1, "测验成绩不低于 80 分"),
        ),
    ),
    (
        "T-020-02",
        "云原生运维实战",
        "容器、编排与可观测性，在导师带领下完成真实环境的部署演练。",
        CourseFormat.OJT,
        92,
        (
            (ModuleKind.LESSON, "容器与编排入门", 1, "参加授课并签到"),
            (ModuleKind.PRACTICE, "部署演练", 5, "在测试环境完成 5 次部署演练"),
            (ModuleKind.ASSESSMENT, "结业考核", 1, "通过导师的结业考核（不低于 80 分）"),
        ),
    ),
)

# Skills each position series needs: (skill, level at grade 1, added per grade above 1).
REQUIREMENTS = {
    "SAL-AM": (("SAL-NEEDS", 50, 10), ("SAL-PROD", 60, 5), ("SAL-NEGO", 40, 10), ("SAL-CRM", 60, 0)),
    "TEC-RD": (("TEC-PY", 50, 10), ("TEC-DB", 50, 5), ("TEC-CLOUD", CLOUD_BAR, 0)),
    "TEC-OPS": (("TEC-LINUX", 60, 5), ("TEC-CLOUD", CLOUD_BAR, 0), ("TEC-TICKET", 60, 0)),
    "MGT-MGR": (("MGT-TEAM", 60, 5), ("MGT-COACH", 60, 5)),
    "PRD-OP": (("SAF-OPS", 80, 0), ("TEC-PLC", 50, 10)),
    "SVC-CS": (("TEC-TICKET", 70, 0), ("SAL-PROD", 60, 0)),
    "FUN-HR": (("MGT-COMM", 60, 5),),
    "FUN-EHS": (("SAF-FIRE", 80, 0), ("SAF-HAZ", 70, 0)),
}

# (code, title, criteria as (title, weight, what 1 / 3 / 5 mean))
RUBRICS = (
    (
        "OJT-PRACTICE",
        "实操练习评分表",
        (
            ("准备充分", "1", ("未做准备", "有基本准备", "准备充分且有预案")),
            ("操作规范", "2", ("多处不规范", "基本规范", "完全符合规范")),
            ("沟通表达", "1", ("表达不清", "表达清楚", "清楚且有说服力")),
            ("结果质量", "2", ("未达成目标", "基本达成", "超出预期")),
        ),
    ),
    (
        "FINAL-ASSESS",
        "结业考核评分表",
        (
            ("知识掌握", "1", ("概念不清", "掌握要点", "融会贯通")),
            ("实操能力", "2", ("需要指导", "独立完成", "熟练且高效")),
            ("问题解决", "2", ("无法处理", "能处理常见问题", "能处理复杂问题")),
            ("安全合规", "1", ("有违规", "基本合规", "完全合规并能提醒他人")),
        ),
    ),
)
ASSESSMENT_BAR = 80

TRUE_FALSE, SINGLE, MULTIPLE, SHORT = (
    QuestionKind.TRUE_FALSE,
    QuestionKind.SINGLE_CHOICE,
    QuestionKind.MULTIPLE_CHOICE,
    QuestionKind.SHORT_TEXT,
)
# A small bank per scenario: (kind, prompt, options, answer key, explanation). Every QUIZ module of
# a scenario's courses gets its own copy (banks are per course).
QUESTION_BANKS = {
    "销售": (
        (
            SINGLE,
            "SPIN 提问法中，“I” 代表哪类问题？",
            ("背景问题", "难点问题", "暗示问题", "需求效益问题"),
            ["C"],
            "I = Implication，暗示问题：让客户意识到难点的后果。",
        ),
        (
            MULTIPLE,
            "拜访客户前应准备哪些内容？",
            ("客户背景资料", "拜访目标", "产品资料", "个人简历"),
            ["A", "B", "C"],
            "个人简历与客户拜访无关。",
        ),
        (TRUE_FALSE, "报价时应先了解客户预算与决策流程。", (), True, "先了解预算与决策链，报价才有针对性。"),
        (SHORT, "客户说“价格太贵”，这类回应属于什么？", (), {"keywords": ["异议"]}, "这是价格异议，需要先确认再处理。"),
    ),
    "技术": (
        (
            SINGLE,
            "IaaS、PaaS、SaaS 中，由用户自己管理操作系统的是？",
            ("IaaS", "PaaS", "SaaS", "都不是"),
            ["A"],
            "IaaS 只提供计算、存储、网络，操作系统由用户管理。",
        ),
        (
            MULTIPLE,
            "下列哪些属于容器编排的能力？",
            ("自动扩缩容", "滚动升级", "故障自愈", "代码补全"),
            ["A", "B", "C"],
            "代码补全是开发工具的能力。",
        ),
        (TRUE_FALSE, "生产环境的数据库密码可以写在代码仓库中。", (), False, "密钥应来自配置或密钥管理服务。"),
        (
            SHORT,
            "排查线上故障时，第一步通常要做什么？",
            (),
            {"keywords": ["止损", "恢复"], "minKeywords": 1},
            "先止损、恢复服务，再定位根因。",
        ),
    ),
    "管理": (
        (SINGLE, "SMART 目标中的 “M” 指的是？", ("可衡量", "有意义", "可管理", "多样化"), ["A"], "M = Measurable。"),
        (TRUE_FALSE, "绩效反馈应当只在年终进行。", (), False, "及时、经常的反馈效果更好。"),
        (
            MULTIPLE,
            "有效辅导下属的做法包括？",
            ("提出开放式问题", "直接给出所有答案", "约定跟进时间", "认可进步"),
            ["A", "C", "D"],
            "辅导重在引导思考，而非代替下属解决。",
        ),
        (SHORT, "描述一次你如何处理团队冲突（由导师评分）。", (), {}, "开放题，由导师或 HR 人工评分。"),
    ),
    "安全": (
        (
            SINGLE,
            "电器着火时首先应该？",
            ("用水扑灭", "切断电源", "打开门窗", "继续工作"),
            ["B"],
            "先断电，再用干粉灭火器，切勿用水。",
        ),
        (
            MULTIPLE,
            "进入受限空间作业前必须？",
            ("气体检测", "办理作业票", "设置监护人", "单独进入"),
            ["A", "B", "C"],
            "受限空间作业严禁单人进入。",
        ),
        (TRUE_FALSE, "灭火器压力表指针在绿区表示压力正常。", (), True, "红区为压力不足，黄区为压力过高。"),
        (
            SHORT,
            "发现有人触电，第一步应该做什么？",
            (),
            {"exact": ["切断电源"], "keywords": ["断电", "电源"], "minKeywords": 1},
            "先切断电源，避免施救者触电。",
        ),
    ),
}


async def load_setup(tenant: Tenant, rng: random.Random) -> None:
    """Quizzes, rubrics, the 云计算 courses, position requirements and mentorships (inside the
    demo's loading transaction)."""
    skills = {s.code: s for s in await Skill.filter(tenant=tenant)}
    cloud = skills.get(CLOUD[0]) or await Skill.create(tenant=tenant, code=CLOUD[0], name=CLOUD[1], category=CLOUD[2])
    skills[cloud.code] = cloud
    await _cloud_courses(tenant, cloud)
    await _cloud_levels(tenant, rng, cloud)
    await _requirements(tenant, skills)
    await _rubrics(tenant)
    await _quizzes(tenant)
    await _mentorships(tenant)


async def _cloud_courses(tenant: Tenant, cloud: Skill) -> None:
    previous = None  # each course of the series needs the one before
    for code, title, summary, fmt, target, modules in CLOUD_COURSES:
        course = await Course.create(
            tenant=tenant,
            code=code,
            title=title,
            summary=summary,
            scenario="技术",
            format=fmt,
            status=CourseStatus.PUBLISHED,
            hours=Decimal("4.0"),
            credits=Decimal("1.5"),
        )
        await CourseModule.bulk_create(
            CourseModule(
                tenant=tenant,
                course=course,
                position=position,
                title=m_title,
                kind=kind,
                credits=Decimal("0.5"),
                required_count=required,
                requirement=requirement,
            )
            for position, (kind, m_title, required, requirement) in enumerate(modules, start=1)
        )
        await CourseSkill.create(tenant=tenant, course=course, skill=cloud, target_level=target)
        if previous is not None:
            await CoursePrerequisite.create(tenant=tenant, course=course, required_course=previous)
        previous = course


async def _cloud_levels(tenant: Tenant, rng: random.Random, cloud: Skill) -> None:
    """Most technical staff have a 云计算 level, many of them below the bar."""
    tech = await Employee.filter(tenant=tenant, position__code__startswith="TEC-").order_by("employee_no")
    await EmployeeSkill.bulk_create(
        EmployeeSkill(tenant=tenant, employee=employee, skill=cloud, level=rng.randrange(30, 96))
        for employee in tech
        if rng.random() < 0.8
    )


async def _requirements(tenant: Tenant, skills: dict[str, Skill]) -> None:
    rows = []
    for position in await Position.filter(tenant=tenant).order_by("code"):
        series = position.code.rsplit("-", 1)[0]
        for code, base, per_grade in REQUIREMENTS.get(series, ()):
            level = min(100, base + per_grade * (position.grade - 1))
            rows.append(PositionSkill(tenant=tenant, position=position, skill=skills[code], required_level=level))
    await PositionSkill.bulk_create(rows)


async def _rubrics(tenant: Tenant) -> None:
    made = {}
    for code, title, criteria in RUBRICS:
        rubric = await Rubric.create(tenant=tenant, code=code, title=title, scale_min=1, scale_max=5)
        await RubricCriterion.bulk_create(
            RubricCriterion(
                tenant=tenant,
                rubric=rubric,
                position=position,
                title=c_title,
                weight=Decimal(weight),
                descriptors={"1": low, "3": mid, "5": high},
            )
            for position, (c_title, weight, (low, mid, high)) in enumerate(criteria, start=1)
        )
        made[code] = rubric
    await CourseModule.filter(tenant=tenant, kind=ModuleKind.PRACTICE).update(rubric_id=made["OJT-PRACTICE"].id)
    await CourseModule.filter(tenant=tenant, kind=ModuleKind.ASSESSMENT).update(
        rubric_id=made["FINAL-ASSESS"].id, pass_score=ASSESSMENT_BAR
    )


async def _quizzes(tenant: Tenant) -> None:
    modules = await CourseModule.filter(tenant=tenant, kind=ModuleKind.QUIZ).select_related("course").order_by("id")
    for module in modules:
        bank = QUESTION_BANKS.get(module.course.scenario, QUESTION_BANKS["安全"])
        questions = [
            Question(
                tenant=tenant,
                course=module.course,
                kind=kind,
                prompt=prompt,
                options=[{"key": key, "text": text} for key, text in zip("ABCD", options)],
                answer_key=answer_key,
                points=Decimal(2 if kind == MULTIPLE else 1),
                explanation=explanation,
            )
            for kind, prompt, options, answer_key, explanation in bank
        ]
        await Question.bulk_create(questions)
        saved = await Question.filter(tenant=tenant, course=module.course).order_by("id")
        quiz = await Quiz.create(
            tenant=tenant,
            module=module,
            title=f"{module.course.title} · {module.title}",
            pass_mark=80,
            time_limit_seconds=600,
            attempts_allowed=3,
            shuffle=True,
            review_allowed=True,
        )
        await QuizQuestion.bulk_create(
            QuizQuestion(tenant=tenant, quiz=quiz, question=question, position=position)
            for position, question in enumerate(saved, start=1)
        )


async def _mentorships(tenant: Tenant) -> None:
    """Each employee's mentor mentors them in every course since they were hired."""
    mentees = await Employee.filter(tenant=tenant, mentor_id__not_isnull=True).order_by("employee_no")
    await Mentorship.bulk_create(
        Mentorship(tenant=tenant, mentor_id=e.mentor_id, mentee=e, starts_on=e.hired_on or date(2026, 1, 1))
        for e in mentees
    )


# --- history, recorded through the same service as phones -----------------------------------


class _Phone:
    """One demo employee's phone: numbers records and sends them through ``ingest``."""

    def __init__(self, viewer: Viewer, applied_seq: int = 0) -> None:
        self.viewer = viewer
        self.seq = applied_seq

    async def send(self, kind: str, occurred_at: datetime, payload: dict) -> list[str]:
        self.seq += 1
        record = IncomingRecord(uuid.uuid4(), self.seq, kind, occurred_at, payload)
        # The phone synced a few minutes after the fact, back then: history arrives when it
        # happened (credits, periods and caps see it there), not all at once when the demo loads.
        now = min(occurred_at + timedelta(minutes=5), datetime.now(UTC))
        result = await ingest(self.viewer, self.viewer.device_uid, [record], sent_at=now, now=now)
        return [r.status for r in result.results]


async def _phone(tenant_id: int, employee_no: str, which: str = "") -> tuple[_Phone, Employee]:
    """The employee's demo phone (``which`` names a second one), signed in for a year already: the
    check-in rules do not believe scans from before a phone was first signed in."""
    employee = await Employee.get(tenant_id=tenant_id, employee_no=employee_no)
    roles = frozenset(row.role for row in await EmployeeRole.filter(employee=employee))
    device_uid = f"demo-{employee_no.lower()}{which}"
    device, created = await Device.get_or_create(tenant_id=tenant_id, employee=employee, device_uid=device_uid)
    if created:
        await Device.filter(id=device.id).update(first_seen_at=datetime.now(UTC) - timedelta(days=365))
    return _Phone(Viewer(tenant_id, employee, roles, uuid.uuid4(), device_uid), device.applied_seq), employee


def _answers(questions: list[Question], right: int) -> dict[str, object]:
    """Answers with the first ``right`` questions correct and the rest wrong."""
    answers: dict[str, object] = {}
    for index, question in enumerate(questions):
        key = question.answer_key
        correct = index < right
        if question.kind == QuestionKind.TRUE_FALSE:
            answers[str(question.id)] = key if correct else not key
        elif question.kind == QuestionKind.SHORT_TEXT:
            words = (key.get("exact") or key.get("keywords") or ["不知道"]) if isinstance(key, dict) else ["不知道"]
            answers[str(question.id)] = words[0] if correct else "不清楚"
        elif question.kind == QuestionKind.MULTIPLE_CHOICE:
            answers[str(question.id)] = key if correct else key[:1]
        else:
            answers[str(question.id)] = key[0] if correct else ("D" if key[0] != "D" else "A")
    return answers


async def _take_quiz(phone: _Phone, module: CourseModule, right: int, when: datetime) -> None:
    quiz = await Quiz.get(module=module)
    questions = [
        link.question for link in await QuizQuestion.filter(quiz=quiz).select_related("question").order_by("position")
    ]
    await phone.send(
        "QUIZ_SUBMISSION",
        when,
        {
            "quizId": to_global_id("CourseModule", module.id),
            "answers": _answers(questions, right),
            "startedAt": (when - timedelta(minutes=6)).isoformat(),
        },
    )


async def load_history(tenant_id: int, now: datetime | None = None) -> None:
    """A few weeks of OJT before ``now``: E0001 learning 客户拜访实战 with MT001 confirming and
    scoring, colleagues taking quizzes, technical staff taking the 云计算基础 quiz."""
    now = now or datetime.now(UTC)
    days = lambda n, hour=10: (now - timedelta(days=n)).replace(hour=hour, minute=0, second=0, microsecond=0)  # noqa: E731
    mentor, _ = await _phone(tenant_id, "MT001")
    learner, e0001 = await _phone(tenant_id, "E0001")

    visit = await Course.get(tenant_id=tenant_id, code="T-002-01")
    modules = await CourseModule.filter(course=visit).order_by("position")
    lesson = next(m for m in modules if m.kind == ModuleKind.LESSON)
    practice = next(m for m in modules if m.kind == ModuleKind.PRACTICE)
    await learner.send(
        "LESSON_COMPLETED", days(20), {"moduleId": to_global_id("CourseModule", lesson.id), "secondsSpent": 3600}
    )
    notes = (
        "陪同拜访老客户，练习开场白",
        "独立拜访新客户，挖掘到两个需求",
        "电话预约 + 上门拜访",
        "拜访记录未填写完整",
        "与导师复盘后再次拜访",
        "新客户拜访，现场演示产品",
    )
    for index, note in enumerate(notes):
        await learner.send(
            "PRACTICE_LOG",
            days(18 - 3 * index, 15),
            {
                "moduleId": to_global_id("CourseModule", practice.id),
                "quantity": 1 + index % 2,
                "note": note,
                # The first visits carry a photo of the signed visit record (demo.content uploads
                # the bytes of all but the last, which stays "evidence pending").
                **({"attachments": [evidence_photo(index).named(tenant_id)]} if index < len(EVIDENCE_PHOTOS) else {}),
            },
        )
    created = await PracticeLog.filter(tenant_id=tenant_id, employee=e0001).order_by("practiced_at")
    for log in created[:-2]:  # the two newest wait for MT001
        rejected = "未填写" in log.note
        await mentor.send(
            "PRACTICE_REVIEW",
            log.practiced_at + timedelta(hours=20),
            {
                "practiceId": to_global_id("PracticeLog", log.id),
                "decision": "REJECTED" if rejected else "CONFIRMED",
                "note": "拜访记录要写清客户需求和下一步，补全后重新提交。" if rejected else "很好，注意提问节奏。",
            },
        )

    # MT001 has started scoring E0001's practice on the phone (a draft, not yet submitted).
    rubric_criteria = await RubricCriterion.filter(rubric_id=practice.rubric_id).order_by("position")
    if rubric_criteria:
        await mentor.send(
            "MENTOR_EVALUATION",
            days(2, 17),
            {
                "evaluationId": str(uuid.uuid4()),
                "menteeId": to_global_id("Employee", e0001.id),
                "moduleId": to_global_id("CourseModule", practice.id),
                "baseVersion": 0,
                "scores": {to_global_id("RubricCriterion", c.id): 4 for c in rubric_criteria[:2]},
                "comment": "需求挖掘进步明显，产品讲解还需练习。",
                "submit": False,
            },
        )

    # E0002 passed T-002-01's final assessment with MT001 (submitted, final).
    _, e0002 = await _phone(tenant_id, "E0002")
    final = next(m for m in modules if m.kind == ModuleKind.ASSESSMENT)
    final_criteria = await RubricCriterion.filter(rubric_id=final.rubric_id).order_by("position")
    await mentor.send(
        "MENTOR_EVALUATION",
        days(40, 16),
        {
            "evaluationId": str(uuid.uuid4()),
            "menteeId": to_global_id("Employee", e0002.id),
            "moduleId": to_global_id("CourseModule", final.id),
            "baseVersion": 0,
            "scores": {to_global_id("RubricCriterion", c.id): score for c, score in zip(final_criteria, (5, 4, 5, 4))},
            "comment": "独立完成客户拜访全流程，需求挖掘到位。",
            "submit": True,
        },
    )

    # Quizzes: E0001 fails CRM 入门 once, then passes. Sales colleagues take it too.
    crm_quiz = await CourseModule.get(course__tenant_id=tenant_id, course__code="T-004-01", kind=ModuleKind.QUIZ)
    await _take_quiz(learner, crm_quiz, 2, days(9, 20))
    await _take_quiz(learner, crm_quiz, 4, days(8, 21))
    for number, right in (("E0002", 4), ("E0003", 3), ("E0004", 1), ("E0005", 4)):
        phone, _ = await _phone(tenant_id, number)
        await _take_quiz(phone, crm_quiz, right, days(5 + right, 19))

    # 云计算基础: some technical staff have taken the quiz; levels and evidence follow.
    cloud_quiz = await CourseModule.get(course__tenant_id=tenant_id, course__code="T-020-01", kind=ModuleKind.QUIZ)
    rng = random.Random(20261126)
    tech = (
        await Employee.filter(tenant_id=tenant_id, position__code__startswith="TEC-", is_active=True)
        .order_by("employee_no")
        .limit(12)
    )
    for employee in tech:
        phone, _ = await _phone(tenant_id, employee.employee_no)
        await _take_quiz(phone, cloud_quiz, rng.randint(1, 4), days(rng.randint(2, 30), rng.randint(9, 21)))
