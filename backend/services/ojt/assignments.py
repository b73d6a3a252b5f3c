"""OJT assignments: plans given to people, how, by whom, and the scheduled checks that follow them.

How a plan is given (one row per employee and plan, ever: a second time is a no-op, counted):

- **on placement** (``assign_on_placement``): hiring, a return and a transfer into a position and/or
  org unit give the active placement plans that match where the person now works (a transfer: those
  that did not match where they worked before), in the employment write's own transaction, dated
  the hire day or the move's effective day. Imports call it once per chunk: a fixed number of
  statements whatever the chunk's size.
- **by hand** (``assign``): HR admins to anyone of the company, managers to their team (their direct
  reports and the people of their own unit's subtree; anyone else FORBIDDEN), for listed employees
  or every active employee of an org unit's subtree; from a given day or the company's today.
  Audited.
- **by a skill gap** (``assignment_checks.run_checks``): a plan with a skill and a gap threshold goes to the active
  employees whose position requires the skill and whose gap (required level minus their level, 0
  without one) reaches the threshold (and who match the plan's position and org unit, when set).

Every new assignment tells its employee (ASSIGNMENT_NEW) and reaches their phones (OJT_ASSIGNMENT)
in the transaction that writes it. The scheduled job that follows them (statuses, reminders,
escalation) is ``assignment_checks``.

``waive``: HR admins, or a manager of the employee's team, with a reason; never one's own. Audited.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    AssignmentSource,
    AssignmentStatus,
    Employee,
    NotificationKind,
    OjtAssignment,
    OjtPlan,
    OjtPlanItem,
    OrgUnit,
    Role,
    Tenant,
)
from backend.services.audit import audit
from backend.services.feed import ChangeSet, Entity
from backend.services.imports.bulk import update_by_id
from backend.services.notifications.notices import Notice
from backend.services.ojt.mentoring import local_day
from backend.services.ojt.plan_status import OPEN, AssignmentState, states_of
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer
from backend.sql import db_day, db_time, insert_many

ASSIGN_ROLES = (Role.HR_ADMIN, Role.MANAGER)
MAX_EMPLOYEES = 500  # employeeIds of one assignOjtPlan (a whole unit: orgUnitId)
ANSWERED = 100  # new assignments an assign answers with (the counts cover them all)
MAX_REASON = 300  # OjtAssignment.waived_reason


def global_id(assignment_id: int) -> str:
    return to_global_id("OjtAssignment", assignment_id)


# --- whose assignments a viewer may handle -------------------------------------------------------------


@dataclass(frozen=True)
class Team:
    """A manager's team: their direct reports and the people of their own unit's subtree (``path``;
    None without a unit)."""

    manager_id: int
    path: str | None

    def holds(self, manager_id: int | None, unit_path: str | None) -> bool:
        in_subtree = self.path is not None and unit_path is not None and unit_path.startswith(self.path)
        return manager_id == self.manager_id or in_subtree

    def people(self, tenant_id: int) -> QuerySet[Employee]:
        where = Q(manager_id=self.manager_id)
        if self.path is not None:
            where |= Q(org_unit__path__startswith=self.path)
        return Employee.filter(where, tenant_id=tenant_id)


async def team_of(viewer: Viewer) -> Team | None:
    """None for an HR admin (the whole company); a manager's team; FORBIDDEN for anyone else."""
    viewer.require_role(*ASSIGN_ROLES)
    if viewer.has_role(Role.HR_ADMIN):
        return None
    unit_id = viewer.employee.org_unit_id
    paths = (
        await OrgUnit.filter(tenant_id=viewer.tenant_id, id=unit_id).values_list("path", flat=True) if unit_id else []
    )
    return Team(viewer.employee_id, str(paths[0]) if paths else None)


