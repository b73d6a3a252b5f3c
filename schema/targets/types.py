"""Types of the credit program settings, credit targets per position family and level, and
progress against them (a manager's team, who is behind). Amounts are credits as decimals with one
decimal place."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from backend import models
from backend.services.credits import targets
from backend.services.credits.ledger import from_tenths
from schema.common import Node, UserError
from schema.connection import Connection, Edge
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


def _credits_or_none(tenths: int | None) -> Decimal | None:
    return None if tenths is None else from_tenths(tenths)


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
        return cls(
            employee=Colleague(
                id=strawberry.ID(to_global_id("Employee", row.employee_id)),
                employee_no=row.employee_no,
                name=row.name,
            ),
            earned=from_tenths(row.earned),
            target=_credits_or_none(row.target),
            progress_percent=row.progress_percent,
            expected_by_now=_credits_or_none(row.expected_by_now),
            shortfall=_credits_or_none(row.shortfall),
            behind=row.behind,
        )


def _percent(period: targets.Period) -> Decimal:
    return (Decimal(period.elapsed_millionths) / 10_000).quantize(Decimal("0.0001"))


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


# The edge keeps the name it had before connections were generic (clients' fragments may name it).
@strawberry.type(name="CreditsBehindEdge", description="An employee behind their target, with its cursor.")
class CreditsBehindEdge(Edge[EmployeeCreditProgress]):
    pass


@strawberry.type(
    name="CreditsBehindConnection",
    description="A page of employees behind their credit target (Relay connection).",
)
class CreditsBehindConnection(Connection[EmployeeCreditProgress]):
    edge_type = CreditsBehindEdge
    edges: list[CreditsBehindEdge] = strawberry.field(  # type: ignore[assignment]  # a list of the subclass
        description="Employees of this page, largest shortfall first, then by employee number."
    )
    period_start: datetime = strawberry.field(description="Start of the period.")
    period_end: datetime = strawberry.field(description="End of the period (exclusive).")
    elapsed_percent: Decimal = strawberry.field(
        description="Share of the period passed, in percent (four decimals), that expected by now uses."
    )

    @classmethod
    def from_behind(cls, behind: targets.Behind) -> CreditsBehindConnection:
        return cls.from_page(
            behind.page,
            EmployeeCreditProgress.from_domain,
            period_start=behind.period.start,
            period_end=behind.period.end,
            elapsed_percent=_percent(behind.period),
        )


@strawberry.input(description="Changes to the credit program; fields left out keep their value.")
class UpdateCreditProgramInput:
    period_months: int | None = strawberry.field(
        default=None, description="Period length in months: 1, 2, 3, 4, 6 or 12."
    )
    time_zone: str | None = strawberry.field(default=None, description="IANA time zone, e.g. Asia/Shanghai.")
    anonymise_leaderboards: bool | None = strawberry.field(
        default=None, description="Whether leaderboards hide everyone but the viewer."
    )
    rule_approval_above: Decimal | None = strawberry.field(
        default=None,
        description="Credit rule versions granting more credits than this (0 or more, one decimal "
        "place) need a second HR admin's approval from now on. A value at or below the current one applies at "
        "once; a higher one is only proposed (proposedRuleApprovalAbove) until another HR admin sets the same value.",
    )


@strawberry.type(description="Result of updateCreditProgram.")
class CreditProgramPayload:
    program: CreditProgram | None = strawberry.field(
        description="The program after the change, with any raise of ruleApprovalAbove still waiting "
        "(proposedRuleApprovalAbove, proposedBy)."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def of(cls, settings: targets.ProgramSettings | None, errors: list[UserError]) -> CreditProgramPayload:
        return cls(program=CreditProgram.from_domain(settings) if settings else None, errors=errors)


@strawberry.input(description="The target of one position family and level.")
class SetCreditTargetInput:
    position_family: str = strawberry.field(description="Position family, e.g. 销售族 (at most 64 characters).")
    grade: int = strawberry.field(description="Level within the family, 1 to 999.")
    credits: Decimal = strawberry.field(description="Credits per period, 0 or more, one decimal place at most.")


@strawberry.type(description="Result of setCreditTarget.")
class CreditTargetPayload:
    target: CreditTarget | None = strawberry.field(description="The target as set.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def of(cls, row: models.CreditTarget | None, errors: list[UserError]) -> CreditTargetPayload:
        return cls(target=CreditTarget.from_model(row) if row else None, errors=errors)


@strawberry.type(description="Result of removeCreditTarget.")
class RemoveCreditTargetPayload:
    removed_target_id: strawberry.ID | None = strawberry.field(description="Global ID of the removed target.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def of(cls, target_id: strawberry.ID | None, errors: list[UserError]) -> RemoveCreditTargetPayload:
        return cls(removed_target_id=target_id, errors=errors)
