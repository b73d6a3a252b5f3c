"""Feed rows for the rewards store and the viewer's redemptions (see mobile_sync/entities.py for the contract).

REWARD rows go to everyone (audience 0) and show a reward as the store does, without what depends
on the viewer (their count, whether they can afford it: the app works those out from its
REDEMPTION and CREDIT_ACCOUNT rows); a retired reward becomes a tombstone. REDEMPTION rows go to
the employee who redeemed.
"""

from __future__ import annotations

from backend.services.credits import rewards
from backend.services.feed import Entity
from backend.services.viewer import Viewer
from mobile_sync.entities_base import Loader, Row, ints


async def _rewards(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    found = await rewards.rewards_for_feed(viewer, ints(ids))
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


async def _redemptions(viewer: Viewer, ids: list[str]) -> dict[str, Row | None]:
    found = await rewards.redemptions_for_feed(viewer, ints(ids))
    return {i: found.get(int(i)) if i.isdigit() else None for i in ids}


LOADERS: dict[Entity, Loader] = {Entity.REWARD: _rewards, Entity.REDEMPTION: _redemptions}
GLOBAL_TYPES: dict[Entity, str] = {Entity.REWARD: "Reward", Entity.REDEMPTION: "Redemption"}
