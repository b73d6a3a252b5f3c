"""Rewards store fields: rewards (HR manages), redeeming (the REWARD_REDEEMED online twin),
redemptions and their decisions."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend import models
from backend.models import RedemptionStatus
from backend.services.credits import rewards
from backend.services.viewer import Viewer
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.payloads import mutate
from schema.rewards.types import (
    CancelRedemptionInput,
    CreateRewardInput,
    DecideRedemptionInput,
    RedeemRewardInput,
    Redemption,
    RedemptionPayload,
    Reward,
    RewardConnection,
    RewardPayload,
    UpdateRewardInput,
)
from schema.sync.records import RecordPayload, submit_record

# UpdateRewardInput fields, named as the service (``rewards.update_reward``) names them
_UPDATABLE = (
    "code",
    "name",
    "description",
    "category",
    "cost",
    "stock",
    "per_person_limit",
    "active_from",
    "active_until",
    "requires_approval",
)
# Fields that cannot be null (null for them means "leave as it is")
_NOT_NULL = {"code", "name", "description", "category", "cost", "requires_approval"}


async def _reward_view(viewer: Viewer, row: models.Reward) -> Reward:
    """The reward with the viewer's redemption count and whether they can afford it."""
    counts = await rewards.my_redemption_counts(viewer, [row.id])
    return Reward.from_model(row, counts.get(row.id, 0), await rewards.balance_of(viewer.tenant_id, viewer.employee_id))


def _changes(given: UpdateRewardInput) -> dict[str, Any]:
    changes = {}
    for field in _UPDATABLE:
        value = getattr(given, field)
        if value is strawberry.UNSET or (value is None and field in _NOT_NULL):
            continue
        changes[field] = value
    return changes


@strawberry.type
class RewardQueries:
    @strawberry.field(
        description="The rewards store: rewards redeemable now (not retired, inside their dates), in the order "
        "HR created them, each with the viewer's redemption count and whether they can afford it. HR admins "
        "may ask for every reward, retired and out-of-date ones too (includeRetired)."
    )
    async def rewards(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        include_retired: Annotated[
            bool,
            strawberry.argument(
                description="Every reward, retired and out-of-date ones too (HR admins; FORBIDDEN otherwise)."
            ),
        ] = False,
    ) -> RewardConnection:
        viewer = await info.context.require_viewer()
        store = await rewards.store(viewer, first, after, info.context.settings.max_page_size, include_retired)
        return RewardConnection.from_store(store)

    @strawberry.field(description="A reward by ID; null if missing (or retired, except for HR admins).")
    async def reward(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the reward.")],
    ) -> Reward | None:
        viewer = await info.context.require_viewer()
        row = await rewards.get_reward(viewer, expect_global_id(id, "Reward"))
        return await _reward_view(viewer, row) if row else None

    @strawberry.field(description="The viewer's redemptions, newest first.")
    async def my_redemptions(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[Redemption]:
        viewer = await info.context.require_viewer()
        page = await rewards.my_redemptions(viewer, first, after, info.context.settings.max_page_size)
        return Connection[Redemption].from_page(page, Redemption.from_model)

    @strawberry.field(description="Every redemption of the company, newest first (HR admins; FORBIDDEN otherwise).")
    async def redemptions(
        self,
        info: strawberry.Info,
        status: Annotated[
            RedemptionStatus | None,
            strawberry.argument(description="Only redemptions in this status (PENDING: those awaiting a decision)."),
        ] = None,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[Redemption]:
        viewer = await info.context.require_viewer()
        page = await rewards.redemptions(viewer, status, first, after, info.context.settings.max_page_size)
        return Connection[Redemption].from_page(page, Redemption.from_model)


@strawberry.type
class RewardMutations:
    @strawberry.mutation(description="Add a reward to the store (HR admins).")
    async def create_reward(
        self,
        info: strawberry.Info,
        input: Annotated[CreateRewardInput, strawberry.argument(description="The reward.")],
    ) -> RewardPayload:
        async def work(viewer: Viewer) -> Reward:
            draft = rewards.RewardDraft(
                code=input.code,
                name=input.name,
                description=input.description,
                category=input.category,
                cost=input.cost,
                stock=input.stock,
                per_person_limit=input.per_person_limit,
                active_from=input.active_from,
                active_until=input.active_until,
                requires_approval=input.requires_approval,
            )
            return await _reward_view(viewer, await rewards.create_reward(viewer, draft))

        return await mutate(info, work, RewardPayload.of)

    @strawberry.mutation(
        description="Change a reward (HR admins): only the fields given. A stock given is how many are left "
        "from now on. The version goes up by one."
    )
    async def update_reward(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateRewardInput, strawberry.argument(description="The changes.")],
    ) -> RewardPayload:
        async def work(viewer: Viewer) -> Reward:
            reward_id = expect_global_id(input.reward_id, "Reward", "rewardId")
            return await _reward_view(viewer, await rewards.update_reward(viewer, reward_id, _changes(input)))

        return await mutate(info, work, RewardPayload.of)

    @strawberry.mutation(
        description="Take a reward out of the store for good (HR admins); redemptions made stay as they are."
    )
    async def retire_reward(
        self,
        info: strawberry.Info,
        reward_id: Annotated[strawberry.ID, strawberry.argument(description="The reward.")],
    ) -> RewardPayload:
        async def work(viewer: Viewer) -> Reward:
            row = await rewards.retire_reward(viewer, expect_global_id(reward_id, "Reward", "rewardId"))
            return await _reward_view(viewer, row)

        return await mutate(info, work, RewardPayload.of)

    @strawberry.mutation(
        description="Redeem a reward online: the REWARD_REDEEMED kind. ACCEPTED with result {redemptionId, "
        "status}; refusals: NOT_FOUND, REWARD_NOT_AVAILABLE, REDEMPTION_LIMIT_REACHED, INSUFFICIENT_CREDITS, "
        "OUT_OF_STOCK."
    )
    async def redeem_reward(
        self,
        info: strawberry.Info,
        input: Annotated[RedeemRewardInput, strawberry.argument(description="The reward.")],
    ) -> RecordPayload:
        payload = {"rewardId": str(input.reward_id)}
        return await submit_record(info, input.client_id, rewards.REWARD_REDEEMED, None, payload)

    @strawberry.mutation(
        description="Withdraw one's own redemption while it awaits HR: the credits come back (a reversal "
        "entry) and the stock is put back."
    )
    async def cancel_redemption(
        self,
        info: strawberry.Info,
        input: Annotated[CancelRedemptionInput, strawberry.argument(description="The redemption.")],
    ) -> RedemptionPayload:
        async def work(viewer: Viewer) -> models.Redemption:
            redemption_id = expect_global_id(input.redemption_id, "Redemption", "redemptionId")
            return await rewards.cancel_redemption(viewer, redemption_id, input.reason)

        return await mutate(info, work, RedemptionPayload.of)

    @strawberry.mutation(
        description="Approve or reject a pending redemption (HR admins). Rejecting needs a reason and refunds "
        "the credits (a reversal entry) and the stock."
    )
    async def decide_redemption(
        self,
        info: strawberry.Info,
        input: Annotated[DecideRedemptionInput, strawberry.argument(description="The decision.")],
    ) -> RedemptionPayload:
        async def work(viewer: Viewer) -> models.Redemption:
            redemption_id = expect_global_id(input.redemption_id, "Redemption", "redemptionId")
            return await rewards.decide_redemption(viewer, redemption_id, input.approve, input.reason)

        return await mutate(info, work, RedemptionPayload.of)
