"""The scheduled checks of OJT assignments (the ``ojt_assignment_checks`` job): skill-gap plans
given, statuses derived and stored, and people told once.

``run_checks`` gives the skill-gap plans (a plan with a skill and a gap threshold goes to the active
employees whose position requires the skill and whose gap, required level minus their level, 0
without one, reaches the threshold), then derives every open assignment of the company's active
employees (``plan_status``), ``CHECK_BATCH`` at a time, each batch one transaction of a fixed number
of statements: it stores status changes and completion times, marks their feed rows, and tells
ASSIGNMENT_DUE_SOON within the plan's reminder days and, when overdue, ASSIGNMENT_OVERDUE to the
employee and ASSIGNMENT_ESCALATED to their manager or, without one who can act on it (active, a
manager or HR admin), to the company's HR admins. Event keys name the assignment and its due date,
so a rerun (or two workers) tells each person once per window.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from backend.models import (
    AssignmentSource,
    AssignmentStatus,
    Employee,
    EmployeeRole,
    NotificationKind,
    OjtAssignment,
    OjtPlan,
    Role,
)
from backend.services.feed import ChangeSet, Entity
from backend.services.imports.bulk import update_by_id
from backend.services.notifications.notices import Notice
from backend.services.ojt import assignments
from backend.services.ojt.assignments import Grant, company_today, global_id
from backend.services.ojt.plan_status import OPEN, AssignmentState, states_of
from backend.sql import Params

CHECK_BATCH = 1000  # assignments derived, stored and told per transaction of run_checks


# --- skill gaps -------------------------------------------------------------------------------


async def _skill_gap_grants(connection: BaseDBAsyncClient, tenant_id: int) -> list[tuple[int, int]]:
    """(plan, employee) pairs a skill gap calls for and not given yet, in one statement: active
    employees whose position requires the plan's skill, whose gap (required level minus their
    level, 0 without a level row) reaches the plan's threshold, and who match the plan's position
    and org unit when set. Paths hold digits and dots only, so a subtree is ``LIKE path || '%'``."""
    p = Params(connection)
    tenant, yes = p(tenant_id), p(True)
    rows = await connection.execute_query_dict(
        "SELECT p.id AS plan_id, e.id AS employee_id FROM ojt_plan p"
        " JOIN position_skill ps ON ps.tenant_id = p.tenant_id AND ps.skill_id = p.skill_id"
        f" JOIN employee e ON e.tenant_id = p.tenant_id AND e.position_id = ps.position_id AND e.is_active = {yes}"
        " LEFT JOIN employee_skill s ON s.tenant_id = p.tenant_id AND s.employee_id = e.id AND s.skill_id = p.skill_id"
        " LEFT JOIN org_unit eu ON eu.id = e.org_unit_id"
        " LEFT JOIN org_unit pu ON pu.id = p.org_unit_id"
        f" WHERE p.tenant_id = {tenant} AND p.is_active = {yes}"
        " AND p.skill_id IS NOT NULL AND p.gap_threshold IS NOT NULL"
        " AND (p.position_id IS NULL OR p.position_id = e.position_id)"
        " AND (p.org_unit_id IS NULL OR eu.path LIKE pu.path || '%')"
        " AND ps.required_level - COALESCE(s.level, 0) >= p.gap_threshold"
        " AND NOT EXISTS (SELECT 1 FROM ojt_assignment a"
        " WHERE a.tenant_id = p.tenant_id AND a.employee_id = e.id AND a.plan_id = p.id)"
        " ORDER BY p.id, e.id",
        p.values,
    )
    return [(int(row["plan_id"]), int(row["employee_id"])) for row in rows]


async def assign_skill_gaps(tenant_id: int, now: datetime) -> int:
    """Give the company's active skill gap plans to whoever's gap calls for them (see
    ``_skill_gap_grants``), from the company's today, in one transaction. Returns how many."""
    async with in_transaction() as connection:
        pairs = await _skill_gap_grants(connection, tenant_id)
        if not pairs:
            return 0
        plans = await OjtPlan.filter(tenant_id=tenant_id, id__in=sorted({plan for plan, _ in pairs})).using_db(
            connection
        )
        briefs = await assignments.plan_briefs(connection, tenant_id, plans)
        start = await company_today(tenant_id, now, connection)
        changes = ChangeSet(tenant_id)
        grants = [Grant(employee, briefs[plan], AssignmentSource.SKILL_GAP, start) for plan, employee in pairs]
        created = await assignments.give(connection, changes, tenant_id, grants, None, now)
        await changes.publish(connection, now)
    return len(created)


_CHECKED = {
    "status": "text",
    "completed_at": "timestamptz",
    "reminded_at": "timestamptz",
    "escalated_at": "timestamptz",
}


def _told(state: AssignmentState) -> dict[str, Any]:
    assignment = state.assignment
    return {"plan": state.plan.name, "dueOn": assignment.due_on.isoformat(), "remaining": state.remaining}


