"""The credit-distribution report (学分分布): who earned how much in a period, what they hold now,
how that compares with their targets, and what was redeemed.

- The people are the active employees in scope (``frame``). Earned in the period is the sum of
  their LEARNER rollups' ``credits_earned`` (earns and HR's positive adjustments, by when they
  happened), one statement grouped by employee; the balance is their account's now.
- Histograms: ten equal buckets from 0, each ``width`` whole credits wide, the width the largest
  value divided by ten and rounded up to a whole credit (at least 1): bucket i holds values in
  [i × width, (i + 1) × width), the last also its upper edge; a negative balance counts in the
  first bucket.
- Percentiles are nearest-rank: p of n sorted values is the ⌈p × n / 100⌉-th (a value someone has).
- Against targets: expected = the target × the share of the credit program's periods the report
  period covers, in local days (a report over half of a yearly period expects half the target;
  one over two periods adds both shares), in millionths and whole tenths rounded down, as
  ``credits/targets.py`` does. Reached: earned ≥ expected; behind: below; ahead: above.
- Redemptions: requested in the period by people in scope, not REJECTED or CANCELLED (those
  were refunded), by reward. Course and scenario filters narrow earned credits only.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tortoise import connections

from backend.models import RedemptionStatus, RollupRole
from backend.services.credits import credit_engine
from backend.services.credits.ledger import from_tenths
from backend.services.credits.targets import MILLION
from backend.services.imports.files import WriteCell
from backend.services.reports import frame, rollups
from backend.services.reports.frame import ReportFilter, Scope
from backend.services.reports.tables import Column, ReportOptions, Table
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from backend.sql import Params, fetch_rows

BUCKETS = 10
PERCENTILES = (10, 25, 50, 75, 90)
MAX_LISTED = 100  # behind / ahead lists
EXPORT_CHUNK = 1000


@dataclass(frozen=True)
class Person:
    """One active employee in scope (amounts in tenths)."""

    employee_id: int
    employee_no: str
    name: str
    org_unit: str
    position_family: str | None
    grade: int | None
    earned: int
    balance: int
    target: int | None  # per credit period, None without one
    expected: int | None  # the target prorated to the report period

    @property
    def gap(self) -> int | None:
        """Earned minus expected (negative: behind); None without a target."""
        return None if self.expected is None else self.earned - self.expected


@dataclass(frozen=True)
class Bucket:
    low: Decimal  # included
    high: Decimal  # excluded (the last bucket includes it)
    count: int


@dataclass(frozen=True)
class Distribution:
    """A histogram and percentiles of some amounts (credits)."""

    buckets: list[Bucket]
    percentiles: dict[int, Decimal]  # p -> value; empty when there are no people


@dataclass(frozen=True)
class TargetGroup:
    """People of one position family and grade that has a target."""

    position_family: str
    grade: int
    headcount: int
    target: Decimal  # per credit period
    expected: Decimal  # prorated to the report period
    average_earned: Decimal  # one decimal
    reached: int  # earned >= expected
    behind: int  # earned < expected
    ahead: int  # earned > expected


@dataclass(frozen=True)
class RewardRedemptions:
    reward_id: int
    code: str
    name: str
    count: int
    credits: Decimal


@dataclass(frozen=True)
class CreditDistribution:
    period: frame.Period
    headcount: int  # active people in scope
    total_earned: Decimal
    earned: Distribution
    balances: Distribution
    targets: list[TargetGroup]  # by family, then grade
    behind: list[Person]  # furthest below expected first
    ahead: list[Person]  # furthest above expected first
    redemptions: list[RewardRedemptions]  # by reward code


# --- the share of credit periods -------------------------------------------------------------------


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 1)


def period_share(period: frame.Period, period_months: int) -> int:
    """Millionths of credit periods (of ``period_months``, starting on 1 January) the report
    period covers, in local days: the sum over each credit period it touches of its days inside
    / the credit period's days."""
    first_month = (period.first.month - 1) // period_months * period_months + 1
    start, share = date(period.first.year, first_month, 1), 0
    while start <= period.last:
        end = _add_months(start, period_months)  # excluded
        inside = (min(end - timedelta(days=1), period.last) - max(start, period.first)).days + 1
        share += inside * MILLION // (end - start).days
        start = end
    return share


# --- reading -------------------------------------------------------------------------------------


