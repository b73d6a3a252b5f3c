"""The periodic scan: every detector over a window of stored facts, for one company or all.

``xuefen integrity scan [--since]`` (and the worker, when there is one) runs it. Each detector reads
the window, and each of its findings is raised in a transaction of its own through
``alerts.raise_findings``: a rescan of the same window finds the same alert keys and raises
nothing new, so the job can run as often as wanted and be stopped at any point.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from backend.models import IntegrityAlertKind, Tenant
from backend.services.feed import ChangeSet
from backend.services.integrity import alerts
from backend.services.integrity.detectors import Finding, Window
from backend.services.integrity.registry import DETECTORS
from backend.services.integrity.settings import CompanySettings, settings_of

# Without --since a scan looks this far back: long enough for the statistical detectors' peers,
# short enough to stay cheap when run every hour.
DEFAULT_LOOKBACK = timedelta(days=30)


@dataclass
class ScanReport:
    """What a scan did: findings and new alerts per kind."""

    since: datetime
    until: datetime
    findings: dict[IntegrityAlertKind, int] = field(default_factory=dict)
    raised: dict[IntegrityAlertKind, int] = field(default_factory=dict)


async def scan_company(
    tenant_id: int,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: list[IntegrityAlertKind] | None = None,
) -> ScanReport:
    now = datetime.now(UTC)
    until = until or now
    since = since or until - DEFAULT_LOOKBACK
    report = ScanReport(since, until)
    settings = await settings_of(tenant_id)
    for kind, detector in DETECTORS.items():
        if (kinds and kind not in kinds) or not settings.enabled(kind):
            continue
        findings = await detector.scan(
            Window(connections.get("default"), tenant_id, since, until), settings.limits[kind]
        )
        report.findings[kind] = len(findings)
        report.raised[kind] = len(await raise_each(tenant_id, findings, settings, now))
    return report


async def raise_each(tenant_id: int, findings: list[Finding], settings: CompanySettings, now: datetime) -> list[int]:
    """Each finding raised in a transaction of its own: a hold locks accounts, and one long
    transaction locking many people's accounts in no particular order would wait on, and make wait,
    every push of theirs (and could deadlock with one)."""
    raised: list[int] = []
    for finding in findings:
        try:
            async with in_transaction() as connection:
                changes = ChangeSet(tenant_id)
                raised += await alerts.raise_findings(
                    connection, changes, tenant_id, [finding], settings, alerts.SOURCE_SCAN, now
                )
                await changes.publish(connection, now)
        except OperationalError as error:  # a deadlock or a lost serialization: the next scan retries
            LOG.warning("integrity finding %s not raised this time: %s", finding.kind.value, type(error).__name__)
    return raised


LOG = logging.getLogger(__name__)


async def scan_all(since: datetime | None = None, until: datetime | None = None) -> dict[str, ScanReport]:
    """Every company, one after the other."""
    return {tenant.code: await scan_company(tenant.id, since, until) for tenant in await Tenant.all().order_by("id")}