async def company_today(tenant_id: int, now: datetime, connection: BaseDBAsyncClient | None = None) -> date:
    """The company's calendar day at ``now``."""
    query = Tenant.filter(id=tenant_id)
    zones = await (query.using_db(connection) if connection else query).values_list("time_zone", flat=True)
    return local_day(now, str(zones[0]) if zones else None)


# --- writing assignments -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanBrief:
    """What a new assignment needs of its plan: due days, and the name and item count it tells."""

    id: int
    name: str
    due_days: int
    items: int


@dataclass(frozen=True)
class Grant:
    employee_id: int
    plan: PlanBrief
    source: AssignmentSource
    starts_on: date


_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "plan_id": "int",
    "source": "text",
    "assigned_by_id": "int",
    "starts_on": "date",
    "due_on": "date",
    "status": "text",
    "waived_reason": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


async def plan_briefs(connection: BaseDBAsyncClient, tenant_id: int, plans: Sequence[OjtPlan]) -> dict[int, PlanBrief]:
    """The plans' briefs, their items counted in one statement."""
    if not plans:
        return {}
    query = OjtPlanItem.filter(tenant_id=tenant_id, plan_id__in=[plan.id for plan in plans]).using_db(connection)
    counts = Counter(int(plan_id) for (plan_id,) in await query.values_list("plan_id"))
    return {plan.id: PlanBrief(plan.id, plan.name, plan.due_days, counts[plan.id]) for plan in plans}


async def give(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    grants: Sequence[Grant],
    assigned_by: int | None,
    now: datetime,
) -> list[int]:
    """Insert the grants that are new (one statement; those an employee already has are skipped by
    the unique key), tell each employee (but ``assigned_by``) and mark their phones' rows. Returns
    the new ids."""
    unique = {(grant.employee_id, grant.plan.id): grant for grant in grants}
    if not unique:
        return []
    at = db_time(connection, now)
    rows = [
        (
            tenant_id,
            grant.employee_id,
            grant.plan.id,
            grant.source.value,
            assigned_by,
            db_day(connection, grant.starts_on),
            db_day(connection, grant.starts_on + timedelta(days=grant.plan.due_days)),
            AssignmentStatus.NOT_STARTED.value,
            "",
            at,
            at,
        )
        for grant in unique.values()
    ]
    inserted = await insert_many(
        connection,
        "ojt_assignment",
        _COLUMNS,
        rows,
        on_conflict="ON CONFLICT (tenant_id, employee_id, plan_id) DO NOTHING",
        returning="id, employee_id, plan_id",
    )
    created = []
    for found in inserted:
        assignment_id, employee_id = int(found["id"]), int(found["employee_id"])
        grant = unique[(employee_id, int(found["plan_id"]))]
        due_on = grant.starts_on + timedelta(days=grant.plan.due_days)
        changes.touch(Entity.OJT_ASSIGNMENT, assignment_id, audience=employee_id)
        if employee_id != assigned_by:  # who gave it (to themselves too) is not told of their own act
            changes.notify(
                Notice(
                    NotificationKind.ASSIGNMENT_NEW,
                    employee_id,
                    f"assignment:{assignment_id}:new",
                    {"plan": grant.plan.name, "dueOn": due_on.isoformat(), "items": grant.plan.items},
                    subject_id=global_id(assignment_id),
                )
            )
        created.append(assignment_id)
    created += await _restart_windows(connection, changes, tenant_id, unique, inserted, assigned_by, now)
    return sorted(created)


_RESTARTED = {
    "source": "text",
    "starts_on": "date",
    "due_on": "date",
    "status": "text",
    "reminded_at": "timestamptz",
    "escalated_at": "timestamptz",
}


# Placements that start a window of their own: an employee who left and came back, or moved away
# and back, is placed again.
_PLACEMENT_SOURCES = (AssignmentSource.HIRE, AssignmentSource.TRANSFER)


