"""A course's modules as HR admins write them: add, edit, move, reorder, remove.

Positions run 1..n without gaps and are unique per course (a database constraint). A change of
order moves the modules it touches to free negative positions first and then to their places,
so no statement ever meets the constraint halfway, on SQLite or PostgreSQL.

A module that learners have records on (progress, credit events, practice, evaluations, quiz
attempts) keeps its shape: removing it or changing its kind would rewrite their history, so it is
STILL_IN_USE with the advice to make a new version of the course (``course_versions``). Words,
credits, counts and the optional flag may change while the course is a draft or published; a
published course keeps at least one required module (one with none would count as completed at
a learner's first lesson). A RETIRED course's modules are history and no longer change.
"""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    Course,
    CourseModule,
    CourseStatus,
    CreditEvent,
    CreditRule,
    MentorEvaluation,
    ModuleKind,
    ModuleProgress,
    PracticeLog,
    Quiz,
    QuizAttempt,
    TrainingSession,
)
from backend.services.audit import audit
from backend.services.catalog.course_authoring import (
    ModuleFields,
    check_module_fields,
    check_whole,
    locked_course,
    module_snapshot,
    require_hr,
    touch_modules,
)
from backend.services.feed import ChangeSet, Entity
from backend.services.validation import invalid
from backend.services.viewer import Viewer

MAX_MODULES = 100  # per course
SCORED_KINDS = (ModuleKind.PRACTICE, ModuleKind.ASSESSMENT)  # the kinds a rubric scores


async def module_use(connection: BaseDBAsyncClient, tenant_id: int, module_id: int) -> str | None:
    """Why a module cannot be removed or change kind (a ``reason.*`` key), or None when nothing
    depends on it. Learners' records first: they are the history a change would rewrite."""
    records = (
        ModuleProgress.filter(tenant_id=tenant_id, module_id=module_id),
        CreditEvent.filter(tenant_id=tenant_id, module_id=module_id),
        PracticeLog.filter(tenant_id=tenant_id, module_id=module_id),
        MentorEvaluation.filter(tenant_id=tenant_id, module_id=module_id),
        QuizAttempt.filter(tenant_id=tenant_id, quiz__module_id=module_id),
    )
    for query in records:
        if await query.using_db(connection).exists():
            return "reason.module_has_records"
    if await CreditRule.filter(tenant_id=tenant_id, module_id=module_id).using_db(connection).exists():
        return "reason.module_in_credit_rule"
    if await TrainingSession.filter(tenant_id=tenant_id, module_id=module_id).using_db(connection).exists():
        return "reason.module_in_session"
    return None


async def _ordered(connection: BaseDBAsyncClient, course_id: int) -> list[CourseModule]:
    return await CourseModule.filter(course_id=course_id).order_by("position").using_db(connection)


async def _place(connection: BaseDBAsyncClient, course_id: int, target: dict[int, int]) -> list[int]:
    """Move modules to the positions ``target`` gives them (module id -> position); returns the ids
    that moved. Each goes to minus its new place first (free: real positions are positive), then
    all at once to their places."""
    current = dict(
        await CourseModule.filter(course_id=course_id, id__in=list(target))
        .using_db(connection)
        .values_list("id", "position")
    )
    moved = [module_id for module_id, position in target.items() if current.get(module_id) != position]
    for module_id in moved:
        await CourseModule.filter(id=module_id).using_db(connection).update(position=-target[module_id])
    if moved:
        await (
            CourseModule.filter(course_id=course_id, position__lt=0)
            .using_db(connection)
            .update(position=F("position") * -1)
        )
    return moved


def _not_retired(course: Course, field: str) -> None:
    """VALIDATION when the course is RETIRED: its modules are what its learners did."""
    if course.status == CourseStatus.RETIRED:
        raise invalid(field, "reason.course_retired")


async def _locked_module(connection: BaseDBAsyncClient, tenant_id: int, module_id: int) -> tuple[CourseModule, Course]:
    """The module and its course, the course locked (every write to a course's modules takes that
    lock first, so the order read here stays true until the transaction ends) and not RETIRED."""
    found = await CourseModule.filter(tenant_id=tenant_id, id=module_id).using_db(connection).first()
    if found is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="moduleId")
    course = await locked_course(connection, tenant_id, found.course_id, "moduleId")
    module = await CourseModule.filter(tenant_id=tenant_id, id=module_id).using_db(connection).first()
    if module is None:  # removed while we waited for the lock
        raise DomainError(ErrorCode.NOT_FOUND, field="moduleId")
    _not_retired(course, "moduleId")
    return module, course


