"""What the ``employees`` import knows of a row and of the company, shared by its check
(``employees``) and its writing (``employee_writes``): the checked row, the company's people and
places as the check read them, the bulk reads both make, and the plan of one row (what it changes).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple, TypeVar, cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from backend.models import (
    Employee,
    EmployeeAssignment,
    EmployeeRole,
    Mentorship,
    OrgUnit,
    Position,
    Role,
    Site,
)
from backend.services.imports.kinds import KEY_CHUNK

COMPANY = "employees: company"  # notes: the Company the check read
K = TypeVar("K", bound=Hashable)

# The employee's columns an import sets, compared to find what changed (then written by id).
UPDATED = {
    "name": "text",
    "phone": "text",
    "email": "text",
    "org_unit_id": "int",
    "position_id": "int",
    "site_id": "int",
    "manager_id": "int",
    "hired_on": "date",
    "left_on": "date",
    "is_active": "boolean",
}
PLACE = ("org_unit_id", "position_id", "site_id")
PERSONAL = ("name", "phone", "email", "hired_on")

# --- what the check learnt of the company ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmployeeRow:
    """One checked row: codes and numbers as written (upper-case numbers), not yet looked up."""

    employee_no: str
    name: str
    phone: str | None
    email: str | None
    org_unit: str
    position: str | None
    site: str | None
    manager: str | None  # None for a leaver: a leaver is nobody's team member
    mentor: str | None  # likewise
    hired_on: date | None
    left_on: date | None
    roles: frozenset[Role]


class Person(NamedTuple):
    """An employee of the company as it was when the file was checked."""

    id: int
    is_active: bool
    manager_id: int | None
    org_unit_id: int | None
    position_id: int | None
    site_id: int | None
    hired_on: date | None
    left_on: date | None


@dataclass
class Places:
    """The company's org units (id, closed), positions and sites by code."""

    org_units: dict[str, tuple[int, bool]]
    positions: dict[str, int]
    sites: dict[str, int]


@dataclass
class Company:
    """What the check pass read of the company, kept for the writing (``run.notes``)."""

    people: dict[str, Person]  # by employee number
    numbers: dict[int, str]  # id → employee number
    places: Places
    columns: frozenset[str]  # the columns the file has: one left out keeps the company's values
    had_hr_admin: bool = False
    referenced: set[str] = field(default_factory=set)  # managers and mentors named from the company


def find_cycles(up: dict[K, K | None], starts: Iterable[K]) -> set[K]:
    """The members of every loop of the chain ``up`` (each one's manager) reachable from ``starts``."""
    looped: set[K] = set()
    done: set[K] = set()
    for start in starts:
        path: list[K] = []
        on_path: set[K] = set()
        at: K | None = start
        while at is not None and at not in done:
            if at in on_path:
                looped.update(path[path.index(at) :])
                break
            on_path.add(at)
            path.append(at)
            at = up.get(at)
        done.update(path)
    return looped


# --- reads in bulk ---------------------------------------------------------------------------------


def _on(query: Any, connection: BaseDBAsyncClient | None) -> Any:
    return query.using_db(connection) if connection is not None else query


async def directory(tenant_id: int) -> dict[str, Person]:
    """Every employee of the company by number (one read: manager chains run through anyone)."""
    found = await Employee.filter(tenant_id=tenant_id).values_list(
        "employee_no", "id", "is_active", "manager_id", "org_unit_id", "position_id", "site_id", "hired_on", "left_on"
    )
    return {number: Person(*rest) for number, *rest in found}


async def places_of(tenant_id: int, connection: BaseDBAsyncClient | None = None) -> Places:
    """The company's org units, positions and sites by code (hundreds to a few thousand rows)."""
    units = await _on(OrgUnit.filter(tenant_id=tenant_id), connection).values_list("code", "id", "closed_on")
    positions = await _on(Position.filter(tenant_id=tenant_id), connection).values_list("code", "id")
    sites = await _on(Site.filter(tenant_id=tenant_id), connection).values_list("code", "id")
    return Places(
        org_units={code: (unit_id, closed is not None) for code, unit_id, closed in units},
        positions=dict(positions),
        sites=dict(sites),
    )


async def latest_steps(
    tenant_id: int, employee_ids: list[int], connection: BaseDBAsyncClient | None = None
) -> dict[int, date]:
    """The day of each employee's latest history step (a new step may not be dated before it)."""
    latest: dict[int, date] = {}
    for start in range(0, len(employee_ids), KEY_CHUNK):
        query = EmployeeAssignment.filter(tenant_id=tenant_id, employee_id__in=employee_ids[start : start + KEY_CHUNK])
        for employee_id, day in await _on(query, connection).values_list("employee_id", "effective_on"):
            latest[employee_id] = max(day, latest.get(employee_id, day))
    return latest


async def roles_by_employee(
    tenant_id: int, employee_ids: list[int], connection: BaseDBAsyncClient | None = None
) -> dict[int, frozenset[Role]]:
    """The roles each employee holds."""
    found: dict[int, set[Role]] = defaultdict(set)
    for start in range(0, len(employee_ids), KEY_CHUNK):
        query = EmployeeRole.filter(tenant_id=tenant_id, employee_id__in=employee_ids[start : start + KEY_CHUNK])
        for employee_id, role in await _on(query, connection).values_list("employee_id", "role"):
            found[employee_id].add(Role(role))
    return {employee_id: frozenset(roles) for employee_id, roles in found.items()}


