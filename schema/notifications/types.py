"""Notification types: the inbox, a person's preferences, and HR's channels, wordings and outbox."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from backend import models
from backend.ids import to_global_id
from backend.models import DeliveryChannel, DeliveryStatus, NotificationKind, PushPlatform
from backend.services.notifications.channel_settings import ChannelView
from backend.services.notifications.inbox import Shown
from backend.services.notifications.preferences import Preferences
from schema.common import UserError
from schema.connection import Connection
from schema.people.types import Colleague

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
strawberry.enum(
    NotificationKind,
    name="NotificationKind",
    description="What a notification tells (docs/notification-events.md: what triggers each and who is told).",
)
strawberry.enum(
    DeliveryChannel,
    name="DeliveryChannel",
    description="Where notifications go beyond the in-app inbox: EMAIL (SMTP), PUSH (FCM/APNs), WECOM, DINGTALK "
    "and FEISHU group robots, WEBHOOK (the company's own systems, HMAC-SHA256 signed).",
)
strawberry.enum(
    DeliveryStatus,
    name="DeliveryStatus",
    description="PENDING (due at nextAttemptAt), SENDING (claimed by a worker), SENT, DEAD (gave up after the last "
    "attempt: lastError says why) or SKIPPED (not worth sending any more: no address, muted, or too late).",
)
strawberry.enum(PushPlatform, name="PushPlatform", description="FCM (Android, and iOS through Firebase) or APNS.")


@strawberry.type(description="One notification in the viewer's inbox, in their language and time zone.")
class Notification:
    id: strawberry.ID = strawberry.field(description="Global ID (what markNotificationsRead takes).")
    kind: NotificationKind = strawberry.field(description="What it tells.")
    title: str = strawberry.field(description="A short title.")
    body: str = strawberry.field(description="The text, with names, times (in the viewer's zone) and figures.")
    params: JSON = strawberry.field(description="The values the text was made from, for an app that words its own.")
    subject_id: strawberry.ID | None = strawberry.field(
        description="Global ID of what it is about (a session, an enrollment, a plan assignment), to open it."
    )
    created_at: datetime = strawberry.field(description="When it was written (with the fact behind it).")
    read_at: datetime | None = strawberry.field(description="When the viewer read it, on any of their phones.")

    @classmethod
    def of(cls, shown: Shown) -> Notification:
        row = shown.row
        return cls(
            id=strawberry.ID(to_global_id("Notification", row.id)),
            kind=row.kind,
            title=shown.title,
            body=shown.body,
            params=cast(JSON, row.params or {}),
            subject_id=strawberry.ID(row.subject_id) if row.subject_id else None,
            created_at=row.created_at,
            read_at=row.read_at,
        )


@strawberry.type(name="NotificationConnection", description="A page of the viewer's notifications, newest first.")
class NotificationConnection(Connection[Notification]):
    unread_count: int = strawberry.field(description="How many of the viewer's notifications are unread (all pages).")


@strawberry.type(description="A kind the viewer does not want on some channels.")
class MutedKind:
    kind: NotificationKind = strawberry.field(description="The kind.")
    channels: list[DeliveryChannel] = strawberry.field(description="The channels it is not sent on.")


@strawberry.type(description="How the viewer wants to be told. The in-app inbox always has everything.")
class NotificationPreferences:
    muted: list[MutedKind] = strawberry.field(description="Kinds muted per channel.")
    quiet_start_minute: int = strawberry.field(
        description="Quiet hours start, minutes after local midnight in the viewer's site time zone (1320 = 22:00)."
    )
    quiet_end_minute: int = strawberry.field(
        description="Quiet hours end (480 = 08:00); equal to the start: no quiet hours. Outbound messages wait."
    )
    version: int = strawberry.field(description="Version, for updateNotificationPreferences (0: never changed).")

    @classmethod
    def of(cls, prefs: Preferences) -> NotificationPreferences:
        return cls(
            muted=[
                MutedKind(kind=NotificationKind(kind), channels=[DeliveryChannel(c) for c in channels])
                for kind, channels in sorted(prefs.muted.items())
            ],
            quiet_start_minute=prefs.quiet_start_minute,
            quiet_end_minute=prefs.quiet_end_minute,
            version=prefs.version,
        )


@strawberry.input(description="Kinds muted on some channels.")
class MutedKindInput:
    kind: NotificationKind = strawberry.field(description="The kind.")
    channels: list[DeliveryChannel] = strawberry.field(description="The channels not to send it on.")


@strawberry.input(description="The viewer's whole notification preferences (replacing the current ones).")
class UpdateNotificationPreferencesInput:
    base_version: int = strawberry.field(description="The version this change is based on (0: never changed).")
    muted: list[MutedKindInput] = strawberry.field(description="Kinds muted per channel (at most one entry a kind).")
    quiet_start_minute: int = strawberry.field(description="Quiet hours start: 0–1439 minutes after local midnight.")
    quiet_end_minute: int = strawberry.field(description="Quiet hours end: 0–1439; equal to the start: none.")


@strawberry.type(description="The viewer's notification preferences after the change.")
class NotificationPreferencesPayload:
    preferences: NotificationPreferences | None = strawberry.field(description="The preferences now.")
    errors: list[UserError] = strawberry.field(description="Expected failures (VERSION_CONFLICT, VALIDATION).")


@strawberry.input(description="Notifications the viewer has read.")
class MarkNotificationsReadInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Global IDs of notifications read (at most 500)."
    )
    through_id: strawberry.ID | None = strawberry.field(
        default=None, description="Also every notification up to and including this one (mark all read)."
    )


@strawberry.type(description="One outbound channel of the company (HR admins).")
class NotificationChannel:
    channel: DeliveryChannel = strawberry.field(description="The channel.")
    configured: bool = strawberry.field(description="Whether settings were ever saved.")
    enabled: bool = strawberry.field(description="Whether notifications are sent on it.")
    settings: JSON = strawberry.field(description="Its settings without the secrets (docs/notification-channels.md).")
    secrets_set: list[str] = strawberry.field(description="The secret settings that are set (never shown).")
    version: int = strawberry.field(description="Version, for configureNotificationChannel (0: never configured).")
    kinds: list[NotificationKind] = strawberry.field(
        description="The kinds sent on it: HR's choice, else the channel's default (every kind; a group robot only "
        "ENROLLMENT_REQUESTED and ASSIGNMENT_ESCALATED, the kinds for people who must act)."
    )
    kinds_chosen: bool = strawberry.field(description="Whether HR chose the kinds (false: the channel's default).")

    @classmethod
    def of(cls, view: ChannelView) -> NotificationChannel:
        return cls(
            channel=view.channel,
            configured=view.configured,
            enabled=view.enabled,
            settings=cast(JSON, view.settings),
            secrets_set=list(view.secrets_set),
            version=view.version,
            kinds=[NotificationKind(kind) for kind in view.kinds],
            kinds_chosen=view.kinds_chosen,
        )


@strawberry.input(description="A channel's settings (HR admins).")
class ConfigureNotificationChannelInput:
    channel: DeliveryChannel = strawberry.field(description="The channel.")
    enabled: bool = strawberry.field(description="Whether to send on it.")
    settings: JSON = strawberry.field(
        description="Its settings (docs/notification-channels.md); a secret left out or empty keeps its stored value."
    )
    version: int = strawberry.field(description="The version this change is based on (0: first configuration).")
    kinds: list[NotificationKind] | None = strawberry.field(
        default=None,
        description="The kinds to send on it; null: the channel's default (see NotificationChannel.kinds).",
    )


@strawberry.type(description="A channel after its configuration.")
class NotificationChannelPayload:
    channel: NotificationChannel | None = strawberry.field(description="The channel now.")
    errors: list[UserError] = strawberry.field(description="Expected failures (VALIDATION naming the setting).")


@strawberry.type(description="What a test message on a channel did.")
class NotificationChannelTestPayload:
    delivered: bool = strawberry.field(default=False, description="Whether the channel accepted the test message.")
    failure: str | None = strawberry.field(description="Why not, as a dead letter would say.")
    errors: list[UserError] = strawberry.field(description="Expected failures (NOT_FOUND: not configured).")


@strawberry.type(description="A company's own wording of a kind in one language.")
class NotificationTemplate:
    kind: NotificationKind = strawberry.field(description="The kind.")
    language: str = strawberry.field(description="zh-CN or en.")
    title: str = strawberry.field(description="The title; {names} are the kind's parameters.")
    body: str = strawberry.field(description="The text; {names} are the kind's parameters.")

    @classmethod
    def of(cls, row: models.NotificationTemplate) -> NotificationTemplate:
        return cls(kind=row.kind, language=row.locale, title=row.title, body=row.body)


@strawberry.input(description="A company's wording of a kind in a language; title and body null: built-in again.")
class SetNotificationTemplateInput:
    kind: NotificationKind = strawberry.field(description="The kind.")
    language: str = strawberry.field(description="zh-CN or en.")
    title: str | None = strawberry.field(default=None, description="The title (at most 200 characters).")
    body: str | None = strawberry.field(
        default=None, description="The text (at most 2000); may name the kind's parameters, as {session}."
    )


@strawberry.type(description="The wording after the change.")
class NotificationTemplatePayload:
    template: NotificationTemplate | None = strawberry.field(description="The company's wording; null: built-in.")
    errors: list[UserError] = strawberry.field(description="Expected failures (VALIDATION).")


@strawberry.input(description="The push token of the device the viewer is signed in on.")
class RegisterPushTokenInput:
    platform: PushPlatform = strawberry.field(description="FCM or APNS.")
    token: str = strawberry.field(description="The token the platform gave the app.")


@strawberry.type(description="Whether the push token is registered.")
class PushTokenPayload:
    registered: bool = strawberry.field(default=False, description="True when the device now receives pushes.")
    errors: list[UserError] = strawberry.field(description="Expected failures.")


def muted_map(given: list[MutedKindInput]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in given:
        found.setdefault(item.kind.value, []).extend(channel.value for channel in item.channels)
    return found


@strawberry.type(description="A notification on one outbound channel: HR's view of the outbox (dead letters).")
class NotificationDelivery:
    id: strawberry.ID = strawberry.field(description="Global ID (what retryNotificationDelivery takes).")
    channel: DeliveryChannel = strawberry.field(description="The channel.")
    status: DeliveryStatus = strawberry.field(description="Where it stands.")
    attempts: int = strawberry.field(description="Attempts made (since the last retry by HR).")
    last_error: str = strawberry.field(description="Why the last attempt failed (no secret, no personal data).")
    next_attempt_at: datetime = strawberry.field(description="When it is (or was) due.")
    sent_at: datetime | None = strawberry.field(description="When the channel accepted it.")
    kind: NotificationKind = strawberry.field(description="What the notification tells.")
    recipient: Colleague | None = strawberry.field(description="Whom it is for.")
    notified_at: datetime = strawberry.field(description="When the notification was written.")

    @classmethod
    def of(cls, row: models.NotificationDelivery, recipient: models.Employee | None) -> NotificationDelivery:
        return cls(
            id=strawberry.ID(to_global_id("NotificationDelivery", row.id)),
            channel=row.channel,
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            sent_at=row.sent_at,
            kind=row.notification.kind,
            recipient=Colleague.from_model(recipient) if recipient else None,
            notified_at=row.notification.created_at,
        )


@strawberry.type(description="A delivery after HR's retry.")
class NotificationDeliveryPayload:
    delivery: NotificationDelivery | None = strawberry.field(description="The delivery, PENDING again.")
    errors: list[UserError] = strawberry.field(
        description="Expected failures (NOT_FOUND; INVALID_STATUS_CHANGE when it is not a dead letter)."
    )
