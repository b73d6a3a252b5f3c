"""Employees as HR admins keep them: hiring, editing a profile, roles, and the input checks of an
employee's fields. Moves, leaving and coming back are ``employment_moves``; what every employment
write shares (the company lock, place and manager-chain checks, history steps, feed rows) is
``employment_steps``.

- ``hire_employee``: a new person of the company with an employee number that follows the
  company's standard (stored upper-case, unique: ``ALREADY_EXISTS``), an open org unit, and
  optionally a position, a site and an active manager. No usable password: the account is opened
  with a one-time activation code (asked for here, or later with ``issueActivationCode``). Writes
  the HIRE step of the history; the manager's phone gets the new team member.
- ``update_employee``: name, phone, e-mail, locale and the employee number (checked against the
  standard only when it changes). Where someone works (org unit, position, manager, site) changes
  only by a transfer, which keeps the history.
- ``set_employee_roles``: EMPLOYEE is always kept; the company's last active HR admin keeps
  HR_ADMIN (``STILL_IN_USE``).

Dates are the company's days (``tenant.time_zone``). A hire may be dated up to one day ahead (HR
opens the account the day before someone starts, and a desk in another time zone may already be
on tomorrow); transfers and leaving may not be dated in the future at all (nothing would apply
them on the day). Every write is audited with the employee's fields before and after.

The ``check_*`` functions read no database, so imports run them on every row of a file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import SUPPORTED_LOCALES
from backend.models import (
    AssignmentKind,
    AssignmentSource,
    DataStandardSubject,
    Employee,
    EmployeeRole,
    Mentorship,
    Role,
)
from backend.services.feed import ChangeSet, Entity
from backend.services.ojt import assignments
from backend.services.people import accounts
from backend.services.people.employment_steps import (
    EmploymentWrite,
    check_place,
    find_employee,
    lock_people,
    record_step,
    require_other_hr_admin,
    roles_of,
    state_of,
    touch_person,
)
from backend.services.people.standards import Standards, standards_of
from backend.services.validation import invalid, parse_day, storable, text
from backend.services.viewer import Viewer

MAX_EMPLOYEE_NO = 32  # Employee.employee_no
MAX_NAME = 100  # Employee.name
MAX_PHONE = 32  # Employee.phone
MAX_EMAIL = 200  # Employee.email
MAX_REASON = 300  # EmployeeAssignment.reason
HIRE_DAYS_AHEAD = 1  # a hire (or a return) may be dated tomorrow in the company's time zone

_PHONE = re.compile(r"\+?[0-9][0-9 ()-]{2,31}", re.ASCII)
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")

# --- pure input checks (no database; imports reuse them) -----------------------------------------


def _clean(value: object, field: str, maximum: int, required: bool = True) -> str:
    """Text trimmed and storable; VALIDATION naming ``field`` otherwise."""
    if value is not None and not isinstance(value, str):
        raise invalid(field)
    cleaned = text(value, field, maximum, required)
    if not storable(cleaned):
        raise invalid(field, "reason.text_chars")
    return cleaned


def check_employee_no(standards: Standards, value: object, field: str = "employeeNo") -> str:
    """An employee number as stored (trimmed, upper-case: people type it at login in any case),
    following the company's EMPLOYEE_NO standard; VALIDATION naming ``field`` otherwise."""
    number = _clean(value, field, MAX_EMPLOYEE_NO).upper()
    if len(number) > MAX_EMPLOYEE_NO:  # upper-casing may lengthen (ß → SS)
        raise invalid(field, "reason.too_long", max=MAX_EMPLOYEE_NO)
    return standards.check(DataStandardSubject.EMPLOYEE_NO, number, field)


def check_name(value: object, field: str = "name") -> str:
    """A person's full name: 1–100 characters."""
    return _clean(value, field, MAX_NAME)


def check_phone(value: object, field: str = "phone") -> str | None:
    """A phone number (digits, a leading +, spaces, hyphens, parentheses), or None when empty."""
    phone = _clean(value, field, MAX_PHONE, required=False)
    if phone and not _PHONE.fullmatch(phone):
        raise invalid(field, "reason.phone_format")
    return phone or None


def check_email(value: object, field: str = "email") -> str | None:
    """An e-mail address (one @, a dotted domain, no spaces), or None when empty."""
    email = _clean(value, field, MAX_EMAIL, required=False)
    if email and not _EMAIL.fullmatch(email):
        raise invalid(field, "reason.email_format")
    return email or None


def check_locale(value: object, field: str = "locale") -> str | None:
    """zh-CN or en, or None when empty (the app's own setting then decides)."""
    locale = _clean(value, field, 16, required=False)
    if locale and locale not in SUPPORTED_LOCALES:
        raise invalid(field, "reason.locale")
    return locale or None


def check_reason(value: object, field: str = "reason", required: bool = True) -> str:
    """Why a move happened, as HR wrote it: up to 300 characters."""
    return _clean(value, field, MAX_REASON, required)


