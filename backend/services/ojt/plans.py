"""OJT plans as HR admins write them: what a position's people must learn, and by when.

A plan is a list of items (a course of the company, or one module of it), each required or optional
and due a number of days after the assignment starts (never after the whole plan). What gives it to
people (its triggers; see docs/ojt-plans.md):

- a **placement** plan names a position and/or an org unit (and no skill): it is given to whoever is
  hired into, or transferred into, that place (``assignments.assign_on_placement``);
- a **skill gap** plan names a skill and a gap threshold (optionally narrowed by a position and an
  org unit): it is given by the scheduled checks to whoever's gap in that skill reaches the
  threshold;
- a plan with none of these is **manual-only**: HR admins and managers give it.

Every write is audited with the plan (and its items) before and after, in its own transaction. The
pure input check (``check_plan``) reads no database, so an import could judge a row by the same rule.
A change of items reaches the phones of everyone holding an open assignment of the plan. A plan is
never deleted (assignments point at it): it is deactivated, which stops new assignments and keeps
the ones given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import (
    AssignmentStatus,
    Course,
    CourseModule,
    OjtAssignment,
    OjtPlan,
    OjtPlanItem,
    OrgUnit,
    Position,
    Role,
    Skill,
)
from backend.services.audit import audit
from backend.services.catalog.course_authoring import check_flag
from backend.services.feed import ChangeSet, Entity
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.people.org_units import already_exists, check_code, code_taken
from backend.services.people.positions import check_whole
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer

MAX_NAME = 200  # OjtPlan.name
MAX_DESCRIPTION = 2000  # OjtPlan.description
DUE_DAYS = (1, 3650)  # a plan's (and an item's) due offset: a day to ten years
REMIND_DAYS = (0, 365)  # "due soon" this many days before the due day (0: on the day)
GAP_THRESHOLD = (1, 100)  # skill levels are 0–100, so a gap is too
MAX_ITEMS = 100
DEFAULT_DUE_DAYS = 30
DEFAULT_REMIND_DAYS = 3
PLAN_ROLES = (Role.HR_ADMIN, Role.MANAGER)  # who reads plans (managers pick one to give their team)

# Assignments still running: a change of the plan's items reaches their phones.
OPEN = (AssignmentStatus.NOT_STARTED, AssignmentStatus.IN_PROGRESS, AssignmentStatus.OVERDUE)


# --- pure input checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemFields:
    """One checked item: a course, or one module of it (``module_id``)."""

    course_id: int
    module_id: int | None
    due_days: int
    is_required: bool


@dataclass(frozen=True)
class PlanFields:
    """A plan's checked fields and items (ids are checked against the company by the writes)."""

    code: str
    name: str
    description: str
    position_id: int | None
    org_unit_id: int | None
    skill_id: int | None
    gap_threshold: int | None
    mentor_required: bool
    due_days: int
    remind_days: int
    items: tuple[ItemFields, ...]


# The names ``check_plan`` reads (GraphQL's), each item a mapping of ``ITEM_FIELDS``.
PLAN_FIELDS = (
    "code",
    "name",
    "description",
    "positionId",
    "orgUnitId",
    "skillId",
    "gapThreshold",
    "mentorRequired",
    "dueDays",
    "remindDays",
    "items",
)
ITEM_FIELDS = ("courseId", "moduleId", "dueDays", "required")


