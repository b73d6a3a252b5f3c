"""Feed rows for the rewards store and the viewer's redemptions (see mobile_sync/entities.py for the contract).

REWARD rows go to everyone (audience 0) and show a reward as the store does, without what depends
on the viewer (their count, whether they can afford it: the app works those out from its
REDEMPTION and CREDIT_ACCOUNT rows); a retired reward becomes a tombstone. REDEMPTION rows go to
the employee who redeemed.
"""

from __future__ import annotations

from backend.ids import to_global_id
from backend.models import Redemption, RedemptionStatus, Reward, RewardCategory
from backend.services.credits import rewards
from backend.services.credits.ledger import from_tenths
from backend.services.feed import Entity
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, dec, ints, iso
from mobile_sync.shapes import BOOL, DECIMAL, INT, MOMENT, TEXT, enum, gid, opt, row


def reward_row(reward: Reward) -> Row:
    """A reward as the store shows it to everyone (the REWARD feed row)."""
    return {
        "id": to_global_id("Reward", reward.id),
        "code": reward.code,
        "name": reward.name,
        "description": reward.description,
        "category": RewardCategory(reward.category).value,
        "cost": dec(from_tenths(reward.cost)),
        "stockLeft": reward.stock,
        "perPersonLimit": reward.per_person_limit,
        "activeFrom": iso(reward.active_from),
        "activeUntil": iso(reward.active_until),
        "requiresApproval": reward.requires_approval,
        "version": reward.version,
    }


def redemption_row(redemption: Redemption) -> Row:
    """A redemption (its reward loaded) as the employee who made it sees it (the REDEMPTION row)."""
    return {
        "id": to_global_id("Redemption", redemption.id),
        "rewardId": to_global_id("Reward", redemption.reward_id),
        "rewardName": redemption.reward.name,
        "cost": dec(from_tenths(redemption.cost)),
        "status": RedemptionStatus(redemption.status).value,
        "requestedAt": iso(redemption.requested_at),
        "decidedAt": iso(redemption.decided_at),
        "reason": redemption.reason,
    }


async def _rewards(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    found = {reward.id: reward_row(reward) for reward in await rewards.rewards_by_id(viewer, ints(ids))}
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


async def _redemptions(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    found = {r.id: redemption_row(r) for r in await rewards.my_redemptions_by_id(viewer, ints(ids))}
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.REWARD: _rewards, Entity.REDEMPTION: _redemptions}
GLOBAL_TYPES: dict[Entity, str] = {Entity.REWARD: "Reward", Entity.REDEMPTION: "Redemption"}

# The shape of each entity's data (published in the sync contract; tests check every row).

SHAPES = {
    Entity.REWARD: row(
        id=gid("Reward"),
        code=TEXT,
        name=TEXT,
        description=TEXT,
        category=enum(RewardCategory),
        cost=DECIMAL,
        stockLeft=opt(INT),
        perPersonLimit=opt(INT),
        activeFrom=opt(MOMENT),
        activeUntil=opt(MOMENT),
        requiresApproval=BOOL,
        version=INT,
    ),
    Entity.REDEMPTION: row(
        id=gid("Redemption"),
        rewardId=gid("Reward"),
        rewardName=TEXT,
        cost=DECIMAL,
        status=enum(RedemptionStatus),
        requestedAt=opt(MOMENT),
        decidedAt=opt(MOMENT),
        reason=TEXT,
    ),
}