async def _restart_windows(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    unique: dict[tuple[int, int], Grant],
    inserted: Sequence[dict[str, Any]],
    assigned_by: int | None,
    now: datetime,
) -> list[int]:
    """A placement into a plan the employee already has, still open (neither completed nor
    waived), whose window ended before this placement starts (they left, or moved away, and came
    back): the window starts again on the new day, as a new plan would, instead of the old row
    escalating at once for a due date months ago. The reminder and escalation marks are cleared;
    the notices' keys name the due date, so the new window is told again. Two statements."""
    new = {(int(row["employee_id"]), int(row["plan_id"])) for row in inserted}
    again = {pair: grant for pair, grant in unique.items() if pair not in new and grant.source in _PLACEMENT_SOURCES}
    if not again:
        return []
    rows = (
        await OjtAssignment.filter(
            tenant_id=tenant_id,
            employee_id__in=sorted({employee for employee, _ in again}),
            plan_id__in=sorted({plan for _, plan in again}),
        )
        .exclude(status__in=[AssignmentStatus.COMPLETED, AssignmentStatus.WAIVED])
        .using_db(connection)
    )
    updates: list[tuple[int, dict[str, Any]]] = []
    restarted = []
    for row in rows:
        grant = again.get((row.employee_id, row.plan_id))
        if grant is None or row.completed_at is not None or row.due_on >= grant.starts_on:
            continue
        due_on = grant.starts_on + timedelta(days=grant.plan.due_days)
        updates.append(
            (
                row.id,
                {
                    "source": grant.source.value,
                    "starts_on": db_day(connection, grant.starts_on),
                    "due_on": db_day(connection, due_on),
                    "status": AssignmentStatus.NOT_STARTED.value,
                    "reminded_at": None,
                    "escalated_at": None,
                },
            )
        )
        changes.touch(Entity.OJT_ASSIGNMENT, row.id, audience=row.employee_id)
        if row.employee_id != assigned_by:
            changes.notify(
                Notice(
                    NotificationKind.ASSIGNMENT_NEW,
                    row.employee_id,
                    f"assignment:{row.id}:new:{grant.starts_on.isoformat()}",
                    {"plan": grant.plan.name, "dueOn": due_on.isoformat(), "items": grant.plan.items},
                    subject_id=global_id(row.id),
                )
            )
        restarted.append(row.id)
    await update_by_id(connection, "ojt_assignment", _RESTARTED, updates, now)
    return restarted


@dataclass(frozen=True)
class Placement:
    """Where an employee now works after a hire, a return or a transfer (``before_*``: where they
    worked before a transfer; plans that matched there are not given again)."""

    employee_id: int
    source: AssignmentSource
    starts_on: date
    org_unit_id: int | None
    position_id: int | None
    before_org_unit_id: int | None = None
    before_position_id: int | None = None


