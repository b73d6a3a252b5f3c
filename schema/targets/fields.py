"""Target fields: the credit program settings, credit targets per position family and level, a
manager's team against its targets and who is behind for HR. Thin: the rules live in
backend/services/credits/targets.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from backend import models
from backend.services.credits import targets
from backend.services.credits.ledger import to_tenths
from backend.services.viewer import Viewer
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.targets.types import (
    CreditProgram,
    CreditProgramPayload,
    CreditsBehindConnection,
    CreditTarget,
    CreditTargetPayload,
    RemoveCreditTargetPayload,
    SetCreditTargetInput,
    TeamCredits,
    UpdateCreditProgramInput,
)


@strawberry.type
class TargetQueries:
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
        behind = await targets.credits_behind(
            viewer,
            expect_global_id(org_unit_id, "OrgUnit", "orgUnitId") if org_unit_id else None,
            period,
            first,
            after,
            info.context.settings.max_page_size,
        )
        return CreditsBehindConnection.from_behind(behind)


@strawberry.type
class TargetMutations:
    @strawberry.mutation(description="Change the credit program settings (HR admins); audited.")
    async def update_credit_program(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateCreditProgramInput, strawberry.argument(description="The changes.")],
    ) -> CreditProgramPayload:
        async def work(viewer: Viewer) -> targets.ProgramSettings:
            above = input.rule_approval_above
            return await targets.update_program(
                viewer,
                input.period_months,
                input.time_zone,
                input.anonymise_leaderboards,
                rule_approval_above=None if above is None else to_tenths(above, "ruleApprovalAbove"),
            )

        return await mutate(info, work, CreditProgramPayload.of)

    @strawberry.mutation(
        description="Set the credit target of a position family and level, creating or replacing it "
        "(HR admins); audited."
    )
    async def set_credit_target(
        self,
        info: strawberry.Info,
        input: Annotated[SetCreditTargetInput, strawberry.argument(description="The target.")],
    ) -> CreditTargetPayload:
        async def work(viewer: Viewer) -> models.CreditTarget:
            return await targets.set_target(viewer, input.position_family, input.grade, input.credits)

        return await mutate(info, work, CreditTargetPayload.of)

    @strawberry.mutation(description="Remove a credit target (HR admins); audited.")
    async def remove_credit_target(
        self,
        info: strawberry.Info,
        target_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the target.")],
    ) -> RemoveCreditTargetPayload:
        async def work(viewer: Viewer) -> strawberry.ID:
            await targets.remove_target(viewer, expect_global_id(target_id, "CreditTarget", "targetId"))
            return target_id

        return await mutate(info, work, RemoveCreditTargetPayload.of)
