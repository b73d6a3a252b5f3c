"""Integrity types: alerts with their evidence and explanations, HR's decision, and the company's
detector settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from backend import models
from backend.ids import to_global_id
from backend.models import IntegrityAlertKind, IntegrityAlertStatus, IntegritySeverity
from backend.services.credits.ledger import from_tenths
from backend.services.integrity.decisions import Decision
from backend.services.integrity.registry import DETECTORS
from backend.services.integrity.settings import CompanySettings
from backend.services.people.devices import device_tag
from schema.common import UserError
from schema.people.types import Colleague, colleague_of

# The domain enums are the GraphQL enums: strawberry.enum registers each one in place.
strawberry.enum(
    IntegrityAlertKind,
    name="IntegrityAlertKind",
    description="What a detector saw: FARMING_BURST (activity at a pace no person keeps), QUIZ_TOO_FAST "
    "(attempts far faster than peers), ANSWER_SHARING (identical answers, wrong ones included, across people), "
    "LENIENT_MENTOR (scores or confirmations far above peers'), RECIPROCAL_CONFIRMATION (people confirming each "
    "other's practice, or a pair out of line), CODE_SHARING (a check-in code used far from the site or from each "
    "other), SHARED_DEVICE (one phone, several people's credits), IMPOSSIBLE_TRAVEL (two places too far apart "
    "for the time between them), CLOCK_TAMPERING (a clock jumping back and forth, records backdated in bulk).",
)
strawberry.enum(
    IntegrityAlertStatus,
    name="IntegrityAlertStatus",
    description="OPEN (credits held, waiting for HR), RELEASED (credits posted), REVERSED (held credits "
    "reversed) or DISMISSED (a false positive: credits posted, pattern not raised again).",
)
strawberry.enum(IntegritySeverity, name="IntegritySeverity", description="How far past its threshold the alert is.")
strawberry.enum(
    Decision,
    name="IntegrityDecision",
    description="RELEASE (the held credits post), REVERSE (each held entry is reversed, the alert as reason; a "
    "note is required) or DISMISS (a false positive: credits released, this pattern no longer raised; thresholds "
    "may be tuned at once).",
)


@strawberry.enum(description="A language an explanation is written in.")
class ExplanationLanguage(Enum):
    ZH_CN = "zh-CN"
    EN = "en"


@strawberry.type(description="An alert's explanation in one language.")
class IntegrityExplanation:
    language: ExplanationLanguage = strawberry.field(description="The language.")
    text: str = strawberry.field(description="A plain-language sentence with the figures that triggered it.")


@strawberry.type(description="One fact an alert points at: its type and ID, to open it.")
class IntegrityEvidence:
    type: str = strawberry.field(
        description="ActivityRecord or MentorEvaluation (its UUID), or QuizAttempt, Attendance, PracticeLog or "
        "CreditEntry (a global ID)."
    )
    id: strawberry.ID = strawberry.field(description="The UUID, or the row's global ID.")


_RECORD_TYPES = {"ActivityRecord"}  # ids that are UUIDs already; the rest are rows with global IDs


def _evidence(item: dict[str, Any]) -> IntegrityEvidence:
    kind, raw = str(item.get("type", "")), str(item.get("id", ""))
    if kind in _RECORD_TYPES or not raw.isdigit():
        return IntegrityEvidence(type=kind, id=strawberry.ID(raw))
    return IntegrityEvidence(type=kind, id=strawberry.ID(to_global_id(kind, int(raw))))


@strawberry.type(description="Suspected credit gaming, with evidence; the credits at stake are held until HR decides.")
class IntegrityAlert:
    id: strawberry.ID = strawberry.field(description="Global ID of the alert (alertId when deciding).")
    kind: IntegrityAlertKind = strawberry.field(description="What was seen.")
    severity: IntegritySeverity = strawberry.field(description="How far past its threshold.")
    status: IntegrityAlertStatus = strawberry.field(description="Where the review stands.")
    explanation: str = strawberry.field(description="What was seen, in the caller's language.")
    explanations: list[IntegrityExplanation] = strawberry.field(description="The explanation in zh-CN and en.")
    figures: JSON = strawberry.field(description="The figures that triggered it (counts, times, distances).")
    evidence: list[IntegrityEvidence] = strawberry.field(description="The records behind it (at most 200).")
    held_credits: Decimal = strawberry.field(description="Credits held by the alert now (0 once decided).")
    device_tag: str | None = strawberry.field(description="The device's tag (as device lists show it), if any.")
    first_at: datetime = strawberry.field(description="When the first fact it is about happened.")
    last_at: datetime = strawberry.field(description="When the last fact it is about happened.")
    detected_at: datetime = strawberry.field(description="When it was raised.")
    source: str = strawberry.field(description="INGEST (raised while a push was applied) or SCAN (the periodic job).")
    decided_at: datetime | None = strawberry.field(description="When HR decided; null while open.")
    decision_note: str = strawberry.field(description="HR's note on the decision.")
    _row: strawberry.Private[models.IntegrityAlert]

    @strawberry.field(description="The person it is about (the mentor, for LENIENT_MENTOR).")
    async def employee(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._row.employee_id)

    @strawberry.field(description="The other person of a pair (a partner, a reviewer), if any.")
    async def other_employee(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._row.other_employee_id)

    @strawberry.field(description="The HR admin who decided; null while open.")
    async def decided_by(self, info: strawberry.Info) -> Colleague | None:
        return await colleague_of(info, self._row.decided_by_id)

    @classmethod
    def of(cls, row: models.IntegrityAlert, locale: str, secret: str) -> IntegrityAlert:
        detector = DETECTORS[row.kind]
        evidence: dict[str, Any] = row.evidence if isinstance(row.evidence, dict) else {}
        figures: Any = evidence.get("figures") or {}
        name = str(evidence.get("explanation", ""))
        return cls(
            id=strawberry.ID(to_global_id("IntegrityAlert", row.id)),
            kind=row.kind,
            severity=row.severity,
            status=row.status,
            explanation=detector.explain(name, figures, locale),
            explanations=[
                IntegrityExplanation(language=language, text=detector.explain(name, figures, language.value))
                for language in ExplanationLanguage
            ],
            figures=figures,
            evidence=[_evidence(item) for item in evidence.get("records", []) if isinstance(item, dict)],
            held_credits=from_tenths(row.held),
            device_tag=device_tag(secret, row.tenant_id, row.device_uid) if row.device_uid else None,
            first_at=row.first_at,
            last_at=row.last_at,
            detected_at=row.detected_at,
            source=row.source,
            decided_at=row.decided_at,
            decision_note=row.decision_note,
            _row=row,
        )


@strawberry.input(description="Conditions narrowing the alerts; every one given must hold.")
class IntegrityAlertFilter:
    kind: IntegrityAlertKind | None = strawberry.field(default=None, description="Of this kind.")
    status: IntegrityAlertStatus | None = strawberry.field(default=None, description="In this status.")
    org_unit_id: strawberry.ID | None = strawberry.field(
        default=None, description="About people of this org unit's subtree (where they are now)."
    )
    employee_id: strawberry.ID | None = strawberry.field(default=None, description="About this employee.")
    from_: datetime | None = strawberry.field(default=None, name="from", description="Raised at or after this time.")
    to: datetime | None = strawberry.field(default=None, description="Raised before this time; after `from`.")


@strawberry.input(description="A threshold value to set.")
class IntegrityThresholdInput:
    kind: IntegrityAlertKind = strawberry.field(description="The detector.")
    name: str = strawberry.field(description="The threshold's name, as integritySettings lists it.")
    value: float = strawberry.field(description="The value, within the threshold's bounds.")


@strawberry.input(description="HR's decision on an alert.")
class DecideIntegrityAlertInput:
    alert_id: strawberry.ID = strawberry.field(description="Global ID of the alert.")
    decision: Decision = strawberry.field(description="RELEASE, REVERSE or DISMISS.")
    note: str | None = strawberry.field(default=None, description="Why (required to REVERSE); at most 300 characters.")
    tune: list[IntegrityThresholdInput] | None = strawberry.field(
        default=None, description="With DISMISS only: thresholds of the alert's kind to change at once."
    )


@strawberry.type(description="Result of decideIntegrityAlert.")
class IntegrityAlertPayload:
    alert: IntegrityAlert | None = strawberry.field(description="The alert after the decision.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")


@strawberry.type(description="One threshold of a detector.")
class IntegrityThreshold:
    name: str = strawberry.field(description="Its name (what IntegrityThresholdInput.name takes).")
    label: str = strawberry.field(description="What it means, in the caller's language.")
    value: float = strawberry.field(description="The value in force.")
    default: float = strawberry.field(description="The value without a company setting.")
    minimum: float = strawberry.field(description="The smallest value allowed.")
    maximum: float = strawberry.field(description="The largest value allowed.")
    integer: bool = strawberry.field(description="Whether only whole numbers are allowed.")


@strawberry.type(description="One detector's settings.")
class IntegrityDetectorSettings:
    kind: IntegrityAlertKind = strawberry.field(description="The detector.")
    enabled: bool = strawberry.field(description="Whether it raises alerts.")
    thresholds: list[IntegrityThreshold] = strawberry.field(description="Its thresholds.")


@strawberry.type(description="The company's detector settings.")
class IntegritySettings:
    version: int = strawberry.field(description="Changes on every update (send it back to update).")
    detectors: list[IntegrityDetectorSettings] = strawberry.field(description="Every detector, in a fixed order.")

    @classmethod
    def of(cls, settings: CompanySettings, locale: str) -> IntegritySettings:
        return cls(
            version=settings.version,
            detectors=[
                IntegrityDetectorSettings(
                    kind=kind,
                    enabled=settings.enabled(kind),
                    thresholds=[
                        IntegrityThreshold(
                            name=t.name,
                            label=(detector.messages.get(f"threshold.{t.name}") or {}).get(locale, t.name),
                            value=settings.limits[kind][t.name],
                            default=t.default,
                            minimum=t.minimum,
                            maximum=t.maximum,
                            integer=t.integer,
                        )
                        for t in detector.thresholds
                    ],
                )
                for kind, detector in DETECTORS.items()
            ],
        )


@strawberry.input(description="Changes to the company's detector settings.")
class UpdateIntegritySettingsInput:
    version: int | None = strawberry.field(
        default=None, description="The version read; VERSION_CONFLICT when someone changed them since."
    )
    thresholds: list[IntegrityThresholdInput] = strawberry.field(default_factory=list, description="Thresholds to set.")
    disabled_kinds: list[IntegrityAlertKind] | None = strawberry.field(
        default=None, description="When given: exactly the detectors switched off."
    )


@strawberry.type(description="Result of updateIntegritySettings.")
class IntegritySettingsPayload:
    settings: IntegritySettings | None = strawberry.field(description="The settings after the change.")
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")
