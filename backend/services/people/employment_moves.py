"""Where employees work over time: transfers, leaving, coming back, and the history of those steps.

- ``transfer_employee`` changes any of org unit, position, manager and site from an effective day
  that is not in the future (nothing would apply a scheduled move on its day) and not before the
  employee's latest step (the history stays in date order; back-dating within that is allowed). A
  manager chain that would loop is ``WOULD_CREATE_CYCLE``, a closed unit ``VALIDATION``.
- A manager who changes org unit loses the old team in the same transaction: their active direct
  reports move to ``reports_to`` or, when not given, to the manager's own manager (one level up).
  A report named as ``reports_to`` moves one level up instead and takes the others. Each report
  gets its own TRANSFER step (dated the move's day, or their own latest step's if later) and audit
  row. Permissions are read per request, so the old team is out of sight on the very next request.
- ``leave_employee``: inactive from ``left_on``; the LEAVE step keeps the last org unit, position
  and site but no manager (a leaver is nobody's team member any more); every session ends (their
  phone's tokens fail on its next request), unused activation codes are voided, mentorships end on
  ``left_on`` (those not yet begun are removed), and direct reports move as above. The company's
  last active HR admin cannot leave (``STILL_IN_USE``).
- ``rehire_employee``: active again in an open org unit, a REHIRE step; the old password works again
  unless HR issues an activation code (asked for here, or with ``issueActivationCode``).
- ``employee_history``: the steps in (effective day, id) order, for HR admins and the employee's
  manager.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import translate
from backend.models import (
    ActivationCode,
    AssignmentKind,
    AssignmentSource,
    AuthSession,
    CalendarFeedRevokeReason,
    Employee,
    EmployeeAssignment,
    EmployeeRole,
    Mentorship,
    PracticeLog,
    Role,
)
from backend.services.audit import audit
from backend.services.calendars import feeds as calendar_feeds
from backend.services.feed import ChangeSet, Entity
from backend.services.ojt import assignments
from backend.services.people import accounts
from backend.services.people.employment import HIRE_DAYS_AHEAD, Hired, check_not_before, check_not_future, check_reason
from backend.services.people.employment_steps import (
    EmploymentWrite,
    active_employee,
    check_chain,
    check_place,
    find_employee,
    latest_step,
    lock_people,
    record_step,
    require_other_hr_admin,
    roles_of,
    state_of,
    touch_new_place,
    touch_person,
)
from backend.services.validation import invalid
from backend.services.viewer import Viewer

# GraphQL input field → Employee column, for the parts of a place a transfer may change.
PLACE_FIELDS = {"orgUnitId": "org_unit_id", "positionId": "position_id", "managerId": "manager_id", "siteId": "site_id"}
LEFT = "LEFT"  # auth_session.revoke_reason of a leaver's sessions


@dataclass(frozen=True)
class Moved:
    """An employee after a transfer or leaving, and the direct reports that moved to another manager."""

    employee: Employee
    reassigned: list[Employee] = field(default_factory=list)


# --- direct reports ----------------------------------------------------------------------------------


async def _plan_reports(
    write: EmploymentWrite, leaver: Employee, reports_to: int | None
) -> list[tuple[Employee, int | None]]:
    """Where each active direct report of ``leaver`` (who leaves the team: moves unit or leaves)
    goes: to ``reports_to`` or one level up; the report named ``reports_to`` itself one level up."""
    if reports_to is not None:
        if reports_to == leaver.id:
            raise invalid("reportsTo", "reason.reports_to_self")
        await active_employee(write, reports_to, "reportsTo")
    query = Employee.filter(tenant_id=write.tenant.id, manager_id=leaver.id, is_active=True).select_for_update()
    reports = await query.using_db(write.connection).order_by("employee_no")
    up = leaver.manager_id
    return [(report, up if reports_to in (None, report.id) else reports_to) for report in reports]


async def _reassign(
    write: EmploymentWrite, leaver: Employee, plan: list[tuple[Employee, int | None]], day: date, reason_key: str
) -> list[Employee]:
    """Move the reports as planned: each one's row, TRANSFER step, audit row and feed rows."""
    reason = translate(reason_key, write.tenant.default_locale, employee_no=leaver.employee_no, name=leaver.name)
    for report, manager_id in plan:
        before, previous = state_of(report), report.manager_id
        report.manager_id = manager_id
        await (
            Employee.filter(id=report.id).using_db(write.connection).update(manager_id=manager_id, updated_at=write.now)
        )
        effective_on = max(day, await latest_step(write, report) or day)
        await record_step(write, report, AssignmentKind.TRANSFER, effective_on, reason)
        await write.audit(
            "employee.transfer",
            report.id,
            {
                "before": before,
                "after": state_of(report),
                "effectiveOn": effective_on.isoformat(),
                "reason": reason,
                "followsEmployeeId": leaver.id,
            },
        )
        touch_person(write.changes, report, previous, manager_id)
    return [report for report, _ in plan]


