"""CLOCK_TAMPERING: a phone's clock set back and forth, or records dated into the past in bulk.

Two signs, per device row (one person's phone):
- ``reversals``: each push measures how far the phone's clock is off (``clock_offset_ms``, the
  same for every record of the push). Between successive pushes in the window the offset may
  jump by more than ``jump_minutes``; a jump the other way from the jump before is a reversal
  (the clock set back, then forward again). A phone whose wrong clock is put right once jumps
  once and is not flagged; ``reversals`` reversals are. Only pushes measure a clock: online
  mutations (no ``sentAt``) are left out, or a skewed phone's every online answer would look like a
  jump.
- ``backdated``: a record whose corrected time is more than ``backdate_hours`` before an earlier
  push of the same phone reached the server (it was in touch after the record supposedly
  happened, yet sent it only later), and before a record the phone had already sent from its
  outbox (an outbox is sent in order: a record made later but dated earlier). At least
  ``backdated_records`` of them in the window are flagged. A phone offline for days that sends
  everything at once had no push in between; a long outbox sent in several pushes sends its older
  records first: neither is backdating.
The server's own devices (the history import's) are left out. One alert per device (facts after HR
decided it are a new occurrence); the credits at stake are those of the backdated records, or of the
device's records in the window when its clock jumped back and forth.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TypeVar
from uuid import UUID

from backend.models import IntegrityAlertKind
from backend.services.integrity.detectors import (
    Detector,
    Evidence,
    Finding,
    Limits,
    Threshold,
    Window,
    as_time,
    seconds_between,
    severity_of,
)
from backend.sql import Params, db_time

KIND = IntegrityAlertKind.CLOCK_TAMPERING
RESERVED_PREFIX = "xuefen-"  # the server's own device ids (people.devices.RESERVED_PREFIX)
UNREADABLE_TIME = "UNREADABLE_TIME"  # records.clock: a refused record's time says nothing
# How far back the pushes before the window are read: the push before a backdated record and
# what the phone had sent before it.
EARLIER_PUSHES = timedelta(days=30)
# Records an alert lists (alerts.MAX_EVIDENCE; its figures say how many there were): a device's
# records in a month may be thousands.
MAX_EVIDENCE = 200


@dataclass(frozen=True)
class Jump:
    """The offset of a device's clock changing between two successive pushes."""

    device_id: int
    previous_at: datetime  # the push before
    at: datetime  # the push that jumped
    change_ms: int


@dataclass(frozen=True)
class Device:
    id: int
    employee_id: int
    device_uid: str


@dataclass(frozen=True)
class Backdated:
    """A record dated before an earlier push of its phone: when it arrived, the push before it,
    and when it claims to have happened."""

    device_id: int
    record_id: UUID
    received_at: datetime
    previous_at: datetime
    occurred_at: datetime


_Item = TypeVar("_Item", Jump, Backdated)