async def _check_batch(
    connection: BaseDBAsyncClient, tenant_id: int, rows: Sequence[OjtAssignment], now: datetime
) -> int:
    """Derive a batch, store what changed and tell people of it; returns how many rows changed."""
    states = await states_of(tenant_id, rows, now, connection)
    changes = ChangeSet(tenant_id)
    updates: list[tuple[int, dict[str, Any]]] = []
    overdue: list[AssignmentState] = []  # newly overdue: escalated below
    for row in rows:
        state = states[row.id]
        values = {
            "status": state.status.value,
            "completed_at": row.completed_at,
            "reminded_at": row.reminded_at,
            "escalated_at": row.escalated_at,
        }
        if state.status == AssignmentStatus.COMPLETED and row.completed_at is None:
            values["completed_at"] = state.completed_at
        subject = global_id(row.id)
        if state.due_soon and row.reminded_at is None:
            values["reminded_at"] = now
            changes.notify(
                Notice(
                    NotificationKind.ASSIGNMENT_DUE_SOON,
                    row.employee_id,
                    f"assignment:{row.id}:due-soon:{row.due_on.isoformat()}",
                    _told(state),
                    subject_id=subject,
                )
            )
        if state.status == AssignmentStatus.OVERDUE and row.escalated_at is None:
            values["escalated_at"] = now
            changes.notify(
                Notice(
                    NotificationKind.ASSIGNMENT_OVERDUE,
                    row.employee_id,
                    f"assignment:{row.id}:overdue:{row.due_on.isoformat()}",
                    _told(state),
                    subject_id=subject,
                )
            )
            overdue.append(state)
        if state.status != row.status:
            changes.touch(Entity.OJT_ASSIGNMENT, row.id, audience=row.employee_id)
        if state.status != row.status or any(
            values[name] != getattr(row, name) for name in _CHECKED if name != "status"
        ):
            updates.append((row.id, values))
    # To the manager when they can act on it (active, and a manager or HR admin: someone merely named
    # as manager can neither open nor waive it); otherwise to the HR admins. One statement each.
    managers = sorted({s.person.manager_id for s in overdue if s.person.manager_id is not None})
    able: set[int] = set()
    if managers:
        query = EmployeeRole.filter(
            tenant_id=tenant_id,
            employee_id__in=managers,
            role__in=[Role.MANAGER, Role.HR_ADMIN],
            employee__is_active=True,
        )
        able = {int(i) for (i,) in await query.using_db(connection).values_list("employee_id")}
    unmanaged: list[AssignmentState] = []
    for state in overdue:
        manager_id = state.person.manager_id
        if manager_id is not None and manager_id in able and manager_id != state.assignment.employee_id:
            changes.notify(_escalation(state, manager_id))
        else:
            unmanaged.append(state)
    if unmanaged:
        admins = EmployeeRole.filter(tenant_id=tenant_id, role=Role.HR_ADMIN, employee__is_active=True)
        for admin_id in sorted({int(i) for (i,) in await admins.using_db(connection).values_list("employee_id")}):
            for state in unmanaged:
                if admin_id != state.assignment.employee_id:
                    changes.notify(_escalation(state, admin_id))
    await update_by_id(connection, "ojt_assignment", _CHECKED, updates, now)
    await changes.publish(connection, now)
    return len(updates)


def _escalation(state: AssignmentState, recipient_id: int) -> Notice:
    return Notice(
        NotificationKind.ASSIGNMENT_ESCALATED,
        recipient_id,
        f"assignment:{state.assignment.id}:escalated:{state.assignment.due_on.isoformat()}",
        {"employee": state.person.name, **_told(state)},
        subject_id=global_id(state.assignment.id),
    )


async def run_checks(tenant_id: int, now: datetime) -> int:
    """The scheduled job: give skill gap plans, then derive every open assignment of the company's
    active employees, ``CHECK_BATCH`` at a time (each batch one transaction of a fixed number of
    statements), storing status changes and completion times, marking their feed rows, and telling
    people once (due soon; overdue: the employee, and the manager or the HR admins). Safe to rerun
    and to run on two workers at once: each notification's event key is written once per person.
    Returns how many assignments were made or changed."""
    changed = await assign_skill_gaps(tenant_id, now)
    last_id = 0
    while True:
        async with in_transaction() as connection:
            # Leavers' assignments rest as they were. (A subquery, not a join: FOR UPDATE locks
            # the assignment rows only.)
            active = Employee.filter(tenant_id=tenant_id, is_active=True).values("id")
            rows = (
                await OjtAssignment.filter(
                    tenant_id=tenant_id, status__in=OPEN, employee_id__in=Subquery(active), id__gt=last_id
                )
                .select_for_update()
                .using_db(connection)
                .order_by("id")
                .limit(CHECK_BATCH)
            )
            if rows:
                changed += await _check_batch(connection, tenant_id, rows, now)
        if len(rows) < CHECK_BATCH:
            return changed
        last_id = rows[-1].id
