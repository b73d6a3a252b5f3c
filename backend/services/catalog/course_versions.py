"""A course's life and its versions (HR admins).

Lifecycle: DRAFT → PUBLISHED (needs a module, and a required one) → RETIRED (kept for history:
completions, progress and credits stay; no new learners, who see it no more). PUBLISHED → DRAFT
is allowed only while nobody has started the course (STILL_IN_USE otherwise: retire it or make a
new version). RETIRED is final; any other change is INVALID_STATUS_CHANGE. Asking for the status
a course already has changes nothing (a retried request is harmless).

A new version is a new DRAFT course row copying the old one (fields, modules with their rubric and
quiz, eligibility, prerequisites, skills) with ``previous_version`` pointing back, so every
completion, progress row and credit of the old one stays where it was earned. Publishing it
retires the old one in the same transaction, and an old version once replaced is not published
again (VALIDATION). A prerequisite is met by completing any version of the required course
(``course_catalog.LearnerProfile.has_completed``). Credit rules, mentorships and training sessions
that name the old version (or its modules) stay with it: HR points them at the new one.
"""

from __future__ import annotations

import re

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseCompletion,
    CourseEligibilityRule,
    CourseModule,
    CoursePrerequisite,
    CourseSkill,
    CourseStatus,
    CreditEvent,
    DataStandardSubject,
    Enrollment,
    MentorEvaluation,
    ModuleProgress,
    PracticeLog,
    Question,
    Quiz,
    QuizAttempt,
    QuizQuestion,
    TrainingSession,
)
from backend.services.audit import audit
from backend.services.catalog.course_authoring import (
    MAX_CODE,
    check_text,
    course_exists,
    locked_course,
    require_hr,
    snapshot,
    touch_modules,
)
from backend.services.content import lessons
from backend.services.feed import ChangeSet, Entity
from backend.services.people.standards import matches, standards_of
from backend.services.validation import invalid
from backend.services.viewer import Viewer

ALLOWED = {
    (CourseStatus.DRAFT, CourseStatus.PUBLISHED),
    (CourseStatus.PUBLISHED, CourseStatus.RETIRED),
    (CourseStatus.PUBLISHED, CourseStatus.DRAFT),  # only while nobody has started it
}
ACTIONS = {
    CourseStatus.PUBLISHED: "course.publish",
    CourseStatus.RETIRED: "course.retire",
    CourseStatus.DRAFT: "course.unpublish",
}
_LAST_NUMBER = re.compile(r"(.*?)([0-9]+)", re.ASCII)


async def has_learners(connection: BaseDBAsyncClient, tenant_id: int, course_id: int) -> bool:
    """Whether anyone has started the course: progress, a completion, a credit event, practice, an
    evaluation, a quiz attempt or an enrollment in one of its sessions."""
    queries = (
        ModuleProgress.filter(tenant_id=tenant_id, course_id=course_id),
        CourseCompletion.filter(tenant_id=tenant_id, course_id=course_id),
        CreditEvent.filter(tenant_id=tenant_id, course_id=course_id),
        PracticeLog.filter(tenant_id=tenant_id, course_id=course_id),
        MentorEvaluation.filter(tenant_id=tenant_id, module__course_id=course_id),
        QuizAttempt.filter(tenant_id=tenant_id, quiz__module__course_id=course_id),
        Enrollment.filter(tenant_id=tenant_id, session__course_id=course_id),
    )
    for query in queries:
        if await query.using_db(connection).exists():
            return True
    return False


async def _touch_course(connection: BaseDBAsyncClient, changes: ChangeSet, course: Course) -> None:
    """Mark what phones show of a course whose status changed: the course, its modules (and
    quizzes) and its sessions, which the feed shows or withholds by the course's status."""
    changes.touch(Entity.COURSE, course.id)
    changes.touch(Entity.COURSE_CONTENT, course.id)  # its download manifest is seen with it
    touch_modules(
        changes, await CourseModule.filter(course_id=course.id).using_db(connection).values_list("id", "kind")
    )
    for session_id in (
        await TrainingSession.filter(course_id=course.id).using_db(connection).values_list("id", flat=True)
    ):
        changes.touch(Entity.TRAINING_SESSION, session_id)


async def _set_status(
    connection: BaseDBAsyncClient, viewer: Viewer, changes: ChangeSet, course: Course, status: CourseStatus
) -> None:
    before = snapshot(course)
    course.status = status
    await course.save(update_fields=["status", "updated_at"], using_db=connection)
    await audit(
        connection,
        viewer,
        course.tenant_id,
        ACTIONS[status],
        "Course",
        course.id,
        {"before": before, "after": snapshot(course)},
    )
    await _touch_course(connection, changes, course)


