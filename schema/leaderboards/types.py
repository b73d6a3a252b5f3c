"""Leaderboard types: whom a board ranks, its places and the viewer's own place. Amounts are
credits as decimals with one decimal place."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry

from backend.services.credits import leaderboards
from backend.services.credits.ledger import from_tenths
from schema.ids import to_global_id
from schema.people.types import Colleague


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
