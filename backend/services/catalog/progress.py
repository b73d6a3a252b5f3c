"""Learning progress derived from activity records: the LESSON_COMPLETED kind.

A finished lesson adds one completion (and its time) to the employee's progress in that module;
when every module of a course has met its required count, the course is completed. Counts are
added in the database (upsert with increment), so records of one employee arriving from two
devices at once both count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.expressions import Subquery

from backend.errors import DomainError, ErrorCode
from backend.ids import expect_global_id
from backend.models import (
    Course,
    CourseCompletion,
    CourseModule,
    CoursePrerequisite,
    CourseStatus,
    CreditActivity,
    ModuleKind,
    ModuleProgress,
    Quiz,
    RecordStatus,
    Role,
)
from backend.services.credits import credit_engine
from backend.services.feed import Entity
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload
from backend.services.records.work import UnitOfWork
from backend.services.viewer import Viewer
from backend.sql import db_time, placeholders

LESSON_COMPLETED = "LESSON_COMPLETED"
MAX_SECONDS = 24 * 3600


def _visible_module(viewer: Viewer, module: CourseModule) -> bool:
    return module.course.status == CourseStatus.PUBLISHED or viewer.has_role(Role.HR_ADMIN, Role.INSTRUCTOR)


class LessonCompleted:
    """Payload: ``{"moduleId": <CourseModule global ID>, "secondsSpent": 0..86400}``."""

    kind = LESSON_COMPLETED

    def parse(self, payload: dict[str, Any]) -> tuple[int, int]:
        if not isinstance(payload, dict):
            raise invalid_payload("payload")
        module_id = payload.get("moduleId")
        seconds = payload.get("secondsSpent", 0)
        if not isinstance(module_id, str):
            raise invalid_payload("moduleId")
        try:
            module_pk = expect_global_id(module_id, "CourseModule", "moduleId")
        except DomainError as error:
            raise invalid_payload("moduleId") from error
        if isinstance(seconds, bool) or not isinstance(seconds, int) or not 0 <= seconds <= MAX_SECONDS:
            raise invalid_payload("secondsSpent")
        return module_pk, seconds

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        viewer = context.viewer
        module_ids = {parsed.payload[0] for parsed in records}
        modules = {
            module.id: module
            for module in await CourseModule.filter(tenant_id=viewer.tenant_id, id__in=list(module_ids))
            .select_related("course")
            .using_db(context.connection)
        }
        totals: dict[int, list] = defaultdict(lambda: [0, 0, None])
        outcomes = []
        for parsed in records:
            module_id, seconds = parsed.payload
            module = modules.get(module_id)
            if module is None or not _visible_module(viewer, module):
                outcomes.append(Outcome.rejected(DomainError(ErrorCode.NOT_FOUND)))
                continue
            if module.kind != ModuleKind.LESSON:
                outcomes.append(Outcome.rejected(invalid_payload("moduleId")))
                continue
            total = totals[module_id]
            total[0] += 1
            total[1] += seconds
            total[2] = max(total[2], parsed.occurred_at) if total[2] else parsed.occurred_at
            credit_engine.note(
                context,
                credit_engine.Creditable(
                    viewer.employee_id,
                    CreditActivity.LESSON_COMPLETED,
                    f"lesson:{parsed.record.id}",
                    parsed.occurred_at,
                    parsed.record.id,
                    module.course_id,
                    module.id,
                ),
            )
            outcomes.append(Outcome(RecordStatus.ACCEPTED))
        if totals:
            await add_progress(context, {m: modules[m] for m in totals}, totals)
        return outcomes


async def add_progress(
    context: UnitOfWork,
    modules: dict[int, CourseModule],
    totals: dict[int, list],
    employee_id: int | None = None,
) -> None:
    """Add completions to modules of the viewer, or of ``employee_id`` (a mentee whose practice
    their mentor confirmed): totals maps module id -> [count, seconds, last completed at]."""
    viewer, connection = context.viewer, context.connection
    employee_id = employee_id or viewer.employee_id
    now = context.received_at
    await connection.execute_many(
        "INSERT INTO module_progress (tenant_id, employee_id, module_id, course_id, completed_count,"
        " seconds_spent, last_completed_at, created_at, updated_at) "
        f"VALUES ({placeholders(connection, 9)}) ON CONFLICT (employee_id, module_id) DO UPDATE SET "
        "completed_count = module_progress.completed_count + excluded.completed_count, "
        "seconds_spent = module_progress.seconds_spent + excluded.seconds_spent, "
        "last_completed_at = CASE WHEN module_progress.last_completed_at IS NULL "
        "OR module_progress.last_completed_at < excluded.last_completed_at "
        "THEN excluded.last_completed_at ELSE module_progress.last_completed_at END, "
        "updated_at = excluded.updated_at",
        [
            [
                viewer.tenant_id,
                employee_id,
                module_id,
                modules[module_id].course_id,
                count,
                seconds,
                db_time(connection, last),
                db_time(connection, now),
                db_time(connection, now),
            ]
            for module_id, (count, seconds, last) in totals.items()
        ],
    )
    for module_id in totals:
        context.changes.touch(Entity.MODULE_PROGRESS, module_id, audience=employee_id)
    # Completing a module is a creditable fact of its own, once per employee and module.
    for module_id, count, required in (
        await ModuleProgress.filter(tenant_id=viewer.tenant_id, employee_id=employee_id, module_id__in=list(totals))
        .using_db(connection)
        .values_list("module_id", "completed_count", "module__required_count")
    ):
        if count >= required:
            credit_engine.note(
                context,
                credit_engine.Creditable(
                    employee_id,
                    CreditActivity.MODULE_COMPLETED,
                    f"module:{employee_id}:{module_id}",
                    totals[module_id][2] or now,
                    None,
                    modules[module_id].course_id,
                    module_id,
                ),
            )
    await _complete_courses(context, {module.course_id for module in modules.values()}, employee_id)


async def _complete_courses(context: UnitOfWork, course_ids: set[int], employee_id: int) -> None:
    """Mark courses whose every required module has met its required count as completed (once)."""
    viewer, connection = context.viewer, context.connection
    required = (
        await CourseModule.filter(tenant_id=viewer.tenant_id, course_id__in=list(course_ids), is_required=True)
        .using_db(connection)
        .values_list("id", "course_id", "required_count")
    )
    done = dict(
        await ModuleProgress.filter(tenant_id=viewer.tenant_id, employee_id=employee_id, course_id__in=list(course_ids))
        .using_db(connection)
        .values_list("module_id", "completed_count")
    )
    unmet = {course_id for module_id, course_id, count in required if done.get(module_id, 0) < count}
    completed = [course_id for course_id in course_ids if course_id not in unmet]
    if not completed:
        return
    already = set(
        await CourseCompletion.filter(tenant_id=viewer.tenant_id, employee_id=employee_id, course_id__in=completed)
        .using_db(connection)
        .values_list("course_id", flat=True)
    )
    fresh = [course_id for course_id in completed if course_id not in already]
    if fresh:
        await CourseCompletion.bulk_create(
            [
                CourseCompletion(
                    tenant_id=viewer.tenant_id,
                    employee_id=employee_id,
                    course_id=course_id,
                    completed_at=context.received_at,
                )
                for course_id in fresh
            ],
            using_db=connection,
            ignore_conflicts=True,  # another device of the same employee may complete it too
        )
        for course_id in fresh:
            context.changes.touch(Entity.COURSE_COMPLETION, course_id, audience=employee_id)
            credit_engine.note(
                context,
                credit_engine.Creditable(
                    employee_id,
                    CreditActivity.COURSE_COMPLETED,
                    f"course:{employee_id}:{course_id}",
                    context.received_at,
                    None,
                    course_id,
                ),
            )
        # Quizzes of courses that needed these may now be taken: their QUIZ feed rows (withheld
        # from ineligible learners) go to this employee again.
        for module_id in (
            await Quiz.filter(
                tenant_id=viewer.tenant_id,
                module__course_id__in=Subquery(
                    CoursePrerequisite.filter(tenant_id=viewer.tenant_id, required_course_id__in=fresh).values(
                        "course_id"
                    )
                ),
            )
            .using_db(connection)
            .values_list("module_id", flat=True)
        ):
            context.changes.touch(Entity.QUIZ, module_id, audience=employee_id)


async def progress_by_course(viewer: Viewer, course_ids: list[int]) -> dict[int, dict[int, ModuleProgress]]:
    """The viewer's module progress for some courses: course id -> module id -> row."""
    rows = await ModuleProgress.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, course_id__in=course_ids
    )
    grouped: dict[int, dict[int, ModuleProgress]] = defaultdict(dict)
    for row in rows:
        grouped[row.course_id][row.module_id] = row
    return grouped


