"""The ``employees`` import kind: the company's people, keyed by employee number, with where they
work (org unit, position, site), their manager and mentor, roles, and whether they left.

Each row is judged by the employment service's own pure checks (``employment.check_employee_no``,
``check_name``, ``check_phone``, ``check_email``, ``check_roles``, ``check_not_future``,
``check_not_before``); the file as a whole by the rules its mutations apply (an open org unit, an
active manager and mentor, no loop in the manager chain, the company keeps an active HR admin). The
EMPLOYEE_NO standard applies to new numbers only: numbers the company has stay valid.

What a row does (written by ``employee_writes`` and ``employee_effects``; what both halves know of a
row and of the company is ``employee_rows``):

- a new number: a hire (no password: HR issues an activation code later), its roles and HIRE step
  (on *hired on*, or today); with *left on*, a former employee (HIRE and LEAVE steps, inactive);
- a known number: its new name, phone, e-mail; a new org unit, position, site or manager is a
  TRANSFER step effective today; new roles as ``setEmployeeRoles``; *left on* makes an active
  employee leave as ``leaveEmployee`` does (sessions end, codes void, mentorships end);
- a mentor: a current all-course mentorship from today, ending the one it replaces.

An optional column left out of the file keeps what the company has; an empty cell clears (the file
states every employee's manager, so a manager's reports are never re-pointed by an import).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.errors import DomainError, ErrorCode
from backend.models import (
    DataStandardSubject,
    Employee,
    EmployeeRole,
    Role,
    Tenant,
)
from backend.services.imports import employee_writes
from backend.services.imports.employee_rows import (
    COMPANY,
    Company,
    EmployeeRow,
    Person,
    Places,
    current_mentorships,
    directory,
    find_cycles,
    latest_steps,
    places_of,
    roles_by_employee,
)
from backend.services.imports.files import WriteCell
from backend.services.imports.kinds import (
    KEY_CHUNK,
    CheckedFile,
    ImportKind,
    JobContext,
    Reference,
    WriteRun,
    without_standard,
)
from backend.services.imports.problems import ProblemCode, from_error, problem
from backend.services.imports.rows import Cells, Column
from backend.services.people.employment import (
    HIRE_DAYS_AHEAD,
    MAX_EMPLOYEE_NO,
    check_email,
    check_employee_no,
    check_name,
    check_not_before,
    check_not_future,
    check_phone,
    check_roles,
)
from backend.services.people.org_units import check_text
from backend.services.people.standards import Standards
from backend.services.validation import invalid

# Numbers are cleaned by check_employee_no in parse, but its standard applies to new numbers only
# (check_file knows which): here any number passes (without a pattern to match).
_ANY_NUMBER = without_standard(Standards({}), DataStandardSubject.EMPLOYEE_NO)
_ROLE_NAMES = {
    "员工": "EMPLOYEE",
    "导师": "MENTOR",
    "讲师": "INSTRUCTOR",
    "经理": "MANAGER",
    "人力资源管理员": "HR_ADMIN",
}
_ROLE_SEPARATORS = re.compile(r"[;；,，、\s]+")
MAX_CODE = 64  # OrgUnit.code, Position.code, Site.code

_EXPORTED = ("employee_no", "name", "phone", "email", "org_unit", "position", "site", "manager", "hired_on", "left_on")
_ROWS = "employees"  # notes: employee number → (row number, row), the good rows
Issue = tuple[str, ProblemCode, dict[str, Any]]  # a problem of ours: column key, code, message params


def _named(cells: Cells, key: str) -> str | None:
    """A manager's or mentor's number as stored (upper-case); the file or the company must have it."""
    value = check_text(cells.text(key), key, MAX_EMPLOYEE_NO, required=False)
    return value.upper() or None


def _code(cells: Cells, key: str, required: bool = False) -> str | None:
    return check_text(cells.text(key), key, MAX_CODE, required) or None


def role_names(value: str | None) -> list[str]:
    """``MENTOR;MANAGER`` or ``导师、经理`` as role names (check_roles judges them)."""
    return [_ROLE_NAMES.get(part, part) for part in _ROLE_SEPARATORS.split(value or "") if part]


class EmployeesKind(ImportKind[EmployeeRow]):
    """Employees (see the module docstring)."""

    name = "employees"
    title_zh = "员工"
    title_en = "Employees"
    entity = "Employee"
    key_column = "employee_no"
    columns = (
        Column(
            "employee_no",
            "工号",
            "Employee no.",
            True,
            "新工号须符合企业工号标准（默认 工号+部门编码，如 001-01），按大写保存；同一工号再次导入即更新该员工",
            "new numbers follow the company's EMPLOYEE_NO standard (default 001-01), stored upper-case; "
            "importing a number again updates that employee",
        ),
        Column("name", "姓名", "Name", True, "最长 100 字", "up to 100"),
        Column(
            "phone", "手机号", "Phone", False, "数字，可含 +、空格、连字符、括号；可空", "digits, + ( ) - and spaces"
        ),
        Column("email", "邮箱", "E-mail", False, "可空", "may be empty"),
        Column(
            "org_unit",
            "组织编码",
            "Org unit code",
            True,
            "公司已有的组织（先导入组织）；新员工必填，在职员工的组织须未关闭",
            "an org unit of the company (import org units first); required for new employees, open for active ones",
        ),
        Column("position", "岗位编码", "Position code", False, "公司已有的岗位；可空", "a position of the company"),
        Column("site", "地点编码", "Site code", False, "公司已有的地点；可空", "a site of the company"),
        Column(
            "manager",
            "上级工号",
            "Manager no.",
            False,
            "在职员工，本文件中或公司已有；不能形成循环；空为无上级",
            "an active employee, in this file or the company; no loops; empty: none",
        ),
        Column(
            "mentor",
            "导师工号",
            "Mentor no.",
            False,
            "在职员工；新导师自今天起指导全部课程，原导师关系同时结束；空为无导师",
            "an active employee; a new mentor mentors every course from today, ending the former one; empty: none",
        ),
        Column(
            "hired_on",
            "入职日期",
            "Hired on",
            False,
            "YYYY-MM-DD，最晚明天；新员工留空为今天；已有员工的入职日期不能修改",
            "YYYY-MM-DD, at most tomorrow; empty for a new employee: today; a recorded one cannot change",
            field="hiredOn",
        ),
        Column(
            "roles",
            "角色",
            "Roles",
            False,
            "以 ; 分隔：MENTOR 导师、INSTRUCTOR 讲师、MANAGER 经理、HR_ADMIN 人力资源管理员（EMPLOYEE 总是保留）",
            "separated by ';': MENTOR, INSTRUCTOR, MANAGER, HR_ADMIN (EMPLOYEE is always kept)",
        ),
        Column(
            "left_on",
            "离职日期",
            "Left on",
            False,
            "已离职员工的离职日期（不晚于今天）；填写后该员工离职；空为在职",
            "the day a former employee left (not after today); an active one then leaves; empty: employed",
            field="leftOn",
        ),
    )

    # --- one row -----------------------------------------------------------------------------------

    def parse(self, cells: Cells, context: JobContext) -> EmployeeRow:
        hired_on, left_on = cells.day("hired_on"), cells.day("left_on")
        cells.check()
        number = check_employee_no(_ANY_NUMBER, cells.text("employee_no"), "employee_no")
        name = check_name(cells.text("name"), "name")
        phone, email = check_phone(cells.text("phone"), "phone"), check_email(cells.text("email"), "email")
        org_unit = _code(cells, "org_unit") or ""  # required of new people: see _row_problems
        position, site = _code(cells, "position"), _code(cells, "site")
        manager, mentor = _named(cells, "manager"), _named(cells, "mentor")
        roles = check_roles(role_names(cells.text("roles")), "roles")
        if hired_on is not None:
            check_not_future(hired_on, context.today, "hiredOn", HIRE_DAYS_AHEAD)
        if left_on is not None:
            check_not_future(left_on, context.today, "leftOn")
            check_not_before(left_on, hired_on, "leftOn")
            manager = mentor = None
        if manager == number:
            cells.problems.append(
                problem(
                    cells.row,
                    cells.header.column_name("manager"),
                    ProblemCode.CYCLE,
                    value=number,
                    what_key="subject.manager_chain",
                )
            )
            cells.check()
        if mentor == number:
            raise invalid("mentor", "reason.self_mentoring")
        return EmployeeRow(
            number, name, phone, email, org_unit, position, site, manager, mentor, hired_on, left_on, roles
        )

    def key(self, row: EmployeeRow) -> str:
        return row.employee_no

    def references(self, row: EmployeeRow) -> Iterable[Reference]:
        for column, number in (("manager", row.manager), ("mentor", row.mentor)):
            if number is not None:
                yield Reference(column, self.name, number)

    def note(self, checked: CheckedFile, number: int, row: EmployeeRow) -> None:
        checked.notes.setdefault(_ROWS, {})[row.employee_no] = (number, row)

    async def known_keys(self, tenant_id: int, keys: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(keys), KEY_CHUNK):
            query = Employee.filter(tenant_id=tenant_id, employee_no__in=list(keys[start : start + KEY_CHUNK]))
            found.update(str(number) for number in await query.values_list("employee_no", flat=True))
        return found

    # --- the file as a whole -----------------------------------------------------------------------

    async def check_file(self, checked: CheckedFile, context: JobContext) -> None:
        rows: dict[str, tuple[int, EmployeeRow]] = checked.notes.setdefault(_ROWS, {})
        people = await directory(context.tenant_id)
        company = Company(
            people=people,
            numbers={person.id: number for number, person in people.items()},
            places=await places_of(context.tenant_id),
            columns=frozenset(checked.header.written),
        )
        checked.notes[COMPANY] = company
        leavers = [people[key].id for key, (_, row) in rows.items() if _leaves(row, people.get(key))]
        latest = await latest_steps(context.tenant_id, leavers)
        reports = await _reports_of(context.tenant_id, leavers)
        for key, (number, row) in rows.items():
            person = people.get(key)
            for found in self._row_problems(context, company, rows, row, person, latest):
                if isinstance(found, DomainError):
                    checked.problems.add(from_error(number, checked.header.column_name(found.field), found))
                else:
                    column, code, params = found
                    checked.problems.add(problem(number, checked.header.column_name(column), code, **params))
            if person is not None and _leaves(row, person):
                self._leaver_reports(checked, company, number, row, reports.get(person.id, []))
        await self._check_hr_admins(checked, context, company, rows)
        self._check_chain(checked, company, rows)

    def _row_problems(
        self,
        context: JobContext,
        company: Company,
        rows: dict[str, tuple[int, EmployeeRow]],
        row: EmployeeRow,
        person: Person | None,
        latest: dict[int, date],
    ) -> Iterable[DomainError | Issue]:
        """The problems of one row that need the company: the API's refusals of the same input."""
        places, columns = company.places, company.columns
        if person is None:
            try:
                context.standards.check(DataStandardSubject.EMPLOYEE_NO, row.employee_no, "employee_no")
            except DomainError as error:
                yield error
        yield from _unknown_places(places, row)
        if not row.org_unit and (person is None or person.org_unit_id is not None):
            # A hire needs an org unit, and nobody is moved out of theirs into none; someone the
            # company has without one (its first HR admin) comes back from an export as they are.
            yield invalid("org_unit", "reason.required")
        if person is not None and person.hired_on and row.hired_on and person.hired_on != row.hired_on:
            yield "hired_on", ProblemCode.HIRED_ON_CHANGED, {"value": person.hired_on.isoformat()}
        if person is not None and not person.is_active:
            if "left_on" in columns and row.left_on != person.left_on:
                yield invalid("left_on", "reason.already_left")
            yield from _moves_of_leaver(places, columns, row, person)
            return  # a former employee's manager and mentor are not read
        unit = places.org_units.get(row.org_unit)
        if unit and unit[1] and row.left_on is None and (person is None or person.org_unit_id != unit[0]):
            yield invalid("org_unit", "reason.org_unit_closed")
        if person is not None and row.left_on is not None:
            try:
                check_not_before(row.left_on, latest.get(person.id) or person.hired_on, "left_on")
            except DomainError as error:
                yield error
        for column, target in (("manager", row.manager), ("mentor", row.mentor)):
            if target is None:
                continue
            in_file, found = rows.get(target), company.people.get(target)
            if in_file is None and found is not None:
                company.referenced.add(target)
            if (in_file is not None and in_file[1].left_on is not None) or (found is not None and not found.is_active):
                yield invalid(column, "reason.inactive_employee")

    def _leaver_reports(
        self, checked: CheckedFile, company: Company, number: int, row: EmployeeRow, reports: list[str]
    ) -> None:
        """A leaver's active reports must get another manager in this file (an import does not
        re-point them): STILL_MANAGES for those it leaves out; the leaver's row goes with the rows
        of the others (if one of them has problems, so does the leaver's)."""
        if not reports:
            return
        missing = [report for report in reports if report not in checked.keys]
        if missing or "manager" not in company.columns:
            example = (missing or reports)[0]
            column = checked.header.column_name("left_on")
            found = problem(number, column, ProblemCode.STILL_MANAGES, value=row.employee_no, example=example)
            checked.problems.add(found)
            return
        checked.references.extend((number, Reference("left_on", self.name, report)) for report in reports)

    async def _check_hr_admins(
        self, checked: CheckedFile, context: JobContext, company: Company, rows: dict[str, tuple[int, EmployeeRow]]
    ) -> None:
        """The company keeps an active HR admin (setEmployeeRoles and leaveEmployee refuse the last)."""
        query = EmployeeRole.filter(tenant_id=context.tenant_id, role=Role.HR_ADMIN, employee__is_active=True)
        admins = {str(number) for number in await query.values_list("employee__employee_no", flat=True)}
        company.had_hr_admin = bool(admins)
        after = set(admins)
        for key, (number, row) in rows.items():
            if number in checked.problems.bad_rows:
                continue
            holds = Role.HR_ADMIN in row.roles if "roles" in company.columns else key in admins
            if holds and _active_after(row, company.people.get(key)):
                after.add(key)
            else:
                after.discard(key)
        if not admins or after:
            return
        for key in sorted(admins & rows.keys()):
            number, row = rows[key]
            error = DomainError(ErrorCode.STILL_IN_USE, field="roles", reason_key="reason.last_hr_admin")
            column = "left_on" if row.left_on is not None else "roles"
            checked.problems.add(from_error(number, checked.header.column_name(column), error))

    def _check_chain(self, checked: CheckedFile, company: Company, rows: dict[str, tuple[int, EmployeeRow]]) -> None:
        """CYCLE on each row whose manager chain, as the file leaves it, comes back to it (through
        the file or the company's people)."""
        people, numbers = company.people, company.numbers
        up: dict[str, str | None] = {
            key: numbers.get(person.manager_id) if person.is_active and person.manager_id else None
            for key, person in people.items()
        }
        for key, (number, row) in rows.items():
            person = people.get(key)
            if number in checked.problems.bad_rows:
                continue  # skipped (with --partial): the company's chain stays
            if not _active_after(row, person):
                up[key] = None
            elif person is None or "manager" in company.columns:
                up[key] = row.manager
        column = checked.header.column_name("manager")
        for key in sorted(find_cycles(up, rows)):
            if key in rows:
                number = rows[key][0]
                checked.problems.add(
                    problem(number, column, ProblemCode.CYCLE, value=key, what_key="subject.manager_chain")
                )

    # --- writing (employee_writes) -----------------------------------------------------------------

    async def apply(self, run: WriteRun, rows: Sequence[tuple[int, EmployeeRow]]) -> None:
        await employee_writes.apply(run, rows)

    async def finish(self, run: WriteRun) -> None:
        await employee_writes.finish(run)

    # --- export ------------------------------------------------------------------------------------

    async def export_rows(self, tenant_id: int) -> AsyncIterator[dict[str, WriteCell]]:
        tenant = await Tenant.get(id=tenant_id)
        today = datetime.now(ZoneInfo(tenant.time_zone)).date()
        last: str | None = None
        while True:
            query = Employee.filter(tenant_id=tenant_id)
            if last is not None:
                query = query.filter(employee_no__gt=last)
            page = (
                await query.order_by("employee_no")
                .limit(KEY_CHUNK)
                .values(
                    "id",
                    "employee_no",
                    "name",
                    "phone",
                    "email",
                    "is_active",
                    "hired_on",
                    "left_on",
                    org_unit="org_unit__code",
                    position="position__code",
                    site="site__code",
                    manager="manager__employee_no",
                )
            )
            ids = [found["id"] for found in page]
            roles = await roles_by_employee(tenant_id, ids)
            mentors = await _export_mentors(tenant_id, ids, today)
            for found in page:
                held = roles.get(found["id"], frozenset())
                yield {
                    **{key: found.get(key) for key in _EXPORTED},
                    "mentor": mentors.get(found["id"]) if found["is_active"] else None,  # a leaver's ended
                    "roles": ";".join(sorted(role for role in held if role != Role.EMPLOYEE)),
                }
            if len(page) < KEY_CHUNK:
                return
            last = page[-1]["employee_no"]


