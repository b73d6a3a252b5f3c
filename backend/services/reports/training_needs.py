"""The training-needs heatmap (培训需求): where people are below what their positions require, now.

Rows are org units, columns skills. The rows are the units ``depth`` levels below the asked unit
(for the whole company, below the top: depth 1 is the top-level units), each counting the ACTIVE
employees of its subtree; people who sit above that depth (in the asked unit itself, or in a unit
between) form a row of their unit's own people (``own_people_only``), and in the whole company
people without a unit form a row without one. The columns are every skill some position of those
people requires (``position_skill``).

A cell counts the people of its row whose position requires its skill (``headcount``), those below
the required level (``below``; no ``employee_skill`` row is level 0), ``share_below`` (below /
headcount) and ``average_gap`` (the mean of required − level over those below). A heatmap colours
``share_below``; every total (a row's, a column's, the whole matrix's) is weighted by headcount:
the people below over the people required, never a mean of shares.

A skill's ``courses`` are the published courses that close its gaps, chosen like the gap list
(``skills.courses_reaching``) with the bar at the highest level any position in scope requires.

The whole matrix costs the same few statements whatever the number of units and skills: the org
units (one read), one aggregate grouped by (the employee's own unit, skill) whose units are mapped
to their row in Python, the headcount per unit, the skills and the courses teaching them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from tortoise import connections

from backend.models import CourseSkill, CourseStatus, OrgUnit, Skill
from backend.services.imports.files import WriteCell
from backend.services.ojt.skills import courses_reaching
from backend.services.reports import frame
from backend.services.reports.frame import ReportFilter
from backend.services.reports.tables import Column, ReportOptions, Table
from backend.services.validation import invalid
from backend.services.viewer import Viewer
from backend.sql import Params

MAX_DEPTH = 10


@dataclass
class Need:
    """People required to hold a skill and how many of them are below the required level."""

    headcount: int = 0  # people whose position requires the skill
    below: int = 0  # of them, those below the required level
    gap_sum: int = 0  # sum of (required − level) over those below

    @property
    def share_below(self) -> float | None:
        """below / headcount (what a heatmap colours), None when nobody is required to hold it."""
        return round(self.below / self.headcount, 4) if self.headcount else None

    @property
    def average_gap(self) -> float | None:
        """The mean gap (levels) of the people below, None when nobody is below."""
        return round(self.gap_sum / self.below, 1) if self.below else None

    def add(self, other: Need) -> None:
        self.headcount += other.headcount
        self.below += other.below
        self.gap_sum += other.gap_sum


@dataclass
class SkillColumn:
    """One skill of the matrix with its figures over every row (the scope), the highest level a
    position in scope requires, and the courses that close its gaps."""

    skill: Skill
    required_level: int  # the highest level any position in scope requires
    total: Need = field(default_factory=Need)
    courses: list[CourseSkill] = field(default_factory=list)  # with .course; the choice rule above


@dataclass
class UnitRow:
    """One row: an org unit's subtree (or, with ``own_people_only``, the unit's own people; ``unit``
    None: people without a unit), its active headcount, the figures over all its cells, and a
    cell per column skill id (absent: nobody of the row is required to hold the skill)."""

    unit: OrgUnit | None
    own_people_only: bool
    headcount: int = 0  # active people of the row in scope
    total: Need = field(default_factory=Need)  # over every cell of the row
    cells: dict[int, Need] = field(default_factory=dict)


@dataclass
class TrainingNeeds:
    """The heatmap: ``rows`` by unit name, ``columns`` by skill code, ``total`` over everything."""

    unit: OrgUnit | None  # the asked unit (None: the whole company)
    depth: int
    rows: list[UnitRow]
    columns: list[SkillColumn]
    headcount: int  # active people in scope
    total: Need


class _Rows:
    """The rows being counted: which row each employee's unit counts in (see the module docstring)."""

    def __init__(self, units: dict[int, OrgUnit], unit_path: str | None, depth: int) -> None:
        self.units = units
        self.level = (unit_path.count(".") if unit_path else 0) + depth  # dots in a row unit's path
        # Every open unit at the rows' level shows, with people or not.
        self.rows: dict[int | None, UnitRow] = {
            unit.id: UnitRow(unit, False)
            for unit in units.values()
            if (unit_path is None or unit.path.startswith(unit_path))
            and unit.path.count(".") == self.level
            and unit.closed_on is None
        }

    def of(self, unit_id: int | None) -> UnitRow:
        """The row of an employee of ``unit_id``: its ancestor at the rows' level, or the unit's own
        people when it sits above that level (None: people without a unit)."""
        unit = self.units.get(unit_id) if unit_id is not None else None
        key, own = None, True
        if unit is not None:
            ids = unit.path.rstrip(".").split(".")
            key, own = (int(ids[self.level - 1]), False) if len(ids) >= self.level else (unit.id, True)
        if key not in self.rows:
            self.rows[key] = UnitRow(self.units.get(key) if key is not None else None, own)
        return self.rows[key]

    def ordered(self) -> list[UnitRow]:
        """By unit name (then code); the row of people without a unit last."""
        return sorted(
            self.rows.values(),
            key=lambda r: (r.unit is None, r.unit.name if r.unit else "", r.unit.code if r.unit else ""),
        )