async def completions_by_course(viewer: Viewer, course_ids: list[int]) -> dict[int, CourseCompletion]:
    rows = await CourseCompletion.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, course_id__in=course_ids
    )
    return {row.course_id: row for row in rows}


Learning = list[tuple[Course, list[CourseModule], dict, CourseCompletion | None]]


async def learning_of(tenant_id: int, employee_id: int) -> Learning:
    """The courses an employee has progress or a completion in, most recent first, with what a
    progress view needs (the caller has checked that the viewer may see this employee)."""
    return (await learnings_of(tenant_id, [employee_id]))[employee_id]


async def learnings_of(tenant_id: int, employee_ids: Sequence[int]) -> dict[int, Learning]:
    """``learning_of`` for many employees at once (a page of them), in a fixed number of queries."""
    ids = list(employee_ids)
    progress_rows = await ModuleProgress.filter(tenant_id=tenant_id, employee_id__in=ids)
    completion_rows = await CourseCompletion.filter(tenant_id=tenant_id, employee_id__in=ids)
    course_ids = {row.course_id for row in progress_rows} | {row.course_id for row in completion_rows}
    courses, modules = {}, defaultdict(list)
    if course_ids:
        courses = {c.id: c for c in await Course.filter(tenant_id=tenant_id, id__in=list(course_ids))}
        for module in await CourseModule.filter(tenant_id=tenant_id, course_id__in=list(course_ids)).order_by(
            "position"
        ):
            modules[module.course_id].append(module)
    progress_by_employee: dict[int, list[ModuleProgress]] = defaultdict(list)
    for row in progress_rows:
        progress_by_employee[row.employee_id].append(row)
    completions_by_employee: dict[int, dict[int, CourseCompletion]] = defaultdict(dict)
    for completion in completion_rows:
        completions_by_employee[completion.employee_id][completion.course_id] = completion
    found: dict[int, Learning] = {}
    for employee_id in ids:
        completions = completions_by_employee[employee_id]
        done: dict[int, dict[int, ModuleProgress]] = defaultdict(dict)
        latest: dict[int, datetime] = {}
        for row in progress_by_employee[employee_id]:
            done[row.course_id][row.module_id] = row
            latest[row.course_id] = max(latest.get(row.course_id, row.updated_at), row.updated_at)
        for course_id, completion in completions.items():
            latest[course_id] = max(latest.get(course_id, completion.completed_at), completion.completed_at)
        ordered = sorted(latest, key=lambda c: (latest[c], c), reverse=True)
        found[employee_id] = [(courses[c], modules[c], done[c], completions.get(c)) for c in ordered if c in courses]
    return found
