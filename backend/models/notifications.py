"""Notifications: what the system tells a person, the outbox that carries it beyond the app, and
how each company and person wants to be told.

A ``notification`` is one event told to one person (``event_key`` names the event, unique per
recipient: a fact written twice, a job run twice, notifies once). It is the in-app inbox row,
carried to the recipient's phones by the sync feed; ``read_at`` is set by a NOTIFICATIONS_READ
record, so reading on one phone marks it read on the others.

A notification row is also the outbox: written in the same transaction as the fact that caused
it, it waits (``dispatched_at`` null) until a worker chooses its channels beyond the app (the
company's channels less what the person muted) and writes a ``notification_delivery`` row per
channel, in one transaction. The worker claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), sends them, and marks them SENT,
or schedules a retry with exponential backoff, or DEAD after the last attempt with the reason.
The unique (notification, channel) key is what makes a delivery happen at most once per (event,
person, channel).
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.people import Device, Employee


class NotificationKind(StrEnum):
    """What happened (docs/notifications.md lists who is told of each)."""

    ENROLLMENT_REQUESTED = "ENROLLMENT_REQUESTED"  # to the approver
    ENROLLMENT_APPROVED = "ENROLLMENT_APPROVED"
    ENROLLMENT_REJECTED = "ENROLLMENT_REJECTED"
    ENROLLMENT_PROMOTED = "ENROLLMENT_PROMOTED"  # from the waiting list to a seat
    SESSION_TOMORROW = "SESSION_TOMORROW"  # instructor and enrolled
    SESSION_SOON = "SESSION_SOON"  # in one hour
    SESSION_CANCELLED = "SESSION_CANCELLED"
    SESSION_MOVED = "SESSION_MOVED"  # new time or place
    QUIZ_GRADED = "QUIZ_GRADED"  # graded by a person
    PRACTICE_CONFIRMED = "PRACTICE_CONFIRMED"
    PRACTICE_RETURNED = "PRACTICE_RETURNED"
    EVALUATION_SUBMITTED = "EVALUATION_SUBMITTED"
    PENDING_CREDIT_DECIDED = "PENDING_CREDIT_DECIDED"
    REDEMPTION_DECIDED = "REDEMPTION_DECIDED"
    CREDIT_TARGET_AT_RISK = "CREDIT_TARGET_AT_RISK"
    ASSIGNMENT_NEW = "ASSIGNMENT_NEW"
    ASSIGNMENT_DUE_SOON = "ASSIGNMENT_DUE_SOON"
    ASSIGNMENT_OVERDUE = "ASSIGNMENT_OVERDUE"  # to the employee
    ASSIGNMENT_ESCALATED = "ASSIGNMENT_ESCALATED"  # to the manager: a report's assignment is overdue
    EVIDENCE_MISSING = "EVIDENCE_MISSING"  # a record names evidence whose upload never finished
    CERTIFICATE_ISSUED = "CERTIFICATE_ISSUED"  # to the holder
    CERTIFICATE_EXPIRING = "CERTIFICATE_EXPIRING"  # to the holder, 30 and 7 days before
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"  # to the holder


class DeliveryChannel(StrEnum):
    """Where a notification goes beyond the in-app inbox (backend/services/notifications/channels)."""

    EMAIL = "EMAIL"
    PUSH = "PUSH"  # FCM / APNs, to the recipient's registered devices
    WECOM = "WECOM"  # 企业微信 group robot
    DINGTALK = "DINGTALK"  # 钉钉 group robot
    FEISHU = "FEISHU"  # 飞书 group robot
    WEBHOOK = "WEBHOOK"  # the company's own systems, HMAC-SHA256 signed


class DeliveryStatus(StrEnum):
    """PENDING (due at ``next_attempt_at``), SENDING (claimed by a worker until ``lease_until``),
    SENT, DEAD (gave up: ``last_error`` says why), SKIPPED (no longer worth sending: the recipient
    has no address on the channel, muted it since, or the moment passed)."""

    PENDING = "PENDING"
    SENDING = "SENDING"
    SENT = "SENT"
    DEAD = "DEAD"
    SKIPPED = "SKIPPED"


class Notification(TenantModel):
    """One event told to one person: the in-app inbox row."""

    id = fields.BigIntField(primary_key=True)
    recipient: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    recipient_id: int
    kind = fields.CharEnumField(NotificationKind, max_length=32)
    event_key = fields.CharField(max_length=200)  # names the event; one notification per recipient
    # What fills the kind's template: names, titles, times (ISO 8601), counts. Never a secret.
    params: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    subject_id = fields.CharField(max_length=100, null=True)  # global ID of what it is about (a deep link)
    expires_at = fields.DatetimeField(null=True)  # after this, outbound deliveries are skipped
    read_at = fields.DatetimeField(null=True)
    # When the worker chose its outbound channels (wrote its deliveries); null until then.
    dispatched_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification"
        unique_together = (("tenant", "recipient", "event_key"),)
        indexes = (("tenant_id", "recipient_id", "id"), ("dispatched_at", "id"))


class NotificationDelivery(TenantModel):
    """The outbox: one notification on one channel."""

    id = fields.BigIntField(primary_key=True)
    notification: fields.ForeignKeyRelation[Notification] = fields.ForeignKeyField(
        "xuefen.Notification", related_name=False, on_delete=fields.CASCADE
    )
    notification_id: int
    channel = fields.CharEnumField(DeliveryChannel, max_length=16)
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, default="")
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "notification_delivery"
        unique_together = (("notification", "channel"),)
        indexes = (("status", "next_attempt_at"), ("tenant_id", "status", "id"))


class NotificationChannelConfig(TenantModel):
    """A company's settings for one outbound channel: ``settings`` holds what the channel needs
    (SMTP host and sender, a robot's webhook URL and signing secret, push credentials). Secrets are
    written by HR and never read back through the API."""

    id = fields.IntField(primary_key=True)
    channel = fields.CharEnumField(DeliveryChannel, max_length=16)
    enabled = fields.BooleanField(default=True)
    settings: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # The kinds sent on this channel; null: the channel's default (every kind, but a group robot
    # only the kinds for approvers and managers: a group chat is no place for 10,000 reminders).
    kinds: fields.JSONField[list[str] | None] = fields.JSONField(null=True)
    version = fields.IntField(default=0)

    class Meta:
        table = "notification_channel_config"
        unique_together = (("tenant", "channel"),)


class NotificationPreference(TenantModel):
    """How one person wants to be told: ``muted`` {kind: [channel, …]} (a kind muted on a channel
    is not sent there; "IN_APP" is never muted), quiet hours as minutes after local midnight in
    the person's site time zone (start == end: none), and a version (write-if-version, like the
    app settings)."""

    id = fields.IntField(primary_key=True)
    employee: fields.OneToOneRelation[Employee] = fields.OneToOneField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    muted: fields.JSONField[dict[str, list[str]]] = fields.JSONField(default=dict)
    quiet_start_minute = fields.SmallIntField(default=22 * 60)
    quiet_end_minute = fields.SmallIntField(default=8 * 60)
    version = fields.IntField(default=0)

    class Meta:
        table = "notification_preference"


class NotificationTemplate(TenantModel):
    """A company's own wording of one kind in one language, over the built-in template
    (backend/services/notifications/templates.py). ``{placeholders}`` are the kind's params."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(NotificationKind, max_length=32)
    locale = fields.CharField(max_length=16)
    title = fields.CharField(max_length=200)
    body = fields.CharField(max_length=2000)

    class Meta:
        table = "notification_template"
        unique_together = (("tenant", "kind", "locale"),)


class PushPlatform(StrEnum):
    FCM = "FCM"
    APNS = "APNS"


class PushToken(TenantModel):
    """A device's push token, registered by the app after sign-in (one per device)."""

    id = fields.IntField(primary_key=True)
    device: fields.OneToOneRelation[Device] = fields.OneToOneField(
        "xuefen.Device", related_name=False, on_delete=fields.CASCADE
    )
    device_id: int
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    platform = fields.CharEnumField(PushPlatform, max_length=8)
    token = fields.CharField(max_length=4096)

    class Meta:
        table = "push_token"
        indexes = (("tenant_id", "employee_id"),)


class ScheduledJobRun(TenantModel):
    """When a scheduled job (session reminders, overdue checks, the integrity scan) last ran for a
    company, so that several workers run it once per period: a worker claims the run by a
    conditional update of ``due_at``."""

    id = fields.IntField(primary_key=True)
    job = fields.CharField(max_length=64)
    due_at = fields.DatetimeField()  # when it is next due
    last_started_at = fields.DatetimeField(null=True)
    last_finished_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, default="")

    class Meta:
        table = "scheduled_job_run"
        unique_together = (("tenant", "job"),)
