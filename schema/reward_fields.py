"""Rewards store fields: rewards (HR manages), redeeming (the REWARD_REDEEMED online twin),
redemptions and their decisions."""

from __future__ import annotations

import strawberry


@strawberry.type
class RewardQueries:
    pass


@strawberry.type
class RewardMutations:
    pass