# --- transfers ---------------------------------------------------------------------------------------


async def transfer_employee(
    viewer: Viewer,
    employee_id: int,
    effective_on: date,
    moves: Mapping[str, int | None],
    reason: object,
    reports_to: int | None = None,
    now: datetime | None = None,
) -> Moved:
    """Move an active employee (HR admins): ``moves`` holds the parts that change (GraphQL names:
    orgUnitId, positionId, managerId, siteId; None clears all but the org unit), at least one of
    them different from now. Reports follow the rules of the module. Audited, one TRANSFER step."""
    viewer.require_role(Role.HR_ADMIN)
    reason = check_reason(reason)
    if "orgUnitId" in moves and moves["orgUnitId"] is None:
        raise invalid("orgUnitId", "reason.required")
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        tenant = await lock_people(connection, viewer.tenant_id)
        write = EmploymentWrite(viewer, connection, tenant, ChangeSet(tenant.id), now)
        employee = await find_employee(write, employee_id)
        if not employee.is_active:
            raise invalid("employeeId", "reason.inactive_employee")
        check_not_future(effective_on, write.today, "effectiveOn")
        check_not_before(effective_on, await latest_step(write, employee), "effectiveOn")
        changed = {
            column: moves[name]
            for name, column in PLACE_FIELDS.items()
            if name in moves and moves[name] != getattr(employee, column)
        }
        if not changed:
            raise DomainError(ErrorCode.VALIDATION, reason_key="reason.nothing_to_change")
        await check_place(write, {name: moves[name] for name, column in PLACE_FIELDS.items() if column in changed})
        leaves_team = "org_unit_id" in changed
        if reports_to is not None and not leaves_team:
            raise invalid("reportsTo", "reason.reports_to_unused")
        plan = await _plan_reports(write, employee, reports_to) if leaves_team else []
        manager_after = changed.get("manager_id", employee.manager_id)
        await check_chain(write, {employee.id: manager_after, **{report.id: target for report, target in plan}})

        before, previous_manager = state_of(employee), employee.manager_id
        for column, value in changed.items():
            setattr(employee, column, value)
        await Employee.filter(id=employee.id).using_db(connection).update(**changed, updated_at=now)
        await record_step(write, employee, AssignmentKind.TRANSFER, effective_on, reason)
        await write.audit(
            "employee.transfer",
            employee.id,
            {"before": before, "after": state_of(employee), "effectiveOn": effective_on.isoformat(), "reason": reason},
        )
        touch_person(write.changes, employee, previous_manager, employee.manager_id)
        if {"org_unit_id", "position_id"} & changed.keys():
            await touch_new_place(write, employee, position_changed="position_id" in changed)
            # The OJT plans of the new place they did not have in the old one, from the move's day.
            placement = assignments.Placement(
                employee.id,
                AssignmentSource.TRANSFER,
                effective_on,
                employee.org_unit_id,
                employee.position_id,
                before_org_unit_id=before["orgUnitId"],
                before_position_id=before["positionId"],
            )
            await assignments.assign_on_placement(
                connection, write.changes, tenant.id, [placement], write.today, now, viewer.employee_id
            )
        reassigned = await _reassign(write, employee, plan, effective_on, "history.manager_moved")
        await write.changes.publish(connection, now)
    return Moved(employee, reassigned)


# --- leaving and coming back -------------------------------------------------------------------------


async def _end_access(write: EmploymentWrite, employee: Employee) -> dict[str, int]:
    """End every session of the employee (access and refresh tokens fail on their next use, on
    every server process), void their unused activation codes and revoke their calendar link."""
    tenant_id, connection = write.tenant.id, write.connection
    sessions = AuthSession.filter(tenant_id=tenant_id, employee_id=employee.id, revoked_at__isnull=True)
    ended = await sessions.using_db(connection).update(revoked_at=write.now, revoke_reason=LEFT)
    codes = ActivationCode.filter(
        tenant_id=tenant_id, employee_id=employee.id, used_at__isnull=True, voided_at__isnull=True
    )
    voided = await codes.using_db(connection).update(voided_at=write.now)
    # The private calendar link too (a returning employee makes a new one).
    calendars = await calendar_feeds.revoke_all(
        connection, tenant_id, employee.id, CalendarFeedRevokeReason.LEFT, write.now
    )
    return {"endedSessions": ended, "voidedCodes": voided, "revokedCalendarFeeds": calendars}


