"""The ledger side of an alert: hold the credits at stake, release them, or reverse them.

Credits at stake are the EARN entries of the credit events of the alert's records. Holding one
posts a HOLD entry (``hold:<entry id>``) for what the balance still holds of it (part of it may
already be spent), which moves it to pending ("under review" on the phone); each entry is held at
most once, ever, and never when it was reversed. Releasing posts the RELEASE entry
(``release:<entry id>``); reversing releases it and posts the REVERSAL of the EARN entry, whose
reason names the alert. All through ``ledger.post``, the one write path, with accounts locked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from tortoise.backends.base.client import BaseDBAsyncClient

from backend.models import CreditEntry, CreditEntryKind, CreditHold, CreditHoldStatus
from backend.services.credits import ledger
from backend.services.feed import ChangeSet
from backend.sql import Params, db_time, db_uuid, insert_many


def reversal_reason(alert_id: int) -> str:
    """The reason a reversal decided on an alert carries: the alert, not an accusation."""
    return f"integrity-alert:{alert_id}"


async def entries_at_stake(connection: BaseDBAsyncClient, tenant_id: int, records: Sequence[UUID]) -> list[dict]:
    """The EARN entries of the credit events of ``records`` that may still be held (not held
    before, whatever came of it, and not reversed), by employee and id."""
    rows = []
    ordered = sorted(set(records))
    for first in range(0, len(ordered), RECORDS_PER_STATEMENT):
        rows += await _held_entries(connection, tenant_id, ordered[first : first + RECORDS_PER_STATEMENT])
    return sorted(rows, key=lambda row: (int(row["employee_id"]), int(row["id"])))


async def hold_records(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    alert_id: int,
    records: Sequence[UUID],
    locked: set[int],
    now: datetime,
) -> int:
    """Hold the credits the rules gave for ``records`` that are not held or reversed yet; the
    tenths held. The caller locked the accounts of ``locked`` and then the alert; the entries are
    read again under those locks (a reversal or another hold committed meanwhile is seen), and
    only those of ``locked`` are held: locking another account now, after the alert, could
    deadlock with a push (the next scan holds the rest)."""
    rows = [row for row in await entries_at_stake(connection, tenant_id, records) if int(row["employee_id"]) in locked]
    if not rows:
        return 0
    balances = await _balances(connection, tenant_id, {int(row["employee_id"]) for row in rows})
    holds, total = [], 0
    stamp = db_time(connection, now)
    for row in rows:
        employee_id, entry_id = int(row["employee_id"]), int(row["id"])
        amount = min(int(row["amount"]), balances.get(employee_id, 0))
        if amount > 0:
            posted = await ledger.post(
                connection,
                changes,
                tenant_id,
                ledger.Posting(
                    employee_id=employee_id,
                    kind=CreditEntryKind.HOLD,
                    amount=-amount,
                    entry_key=f"hold:{entry_id}",
                    occurred_at=now,
                    rule_id=row["rule_id"],
                    event_id=row["event_id"],
                    course_id=row["course_id"],
                ),
                now,
                account_locked=True,
            )
            if posted is None:  # held by another alert meanwhile: its hold row says so
                continue
            balances[employee_id] -= amount
            total += amount
        holds.append((tenant_id, alert_id, employee_id, entry_id, amount, CreditHoldStatus.HELD.value, stamp, stamp))
    await insert_many(connection, "credit_hold", _HOLD_COLUMNS, holds, on_conflict="ON CONFLICT DO NOTHING")
    return total


RECORDS_PER_STATEMENT = 500  # parameters per statement stay far below SQLite's limit


async def _held_entries(connection: BaseDBAsyncClient, tenant_id: int, records: Sequence[UUID]) -> list[dict]:
    """The EARN entries of the credit events of ``records`` that may still be held: not held
    before (whatever came of it) and not reversed."""
    p = Params(connection)
    ids = ", ".join(p(db_uuid(connection, record)) for record in records)
    return await connection.execute_query_dict(
        "SELECT e.id, e.employee_id, e.amount, e.rule_id, e.event_id, e.occurred_at, v.course_id"
        " FROM credit_event v JOIN credit_entry e ON e.event_id = v.id AND e.tenant_id = v.tenant_id"
        f" WHERE v.tenant_id = {p(tenant_id)} AND v.record_id IN ({ids}) AND e.kind = {p(CreditEntryKind.EARN.value)}"
        " AND NOT EXISTS (SELECT 1 FROM credit_hold h WHERE h.tenant_id = e.tenant_id AND h.entry_id = e.id)"
        " AND NOT EXISTS (SELECT 1 FROM credit_entry r WHERE r.tenant_id = e.tenant_id"
        f" AND r.entry_key = {p('reverse:')} || CAST(e.id AS VARCHAR(20)))",
        p.values,
    )


_HOLD_COLUMNS = {
    "tenant_id": "int",
    "alert_id": "int",
    "employee_id": "int",
    "entry_id": "bigint",
    "amount": "bigint",
    "status": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


async def _balances(connection: BaseDBAsyncClient, tenant_id: int, employee_ids: set[int]) -> dict[int, int]:
    p = Params(connection)
    rows = await connection.execute_query_dict(
        f"SELECT employee_id, balance FROM credit_account WHERE tenant_id = {p(tenant_id)}"
        f" AND employee_id IN ({', '.join(p(e) for e in sorted(employee_ids))})",
        p.values,
    )
    return {int(row["employee_id"]): int(row["balance"]) for row in rows}


async def settle_holds(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    alert_id: int,
    reverse: bool,
    actor_id: int,
    now: datetime,
) -> int:
    """Release every credit the alert holds, and with ``reverse`` post the reversal of each held
    EARN entry (naming the alert). Accounts are locked first, in employee order. A reversal the
    balance cannot cover (credits spent before the hold) is INSUFFICIENT_CREDITS and changes
    nothing. Returns the tenths released."""
    holds = (
        await CreditHold.filter(tenant_id=tenant_id, alert_id=alert_id, status=CreditHoldStatus.HELD)
        .using_db(connection)
        .order_by("employee_id", "entry_id")
    )
    if not holds:
        return 0
    await ledger.lock_accounts(connection, tenant_id, [hold.employee_id for hold in holds], now)
    entries = {
        entry.id: entry
        for entry in await CreditEntry.filter(tenant_id=tenant_id, id__in=[h.entry_id for h in holds]).using_db(
            connection
        )
    }
    released = 0
    for hold in holds:
        entry = entries[hold.entry_id]
        if hold.amount > 0:
            await ledger.post(
                connection,
                changes,
                tenant_id,
                ledger.Posting(
                    employee_id=hold.employee_id,
                    kind=CreditEntryKind.RELEASE,
                    amount=hold.amount,
                    entry_key=f"release:{entry.id}",
                    occurred_at=now,
                    rule_id=entry.rule_id,
                    event_id=entry.event_id,
                    actor_id=actor_id,
                ),
                now,
                account_locked=True,
            )
            released += hold.amount
        if (
            reverse
            and not await CreditEntry.filter(tenant_id=tenant_id, entry_key=f"reverse:{entry.id}")
            .using_db(connection)
            .exists()
        ):
            await ledger.reverse(connection, changes, tenant_id, entry, reversal_reason(alert_id), actor_id, now)
    status = CreditHoldStatus.REVERSED if reverse else CreditHoldStatus.RELEASED
    await (
        CreditHold.filter(tenant_id=tenant_id, alert_id=alert_id, status=CreditHoldStatus.HELD)
        .using_db(connection)
        .update(status=status, updated_at=now)
    )
    return released
