"""The writing of the ``employees`` import kind (``employees`` checks the rows and the file).

Each chunk of good rows is planned against the company's rows (created, updated or unchanged) and,
when the job writes, written in bulk inside the job's one transaction, under the lock every
employment write takes (``employment_steps.lock_people``): employees, their roles and history
steps (HIRE, TRANSFER today, LEAVE), one audit entry per change with the employee's fields before
and after (``employment_steps.state_of`` plus roles, as the mutations audit them), then what
``employee_effects`` does besides (leaving, mentorships, feed rows). A row whose manager is a new
employee of a later row waits until that one is written (``finish``): manager chains have no
loops, so every row gets its turn.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from backend.errors import DomainError, ErrorCode
from backend.i18n import translate
from backend.models import (
    AssignmentKind,
    Employee,
    EmployeeRole,
    Role,
)
from backend.services.imports import employee_effects
from backend.services.imports.bulk import update_by_id
from backend.services.imports.employee_rows import (
    COMPANY,
    UPDATED,
    Company,
    EmployeeRow,
    Plan,
    Stored,
    current_mentorships,
    db_values,
    find_cycles,
    latest_steps,
    places_of,
    plan_row,
    roles_by_employee,
)
from backend.services.imports.kinds import KEY_CHUNK, WriteRun
from backend.services.people.employment_steps import lock_people, state_of
from backend.services.validation import invalid
from backend.sql import db_day, db_time, insert_many, values_list_of

_STATE = "employees: writing"  # notes: the writing's own state
_STEP_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "kind": "text",
    "effective_on": "date",
    "org_unit_id": "int",
    "position_id": "int",
    "manager_id": "int",
    "site_id": "int",
    "reason": "text",
    "recorded_by_id": "int",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}

# --- the writing's state ---------------------------------------------------------------------------


@dataclass
class _State:
    ids: dict[str, int]  # employee number → id: the company's, then the job's hires
    numbers: dict[int, str]  # the other way round
    closed: set[int]  # org units closed (under the lock, when writing)
    reason: str  # of the TRANSFER and LEAVE steps an import writes
    prepared: bool = False
    waiting: list[tuple[int, EmployeeRow]] = field(default_factory=list)  # for a manager not written yet
    mentorships: list[tuple[int, str]] = field(default_factory=list)  # (mentee id, mentor number) to begin
    ruled_quizzes: list[str] | None = None  # QUIZ rows a move of org unit or position re-sends
    leavers: list[int] = field(default_factory=list)
    managers_changed: bool = False
    roles_changed: bool = False


def _state(run: WriteRun) -> _State:
    state: _State | None = run.notes.get(_STATE)
    if state is None:
        company: Company = run.notes[COMPANY]
        state = _State(
            ids={number: person.id for number, person in company.people.items()},
            numbers=dict(company.numbers),
            closed={unit_id for unit_id, closed in company.places.org_units.values() if closed},
            reason=translate("history.imported", run.context.locale, job=run.context.job_id),
        )
        run.notes[_STATE] = state
    return state


async def _prepare(run: WriteRun, state: _State) -> None:
    """Before the first write: the company's employment lock, then what may have changed since
    the check (a unit closed, a manager or mentor named from the company left): the job fails
    rather than write on stale judgements."""
    company: Company = run.notes[COMPANY]
    await lock_people(run.connection, run.tenant_id)
    places = await places_of(run.tenant_id, run.connection)
    state.closed = {unit_id for unit_id, closed in places.org_units.values() if closed}
    named = sorted(company.referenced)
    for start in range(0, len(named), KEY_CHUNK):
        chunk = named[start : start + KEY_CHUNK]
        query = Employee.filter(tenant_id=run.tenant_id, employee_no__in=chunk, is_active=True)
        if len(await query.using_db(run.connection).values_list("id", flat=True)) < len(chunk):
            raise invalid("manager", "reason.inactive_employee")
    state.prepared = True


# --- apply and finish ------------------------------------------------------------------------------


async def apply(run: WriteRun, rows: Sequence[tuple[int, EmployeeRow]]) -> None:
    """Plan (and, when the job writes, write) a chunk; rows whose manager is a hire of a later row
    wait for ``finish``."""
    state = _state(run)
    if run.write and not state.prepared:
        await _prepare(run, state)
    ready: list[tuple[int, EmployeeRow]] = []
    for number, row in rows:
        waits = run.write and row.manager is not None and row.manager not in state.ids
        (state.waiting if waits else ready).append((number, row))
    await _write(run, state, ready)


async def finish(run: WriteRun) -> None:
    """The rows that waited for their manager (in rounds, managers first), the mentorships the file
    names (every mentor is written by now), and the company-wide rules checked once more on what
    was written: no loop in the manager chains, an active HR admin kept. Either fails the job."""
    state: _State | None = run.notes.get(_STATE)
    if state is None or not run.write:
        return
    while state.waiting:
        ready = [(n, row) for n, row in state.waiting if row.manager in state.ids]
        if not ready:
            raise RuntimeError("employees import: managers that are never written")  # CYCLE prevents it
        state.waiting = [(n, row) for n, row in state.waiting if row.manager not in state.ids]
        for start in range(0, len(ready), KEY_CHUNK):
            await _write(run, state, ready[start : start + KEY_CHUNK])
    await employee_effects.begin_mentorships(run, [(mentee, state.ids[mentor]) for mentee, mentor in state.mentorships])
    await _verify(run, state)
    await run.flush()


async def _verify(run: WriteRun, state: _State) -> None:
    tenant_id, connection = run.tenant_id, run.connection
    company: Company = run.notes[COMPANY]
    if state.managers_changed:
        chains = (
            await Employee.filter(tenant_id=tenant_id, is_active=True)
            .using_db(connection)
            .values_list("id", "manager_id")
        )
        up: dict[int, int | None] = dict(chains)
        if find_cycles(up, up):
            raise DomainError(ErrorCode.WOULD_CREATE_CYCLE, field="manager", what_key="subject.manager_chain")
    for start in range(0, len(state.leavers), KEY_CHUNK):
        orphans = Employee.filter(
            tenant_id=tenant_id, is_active=True, manager_id__in=state.leavers[start : start + KEY_CHUNK]
        )
        if await orphans.using_db(connection).exists():
            raise invalid("manager", "reason.inactive_employee")
    if state.roles_changed and company.had_hr_admin:
        admins = EmployeeRole.filter(tenant_id=tenant_id, role=Role.HR_ADMIN, employee__is_active=True)
        if not await admins.using_db(connection).exists():
            raise DomainError(ErrorCode.STILL_IN_USE, field="roles", reason_key="reason.last_hr_admin")


# --- one chunk -------------------------------------------------------------------------------------


async def _plan(run: WriteRun, state: _State, rows: Sequence[tuple[int, EmployeeRow]]) -> list[Plan]:
    """Each row against the company's row (locked when writing), roles and current mentor."""
    company: Company = run.notes[COMPANY]
    tenant_id, connection, today = run.tenant_id, run.connection, run.context.today
    known = [row.employee_no for _, row in rows if row.employee_no in company.people]
    befores: dict[str, Stored] = {}
    if known:
        query = Employee.filter(tenant_id=tenant_id, employee_no__in=known).using_db(connection)
        # NO KEY: rows written meanwhile that point at an employee (pushes) take KEY SHARE on it.
        query = query.select_for_update(no_key=True) if run.write else query
        befores = {found[1]: Stored(*found) for found in await values_list_of(query, *Stored._fields)}
    ids = [found.id for found in befores.values()]
    roles = await roles_by_employee(tenant_id, ids, connection)
    mentorships: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if ids and "mentor" in company.columns:
        current = current_mentorships(tenant_id, ids, today).using_db(connection)
        for found in await current.values("id", "mentor_id", "mentee_id", "starts_on", "ends_on"):
            mentorships[found["mentee_id"]].append(found)
    named = [found.manager_id for found in befores.values()]
    await _learn_numbers(run, state, [*named, *(m["mentor_id"] for ms in mentorships.values() for m in ms)])
    plans = []
    for number, row in rows:
        before = befores.get(row.employee_no)
        held = roles.get(before.id, frozenset()) if before else frozenset()
        current = mentorships.get(before.id, []) if before else []
        plan = plan_row(company, today, state.numbers, number, row, before, held, current)
        plan.employee_id = before.id if before else 0  # a hire's once inserted
        plans.append(plan)
    return plans