async def _touch_mentorship(write: EmploymentWrite, mentorship: Mentorship) -> None:
    """As services.ojt.mentoring does: the mentorship to both people, and the mentee's practice
    logs in its scope to the mentor (who loses sight of them)."""
    write.changes.touch(Entity.MENTORSHIP, mentorship.id, audience=mentorship.mentor_id)
    write.changes.touch(Entity.MENTORSHIP, mentorship.id, audience=mentorship.mentee_id)
    logs = PracticeLog.filter(tenant_id=write.tenant.id, employee_id=mentorship.mentee_id)
    if mentorship.course_id is not None:
        logs = logs.filter(course_id=mentorship.course_id)
    for log_id in await logs.using_db(write.connection).values_list("id", flat=True):
        write.changes.touch(Entity.PRACTICE_LOG, log_id, audience=mentorship.mentor_id)


async def _end_mentorships(write: EmploymentWrite, employee: Employee, left_on: date) -> list[int]:
    """End the leaver's mentorships (as mentor or mentee) still in force after ``left_on`` on that
    day; remove those that would only begin later. Each audited like HR's own changes."""
    connection = write.connection
    rows = await (
        Mentorship.filter(
            Q(mentor_id=employee.id) | Q(mentee_id=employee.id),
            Q(ends_on=None) | Q(ends_on__gt=left_on),
            tenant_id=write.tenant.id,
        )
        .select_for_update()
        .using_db(connection)
        .order_by("id")
    )
    for mentorship in rows:
        previous = mentorship.ends_on.isoformat() if mentorship.ends_on else None
        if mentorship.starts_on > left_on:
            await Mentorship.filter(id=mentorship.id).using_db(connection).delete()
            details: dict[str, Any] = {"startsOn": mentorship.starts_on.isoformat(), "endsOn": previous}
            await _audit_mentorship(write, "mentorship.delete", mentorship, details, employee.id)
        else:
            await Mentorship.filter(id=mentorship.id).using_db(connection).update(ends_on=left_on, updated_at=write.now)
            mentorship.ends_on = left_on
            details = {"previousEndsOn": previous, "endsOn": left_on.isoformat()}
            await _audit_mentorship(write, "mentorship.end", mentorship, details, employee.id)
        await _touch_mentorship(write, mentorship)
    return [mentorship.id for mentorship in rows]


async def _audit_mentorship(
    write: EmploymentWrite, action: str, mentorship: Mentorship, details: dict[str, Any], leaver_id: int
) -> None:
    await audit(
        write.connection,
        write.viewer,
        write.tenant.id,
        action,
        "Mentorship",
        mentorship.id,
        {**details, "mentorId": mentorship.mentor_id, "menteeId": mentorship.mentee_id, "leftEmployeeId": leaver_id},
    )


async def leave_employee(
    viewer: Viewer,
    employee_id: int,
    left_on: date,
    reason: object,
    reports_to: int | None = None,
    now: datetime | None = None,
) -> Moved:
    """An employee leaves the company on ``left_on`` (HR admins; themselves too, unless they are
    its last active HR admin). See the module for everything that follows. Audited, a LEAVE step."""
    viewer.require_role(Role.HR_ADMIN)
    reason = check_reason(reason)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        tenant = await lock_people(connection, viewer.tenant_id)
        write = EmploymentWrite(viewer, connection, tenant, ChangeSet(tenant.id), now)
        employee = await find_employee(write, employee_id)
        if not employee.is_active:
            raise invalid("employeeId", "reason.already_left")
        check_not_future(left_on, write.today, "leftOn")
        check_not_before(left_on, await latest_step(write, employee), "leftOn")
        if Role.HR_ADMIN in await roles_of(write, employee.id):
            await require_other_hr_admin(write, employee.id, "employeeId")
        plan = await _plan_reports(write, employee, reports_to)
        await check_chain(write, {report.id: target for report, target in plan}, "reportsTo")

        before, previous_manager = state_of(employee), employee.manager_id
        employee.is_active, employee.left_on, employee.manager_id, employee.mentor_id = False, left_on, None, None
        await (
            Employee.filter(id=employee.id)
            .using_db(connection)
            .update(is_active=False, left_on=left_on, manager_id=None, mentor_id=None, updated_at=now)
        )
        await record_step(write, employee, AssignmentKind.LEAVE, left_on, reason)
        access = await _end_access(write, employee)
        mentorships = await _end_mentorships(write, employee, left_on)
        # The old one-mentor column: nobody keeps a leaver as their mentor.
        await Employee.filter(tenant_id=tenant.id, mentor_id=employee.id).using_db(connection).update(mentor_id=None)
        await write.audit(
            "employee.leave",
            employee.id,
            {
                "before": before,
                "after": state_of(employee),
                "reason": reason,
                "mentorships": mentorships,
                **access,
            },
        )
        touch_person(write.changes, employee, previous_manager)
        reassigned = await _reassign(write, employee, plan, left_on, "history.manager_left")
        await write.changes.publish(connection, now)
    return Moved(employee, reassigned)