async def _keeps_required_module(
    connection: BaseDBAsyncClient, course: Course, module: CourseModule, field: str, removed: bool
) -> None:
    """VALIDATION when a published course would be left without a required module (or without
    any module) once ``module`` is removed or made optional."""
    if course.status != CourseStatus.PUBLISHED:
        return
    others = (
        await CourseModule.filter(course_id=course.id)
        .exclude(id=module.id)
        .using_db(connection)
        .values_list("is_required", flat=True)
    )
    if (removed and not others) or (module.is_required and not any(others)):
        raise invalid(field, "reason.published_needs_required_module")


async def _reorder_audit(
    connection: BaseDBAsyncClient, viewer: Viewer, course_id: int, before: list[int], after: list[int]
) -> None:
    await audit(
        connection,
        viewer,
        viewer.tenant_id,
        "course.reorder_modules",
        "Course",
        course_id,
        {"before": {"moduleIds": before}, "after": {"moduleIds": after}},
    )


async def add_module(viewer: Viewer, course_id: int, given: dict[str, Any], position: object = None) -> CourseModule:
    """A new module of a course (HR admins), at ``position`` (1 = first; the modules from there on
    move down one) or last when None. ``given``: ``check_module_fields``'s fields."""
    require_hr(viewer)
    fields: ModuleFields = check_module_fields(**given)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        _not_retired(await locked_course(connection, tenant_id, course_id), "courseId")
        modules = await _ordered(connection, course_id)
        if len(modules) >= MAX_MODULES:
            raise invalid("courseId", "reason.module_count", max=MAX_MODULES)
        place = len(modules) + 1 if position is None else check_whole(position, "position", 1, len(modules) + 1)
        changes = ChangeSet(tenant_id)
        target = {module.id: index + (index >= place) for index, module in enumerate(modules, 1)}
        moved = await _place(connection, course_id, target)
        module = await CourseModule.create(
            tenant_id=tenant_id, course_id=course_id, position=place, using_db=connection, **fields.__dict__
        )
        kinds = {m.id: m.kind for m in modules}
        touch_modules(changes, [(module_id, kinds[module_id]) for module_id in moved] + [(module.id, module.kind)])
        changes.touch(Entity.COURSE_CONTENT, course_id)  # the download manifest lists the modules
        await audit(
            connection,
            viewer,
            tenant_id,
            "module.create",
            "CourseModule",
            module.id,
            {"before": None, "after": module_snapshot(module)},
        )
        await changes.publish(connection)
    return module


async def update_module(viewer: Viewer, module_id: int, given: dict[str, Any]) -> CourseModule:
    """Change a module's fields (HR admins): only those in ``given``. Its kind stays once learners
    have records on it or a quiz is attached (STILL_IN_USE); a kind no rubric scores drops the
    module's rubric and pass bar. A published course's last required module stays required."""
    require_hr(viewer)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        module, course = await _locked_module(connection, tenant_id, module_id)
        before = module_snapshot(module)
        current = {
            "title": module.title,
            "kind": module.kind,
            "credits": module.credits,
            "required_count": module.required_count,
            "requirement": module.requirement,
            "is_required": module.is_required,
        }
        fields = check_module_fields(**{**current, **{k: v for k, v in given.items() if v is not None}})
        if fields.kind != module.kind:
            reason = await module_use(connection, tenant_id, module.id)
            if reason is None and await Quiz.filter(module_id=module.id).using_db(connection).exists():
                reason = "reason.module_has_quiz"
            if reason is not None:
                raise DomainError(ErrorCode.STILL_IN_USE, field="kind", reason_key=reason)
        if not fields.is_required:
            await _keeps_required_module(connection, course, module, "isRequired", removed=False)
        old_kind = module.kind
        for name, value in fields.__dict__.items():
            setattr(module, name, value)
        if fields.kind not in SCORED_KINDS:
            module.rubric_id, module.pass_score = None, None
        after = module_snapshot(module)
        if after == before:
            return module
        await module.save(using_db=connection)
        changes = ChangeSet(tenant_id)
        touch_modules(changes, [(module.id, old_kind), (module.id, module.kind)])
        changes.touch(Entity.COURSE_CONTENT, module.course_id)  # the download manifest shows titles
        if (before["requiredCount"], before["isRequired"]) != (after["requiredCount"], after["isRequired"]):
            # Learners' progress rows show the module's count and flag.
            for (employee_id,) in (
                await ModuleProgress.filter(tenant_id=tenant_id, module_id=module.id)
                .using_db(connection)
                .values_list("employee_id")
            ):
                changes.touch(Entity.MODULE_PROGRESS, module.id, audience=employee_id)
        await audit(
            connection,
            viewer,
            tenant_id,
            "module.update",
            "CourseModule",
            module.id,
            {"before": before, "after": after},
        )
        await changes.publish(connection)
    return module