def check_roles(roles: Iterable[object], field: str = "roles") -> frozenset[Role]:
    """The roles to hold (names or ``Role``), EMPLOYEE always among them."""
    found = {Role.EMPLOYEE}
    for role in roles:
        if not isinstance(role, str) or role.strip().upper() not in Role.__members__:
            raise invalid(field, "reason.role")
        found.add(Role(role.strip().upper()))
    return frozenset(found)


def check_day(value: object, field: str) -> date:
    """A date: a ``date``, or ``YYYY-MM-DD`` text (1900–2199)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return parse_day(value.isoformat(), field)
    return parse_day(value, field)


def company_today(time_zone: str, now: datetime) -> date:
    """The company's calendar day at ``now``."""
    return now.astimezone(ZoneInfo(time_zone)).date()


def check_not_future(day: date, today: date, field: str, days_ahead: int = 0) -> date:
    """``day`` unless it is after ``today`` (+ ``days_ahead``): VALIDATION naming the last day
    allowed. Moves cannot be scheduled: nothing would apply them on the day."""
    latest = today + timedelta(days=days_ahead)
    if day > latest:
        raise invalid(field, "reason.future_date", latest=latest.isoformat())
    return day


def check_not_before(day: date, earliest: date | None, field: str) -> date:
    """``day`` unless it is before ``earliest`` (the employee's latest step): the history stays in
    date order."""
    if earliest is not None and day < earliest:
        raise invalid(field, "reason.before_latest_change", earliest=earliest.isoformat())
    return day


def employee_no_taken(number: str, field: str = "employeeNo") -> DomainError:
    return DomainError(ErrorCode.ALREADY_EXISTS, field=field, what_key="subject.employee_no", value=number)


async def _number_taken(write: EmploymentWrite, number: str, employee_id: int | None = None) -> bool:
    query = Employee.filter(tenant_id=write.tenant.id, employee_no=number).using_db(write.connection)
    if employee_id is not None:
        query = query.exclude(id=employee_id)
    return await query.exists()


# --- hiring ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewHire:
    """What HR fills in for a new employee (IDs already read; text checked by the service)."""

    employee_no: object
    name: object
    org_unit_id: int
    hired_on: date
    roles: Iterable[object] = ()
    phone: object = None
    email: object = None
    position_id: int | None = None
    manager_id: int | None = None
    site_id: int | None = None


@dataclass(frozen=True)
class Hired:
    """A hired (or returning) employee and, when asked for, their one-time activation code."""

    employee: Employee
    activation: accounts.IssuedCode | None


async def hire_employee(
    settings: Settings, viewer: Viewer, hire: NewHire, issue_code: bool = False, now: datetime | None = None
) -> Hired:
    """Hire someone (HR admins): the employee (no password), their roles, the HIRE step, and a
    one-time activation code when ``issue_code``. Audited; their manager's phone gets them."""
    viewer.require_role(Role.HR_ADMIN)
    name, phone, email = check_name(hire.name), check_phone(hire.phone), check_email(hire.email)
    roles = check_roles(hire.roles)
    now = now or datetime.now(UTC)
    try:
        async with in_transaction() as connection:
            tenant = await lock_people(connection, viewer.tenant_id)
            write = EmploymentWrite(viewer, connection, tenant, ChangeSet(tenant.id), now)
            employee_no = check_employee_no(await standards_of(tenant.id, connection), hire.employee_no)
            check_not_future(hire.hired_on, write.today, "hiredOn", HIRE_DAYS_AHEAD)
            if await _number_taken(write, employee_no):
                raise employee_no_taken(employee_no)
            place = {
                "orgUnitId": hire.org_unit_id,
                "positionId": hire.position_id,
                "siteId": hire.site_id,
                "managerId": hire.manager_id,
            }
            await check_place(write, place)
            employee = await Employee.create(
                tenant_id=tenant.id,
                employee_no=employee_no,
                name=name,
                phone=phone,
                email=email,
                password_hash="",  # no usable password: the activation code opens the account
                org_unit_id=hire.org_unit_id,
                position_id=hire.position_id,
                manager_id=hire.manager_id,
                site_id=hire.site_id,
                hired_on=hire.hired_on,
                using_db=connection,
            )
            for role in sorted(roles):
                await EmployeeRole.create(tenant_id=tenant.id, employee_id=employee.id, role=role, using_db=connection)
            await record_step(write, employee, AssignmentKind.HIRE, hire.hired_on, "")
            await write.audit(
                "employee.hire", employee.id, {"before": None, "after": {**state_of(employee), "roles": sorted(roles)}}
            )
            touch_person(write.changes, employee, employee.manager_id)
            # The OJT plans of the place they join, from their first day (docs/ojt-plans.md).
            placement = assignments.Placement(
                employee.id, AssignmentSource.HIRE, hire.hired_on, employee.org_unit_id, employee.position_id
            )
            await assignments.assign_on_placement(
                connection, write.changes, tenant.id, [placement], write.today, now, viewer.employee_id
            )
            activation = (
                await accounts.issue_activation_code(settings, viewer, employee.id, now=now) if issue_code else None
            )
            await write.changes.publish(connection, now)
    except IntegrityError:  # the same number hired at the same moment elsewhere
        raise employee_no_taken(str(hire.employee_no).strip().upper()) from None
    return Hired(employee, activation)


