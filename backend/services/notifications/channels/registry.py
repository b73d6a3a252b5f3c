"""The one explicit list of outbound channels: ``CHANNELS[channel]`` is the ``Channel`` that sends
on it (tests/test_notification_channels.py fails when a ``DeliveryChannel`` has no entry)."""

from __future__ import annotations

from backend.models import DeliveryChannel, NotificationKind
from backend.services.notifications.channels.base import Channel
from backend.services.notifications.channels.email import EmailChannel
from backend.services.notifications.channels.push import PushChannel
from backend.services.notifications.channels.robots import DingTalkRobot, FeishuRobot, WeComRobot
from backend.services.notifications.channels.webhook import WebhookChannel

CHANNELS: dict[DeliveryChannel, Channel] = {
    DeliveryChannel.EMAIL: EmailChannel(),
    DeliveryChannel.PUSH: PushChannel(),
    DeliveryChannel.WECOM: WeComRobot(),
    DeliveryChannel.DINGTALK: DingTalkRobot(),
    DeliveryChannel.FEISHU: FeishuRobot(),
    DeliveryChannel.WEBHOOK: WebhookChannel(),
}

# What a group robot carries until HR chooses otherwise: the kinds addressed to people who must act
# (an approver, a manager whose report is behind). A group chat is no place for every reminder of
# every person: a cancelled session of 10,000 would post 10,000 messages.
GROUP_KINDS: frozenset[NotificationKind] = frozenset(
    {NotificationKind.ENROLLMENT_REQUESTED, NotificationKind.ASSIGNMENT_ESCALATED}
)
_GROUP_CHANNELS = frozenset({DeliveryChannel.WECOM, DeliveryChannel.DINGTALK, DeliveryChannel.FEISHU})


def default_kinds(channel: DeliveryChannel) -> frozenset[NotificationKind]:
    """The kinds a company's channel carries when HR has not chosen (``kinds`` null)."""
    return GROUP_KINDS if channel in _GROUP_CHANNELS else frozenset(NotificationKind)


def kinds_carried(channel: DeliveryChannel, chosen: list[str] | None) -> frozenset[str]:
    """The kinds a channel carries: HR's choice, else the channel's default."""
    if chosen is None:
        return frozenset(kind.value for kind in default_kinds(channel))
    return frozenset(chosen)
