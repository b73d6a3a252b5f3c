"""Credit integrity: alerts raised by the detectors of credit gaming ("刷学分"), the credits each
one holds until an HR admin decides, and a company's detector settings.

An alert names one person (``employee``: whose behaviour it is about, a mentor for LENIENT_MENTOR),
optionally a second person and a device, the evidence and figures that triggered it, and the
credits it holds. ``alert_key`` names the occurrence (unique per company, so a rescan never
raises it twice); ``pattern_key`` names the pattern, which a dismissal stops from recurring.

A hold (``credit_hold``) takes one posted EARN entry's credits out of the spendable balance by a
HOLD ledger entry; the decision releases them (a RELEASE entry) or reverses the EARN entry
(a REVERSAL, with the RELEASE of the hold). An entry is held at most once, ever: what a person
released stays released.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.credits import CreditEntry
    from backend.models.people import Employee


class IntegrityAlertKind(StrEnum):
    """What a detector saw (docs/integrity.md explains each)."""

    FARMING_BURST = "FARMING_BURST"
    QUIZ_TOO_FAST = "QUIZ_TOO_FAST"
    ANSWER_SHARING = "ANSWER_SHARING"
    LENIENT_MENTOR = "LENIENT_MENTOR"
    RECIPROCAL_CONFIRMATION = "RECIPROCAL_CONFIRMATION"
    CODE_SHARING = "CODE_SHARING"
    SHARED_DEVICE = "SHARED_DEVICE"
    IMPOSSIBLE_TRAVEL = "IMPOSSIBLE_TRAVEL"
    CLOCK_TAMPERING = "CLOCK_TAMPERING"


class IntegrityAlertStatus(StrEnum):
    """OPEN until an HR admin decides: RELEASED (the credits post), REVERSED (a reversal entry
    names the alert) or DISMISSED (a false positive: credits released, pattern no longer raised)."""

    OPEN = "OPEN"
    RELEASED = "RELEASED"
    REVERSED = "REVERSED"
    DISMISSED = "DISMISSED"


class IntegritySeverity(StrEnum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class IntegrityAlert(TenantModel):
    """One occurrence of suspected credit gaming, with its evidence, waiting for HR."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharEnumField(IntegrityAlertKind, max_length=32)
    alert_key = fields.CharField(max_length=200)
    pattern_key = fields.CharField(max_length=200)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    # The other person of a pair (a reciprocal confirmer, the mentor of a pair), if any.
    other_employee: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    other_employee_id: int | None
    device_uid = fields.CharField(max_length=128, null=True)
    severity = fields.CharEnumField(IntegritySeverity, max_length=8)
    # {"figures": {...}, "records": [{"type": ..., "id": ...}, ...]}: what triggered it, linkable.
    evidence: fields.JSONField[dict[str, Any]] = fields.JSONField()
    first_at = fields.DatetimeField()  # when the facts it is about happened: first and last
    last_at = fields.DatetimeField()
    detected_at = fields.DatetimeField()
    source = fields.CharField(max_length=8)  # INGEST (in the push's transaction) or SCAN
    status = fields.CharEnumField(IntegrityAlertStatus, max_length=16, default=IntegrityAlertStatus.OPEN)
    held = fields.BigIntField(default=0)  # tenths held now
    decided_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: int | None
    decided_at = fields.DatetimeField(null=True)
    decision_note = fields.CharField(max_length=300, default="")

    class Meta:
        table = "integrity_alert"
        unique_together = (("tenant", "alert_key"),)
        indexes = (
            ("tenant_id", "status", "id"),
            ("tenant_id", "pattern_key"),
            ("tenant_id", "employee_id"),
        )


class CreditHoldStatus(StrEnum):
    HELD = "HELD"
    RELEASED = "RELEASED"
    REVERSED = "REVERSED"


class CreditHold(TenantModel):
    """One EARN entry held by an alert: ``amount`` tenths were moved out of the balance by the
    HOLD entry (less than the entry when part of it was already spent)."""

    id = fields.IntField(primary_key=True)
    alert: fields.ForeignKeyRelation[IntegrityAlert] = fields.ForeignKeyField(
        "xuefen.IntegrityAlert", related_name=False, on_delete=fields.RESTRICT
    )
    alert_id: int
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.RESTRICT
    )
    employee_id: int
    entry: fields.ForeignKeyRelation[CreditEntry] = fields.ForeignKeyField(
        "xuefen.CreditEntry", related_name=False, on_delete=fields.RESTRICT
    )
    entry_id: int
    amount = fields.BigIntField()
    status = fields.CharEnumField(CreditHoldStatus, max_length=16, default=CreditHoldStatus.HELD)

    class Meta:
        table = "credit_hold"
        unique_together = (("tenant", "entry"),)
        indexes = (("tenant_id", "alert_id"),)


class IntegritySettings(TenantModel):
    """A company's detector settings: ``thresholds`` {kind: {name: value}} over the defaults of
    each detector (backend/services/integrity/registry.py), ``disabled`` kinds."""

    id = fields.IntField(primary_key=True)
    thresholds: fields.JSONField[dict[str, dict[str, float]]] = fields.JSONField(default=dict)
    disabled: fields.JSONField[list[str]] = fields.JSONField(default=list)
    version = fields.IntField(default=0)

    class Meta:
        table = "integrity_settings"
        unique_together = (("tenant",),)
