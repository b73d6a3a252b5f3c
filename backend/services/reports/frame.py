"""What every report shares: the period, the filters, who may see whom, breakdowns and months.

- A ``Period`` is a span of the company's local days, both ends included (at most ten years).
- A ``ReportFilter`` narrows the people (org unit subtree, site, position family and level: where
  they are now) and the facts (course, scenario).
- ``scope_of`` decides what the viewer may see: HR admins their company, managers their own org
  unit's subtree (a filter on a unit outside it is FORBIDDEN), anyone else FORBIDDEN; unknown ids
  of another company are NOT_FOUND, as everywhere.
- The SQL helpers write the conditions every report's statement starts from: ``people_sql`` on an
  ``employee`` alias, ``rollup_sql`` on a ``report_rollup`` alias (its month rows for the whole
  months of the period, its day rows for the ragged edges: see models/reports.py), and
  ``dimension_sql`` the key of a breakdown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from tortoise import connections

from backend.errors import DomainError, ErrorCode
from backend.models import Course, OrgUnit, Role, RollupGrain, Site
from backend.services.validation import EARLIEST_DAY, LATEST_DAY, invalid, text
from backend.services.viewer import Viewer
from backend.sql import Params, db_day

MAX_PERIOD_DAYS = 3660  # ten years: a report over more is a mistake, and bounds every series


class Dimension(StrEnum):
    """What a figure can be broken down by."""

    ORG_UNIT = "ORG_UNIT"
    SITE = "SITE"
    COURSE = "COURSE"
    SCENARIO = "SCENARIO"
    POSITION_FAMILY = "POSITION_FAMILY"
    POSITION_LEVEL = "POSITION_LEVEL"


@dataclass(frozen=True)
class Period:
    """Local days ``first`` to ``last``, both included."""

    first: date
    last: date

    @classmethod
    def of(cls, first: date, last: date) -> Period:
        """A checked period: VALIDATION when it ends before it starts, leaves 1900–2199 or is
        longer than ten years."""
        if not (EARLIEST_DAY <= first <= LATEST_DAY and EARLIEST_DAY <= last <= LATEST_DAY):
            raise invalid("period", "reason.date_range")
        if last < first:
            raise invalid("period", "reason.ends_before_start")
        if (last - first).days >= MAX_PERIOD_DAYS:
            raise invalid("period", "reason.period_too_long", max=MAX_PERIOD_DAYS)
        return cls(first, last)

    def months(self) -> list[date]:
        """The first day of every month the period touches, in order (the monthly series)."""
        months, month = [], self.first.replace(day=1)
        while month <= self.last:
            months.append(month)
            month = _next_month(month)
        return months

    def whole_months(self) -> tuple[date, date] | None:
        """[first month, end month) of the months lying wholly inside the period, or None."""
        start = self.first if self.first.day == 1 else _next_month(self.first.replace(day=1))
        ends_a_month = (self.last + timedelta(days=1)).day == 1
        end = _next_month(self.last.replace(day=1)) if ends_a_month else self.last.replace(day=1)
        return (start, end) if start < end else None


def _next_month(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


@dataclass(frozen=True)
class ReportFilter:
    """A report's question: the period and what narrows it (None: everything)."""

    period: Period
    org_unit_id: int | None = None
    site_id: int | None = None
    course_id: int | None = None
    scenario: str | None = None
    position_family: str | None = None
    position_level: str | None = None

    def __post_init__(self) -> None:
        for name in ("scenario", "position_family", "position_level"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, text(value, name, 64) or None)


# A filter's fields as the API names them (for errors).
FILTER_FIELDS = {
    "org_unit_id": "orgUnitId",
    "site_id": "siteId",
    "course_id": "courseId",
    "scenario": "scenario",
    "position_family": "positionFamily",
    "position_level": "positionLevel",
}


def reads_only(report_filter: ReportFilter, *fields: str) -> None:
    """VALIDATION (``reason.report_option_unused``) for a filter field the report does not read:
    a report never answers as if it had narrowed by something it ignored (and an id it ignores
    would never be checked to be the company's)."""
    for name, api_name in FILTER_FIELDS.items():
        if name not in fields and getattr(report_filter, name) is not None:
            raise invalid(f"filter.{api_name}", "reason.report_option_unused")