async def assign_on_placement(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    placements: Sequence[Placement],
    today: date,
    now: datetime,
    assigned_by: int | None = None,
) -> int:
    """Give each placed (active) employee the company's active placement plans that match where they
    now work and, for a transfer, did not match where they were: a plan matches when its position
    (if set) is theirs and its org unit (if set) contains theirs. A plan that would be overdue the
    day it is given (placed more than its due days before ``today``, the company's day) is not
    given: people placed long ago (the existing workforce imported, a back-dated hire) are past the
    window it is for. In the caller's transaction; at most four statements whatever the number of
    placements (one when the company has no such plan). Returns how many assignments were made."""
    if not placements:
        return 0
    plans = (
        await OjtPlan.filter(Q(position_id__isnull=False) | Q(org_unit_id__isnull=False), tenant_id=tenant_id)
        .filter(is_active=True, skill_id=None)
        .using_db(connection)
        .order_by("id")
    )
    if not plans:
        return 0
    paths: dict[int, str] = {}
    if any(plan.org_unit_id is not None for plan in plans):
        unit_ids = {plan.org_unit_id for plan in plans} | {
            unit for p in placements for unit in (p.org_unit_id, p.before_org_unit_id)
        }
        query = OrgUnit.filter(tenant_id=tenant_id, id__in=sorted(u for u in unit_ids if u is not None))
        paths = dict(await query.using_db(connection).values_list("id", "path"))

    def matches(plan: OjtPlan, unit_id: int | None, position_id: int | None) -> bool:
        if plan.position_id is not None and plan.position_id != position_id:
            return False
        if plan.org_unit_id is None:
            return True
        unit_path, plan_path = paths.get(unit_id or 0), paths.get(plan.org_unit_id)
        return unit_path is not None and plan_path is not None and unit_path.startswith(plan_path)

    chosen: list[tuple[Placement, OjtPlan]] = []
    for placement in placements:
        for plan in plans:
            if placement.starts_on + timedelta(days=plan.due_days) < today:
                continue
            if not matches(plan, placement.org_unit_id, placement.position_id):
                continue
            moved = placement.source == AssignmentSource.TRANSFER
            if moved and matches(plan, placement.before_org_unit_id, placement.before_position_id):
                continue  # they had this place's plans already: a move within it gives nothing new
            chosen.append((placement, plan))
    if not chosen:
        return 0
    briefs = await plan_briefs(connection, tenant_id, list({plan.id: plan for _, plan in chosen}.values()))
    grants = [Grant(p.employee_id, briefs[plan.id], p.source, p.starts_on) for p, plan in chosen]
    return len(await give(connection, changes, tenant_id, grants, assigned_by, now))


@dataclass(frozen=True)
class Assigned:
    """What an assign did: how many were new, how many already had the plan, and the first
    ``ANSWERED`` new assignments."""

    assigned: int
    already: int
    states: list[AssignmentState]


def _unit_paths(rows: Sequence[tuple[Any, ...]]) -> dict[int, tuple[bool, int | None, str | None]]:
    return {int(row[0]): (bool(row[1]), row[2], row[3]) for row in rows}


async def assign(
    viewer: Viewer,
    plan_id: int,
    employee_ids: Sequence[int] | None = None,
    org_unit_id: int | None = None,
    starts_on: date | None = None,
    now: datetime | None = None,
) -> Assigned:
    """Give an active plan to the listed employees (all active) or to every active employee of an
    org unit's subtree (exactly one of the two: VALIDATION otherwise), from ``starts_on`` or the
    company's today, due ``plan.due_days`` later. HR admins: anyone of the company; managers: their
    team (FORBIDDEN otherwise). Another company's plan, employee or unit is NOT_FOUND. People who
    have the plan already keep theirs (counted in ``already``). Audited."""
    viewer.require_role(*ASSIGN_ROLES)
    wanted = sorted(set(employee_ids or ()))
    if bool(wanted) == (org_unit_id is not None):
        raise invalid("employeeIds" if wanted else "orgUnitId", "reason.assign_target")
    if len(wanted) > MAX_EMPLOYEES:
        raise invalid("employeeIds", "reason.count_range", min=1, max=MAX_EMPLOYEES)
    tenant_id = viewer.tenant_id
    now = now or datetime.now(UTC)
    team = await team_of(viewer)
    async with in_transaction() as connection:
        plan = await OjtPlan.filter(tenant_id=tenant_id, id=plan_id).using_db(connection).first()
        if plan is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="planId")
        if not plan.is_active:
            raise invalid("planId", "reason.plan_inactive")
        start = starts_on or await company_today(tenant_id, now, connection)
        if wanted:
            query = Employee.filter(tenant_id=tenant_id, id__in=wanted).using_db(connection)
            found = _unit_paths(await query.values_list("id", "is_active", "manager_id", "org_unit__path"))
            if len(found) < len(wanted):
                raise DomainError(ErrorCode.NOT_FOUND, field="employeeIds")
            if not all(active for active, _, _ in found.values()):
                raise invalid("employeeIds", "reason.inactive_employee")
            if team is not None and not all(team.holds(manager, path) for _, manager, path in found.values()):
                raise DomainError(ErrorCode.FORBIDDEN, field="employeeIds")
            targets = wanted
        else:
            unit = await OrgUnit.filter(tenant_id=tenant_id, id=org_unit_id).using_db(connection).first()
            if unit is None:
                raise DomainError(ErrorCode.NOT_FOUND, field="orgUnitId")
            if team is not None and (team.path is None or not unit.path.startswith(team.path)):
                raise DomainError(ErrorCode.FORBIDDEN, field="orgUnitId")
            people = Employee.filter(tenant_id=tenant_id, is_active=True, org_unit__path__startswith=unit.path)
            targets = sorted(int(i) for (i,) in await people.using_db(connection).values_list("id"))
        briefs = await plan_briefs(connection, tenant_id, [plan])
        changes = ChangeSet(tenant_id)
        grants = [Grant(employee_id, briefs[plan.id], AssignmentSource.MANUAL, start) for employee_id in targets]
        created = await give(connection, changes, tenant_id, grants, viewer.employee_id, now)
        await audit(
            connection,
            viewer,
            tenant_id,
            "ojt.assign",
            "OjtPlan",
            plan.id,
            {
                "employeeIds": wanted or None,
                "orgUnitId": org_unit_id,
                "startsOn": start.isoformat(),
                "assigned": len(created),
                "alreadyAssigned": len(targets) - len(created),
            },
        )
        shown = await (
            OjtAssignment.filter(tenant_id=tenant_id, id__in=created[:ANSWERED]).using_db(connection).order_by("id")
        )
        await changes.publish(connection, now)
    states = await states_of(tenant_id, shown, now)
    return Assigned(len(created), len(targets) - len(created), [states[row.id] for row in shown])


