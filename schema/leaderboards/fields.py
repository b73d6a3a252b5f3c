"""Leaderboard fields: employees ranked by the credits they earned in a period. Thin: the rules
live in backend/services/credits/leaderboards.py."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from backend.services.credits import leaderboards
from schema.ids import expect_global_id
from schema.leaderboards.types import Leaderboard, LeaderboardScope


@strawberry.type
class LeaderboardQueries:
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
        domain_scope = leaderboards.Scope[scope.name]
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
