"""A company's evidence policy: whether evidence photos keep where they were taken.

Photos are re-encoded on arrival without their metadata (``evidence_photos``); their GPS tags are
kept only when the company turns ``keep_photo_location`` on (a site audit may need them; most
companies should not hold employees' whereabouts). HR admins change it, audited; anyone signed in
may read it, so the app can tell employees before they take a photo.
"""

from __future__ import annotations

from tortoise.transactions import in_transaction

from backend.models import Role, Tenant
from backend.services.audit import audit
from backend.services.viewer import Viewer


async def keeps_photo_location(viewer: Viewer) -> bool:
    """Whether the viewer's company keeps evidence photos' locations."""
    return any(await Tenant.filter(id=viewer.tenant_id).values_list("keep_photo_location", flat=True))


async def update_evidence_policy(viewer: Viewer, keep_photo_location: bool) -> bool:
    """Turn keeping photo locations on or off (HR admins) for photos arriving from now on."""
    viewer.require_role(Role.HR_ADMIN)
    async with in_transaction() as connection:
        tenant = await Tenant.filter(id=viewer.tenant_id).select_for_update().using_db(connection).get()
        before = tenant.keep_photo_location
        await Tenant.filter(id=tenant.id).using_db(connection).update(keep_photo_location=keep_photo_location)
        await audit(
            connection,
            viewer,
            tenant.id,
            "evidence.policy.update",
            "Tenant",
            tenant.id,
            {"before": {"keepPhotoLocation": before}, "after": {"keepPhotoLocation": keep_photo_location}},
        )
    return keep_photo_location
