"""Targets and leaderboards: credit targets per position family and level, progress for
employees, team views for managers, who is behind for HR, and leaderboards."""

from __future__ import annotations

import strawberry


@strawberry.type
class LeaderboardQueries:
    pass


@strawberry.type
class LeaderboardMutations:
    pass