# --- the profile -----------------------------------------------------------------------------------


async def update_employee(
    viewer: Viewer, employee_id: int, given: Mapping[str, object], now: datetime | None = None
) -> Employee:
    """Change an employee's profile (HR admins): the fields ``given`` (GraphQL names: employeeNo,
    name, phone, email, locale; a None phone, e-mail or locale clears it). Where they work changes
    by a transfer. Audited with before and after."""
    viewer.require_role(Role.HR_ADMIN)
    values: dict[str, Any] = {}
    for field, checker in (("name", check_name), ("phone", check_phone), ("email", check_email)):
        if field in given:
            values[field] = checker(given[field])
    if "locale" in given:
        values["locale"] = check_locale(given["locale"])
    now = now or datetime.now(UTC)
    try:
        async with in_transaction() as connection:
            tenant = await lock_people(connection, viewer.tenant_id)
            write = EmploymentWrite(viewer, connection, tenant, ChangeSet(tenant.id), now)
            employee = await find_employee(write, employee_id)
            number = _clean(given["employeeNo"], "employeeNo", MAX_EMPLOYEE_NO) if "employeeNo" in given else None
            if number is not None and number.upper() != employee.employee_no:
                # A number is checked against the standard when it changes, never retroactively.
                number = check_employee_no(await standards_of(tenant.id, connection), number)
                if await _number_taken(write, number, employee.id):
                    raise employee_no_taken(number)
                values["employee_no"] = number
            before = state_of(employee)
            for name, value in values.items():
                setattr(employee, name, value)
            after = state_of(employee)
            if after != before:
                await Employee.filter(id=employee.id).using_db(connection).update(**values, updated_at=now)
                await write.audit("employee.update", employee.id, {"before": before, "after": after})
                touch_person(write.changes, employee, employee.manager_id)
                await _touch_mentorships(write, employee)
                await write.changes.publish(connection, now)
    except IntegrityError:
        raise employee_no_taken(str(given.get("employeeNo", "")).strip().upper()) from None
    return employee


async def _touch_mentorships(write: EmploymentWrite, employee: Employee) -> None:
    """A new name or number shows on the MENTORSHIP rows of both people of each mentorship."""
    rows = Mentorship.filter(Q(mentor_id=employee.id) | Q(mentee_id=employee.id), tenant_id=write.tenant.id)
    for mentorship_id, mentor_id, mentee_id in await rows.using_db(write.connection).values_list(
        "id", "mentor_id", "mentee_id"
    ):
        write.changes.touch(Entity.MENTORSHIP, mentorship_id, audience=mentor_id)
        write.changes.touch(Entity.MENTORSHIP, mentorship_id, audience=mentee_id)


# --- roles -----------------------------------------------------------------------------------------


async def set_employee_roles(
    viewer: Viewer, employee_id: int, roles: Iterable[object], now: datetime | None = None
) -> Employee:
    """Give an employee exactly ``roles`` (HR admins; EMPLOYEE always kept). Taking HR_ADMIN from
    the company's last active HR admin is STILL_IN_USE. Takes effect on their next request (roles
    are read per request). Audited; their profile (which lists roles) is sent to their phone."""
    viewer.require_role(Role.HR_ADMIN)
    wanted = check_roles(roles)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        tenant = await lock_people(connection, viewer.tenant_id)
        write = EmploymentWrite(viewer, connection, tenant, ChangeSet(tenant.id), now)
        employee = await find_employee(write, employee_id)
        before = await roles_of(write, employee.id)
        if Role.HR_ADMIN in before and Role.HR_ADMIN not in wanted and employee.is_active:
            await require_other_hr_admin(write, employee.id, "roles")
        if set(before) != wanted:
            rows = EmployeeRole.filter(tenant_id=tenant.id, employee_id=employee.id).using_db(connection)
            await rows.filter(role__not_in=list(wanted)).delete()
            for role in sorted(wanted - set(before)):
                await EmployeeRole.create(tenant_id=tenant.id, employee_id=employee.id, role=role, using_db=connection)
            await write.audit(
                "employee.roles", employee.id, {"before": {"roles": before}, "after": {"roles": sorted(wanted)}}
            )
            write.changes.touch(Entity.PROFILE, employee.id, audience=employee.id)
            await write.changes.publish(connection, now)
    return employee


# --- feed backfill ---------------------------------------------------------------------------------


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    """Every manager's team (TEAM_MEMBER of each employee who has a manager, to that manager)."""
    for employee_id, manager_id in await Employee.filter(tenant_id=tenant_id, manager_id__isnull=False).values_list(
        "id", "manager_id"
    ):
        changes.touch(Entity.TEAM_MEMBER, employee_id, audience=manager_id)
