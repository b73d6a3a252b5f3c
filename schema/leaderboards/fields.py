"""Targets and leaderboards: the credit program settings, credit targets per position family and
level, team views for managers, who is behind for HR, and leaderboards."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from backend.errors import DomainError
from backend.services.credits import leaderboards, targets
from backend.services.credits.ledger import to_tenths
from schema.common import UserError
from schema.ids import expect_global_id
from schema.leaderboards.types import (
    CreditProgram,
    CreditsBehindConnection,
    CreditTarget,
    Leaderboard,
    LeaderboardScope,
    TeamCredits,
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


@strawberry.input(description="The target of one position family and level.")
class SetCreditTargetInput:
    position_family: str = strawberry.field(description="Position family, e.g. 销售族 (at most 64 characters).")
    grade: int = strawberry.field(description="Level within the family, 1 to 999.")
    credits: Decimal = strawberry.field(description="Credits per period, 0 or more, one decimal place at most.")


@strawberry.type(description="Result of setCreditTarget.")
class CreditTargetPayload:
    target: CreditTarget | None = strawberry.field(description="The target as set.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="Result of removeCreditTarget.")
class RemoveCreditTargetPayload:
    removed_target_id: strawberry.ID | None = strawberry.field(description="Global ID of the removed target.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type
class LeaderboardQueries:
    @strawberry.field(description="The company's credit program settings (HR admins).")
    async def credit_program(self, info: strawberry.Info) -> CreditProgram:
        viewer = await info.context.require_viewer()
        return CreditProgram.from_domain(await targets.program_settings(viewer))

    @strawberry.field(description="Credit targets by position family and level (HR admins and managers).")
    async def credit_targets(self, info: strawberry.Info) -> list[CreditTarget]:
        viewer = await info.context.require_viewer()
        return [CreditTarget.from_model(row) for row in await targets.list_targets(viewer)]

    @strawberry.field(
        description="A manager's active direct reports with their credits in a period against their "
        "targets. Managers: their own team; HR admins: any manager's; others FORBIDDEN."
    )
    async def my_team_credits(
        self,
        info: strawberry.Info,
        period: Annotated[
            date | None, strawberry.argument(description="Any day of the wanted period; today if omitted.")
        ] = None,
        manager_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="The manager (HR admins); the viewer if omitted."),
        ] = None,
    ) -> TeamCredits:
        viewer = await info.context.require_viewer()
        team = await targets.team_progress(
            viewer, expect_global_id(manager_id, "Employee", "managerId") if manager_id else None, period
        )
        return TeamCredits.from_domain(team)

    @strawberry.field(
        description="Active employees who earned less than expected by now against their target, "
        "largest shortfall first (HR admins)."
    )
    async def credits_behind(
        self,
        info: strawberry.Info,
        org_unit_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only this org unit and the units below it; the company if omitted."),
        ] = None,
        period: Annotated[
            date | None, strawberry.argument(description="Any day of the wanted period; today if omitted.")
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> CreditsBehindConnection:
        viewer = await info.context.require_viewer()
        page = await targets.credits_behind(
            viewer,
            expect_global_id(org_unit_id, "OrgUnit", "orgUnitId") if org_unit_id else None,
            period,
            first,
            after,
            info.context.settings.max_page_size,
        )
        return CreditsBehindConnection.from_page(page)

    @strawberry.field(
        description="Employees ranked by credits earned in a period, for anyone in the company. "
        "Anonymised boards show only the viewer by name."
    )
    async def leaderboard(
        self,
        info: strawberry.Info,
        scope: Annotated[LeaderboardScope, strawberry.argument(description="Whom to rank.")],
        scope_id: Annotated[
            strawberry.ID | None,
            strawberry.argument(
                description="The OrgUnit (ORG_UNIT) or Site (SITE); the viewer's own if omitted. Ignored for COMPANY."
            ),
        ] = None,
        period: Annotated[
            date | None, strawberry.argument(description="Any day of the wanted period; today if omitted.")
        ] = None,
        first: Annotated[
            int, strawberry.argument(description="How many places from the top, 0 to the maximum (100).")
        ] = 20,
        around_me: Annotated[
            int | None,
            strawberry.argument(
                description="When set (0 to 50): only the viewer and this many neighbours above and "
                "below; `first` is then ignored."
            ),
        ] = None,
    ) -> Leaderboard:
        viewer = await info.context.require_viewer()
        domain_scope = leaderboards.Scope(scope.value)
        scope_row_id = None
        if scope_id is not None and domain_scope != leaderboards.Scope.COMPANY:
            type_name = "OrgUnit" if domain_scope == leaderboards.Scope.ORG_UNIT else "Site"
            scope_row_id = expect_global_id(scope_id, type_name, "scopeId")
        board = await leaderboards.leaderboard(
            viewer,
            domain_scope,
            scope_row_id,
            period,
            first,
            around_me,
            info.context.settings.max_page_size,
        )
        return Leaderboard.from_domain(board, info.context.locale)


@strawberry.type
class LeaderboardMutations:
    @strawberry.mutation(description="Change the credit program settings (HR admins); audited.")
    async def update_credit_program(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateCreditProgramInput, strawberry.argument(description="The changes.")],
    ) -> CreditProgramPayload:
        viewer = await info.context.require_viewer()
        try:
            settings = await targets.update_program(
                viewer,
                input.period_months,
                input.time_zone,
                input.anonymise_leaderboards,
                rule_approval_above=None
                if input.rule_approval_above is None
                else to_tenths(input.rule_approval_above, "ruleApprovalAbove"),
            )
        except DomainError as error:
            return CreditProgramPayload(program=None, errors=[UserError.from_domain(error, info.context.locale)])
        return CreditProgramPayload(program=CreditProgram.from_domain(settings), errors=[])

    @strawberry.mutation(
        description="Set the credit target of a position family and level, creating or replacing it "
        "(HR admins); audited."
    )
    async def set_credit_target(
        self,
        info: strawberry.Info,
        input: Annotated[SetCreditTargetInput, strawberry.argument(description="The target.")],
    ) -> CreditTargetPayload:
        viewer = await info.context.require_viewer()
        try:
            row = await targets.set_target(viewer, input.position_family, input.grade, input.credits)
        except DomainError as error:
            return CreditTargetPayload(target=None, errors=[UserError.from_domain(error, info.context.locale)])
        return CreditTargetPayload(target=CreditTarget.from_model(row), errors=[])

    @strawberry.mutation(description="Remove a credit target (HR admins); audited.")
    async def remove_credit_target(
        self,
        info: strawberry.Info,
        target_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the target.")],
    ) -> RemoveCreditTargetPayload:
        viewer = await info.context.require_viewer()
        try:
            await targets.remove_target(viewer, expect_global_id(target_id, "CreditTarget", "targetId"))
        except DomainError as error:
            return RemoveCreditTargetPayload(
                removed_target_id=None, errors=[UserError.from_domain(error, info.context.locale)]
            )
        return RemoveCreditTargetPayload(removed_target_id=target_id, errors=[])
