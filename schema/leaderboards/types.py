"""Types of the credit program settings, credit targets, progress against them (team views, who
is behind) and leaderboards. Amounts are credits as decimals with one decimal place."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from backend import models
from backend.services.credits import leaderboards, targets
from backend.services.credits.ledger import from_tenths
from schema.common import Node
from schema.connection import PageInfo
from schema.ids import to_global_id
from schema.people.types import Colleague


@strawberry.type(description="The company's credit program: how periods are cut and leaderboard privacy.")
class CreditProgram:
    period_months: int = strawberry.field(
        description="Length of a credit period in months (1, 2, 3, 4, 6 or 12), counted from 1 January."
    )
    time_zone: str = strawberry.field(description="IANA time zone periods, days and weeks are cut in.")
    anonymise_leaderboards: bool = strawberry.field(
        description="Whether leaderboards hide everyone but the viewer (no name, no ID)."
    )
    rule_approval_above: Decimal = strawberry.field(
        description="Credit rule versions granting more credits than this wait for a second HR admin's approval "
        "(PENDING_APPROVAL); 20 unless changed."
    )
    proposed_rule_approval_above: Decimal | None = strawberry.field(
        description="A raise of ruleApprovalAbove one HR admin proposed, waiting for another HR admin to set the "
        "same value (it applies then); ruleApprovalAbove stays in force meanwhile. Null when none waits."
    )
    current_period_start: datetime = strawberry.field(description="Start of the current period.")
    current_period_end: datetime = strawberry.field(description="End of the current period (exclusive).")
    _proposer_id: strawberry.Private[int | None]

    @strawberry.field(
        description="The HR admin who proposed proposedRuleApprovalAbove (who cannot confirm it); "
        "null when nothing waits."
    )
    async def proposed_by(self, info: strawberry.Info) -> Colleague | None:
        if self._proposer_id is None:
            return None
        row = await (await info.context.loaders()).employee.load(self._proposer_id)
        return Colleague.from_model(row) if row else None

    @classmethod
    def from_domain(cls, settings: targets.ProgramSettings) -> CreditProgram:
        proposed = settings.proposed_rule_approval_above
        return cls(
            period_months=settings.program.period_months,
            time_zone=settings.program.time_zone,
            anonymise_leaderboards=settings.program.anonymise_leaderboards,
            rule_approval_above=from_tenths(settings.program.rule_approval_above),
            proposed_rule_approval_above=from_tenths(proposed) if proposed is not None else None,
            current_period_start=settings.current_start,
            current_period_end=settings.current_end,
            _proposer_id=settings.proposed_by_id,
        )


@strawberry.type(description="Credits a position family and level should earn per credit period.")
class CreditTarget(Node):
    position_family: str = strawberry.field(description="Position family, e.g. 销售族.")
    grade: int = strawberry.field(description="Level within the family (1 = most junior).")
    credits: Decimal = strawberry.field(description="Credits to earn per period.")
    updated_at: datetime = strawberry.field(description="When it was last set.")

    @classmethod
    def from_model(cls, row: models.CreditTarget) -> CreditTarget:
        return cls(
            id=strawberry.ID(to_global_id("CreditTarget", row.id)),
            position_family=row.position_family,
            grade=row.grade,
            credits=from_tenths(row.credits),
            updated_at=row.updated_at,
        )


@strawberry.type(description="An employee's credits in a period against their target.")
class EmployeeCreditProgress:
    employee: Colleague = strawberry.field(description="The employee.")
    earned: Decimal = strawberry.field(
        description="Credits earned in the period (earned credits and positive adjustments; spending "
        "does not lower it)."
    )
    target: Decimal | None = strawberry.field(
        description="Target of the employee's position family and level; null when none is set."
    )
    progress_percent: int | None = strawberry.field(
        description="Whole percent of the target earned (may exceed 100, at most 999999); null without a target."
    )
    expected_by_now: Decimal | None = strawberry.field(
        description="Target times the share of the period passed (rounded down to 0.1); null without a target."
    )
    shortfall: Decimal | None = strawberry.field(
        description="How far earned is below expected by now (0 when on track); null without a target."
    )
    behind: bool = strawberry.field(description="Whether earned is below expected by now.")

    @classmethod
    def from_domain(cls, row: targets.Progress) -> EmployeeCreditProgress:
        def credits_or_none(tenths: int | None) -> Decimal | None:
            return None if tenths is None else from_tenths(tenths)

        return cls(
            employee=Colleague(
                id=strawberry.ID(to_global_id("Employee", row.employee_id)),
                employee_no=row.employee_no,
                name=row.name,
            ),
            earned=from_tenths(row.earned),
            target=credits_or_none(row.target),
            progress_percent=row.progress_percent,
            expected_by_now=credits_or_none(row.expected_by_now),
            shortfall=credits_or_none(row.shortfall),
            behind=row.behind,
        )


@strawberry.type(description="A manager's direct reports and their credits in one period.")
class TeamCredits:
    period_start: datetime = strawberry.field(description="Start of the period.")
    period_end: datetime = strawberry.field(description="End of the period (exclusive).")
    elapsed_percent: Decimal = strawberry.field(
        description="Share of the period passed, in percent (four decimals), that expected by now uses."
    )
    members: list[EmployeeCreditProgress] = strawberry.field(description="Active direct reports, by employee number.")

    @classmethod
    def from_domain(cls, team: targets.TeamProgress) -> TeamCredits:
        return cls(
            period_start=team.period.start,
            period_end=team.period.end,
            elapsed_percent=_percent(team.period),
            members=[EmployeeCreditProgress.from_domain(m) for m in team.members],
        )


def _percent(period: targets.Period) -> Decimal:
    return (Decimal(period.elapsed_millionths) / 10_000).quantize(Decimal("0.0001"))


@strawberry.type(description="An employee behind their target, with its cursor.")
class CreditsBehindEdge:
    cursor: str = strawberry.field(description="Opaque cursor of this entry.")
    node: EmployeeCreditProgress = strawberry.field(description="The employee and their progress.")


@strawberry.type(description="A page of employees behind their credit target (Relay connection).")
class CreditsBehindConnection:
    period_start: datetime = strawberry.field(description="Start of the period.")
    period_end: datetime = strawberry.field(description="End of the period (exclusive).")
    elapsed_percent: Decimal = strawberry.field(
        description="Share of the period passed, in percent (four decimals), that expected by now uses."
    )
    edges: list[CreditsBehindEdge] = strawberry.field(
        description="Employees of this page, largest shortfall first, then by employee number."
    )
    page_info: PageInfo = strawberry.field(description="Paging information.")
    _page: strawberry.Private[targets.BehindPage]

    @strawberry.field(description="Number of employees behind, across all pages.")
    async def total_count(self) -> int:
        return await self._page.count_total()

    @classmethod
    def from_page(cls, page: targets.BehindPage) -> CreditsBehindConnection:
        edges = [
            CreditsBehindEdge(cursor=page.cursor_of(entry), node=EmployeeCreditProgress.from_domain(entry))
            for entry in page.entries
        ]
        return cls(
            period_start=page.period.start,
            period_end=page.period.end,
            elapsed_percent=_percent(page.period),
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            _page=page,
        )


@strawberry.enum(description="Whom a leaderboard ranks.")
class LeaderboardScope(Enum):
    COMPANY = strawberry.enum_value(leaderboards.Scope.COMPANY.value, description="Everyone in the company.")
    ORG_UNIT = strawberry.enum_value(
        leaderboards.Scope.ORG_UNIT.value, description="An org unit and every unit below it."
    )
    SITE = strawberry.enum_value(leaderboards.Scope.SITE.value, description="The people of one site.")


@strawberry.type(description="One place on a leaderboard.")
class LeaderboardEntry:
    rank: int = strawberry.field(
        description="Rank by credits earned in the period; equal credits share a rank (1, 2, 2, 4)."
    )
    employee: Colleague | None = strawberry.field(
        description="Who holds the place; null when the leaderboard is anonymised (except the viewer)."
    )
    display_name: str = strawberry.field(
        description="What to show: 你 for the viewer, the name, or 同事 #rank when anonymised."
    )
    earned: Decimal = strawberry.field(description="Credits earned in the period.")
    is_me: bool = strawberry.field(description="Whether this is the viewer.")


@strawberry.type(description="The viewer's own place on a leaderboard.")
class LeaderboardPlace:
    rank: int = strawberry.field(description="The viewer's rank.")
    earned: Decimal = strawberry.field(description="Credits the viewer earned in the period.")


_ME = {"zh-CN": "你", "en": "You"}
_COLLEAGUE = {"zh-CN": "同事 #{rank}", "en": "Colleague #{rank}"}


@strawberry.type(description="Employees ranked by credits earned in one credit period.")
class Leaderboard:
    scope: LeaderboardScope = strawberry.field(description="Whom it ranks.")
    period_start: datetime = strawberry.field(description="Start of the period.")
    period_end: datetime = strawberry.field(description="End of the period (exclusive).")
    anonymised: bool = strawberry.field(description="Whether others are shown without name or ID.")
    size: int = strawberry.field(description="How many active employees the leaderboard ranks.")
    entries: list[LeaderboardEntry] = strawberry.field(
        description="The places shown, best first; ties by employee number."
    )
    me: LeaderboardPlace | None = strawberry.field(
        description="The viewer's place; null when the viewer is not in the scope."
    )

    @classmethod
    def from_domain(cls, board: leaderboards.Board, locale: str) -> Leaderboard:
        language = "zh-CN" if locale.startswith("zh") else "en"

        def entry(row: leaderboards.Standing) -> LeaderboardEntry:
            if row.is_me:
                shown = _ME[language]
            elif row.name is None:
                shown = _COLLEAGUE[language].format(rank=row.rank)
            else:
                shown = row.name
            employee = None
            if row.employee_id is not None:
                employee = Colleague(
                    id=strawberry.ID(to_global_id("Employee", row.employee_id)),
                    employee_no=row.employee_no or "",
                    name=row.name or "",
                )
            return LeaderboardEntry(
                rank=row.rank, employee=employee, display_name=shown, earned=from_tenths(row.earned), is_me=row.is_me
            )

        return cls(
            scope=LeaderboardScope(board.scope.value),
            period_start=board.period.start,
            period_end=board.period.end,
            anonymised=board.anonymised,
            size=board.size,
            entries=[entry(row) for row in board.entries],
            me=LeaderboardPlace(rank=board.me.rank, earned=from_tenths(board.me.earned)) if board.me else None,
        )


__all__ = [
    "CreditProgram",
    "CreditTarget",
    "CreditsBehindConnection",
    "CreditsBehindEdge",
    "EmployeeCreditProgress",
    "Leaderboard",
    "LeaderboardEntry",
    "LeaderboardPlace",
    "LeaderboardScope",
    "TeamCredits",
]