# --- rules of one row ------------------------------------------------------------------------------


def _leaves(row: EmployeeRow, person: Person | None) -> bool:
    """Whether the row makes an active employee of the company leave."""
    return person is not None and person.is_active and row.left_on is not None


def _active_after(row: EmployeeRow, person: Person | None) -> bool:
    return row.left_on is None and (person is None or person.is_active)


def _unknown_places(places: Places, row: EmployeeRow) -> Iterable[Issue]:
    """UNKNOWN_REFERENCE for codes the company does not have (they are imported before employees)."""
    known: tuple[tuple[str, str | None, Mapping[str, object]], ...] = (
        ("org_unit", row.org_unit, places.org_units),
        ("position", row.position, places.positions),
        ("site", row.site, places.sites),
    )
    for column, code, codes in known:
        if code and code not in codes:
            yield column, ProblemCode.UNKNOWN_REFERENCE, {"value": code}


def _moves_of_leaver(
    places: Places, columns: frozenset[str], row: EmployeeRow, person: Person
) -> Iterable[DomainError]:
    """A former employee's place stays as it was when they left (transferEmployee refuses them)."""
    unit = places.org_units.get(row.org_unit)
    moved = [("org_unit", unit[0] if unit else None, person.org_unit_id)]
    if "position" in columns:
        moved.append(("position", places.positions.get(row.position or ""), person.position_id))
    if "site" in columns:
        moved.append(("site", places.sites.get(row.site or ""), person.site_id))
    for column, after, before in moved:
        if after != before:
            yield invalid(column, "reason.inactive_employee")


# --- reads in bulk ---------------------------------------------------------------------------------


async def _reports_of(tenant_id: int, manager_ids: list[int]) -> dict[int, list[str]]:
    """The active direct reports (numbers) of each of ``manager_ids``."""
    reports: dict[int, list[str]] = {}
    for start in range(0, len(manager_ids), KEY_CHUNK):
        query = Employee.filter(
            tenant_id=tenant_id, is_active=True, manager_id__in=manager_ids[start : start + KEY_CHUNK]
        )
        for manager_id, number in await query.order_by("employee_no").values_list("manager_id", "employee_no"):
            reports.setdefault(manager_id, []).append(number)
    return reports


async def _export_mentors(tenant_id: int, mentee_ids: list[int], today: date) -> dict[int, str]:
    """Each mentee's current all-course mentor (the latest begun, when there are several)."""
    if not mentee_ids:
        return {}
    rows = await (
        current_mentorships(tenant_id, mentee_ids, today)
        .order_by("starts_on", "id")
        .values_list("mentee_id", "mentor__employee_no")
    )
    return dict(rows)