def _optional_id(value: object, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise invalid(field)
    return value


def check_items(items: object, plan_due_days: int) -> tuple[ItemFields, ...]:
    """A plan's items: 1 to 100, none listed twice, each due within the plan (an item without
    ``dueDays`` is due with the plan), at least one required."""
    if not isinstance(items, Sequence) or isinstance(items, str | bytes):
        raise invalid("items")
    if not 1 <= len(items) <= MAX_ITEMS:
        raise invalid("items", "reason.count_range", min=1, max=MAX_ITEMS)
    checked: list[ItemFields] = []
    for index, item in enumerate(items):
        where = f"items.{index}"
        if not isinstance(item, Mapping):
            raise invalid(where)
        course_id = _optional_id(item.get("courseId"), f"{where}.courseId")
        if course_id is None:
            raise invalid(f"{where}.courseId", "reason.required")
        given_due = item.get("dueDays")
        due_days = plan_due_days if given_due is None else check_whole(given_due, f"{where}.dueDays", *DUE_DAYS)
        if due_days > plan_due_days:
            raise invalid(f"{where}.dueDays", "reason.item_due_after_plan", max=plan_due_days)
        required = item.get("required")
        checked.append(
            ItemFields(
                course_id=course_id,
                module_id=_optional_id(item.get("moduleId"), f"{where}.moduleId"),
                due_days=due_days,
                is_required=True if required is None else check_flag(required, f"{where}.required"),
            )
        )
    if len({(item.course_id, item.module_id) for item in checked}) < len(checked):
        raise invalid("items", "reason.duplicates")
    if not any(item.is_required for item in checked):
        raise invalid("items", "reason.plan_needs_required_item")
    return tuple(checked)


def check_plan(given: Mapping[str, object]) -> PlanFields:
    """A whole plan checked from ``given`` (``PLAN_FIELDS``; the optional ones may be missing),
    without the database. Codes follow the org-unit pattern (``OJT-SALES-1``); names and
    descriptions are any text (中文 too). A skill and its gap threshold go together."""
    due_days = check_whole(given.get("dueDays", DEFAULT_DUE_DAYS), "dueDays", *DUE_DAYS)
    skill_id = _optional_id(given.get("skillId"), "skillId")
    threshold_given = given.get("gapThreshold")
    threshold = None if threshold_given is None else check_whole(threshold_given, "gapThreshold", *GAP_THRESHOLD)
    if (skill_id is None) != (threshold is None):
        raise invalid("gapThreshold" if skill_id is not None else "skillId", "reason.skill_and_gap")
    return PlanFields(
        code=check_code(given.get("code"), "code"),
        name=text(given.get("name"), "name", MAX_NAME),
        description=text(given.get("description"), "description", MAX_DESCRIPTION, required=False),
        position_id=_optional_id(given.get("positionId"), "positionId"),
        org_unit_id=_optional_id(given.get("orgUnitId"), "orgUnitId"),
        skill_id=skill_id,
        gap_threshold=threshold,
        mentor_required=check_flag(given.get("mentorRequired", False), "mentorRequired"),
        due_days=due_days,
        remind_days=check_whole(given.get("remindDays", DEFAULT_REMIND_DAYS), "remindDays", *REMIND_DAYS),
        items=check_items(given.get("items"), due_days),
    )


# --- what is audited -------------------------------------------------------------------------------


def item_snapshot(item: OjtPlanItem | ItemFields) -> dict[str, Any]:
    return {
        "courseId": item.course_id,
        "moduleId": item.module_id,
        "dueDays": item.due_days,
        "required": item.is_required,
    }


def snapshot(plan: OjtPlan, items: Sequence[OjtPlanItem | ItemFields]) -> dict[str, Any]:
    """The audited fields of a plan and its items."""
    return {
        "code": plan.code,
        "name": plan.name,
        "description": plan.description,
        "positionId": plan.position_id,
        "orgUnitId": plan.org_unit_id,
        "skillId": plan.skill_id,
        "gapThreshold": plan.gap_threshold,
        "mentorRequired": plan.mentor_required,
        "dueDays": plan.due_days,
        "remindDays": plan.remind_days,
        "isActive": plan.is_active,
        "items": [item_snapshot(item) for item in items],
    }


def _given_of(plan: OjtPlan, items: Sequence[OjtPlanItem]) -> dict[str, object]:
    """A stored plan in ``check_plan``'s terms (to apply an update's changes over it)."""
    return {
        "code": plan.code,
        "name": plan.name,
        "description": plan.description,
        "positionId": plan.position_id,
        "orgUnitId": plan.org_unit_id,
        "skillId": plan.skill_id,
        "gapThreshold": plan.gap_threshold,
        "mentorRequired": plan.mentor_required,
        "dueDays": plan.due_days,
        "remindDays": plan.remind_days,
        "items": [
            {"courseId": i.course_id, "moduleId": i.module_id, "dueDays": i.due_days, "required": i.is_required}
            for i in items
        ],
    }


# --- checks against the company ---------------------------------------------------------------------


async def _check_references(connection: BaseDBAsyncClient, tenant_id: int, fields: PlanFields) -> None:
    """The position, org unit, skill, courses and modules are the company's (else NOT_FOUND naming
    the input), and each module belongs to its item's course (VALIDATION)."""
    for field, model, row_id in (
        ("positionId", Position, fields.position_id),
        ("orgUnitId", OrgUnit, fields.org_unit_id),
        ("skillId", Skill, fields.skill_id),
    ):
        if row_id is not None and not await model.filter(tenant_id=tenant_id, id=row_id).using_db(connection).exists():
            raise DomainError(ErrorCode.NOT_FOUND, field=field)
    course_ids = {item.course_id for item in fields.items}
    found = set(
        await Course.filter(tenant_id=tenant_id, id__in=sorted(course_ids))
        .using_db(connection)
        .values_list("id", flat=True)
    )
    module_ids = sorted({item.module_id for item in fields.items if item.module_id is not None})
    modules: dict[int, int] = {}
    if module_ids:
        modules = dict(
            await CourseModule.filter(tenant_id=tenant_id, id__in=module_ids)
            .using_db(connection)
            .values_list("id", "course_id")
        )
    for index, item in enumerate(fields.items):
        if item.course_id not in found:
            raise DomainError(ErrorCode.NOT_FOUND, field=f"items.{index}.courseId")
        if item.module_id is not None:
            if item.module_id not in modules:
                raise DomainError(ErrorCode.NOT_FOUND, field=f"items.{index}.moduleId")
            if modules[item.module_id] != item.course_id:
                raise invalid(f"items.{index}.moduleId", "reason.module_not_in_course")


async def _write_items(
    connection: BaseDBAsyncClient, tenant_id: int, plan_id: int, items: Sequence[ItemFields]
) -> list[OjtPlanItem]:
    rows = [
        OjtPlanItem(
            tenant_id=tenant_id,
            plan_id=plan_id,
            position=position,
            course_id=item.course_id,
            module_id=item.module_id,
            due_days=item.due_days,
            is_required=item.is_required,
        )
        for position, item in enumerate(items, 1)
    ]
    await OjtPlanItem.bulk_create(rows, using_db=connection)
    return await items_of(tenant_id, plan_id, connection)


async def items_of(tenant_id: int, plan_id: int, connection: BaseDBAsyncClient | None = None) -> list[OjtPlanItem]:
    """A plan's items in order."""
    query = OjtPlanItem.filter(tenant_id=tenant_id, plan_id=plan_id)
    if connection is not None:
        query = query.using_db(connection)
    return await query.order_by("position", "id")


async def _touch_holders(connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, plan_id: int) -> None:
    """The OJT_ASSIGNMENT rows of the plan's open assignments: what they show of the plan changed."""
    query = OjtAssignment.filter(tenant_id=tenant_id, plan_id=plan_id, status__in=OPEN).using_db(connection)
    for assignment_id, employee_id in await query.values_list("id", "employee_id"):
        changes.touch(Entity.OJT_ASSIGNMENT, assignment_id, audience=employee_id)


# --- writes (HR admins) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanWithItems:
    plan: OjtPlan
    items: list[OjtPlanItem]


async def create_plan(viewer: Viewer, given: Mapping[str, object], now: datetime | None = None) -> PlanWithItems:
    """A new plan with its items (HR admins); its code unique in the company (ALREADY_EXISTS).
    Audited. Giving it to people is ``assignments``' work (placement plans: at the next hire or
    transfer; skill gap plans: at the next scheduled check)."""
    viewer.require_role(Role.HR_ADMIN)
    fields = check_plan(given)
    tenant_id = viewer.tenant_id
    now = now or datetime.now(UTC)
    try:
        async with in_transaction() as connection:
            await _check_references(connection, tenant_id, fields)
            if await code_taken(connection, OjtPlan, tenant_id, fields.code):
                raise already_exists("subject.ojt_plan", fields.code)
            values = {name: value for name, value in asdict(fields).items() if name != "items"}
            plan = await OjtPlan.create(tenant_id=tenant_id, **values, using_db=connection)
            items = await _write_items(connection, tenant_id, plan.id, fields.items)
            await audit(
                connection,
                viewer,
                tenant_id,
                "ojt.plan.create",
                "OjtPlan",
                plan.id,
                {"before": None, "after": snapshot(plan, items)},
            )
    except IntegrityError:  # the same code created at the same moment elsewhere
        raise already_exists("subject.ojt_plan", fields.code) from None
    return PlanWithItems(plan, items)


async def _locked_plan(connection: BaseDBAsyncClient, tenant_id: int, plan_id: int) -> OjtPlan:
    plan = await OjtPlan.filter(tenant_id=tenant_id, id=plan_id).select_for_update().using_db(connection).first()
    if plan is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="planId")
    return plan