class ClockTampering(Detector):
    kind = KIND
    thresholds = (
        Threshold("jump_minutes", 10, 1, 1440),
        Threshold("reversals", 2, 1, 100, integer=True),
        Threshold("backdate_hours", 24, 1, 720),
        Threshold("backdated_records", 5, 1, 10000, integer=True),
    )
    messages = {
        "explanation.reversals": {
            "zh-CN": "设备 {device_id} 的时钟偏差在多次同步之间来回跳变：{jumps} 次跳变超过 {jump_minutes} 分钟，其中 {reversals}"
            " 次方向反转（阈值：{threshold} 次），最大一次 {largest_minutes} 分钟。",
            "en": "The clock of device {device_id} jumped back and forth between syncs: {jumps} jumps of more than"
            " {jump_minutes} minutes, {reversals} of them reversing the one before (threshold: {threshold}); the"
            " largest was {largest_minutes} minutes.",
        },
        "explanation.backdated": {
            "zh-CN": "设备 {device_id} 提交了 {records} 条倒填日期的记录（阈值：{threshold} 条）：记录时间比该设备更早的一次同步还早"
            " {backdate_hours} 小时以上，最多早 {largest_hours} 小时。",
            "en": "Device {device_id} sent {records} backdated records (threshold: {threshold}): each dated more than"
            " {backdate_hours} hours before an earlier sync of the same device, by up to {largest_hours} hours.",
        },
        "explanation.reversals_and_backdated": {
            "zh-CN": "设备 {device_id} 的时钟偏差来回跳变 {reversals} 次（每次超过 {jump_minutes} 分钟），并提交了 {records}"
            " 条倒填日期的记录（早于该设备更早的一次同步 {backdate_hours} 小时以上）。",
            "en": "The clock of device {device_id} jumped back and forth {reversals} times (each more than"
            " {jump_minutes} minutes), and it sent {records} records dated more than {backdate_hours} hours before an"
            " earlier sync of the same device.",
        },
        "threshold.jump_minutes": {
            "zh-CN": "计为跳变的时钟变化（分钟）",
            "en": "Clock change counted as a jump (minutes)",
        },
        "threshold.reversals": {"zh-CN": "跳变方向反转的次数", "en": "Jumps reversing the one before"},
        "threshold.backdate_hours": {
            "zh-CN": "早于之前一次同步多少小时算倒填",
            "en": "Hours before an earlier sync that count as backdated",
        },
        "threshold.backdated_records": {"zh-CN": "倒填日期的记录条数", "en": "Backdated records"},
    }

    async def scan(self, window: Window, limits: Limits) -> list[Finding]:
        jumps, devices = await _jumps(window, limits)
        backdated, more = await _backdated(window, limits)
        devices.update(more)
        flagged = {
            device_id: items
            for device_id, items in _by_device(jumps).items()
            if reversals(items) >= limits["reversals"]
        }
        records = await _creditable_records(window, sorted(flagged))
        findings: dict[str, Finding] = {}
        for device_id, items in flagged.items():
            _merge(findings, jumping(devices[device_id], items, records[device_id], limits))
        for device_id, dated in _by_device(backdated).items():
            found = backdating(devices[device_id], dated, limits)
            if found:
                _merge(findings, found)
        return list(findings.values())


def _by_device(items: Iterable[_Item]) -> dict[int, list[_Item]]:
    grouped: dict[int, list[_Item]] = defaultdict(list)
    for item in items:
        grouped[item.device_id].append(item)
    return grouped


async def _jumps(window: Window, limits: Limits) -> tuple[list[Jump], dict[int, Device]]:
    """Offset jumps of more than ``jump_minutes`` between successive measured pushes of a device in
    the window, for devices with enough of them to reverse ``reversals`` times."""
    connection, p = window.connection, Params(window.connection)
    rows = await connection.execute_query_dict(
        "WITH pushes AS (SELECT device_id, received_at, MIN(clock_offset_ms) AS offset_ms FROM activity_record"
        f" WHERE tenant_id = {p(window.tenant_id)} AND sent_at_device IS NOT NULL"
        f" AND {window.during(p, 'received_at')}"
        " GROUP BY device_id, received_at),"
        " steps AS (SELECT device_id, received_at, offset_ms - LAG(offset_ms) OVER w AS change_ms,"
        " LAG(received_at) OVER w AS previous_at FROM pushes WINDOW w AS (PARTITION BY device_id ORDER BY received_at)),"
        f" jumps AS (SELECT steps.*, COUNT(*) OVER (PARTITION BY device_id) AS jump_count FROM steps"
        f" WHERE ABS(change_ms) > {p(int(limits['jump_minutes'] * 60_000))})"
        " SELECT j.device_id, j.received_at, j.previous_at, j.change_ms, d.employee_id, d.device_uid"
        " FROM jumps j JOIN device d ON d.id = j.device_id"
        f" WHERE j.jump_count > {p(int(limits['reversals']))} AND d.device_uid NOT LIKE {p(RESERVED_PREFIX + '%')}"
        " ORDER BY j.device_id, j.received_at",
        p.values,
    )
    jumps = [
        Jump(int(row["device_id"]), as_time(row["previous_at"]), as_time(row["received_at"]), int(row["change_ms"]))
        for row in rows
    ]
    return jumps, {int(row["device_id"]): _device(row) for row in rows}