PEOPLE_FIELDS = ("org_unit_id", "site_id", "position_family", "position_level")  # who, not what


@dataclass(frozen=True)
class Scope:
    """A checked filter and what the viewer may see: ``unit_path`` is the subtree people must be
    in (the filter's unit, or a manager's own; None: the whole company)."""

    tenant_id: int
    filter: ReportFilter
    unit_path: str | None

    @property
    def period(self) -> Period:
        return self.filter.period


REPORT_ROLES = (Role.HR_ADMIN, Role.MANAGER)


async def scope_of(viewer: Viewer, report_filter: ReportFilter) -> Scope:
    """The scope of ``report_filter`` for ``viewer`` (see the module docstring). Callers check
    ``REPORT_ROLES`` before reading input; this checks again, then the ids and the subtree."""
    viewer.require_role(*REPORT_ROLES)
    tenant_id = viewer.tenant_id
    if (
        report_filter.site_id is not None
        and not await Site.filter(tenant_id=tenant_id, id=report_filter.site_id).exists()
    ):
        raise DomainError(ErrorCode.NOT_FOUND)
    if (
        report_filter.course_id is not None
        and not await Course.filter(tenant_id=tenant_id, id=report_filter.course_id).exists()
    ):
        raise DomainError(ErrorCode.NOT_FOUND)
    path = None
    if report_filter.org_unit_id is not None:
        unit = await OrgUnit.filter(tenant_id=tenant_id, id=report_filter.org_unit_id).first()
        if unit is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        path = unit.path
    if not viewer.has_role(Role.HR_ADMIN):
        own = await manager_subtree(viewer)
        if path is None:
            path = own
        elif not path.startswith(own):
            raise DomainError(ErrorCode.FORBIDDEN)
    return Scope(tenant_id, report_filter, path)


async def manager_subtree(viewer: Viewer) -> str:
    """The path of a manager's own org unit (their subtree); FORBIDDEN without one."""
    unit_id = viewer.employee.org_unit_id
    unit = await OrgUnit.filter(tenant_id=viewer.tenant_id, id=unit_id).first() if unit_id else None
    if unit is None:
        raise DomainError(ErrorCode.FORBIDDEN)
    return unit.path


def with_period(scope: Scope, period: Period) -> Scope:
    return replace(scope, filter=replace(scope.filter, period=period))


# --- SQL -----------------------------------------------------------------------------------------
# Paths hold digits and dots only, so a subtree is ``LIKE 'path%'`` without escaping.


def narrows_people(scope: Scope) -> bool:
    """Whether the scope is some of the company's people rather than all of them (a subtree, a
    site, a position): a statement over all of them needs no join with ``employee``."""
    f = scope.filter
    return (
        scope.unit_path is not None
        or f.site_id is not None
        or f.position_family is not None
        or f.position_level is not None
    )


def people_sql(p: Params, scope: Scope, e: str = "e") -> str:
    """Conditions on an ``employee`` alias: the company, then the filter's and the viewer's people
    (by where they are now). Left people are included: what they did still happened."""
    f = scope.filter
    sql = f"{e}.tenant_id = {p(scope.tenant_id)}"
    if scope.unit_path is not None:
        sql += (
            f" AND {e}.org_unit_id IN (SELECT u.id FROM org_unit u WHERE u.tenant_id = {p(scope.tenant_id)}"
            f" AND u.path LIKE {p(scope.unit_path + '%')})"
        )
    if f.site_id is not None:
        sql += f" AND {e}.site_id = {p(f.site_id)}"
    if f.position_family is not None or f.position_level is not None:
        sql += f" AND {e}.position_id IN (SELECT ps.id FROM position ps WHERE ps.tenant_id = {p(scope.tenant_id)}"
        if f.position_family is not None:
            sql += f" AND ps.family = {p(f.position_family)}"
        if f.position_level is not None:
            sql += f" AND ps.level = {p(f.position_level)}"
        sql += ")"
    return sql


def day_value(p: Params, day: date) -> str:
    """A date parameter as the engine stores dates (ISO text on SQLite)."""
    return p(db_day(p.connection, day))