async def update_plan(
    viewer: Viewer, plan_id: int, changes: Mapping[str, object], now: datetime | None = None
) -> PlanWithItems:
    """Change a plan (HR admins): ``changes`` holds the fields given (``PLAN_FIELDS``; ``items``, when
    given, replaces every item; a None position, org unit or skill clears it). The whole plan is
    checked again. Assignments already given keep their start and due days; their items follow the
    plan (an item added is owed by them too). Audited; the plan's version goes up."""
    viewer.require_role(Role.HR_ADMIN)
    unknown = set(changes) - set(PLAN_FIELDS)
    if unknown:
        raise ValueError(f"not plan fields: {sorted(unknown)}")
    tenant_id = viewer.tenant_id
    now = now or datetime.now(UTC)
    code = ""
    try:
        async with in_transaction() as connection:
            plan = await _locked_plan(connection, tenant_id, plan_id)
            stored = await items_of(tenant_id, plan.id, connection)
            before = snapshot(plan, stored)
            fields = check_plan({**_given_of(plan, stored), **changes})
            code = fields.code
            await _check_references(connection, tenant_id, fields)
            if fields.code != plan.code and await code_taken(connection, OjtPlan, tenant_id, fields.code, plan.id):
                raise already_exists("subject.ojt_plan", fields.code)
            values = {name: value for name, value in asdict(fields).items() if name != "items"}
            for name, value in values.items():
                setattr(plan, name, value)
            items_changed = [item_snapshot(i) for i in fields.items] != before["items"]
            if snapshot(plan, fields.items) == before:
                return PlanWithItems(plan, stored)
            plan.version += 1
            await plan.save(update_fields=[*values, "version", "updated_at"], using_db=connection)
            items = stored
            if items_changed:
                await OjtPlanItem.filter(tenant_id=tenant_id, plan_id=plan.id).using_db(connection).delete()
                items = await _write_items(connection, tenant_id, plan.id, fields.items)
            await audit(
                connection,
                viewer,
                tenant_id,
                "ojt.plan.update",
                "OjtPlan",
                plan.id,
                {"before": before, "after": snapshot(plan, items)},
            )
            feed = ChangeSet(tenant_id)
            await _touch_holders(connection, feed, tenant_id, plan.id)
            await feed.publish(connection, now)
    except IntegrityError:
        raise already_exists("subject.ojt_plan", code) from None
    return PlanWithItems(plan, items)


