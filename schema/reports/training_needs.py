"""The training-needs heatmap (``trainingNeeds``): org units × required skills, the state now."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.reports import training_needs
from schema.catalog.types import Course
from schema.ids import expect_global_id
from schema.organisation.types import OrgUnit, Skill


@strawberry.type(
    description="People required to hold a skill and how many are below the required level (no level "
    "recorded counts as 0). A heatmap colours `shareBelow`; totals are weighted by headcount (the people "
    "below over the people required), never a mean of shares."
)
class SkillNeed:
    headcount: int = strawberry.field(description="Active people whose position requires the skill.")
    below: int = strawberry.field(description="Of them, those below the level their position requires.")
    share_below: float | None = strawberry.field(
        description="below / headcount (0–1, four decimals); null when nobody is required to hold the skill."
    )
    average_gap: float | None = strawberry.field(
        description="Mean of (required level − level) over the people below, one decimal; null when nobody is below."
    )

    @classmethod
    def from_domain(cls, need: training_needs.Need) -> SkillNeed:
        return cls(
            headcount=need.headcount, below=need.below, share_below=need.share_below, average_gap=need.average_gap
        )


@strawberry.type(description="A published course that closes a skill's gaps, and the level it aims for.")
class GapCourse:
    course: Course = strawberry.field(description="The course.")
    target_level: int = strawberry.field(description="The level (0–100) the course aims for in the skill.")


@strawberry.type(description="One skill column of the heatmap, with its figures over every row.")
class TrainingNeedsColumn:
    skill: Skill = strawberry.field(description="The skill.")
    required_level: int = strawberry.field(description="The highest level any position in scope requires.")
    total: SkillNeed = strawberry.field(description="The skill over the whole scope (every row).")
    courses: list[GapCourse] = strawberry.field(
        description="Published courses that close the skill's gaps, chosen like `skillGap`'s with the bar at "
        "`requiredLevel`: those aiming at it or above, the smallest step over it first; when none reaches it, "
        "those with the highest target."
    )

    @classmethod
    def from_domain(cls, column: training_needs.SkillColumn) -> TrainingNeedsColumn:
        return cls(
            skill=Skill.from_model(column.skill),
            required_level=column.required_level,
            total=SkillNeed.from_domain(column.total),
            courses=[
                GapCourse(course=Course.from_model(t.course), target_level=t.target_level) for t in column.courses
            ],
        )


@strawberry.type(description="A heatmap cell: one row's people and one skill.")
class TrainingNeedsCell:
    skill_id: strawberry.ID = strawberry.field(description="Global ID of the column's skill.")
    need: SkillNeed = strawberry.field(description="The row's people required to hold the skill.")


@strawberry.type(
    description="One heatmap row: an org unit's subtree one `depth` below the asked unit, or a unit's own "
    "people when they sit above that depth (`ownPeopleOnly`), or people without a unit (`unit` null)."
)
class TrainingNeedsRow:
    unit: OrgUnit | None = strawberry.field(description="The org unit; null for people without a unit.")
    own_people_only: bool = strawberry.field(
        description="True when the row counts only the people directly in `unit` (it sits above the rows' depth), "
        "false when it counts its whole subtree."
    )
    headcount: int = strawberry.field(description="Active people of the row (in scope), required skills or not.")
    total: SkillNeed = strawberry.field(description="Over every cell of the row (person-skill requirements).")
    cells: list[TrainingNeedsCell] = strawberry.field(
        description="One cell per column skill someone of the row is required to hold, in column order; a skill "
        "missing here is required of nobody in the row."
    )


@strawberry.type(
    description="Where active people are below what their positions require, now: org units (rows) × skills "
    "required by their positions (columns)."
)
class TrainingNeedsReport:
    unit: OrgUnit | None = strawberry.field(description="The asked unit; null for the whole company.")
    depth: int = strawberry.field(description="How many levels below the asked unit the rows are.")
    rows: list[TrainingNeedsRow] = strawberry.field(description="By unit name; the row of people without a unit last.")
    columns: list[TrainingNeedsColumn] = strawberry.field(description="By skill code.")
    headcount: int = strawberry.field(description="Active people in scope.")
    total: SkillNeed = strawberry.field(description="Over every requirement in scope.")

    @classmethod
    def from_domain(cls, report: training_needs.TrainingNeeds) -> TrainingNeedsReport:
        columns = [TrainingNeedsColumn.from_domain(column) for column in report.columns]
        rows = [
            TrainingNeedsRow(
                unit=OrgUnit.from_model(row.unit) if row.unit else None,
                own_people_only=row.own_people_only,
                headcount=row.headcount,
                total=SkillNeed.from_domain(row.total),
                cells=[
                    TrainingNeedsCell(skill_id=column.skill.id, need=SkillNeed.from_domain(row.cells[source.skill.id]))
                    for column, source in zip(columns, report.columns, strict=True)
                    if source.skill.id in row.cells
                ],
            )
            for row in report.rows
        ]
        return cls(
            unit=OrgUnit.from_model(report.unit) if report.unit else None,
            depth=report.depth,
            rows=rows,
            columns=columns,
            headcount=report.headcount,
            total=SkillNeed.from_domain(report.total),
        )


@strawberry.type
class TrainingNeedsQueries:
    @strawberry.field(
        description="The training-needs heatmap, now. HR admins: any unit (default the whole company); managers: "
        "their own unit's subtree (default their own unit; another unit FORBIDDEN); others FORBIDDEN."
    )
    async def training_needs(
        self,
        info: strawberry.Info,
        org_unit_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Global ID of the unit whose subtree to show.")
        ] = None,
        depth: Annotated[int, strawberry.argument(description="Rows are the units this many levels below (1–10).")] = 1,
        site_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only people of this site.")] = None,
        position_family: Annotated[
            str | None, strawberry.argument(description="Only people of this position family.")
        ] = None,
        position_level: Annotated[
            str | None, strawberry.argument(description="Only people of this position level.")
        ] = None,
    ) -> TrainingNeedsReport:
        viewer = await info.context.require_viewer()
        report = await training_needs.training_needs(
            viewer,
            expect_global_id(org_unit_id, "OrgUnit", "orgUnitId") if org_unit_id else None,
            depth,
            expect_global_id(site_id, "Site", "siteId") if site_id else None,
            position_family,
            position_level,
        )
        return TrainingNeedsReport.from_domain(report)