async def _learn_numbers(run: WriteRun, state: _State, ids: Iterable[int | None]) -> None:
    """The employee numbers of ``ids`` not known yet (someone hired since the check)."""
    missing = sorted({i for i in ids if i is not None and i not in state.numbers})
    for start in range(0, len(missing), KEY_CHUNK):
        query = Employee.filter(tenant_id=run.tenant_id, id__in=missing[start : start + KEY_CHUNK])
        for employee_id, number in await query.using_db(run.connection).values_list("id", "employee_no"):
            state.numbers[employee_id] = number
            state.ids.setdefault(number, employee_id)


async def _write(run: WriteRun, state: _State, rows: Sequence[tuple[int, EmployeeRow]]) -> None:
    plans = await _plan(run, state, rows)
    changed = [plan for plan in plans if plan.changed]
    run.counts.unchanged += len(plans) - len(changed)
    run.counts.created += sum(1 for plan in changed if plan.before is None)
    run.counts.updated += sum(1 for plan in changed if plan.before is not None)
    if not run.write or not changed:
        return
    for plan in changed:
        plan.values["manager_id"] = state.ids[plan.manager] if plan.manager else None
        before = plan.before
        unit = plan.values["org_unit_id"]
        if plan.values["is_active"] and unit in state.closed and (before is None or before.org_unit_id != unit):
            raise invalid("org_unit", "reason.org_unit_closed")  # closed since the check
    created = [plan for plan in changed if plan.before is None]
    updated = [plan for plan in changed if plan.before is not None and plan.employee_changed]
    await _insert_employees(run, state, created)
    await update_by_id(
        run.connection,
        "employee",
        UPDATED,
        [(plan.employee_id, db_values(run.connection, plan.values)) for plan in updated],
        run.now,
    )
    state.managers_changed |= any(plan.manager != plan.manager_before for plan in changed)
    state.roles_changed |= any(plan.leaves or plan.roles != plan.roles_before for plan in updated)
    await _write_roles(run, created, updated)
    moved_on = await _write_steps(run, state, created, updated)
    await employee_effects.assign_plans(run, created, updated, moved_on)
    leavers = [plan for plan in updated if plan.leaves]
    state.leavers += [plan.employee_id for plan in leavers]
    await employee_effects.leave(run, leavers)
    await employee_effects.end_mentorships(run, [plan for plan in changed if plan.ending])
    state.mentorships += [(plan.employee_id, plan.new_mentor) for plan in changed if plan.new_mentor]
    for plan in created:
        after = {**state_of(plan.employee()), "roles": sorted(plan.roles)}
        run.audit("import.employee.create", "Employee", plan.employee_id, None, after)
    for plan in updated:
        stored = plan.before.employee() if plan.before else None
        was = {**state_of(stored), "roles": sorted(plan.roles_before)} if stored else None
        after = {**state_of(plan.employee()), "roles": sorted(plan.roles)}
        action = "import.employee.leave" if plan.leaves else "import.employee.update"
        run.audit(action, "Employee", plan.employee_id, was, after)
    state.ruled_quizzes = await employee_effects.touch(run, created, updated, state.ruled_quizzes)
    await run.flush()