def _people_sql(p: Params, scope: Scope, share: int, chunk: str = "") -> str:
    """``chunk``: a statement selecting the ids of the people wanted, applied to the rollups summed
    too (a chunk of an export then sums its own people's rows, not the whole company's each time)."""
    narrowed = f" AND r.employee_id IN ({chunk})" if chunk else ""
    earned = (
        "SELECT r.employee_id, CAST(SUM(r.credits_earned) AS BIGINT) AS earned FROM report_rollup r"
        f" WHERE r.role = {p(RollupRole.LEARNER.value)} AND {frame.rollup_sql(p, scope, 'r')}{narrowed}"
        " GROUP BY r.employee_id"
    )
    return (
        "SELECT e.id, e.employee_no, e.name, COALESCE(u.name, '') AS org_unit, ps.family, ps.grade,"
        " COALESCE(x.earned, 0) AS earned, COALESCE(a.balance, 0) AS balance, t.credits AS target,"
        f" (t.credits * {p(share)}) / {MILLION} AS expected"
        f" FROM employee e LEFT JOIN ({earned}) x ON x.employee_id = e.id"
        " LEFT JOIN org_unit u ON u.id = e.org_unit_id"
        " LEFT JOIN position ps ON ps.id = e.position_id"
        " LEFT JOIN credit_account a ON a.employee_id = e.id"
        " LEFT JOIN credit_target t ON t.tenant_id = e.tenant_id AND t.position_family = ps.family"
        " AND t.grade = ps.grade"
        f" WHERE {frame.people_sql(p, scope, 'e')} AND e.is_active = {p(True)}"
    )


def _person(row: Mapping[str, Any]) -> Person:
    target = None if row["target"] is None else int(row["target"])
    return Person(
        employee_id=int(row["id"]),
        employee_no=row["employee_no"],
        name=row["name"],
        org_unit=row["org_unit"],
        position_family=row["family"],
        grade=None if row["grade"] is None else int(row["grade"]),
        earned=int(row["earned"]),
        balance=int(row["balance"]),
        target=target,
        expected=None if target is None else int(row["expected"]),
    )


async def _share(scope: Scope) -> int:
    program = await credit_engine.program_of(scope.tenant_id)
    return period_share(scope.period, program.period_months)


async def people(scope: Scope, after_no: str | None, limit: int) -> list[Person]:
    """A chunk of ``limit`` active people in scope after ``after_no`` by employee number (an
    export's)."""
    share = await _share(scope)
    connection = connections.get("default")
    p = Params(connection)
    after = "" if after_no is None else f" AND e.employee_no > {p(after_no)}"
    # The chunk's people, applied to the rollups summed too (placeholders are numbered: the text
    # appears twice).
    chunk = (
        f"SELECT e.id FROM employee e WHERE {frame.people_sql(p, scope, 'e')} AND e.is_active = {p(True)}"
        f"{after} ORDER BY e.employee_no LIMIT {p(limit)}"
    )
    sql = _people_sql(p, scope, share, chunk) + f" AND e.id IN ({chunk}) ORDER BY e.employee_no"
    return [_person(row) for row in await fetch_rows(connection, sql, p.values)]


async def _rows(scope: Scope) -> Sequence[Mapping[str, Any]]:
    """The active people in scope as rows of ``_people_sql``, in no order."""
    share = await _share(scope)
    connection = connections.get("default")
    p = Params(connection)
    return await fetch_rows(connection, _people_sql(p, scope, share), p.values)


# --- shaping -------------------------------------------------------------------------------------