@dataclass(frozen=True)
class Return:
    """Where a former employee comes back to (IDs already read)."""

    effective_on: date
    org_unit_id: int
    position_id: int | None = None
    manager_id: int | None = None
    site_id: int | None = None
    reason: object = ""


async def rehire_employee(
    settings: Settings,
    viewer: Viewer,
    employee_id: int,
    back: Return,
    issue_code: bool = False,
    now: datetime | None = None,
) -> Hired:
    """Take a former employee back (HR admins): active again from ``back.effective_on`` (up to a day
    ahead, like a hire) in an open org unit; a REHIRE step; a one-time activation code when
    ``issue_code``. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    reason = check_reason(back.reason, required=False)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        tenant = await lock_people(connection, viewer.tenant_id)
        write = EmploymentWrite(viewer, connection, tenant, ChangeSet(tenant.id), now)
        employee = await find_employee(write, employee_id)
        if employee.is_active:
            raise invalid("employeeId", "reason.not_left")
        check_not_future(back.effective_on, write.today, "effectiveOn", HIRE_DAYS_AHEAD)
        check_not_before(back.effective_on, await latest_step(write, employee), "effectiveOn")
        place = {
            "orgUnitId": back.org_unit_id,
            "positionId": back.position_id,
            "siteId": back.site_id,
            "managerId": back.manager_id,
        }
        await check_place(write, place)
        await check_chain(write, {employee.id: back.manager_id})

        before = {**state_of(employee), "roles": [role.value for role in await roles_of(write, employee.id)]}
        # A return starts afresh: the employee's former roles (HR admin among them) are not given
        # back unasked (setEmployeeRoles gives them), and a password from before, which someone may
        # have learnt since, no longer signs in: the person activates with a new code.
        await (
            EmployeeRole.filter(tenant_id=write.tenant.id, employee_id=employee.id)
            .exclude(role=Role.EMPLOYEE)
            .using_db(connection)
            .delete()
        )
        values = {
            "password_hash": "",
            "is_active": True,
            "left_on": None,
            "org_unit_id": back.org_unit_id,
            "position_id": back.position_id,
            "manager_id": back.manager_id,
            "site_id": back.site_id,
        }
        for column, value in values.items():
            setattr(employee, column, value)
        await Employee.filter(id=employee.id).using_db(connection).update(**values, updated_at=now)
        await record_step(write, employee, AssignmentKind.REHIRE, back.effective_on, reason)
        await write.audit(
            "employee.rehire",
            employee.id,
            {
                "before": before,
                "after": {**state_of(employee), "roles": [Role.EMPLOYEE.value]},
                "effectiveOn": back.effective_on.isoformat(),
                "reason": reason,
            },
        )
        touch_person(write.changes, employee, employee.manager_id)
        await touch_new_place(write, employee)
        # A return is a hire for OJT plans: the place's plans they never had, from the day back.
        placement = assignments.Placement(
            employee.id, AssignmentSource.HIRE, back.effective_on, employee.org_unit_id, employee.position_id
        )
        await assignments.assign_on_placement(
            connection, write.changes, tenant.id, [placement], write.today, now, viewer.employee_id
        )
        activation = (
            await accounts.issue_activation_code(settings, viewer, employee.id, now=now) if issue_code else None
        )
        await write.changes.publish(connection, now)
    return Hired(employee, activation)


# --- history -----------------------------------------------------------------------------------------


async def employee_history(viewer: Viewer, employee_id: int) -> list[EmployeeAssignment]:
    """An employee's steps (hire, transfers, leaving, return) in (effective day, id) order: for HR
    admins, and for managers about their direct reports (FORBIDDEN about anyone else of the
    company; NOT_FOUND for no such employee of the company). A career is a few dozen steps at most,
    so the list comes whole."""
    viewer.require_role(Role.HR_ADMIN, Role.MANAGER)
    employee = await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).first()
    if employee is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="employeeId")
    if not viewer.has_role(Role.HR_ADMIN) and employee.manager_id != viewer.employee_id:
        raise DomainError(ErrorCode.FORBIDDEN)
    query = EmployeeAssignment.filter(tenant_id=viewer.tenant_id, employee_id=employee.id)
    return await query.order_by("effective_on", "id")