def current_mentorships(tenant_id: int, mentee_ids: list[int], today: date) -> Any:
    """The all-course mentorships of ``mentee_ids`` in force ``today``: the mentor a row names."""
    return Mentorship.filter(
        Q(ends_on=None) | Q(ends_on__gte=today),
        tenant_id=tenant_id,
        mentee_id__in=mentee_ids,
        course_id=None,
        starts_on__lte=today,
    )


# --- the plan of one row ---------------------------------------------------------------------------


class Stored(NamedTuple):
    """An employee's row as a plan compares it (read as plain values: most rows do not change)."""

    id: int
    employee_no: str
    name: str
    phone: str | None
    email: str | None
    locale: str | None
    org_unit_id: int | None
    position_id: int | None
    site_id: int | None
    manager_id: int | None
    hired_on: date | None
    left_on: date | None
    is_active: bool

    def employee(self) -> Employee:
        """The row as ``state_of`` and ``touch_person`` read an employee (the audit's shape is the
        mutations'): they read attributes only, and a Stored has each of them. A model instance
        would cost ten times as much a row (a third of a second for 20,000 hires)."""
        return cast(Employee, self)


@dataclass
class Plan:
    """What one row does to its employee."""

    number: int
    row: EmployeeRow
    before: Stored | None  # None: a new employee
    values: dict[str, Any]  # the UPDATED columns after (manager_id set when written)
    manager: str | None  # the manager's number after
    manager_before: str | None
    roles_before: frozenset[Role]
    roles: frozenset[Role]
    new_mentor: str | None = None  # the mentor of a mentorship to begin today
    ending: list[dict[str, Any]] = field(default_factory=list)  # current all-course mentorships it replaces
    employee_id: int = 0
    _after: Stored | None = field(default=None, repr=False)

    @property
    def employee_changed(self) -> bool:
        before = self.before
        if before is None:
            return True
        differs = any(self.values[name] != getattr(before, name) for name in UPDATED if name != "manager_id")
        return differs or self.manager != self.manager_before or self.roles != self.roles_before

    @property
    def changed(self) -> bool:
        return self.employee_changed or bool(self.ending) or self.new_mentor is not None

    @property
    def leaves(self) -> bool:
        return self.before is not None and self.before.is_active and not self.values["is_active"]

    @property
    def moves(self) -> bool:
        """An active employee's new org unit, position, site or manager: a TRANSFER step."""
        before = self.before
        if before is None or not self.values["is_active"]:
            return False
        return self.manager != self.manager_before or any(self.values[n] != getattr(before, n) for n in PLACE)

    def employee(self) -> Employee:
        """The employee after the row (see ``Stored.employee``), for the audit's snapshot and the
        feed marks."""
        if self._after is None:
            locale = self.before.locale if self.before else None
            self._after = Stored(id=self.employee_id, employee_no=self.row.employee_no, locale=locale, **self.values)
        return self._after.employee()


def plan_row(
    company: Company,
    today: date,
    numbers: dict[int, str],
    number: int,
    row: EmployeeRow,
    before: Stored | None,
    roles_before: frozenset[Role],
    mentorships: list[dict[str, Any]],
) -> Plan:
    """What ``row`` does to the employee ``before`` (None: a hire), who holds ``roles_before`` and
    has the current all-course ``mentorships``; ``numbers`` names employees by id."""
    columns, places = company.columns, company.places

    def given(column: str) -> bool:  # a column left out of the file keeps the employee's value
        return before is None or column in columns

    was_active = before.is_active if before else True
    leaving = was_active and row.left_on is not None
    active = was_active and not leaving
    manager_before = numbers.get(before.manager_id) if before and before.manager_id else None
    values = {
        "name": row.name,
        "phone": row.phone if given("phone") else before.phone if before else None,
        "email": row.email if given("email") else before.email if before else None,
        # Empty only for someone the company already has without one (the first HR admin).
        "org_unit_id": places.org_units[row.org_unit][0] if row.org_unit else None,
        "position_id": places.positions.get(row.position or "") if given("position") else _of(before, "position_id"),
        "site_id": places.sites.get(row.site or "") if given("site") else _of(before, "site_id"),
        "hired_on": (before.hired_on or row.hired_on) if before else (row.hired_on or row.left_on or today),
        "left_on": row.left_on if leaving else _of(before, "left_on"),
        "is_active": active,
        "manager_id": None,
    }
    if not was_active:  # a former employee keeps their last manager (none, after a LEAVE step)
        manager = manager_before
    else:
        manager = row.manager if active and given("manager") else manager_before if active else None
    roles = row.roles if given("roles") else roles_before
    plan = Plan(number, row, before, values, manager, manager_before, roles_before, roles)
    if active and given("mentor") and row.mentor not in {numbers.get(m["mentor_id"]) for m in mentorships}:
        plan.ending = mentorships  # none named, or another: the current ones end
        plan.new_mentor = row.mentor
    return plan


def _of(before: Stored | None, name: str) -> Any:
    return getattr(before, name) if before is not None else None


def db_values(connection: BaseDBAsyncClient, values: dict[str, Any]) -> dict[str, Any]:
    """Dates as SQLite stores them (Tortoise writes ISO text there); PostgreSQL takes them as they are."""
    if connection.capabilities.dialect == "postgres":
        return values
    return {name: value.isoformat() if isinstance(value, date) else value for name, value in values.items()}
