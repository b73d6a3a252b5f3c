"""The one explicit list of outbound channels: ``CHANNELS[channel]`` is the ``Channel`` that sends
on it (tests/test_notification_channels.py fails when a ``DeliveryChannel`` has no entry)."""

from __future__ import annotations

from backend.models import DeliveryChannel
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
