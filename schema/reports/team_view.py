"""The manager's team view (backend/services/reports/team_view.py): compact, for a phone."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.services.credits.ledger import from_tenths
from backend.services.reports import team_view
from schema.ids import expect_global_id, to_global_id


@strawberry.type(description="One active direct report of the manager.")
class TeamViewMember:
    employee_id: strawberry.ID = strawberry.field(description="The Employee's global ID.")
    employee_no: str = strawberry.field(description="Employee number.")
    name: str = strawberry.field(description="Name.")
    position_family: str | None = strawberry.field(description="Position family (族); null without a position.")
    position_level: str | None = strawberry.field(description="Position level (层级); null without a position.")
    in_progress: int = strawberry.field(
        description="Courses in progress: neither completed nor overdue, with module progress, a PRESENT or LATE "
        "attendance, or an ENROLLED seat in a session that has not ended."
    )
    completed: int = strawberry.field(description="Courses completed (any time).")
    overdue: int = strawberry.field(
        description="Courses overdue (until OJT plans bring due dates): ENROLLED in a session of the course that "
        "was not cancelled and has ended, no PRESENT or LATE attendance of that session, course not completed."
    )
    in_progress_titles: list[str] = strawberry.field(
        description="Titles of the first three courses in progress, by course code."
    )
    overdue_titles: list[str] = strawberry.field(
        description="Titles of the first three overdue courses, by course code."
    )
    earned: Decimal = strawberry.field(description="Credits earned in the current credit period.")
    target: Decimal | None = strawberry.field(
        description="The period's credit target of their position family and level; null without one."
    )
    expected_by_now: Decimal | None = strawberry.field(
        description="Target times the elapsed share of the period; null without a target."
    )
    last_activity_at: datetime | None = strawberry.field(
        description="Latest of their accepted activity records, module completions and check-ins; null when none."
    )

    @classmethod
    def from_domain(cls, m: team_view.TeamMember) -> TeamViewMember:
        return cls(
            employee_id=strawberry.ID(to_global_id("Employee", m.employee_id)),
            employee_no=m.employee_no,
            name=m.name,
            position_family=m.position_family,
            position_level=m.position_level,
            in_progress=m.in_progress,
            completed=m.completed,
            overdue=m.overdue,
            in_progress_titles=m.in_progress_titles,
            overdue_titles=m.overdue_titles,
            earned=from_tenths(m.earned),
            target=None if m.target is None else from_tenths(m.target),
            expected_by_now=None if m.expected_by_now is None else from_tenths(m.expected_by_now),
            last_activity_at=m.last_activity_at,
        )


@strawberry.type(description="A manager's active direct reports by employee number, for the manager's phone.")
class TeamView:
    manager_id: strawberry.ID = strawberry.field(description="The manager's Employee global ID.")
    period_start: datetime = strawberry.field(description="Start of the current credit period.")
    period_end: datetime = strawberry.field(description="End of the current credit period (exclusive).")
    members: list[TeamViewMember] = strawberry.field(description="The direct reports, by employee number.")

    @classmethod
    def from_domain(cls, view: team_view.TeamView) -> TeamView:
        return cls(
            manager_id=strawberry.ID(to_global_id("Employee", view.manager_id)),
            period_start=view.period.start,
            period_end=view.period.end,
            members=[TeamViewMember.from_domain(m) for m in view.members],
        )


@strawberry.type
class TeamViewQueries:
    @strawberry.field(
        description="A manager's team at a glance: courses, credits against target, last activity. Managers: "
        "their own team; HR admins: any manager's; others FORBIDDEN."
    )
    async def team_view(
        self,
        info: strawberry.Info,
        manager_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="The manager (HR admins); the viewer if omitted.")
        ] = None,
    ) -> TeamView:
        viewer = await info.context.require_viewer()
        manager = expect_global_id(manager_id, "Employee", "managerId") if manager_id else None
        return TeamView.from_domain(await team_view.team_view(viewer, manager))
