"""Learning progress derived from activity records: the LESSON_COMPLETED kind.

A finished lesson adds one completion (and its time) to the employee's progress in that module;
when every module of a course has met its required count, the course is completed. Counts are
added in the database (upsert with increment), so records of one employee arriving from two
devices at once both count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.errors import DomainError, ErrorCode
from backend.ids import expect_global_id
from backend.models import (
    Course,
    CourseCompletion,
    CourseModule,
    CoursePrerequisite,
    CourseStatus,
    CreditActivity,
    IntegrityAlertKind,
    ModuleKind,
    ModuleProgress,
    Quiz,
    RecordStatus,
    Role,
)
from backend.services.catalog import course_catalog
from backend.services.certificates import issue as certificates
from backend.services.content import study
from backend.services.credits import credit_engine
from backend.services.feed import Entity
from backend.services.integrity import detectors
from backend.services.integrity.detectors import Signal
from backend.services.ojt import assignments
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, invalid_payload
from backend.services.records.spec import Field, GlobalId, Int, Obj
from backend.services.records.work import UnitOfWork
from backend.services.viewer import Viewer
from backend.sql import Params, db_time, insert_many

LESSON_COMPLETED = "LESSON_COMPLETED"
MAX_SECONDS = 24 * 3600


@dataclass(frozen=True)
class _Lesson:
    """What a LESSON_COMPLETED record is judged by: its module, read without building models."""

    id: int
    kind: str
    course_id: int
    published: bool  # the module's course is PUBLISHED
    study_bar: int | None  # required_study_percent
    measured: bool  # its newest content has a video, audio or PDF to measure study by


async def _lessons(context: ApplyContext, module_ids: set[int]) -> dict[int, _Lesson]:
    """The tenant's modules among ``module_ids`` (any other id stays missing), in one statement."""
    p = Params(context.connection)
    rows = await context.connection.execute_query_dict(
        "SELECT m.id, m.kind, m.course_id, c.status, m.required_study_percent,"
        f" {study.measured_files_sql('m')} AS measured FROM course_module m JOIN course c ON c.id = m.course_id"
        f" WHERE m.tenant_id = {p(context.viewer.tenant_id)} AND m.id {p.among(sorted(module_ids), 'int')}",
        p.values,
    )
    published = CourseStatus.PUBLISHED.value
    return {
        row["id"]: _Lesson(
            row["id"],
            row["kind"],
            row["course_id"],
            row["status"] == published,
            row["required_study_percent"],
            bool(row["measured"]),
        )
        for row in rows
    }


LESSON_PAYLOAD = Obj(
    {
        "moduleId": Field(GlobalId("CourseModule", "The LESSON module completed."), required=True),
        "secondsSpent": Field(Int(0, MAX_SECONDS, "Seconds spent on the lesson (device measured)."), default=0),
    },
    title="LESSON_COMPLETED",
)


class LessonCompleted:
    """Payload: ``{"moduleId": <CourseModule global ID>, "secondsSpent": 0..86400}``. Judged by the
    module's study bar and flagged when faster than its content (backend/services/content/study.py)."""

    kind = LESSON_COMPLETED
    payload_spec = LESSON_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> tuple[int, int]:
        LESSON_PAYLOAD.check(payload)
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
        modules = await _lessons(context, {parsed.payload[0] for parsed in records})
        # Unpublished courses are visible to the people who build and teach them.
        sees_drafts = viewer.has_role(Role.HR_ADMIN, Role.INSTRUCTOR)
        lesson = ModuleKind.LESSON.value
        # Content to measure study by: the progress as this push left it (CONTENT_PROGRESS applies
        # first), one read for the batch's modules, none when they have no such content.
        measured = {m.id for m in modules.values() if m.measured and m.kind == lesson and (m.published or sees_drafts)}
        studies = await study.studies_of(context.connection, viewer.tenant_id, viewer.employee_id, measured)
        totals: dict[int, list] = defaultdict(lambda: [0, 0, None])
        accepted = Outcome(RecordStatus.ACCEPTED)  # outcomes are read, never changed: one serves all
        outcomes = []
        for parsed in records:
            module_id, seconds = parsed.payload
            module = modules.get(module_id)
            if module is None or not (module.published or sees_drafts):
                outcomes.append(Outcome.rejected(DomainError(ErrorCode.NOT_FOUND)))
                continue
            if module.kind != lesson:
                outcomes.append(Outcome.rejected(invalid_payload("moduleId")))
                continue
            studied = studies.get(module_id)
            if studied is not None:
                short = studied.shortfall(module.study_bar)
                if short is not None and module.study_bar is not None:
                    outcomes.append(Outcome.rejected(study.study_incomplete(short, module.study_bar)))
                    continue
                if studied.too_fast(seconds):
                    parsed.flags.append(study.FASTER_THAN_CONTENT)  # stored with the record
                    detectors.note(
                        context,
                        Signal(
                            IntegrityAlertKind.FARMING_BURST,
                            viewer.employee_id,
                            parsed.record.id,
                            parsed.occurred_at,
                            {study.FASTER_THAN_CONTENT: True},
                        ),
                    )
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
            outcomes.append(accepted)
        if totals:
            await add_progress(context, {m: modules[m] for m in totals}, totals)
        return outcomes


class InCourse(Protocol):
    """A module as progress needs it: which course it belongs to."""

    @property
    def course_id(self) -> int: ...


async def add_progress(
    context: UnitOfWork,
    modules: Mapping[int, InCourse],
    totals: dict[int, list],
    employee_id: int | None = None,
) -> None:
    """Add completions to modules of the viewer, or of ``employee_id`` (a mentee whose practice
    their mentor confirmed): totals maps module id -> [count, seconds, last completed at]."""
    await add_progress_of(context, modules, {employee_id or context.viewer.employee_id: totals})


