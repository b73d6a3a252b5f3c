"""OJT plan types: plans with their items, assignments with their derived status and items, the
inputs of HR's authoring, of giving and waiving plans, and their payloads."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from backend import models
from backend.ids import to_global_id
from backend.models import AssignmentSource, AssignmentStatus
from backend.services.ojt.plan_status import AssignmentState, ItemState
from backend.services.ojt.plans import ItemView
from schema.common import Node, UserError
from schema.organisation.types import OrgUnit, Position, Skill
from schema.people.types import Colleague, colleague_of

UNSET: Any = strawberry.UNSET  # "not given": the field keeps its value

strawberry.enum(
    AssignmentSource,
    name="OjtAssignmentSource",
    description="How a plan was given: HIRE (hired into, or back to, its position or org unit), TRANSFER (moved "
    "into it), MANUAL (by HR or a manager), SKILL_GAP (a skill gap reached the plan's threshold).",
)
strawberry.enum(
    AssignmentStatus,
    name="OjtAssignmentStatus",
    description="Derived from facts: WAIVED (waived with a reason), COMPLETED (every required item done), OVERDUE "
    "(past its due day in the employee's time zone), IN_PROGRESS (any item has progress), NOT_STARTED.",
)


@strawberry.enum(description="What gives a plan to people.")
class OjtPlanTrigger(Enum):
    PLACEMENT = strawberry.enum_value(
        "PLACEMENT", description="Hiring into, or a transfer into, its position and/or org unit."
    )
    SKILL_GAP = strawberry.enum_value(
        "SKILL_GAP", description="The scheduled checks: a gap in its skill reaching its threshold."
    )
    MANUAL = strawberry.enum_value("MANUAL", description="Nothing automatic: HR admins and managers give it.")


def trigger_of(plan: models.OjtPlan) -> OjtPlanTrigger:
    if plan.skill_id is not None:
        return OjtPlanTrigger.SKILL_GAP
    if plan.position_id is not None or plan.org_unit_id is not None:
        return OjtPlanTrigger.PLACEMENT
    return OjtPlanTrigger.MANUAL


@strawberry.type(description="One course, or one module of a course, of an OJT plan.")
class OjtPlanItem:
    course_id: strawberry.ID = strawberry.field(description="Global ID of the course.")
    course_code: str = strawberry.field(description="Code of the course.")
    module_id: strawberry.ID | None = strawberry.field(description="Global ID of the module; null: the whole course.")
    title: str = strawberry.field(description="The course's title (and the module's, for a module item).")
    due_days: int = strawberry.field(description="Days after the assignment starts by which it is due.")
    required: bool = strawberry.field(description="Whether it counts towards completing the plan.")
    required_count: int = strawberry.field(
        description="For a module item, how many times the module must be done (its required count); 1 for a course."
    )

    @classmethod
    def of(cls, view: ItemView) -> OjtPlanItem:
        item = view.item
        return cls(
            course_id=strawberry.ID(to_global_id("Course", item.course_id)),
            course_code=view.course_code,
            module_id=strawberry.ID(to_global_id("CourseModule", item.module_id)) if item.module_id else None,
            title=view.title,
            due_days=item.due_days,
            required=item.is_required,
            required_count=view.module_required_count if item.module_id else 1,
        )


@strawberry.type(description="An OJT plan: courses and modules a position's people must learn, and by when.")
class OjtPlan(Node):
    code: str = strawberry.field(description="Code of the plan, unique in the company.")
    name: str = strawberry.field(description="Name, e.g. 新员工入职培训（客户经理）.")
    description: str = strawberry.field(description="What the plan is for.")
    trigger: OjtPlanTrigger = strawberry.field(description="What gives it to people.")
    gap_threshold: int | None = strawberry.field(
        description="For a skill gap plan: the gap (required level minus the person's level, 0–100) that calls for it."
    )
    mentor_required: bool = strawberry.field(description="Whether someone following it needs a mentor.")
    due_days: int = strawberry.field(description="Days after an assignment starts by which the whole plan is due.")
    remind_days: int = strawberry.field(description="How many days before the due day people are reminded.")
    is_active: bool = strawberry.field(description="Inactive plans are given to nobody new.")
    version: int = strawberry.field(description="Goes up with every change.")
    _row: strawberry.Private[models.OjtPlan]

    @strawberry.field(description="The position it is for (placement and skill gap plans); null: any.")
    async def position(self, info: strawberry.Info) -> Position | None:
        if self._row.position_id is None:
            return None
        row = await (await info.context.loaders()).position.load(self._row.position_id)
        return Position.from_model(row) if row else None

    @strawberry.field(description="The org unit whose subtree it is for; null: the whole company.")
    async def org_unit(self, info: strawberry.Info) -> OrgUnit | None:
        if self._row.org_unit_id is None:
            return None
        row = await (await info.context.loaders()).org_unit.load(self._row.org_unit_id)
        return OrgUnit.from_model(row) if row else None

    @strawberry.field(description="For a skill gap plan: the skill.")
    async def skill(self, info: strawberry.Info) -> Skill | None:
        if self._row.skill_id is None:
            return None
        row = await (await info.context.loaders()).skill.load(self._row.skill_id)
        return Skill.from_model(row) if row else None

    @strawberry.field(description="Its courses and modules, in order.")
    async def items(self, info: strawberry.Info) -> list[OjtPlanItem]:
        views = await (await info.context.loaders()).ojt_plan_items.load(self._row.id)
        return [OjtPlanItem.of(view) for view in views]

    @classmethod
    def from_model(cls, row: models.OjtPlan) -> OjtPlan:
        return cls(
            id=strawberry.ID(to_global_id("OjtPlan", row.id)),
            code=row.code,
            name=row.name,
            description=row.description,
            trigger=trigger_of(row),
            gap_threshold=row.gap_threshold,
            mentor_required=row.mentor_required,
            due_days=row.due_days,
            remind_days=row.remind_days,
            is_active=row.is_active,
            version=row.version,
            _row=row,
        )


@strawberry.type(description="One item of an assignment: what it is, when it is due, whether it is done.")
class OjtAssignmentItem:
    course_id: strawberry.ID = strawberry.field(description="Global ID of the course.")
    course_code: str = strawberry.field(description="Code of the course.")
    module_id: strawberry.ID | None = strawberry.field(description="Global ID of the module; null: the whole course.")
    title: str = strawberry.field(description="The course's title (and the module's, for a module item).")
    due_on: date = strawberry.field(description="The day it is due (the assignment's start plus its due days).")
    required: bool = strawberry.field(description="Whether it counts towards completing the plan.")
    done: bool = strawberry.field(
        description="Done: the course (any version of it) completed, or the module done its required number of times."
    )

    @classmethod
    def of(cls, item: ItemState) -> OjtAssignmentItem:
        return cls(
            course_id=strawberry.ID(to_global_id("Course", item.course_id)),
            course_code=item.course_code,
            module_id=strawberry.ID(to_global_id("CourseModule", item.module_id)) if item.module_id else None,
            title=item.title,
            due_on=item.due_on,
            required=item.required,
            done=item.done,
        )


@strawberry.type(description="An OJT plan given to one employee, with its status derived from facts.")
class OjtAssignment(Node):
    plan: OjtPlan = strawberry.field(description="The plan.")
    source: AssignmentSource = strawberry.field(description="How it was given.")
    starts_on: date = strawberry.field(description="The day it started (a hire day, a move's day, or as given).")
    due_on: date = strawberry.field(description="The day the whole plan is due.")
    status: AssignmentStatus = strawberry.field(description="Where it stands now, derived from facts.")
    completed_at: datetime | None = strawberry.field(description="When its last required item was done.")
    due_soon: bool = strawberry.field(description="Open and within the plan's reminder days of its due day.")
    remaining_count: int = strawberry.field(description="Required items not done yet.")
    mentor_required: bool = strawberry.field(description="Whether the plan needs a mentor.")
    mentor_missing: bool = strawberry.field(
        description="The plan needs a mentor and the employee has none today (for every course or one of the plan's)."
    )
    waived_reason: str | None = strawberry.field(description="Why it was waived; null unless waived.")
    waived_at: datetime | None = strawberry.field(description="When it was waived.")
    reminded_at: datetime | None = strawberry.field(description="When the employee was told it is due soon.")
    escalated_at: datetime | None = strawberry.field(
        description="When it was found overdue and the employee and their manager were told."
    )
    items: list[OjtAssignmentItem] = strawberry.field(description="Its items with due days and done states.")
    _row: strawberry.Private[models.OjtAssignment]

    @strawberry.field(description="The employee it was given to.")
    async def employee(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._row.employee_id)

    @strawberry.field(description="Who gave it by hand (or who hired or moved the employee); null: the checks.")
    async def assigned_by(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._row.assigned_by_id)

    @strawberry.field(description="Who waived it.")
    async def waived_by(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._row.waived_by_id)

    @classmethod
    def of(cls, state: AssignmentState) -> OjtAssignment:
        row = state.assignment
        return cls(
            id=strawberry.ID(to_global_id("OjtAssignment", row.id)),
            plan=OjtPlan.from_model(state.plan),
            source=row.source,
            starts_on=row.starts_on,
            due_on=row.due_on,
            status=state.status,
            completed_at=state.completed_at,
            due_soon=state.due_soon,
            remaining_count=state.remaining,
            mentor_required=state.plan.mentor_required,
            mentor_missing=state.mentor_missing,
            waived_reason=row.waived_reason if state.status == AssignmentStatus.WAIVED else None,
            waived_at=row.waived_at,
            reminded_at=row.reminded_at,
            escalated_at=row.escalated_at,
            items=[OjtAssignmentItem.of(item) for item in state.items],
            _row=row,
        )


# --- inputs ------------------------------------------------------------------------------------------


@strawberry.input(description="One course, or one module of it, of a plan.")
class OjtPlanItemInput:
    course_id: strawberry.ID = strawberry.field(description="Global ID of a course of the company.")
    module_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of one module of that course; null: the whole course."
    )
    due_days: int | None = strawberry.field(
        default=None,
        description="Days after the start by which it is due (1–3650, not after the plan); null: the plan's.",
    )
    required: bool = strawberry.field(default=True, description="Whether it counts towards completing the plan.")


_ITEMS = "Its courses and modules in order (1–100; at least one required, none twice)."
_POSITION = "Global ID of the position it is for. With no position, org unit or skill the plan is manual-only."
_ORG_UNIT = "Global ID of an org unit: the plan is for people of its subtree."
_SKILL = "Global ID of a skill: a skill gap plan, given by the scheduled checks (with gapThreshold)."
_GAP = "The gap (required level minus the person's level, 1–100) that calls for a skill gap plan."


@strawberry.input(description="A new OJT plan.")
class CreateOjtPlanInput:
    code: str = strawberry.field(description="Code: upper-case letters, digits and hyphens, unique in the company.")
    name: str = strawberry.field(description="Name (at most 200 characters).")
    items: list[OjtPlanItemInput] = strawberry.field(description=_ITEMS)
    description: str | None = strawberry.field(default=None, description="What it is for (at most 2000 characters).")
    position_id: strawberry.ID | None = strawberry.field(default=None, description=_POSITION)
    org_unit_id: strawberry.ID | None = strawberry.field(default=None, description=_ORG_UNIT)
    skill_id: strawberry.ID | None = strawberry.field(default=None, description=_SKILL)
    gap_threshold: int | None = strawberry.field(default=None, description=_GAP)
    mentor_required: bool = strawberry.field(default=False, description="Whether a follower needs a mentor.")
    due_days: int = strawberry.field(default=30, description="Days after the start by which the plan is due (1–3650).")
    remind_days: int = strawberry.field(
        default=3, description="Days before the due day to remind the employee (0–365)."
    )


@strawberry.input(description="Changes to a plan; a field left out keeps its value, null clears an optional one.")
class UpdateOjtPlanInput:
    plan_id: strawberry.ID = strawberry.field(description="Global ID of the plan.")
    code: str | None = strawberry.field(default=UNSET, description="New code.")
    name: str | None = strawberry.field(default=UNSET, description="New name.")
    description: str | None = strawberry.field(default=UNSET, description="New description.")
    items: list[OjtPlanItemInput] | None = strawberry.field(default=UNSET, description=f"Every item anew. {_ITEMS}")
    position_id: strawberry.ID | None = strawberry.field(default=UNSET, description=_POSITION)
    org_unit_id: strawberry.ID | None = strawberry.field(default=UNSET, description=_ORG_UNIT)
    skill_id: strawberry.ID | None = strawberry.field(default=UNSET, description=_SKILL)
    gap_threshold: int | None = strawberry.field(default=UNSET, description=_GAP)
    mentor_required: bool | None = strawberry.field(default=UNSET, description="Whether a follower needs a mentor.")
    due_days: int | None = strawberry.field(default=UNSET, description="Days by which the plan is due (1–3650).")
    remind_days: int | None = strawberry.field(default=UNSET, description="Days before the due day to remind.")


@strawberry.input(description="Switch a plan on or off.")
class SetOjtPlanActiveInput:
    plan_id: strawberry.ID = strawberry.field(description="Global ID of the plan.")
    active: bool = strawberry.field(description="False: given to nobody new; those given keep it.")


@strawberry.input(description="Give a plan to employees, or to every active employee of an org unit's subtree.")
class AssignOjtPlanInput:
    plan_id: strawberry.ID = strawberry.field(description="Global ID of an active plan.")
    employee_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Global IDs of active employees (at most 500); or orgUnitId."
    )
    org_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of an org unit: everyone active in its subtree; or employeeIds."
    )
    starts_on: date | None = strawberry.field(
        default=None, description="The day it starts; null: today in the company's time zone."
    )


@strawberry.input(description="Waive an assignment.")
class WaiveOjtAssignmentInput:
    assignment_id: strawberry.ID = strawberry.field(description="Global ID of the assignment.")
    reason: str = strawberry.field(description="Why (required, at most 300 characters); the employee sees it.")


@strawberry.input(description="Conditions narrowing a list of assignments; every one given must hold.")
class OjtAssignmentFilter:
    plan_id: strawberry.ID | None = strawberry.field(default=None, description="Of this plan.")
    status: AssignmentStatus | None = strawberry.field(
        default=None,
        description="In this status: WAIVED, COMPLETED and OVERDUE as the rows say now; NOT_STARTED and IN_PROGRESS "
        "as the last scheduled check found them.",
    )
    org_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="Of people of this org unit's subtree (where they are now)."
    )
    employee_id: strawberry.ID | None = strawberry.field(default=None, description="Of this employee.")
    overdue_only: bool = strawberry.field(default=False, description="Only those past their due day, not done.")


# --- payloads ----------------------------------------------------------------------------------------


@strawberry.type(description="Result of createOjtPlan, updateOjtPlan and setOjtPlanActive.")
class OjtPlanPayload:
    plan: OjtPlan | None = strawberry.field(description="The plan after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of assignOjtPlan.")
class AssignOjtPlanPayload:
    assigned_count: int = strawberry.field(default=0, description="Assignments made.")
    already_assigned_count: int = strawberry.field(
        default=0, description="People who had the plan already (left as they were)."
    )
    assignments: list[OjtAssignment] = strawberry.field(description="The new assignments (the first 100).")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of waiveOjtAssignment.")
class OjtAssignmentPayload:
    assignment: OjtAssignment | None = strawberry.field(description="The assignment after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")