async def training_needs(
    viewer: Viewer,
    org_unit_id: int | None,
    depth: int = 1,
    site_id: int | None = None,
    position_family: str | None = None,
    position_level: str | None = None,
) -> TrainingNeeds:
    """The heatmap below ``org_unit_id`` (None: the company; managers: their own unit) for the
    viewer: HR admins any unit, managers their own subtree (another unit FORBIDDEN)."""
    # The frame's checks, with a period the report does not read (it is the state now).
    today = date.today()
    scope = await frame.scope_of(
        viewer,
        ReportFilter(
            frame.Period(today, today),
            org_unit_id=org_unit_id,
            site_id=site_id,
            position_family=position_family,
            position_level=position_level,
        ),
    )
    if not 1 <= depth <= MAX_DEPTH:
        raise invalid("depth", "reason.whole_range", min=1, max=MAX_DEPTH)
    units = {unit.id: unit for unit in await OrgUnit.filter(tenant_id=scope.tenant_id)}
    asked = next((u for u in units.values() if u.path == scope.unit_path), None)
    rows = _Rows(units, scope.unit_path, depth)

    connection = connections.get("default")
    p = Params(connection)
    needs = await connection.execute_query_dict(
        "SELECT e.org_unit_id AS unit_id, q.skill_id, COUNT(*) AS headcount, MAX(q.required_level) AS required,"
        " SUM(CASE WHEN COALESCE(s.level, 0) < q.required_level THEN 1 ELSE 0 END) AS below,"
        " SUM(CASE WHEN COALESCE(s.level, 0) < q.required_level THEN q.required_level - COALESCE(s.level, 0)"
        " ELSE 0 END) AS gap_sum"
        " FROM employee e JOIN position_skill q ON q.position_id = e.position_id"
        " LEFT JOIN employee_skill s ON s.employee_id = e.id AND s.skill_id = q.skill_id"
        f" WHERE {frame.people_sql(p, scope, 'e')} AND e.is_active = {p(True)} GROUP BY e.org_unit_id, q.skill_id",
        p.values,
    )
    p = Params(connection)
    for line in await connection.execute_query_dict(
        "SELECT e.org_unit_id AS unit_id, COUNT(*) AS headcount FROM employee e"
        f" WHERE {frame.people_sql(p, scope, 'e')} AND e.is_active = {p(True)} GROUP BY e.org_unit_id",
        p.values,
    ):
        rows.of(line["unit_id"]).headcount += int(line["headcount"])

    required: dict[int, int] = {}
    for line in needs:
        skill_id = int(line["skill_id"])
        need = Need(int(line["headcount"]), int(line["below"] or 0), int(line["gap_sum"] or 0))
        row = rows.of(line["unit_id"])
        row.cells.setdefault(skill_id, Need()).add(need)
        row.total.add(need)
        required[skill_id] = max(required.get(skill_id, 0), int(line["required"]))

    columns = await _columns(scope.tenant_id, required)
    ordered = rows.ordered()
    total = Need()
    for row in ordered:
        total.add(row.total)
        for column in columns:
            if column.skill.id in row.cells:
                column.total.add(row.cells[column.skill.id])
    return TrainingNeeds(asked, depth, ordered, columns, sum(r.headcount for r in ordered), total)


async def _columns(tenant_id: int, required: dict[int, int]) -> list[SkillColumn]:
    """The skills required (skill id -> the highest level required) by code, with the courses that
    close their gaps (two statements, none when nothing is required)."""
    if not required:
        return []
    teaching: dict[int, list[CourseSkill]] = defaultdict(list)
    for taught in await CourseSkill.filter(
        tenant_id=tenant_id, skill_id__in=list(required), course__status=CourseStatus.PUBLISHED
    ).select_related("course"):
        teaching[taught.skill_id].append(taught)
    return [
        SkillColumn(skill, required[skill.id], courses=courses_reaching(teaching[skill.id], required[skill.id]))
        for skill in await Skill.filter(tenant_id=tenant_id, id__in=list(required)).order_by("code")
    ]


# --- export --------------------------------------------------------------------------------------

_COLUMNS = (
    Column("组织", "Org unit", 24),
    Column("仅本级人员", "Own people only", 10),
    Column("技能编码", "Skill code", 14),
    Column("技能", "Skill", 20),
    Column("要求人数", "Headcount", 10),
    Column("未达标人数", "Below", 10),
    Column("未达标比例", "Share below", 10),
    Column("平均差距", "Average gap", 10),
    Column("推荐课程", "Courses", 30),
)


async def export_table(viewer: Viewer, options: ReportOptions) -> Table:
    """One row per (unit, skill) cell with people required to hold the skill: headcount, below,
    share, average gap and the codes of the courses that close the gap. The filter's org unit,
    site and position narrow it; its period is not read (the report is the state now)."""
    f = options.filter
    if f is not None:
        frame.reads_only(f, *frame.PEOPLE_FIELDS)  # skills, not courses: no course or scenario
    report = await training_needs(
        viewer,
        f.org_unit_id if f else None,
        1,
        f.site_id if f else None,
        f.position_family if f else None,
        f.position_level if f else None,
    )
    lines: list[list[WriteCell]] = []
    for unit_row in report.rows:
        name = unit_row.unit.name if unit_row.unit else ""
        for column in report.columns:
            need = unit_row.cells.get(column.skill.id)
            if need is None:
                continue
            codes = ", ".join(taught.course.code for taught in column.courses)
            lines.append(
                [
                    name,
                    unit_row.own_people_only,
                    column.skill.code,
                    column.skill.name,
                    need.headcount,
                    need.below,
                    need.share_below,
                    need.average_gap,
                    codes,
                ]
            )
    return Table.of_lines("培训需求", "Training needs", _COLUMNS, lines)
