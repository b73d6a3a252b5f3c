"""OJT plan fields: ``ojtPlans``, ``ojtPlan``, ``ojtAssignments``, ``ojtAssignment``,
``myOjtAssignments`` and the mutations ``createOjtPlan``, ``updateOjtPlan``, ``setOjtPlanActive``,
``assignOjtPlan``, ``waiveOjtAssignment``. Thin: they call backend.services.ojt.plans and
assignments."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.services.ojt import assignments, plans
from backend.services.viewer import Viewer
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.plans.types import (
    AssignOjtPlanInput,
    AssignOjtPlanPayload,
    CreateOjtPlanInput,
    OjtAssignment,
    OjtAssignmentFilter,
    OjtAssignmentPayload,
    OjtPlan,
    OjtPlanItemInput,
    OjtPlanPayload,
    SetOjtPlanActiveInput,
    UpdateOjtPlanInput,
    WaiveOjtAssignmentInput,
)

# GraphQL input name → the global ID type it names.
_ID_FIELDS = {"positionId": "Position", "orgUnitId": "OrgUnit", "skillId": "Skill"}


def _optional_id(value: Any, type_name: str, field: str) -> int | None:
    return None if value is None else expect_global_id(value, type_name, field)


def _items(given: list[OjtPlanItemInput]) -> list[dict[str, Any]]:
    return [
        {
            "courseId": expect_global_id(item.course_id, "Course", f"items.{index}.courseId"),
            "moduleId": _optional_id(item.module_id, "CourseModule", f"items.{index}.moduleId"),
            "dueDays": item.due_days,
            "required": item.required,
        }
        for index, item in enumerate(given)
    ]


def _plan_fields(values: dict[str, Any]) -> dict[str, Any]:
    """An input's fields in the service's terms (ids read, items as mappings); UNSET left out."""
    given: dict[str, Any] = {}
    for name, value in values.items():
        if value is strawberry.UNSET:
            continue
        if name in _ID_FIELDS:
            given[name] = _optional_id(value, _ID_FIELDS[name], name)
        elif name == "items":
            given[name] = _items(value) if value is not None else None
        else:
            given[name] = value
    return given


def _plan_payload(found: plans.PlanWithItems | None, errors) -> OjtPlanPayload:
    return OjtPlanPayload(plan=OjtPlan.from_model(found.plan) if found else None, errors=errors)


@strawberry.type
class PlanQueries:
    @strawberry.field(
        description="The company's OJT plans by code, as a Relay connection (HR admins and managers; anyone else "
        "FORBIDDEN)."
    )
    async def ojt_plans(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        active_only: Annotated[bool, strawberry.argument(description="Only plans given to people now.")] = False,
    ) -> Connection[OjtPlan]:
        viewer = await info.context.require_viewer()
        page = await plans.plans_page(viewer, first, after, info.context.settings.max_page_size, active_only)
        return Connection[OjtPlan].from_page(page, OjtPlan.from_model)

    @strawberry.field(description="One OJT plan (HR admins and managers); NOT_FOUND when not the company's.")
    async def ojt_plan(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the plan.")],
    ) -> OjtPlan:
        viewer = await info.context.require_viewer()
        return OjtPlan.from_model(await plans.get_plan(viewer, expect_global_id(id, "OjtPlan", "id")))

    @strawberry.field(
        description="OJT assignments, newest first, as a Relay connection: HR admins the company's, managers their "
        "team's (direct reports and their own unit's subtree); anyone else FORBIDDEN. Each with its status derived "
        "now; a page costs the same whatever its size."
    )
    async def ojt_assignments(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        filter: Annotated[
            OjtAssignmentFilter | None, strawberry.argument(description="Conditions to narrow the list.")
        ] = None,
    ) -> Connection[OjtAssignment]:
        viewer = await info.context.require_viewer()
        given = filter or OjtAssignmentFilter()
        wanted = assignments.AssignmentFilter(
            plan_id=_optional_id(given.plan_id, "OjtPlan", "filter.planId"),
            status=given.status,
            org_unit_id=_optional_id(given.org_unit_id, "OrgUnit", "filter.orgUnitId"),
            employee_id=_optional_id(given.employee_id, "Employee", "filter.employeeId"),
            overdue_only=given.overdue_only,
        )
        page = await assignments.assignments_page(viewer, wanted, first, after, info.context.settings.max_page_size)
        return Connection[OjtAssignment].from_page(page, OjtAssignment.of)

    @strawberry.field(
        description="One OJT assignment: the employee's own, a manager's team's, any for HR admins; NOT_FOUND "
        "otherwise."
    )
    async def ojt_assignment(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the assignment.")],
    ) -> OjtAssignment:
        viewer = await info.context.require_viewer()
        return OjtAssignment.of(await assignments.get_assignment(viewer, expect_global_id(id, "OjtAssignment", "id")))

    @strawberry.field(description="The viewer's own OJT assignments, soonest due first, with items and done states.")
    async def my_ojt_assignments(self, info: strawberry.Info) -> list[OjtAssignment]:
        viewer = await info.context.require_viewer()
        return [OjtAssignment.of(state) for state in await assignments.my_assignments(viewer)]


@strawberry.type
class PlanMutations:
    @strawberry.mutation(
        description="Create an OJT plan (HR admins): courses or single modules of the company, each due within the "
        "plan; a position and/or org unit (given on hire and transfer), a skill and gap threshold (given by the "
        "scheduled checks), or neither (manual-only). Audited."
    )
    async def create_ojt_plan(
        self,
        info: strawberry.Info,
        input: Annotated[CreateOjtPlanInput, strawberry.argument(description="The plan.")],
    ) -> OjtPlanPayload:
        async def work(viewer: Viewer) -> plans.PlanWithItems:
            given = _plan_fields(
                {
                    "code": input.code,
                    "name": input.name,
                    "description": input.description,
                    "positionId": input.position_id,
                    "orgUnitId": input.org_unit_id,
                    "skillId": input.skill_id,
                    "gapThreshold": input.gap_threshold,
                    "mentorRequired": input.mentor_required,
                    "dueDays": input.due_days,
                    "remindDays": input.remind_days,
                    "items": input.items,
                }
            )
            return await plans.create_plan(viewer, given)

        return await mutate(info, work, _plan_payload)

    @strawberry.mutation(
        description="Change an OJT plan (HR admins): the fields given; items, when given, replace them all. "
        "Assignments already given keep their days and follow the new items. Audited."
    )
    async def update_ojt_plan(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateOjtPlanInput, strawberry.argument(description="The changes.")],
    ) -> OjtPlanPayload:
        async def work(viewer: Viewer) -> plans.PlanWithItems:
            plan_id = expect_global_id(input.plan_id, "OjtPlan", "planId")
            given = _plan_fields(
                {
                    "code": input.code,
                    "name": input.name,
                    "description": input.description,
                    "positionId": input.position_id,
                    "orgUnitId": input.org_unit_id,
                    "skillId": input.skill_id,
                    "gapThreshold": input.gap_threshold,
                    "mentorRequired": input.mentor_required,
                    "dueDays": input.due_days,
                    "remindDays": input.remind_days,
                    "items": input.items,
                }
            )
            return await plans.update_plan(viewer, plan_id, given)

        return await mutate(info, work, _plan_payload)

    @strawberry.mutation(
        description="Switch an OJT plan on or off (HR admins): an inactive plan is given to nobody new; those "
        "given keep it. Audited."
    )
    async def set_ojt_plan_active(
        self,
        info: strawberry.Info,
        input: Annotated[SetOjtPlanActiveInput, strawberry.argument(description="The plan and its state.")],
    ) -> OjtPlanPayload:
        async def work(viewer: Viewer) -> plans.PlanWithItems:
            plan_id = expect_global_id(input.plan_id, "OjtPlan", "planId")
            return await plans.set_plan_active(viewer, plan_id, input.active)

        return await mutate(info, work, _plan_payload)

    @strawberry.mutation(
        description="Give an active OJT plan to employees or to everyone active in an org unit's subtree: HR admins "
        "anyone, managers their team (FORBIDDEN otherwise). People who have it already keep theirs (counted). "
        "Each new one tells its employee and reaches their phones. Audited."
    )
    async def assign_ojt_plan(
        self,
        info: strawberry.Info,
        input: Annotated[AssignOjtPlanInput, strawberry.argument(description="The plan and the people.")],
    ) -> AssignOjtPlanPayload:
        async def work(viewer: Viewer) -> assignments.Assigned:
            plan_id = expect_global_id(input.plan_id, "OjtPlan", "planId")
            employee_ids = [expect_global_id(i, "Employee", "employeeIds") for i in input.employee_ids or []]
            org_unit_id = _optional_id(input.org_unit_id, "OrgUnit", "orgUnitId")
            return await assignments.assign(viewer, plan_id, employee_ids, org_unit_id, input.starts_on)

        def payload(done: assignments.Assigned | None, errors) -> AssignOjtPlanPayload:
            if done is None:
                return AssignOjtPlanPayload(assignments=[], errors=errors)
            return AssignOjtPlanPayload(
                assigned_count=done.assigned,
                already_assigned_count=done.already,
                assignments=[OjtAssignment.of(state) for state in done.states],
                errors=errors,
            )

        return await mutate(info, work, payload)

    @strawberry.mutation(
        description="Waive an OJT assignment with a reason: HR admins, or a manager of the employee's team; never "
        "one's own. A waived one is ALREADY_DECIDED, a completed one INVALID_STATUS_CHANGE. Audited."
    )
    async def waive_ojt_assignment(
        self,
        info: strawberry.Info,
        input: Annotated[WaiveOjtAssignmentInput, strawberry.argument(description="The assignment and why.")],
    ) -> OjtAssignmentPayload:
        async def work(viewer: Viewer):
            assignment_id = expect_global_id(input.assignment_id, "OjtAssignment", "assignmentId")
            return await assignments.waive(viewer, assignment_id, input.reason)

        def payload(state, errors) -> OjtAssignmentPayload:
            return OjtAssignmentPayload(assignment=OjtAssignment.of(state) if state else None, errors=errors)

        return await mutate(info, work, payload)
