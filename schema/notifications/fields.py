"""Notification fields: the inbox (``notifications``, ``markNotificationsRead``), preferences, push
tokens, and HR's channels and wordings. Thin: they call backend.services.notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, cast

import strawberry

from backend.models import DeliveryChannel, Employee, Role
from backend.services.notifications import channel_settings, inbox, outbox, preferences, push_tokens, templates
from backend.services.people import directory
from backend.services.viewer import Viewer
from schema.connection import Connection, selects
from schema.ids import expect_global_id
from schema.notifications.types import (
    ConfigureNotificationChannelInput,
    MarkNotificationsReadInput,
    Notification,
    NotificationChannel,
    NotificationChannelPayload,
    NotificationChannelTestPayload,
    NotificationConnection,
    NotificationDelivery,
    NotificationDeliveryPayload,
    NotificationPreferences,
    NotificationPreferencesPayload,
    NotificationTemplate,
    NotificationTemplatePayload,
    PushTokenPayload,
    RegisterPushTokenInput,
    SetNotificationTemplateInput,
    UpdateNotificationPreferencesInput,
    muted_map,
)
from schema.payloads import mutate
from schema.sync.records import RecordPayload, submit_record


async def _recipients(tenant_id: int, ids: list[int]) -> dict[int, Employee]:
    return cast(dict[int, Employee], await directory.rows_by_id(Employee, tenant_id, ids))


@strawberry.type
class NotificationQueries:
    @strawberry.field(
        description="The viewer's notifications, newest first, in their language and time zone (Relay connection). "
        "The sync feed carries the same rows (NOTIFICATION) for offline use."
    )
    async def notifications(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 20,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        unread_only: Annotated[bool, strawberry.argument(description="Only notifications not read yet.")] = False,
    ) -> NotificationConnection:
        viewer = await info.context.require_viewer()
        page = await inbox.inbox_page(viewer, first, after, unread_only, info.context.settings.max_page_size)
        reader = await inbox.reader_of(viewer.tenant_id, viewer.employee_id, info.context.locale)
        unread = await inbox.unread_count(viewer) if selects(info, "unreadCount") else 0
        return NotificationConnection.from_page(
            page, lambda row: Notification.of(reader.show(row)), unread_count=unread
        )

    @strawberry.field(description="How the viewer wants to be told: kinds muted per channel, quiet hours.")
    async def notification_preferences(self, info: strawberry.Info) -> NotificationPreferences:
        viewer = await info.context.require_viewer()
        return NotificationPreferences.of(await preferences.preferences_of(viewer))

    @strawberry.field(description="The company's outbound channels, configured or not, secrets hidden (HR admins).")
    async def notification_channels(self, info: strawberry.Info) -> list[NotificationChannel]:
        viewer = await info.context.require_viewer()
        return [NotificationChannel.of(view) for view in await channel_settings.channels_of(viewer)]

    @strawberry.field(
        description="The company's dead letters, newest first: notifications no channel attempt could deliver, "
        "with the reason (HR admins; retryNotificationDelivery sends one again)."
    )
    async def notification_dead_letters(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
    ) -> Connection[NotificationDelivery]:
        viewer = await info.context.require_viewer()
        viewer.require_role(Role.HR_ADMIN)
        page = await outbox.dead_letters(viewer.tenant_id, first, after, info.context.settings.max_page_size)
        people = await _recipients(viewer.tenant_id, [row.notification.recipient_id for row in page.items])
        return Connection[NotificationDelivery].from_page(
            page, lambda row: NotificationDelivery.of(row, people.get(row.notification.recipient_id))
        )

    @strawberry.field(description="The company's own wordings of notification kinds (HR admins).")
    async def notification_templates(self, info: strawberry.Info) -> list[NotificationTemplate]:
        viewer = await info.context.require_viewer()
        return [NotificationTemplate.of(row) for row in await templates.templates_of(viewer)]


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(
        description="Mark notifications read (the NOTIFICATIONS_READ record kind, online): the ids given and/or "
        "everything up to throughId. Only the viewer's own; marking twice changes nothing. The viewer's other "
        "phones see it read on their next pull."
    )
    async def mark_notifications_read(
        self,
        info: strawberry.Info,
        input: Annotated[MarkNotificationsReadInput, strawberry.argument(description="What was read.")],
    ) -> RecordPayload:
        payload: dict[str, object] = {"ids": [str(i) for i in input.ids]}
        if input.through_id is not None:
            payload["throughId"] = str(input.through_id)
        return await submit_record(info, input.client_id, inbox.NOTIFICATIONS_READ, None, payload)

    @strawberry.mutation(
        description="Replace the viewer's notification preferences if baseVersion is still theirs "
        "(else VERSION_CONFLICT)."
    )
    async def update_notification_preferences(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateNotificationPreferencesInput, strawberry.argument(description="The preferences.")],
    ) -> NotificationPreferencesPayload:
        async def work(viewer: Viewer):
            return await preferences.update(
                viewer, input.base_version, muted_map(input.muted), input.quiet_start_minute, input.quiet_end_minute
            )

        def payload(row, errors) -> NotificationPreferencesPayload:
            return NotificationPreferencesPayload(
                preferences=NotificationPreferences.of(row) if row else None, errors=errors
            )

        return await mutate(info, work, payload)

    @strawberry.mutation(description="Register the push token of the device the viewer is signed in on.")
    async def register_push_token(
        self,
        info: strawberry.Info,
        input: Annotated[RegisterPushTokenInput, strawberry.argument(description="The token.")],
    ) -> PushTokenPayload:
        async def work(viewer: Viewer):
            return await push_tokens.register(viewer, input.platform, input.token)

        return await mutate(info, work, lambda row, errors: PushTokenPayload(registered=row is not None, errors=errors))

    @strawberry.mutation(description="Stop pushes to the device the viewer is signed in on.")
    async def unregister_push_token(self, info: strawberry.Info) -> PushTokenPayload:
        async def work(viewer: Viewer):
            return await push_tokens.unregister(viewer)

        return await mutate(info, work, lambda _, errors: PushTokenPayload(registered=False, errors=errors))

    @strawberry.mutation(
        description="Configure an outbound channel (HR admins): settings checked by the channel, secrets write-only, "
        "VERSION_CONFLICT when version is stale. Audited without secrets."
    )
    async def configure_notification_channel(
        self,
        info: strawberry.Info,
        input: Annotated[ConfigureNotificationChannelInput, strawberry.argument(description="The settings.")],
    ) -> NotificationChannelPayload:
        async def work(viewer: Viewer):
            settings = cast(dict[str, Any], input.settings)
            return await channel_settings.configure(
                viewer, input.channel, input.enabled, settings, input.version, input.kinds
            )

        def payload(view, errors) -> NotificationChannelPayload:
            return NotificationChannelPayload(channel=NotificationChannel.of(view) if view else None, errors=errors)

        return await mutate(info, work, payload)

    @strawberry.mutation(
        description="Send a test message on a configured channel to the HR admin now, with the stored settings."
    )
    async def test_notification_channel(
        self,
        info: strawberry.Info,
        channel: Annotated[DeliveryChannel, strawberry.argument(description="The channel.")],
    ) -> NotificationChannelTestPayload:
        async def work(viewer: Viewer):
            return (await channel_settings.send_test(viewer, channel, info.context.settings),)

        def payload(done, errors) -> NotificationChannelTestPayload:
            failure = done[0] if done else None
            return NotificationChannelTestPayload(
                delivered=done is not None and failure is None, failure=failure, errors=errors
            )

        return await mutate(info, work, payload)

    @strawberry.mutation(
        description="Send a dead letter again (HR admins): PENDING, due now, attempts counted from zero. Audited."
    )
    async def retry_notification_delivery(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the dead letter.")],
    ) -> NotificationDeliveryPayload:
        async def work(viewer: Viewer):
            viewer.require_role(Role.HR_ADMIN)
            delivery_id = expect_global_id(id, "NotificationDelivery", "id")
            row = await outbox.retry_delivery(viewer.tenant_id, delivery_id, datetime.now(UTC), viewer)
            people = await _recipients(viewer.tenant_id, [row.notification.recipient_id])
            return NotificationDelivery.of(row, people.get(row.notification.recipient_id))

        return await mutate(info, work, lambda done, errors: NotificationDeliveryPayload(delivery=done, errors=errors))

    @strawberry.mutation(
        description="Set the company's wording of a kind in a language, or go back to the built-in one "
        "(title and body null). Only the kind's {parameters} may be named. HR admins; audited."
    )
    async def set_notification_template(
        self,
        info: strawberry.Info,
        input: Annotated[SetNotificationTemplateInput, strawberry.argument(description="The wording.")],
    ) -> NotificationTemplatePayload:
        async def work(viewer: Viewer):
            return (await templates.set_template(viewer, input.kind, input.language, input.title, input.body),)

        def payload(done, errors) -> NotificationTemplatePayload:
            row = done[0] if done else None
            return NotificationTemplatePayload(template=NotificationTemplate.of(row) if row else None, errors=errors)

        return await mutate(info, work, payload)
