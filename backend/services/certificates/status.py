"""A certificate's status, derived from its dates in the company's time zone: never stored."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from backend.models import Certificate


class CertificateStatus(StrEnum):
    VALID = "VALID"  # issued, not revoked, and today is on or before its expiry date (or it never expires)
    EXPIRED = "EXPIRED"  # the day after its expiry date and later, until a refresher renews it
    REVOKED = "REVOKED"  # revoked by HR: final


def status_of(certificate: Certificate, today: date) -> CertificateStatus:
    """What ``certificate`` is on ``today`` (the company's local date)."""
    if certificate.revoked_at is not None:
        return CertificateStatus.REVOKED
    if certificate.expires_on is not None and today > certificate.expires_on:
        return CertificateStatus.EXPIRED
    return CertificateStatus.VALID


def local_today(time_zone: str, now: datetime | None = None) -> date:
    """Today in ``time_zone`` (the company's)."""
    return (now or datetime.now(UTC)).astimezone(zone(time_zone)).date()


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # an unknown name in old data: the default zone
        return ZoneInfo("Asia/Shanghai")


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months (the 31st becomes the month's last day); the last
    representable day when that lies beyond year 9999."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    if year > 9999:
        return date.max
    if year < 1:
        return date.min
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def expiry_of(issued_on: date, last_renewed_on: date | None, validity_months: int | None) -> date | None:
    """The last valid day: ``validity_months`` calendar months after the newer of issue and last
    renewal, the anniversary itself included (12 months from 2026-03-01: valid through 2027-03-01).
    None: it never expires."""
    if validity_months is None:
        return None
    return add_months(last_renewed_on or issued_on, validity_months)