async def _insert_employees(run: WriteRun, state: _State, created: list[Plan]) -> None:
    if not created:
        return
    at = db_time(run.connection, run.now)
    columns = {
        "tenant_id": "int",
        "employee_no": "text",
        "password_hash": "text",  # none usable: HR issues an activation code
        **UPDATED,
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
    }
    rows = []
    for plan in created:
        values = db_values(run.connection, plan.values)
        rows.append((run.tenant_id, plan.row.employee_no, "", *(values[name] for name in UPDATED), at, at))
    inserted = await insert_many(run.connection, "employee", columns, rows, returning="id, employee_no")
    for found in inserted:
        state.ids[found["employee_no"]] = found["id"]
        state.numbers[found["id"]] = found["employee_no"]
    for plan in created:
        plan.employee_id = state.ids[plan.row.employee_no]


async def _write_roles(run: WriteRun, created: list[Plan], updated: list[Plan]) -> None:
    """The roles as setEmployeeRoles leaves them: EMPLOYEE always, the rest as the row says."""
    added = [(plan.employee_id, role) for plan in created for role in sorted(plan.roles)]
    added += [(plan.employee_id, role) for plan in updated for role in sorted(plan.roles - plan.roles_before)]
    removed: dict[Role, list[int]] = defaultdict(list)
    for plan in updated:
        for role in plan.roles_before - plan.roles:
            removed[role].append(plan.employee_id)
    for role, employee_ids in removed.items():
        query = EmployeeRole.filter(tenant_id=run.tenant_id, role=role, employee_id__in=employee_ids)
        await query.using_db(run.connection).delete()
    at = db_time(run.connection, run.now)
    columns = {
        "tenant_id": "int",
        "employee_id": "int",
        "role": "text",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
    }
    rows = [(run.tenant_id, employee_id, role.value, at, at) for employee_id, role in added]
    await insert_many(run.connection, "employee_role", columns, rows)


async def _write_steps(run: WriteRun, state: _State, created: list[Plan], updated: list[Plan]) -> dict[int, date]:
    """HIRE (and LEAVE for a former employee) of new rows; LEAVE of leavers; TRANSFER of moves,
    dated today or, when the employee's latest step is later (a hire dated tomorrow), that day.
    Returns the day of each TRANSFER step by employee id."""
    movers = [plan for plan in updated if plan.moves]
    latest = await latest_steps(run.tenant_id, [plan.employee_id for plan in movers], run.connection)
    steps: list[tuple[Plan, AssignmentKind, date, str]] = []
    for plan in created:
        steps.append((plan, AssignmentKind.HIRE, plan.values["hired_on"], ""))
        if not plan.values["is_active"]:
            steps.append((plan, AssignmentKind.LEAVE, plan.values["left_on"], state.reason))
    for plan in updated:
        if plan.leaves:
            steps.append((plan, AssignmentKind.LEAVE, plan.values["left_on"], state.reason))
        elif plan.moves:
            day = max(run.context.today, latest.get(plan.employee_id, run.context.today))
            steps.append((plan, AssignmentKind.TRANSFER, day, state.reason))
    at, connection = db_time(run.connection, run.now), run.connection
    rows = [
        (
            run.tenant_id,
            plan.employee_id,
            kind.value,
            db_day(connection, day),
            *(plan.values[name] for name in ("org_unit_id", "position_id", "manager_id", "site_id")),
            reason,
            run.context.actor_id,
            at,
            at,
        )
        for plan, kind, day, reason in steps
    ]
    await insert_many(connection, "employee_assignment", _STEP_COLUMNS, rows)
    return {plan.employee_id: day for plan, kind, day, _ in steps if kind == AssignmentKind.TRANSFER}
