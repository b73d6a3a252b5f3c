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
from backend.services.catalog import course_catalog
from backend.services.credits import credit_engine
from backend.services.feed import Entity
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload
from backend.services.records.work import UnitOfWork
from backend.services.viewer import Viewer
from backend.sql import db_time, insert_many

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
    await add_progress_of(context, modules, {employee_id or context.viewer.employee_id: totals})


async def add_progress_of(
    context: UnitOfWork,
    modules: dict[int, CourseModule],
    totals_of: dict[int, dict[int, list]],
    as_happened: dict[tuple[int, int], list[tuple[datetime, int]]] | None = None,
) -> None:
    """``add_progress`` for many employees at once (an import of history), in the same few
    statements: totals_of maps employee id -> module id -> [count, seconds, last completed at].
    ``as_happened`` (history arriving long after it happened): when each (employee, module)'s
    completions were done, as (time, count); a module is then completed when it reached its
    required count, and a course when the last of its required modules was, not at a later
    repeat nor when the work arrived."""
    viewer, connection = context.viewer, context.connection
    now = db_time(connection, context.received_at)
    await insert_many(
        connection,
        "module_progress",
        _PROGRESS_COLUMNS,
        [
            (
                viewer.tenant_id,
                employee_id,
                module_id,
                modules[module_id].course_id,
                count,
                seconds,
                db_time(connection, last),
                now,
                now,
            )
            for employee_id, totals in totals_of.items()
            for module_id, (count, seconds, last) in totals.items()
        ],
        on_conflict="ON CONFLICT (employee_id, module_id) DO UPDATE SET "
        "completed_count = module_progress.completed_count + excluded.completed_count, "
        "seconds_spent = module_progress.seconds_spent + excluded.seconds_spent, "
        "last_completed_at = CASE WHEN module_progress.last_completed_at IS NULL "
        "OR module_progress.last_completed_at < excluded.last_completed_at "
        "THEN excluded.last_completed_at ELSE module_progress.last_completed_at END, "
        "updated_at = excluded.updated_at",
    )
    for employee_id, totals in totals_of.items():
        for module_id in totals:
            context.changes.touch(Entity.MODULE_PROGRESS, module_id, audience=employee_id)
    # Completing a module is a creditable fact of its own, once per employee and module.
    met_at: dict[tuple[int, int], datetime] = {}  # as_happened: when a module reached its required count
    for employee_id, module_id, count, required in (
        await ModuleProgress.filter(
            tenant_id=viewer.tenant_id,
            employee_id__in=list(totals_of),
            module_id__in=list({m for totals in totals_of.values() for m in totals}),
        )
        .using_db(connection)
        .values_list("employee_id", "module_id", "completed_count", "module__required_count")
    ):
        totals = totals_of[employee_id]
        if module_id in totals and count >= required:
            if as_happened is not None:
                met = _met_at(count - totals[module_id][0], required, as_happened.get((employee_id, module_id), []))
                if met is not None:
                    met_at[(employee_id, module_id)] = met
            credit_engine.note(
                context,
                credit_engine.Creditable(
                    employee_id,
                    CreditActivity.MODULE_COMPLETED,
                    f"module:{employee_id}:{module_id}",
                    met_at.get((employee_id, module_id)) or totals[module_id][2] or context.received_at,
                    None,
                    modules[module_id].course_id,
                    module_id,
                ),
            )
    courses_of = {
        employee_id: {modules[module_id].course_id for module_id in totals} for employee_id, totals in totals_of.items()
    }
    await _complete_courses(context, courses_of, met_at if as_happened is not None else None)


def _met_at(before: int, required: int, steps: list[tuple[datetime, int]]) -> datetime | None:
    """When completions ``steps`` (time, count) added to ``before`` first reached ``required``
    (None: reached before them)."""
    if before >= required:
        return None
    done = before
    for at, count in sorted(steps, key=lambda step: step[0]):
        done += count
        if done >= required:
            return at
    return None


_PROGRESS_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "module_id": "int",
    "course_id": "int",
    "completed_count": "int",
    "seconds_spent": "bigint",
    "last_completed_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