async def _check_publishable(connection: BaseDBAsyncClient, course: Course) -> None:
    required = await CourseModule.filter(course_id=course.id).using_db(connection).values_list("is_required", flat=True)
    if not required:
        raise invalid("courseId", "reason.course_without_modules")
    if not any(required):
        raise invalid("courseId", "reason.course_without_required_module")


async def change_status(viewer: Viewer, course_id: int, status: CourseStatus) -> Course:
    """Move a course through its life (HR admins), as the module docstring says. Publishing a new
    version retires the version it replaces, in the same transaction."""
    require_hr(viewer)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        course = await locked_course(connection, tenant_id, course_id)
        current = CourseStatus(course.status)
        if current == status:
            return course
        if (current, status) not in ALLOWED:
            raise DomainError(ErrorCode.INVALID_STATUS_CHANGE, field="status", status=current.value, to=status.value)
        changes = ChangeSet(tenant_id)
        if status == CourseStatus.PUBLISHED:
            await _check_publishable(connection, course)
            # An old version taken back to DRAFT stays there once its replacement is out: two
            # published versions of one course would split its learners.
            newer = (
                await Course.filter(tenant_id=tenant_id, previous_version_id=course.id)
                .exclude(status=CourseStatus.DRAFT)
                .using_db(connection)
                .first()
            )
            if newer is not None:
                raise invalid("courseId", "reason.course_replaced", newer=newer.code)
            if course.previous_version_id is not None:
                previous = await locked_course(connection, tenant_id, course.previous_version_id)
                if previous.status == CourseStatus.PUBLISHED:
                    await _set_status(connection, viewer, changes, previous, CourseStatus.RETIRED)
        if status == CourseStatus.DRAFT and await has_learners(connection, tenant_id, course.id):
            raise DomainError(ErrorCode.STILL_IN_USE, field="status", reason_key="reason.course_has_learners")
        await _set_status(connection, viewer, changes, course, status)
        await changes.publish(connection)
    return course


async def publish_course(viewer: Viewer, course_id: int) -> Course:
    """DRAFT → PUBLISHED (HR admins); retires the version it replaces."""
    return await change_status(viewer, course_id, CourseStatus.PUBLISHED)


async def retire_course(viewer: Viewer, course_id: int) -> Course:
    """PUBLISHED → RETIRED (HR admins): learners keep their history, nobody new starts it."""
    return await change_status(viewer, course_id, CourseStatus.RETIRED)


# --- new versions ----------------------------------------------------------------------------------


def next_code(code: str) -> str | None:
    """The code with its last number one higher, as wide as it was (T-001-01 → T-001-02), or None
    when the code ends in no number."""
    found = _LAST_NUMBER.fullmatch(code)
    if found is None:
        return None
    prefix, number = found.groups()
    return f"{prefix}{int(number) + 1:0{len(number)}d}"


async def _version_code(connection: BaseDBAsyncClient, old: Course, code: str | None) -> str:
    """The new version's code: the one given (checked against the standard, and free), else the
    old code with its version bumped when that follows the standard and is free."""
    standards = await standards_of(old.tenant_id, connection)
    taken = Course.filter(tenant_id=old.tenant_id).using_db(connection)
    if code is not None:
        checked = standards.check(DataStandardSubject.COURSE_CODE, check_text(code, "code", MAX_CODE), "code")
        if await taken.filter(code=checked).exists():
            raise course_exists(checked)
        return checked
    bumped = next_code(old.code)
    standard = standards[DataStandardSubject.COURSE_CODE]
    if (
        bumped is None
        or len(bumped) > MAX_CODE
        or not matches(standard.pattern, bumped)
        or await taken.filter(code=bumped).exists()
    ):
        raise invalid("code", "reason.version_code_needed", old_code=old.code)
    return bumped