async def set_plan_active(viewer: Viewer, plan_id: int, active: bool, now: datetime | None = None) -> PlanWithItems:
    """Switch a plan on or off (HR admins). An inactive plan is given to nobody new (no trigger, no
    manual assignment); the assignments already given run on. Audited when it changes."""
    viewer.require_role(Role.HR_ADMIN)
    tenant_id = viewer.tenant_id
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        plan = await _locked_plan(connection, tenant_id, plan_id)
        items = await items_of(tenant_id, plan.id, connection)
        if plan.is_active == active:
            return PlanWithItems(plan, items)
        before = snapshot(plan, items)
        plan.is_active = active
        plan.version += 1
        await plan.save(update_fields=["is_active", "version", "updated_at"], using_db=connection)
        action = "ojt.plan.activate" if active else "ojt.plan.deactivate"
        await audit(
            connection,
            viewer,
            tenant_id,
            action,
            "OjtPlan",
            plan.id,
            {"before": before, "after": snapshot(plan, items)},
        )
    return PlanWithItems(plan, items)


# --- reads (HR admins and managers) ----------------------------------------------------------------

PLAN_ORDER: Keyset[OjtPlan] = Keyset("ojt-plan", ("code",), (str,))


async def plans_page(
    viewer: Viewer, first: int, after: str | None, max_page_size: int, active_only: bool = False
) -> Page[OjtPlan]:
    """The company's plans by code (HR admins and managers; anyone else FORBIDDEN)."""
    viewer.require_role(*PLAN_ROLES)
    first = check_page_size(first, max_page_size)
    query = OjtPlan.filter(tenant_id=viewer.tenant_id)
    if active_only:
        query = query.filter(is_active=True)
    return await PLAN_ORDER.fetch(query, first, after)