async def waive(viewer: Viewer, assignment_id: int, reason: object, now: datetime | None = None) -> AssignmentState:
    """Waive an assignment with a reason (HR admins, or a manager of the employee's team; never
    one's own: FORBIDDEN). A waived one is ALREADY_DECIDED, a completed one INVALID_STATUS_CHANGE.
    Audited; the employee's phones get the row."""
    viewer.require_role(*ASSIGN_ROLES)
    why = text(reason, "reason", MAX_REASON)
    tenant_id = viewer.tenant_id
    now = now or datetime.now(UTC)
    team = await team_of(viewer)
    async with in_transaction() as connection:
        row = (
            await OjtAssignment.filter(tenant_id=tenant_id, id=assignment_id)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="assignmentId")
        if row.employee_id == viewer.employee_id:
            raise DomainError(ErrorCode.FORBIDDEN, field="assignmentId")
        if team is not None:
            found = await (
                Employee.filter(tenant_id=tenant_id, id=row.employee_id)
                .using_db(connection)
                .values_list("manager_id", "org_unit__path")
            )
            if not found or not team.holds(found[0][0], found[0][1]):
                raise DomainError(ErrorCode.FORBIDDEN, field="assignmentId")
        if row.status == AssignmentStatus.WAIVED:
            raise DomainError(ErrorCode.ALREADY_DECIDED, field="assignmentId", status=row.status.value)
        state = (await states_of(tenant_id, [row], now, connection))[row.id]
        if state.status == AssignmentStatus.COMPLETED:
            raise DomainError(
                ErrorCode.INVALID_STATUS_CHANGE,
                field="assignmentId",
                status=AssignmentStatus.COMPLETED.value,
                to=AssignmentStatus.WAIVED.value,
            )
        before = {"status": state.status.value, "waivedReason": row.waived_reason}
        values = {
            "status": AssignmentStatus.WAIVED,
            "waived_reason": why,
            "waived_by_id": viewer.employee_id,
            "waived_at": now,
        }
        await OjtAssignment.filter(id=row.id).using_db(connection).update(**values, updated_at=now)
        for name, value in values.items():
            setattr(row, name, value)
        await audit(
            connection,
            viewer,
            tenant_id,
            "ojt.assignment.waive",
            "OjtAssignment",
            row.id,
            {"before": before, "after": {"status": AssignmentStatus.WAIVED.value, "waivedReason": why}},
        )
        changes = ChangeSet(tenant_id)
        changes.touch(Entity.OJT_ASSIGNMENT, row.id, audience=row.employee_id)
        await changes.publish(connection, now)
    return (await states_of(tenant_id, [row], now))[row.id]


