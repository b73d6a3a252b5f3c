"""Rewards store types: rewards as the store shows them, redemptions, and their inputs."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import strawberry

from backend import models
from backend.models import RedemptionStatus, RewardCategory
from backend.services.credits import ledger, rewards
from schema.common import UserError
from schema.connection import Connection
from schema.ids import to_global_id
from schema.people.types import Colleague

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
strawberry.enum(
    RewardCategory,
    name="RewardCategory",
    description="What a reward is: TRAINING_SUBSIDY (培训补贴), CERTIFICATE (证书), HONOUR (荣誉), "
    "PROMOTION_TRACK (晋升通道机会) or GIFT (礼品).",
)
strawberry.enum(
    RedemptionStatus,
    name="RedemptionStatus",
    description="Where a redemption stands: PENDING (waiting for HR; credits and stock held), APPROVED, "
    "REJECTED or CANCELLED (both refunded by a reversal entry).",
)


@strawberry.type(description="A reward in the store, with what it means for the viewer.")
class Reward:
    id: strawberry.ID = strawberry.field(description="Global ID of the reward (rewardId when redeeming).")
    code: str = strawberry.field(description="HR's code, unique in the company.")
    name: str = strawberry.field(description="The reward's name.")
    description: str = strawberry.field(description="What the employee gets.")
    category: RewardCategory = strawberry.field(description="What kind of reward it is.")
    cost: Decimal = strawberry.field(description="Credits it costs (one decimal place).")
    stock_left: int | None = strawberry.field(description="How many are left; null when unlimited.")
    per_person_limit: int | None = strawberry.field(
        description="How many times one employee may redeem it (pending and approved count); null for no limit."
    )
    active_from: datetime | None = strawberry.field(description="Redeemable from this moment; null: already.")
    active_until: datetime | None = strawberry.field(description="Redeemable until (excluded); null: no end.")
    requires_approval: bool = strawberry.field(description="Whether HR approves each redemption.")
    retired: bool = strawberry.field(description="Taken out of the store for good.")
    version: int = strawberry.field(description="1 when created, + 1 on every change.")
    my_redemption_count: int = strawberry.field(
        description="The viewer's redemptions of it that are PENDING or APPROVED (what the limit counts)."
    )
    affordable: bool = strawberry.field(description="Whether the viewer's spendable balance covers the cost.")

    @classmethod
    def from_model(cls, row: models.Reward, my_count: int = 0, balance: int = 0) -> Reward:
        return cls(
            id=strawberry.ID(to_global_id("Reward", row.id)),
            code=row.code,
            name=row.name,
            description=row.description,
            category=RewardCategory(row.category),
            cost=ledger.from_tenths(row.cost),
            stock_left=row.stock,
            per_person_limit=row.per_person_limit,
            active_from=row.active_from,
            active_until=row.active_until,
            requires_approval=row.requires_approval,
            retired=row.retired,
            version=row.version,
            my_redemption_count=my_count,
            affordable=balance >= row.cost,
        )


@strawberry.type(
    name="RewardConnection",
    description="A page of the rewards store, in the order HR created them (Relay connection).",
)
class RewardConnection(Connection[Reward]):
    balance: Decimal = strawberry.field(description="The viewer's spendable balance, credits.")

    @classmethod
    def from_store(cls, store: rewards.Store) -> RewardConnection:
        def reward(row: models.Reward) -> Reward:
            return Reward.from_model(row, store.my_counts.get(row.id, 0), store.balance)

        return cls.from_page(store.page, reward, balance=ledger.from_tenths(store.balance))


@strawberry.type(description="The reward a redemption is for (as it is now; the cost paid is on the redemption).")
class RedeemedReward:
    id: strawberry.ID = strawberry.field(description="Global ID of the reward.")
    code: str = strawberry.field(description="HR's code of the reward.")
    name: str = strawberry.field(description="The reward's name.")
    category: RewardCategory = strawberry.field(description="What kind of reward it is.")


@strawberry.type(description="An employee's redemption of a reward.")
class Redemption:
    id: strawberry.ID = strawberry.field(description="Global ID of the redemption.")
    reward: RedeemedReward = strawberry.field(description="What was redeemed.")
    employee: Colleague = strawberry.field(description="Who redeemed it.")
    cost: Decimal = strawberry.field(description="Credits it cost when redeemed.")
    status: RedemptionStatus = strawberry.field(description="Where it stands.")
    requested_at: datetime = strawberry.field(description="When the employee redeemed (corrected device time).")
    decided_at: datetime | None = strawberry.field(description="When HR decided or the employee cancelled.")
    reason: str = strawberry.field(description="Why it was rejected or cancelled (or HR's note on approval).")

    @classmethod
    def from_model(cls, row: models.Redemption) -> Redemption:
        """``row`` with its reward and employee loaded (select_related)."""
        return cls(
            id=strawberry.ID(to_global_id("Redemption", row.id)),
            reward=RedeemedReward(
                id=strawberry.ID(to_global_id("Reward", row.reward_id)),
                code=row.reward.code,
                name=row.reward.name,
                category=RewardCategory(row.reward.category),
            ),
            employee=Colleague.from_model(row.employee),
            cost=ledger.from_tenths(row.cost),
            status=RedemptionStatus(row.status),
            requested_at=row.requested_at,
            decided_at=row.decided_at,
            reason=row.reason,
        )


@strawberry.input(description="A new reward for the store.")
class CreateRewardInput:
    code: str = strawberry.field(description="HR's code, unique in the company (at most 64 characters).")
    name: str = strawberry.field(description="The reward's name (at most 200 characters).")
    description: str = strawberry.field(default="", description="What the employee gets.")
    category: RewardCategory = strawberry.field(description="What kind of reward it is.")
    cost: Decimal = strawberry.field(description="Credits it costs: more than 0, at most one decimal place.")
    stock: int | None = strawberry.field(default=None, description="How many there are; null for unlimited.")
    per_person_limit: int | None = strawberry.field(
        default=None, description="How many times one employee may redeem it; null for no limit."
    )
    active_from: datetime | None = strawberry.field(default=None, description="Redeemable from (with a time zone).")
    active_until: datetime | None = strawberry.field(
        default=None, description="Redeemable until, excluded (with a time zone); after activeFrom."
    )
    requires_approval: bool = strawberry.field(default=False, description="Whether HR approves each redemption.")


@strawberry.input(description="Changes to a reward; fields left out stay as they are.")
class UpdateRewardInput:
    reward_id: strawberry.ID = strawberry.field(description="The reward.")
    code: str | None = strawberry.field(default=strawberry.UNSET, description="New code.")
    name: str | None = strawberry.field(default=strawberry.UNSET, description="New name.")
    description: str | None = strawberry.field(default=strawberry.UNSET, description="New description.")
    category: RewardCategory | None = strawberry.field(default=strawberry.UNSET, description="New category.")
    cost: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="New cost (redemptions made keep what they cost)."
    )
    stock: int | None = strawberry.field(
        default=strawberry.UNSET,
        description="How many are left from now on (set, not added; at least 0); null: unlimited.",
    )
    per_person_limit: int | None = strawberry.field(
        default=strawberry.UNSET, description="New limit per employee; null for no limit."
    )
    active_from: datetime | None = strawberry.field(default=strawberry.UNSET, description="New start; null: none.")
    active_until: datetime | None = strawberry.field(default=strawberry.UNSET, description="New end; null: none.")
    requires_approval: bool | None = strawberry.field(
        default=strawberry.UNSET, description="Whether HR approves redemptions from now on."
    )


@strawberry.input(description="Redeem a reward, online.")
class RedeemRewardInput:
    client_id: strawberry.ID | None = strawberry.field(
        default=None, description="UUID for safe retries (the same id is redeemed once)."
    )
    reward_id: strawberry.ID = strawberry.field(description="The reward.")


@strawberry.input(description="Withdraw one's own pending redemption.")
class CancelRedemptionInput:
    redemption_id: strawberry.ID = strawberry.field(description="The redemption.")
    reason: str | None = strawberry.field(default=None, description="Why (at most 300 characters).")


@strawberry.input(description="HR's decision on a pending redemption.")
class DecideRedemptionInput:
    redemption_id: strawberry.ID = strawberry.field(description="The redemption.")
    approve: bool = strawberry.field(description="True to approve, false to reject (and refund).")
    reason: str | None = strawberry.field(default=None, description="Why; required to reject (at most 300 characters).")


@strawberry.type(description="Result of createReward, updateReward and retireReward.")
class RewardPayload:
    reward: Reward | None = strawberry.field(description="The reward after the change.")
    errors: list[UserError] = strawberry.field(description="FORBIDDEN, NOT_FOUND, VALIDATION; empty on success.")

    @classmethod
    def of(cls, reward: Reward | None, errors: list[UserError]) -> RewardPayload:
        return cls(reward=reward, errors=errors)


@strawberry.type(description="Result of cancelRedemption and decideRedemption.")
class RedemptionPayload:
    redemption: Redemption | None = strawberry.field(description="The redemption after the change.")
    errors: list[UserError] = strawberry.field(
        description="FORBIDDEN, NOT_FOUND, ALREADY_DECIDED, VALIDATION; empty on success."
    )

    @classmethod
    def of(cls, row: models.Redemption | None, errors: list[UserError]) -> RedemptionPayload:
        """``row`` with its reward and employee loaded."""
        return cls(redemption=Redemption.from_model(row) if row else None, errors=errors)
