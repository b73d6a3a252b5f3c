"""What a detector is: a kind, its thresholds (company settings with defaults and bounds) and a
rule that turns facts into ``Finding``s.

A detector reads stored facts of a window in ``scan`` (the periodic job), and may judge what a
push noted in ``on_signals`` (in the push's own transaction: no reads). Both name an occurrence by
the same ``alert_key``, so an alert raised while a push was applied is found again, not raised
twice, by the next scan. A finding lists the records whose credits are at stake; the alert holds
them (``alerts.raise_findings``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.models import IntegrityAlertKind, IntegritySeverity
from backend.sql import Params, db_time


@dataclass(frozen=True)
class Threshold:
    """One setting of a detector: its default and the bounds a company may set it within.
    Its label is the message ``integrity.threshold.<KIND>.<name>`` (zh-CN and en)."""

    name: str
    default: float
    minimum: float
    maximum: float
    integer: bool = False


Limits = Mapping[str, float]


@dataclass(frozen=True)
class Evidence:
    """One fact an alert points at: a type HR's tools can open and its id."""

    type: str  # ActivityRecord, QuizAttempt, Attendance, PracticeLog, MentorEvaluation, CreditEntry
    id: str

    def as_json(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id}


@dataclass
class Finding:
    """What a detector saw. ``explanation`` picks the message ``integrity.<KIND>.<explanation>``,
    filled with ``figures`` (numbers and ids, never names). ``records``: the records whose
    credits are at stake (their EARN entries are held)."""

    kind: IntegrityAlertKind
    alert_key: str
    pattern_key: str
    employee_id: int
    severity: IntegritySeverity
    explanation: str
    figures: dict[str, Any]
    first_at: datetime
    last_at: datetime
    evidence: list[Evidence] = field(default_factory=list)
    records: list[UUID] = field(default_factory=list)
    other_employee_id: int | None = None
    device_uid: str | None = None


@dataclass(frozen=True)
class Signal:
    """Something a domain service saw while applying a push that a cheap detector judges in the
    same transaction (``signals.note``): a kind, whose, which record, when, and figures."""

    kind: IntegrityAlertKind
    employee_id: int
    record_id: UUID
    at: datetime
    figures: dict[str, Any]


@dataclass(frozen=True)
class Window:
    """What a scan reads: one company's facts that happened in [since, until)."""

    connection: BaseDBAsyncClient
    tenant_id: int
    since: datetime
    until: datetime

    @property
    def postgres(self) -> bool:
        return self.connection.capabilities.dialect == "postgres"

    def during(self, p: Params, column: str) -> str:
        """SQL: ``column`` (a timestamp) within the window, its bounds collected by ``p``."""
        since, until = db_time(self.connection, self.since), db_time(self.connection, self.until)
        return f"{column} >= {p(since)} AND {column} < {p(until)}"


class Detector:
    """One kind of suspected gaming. Subclasses set ``kind``, ``thresholds`` and ``messages`` and
    implement ``scan``; those with a cheap check also implement ``on_signals``.

    ``messages`` holds the detector's words in zh-CN and en: ``explanation.<name>`` for each
    explanation its findings use (a plain-language sentence filled with the finding's figures by
    ``str.format``: numbers and ids, never names) and ``threshold.<name>`` for each threshold's
    label. ``tests/test_integrity.py`` fails when one is missing."""

    kind: ClassVar[IntegrityAlertKind]
    thresholds: ClassVar[tuple[Threshold, ...]]
    messages: ClassVar[dict[str, dict[str, str]]]

    def explain(self, explanation: str, figures: Mapping[str, Any], locale: str) -> str:
        texts = self.messages.get(f"explanation.{explanation}", {})
        template = texts.get(locale) or texts.get("zh-CN", "")
        try:
            return template.format(**figures)
        except (KeyError, IndexError, ValueError):  # figures of an older version: the words alone
            return template

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        raise NotImplementedError

    def on_signals(self, signals: Sequence[Signal], limits: Limits) -> list[Finding]:
        return []

    def defaults(self) -> dict[str, float]:
        return {t.name: t.default for t in self.thresholds}


# --- shared arithmetic ---------------------------------------------------------------------

EARTH_RADIUS_M = 6_371_000.0


def metres_between(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def severity_of(ratio: float) -> IntegritySeverity:
    """How far past its threshold a figure is (1 = just at it): the alert's severity."""
    if ratio >= 3:
        return IntegritySeverity.HIGH
    if ratio >= 1.5:
        return IntegritySeverity.MEDIUM
    return IntegritySeverity.LOW


def day_key(moment: datetime) -> str:
    """A UTC day, for alert keys (one occurrence per person and day)."""
    return moment.strftime("%Y%m%d")


def seconds_between(window: Window, earlier: str, later: str) -> str:
    """SQL for the seconds from one timestamp column to another, on either engine."""
    if window.postgres:
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


def as_time(value: object) -> datetime:
    """A timestamp read by raw SQL: a datetime on PostgreSQL, ISO text on SQLite."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def note(work: Any, signal: Signal) -> None:
    """Remember a signal on the unit of work applying a push; ``signals.check`` judges it when
    the unit of work finishes. (Here, not in ``signals``, so domain services can note one
    without importing the detectors.)"""
    work.signals.append(signal)
