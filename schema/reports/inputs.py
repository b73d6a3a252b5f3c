"""What every report is asked with: the period and filters, and a breakdown dimension."""

from __future__ import annotations

from datetime import date
from enum import Enum

import strawberry

from backend.services.reports import frame
from schema.ids import expect_global_id


@strawberry.enum(description="What a report's figures can be broken down by.")
class ReportDimension(Enum):
    ORG_UNIT = strawberry.enum_value(frame.Dimension.ORG_UNIT, description="The person's org unit (now).")
    SITE = strawberry.enum_value(frame.Dimension.SITE, description="The person's site (now).")
    COURSE = strawberry.enum_value(frame.Dimension.COURSE, description="The course the facts belong to.")
    SCENARIO = strawberry.enum_value(frame.Dimension.SCENARIO, description="The course's scenario.")
    POSITION_FAMILY = strawberry.enum_value(
        frame.Dimension.POSITION_FAMILY, description="The person's position family (族)."
    )
    POSITION_LEVEL = strawberry.enum_value(
        frame.Dimension.POSITION_LEVEL, description="The person's position level (层级)."
    )


@strawberry.input(
    description="A report's period (local days of the company, both included, at most ten years) and "
    "filters. People are filtered by where they are now (org unit subtree, site, position); facts by "
    "course or scenario. Managers see their own org unit's subtree only."
)
class ReportFilterInput:
    from_day: date = strawberry.field(name="from", description="The first day of the period.")
    to_day: date = strawberry.field(name="to", description="The last day of the period (included).")
    org_unit_id: strawberry.ID | None = strawberry.field(default=None, description="Only this org unit's subtree.")
    site_id: strawberry.ID | None = strawberry.field(default=None, description="Only people of this site.")
    course_id: strawberry.ID | None = strawberry.field(default=None, description="Only facts of this course.")
    scenario: str | None = strawberry.field(default=None, description="Only facts of courses of this scenario.")
    position_family: str | None = strawberry.field(default=None, description="Only people of this position family.")
    position_level: str | None = strawberry.field(default=None, description="Only people of this position level.")

    def to_domain(self) -> frame.ReportFilter:
        """The service's filter (VALIDATION for a bad period or id)."""
        return frame.ReportFilter(
            period=frame.Period.of(self.from_day, self.to_day),
            org_unit_id=expect_global_id(self.org_unit_id, "OrgUnit", "orgUnitId") if self.org_unit_id else None,
            site_id=expect_global_id(self.site_id, "Site", "siteId") if self.site_id else None,
            course_id=expect_global_id(self.course_id, "Course", "courseId") if self.course_id else None,
            scenario=self.scenario,
            position_family=self.position_family,
            position_level=self.position_level,
        )


def dimension_of(value: ReportDimension | None) -> frame.Dimension | None:
    return None if value is None else frame.Dimension(value.name)