async def _complete_courses(
    context: UnitOfWork, courses_of: dict[int, set[int]], met_at: dict[tuple[int, int], datetime] | None
) -> None:
    """Mark courses (employee id -> course ids) whose every required module has met its required
    count as completed (once), dated now or, with ``met_at`` (history: when modules reached their
    required count now), when the last of them was met."""
    viewer, connection = context.viewer, context.connection
    course_ids = list({course_id for courses in courses_of.values() for course_id in courses})
    required = (
        await CourseModule.filter(tenant_id=viewer.tenant_id, course_id__in=course_ids, is_required=True)
        .using_db(connection)
        .values_list("id", "course_id", "required_count")
    )
    done: dict[tuple[int, int], tuple[int, datetime | None, int]] = {}  # (employee, module) -> count, last, course
    for employee_id, module_id, count, last, course_id in (
        await ModuleProgress.filter(
            tenant_id=viewer.tenant_id, employee_id__in=list(courses_of), course_id__in=course_ids
        )
        .using_db(connection)
        .values_list("employee_id", "module_id", "completed_count", "last_completed_at", "course_id")
    ):
        done[(employee_id, module_id)] = (count, last, course_id)
    required_of: dict[int, list[tuple[int, int]]] = {}  # course -> its required (module, count)
    for module_id, course_id, count in required:
        required_of.setdefault(course_id, []).append((module_id, count))
    completed = {
        employee_id: [
            course_id
            for course_id in courses
            if all(
                done.get((employee_id, module_id), (0,))[0] >= count
                for module_id, count in required_of.get(course_id, ())
            )
        ]
        for employee_id, courses in courses_of.items()
    }
    if not any(completed.values()):
        return
    already = set(
        await CourseCompletion.filter(
            tenant_id=viewer.tenant_id,
            employee_id__in=[e for e, done_courses in completed.items() if done_courses],
            course_id__in=list({c for done_courses in completed.values() for c in done_courses}),
        )
        .using_db(connection)
        .values_list("employee_id", "course_id")
    )
    fresh = {
        employee_id: [course_id for course_id in done_courses if (employee_id, course_id) not in already]
        for employee_id, done_courses in completed.items()
    }
    fresh = {employee_id: new_courses for employee_id, new_courses in fresh.items() if new_courses}
    if not fresh:
        return
    when = _completion_times(context, fresh, done, {m for m, _, _ in required}, met_at) if met_at is not None else {}
    await CourseCompletion.bulk_create(
        [
            CourseCompletion(
                tenant_id=viewer.tenant_id,
                employee_id=employee_id,
                course_id=course_id,
                completed_at=when.get((employee_id, course_id), context.received_at),
            )
            for employee_id, new_courses in fresh.items()
            for course_id in new_courses
        ],
        using_db=connection,
        ignore_conflicts=True,  # another device of the same employee may complete it too
    )
    for employee_id, new_courses in fresh.items():
        for course_id in new_courses:
            context.changes.touch(Entity.COURSE_COMPLETION, course_id, audience=employee_id)
            credit_engine.note(
                context,
                credit_engine.Creditable(
                    employee_id,
                    CreditActivity.COURSE_COMPLETED,
                    f"course:{employee_id}:{course_id}",
                    when.get((employee_id, course_id), context.received_at),
                    None,
                    course_id,
                ),
            )
    # Quizzes of courses that needed these may now be taken: their QUIZ feed rows (withheld
    # from ineligible learners) go to this employee again. Completing any version of a course
    # meets a prerequisite on another version of it (course_catalog.LearnerProfile.has_completed).
    roots = await course_catalog.lineage_roots(viewer.tenant_id, connection)
    needed = {employee_id: course_catalog.versions_of(new_courses, roots) for employee_id, new_courses in fresh.items()}
    unlocked: dict[int, set[int]] = {}  # required course -> courses it unlocks
    for course_id, required_id in (
        await CoursePrerequisite.filter(
            tenant_id=viewer.tenant_id, required_course_id__in=list(set().union(*needed.values()))
        )
        .using_db(connection)
        .values_list("course_id", "required_course_id")
    ):
        unlocked.setdefault(required_id, set()).add(course_id)
    if not unlocked:
        return
    quizzes: dict[int, list[int]] = {}  # course -> its quiz modules
    for module_id, course_id in (
        await Quiz.filter(tenant_id=viewer.tenant_id, module__course_id__in=list(set().union(*unlocked.values())))
        .using_db(connection)
        .values_list("module_id", "module__course_id")
    ):
        quizzes.setdefault(course_id, []).append(module_id)
    for employee_id, versions in needed.items():
        for course_id in {c for required_id in versions for c in unlocked.get(required_id, ())}:
            for module_id in quizzes.get(course_id, ()):
                context.changes.touch(Entity.QUIZ, module_id, audience=employee_id)


def _completion_times(
    context: UnitOfWork,
    fresh: dict[int, list[int]],
    done: dict[tuple[int, int], tuple[int, datetime | None, int]],
    required: set[int],
    met_at: dict[tuple[int, int], datetime],
) -> dict[tuple[int, int], datetime]:
    """When each fresh completion happened: the latest time one of the course's required modules
    met its required count (``met_at``; else, met before, when it was last done; any module's,
    for a course with none required), never after the work arrived."""
    latest: dict[tuple[int, int, bool], datetime] = {}
    for (employee_id, module_id), (_, last, course_id) in done.items():
        last = met_at.get((employee_id, module_id), last)
        key = (employee_id, course_id, module_id in required)
        if last is not None and (key not in latest or last > latest[key]):
            latest[key] = last
    times = {}
    for employee_id, courses in fresh.items():
        for course_id in courses:
            at = latest.get((employee_id, course_id, True)) or latest.get((employee_id, course_id, False))
            if at is not None:
                times[(employee_id, course_id)] = min(at, context.received_at)
    return times


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
