"""Credit targets and the credit program settings: what each position family and level should earn
per period, progress against it (an employee's own, a manager's team, HR's "who is behind"), and
the program's period length, time zone and leaderboard privacy.

"Earned in a period" is the sum of an employee's EARN entries and positive ADJUSTMENTs whose
occurred_at lies in the period's [start, end) (``ledger.counts_as_earned``): spending and reversals
never lower it. It is always summed in SQL, grouped by employee, never row by row in Python.

Expected by now is the target times the elapsed share of the period. The share is kept in whole
millionths and the expectation in whole tenths, rounded down, so Python and both databases agree
to the last tenth and "behind" (earned below expected by now) can be filtered and sorted in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tortoise import connections
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import CreditEntryKind, CreditProgram, CreditTarget, Employee, OrgUnit, Role
from backend.services.audit import audit
from backend.services.credits import credit_engine
from backend.services.credits.ledger import from_tenths, percent_of, to_tenths
from backend.services.pagination import BigInt, Keyset, Page, check_page_size
from backend.services.validation import text
from backend.services.viewer import Viewer
from backend.sql import Params

PERIOD_MONTHS = (1, 2, 3, 4, 6, 12)
MAX_RULE_APPROVAL_ABOVE = 10_000_000  # tenths: a million credits
MILLION = 1_000_000
MAX_FAMILY = 64
MAX_GRADE = 999


# --- SQL helpers ------------------------------------------------------------------------------


def earned_sql(p: Params, tenant_id: int, start: datetime, end: datetime) -> str:
    """A SELECT of (employee_id, earned) for everyone who earned in [start, end), earned in tenths.
    Kept in step with ``ledger.counts_as_earned``."""
    return (
        "SELECT employee_id, CAST(SUM(amount) AS BIGINT) AS earned FROM credit_entry"
        f" WHERE tenant_id = {p(tenant_id)} AND occurred_at >= {p(start)} AND occurred_at < {p(end)}"
        f" AND (kind = {p(CreditEntryKind.EARN.value)}"
        f" OR (kind = {p(CreditEntryKind.ADJUSTMENT.value)} AND amount > 0))"
        " GROUP BY employee_id"
    )


# --- periods ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """One credit period [start, end) and how much of it had passed at ``now`` (millionths)."""

    start: datetime
    end: datetime
    elapsed_millionths: int

    def expected(self, target: int) -> int:
        """Tenths a target of ``target`` tenths expects by now (rounded down to a tenth)."""
        return target * self.elapsed_millionths // MILLION


def period_for(program: credit_engine.Program, day: date | None, now: datetime) -> Period:
    """The period holding ``day`` (a calendar day in the program's time zone; today when None)."""
    moment = now if day is None else datetime.combine(day, time(), ZoneInfo(program.time_zone))
    start, end = program.period_of(moment)
    if now <= start:
        elapsed = 0
    elif now >= end:
        elapsed = MILLION
    else:
        elapsed = (now - start) * MILLION // (end - start)
    return Period(start, end, elapsed)


# --- program settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProgramSettings:
    """The program's settings and the period they make current."""

    program: credit_engine.Program
    current_start: datetime
    current_end: datetime
    # A raise of rule_approval_above waiting for a second HR admin (tenths) and its author.
    proposed_rule_approval_above: int | None = None
    proposed_by_id: int | None = None


def _settings(program: credit_engine.Program, now: datetime, row: CreditProgram | None = None) -> ProgramSettings:
    start, end = program.period_of(now)
    if row is None:
        return ProgramSettings(program, start, end)
    return ProgramSettings(program, start, end, row.proposed_rule_approval_above, row.proposed_by_id)


def _program_of_row(row: CreditProgram | None) -> credit_engine.Program:
    """As ``credit_engine.program_of`` reads it (the engine never needs the proposal)."""
    if row is None:
        return credit_engine.Program()
    return credit_engine.Program(row.period_months, row.time_zone, row.anonymise_leaderboards, row.rule_approval_above)


async def program_settings(viewer: Viewer, now: datetime | None = None) -> ProgramSettings:
    """The tenant's credit program (HR admins) with any proposed threshold; defaults while it was
    never saved."""
    viewer.require_role(Role.HR_ADMIN)
    row = await CreditProgram.filter(tenant_id=viewer.tenant_id).first()
    return _settings(_program_of_row(row), now or datetime.now(UTC), row)


def _valid_time_zone(name: str) -> bool:
    if not name or len(name) > 64 or name != name.strip():
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


async def update_program(
    viewer: Viewer,
    period_months: int | None = None,
    time_zone: str | None = None,
    anonymise_leaderboards: bool | None = None,
    now: datetime | None = None,
    rule_approval_above: int | None = None,
) -> ProgramSettings:
    """Change the credit program (HR admins), creating its row on first use; fields left None
    keep their value. Audited with the settings before and after. A new period length or time
    zone changes how periods are cut from now on; no entry changes. ``rule_approval_above``
    (tenths, 0 or more): rule versions granting more need a second HR admin's approval from now
    on (versions already made keep their status).

    Four eyes on that threshold too: a value at or below the one in force applies at once (it only
    makes approval stricter) and drops any proposal; a higher one is only proposed (value and
    author; the threshold in force stays) until another HR admin sets the same value, which applies
    it. The proposer setting it again changes nothing; anyone proposing another higher value
    replaces the proposal with theirs. The row is locked for the whole change, so two HR admins at
    once are applied one after the other."""
    viewer.require_role(Role.HR_ADMIN)
    now = now or datetime.now(UTC)
    if period_months is not None and period_months not in PERIOD_MONTHS:
        raise DomainError(ErrorCode.VALIDATION, field="periodMonths", reason_key="reason.field", name="periodMonths")
    if rule_approval_above is not None and not 0 <= rule_approval_above <= MAX_RULE_APPROVAL_ABOVE:
        raise DomainError(
            ErrorCode.VALIDATION, field="ruleApprovalAbove", reason_key="reason.field", name="ruleApprovalAbove"
        )
    if time_zone is not None and not _valid_time_zone(time_zone):
        raise DomainError(ErrorCode.VALIDATION, field="timeZone", reason_key="reason.field", name="timeZone")
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        # The row with its defaults first (a no-op when it exists: two HR admins saving at once must
        # not collide on the one-row-per-tenant constraint), then locked until commit (PostgreSQL;
        # SQLite runs one transaction at a time), so each change sees the one before it.
        defaults = credit_engine.Program()
        p = Params(connection)
        await connection.execute_query(
            "INSERT INTO credit_program (tenant_id, period_months, time_zone, anonymise_leaderboards,"
            f" rule_approval_above, created_at, updated_at) VALUES ({p(tenant_id)}, {p(defaults.period_months)},"
            f" {p(defaults.time_zone)}, {p(defaults.anonymise_leaderboards)}, {p(defaults.rule_approval_above)},"
            f" {p(now)}, {p(now)}) ON CONFLICT (tenant_id) DO NOTHING",
            p.values,
        )
        row = await CreditProgram.filter(tenant_id=tenant_id).select_for_update().using_db(connection).get()
        before = _program_of_row(row)
        before_proposal = (row.proposed_rule_approval_above, row.proposed_by_id)
        threshold, proposal, outcome = before.rule_approval_above, before_proposal, None
        if rule_approval_above is not None:
            if rule_approval_above <= threshold:  # stricter or the same: at once
                threshold, proposal, outcome = rule_approval_above, (None, None), "APPLIED"
            elif before_proposal[0] == rule_approval_above and before_proposal[1] not in (None, viewer.employee_id):
                threshold, proposal, outcome = rule_approval_above, (None, None), "APPLIED"  # the second admin
            else:  # a raise: proposed (the proposer repeating it changes nothing)
                proposal, outcome = (rule_approval_above, viewer.employee_id), "PROPOSED"
        after = credit_engine.Program(
            period_months if period_months is not None else before.period_months,
            time_zone if time_zone is not None else before.time_zone,
            anonymise_leaderboards if anonymise_leaderboards is not None else before.anonymise_leaderboards,
            threshold,
        )
        await (
            CreditProgram.filter(id=row.id)
            .using_db(connection)
            .update(
                period_months=after.period_months,
                time_zone=after.time_zone,
                anonymise_leaderboards=after.anonymise_leaderboards,
                rule_approval_above=after.rule_approval_above,
                proposed_rule_approval_above=proposal[0],
                proposed_by_id=proposal[1],
                updated_at=now,
            )
        )
        await audit(
            connection,
            viewer,
            tenant_id,
            "credits.program.update",
            "CreditProgram",
            tenant_id,
            {
                "before": _program_dict(before, before_proposal),
                "after": _program_dict(after, proposal),
                "ruleApprovalAboveRequested": None
                if rule_approval_above is None
                else str(from_tenths(rule_approval_above)),
                "ruleApprovalAboveOutcome": outcome,  # APPLIED, PROPOSED, or None when not asked
            },
        )
    row.proposed_rule_approval_above, row.proposed_by_id = proposal
    return _settings(after, now, row)


def _program_dict(program: credit_engine.Program, proposal: tuple[int | None, int | None]) -> dict[str, Any]:
    return {
        "periodMonths": program.period_months,
        "timeZone": program.time_zone,
        "anonymiseLeaderboards": program.anonymise_leaderboards,
        "ruleApprovalAbove": str(from_tenths(program.rule_approval_above)),
        "proposedRuleApprovalAbove": None if proposal[0] is None else str(from_tenths(proposal[0])),
        "proposedBy": proposal[1],
    }


# --- targets ----------------------------------------------------------------------------------


async def list_targets(viewer: Viewer) -> list[CreditTarget]:
    """Every target of the company by family and grade (HR admins and managers)."""
    viewer.require_role(Role.HR_ADMIN, Role.MANAGER)
    return await CreditTarget.filter(tenant_id=viewer.tenant_id).order_by("position_family", "grade", "id")


async def set_target(
    viewer: Viewer, position_family: str, grade: int, credits_per_period: Decimal, now: datetime | None = None
) -> CreditTarget:
    """Set what a position family and level should earn per period (HR admins): creates the
    target or replaces its credits. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    now = now or datetime.now(UTC)
    family = text(position_family, "positionFamily", MAX_FAMILY)
    if not 1 <= grade <= MAX_GRADE:
        raise DomainError(ErrorCode.VALIDATION, field="grade", reason_key="reason.field", name="grade")
    credits_tenths = to_tenths(credits_per_period, "credits")
    if credits_tenths < 0:
        raise DomainError(ErrorCode.VALIDATION, field="credits", reason_key="reason.field", name="credits")
    tenant_id = viewer.tenant_id
    async with in_transaction() as connection:
        before = (
            await CreditTarget.filter(tenant_id=tenant_id, position_family=family, grade=grade)
            .using_db(connection)
            .first()
        )
        p = Params(connection)
        rows = await connection.execute_query_dict(
            "INSERT INTO credit_target (tenant_id, position_family, grade, credits, created_at, updated_at)"
            f" VALUES ({p(tenant_id)}, {p(family)}, {p(grade)}, {p(credits_tenths)}, {p(now)}, {p(now)})"
            " ON CONFLICT (tenant_id, position_family, grade) DO UPDATE SET credits = excluded.credits,"
            " updated_at = excluded.updated_at RETURNING id",
            p.values,
        )
        target_id = int(rows[0]["id"])
        await audit(
            connection,
            viewer,
            tenant_id,
            "credits.target.set",
            "CreditTarget",
            target_id,
            {
                "positionFamily": family,
                "grade": grade,
                "credits": str(from_tenths(credits_tenths)),
                "before": str(from_tenths(before.credits)) if before else None,
            },
        )
        return await CreditTarget.get(id=target_id, using_db=connection)


async def remove_target(viewer: Viewer, target_id: int) -> None:
    """Remove a target (HR admins): its family and level have none from then on. Audited."""
    viewer.require_role(Role.HR_ADMIN)
    async with in_transaction() as connection:
        target = await CreditTarget.filter(tenant_id=viewer.tenant_id, id=target_id).using_db(connection).first()
        if target is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        deleted = await CreditTarget.filter(tenant_id=viewer.tenant_id, id=target_id).using_db(connection).delete()
        if not deleted:  # removed meanwhile by someone else
            raise DomainError(ErrorCode.NOT_FOUND)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "credits.target.remove",
            "CreditTarget",
            target_id,
            {
                "positionFamily": target.position_family,
                "grade": target.grade,
                "credits": str(from_tenths(target.credits)),
            },
        )


# --- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """An employee's credits in a period against their target (all amounts in tenths)."""

    employee_id: int
    employee_no: str
    name: str
    earned: int
    target: int | None
    expected_by_now: int | None

    @property
    def behind(self) -> bool:
        return self.expected_by_now is not None and self.earned < self.expected_by_now

    @property
    def shortfall(self) -> int | None:
        """How far below expected by now (0 when on track); None without a target."""
        return None if self.expected_by_now is None else max(0, self.expected_by_now - self.earned)

    @property
    def progress_percent(self) -> int | None:
        """Whole percent of the target earned (see ledger.percent_of)."""
        return percent_of(self.earned, self.target)


@dataclass(frozen=True)
class TeamProgress:
    """A period and its people's progress."""

    period: Period
    members: list[Progress]


def _progress_select(p: Params, tenant_id: int, period: Period) -> str:
    """Employees with their earned, target and expected by now; the caller adds WHERE terms."""
    return (
        # MATERIALIZED: summed once whatever the statistics say (see leaderboards.py).
        f"WITH earned AS MATERIALIZED ({earned_sql(p, tenant_id, period.start, period.end)})"
        " SELECT e.id AS id, e.employee_no AS employee_no, e.name AS name,"
        " COALESCE(x.earned, 0) AS earned, t.credits AS target,"
        f" (t.credits * {p(period.elapsed_millionths)}) / {MILLION} AS expected"
        " FROM employee e"
        f" LEFT JOIN position ps ON ps.id = e.position_id AND ps.tenant_id = {p(tenant_id)}"
        " LEFT JOIN credit_target t ON t.tenant_id = e.tenant_id AND t.position_family = ps.family"
        " AND t.grade = ps.grade"
        " LEFT JOIN earned x ON x.employee_id = e.id"
        f" WHERE e.tenant_id = {p(tenant_id)} AND e.is_active = {p(True)}"
    )


def _progress(row: dict[str, Any]) -> Progress:
    target = None if row["target"] is None else int(row["target"])
    return Progress(
        employee_id=int(row["id"]),
        employee_no=row["employee_no"],
        name=row["name"],
        earned=int(row["earned"]),
        target=target,
        expected_by_now=None if target is None else int(row["expected"]),
    )


async def progress_of(
    tenant_id: int,
    employee_ids: list[int],
    day: date | None = None,
    now: datetime | None = None,
) -> tuple[Period, dict[int, Progress]]:
    """Progress of some active employees in the period holding ``day`` (today when None), in one
    statement; for ``me.credits`` and team views. No authorisation: callers decide who may see."""
    now = now or datetime.now(UTC)
    period = period_for(await credit_engine.program_of(tenant_id), day, now)
    if not employee_ids:
        return period, {}
    connection = connections.get("default")
    p = Params(connection)
    sql = _progress_select(p, tenant_id, period)
    sql += f" AND e.id IN ({', '.join(p(employee_id) for employee_id in employee_ids)})"
    rows = await connection.execute_query_dict(sql, p.values)
    return period, {int(row["id"]): _progress(row) for row in rows}


async def team_progress(
    viewer: Viewer,
    manager_id: int | None = None,
    day: date | None = None,
    now: datetime | None = None,
) -> TeamProgress:
    """A manager's direct reports (active), each with earned in the period holding ``day``, target
    and whether they are behind, by employee number. Managers see their own team, HR admins any
    manager's; anyone else is FORBIDDEN."""
    manager_id = manager_id or viewer.employee_id
    if manager_id == viewer.employee_id:
        viewer.require_role(Role.MANAGER, Role.HR_ADMIN)
    else:
        viewer.require_role(Role.HR_ADMIN)
        if not await Employee.filter(tenant_id=viewer.tenant_id, id=manager_id).exists():
            raise DomainError(ErrorCode.NOT_FOUND)
    now = now or datetime.now(UTC)
    tenant_id = viewer.tenant_id
    period = period_for(await credit_engine.program_of(tenant_id), day, now)
    connection = connections.get("default")
    p = Params(connection)
    sql = _progress_select(p, tenant_id, period) + f" AND e.manager_id = {p(manager_id)} ORDER BY e.employee_no"
    rows = await connection.execute_query_dict(sql, p.values)
    return TeamProgress(period, [_progress(row) for row in rows])


# Largest shortfall first, then by employee number: two directions, so the SQL of
# ``credits_behind`` writes the condition and the order itself; the keyset reads and writes cursors
# (a shortfall is in tenths of 64-bit credit sums).
BEHIND: Keyset[Progress] = Keyset("credits-behind", ("shortfall", "employee_no"), (BigInt, str))


@dataclass(frozen=True)
class Behind:
    """One page of ``credits_behind`` and the period it is about."""

    period: Period
    page: Page[Progress]


async def credits_behind(
    viewer: Viewer,
    org_unit_id: int | None,
    day: date | None,
    first: int,
    after: str | None,
    max_page_size: int,
    now: datetime | None = None,
) -> Behind:
    """Active employees with a target who earned less than expected by now in the period holding
    ``day``, in an org unit's subtree (or the whole company), largest shortfall first, then by
    employee number (HR admins). A page is one statement however deep it is."""
    viewer.require_role(Role.HR_ADMIN)  # before any input is read
    first = check_page_size(first, max_page_size)
    cursor = BEHIND.decode(after) if after else None
    tenant_id = viewer.tenant_id
    unit = None
    if org_unit_id is not None:
        unit = await OrgUnit.filter(tenant_id=tenant_id, id=org_unit_id).first()
        if unit is None:
            raise DomainError(ErrorCode.NOT_FOUND)
    now = now or datetime.now(UTC)
    period = period_for(await credit_engine.program_of(tenant_id), day, now)
    connection = connections.get("default")

    def behind_sql(p: Params) -> str:
        sql = _progress_select(p, tenant_id, period) + " AND t.id IS NOT NULL"
        if unit is not None:
            # The path prefix is the subtree (paths hold only digits and dots: no LIKE escaping).
            sql += (
                f" AND e.org_unit_id IN (SELECT u.id FROM org_unit u WHERE u.tenant_id = {p(tenant_id)}"
                f" AND u.path LIKE {p(unit.path + '%')})"
            )
        return f"SELECT * FROM (SELECT b.*, b.expected - b.earned AS shortfall FROM ({sql}) b) s WHERE s.shortfall > 0"

    p = Params(connection)
    sql = behind_sql(p)
    if cursor is not None:
        sql += (
            f" AND (s.shortfall < {p(cursor[0])} OR (s.shortfall = {p(cursor[0])} AND s.employee_no > {p(cursor[1])}))"
        )
    sql += f" ORDER BY s.shortfall DESC, s.employee_no LIMIT {p(first + 1)}"
    rows = await connection.execute_query_dict(sql, p.values)

    async def count_total() -> int:
        counting = Params(connection)
        counted = await connection.execute_query_dict(
            f"SELECT COUNT(*) AS n FROM ({behind_sql(counting)}) c", counting.values
        )
        return int(counted[0]["n"])

    return Behind(period, BEHIND.page([_progress(row) for row in rows], first, after, count_total))