async def get_plan(viewer: Viewer, plan_id: int) -> OjtPlan:
    """One plan of the company (HR admins and managers); NOT_FOUND otherwise."""
    viewer.require_role(*PLAN_ROLES)
    plan = await OjtPlan.filter(tenant_id=viewer.tenant_id, id=plan_id).first()
    if plan is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return plan


@dataclass(frozen=True)
class ItemView:
    """An item with the titles it shows (its course's and, for a module item, the module's)."""

    item: OjtPlanItem
    course_code: str
    course_title: str
    module_title: str | None
    module_required_count: int  # how many completions the module item needs (1 for a course item)

    @property
    def title(self) -> str:
        return f"{self.course_title} · {self.module_title}" if self.module_title else self.course_title


async def items_by_plan(
    tenant_id: int, plan_ids: Sequence[int], connection: BaseDBAsyncClient | None = None
) -> dict[int, list[ItemView]]:
    """The items of many plans with their titles, in one statement (for loaders and the status
    derivation), each list in plan order."""
    if not plan_ids:
        return {}
    query = OjtPlanItem.filter(tenant_id=tenant_id, plan_id__in=sorted(set(plan_ids)))
    if connection is not None:
        query = query.using_db(connection)
    rows = await query.select_related("course").order_by("plan_id", "position", "id")
    module_ids = sorted({row.module_id for row in rows if row.module_id is not None})
    modules: dict[int, tuple[str, int]] = {}
    if module_ids:
        query_modules = CourseModule.filter(tenant_id=tenant_id, id__in=module_ids)
        if connection is not None:
            query_modules = query_modules.using_db(connection)
        for module_id, title, required_count in await query_modules.values_list("id", "title", "required_count"):
            modules[module_id] = (title, required_count)
    grouped: dict[int, list[ItemView]] = {}
    for row in rows:
        title, count = modules.get(row.module_id, (None, 1)) if row.module_id else (None, 1)
        view = ItemView(row, row.course.code, row.course.title, title, count)
        grouped.setdefault(row.plan_id, []).append(view)
    return grouped