async def add_progress_of(
    context: UnitOfWork,
    modules: Mapping[int, InCourse],
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
    # The new counts come back with the upsert (with each module's required count), so no
    # second read decides which modules were completed.
    written = await insert_many(
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
        returning="employee_id, module_id, completed_count, "
        "(SELECT m.required_count FROM course_module m WHERE m.id = module_progress.module_id) AS required_count",
    )
    for employee_id, totals in totals_of.items():
        for module_id in totals:
            context.changes.touch(Entity.MODULE_PROGRESS, module_id, audience=employee_id)
    # Completing a module is a creditable fact of its own, once per employee and module.
    met_at: dict[tuple[int, int], datetime] = {}  # as_happened: when a module reached its required count
    counts = {
        (row["employee_id"], row["module_id"]): (row["completed_count"], row["required_count"]) for row in written
    }
    # In employee and module order: one order on both engines (caps credit the first ones).
    for employee_id, module_id in sorted(counts):
        count, required = counts[(employee_id, module_id)]
        if count < required:
            continue
        added, _, last = totals_of[employee_id][module_id]
        if as_happened is not None:
            met = _met_at(count - added, required, as_happened.get((employee_id, module_id), []))
            if met is not None:
                met_at[(employee_id, module_id)] = met
        credit_engine.note(
            context,
            credit_engine.Creditable(
                employee_id,
                CreditActivity.MODULE_COMPLETED,
                f"module:{employee_id}:{module_id}",
                met_at.get((employee_id, module_id)) or last or context.received_at,
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


_PAIRS_PER_STATEMENT = 1000  # (employee, course) pairs per statement: 2,001 parameters (SQLite >= 3.32 takes 32,766)


async def _newly_met(
    connection: BaseDBAsyncClient, tenant_id: int, pairs: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """The (employee, course) pairs whose course is not completed yet and whose every required
    module has reached its required count (a course with no required module: at once), in one
    statement: most batches complete nothing, and three reads to learn that showed in a push."""
    p = Params(connection)
    tenant = p(tenant_id)
    rows = await connection.execute_query_dict(
        f"WITH asked(employee_id, course_id) AS ({p.rows(pairs, ('int', 'int'))})"
        " SELECT a.employee_id, a.course_id FROM asked a"
        " WHERE NOT EXISTS (SELECT 1 FROM course_completion d"
        f" WHERE d.tenant_id = {tenant} AND d.employee_id = a.employee_id AND d.course_id = a.course_id)"
        " AND NOT EXISTS (SELECT 1 FROM course_module m LEFT JOIN module_progress g"
        f" ON g.tenant_id = {tenant} AND g.employee_id = a.employee_id AND g.module_id = m.id"
        f" WHERE m.tenant_id = {tenant} AND m.course_id = a.course_id AND m.is_required"
        " AND COALESCE(g.completed_count, 0) < m.required_count)",
        p.values,
    )
    return [(row["employee_id"], row["course_id"]) for row in rows]


async def _complete_courses(
    context: UnitOfWork, courses_of: dict[int, set[int]], met_at: dict[tuple[int, int], datetime] | None
) -> None:
    """Mark courses (employee id -> course ids) whose every required module has met its required
    count as completed (once), dated now or, with ``met_at`` (history: when modules reached their
    required count now), when the last of them was met."""
    viewer, connection = context.viewer, context.connection
    fresh: dict[int, list[int]] = {}
    pairs = [(employee_id, course_id) for employee_id, courses in courses_of.items() for course_id in sorted(courses)]
    for start in range(0, len(pairs), _PAIRS_PER_STATEMENT):
        for employee_id, course_id in await _newly_met(
            connection, viewer.tenant_id, pairs[start : start + _PAIRS_PER_STATEMENT]
        ):
            fresh.setdefault(employee_id, []).append(course_id)
    if not fresh:
        return
    when = await _completion_times(context, fresh, met_at) if met_at is not None else {}
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
    # Certificates these completions earn or renew, derived in the same transaction (certificates.issue).
    await certificates.derive(
        connection, context.changes, viewer.tenant_id, fresh, {c for courses in fresh.values() for c in courses}
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
    # The OJT assignments these completions move on reach the employee's phones now (one statement,
    # only when a course is completed; their stored status follows at the next scheduled check).
    await assignments.touch_completed_courses(connection, context.changes, viewer.tenant_id, needed)
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


async def _completion_times(
    context: UnitOfWork, fresh: dict[int, list[int]], met_at: dict[tuple[int, int], datetime]
) -> dict[tuple[int, int], datetime]:
    """When each fresh completion happened: the latest time one of the course's required modules
    met its required count (``met_at``; else, met before, when it was last done; any module's,
    for a course with none required), never after the work arrived."""
    viewer, connection = context.viewer, context.connection
    course_ids = list({course_id for courses in fresh.values() for course_id in courses})
    required = set(
        await CourseModule.filter(tenant_id=viewer.tenant_id, course_id__in=course_ids, is_required=True)
        .using_db(connection)
        .values_list("id", flat=True)
    )
    done: dict[tuple[int, int], tuple[datetime | None, int]] = {}  # (employee, module) -> last done, course
    for employee_id, module_id, last, course_id in (
        await ModuleProgress.filter(tenant_id=viewer.tenant_id, employee_id__in=list(fresh), course_id__in=course_ids)
        .using_db(connection)
        .values_list("employee_id", "module_id", "last_completed_at", "course_id")
    ):
        done[(employee_id, module_id)] = (last, course_id)
    latest: dict[tuple[int, int, bool], datetime] = {}
    for (employee_id, module_id), (last, course_id) in done.items():
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
