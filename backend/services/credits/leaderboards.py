"""Leaderboards: active employees of the company, an org unit's subtree or a site, ranked by the
credits they earned in one credit period (``targets.earned_sql``: EARN entries and positive
adjustments; spending never lowers a place).

Ranking is competition ranking (1, 2, 2, 4): the same earned is the same rank, and inside a tie
the order is the employee number, so a board never reshuffles between two reads. Employees who
earned nothing are on the board too, after everyone who earned. A board is one statement
whatever its size: the ranks come from window functions, and only the wanted rows (the top, or
the window around the viewer) plus the viewer's own row leave the database.

Privacy: when the program anonymises leaderboards, every entry but the viewer's loses its
employee (no id, no name); ``around_me`` shows only the viewer's neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from tortoise import connections

from backend.errors import DomainError, ErrorCode
from backend.models import OrgUnit, Site
from backend.services.credits import credit_engine
from backend.services.credits.targets import Period, earned_sql, period_for
from backend.services.pagination import check_page_size
from backend.services.viewer import Viewer
from backend.sql import Params

MAX_AROUND = 50


class Scope(StrEnum):
    """Who a leaderboard ranks."""

    COMPANY = "COMPANY"
    ORG_UNIT = "ORG_UNIT"
    SITE = "SITE"


@dataclass(frozen=True)
class Standing:
    """One place on a board. employee_id, employee_no and name are None when anonymised."""

    rank: int
    earned: int
    is_me: bool
    employee_id: int | None
    employee_no: str | None
    name: str | None


@dataclass(frozen=True)
class Board:
    """A leaderboard for one period: the shown entries, the viewer's own place (None when the
    viewer is not in the scope) and how many employees it ranks."""

    scope: Scope
    period: Period
    entries: list[Standing]
    me: Standing | None
    size: int
    anonymised: bool


async def _scope_filter(viewer: Viewer, scope: Scope, scope_id: int | None) -> tuple[str, Any] | None:
    """(kind, value) narrowing the board: an org unit path prefix or a site id; None for all."""
    tenant_id = viewer.tenant_id
    if scope == Scope.COMPANY:
        return None
    if scope == Scope.ORG_UNIT:
        unit_id = scope_id if scope_id is not None else viewer.employee.org_unit_id
        if unit_id is None:
            raise DomainError(ErrorCode.VALIDATION, field="scopeId", reason_key="reason.required")
        path = await OrgUnit.filter(tenant_id=tenant_id, id=unit_id).values_list("path", flat=True)
        if not path:
            raise DomainError(ErrorCode.NOT_FOUND)
        return "path", path[0]
    site_id = scope_id if scope_id is not None else viewer.employee.site_id
    if site_id is None:
        raise DomainError(ErrorCode.VALIDATION, field="scopeId", reason_key="reason.required")
    if not await Site.filter(tenant_id=tenant_id, id=site_id).exists():
        raise DomainError(ErrorCode.NOT_FOUND)
    return "site", site_id


async def leaderboard(
    viewer: Viewer,
    scope: Scope,
    scope_id: int | None = None,
    day: date | None = None,
    first: int = 20,
    around_me: int | None = None,
    max_page_size: int = 100,
    now: datetime | None = None,
) -> Board:
    """The board of ``scope`` (the viewer's own org unit or site when ``scope_id`` is None) for the
    period holding ``day`` (today when None): the top ``first``, or with ``around_me`` only the
    viewer and that many neighbours above and below (nothing when the viewer is not on it). Any
    employee may read the boards of their company; an org unit or site of another is NOT_FOUND."""
    first = check_page_size(first, max_page_size)
    if around_me is not None and not 0 <= around_me <= MAX_AROUND:
        raise DomainError(ErrorCode.VALIDATION, field="aroundMe", reason_key="reason.page_size", max=MAX_AROUND)
    narrowing = await _scope_filter(viewer, scope, scope_id)
    tenant_id = viewer.tenant_id
    now = now or datetime.now(UTC)
    program = await credit_engine.program_of(tenant_id)
    period = period_for(program, day, now)

    connection = connections.get("default")
    p = Params(connection)
    sql = (
        # MATERIALIZED: summed once. Left to the planner, stale statistics after a busy day of
        # inserts made PostgreSQL re-run the sum per employee (a nested loop; seconds, not ms).
        f"WITH earned AS MATERIALIZED ({earned_sql(p, tenant_id, period.start, period.end)}),"
        " board AS (SELECT e.id AS id, e.employee_no AS employee_no, e.name AS name,"
        " COALESCE(x.earned, 0) AS earned,"
        " RANK() OVER (ORDER BY COALESCE(x.earned, 0) DESC) AS standing,"
        " ROW_NUMBER() OVER (ORDER BY COALESCE(x.earned, 0) DESC, e.employee_no) AS seq"
        " FROM employee e LEFT JOIN earned x ON x.employee_id = e.id"
        f" WHERE e.tenant_id = {p(tenant_id)} AND e.is_active = {p(True)}"
    )
    if narrowing is not None and narrowing[0] == "path":
        # The path prefix is the subtree (paths hold only digits and dots: no LIKE escaping).
        sql += (
            f" AND e.org_unit_id IN (SELECT u.id FROM org_unit u WHERE u.tenant_id = {p(tenant_id)}"
            f" AND u.path LIKE {p(narrowing[1] + '%')})"
        )
    elif narrowing is not None:
        sql += f" AND e.site_id = {p(narrowing[1])}"
    # Joined onto the board's size so that even an empty selection answers how many it ranks.
    sql += (
        ") SELECT c.size AS size, b.id AS id, b.employee_no AS employee_no, b.name AS name,"
        " b.earned AS earned, b.standing AS standing, b.seq AS seq"
        f" FROM (SELECT COUNT(*) AS size FROM board) c LEFT JOIN board b ON (b.id = {p(viewer.employee_id)}"
    )
    if around_me is None:
        sql += f" OR b.seq <= {p(first)})"
    else:

        def mine() -> str:  # each use its own placeholder: SQLite binds them by position
            return f"(SELECT m.seq FROM board m WHERE m.id = {p(viewer.employee_id)})"

        low = f"{mine()} - {p(around_me)}"
        sql += f" OR b.seq BETWEEN {low} AND {mine()} + {p(around_me)})"
    sql += " ORDER BY b.seq"
    result = await connection.execute_query_dict(sql, p.values)
    size = int(result[0]["size"]) if result else 0
    rows = [row for row in result if row["id"] is not None]

    anonymised = program.anonymise_leaderboards
    me_row = next((row for row in rows if int(row["id"]) == viewer.employee_id), None)
    if around_me is None:
        shown = [row for row in rows if int(row["seq"]) <= first]
    else:
        shown = rows if me_row is not None else []

    def standing(row: dict[str, Any]) -> Standing:
        is_me = int(row["id"]) == viewer.employee_id
        hidden = anonymised and not is_me
        return Standing(
            rank=int(row["standing"]),
            earned=int(row["earned"]),
            is_me=is_me,
            employee_id=None if hidden else int(row["id"]),
            employee_no=None if hidden else row["employee_no"],
            name=None if hidden else row["name"],
        )

    return Board(
        scope=scope,
        period=period,
        entries=[standing(row) for row in shown],
        me=standing(me_row) if me_row is not None else None,
        size=size,
        anonymised=anonymised,
    )