def _device(row: dict) -> Device:
    return Device(int(row["device_id"]), int(row["employee_id"]), str(row["device_uid"]))


async def _backdated(window: Window, limits: Limits) -> tuple[list[Backdated], dict[int, Device]]:
    """Records received in the window dated more than ``backdate_hours`` before the push before
    theirs and before a record their phone had sent earlier, of devices with
    ``backdated_records`` of them or more."""
    connection, p = window.connection, Params(window.connection)
    tenant, unreadable = p(window.tenant_id), p(f"%{UNREADABLE_TIME}%")
    since, until = p(db_time(connection, window.since)), p(db_time(connection, window.until))
    rows = await connection.execute_query_dict(
        # Each record of a device (back to EARLIER_PUSHES before the window) with its push's
        # neighbours, in one pass: a push is the records of one arrival time (a peer group), so
        # the push before is the group before, and what the phone had sent before is every
        # group before (the latest outbox record's time).
        "WITH framed AS (SELECT id, device_id, received_at, occurred_at, clock_flags,"
        " MAX(received_at) OVER (w GROUPS BETWEEN 1 PRECEDING AND 1 PRECEDING) AS previous_at,"
        f" MAX(CASE WHEN device_seq IS NOT NULL AND clock_flags NOT LIKE {unreadable} THEN occurred_at END)"
        " OVER (w GROUPS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS sent_latest"
        f" FROM activity_record WHERE tenant_id = {tenant}"
        f" AND received_at >= {p(db_time(connection, window.since - EARLIER_PUSHES))} AND received_at < {until}"
        " WINDOW w AS (PARTITION BY device_id ORDER BY received_at)),"
        " backdated AS (SELECT f.id, f.device_id, f.received_at, f.previous_at, f.occurred_at, d.employee_id,"
        " d.device_uid, COUNT(*) OVER (PARTITION BY f.device_id) AS backdated"
        " FROM framed f JOIN device d ON d.id = f.device_id"
        f" WHERE f.received_at >= {since} AND f.clock_flags NOT LIKE {unreadable}"
        f" AND d.device_uid NOT LIKE {p(RESERVED_PREFIX + '%')}"
        " AND f.previous_at IS NOT NULL AND f.sent_latest IS NOT NULL"
        f" AND {seconds_between(window, 'f.occurred_at', 'f.previous_at')} > {p(float(limits['backdate_hours'] * 3600))}"
        f" AND {seconds_between(window, 'f.occurred_at', 'f.sent_latest')} > 0)"
        f" SELECT * FROM backdated WHERE backdated >= {p(int(limits['backdated_records']))}"
        " ORDER BY device_id, received_at, occurred_at, id",
        p.values,
    )
    backdated = [
        Backdated(
            int(row["device_id"]),
            UUID(str(row["id"])),
            as_time(row["received_at"]),
            as_time(row["previous_at"]),
            as_time(row["occurred_at"]),
        )
        for row in rows
    ]
    return backdated, {int(row["device_id"]): _device(row) for row in rows}


async def _creditable_records(window: Window, device_ids: Sequence[int]) -> dict[int, list[tuple[UUID, datetime]]]:
    """The records of ``device_ids`` received in the window that have a credit event."""
    found: dict[int, list[tuple[UUID, datetime]]] = defaultdict(list)
    if not device_ids:
        return found
    connection, p = window.connection, Params(window.connection)
    tenant = p(window.tenant_id)
    for row in await connection.execute_query_dict(
        f"SELECT device_id, id, received_at FROM activity_record WHERE tenant_id = {tenant}"
        f" AND device_id {p.among(sorted(device_ids), 'int')}"
        f" AND {window.during(p, 'received_at')}"
        f" AND id IN (SELECT record_id FROM credit_event WHERE tenant_id = {tenant} AND record_id IS NOT NULL)"
        " ORDER BY received_at, id",
        p.values,
    ):
        found[int(row["device_id"])].append((UUID(str(row["id"])), as_time(row["received_at"])))
    return found