def distribution(values: Sequence[int]) -> Distribution:
    """Histogram and percentiles of amounts in tenths (see the module docstring)."""
    top = max(values, default=0)
    width = max(1, math.ceil(top / 10 / BUCKETS)) * 10  # tenths, a whole number of credits
    counts = [0] * BUCKETS
    for value in values:
        counts[min(BUCKETS - 1, max(0, value) // width)] += 1
    buckets = [Bucket(from_tenths(i * width), from_tenths((i + 1) * width), count) for i, count in enumerate(counts)]
    ordered = sorted(values)
    percentiles = (
        {p: from_tenths(ordered[max(1, math.ceil(p * len(ordered) / 100)) - 1]) for p in PERCENTILES} if ordered else {}
    )
    return Distribution(buckets, percentiles)


def _groups(rows: Sequence[Mapping[str, Any]]) -> list[TargetGroup]:
    """People with a target by position family and grade (rows as ``people`` reads them)."""
    grouped: dict[tuple[str, int], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        if row["target"] is not None and row["family"] is not None and row["grade"] is not None:
            grouped[(row["family"], int(row["grade"]))].append(row)
    groups = []
    for (family, grade), members in sorted(grouped.items()):
        gaps = [int(member["earned"]) - int(member["expected"]) for member in members]
        average = Decimal(sum(int(member["earned"]) for member in members)) / len(members) / 10
        groups.append(
            TargetGroup(
                position_family=family,
                grade=grade,
                headcount=len(members),
                target=from_tenths(int(members[0]["target"])),
                expected=from_tenths(int(members[0]["expected"])),
                average_earned=average.quantize(Decimal("0.1"), ROUND_HALF_UP),
                reached=sum(gap >= 0 for gap in gaps),
                behind=sum(gap < 0 for gap in gaps),
                ahead=sum(gap > 0 for gap in gaps),
            )
        )
    return groups


async def _redemptions(scope: Scope) -> list[RewardRedemptions]:
    connection = connections.get("default")
    zone = await rollups.company_zone(connection, scope.tenant_id)
    start = datetime.combine(scope.period.first, time(), zone)
    end = datetime.combine(scope.period.last + timedelta(days=1), time(), zone)
    p = Params(connection)
    refunded = [RedemptionStatus.REJECTED.value, RedemptionStatus.CANCELLED.value]
    rows = await connection.execute_query_dict(
        "SELECT w.id, w.code, w.name, COUNT(*) AS n, CAST(SUM(d.cost) AS BIGINT) AS credits"
        " FROM redemption d JOIN reward w ON w.id = d.reward_id JOIN employee e ON e.id = d.employee_id"
        f" WHERE d.tenant_id = {p(scope.tenant_id)} AND d.requested_at >= {p(start)} AND d.requested_at < {p(end)}"
        f" AND NOT (d.status {p.among(refunded, 'text')}) AND {frame.people_sql(p, scope, 'e')}"
        " GROUP BY w.id, w.code, w.name ORDER BY w.code",
        p.values,
    )
    return [
        RewardRedemptions(int(row["id"]), row["code"], row["name"], int(row["n"]), from_tenths(int(row["credits"])))
        for row in rows
    ]


async def credit_distribution(viewer: Viewer, report_filter: ReportFilter, first: int = 20) -> CreditDistribution:
    """The report for the viewer's scope (HR admins: the company; managers: their subtree);
    ``first`` (0–100) people in each of the behind and ahead lists. The figures are worked out on
    the rows as read (one statement); only the listed people become ``Person``s (20,000 of them
    cost ≈ 40 ms)."""
    scope = await frame.scope_of(viewer, report_filter)
    if not 0 <= first <= MAX_LISTED:
        raise invalid("first")
    rows, redemptions = await asyncio.gather(_rows(scope), _redemptions(scope))
    earned = [int(row["earned"]) for row in rows]
    gapped = [
        (int(row["earned"]) - int(row["expected"]), row["employee_no"], index)
        for index, row in enumerate(rows)
        if row["target"] is not None
    ]
    behind = heapq.nsmallest(first, (entry for entry in gapped if entry[0] < 0))
    ahead = heapq.nsmallest(first, ((-gap, no, index) for gap, no, index in gapped if gap > 0))
    return CreditDistribution(
        period=scope.period,
        headcount=len(rows),
        total_earned=from_tenths(sum(earned)),
        earned=distribution(earned),
        balances=distribution([int(row["balance"]) for row in rows]),
        targets=_groups(rows),
        behind=[_person(rows[index]) for *_, index in behind],
        ahead=[_person(rows[index]) for *_, index in ahead],
        redemptions=redemptions,
    )


# --- export --------------------------------------------------------------------------------------

_COLUMNS = (
    Column("工号", "Employee no."),
    Column("姓名", "Name"),
    Column("组织", "Org unit", 24),
    Column("职族", "Position family"),
    Column("职级", "Grade", 8),
    Column("期间获得学分", "Earned in period"),
    Column("当前余额", "Balance now"),
    Column("期间目标", "Expected in period"),
    Column("落后", "Behind", 8),
)


async def export_table(viewer: Viewer, options: ReportOptions) -> Table:
    """One row per active person in scope, by employee number, read a thousand at a time."""
    if options.filter is None:
        raise invalid("filter")
    scope = await frame.scope_of(viewer, options.filter)

    async def rows() -> AsyncIterator[Sequence[WriteCell]]:
        after: str | None = None
        while True:
            chunk = await people(scope, after, EXPORT_CHUNK)
            for person in chunk:
                yield [
                    person.employee_no,
                    person.name,
                    person.org_unit,
                    person.position_family,
                    person.grade,
                    from_tenths(person.earned),
                    from_tenths(person.balance),
                    None if person.expected is None else from_tenths(person.expected),
                    None if person.gap is None else person.gap < 0,
                ]
            if len(chunk) < EXPORT_CHUNK:
                return
            after = chunk[-1].employee_no

    return Table("学分分布", "Credit distribution", _COLUMNS, rows())