# --- reading assignments -------------------------------------------------------------------------------

ASSIGNMENT_ORDER: Keyset[OjtAssignment] = Keyset("ojt-assignment", ("id",), (int,), descending=True)


@dataclass(frozen=True)
class AssignmentFilter:
    """What narrows a list of assignments; every condition given must hold."""

    plan_id: int | None = None
    status: AssignmentStatus | None = None
    org_unit_id: int | None = None  # people of this unit's subtree (where they are now)
    employee_id: int | None = None
    overdue_only: bool = False


def _not_closed(query: QuerySet[OjtAssignment]) -> QuerySet[OjtAssignment]:
    return query.filter(completed_at__isnull=True, waived_at__isnull=True)


def _with_status(query: QuerySet[OjtAssignment], status: AssignmentStatus, today: date) -> QuerySet[OjtAssignment]:
    """A status as far as it can be read from columns: waived, completed (as the last check
    stored it) and overdue (the due day, by the company's today) directly; not started and in
    progress as the last check stored them."""
    if status == AssignmentStatus.WAIVED:
        return query.filter(waived_at__isnull=False)
    if status == AssignmentStatus.COMPLETED:
        return query.filter(completed_at__isnull=False, waived_at__isnull=True)
    if status == AssignmentStatus.OVERDUE:
        return _not_closed(query).filter(due_on__lt=today)
    return _not_closed(query).filter(status=status, due_on__gte=today)


def _paged(page: Page[OjtAssignment], states: dict[int, AssignmentState]) -> Page[AssignmentState]:
    cursor_of: Callable[[OjtAssignment], str] = page.cursor_of
    return Page(
        [states[row.id] for row in page.items],
        page.has_next_page,
        page.has_previous_page,
        lambda state: cursor_of(state.assignment),
        page.count_total,
    )


async def assignments_page(
    viewer: Viewer,
    assignment_filter: AssignmentFilter,
    first: int,
    after: str | None,
    max_page_size: int,
    now: datetime | None = None,
) -> Page[AssignmentState]:
    """Assignments, newest first: HR admins the company's, managers their team's (anyone else
    FORBIDDEN); a unit filter outside a manager's subtree FORBIDDEN, another company's ids NOT_FOUND.
    A page costs the same number of statements whatever its size."""
    team = await team_of(viewer)  # before any input is read
    first = check_page_size(first, max_page_size)
    tenant_id, now = viewer.tenant_id, now or datetime.now(UTC)
    query = OjtAssignment.filter(tenant_id=tenant_id)
    if team is not None:
        query = query.filter(employee_id__in=Subquery(team.people(tenant_id).values("id")))
    f = assignment_filter
    if f.plan_id is not None:
        if not await OjtPlan.filter(tenant_id=tenant_id, id=f.plan_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND, field="filter.planId")
        query = query.filter(plan_id=f.plan_id)
    if f.employee_id is not None:
        if not await Employee.filter(tenant_id=tenant_id, id=f.employee_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND, field="filter.employeeId")
        query = query.filter(employee_id=f.employee_id)
    if f.org_unit_id is not None:
        unit = await OrgUnit.filter(tenant_id=tenant_id, id=f.org_unit_id).first()
        if unit is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="filter.orgUnitId")
        if team is not None and (team.path is None or not unit.path.startswith(team.path)):
            raise DomainError(ErrorCode.FORBIDDEN, field="filter.orgUnitId")
        people = Employee.filter(tenant_id=tenant_id, org_unit__path__startswith=unit.path).values("id")
        query = query.filter(employee_id__in=Subquery(people))
    if f.status is not None or f.overdue_only:
        today = await company_today(tenant_id, now)
        if f.status is not None:
            query = _with_status(query, f.status, today)
        if f.overdue_only:
            query = _not_closed(query).filter(due_on__lt=today)
    page = await ASSIGNMENT_ORDER.fetch(query, first, after)
    return _paged(page, await states_of(tenant_id, page.items, now))