def reversals(jumps: Sequence[Jump]) -> int:
    """How many of a device's successive jumps (in received order) go the other way from the one
    before."""
    return sum(1 for before, after in pairwise(jumps) if (before.change_ms > 0) != (after.change_ms > 0))


def jumping(device: Device, jumps: Sequence[Jump], records: Sequence[tuple[UUID, datetime]], limits: Limits) -> Finding:
    """The finding of a device whose clock jumped back and forth (``reversals`` judged by the caller)."""
    count = reversals(jumps)
    first, last = jumps[0].previous_at, jumps[-1].at
    return Finding(
        kind=KIND,
        alert_key=alert_key(device.id),
        pattern_key=f"CLOCK_TAMPERING:{device.id}",
        employee_id=device.employee_id,
        severity=severity_of(count / limits["reversals"]),
        explanation="reversals",
        figures={
            "device_id": device.id,
            "jumps": len(jumps),
            "reversals": count,
            "largest_minutes": round(max(abs(jump.change_ms) for jump in jumps) / 60_000),
            "jump_minutes": round(limits["jump_minutes"]),
            "threshold": round(limits["reversals"]),
        },
        first_at=min(first, *(at for _, at in records)) if records else first,
        last_at=max(last, *(at for _, at in records)) if records else last,
        evidence=[Evidence("ActivityRecord", str(record)) for record, _ in records[:MAX_EVIDENCE]],
        records=[record for record, _ in records],
        device_uid=device.device_uid,
    )


def backdating(device: Device, backdated: Sequence[Backdated], limits: Limits) -> Finding | None:
    """The finding of a device's backdated records, when they are ``backdated_records`` or more."""
    if not backdated or len(backdated) < limits["backdated_records"]:
        return None
    ordered = sorted(backdated, key=lambda item: (item.received_at, item.occurred_at, str(item.record_id)))
    largest = max((item.previous_at - item.occurred_at).total_seconds() for item in ordered)
    return Finding(
        kind=KIND,
        alert_key=alert_key(device.id),
        pattern_key=f"CLOCK_TAMPERING:{device.id}",
        employee_id=device.employee_id,
        severity=severity_of(len(ordered) / limits["backdated_records"]),
        explanation="backdated",
        figures={
            "device_id": device.id,
            "records": len(ordered),
            "backdate_hours": round(limits["backdate_hours"]),
            "largest_hours": round(largest / 3600),
            "threshold": round(limits["backdated_records"]),
        },
        first_at=ordered[0].received_at,
        last_at=ordered[-1].received_at,
        evidence=[Evidence("ActivityRecord", str(item.record_id)) for item in ordered[:MAX_EVIDENCE]],
        records=[item.record_id for item in ordered],
        device_uid=device.device_uid,
    )


def alert_key(device_id: int) -> str:
    """One occurrence per device, however the scan's window slides over its facts; facts after HR
    decided it are a new one (``alerts._next_key``)."""
    return f"CLOCK_TAMPERING:{device_id}"


def _merge(findings: dict[str, Finding], finding: Finding) -> None:
    """Both signs of one device are one occurrence."""
    known = findings.get(finding.alert_key)
    if known is None:
        findings[finding.alert_key] = finding
        return
    jumped, backdated = (known, finding) if known.explanation == "reversals" else (finding, known)
    known.explanation = "reversals_and_backdated"
    known.figures = {**jumped.figures, **backdated.figures, "threshold": jumped.figures["threshold"]}
    seen = set(known.records)
    known.records += [record for record in finding.records if record not in seen]
    known.evidence = (known.evidence + [item for item in finding.evidence if item not in set(known.evidence)])[
        :MAX_EVIDENCE
    ]
    known.first_at, known.last_at = min(known.first_at, finding.first_at), max(known.last_at, finding.last_at)
    known.severity = max(known.severity, finding.severity, key=list(type(known.severity)).index)
