"""Raising alerts: findings in, one alert per occurrence, its credits held.

``raise_findings`` runs on the caller's transaction (a push's, or a scan's): each finding's
``alert_key`` is inserted once per company (``ON CONFLICT DO NOTHING``), so a rescan or a retried
push never raises it twice. A finding whose alert is still OPEN adds the credits of its newer
records to the hold; one whose alert was released or reversed is a new occurrence only for facts
after the decision (``_next_key``); one whose pattern an HR admin dismissed is not raised at all.
Nothing is ever reversed here: holding is all a detector can do.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Q

from backend.models import IntegrityAlert, IntegrityAlertStatus
from backend.services.credits import ledger
from backend.services.feed import ChangeSet
from backend.services.integrity import holds
from backend.services.integrity.detectors import Finding
from backend.services.integrity.settings import CompanySettings
from backend.sql import Params

SOURCE_INGEST = "INGEST"
SOURCE_SCAN = "SCAN"


async def raise_findings(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    findings: Sequence[Finding],
    settings: CompanySettings,
    source: str,
    now: datetime,
) -> list[int]:
    """Raise or extend an alert for each finding (see the module docstring); the ids of alerts
    raised now."""
    findings = [f for f in findings if settings.enabled(f.kind)]
    if not findings:
        return []
    dismissed = await _dismissed_patterns(connection, tenant_id, {f.pattern_key for f in findings})
    raised: list[int] = []
    for finding in sorted(findings, key=lambda f: f.alert_key):
        if finding.pattern_key in dismissed:
            continue
        # Locks in the order every writer takes them: the accounts whose credits are at stake
        # (sorted), then the alert row. A push has its accounts locked already; a decision takes
        # the accounts before the alert too.
        locked = {
            int(row["employee_id"]) for row in await holds.entries_at_stake(connection, tenant_id, finding.records)
        }
        if locked:
            await ledger.lock_accounts(connection, tenant_id, sorted(locked), now)
        alert = await _latest(connection, tenant_id, finding.alert_key)
        key = _next_key(finding, alert)
        if key is not None:
            alert = await _insert(connection, tenant_id, finding, key, source, now)
            if alert is None:  # raised meanwhile by a concurrent transaction: read it, locked
                alert = await _latest(connection, tenant_id, key)
            else:
                raised.append(alert.id)
        if alert is None or alert.status != IntegrityAlertStatus.OPEN:
            continue  # decided (under its lock): a person's decision is never reopened
        held = await holds.hold_records(connection, changes, tenant_id, alert.id, finding.records, locked, now)
        if held or alert.id not in raised:
            await _extend(connection, alert, finding, held, now)
    return raised


async def _latest(connection: BaseDBAsyncClient, tenant_id: int, alert_key: str) -> IntegrityAlert | None:
    """The newest occurrence raised under ``alert_key`` (the key itself, or ``<key>@<n>``), locked
    until the transaction ends (PostgreSQL; SQLite has one writer)."""
    return (
        await IntegrityAlert.filter(
            Q(alert_key=alert_key) | Q(alert_key__startswith=f"{alert_key}@"), tenant_id=tenant_id
        )
        .select_for_update()
        .using_db(connection)
        .order_by("-id")
        .first()
    )


def _next_key(finding: Finding, latest: IntegrityAlert | None) -> str | None:
    """The key to raise ``finding`` under, or None to raise nothing: its own key the first time;
    once HR released or reversed that alert, facts after the decision are a new occurrence (``@2``,
    ``@3`` …: what a person decided is never reopened, and what goes on is not waved through); an
    open alert is extended instead, and a dismissed pattern is never raised again."""
    if latest is None:
        return finding.alert_key
    if latest.status in (IntegrityAlertStatus.OPEN, IntegrityAlertStatus.DISMISSED):
        return None
    if latest.decided_at is None or finding.last_at <= latest.decided_at:
        return None
    number = int(latest.alert_key.rsplit("@", 1)[1]) if "@" in latest.alert_key else 1
    return f"{finding.alert_key}@{number + 1}"


async def _dismissed_patterns(connection: BaseDBAsyncClient, tenant_id: int, patterns: set[str]) -> set[str]:
    ordered, found = sorted(patterns), set()
    for first in range(0, len(ordered), holds.RECORDS_PER_STATEMENT):
        p = Params(connection)
        chunk = ", ".join(p(pattern) for pattern in ordered[first : first + holds.RECORDS_PER_STATEMENT])
        rows = await connection.execute_query_dict(
            f"SELECT DISTINCT pattern_key FROM integrity_alert WHERE tenant_id = {p(tenant_id)}"
            f" AND status = {p(IntegrityAlertStatus.DISMISSED.value)} AND pattern_key IN ({chunk})",
            p.values,
        )
        found |= {row["pattern_key"] for row in rows}
    return found


def evidence_of(finding: Finding) -> dict:
    return {
        "explanation": finding.explanation,
        "figures": finding.figures,
        "records": [item.as_json() for item in finding.evidence[:MAX_EVIDENCE]],
    }


async def _insert(
    connection: BaseDBAsyncClient, tenant_id: int, finding: Finding, key: str, source: str, now: datetime
) -> IntegrityAlert | None:
    """The new alert under ``key``, or None when the key exists (a concurrent raise won)."""
    query = IntegrityAlert.filter(tenant_id=tenant_id, alert_key=key).using_db(connection)
    if connection.capabilities.dialect == "postgres":
        # A savepoint-free insert that cannot fail on the key: ON CONFLICT through raw SQL.
        p = Params(connection)
        rows = await connection.execute_query_dict(
            "INSERT INTO integrity_alert (tenant_id, kind, alert_key, pattern_key, employee_id, other_employee_id,"
            " device_uid, severity, evidence, first_at, last_at, detected_at, source, status, held, decision_note,"
            f" created_at, updated_at) VALUES ({p(tenant_id)}, {p(finding.kind.value)}, {p(key)},"
            f" {p(finding.pattern_key)}, {p(finding.employee_id)}, {p(finding.other_employee_id)},"
            f" {p(finding.device_uid)}, {p(finding.severity.value)}, {p(_json(evidence_of(finding)))}::jsonb,"
            f" {p(finding.first_at)}, {p(finding.last_at)}, {p(now)}, {p(source)},"
            f" {p(IntegrityAlertStatus.OPEN.value)}, 0, '', {p(now)}, {p(now)})"
            " ON CONFLICT (tenant_id, alert_key) DO NOTHING RETURNING id",
            p.values,
        )
        return await query.first() if rows else None
    if await query.exists():  # SQLite has one writer: nobody raises it between the check and the insert
        return None
    return await IntegrityAlert.create(
        tenant_id=tenant_id,
        kind=finding.kind,
        alert_key=key,
        pattern_key=finding.pattern_key,
        employee_id=finding.employee_id,
        other_employee_id=finding.other_employee_id,
        device_uid=finding.device_uid,
        severity=finding.severity,
        evidence=evidence_of(finding),
        first_at=finding.first_at,
        last_at=finding.last_at,
        detected_at=now,
        source=source,
        using_db=connection,
    )


async def _extend(
    connection: BaseDBAsyncClient, alert: IntegrityAlert, finding: Finding, held: int, now: datetime
) -> None:
    """An open alert seen again (locked by ``_latest``): what it holds grows, its evidence and span
    take in the newer facts (evidence ids are kept once each, in order, up to MAX_EVIDENCE)."""
    known = {(item["type"], item["id"]) for item in alert.evidence.get("records", [])}
    records = list(alert.evidence.get("records", []))
    records += [item.as_json() for item in finding.evidence if (item.type, item.id) not in known]
    records = records[:MAX_EVIDENCE]
    first_at, last_at = min(alert.first_at, finding.first_at), max(alert.last_at, finding.last_at)
    if not held and len(records) == len(known) and (first_at, last_at) == (alert.first_at, alert.last_at):
        return  # seen before as it is: a rescan writes nothing
    await (
        IntegrityAlert.filter(id=alert.id, tenant_id=alert.tenant_id)
        .using_db(connection)
        .update(
            evidence={**alert.evidence, "records": records},
            first_at=first_at,
            last_at=last_at,
            held=F("held") + held,
            updated_at=now,
        )
    )


MAX_EVIDENCE = 200  # records an alert lists (its figures say how many there were)


def _json(value: object) -> str:
    return orjson.dumps(value).decode()
