"""Push tokens: the app registers its FCM or APNs token for the device it is signed in on.

One token per device (a new one replaces the old: tokens rotate). A token registered again on
another device or by another person moves there: a phone handed to a colleague must not receive
its previous owner's notifications. Only devices with a live sign-in are pushed to (``tokens_of``):
signing out or a revoked device stops pushes at once, without waiting for the token to be dropped.
"""

from __future__ import annotations

from collections import defaultdict

from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import AuthSession, Device, PushPlatform, PushToken
from backend.services.validation import text
from backend.services.viewer import Viewer


async def register(viewer: Viewer, platform: PushPlatform, token: str) -> PushToken:
    token = text(token, "token", 4096)
    if any(ch.isspace() for ch in token):
        raise DomainError(ErrorCode.VALIDATION, field="token", reason_key="reason.field", name="token")
    async with in_transaction() as connection:
        device = (
            await Device.filter(
                tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, device_uid=viewer.device_uid
            )
            .using_db(connection)
            .first()
        )
        if device is None:  # a signed-in viewer always has their device row
            raise DomainError(ErrorCode.NOT_FOUND, field="deviceId")
        await (
            PushToken.filter(tenant_id=viewer.tenant_id, token=token)
            .exclude(device_id=device.id)
            .using_db(connection)
            .delete()
        )
        row = await PushToken.filter(device_id=device.id).using_db(connection).first()
        if row is None:
            row = await PushToken.create(
                tenant_id=viewer.tenant_id,
                device_id=device.id,
                employee_id=viewer.employee_id,
                platform=platform,
                token=token,
                using_db=connection,
            )
        else:
            row.platform, row.token, row.employee_id = platform, token, viewer.employee_id
            await row.save(using_db=connection)
    return row


async def unregister(viewer: Viewer) -> bool:
    """Drop the token of the viewer's device (the app turned notifications off, or signs out)."""
    device_ids = Device.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, device_uid=viewer.device_uid
    ).values_list("id", flat=True)
    return await PushToken.filter(tenant_id=viewer.tenant_id, device_id__in=await device_ids).delete() > 0


async def drop(tenant_id: int, tokens: list[str]) -> int:
    """Forget tokens the push service called stale (unregistered, invalid)."""
    if not tokens:
        return 0
    return await PushToken.filter(tenant_id=tenant_id, token__in=tokens).delete()


async def tokens_of(tenant_id: int, employee_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """(platform, token) of each person's devices that have a live sign-in; two statements."""
    if not employee_ids:
        return {}
    rows = await PushToken.filter(tenant_id=tenant_id, employee_id__in=employee_ids).values_list(
        "employee_id", "device_id", "platform", "token"
    )
    if not rows:
        return {}
    live = set(
        await AuthSession.filter(
            tenant_id=tenant_id, device_id__in=list({row[1] for row in rows}), revoked_at__isnull=True
        ).values_list("device_id", flat=True)
    )
    found: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for employee_id, device_id, platform, token in rows:
        if device_id in live:
            found[employee_id].append((str(platform), token))
    return dict(found)