async def _copy_modules(connection: BaseDBAsyncClient, old: Course, new: Course) -> list[tuple[int, str]]:
    """Copy the old course's modules (with rubric and pass bar), its question bank and each
    module's quiz with its questions; returns the new modules as (id, kind)."""
    tenant_id = new.tenant_id
    copied: list[tuple[int, str]] = []
    questions: dict[int, int] = {}
    for question in await Question.filter(course_id=old.id).order_by("id").using_db(connection):
        fresh = await Question.create(
            tenant_id=tenant_id,
            course_id=new.id,
            kind=question.kind,
            prompt=question.prompt,
            options=question.options,
            answer_key=question.answer_key,
            points=question.points,
            explanation=question.explanation,
            using_db=connection,
        )
        questions[question.id] = fresh.id
    for module in await CourseModule.filter(course_id=old.id).order_by("position").using_db(connection):
        twin = await CourseModule.create(
            tenant_id=tenant_id,
            course_id=new.id,
            position=module.position,
            title=module.title,
            kind=module.kind,
            credits=module.credits,
            required_count=module.required_count,
            requirement=module.requirement,
            is_required=module.is_required,
            rubric_id=module.rubric_id,
            pass_score=module.pass_score,
            required_study_percent=module.required_study_percent,
            using_db=connection,
        )
        copied.append((twin.id, twin.kind))
        await lessons.copy_to_new_course_version(connection, tenant_id, module.id, twin.id)
        quiz = await Quiz.filter(module_id=module.id).using_db(connection).first()
        if quiz is not None:
            new_quiz = await Quiz.create(
                tenant_id=tenant_id,
                module_id=twin.id,
                title=quiz.title,
                pass_mark=quiz.pass_mark,
                time_limit_seconds=quiz.time_limit_seconds,
                attempts_allowed=quiz.attempts_allowed,
                shuffle=quiz.shuffle,
                review_allowed=quiz.review_allowed,
                review_timing=quiz.review_timing,
                closes_at=quiz.closes_at,
                using_db=connection,
            )
            links = (
                await QuizQuestion.filter(quiz_id=quiz.id).using_db(connection).values_list("question_id", "position")
            )
            await QuizQuestion.bulk_create(
                [
                    QuizQuestion(tenant_id=tenant_id, quiz_id=new_quiz.id, question_id=questions[q], position=p)
                    for q, p in links
                ],
                using_db=connection,
            )
    return copied


async def _copy_requirements(connection: BaseDBAsyncClient, old: Course, new: Course) -> None:
    """Copy eligibility rules, prerequisites and skills taught."""
    tenant_id = new.tenant_id
    rules = await CourseEligibilityRule.filter(course_id=old.id).order_by("id").using_db(connection)
    await CourseEligibilityRule.bulk_create(
        [
            CourseEligibilityRule(
                tenant_id=tenant_id,
                course_id=new.id,
                position_id=rule.position_id,
                position_family=rule.position_family,
                min_grade=rule.min_grade,
                max_grade=rule.max_grade,
                org_unit_id=rule.org_unit_id,
            )
            for rule in rules
        ],
        using_db=connection,
    )
    required = (
        await CoursePrerequisite.filter(course_id=old.id)
        .using_db(connection)
        .values_list("required_course_id", flat=True)
    )
    await CoursePrerequisite.bulk_create(
        [CoursePrerequisite(tenant_id=tenant_id, course_id=new.id, required_course_id=r) for r in required],
        using_db=connection,
    )
    skills = await CourseSkill.filter(course_id=old.id).using_db(connection).values_list("skill_id", "target_level")
    await CourseSkill.bulk_create(
        [CourseSkill(tenant_id=tenant_id, course_id=new.id, skill_id=s, target_level=level) for s, level in skills],
        using_db=connection,
    )


async def create_course_version(viewer: Viewer, course_id: int, code: str | None = None) -> Course:
    """A new DRAFT version of a published or retired course (HR admins): version + 1, the old one
    as ``previous_version``, everything copied. ``code``: the new version's code; by default the
    old code with its version segment bumped (VALIDATION asking for one when that is taken or
    breaks the standard). One next version per course (ALREADY_EXISTS: edit that one); a draft is
    edited in place (VALIDATION)."""
    require_hr(viewer)
    tenant_id = viewer.tenant_id
    try:
        async with in_transaction() as connection:
            old = await locked_course(connection, tenant_id, course_id)
            if old.status == CourseStatus.DRAFT:
                raise invalid("courseId", "reason.version_of_draft")
            newer = await Course.filter(tenant_id=tenant_id, previous_version_id=old.id).using_db(connection).first()
            if newer is not None:
                raise DomainError(
                    ErrorCode.ALREADY_EXISTS, field="courseId", what_key="subject.course_version", value=newer.code
                )
            new_code = await _version_code(connection, old, code)
            new = await Course.create(
                tenant_id=tenant_id,
                code=new_code,
                title=old.title,
                summary=old.summary,
                scenario=old.scenario,
                format=old.format,
                version=old.version + 1,
                status=CourseStatus.DRAFT,
                hours=old.hours,
                credits=old.credits,
                requires_approval=old.requires_approval,
                previous_version_id=old.id,
                using_db=connection,
            )
            modules = await _copy_modules(connection, old, new)
            await _copy_requirements(connection, old, new)
            await audit(
                connection,
                viewer,
                tenant_id,
                "course.new_version",
                "Course",
                new.id,
                {"before": None, "after": snapshot(new)},
            )
            changes = ChangeSet(tenant_id)
            changes.touch(Entity.COURSE, new.id)
            touch_modules(changes, modules)
            await changes.publish(connection)
    except IntegrityError:  # the code taken by another admin at the same moment
        raise course_exists(code or "") from None
    return new
