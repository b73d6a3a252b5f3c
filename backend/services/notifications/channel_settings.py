"""A company's outbound channels (HR admins): which are on, and the settings each needs.

Settings are checked by the channel itself (``check_settings``: no network) before they are
stored. Secrets (an SMTP password, a robot's signing secret, push credentials) are write-only:
read back only as "set", kept as they are when a change leaves them out, and never written to the
audit log. ``send_test`` sends one message to the HR admin now, so a wrong address or secret shows
at once rather than as a dead letter hours later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import (
    DeliveryChannel,
    Employee,
    NotificationChannelConfig,
    NotificationKind,
    PushToken,
    Role,
    Tenant,
)
from backend.services.audit import audit
from backend.services.notifications.channels.addresses import outbound_client
from backend.services.notifications.channels.base import DeliveryFailed, OutboundMessage, Recipient, Transport
from backend.services.notifications.channels.registry import CHANNELS, kinds_carried
from backend.services.viewer import Viewer


@dataclass(frozen=True)
class ChannelView:
    """One channel as HR sees it: public settings in full, secrets only as whether they are set."""

    channel: DeliveryChannel
    configured: bool
    enabled: bool
    settings: dict[str, Any]
    secrets_set: tuple[str, ...]
    version: int
    kinds: tuple[str, ...]  # the kinds it carries (HR's choice, else the channel's default)
    kinds_chosen: bool


def view_of(channel: DeliveryChannel, row: NotificationChannelConfig | None) -> ChannelView:
    if row is None:
        return ChannelView(channel, False, False, {}, (), 0, tuple(sorted(kinds_carried(channel, None))), False)
    secret = set(CHANNELS[channel].secret_fields())
    stored = row.settings or {}
    public = {name: value for name, value in stored.items() if name not in secret}
    return ChannelView(
        channel,
        True,
        row.enabled,
        public,
        tuple(sorted(n for n in secret if stored.get(n))),
        row.version,
        tuple(sorted(kinds_carried(channel, row.kinds))),
        row.kinds is not None,
    )


async def channels_of(viewer: Viewer) -> list[ChannelView]:
    """Every channel of the company, configured or not (HR admins)."""
    viewer.require_role(Role.HR_ADMIN)
    rows = {row.channel: row for row in await NotificationChannelConfig.filter(tenant_id=viewer.tenant_id)}
    return [view_of(channel, rows.get(channel)) for channel in DeliveryChannel]


async def configure(
    viewer: Viewer,
    channel: DeliveryChannel,
    enabled: bool,
    settings: dict[str, Any],
    version: int,
    kinds: list[NotificationKind] | None = None,
) -> ChannelView:
    """Write a channel's settings if ``version`` is still current (0: not configured yet). A secret
    left out keeps its stored value. ``kinds``: the kinds it carries (None: the channel's
    default, ``channels.registry.default_kinds``)."""
    viewer.require_role(Role.HR_ADMIN)
    handler = CHANNELS[channel]
    if not isinstance(settings, dict):
        raise DomainError(ErrorCode.VALIDATION, field="settings", reason_key="reason.field", name="settings")
    async with in_transaction() as connection:
        row = (
            await NotificationChannelConfig.filter(tenant_id=viewer.tenant_id, channel=channel)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if (row.version if row else 0) != version:
            raise DomainError(ErrorCode.VERSION_CONFLICT)
        stored = (row.settings or {}) if row is not None else {}
        merged = dict(settings)
        kept = [name for name in handler.secret_fields() if merged.get(name) in (None, "") and stored.get(name)]
        for name in kept:
            merged[name] = stored[name]
        checked = handler.check_settings(merged)
        chosen = sorted({kind.value for kind in kinds}) if kinds is not None else None
        # A kept secret goes only where it went: a new SMTP host or push API base needs it typed again.
        destinations = handler.secret_destinations()
        for name in kept:
            if any(checked.get(where) != stored.get(where) for where in destinations.get(name, ())):
                raise DomainError(
                    ErrorCode.VALIDATION, field=f"settings.{name}", reason_key="reason.secret_again", name=name
                )
        if row is None:
            row = await NotificationChannelConfig.create(
                tenant_id=viewer.tenant_id,
                channel=channel,
                enabled=enabled,
                settings=checked,
                kinds=chosen,
                version=1,
                using_db=connection,
            )
            # Two first writes at once: the unique (tenant, channel) key refuses the second.
        else:
            row.enabled, row.settings, row.kinds, row.version = enabled, checked, chosen, row.version + 1
            await row.save(using_db=connection)
        shown = view_of(channel, row)
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "notifications.channel.configure",
            "NotificationChannelConfig",
            row.id,
            {
                "channel": channel.value,
                "enabled": enabled,
                "settings": shown.settings,
                "secrets": shown.secrets_set,
                "kinds": chosen,
            },
        )
    return shown


async def send_test(viewer: Viewer, channel: DeliveryChannel, settings: Settings) -> str | None:
    """Send one test message to the HR admin on ``channel`` with the stored settings, now. Answers
    None when it was accepted, else the reason (as a dead letter would show it)."""
    viewer.require_role(Role.HR_ADMIN)
    row = await NotificationChannelConfig.get_or_none(tenant_id=viewer.tenant_id, channel=channel)
    if row is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    me = await Employee.get(tenant_id=viewer.tenant_id, id=viewer.employee_id)
    tenant = await Tenant.get(id=viewer.tenant_id)
    tokens = await PushToken.filter(tenant_id=viewer.tenant_id, employee_id=me.id).values_list("platform", "token")
    recipient = Recipient(
        me.id, me.employee_no, me.name, me.email, me.phone, tuple((str(p), str(t)) for p, t in tokens)
    )
    handler = CHANNELS[channel]
    if not handler.addressable(recipient, row.settings):
        return "not addressable: no address for you on this channel"
    message = OutboundMessage(
        delivery_id=0,
        tenant_code=tenant.code,
        kind=NotificationKind.ASSIGNMENT_NEW.value,
        title="学分 Xuefen 测试消息 / test message",
        body="通知渠道配置正确。The notification channel works.",
        locale="zh-CN",
        recipient=recipient,
        created_at=datetime.now(UTC),
    )
    allow_private = settings.notify_allow_private_hosts
    async with outbound_client(
        allow_private_hosts=allow_private, timeout_seconds=settings.notify_timeout_seconds
    ) as http:
        transport = Transport(http, settings.notify_timeout_seconds, settings.notify_allow_private_hosts)
        try:
            await handler.send(message, row.settings, transport)
        except DeliveryFailed as failure:
            return failure.reason
    return None