def rollup_sql(p: Params, scope: Scope, r: str = "r") -> str:
    """Conditions on a ``report_rollup`` alias: the company, the period (month rows for its whole
    months, day rows for the rest: each day counted once) and the filter's course or scenario."""
    period = scope.period
    whole = period.whole_months()
    day, month = RollupGrain.DAY.value, RollupGrain.MONTH.value
    if whole is None:
        spans = f"({r}.grain = {p(day)} AND {r}.day >= {day_value(p, period.first)} AND {r}.day <= {day_value(p, period.last)})"
    else:
        spans = (
            f"({r}.grain = {p(month)} AND {r}.day >= {day_value(p, whole[0])} AND {r}.day < {day_value(p, whole[1])})"
        )
        if period.first < whole[0]:
            spans += f" OR ({r}.grain = {p(day)} AND {r}.day >= {day_value(p, period.first)} AND {r}.day < {day_value(p, whole[0])})"
        if period.last >= whole[1]:
            spans += f" OR ({r}.grain = {p(day)} AND {r}.day >= {day_value(p, whole[1])} AND {r}.day <= {day_value(p, period.last)})"
    return f"{r}.tenant_id = {p(scope.tenant_id)} AND ({spans}){course_sql(p, scope, r)}"


def course_sql(p: Params, scope: Scope, r: str = "r") -> str:
    """`` AND …`` conditions on the ``course_id`` of alias ``r`` for the filter's course or
    scenario ("" when it names neither)."""
    f, sql = scope.filter, ""
    if f.course_id is not None:
        sql += f" AND {r}.course_id = {p(f.course_id)}"
    if f.scenario is not None:
        sql += f" AND {r}.course_id IN (SELECT c.id FROM course c WHERE c.tenant_id = {p(scope.tenant_id)} AND c.scenario = {p(f.scenario)})"
    return sql


@dataclass(frozen=True)
class Breakdown:
    """How to group by a dimension: the key expression and the joins it needs (on ``e`` the
    employee and ``r`` the rollup row; course columns through ``c``, position through ``ps``)."""

    key: str
    joins: str


def dimension_sql(dimension: Dimension, e: str = "e", r: str = "r") -> Breakdown:
    """The breakdown key of ``dimension``: an id (org unit, site, course) or a text (scenario,
    position family and level). An org unit breakdown groups by the employee's own unit; reports
    that want the units one level below a root roll them up with ``labels``' paths."""
    if dimension is Dimension.ORG_UNIT:
        return Breakdown(f"{e}.org_unit_id", "")
    if dimension is Dimension.SITE:
        return Breakdown(f"{e}.site_id", "")
    if dimension is Dimension.COURSE:
        return Breakdown(f"{r}.course_id", "")
    if dimension is Dimension.SCENARIO:
        return Breakdown("c.scenario", f" LEFT JOIN course c ON c.id = {r}.course_id")
    column = "family" if dimension is Dimension.POSITION_FAMILY else "level"
    return Breakdown(f"ps.{column}", f" LEFT JOIN position ps ON ps.id = {e}.position_id")


async def labels(tenant_id: int, dimension: Dimension, keys: list[object]) -> dict[object, str]:
    """What to call each breakdown key: a unit's, site's or course's name (course: code and
    title); text keys are their own label ("" for none)."""
    table = {Dimension.ORG_UNIT: "org_unit", Dimension.SITE: "site", Dimension.COURSE: "course"}.get(dimension)
    if table is None:
        return {key: str(key or "") for key in keys}
    wanted = sorted({int(key) for key in keys if key})  # type: ignore[call-overload]
    if not wanted:
        return dict.fromkeys(keys, "")
    connection = connections.get("default")
    p = Params(connection)
    name = "code || ' ' || title" if table == "course" else "name"
    rows = await connection.execute_query_dict(
        f"SELECT id, {name} AS label FROM {table} WHERE tenant_id = {p(tenant_id)} AND id {p.among(wanted, 'int')}",
        p.values,
    )
    found = {int(row["id"]): row["label"] for row in rows}
    return {key: found.get(int(key), "") if key else "" for key in keys}  # type: ignore[call-overload]