async def my_assignments(viewer: Viewer, now: datetime | None = None) -> list[AssignmentState]:
    """The viewer's own assignments, soonest due first (a person holds a few plans: the list is
    whole)."""
    rows = await OjtAssignment.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id).order_by(
        "due_on", "id"
    )
    states = await states_of(viewer.tenant_id, rows, now or datetime.now(UTC))
    return [states[row.id] for row in rows]


async def visible_states(
    viewer: Viewer, assignment_ids: Sequence[int], now: datetime | None = None
) -> dict[int, AssignmentState]:
    """Those of ``assignment_ids`` the viewer may see (their own; a manager their team's; HR admins
    the company's), derived."""
    query = OjtAssignment.filter(tenant_id=viewer.tenant_id, id__in=sorted(set(assignment_ids)))
    if not viewer.has_role(Role.HR_ADMIN):
        own = Q(employee_id=viewer.employee_id)
        if viewer.has_role(Role.MANAGER):
            team = await team_of(viewer)
            assert team is not None
            own |= Q(employee_id__in=Subquery(team.people(viewer.tenant_id).values("id")))
        query = query.filter(own)
    rows = await query
    return await states_of(viewer.tenant_id, rows, now or datetime.now(UTC))


async def own_states(
    viewer: Viewer, assignment_ids: Sequence[int], now: datetime | None = None
) -> dict[int, AssignmentState]:
    """Those of ``assignment_ids`` that are the viewer's own (what their phone holds), derived."""
    rows = await OjtAssignment.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=sorted(set(assignment_ids))
    )
    return await states_of(viewer.tenant_id, rows, now or datetime.now(UTC))


async def get_assignment(viewer: Viewer, assignment_id: int, now: datetime | None = None) -> AssignmentState:
    """One assignment the viewer may see; NOT_FOUND otherwise (its existence is not revealed)."""
    found = await visible_states(viewer, [assignment_id], now)
    if assignment_id not in found:
        raise DomainError(ErrorCode.NOT_FOUND)
    return found[assignment_id]


# --- the feed -----------------------------------------------------------------------------------------


async def touch_completed_courses(
    connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, completed: dict[int, set[int]]
) -> None:
    """Mark the OJT_ASSIGNMENT rows that a course completion changes: the open assignments of the
    employees of ``completed`` (employee → the courses completed, every version of them) whose plan
    has one of those courses. One statement, run only when a completion is written."""
    courses = sorted(set().union(*completed.values())) if completed else []
    if not courses:
        return
    plans = OjtPlanItem.filter(tenant_id=tenant_id, course_id__in=courses).values("plan_id")
    query = OjtAssignment.filter(
        tenant_id=tenant_id, employee_id__in=sorted(completed), status__in=OPEN, plan_id__in=Subquery(plans)
    )
    for assignment_id, employee_id in await query.using_db(connection).values_list("id", "employee_id"):
        changes.touch(Entity.OJT_ASSIGNMENT, assignment_id, audience=employee_id)


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """Every assignment goes to its employee's phones."""
    for assignment_id, employee_id in await OjtAssignment.filter(tenant_id=tenant_id).values_list("id", "employee_id"):
        changes.touch(Entity.OJT_ASSIGNMENT, assignment_id, audience=employee_id)