async def reorder_modules(viewer: Viewer, course_id: int, module_ids: list[int]) -> list[CourseModule]:
    """Put a course's modules in the order given (HR admins): every module of the course, each once
    (VALIDATION otherwise). Returns the modules in their new order."""
    require_hr(viewer)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        _not_retired(await locked_course(connection, tenant_id, course_id), "courseId")
        modules = await _ordered(connection, course_id)
        before = [module.id for module in modules]
        if len(module_ids) != len(set(module_ids)) or set(module_ids) != set(before):
            raise invalid("moduleIds", "reason.module_order")
        moved = await _place(connection, course_id, {module_id: index for index, module_id in enumerate(module_ids, 1)})
        if moved:
            changes = ChangeSet(tenant_id)
            kinds = {module.id: module.kind for module in modules}
            touch_modules(changes, [(module_id, kinds[module_id]) for module_id in moved])
            changes.touch(Entity.COURSE_CONTENT, course_id)  # the download manifest's order
            await _reorder_audit(connection, viewer, course_id, before, module_ids)
            await changes.publish(connection)
        return await _ordered(connection, course_id)


async def move_module(viewer: Viewer, module_id: int, position: object) -> CourseModule:
    """Move one module to ``position`` (1 = first) of its course (HR admins); the others close up."""
    require_hr(viewer)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        module, _ = await _locked_module(connection, tenant_id, module_id)
        modules = await _ordered(connection, module.course_id)
        place = check_whole(position, "position", 1, len(modules))
        before = [m.id for m in modules]
        after = [m for m in before if m != module.id]
        after.insert(place - 1, module.id)
        moved = await _place(connection, module.course_id, {m: index for index, m in enumerate(after, 1)})
        if moved:
            changes = ChangeSet(tenant_id)
            kinds = {m.id: m.kind for m in modules}
            touch_modules(changes, [(m, kinds[m]) for m in moved])
            changes.touch(Entity.COURSE_CONTENT, module.course_id)  # the download manifest's order
            await _reorder_audit(connection, viewer, module.course_id, before, after)
            await changes.publish(connection)
        return await CourseModule.get(id=module.id, using_db=connection)


async def remove_module(viewer: Viewer, module_id: int) -> CourseModule:
    """Remove a module (HR admins) that nothing depends on: once learners have records on it, or a
    credit rule or training session names it, it is STILL_IN_USE (make a new version of the course
    instead); a published course's last required module is VALIDATION. The modules after it close up.
    Returns the removed module as it was."""
    require_hr(viewer)
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        module, course = await _locked_module(connection, tenant_id, module_id)
        reason = await module_use(connection, tenant_id, module.id)
        if reason is not None:
            raise DomainError(ErrorCode.STILL_IN_USE, field="moduleId", reason_key=reason)
        await _keeps_required_module(connection, course, module, "moduleId", removed=True)
        before = module_snapshot(module)
        await CourseModule.filter(id=module.id).using_db(connection).delete()
        rest = await _ordered(connection, module.course_id)
        moved = await _place(connection, module.course_id, {m.id: index for index, m in enumerate(rest, 1)})
        changes = ChangeSet(tenant_id)
        touch_modules(changes, [(module.id, module.kind)], deleted=True)
        changes.touch(Entity.COURSE_CONTENT, module.course_id)  # its content leaves the manifest
        kinds = {m.id: m.kind for m in rest}
        touch_modules(changes, [(m, kinds[m]) for m in moved])
        await audit(
            connection, viewer, tenant_id, "module.delete", "CourseModule", module.id, {"before": before, "after": None}
        )
        await changes.publish(connection)
    return module
