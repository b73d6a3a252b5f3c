"""Credit expiry: HR lets unspent credits earned before a cut-off date lapse (EXPIRY entries).

Spending is taken to use the oldest credits first (FIFO, as stores and airline miles do), so the
part of an employee's credits that can lapse at a cut-off is what they earned before it minus
everything that has left their balance, net of refunds (everything credited minus balance: spends,
negative adjustments and reversals, earlier expiries), and never more than their balance.

An opening balance (OPENING_BALANCE, brought from an earlier system) is credits earned before its
as-of day: it lapses like credits earned that day, and counts among what was credited (it is not
in lifetime earned, which only counts what was earned here). Each run is keyed by its cut-off
(``expire:<cut-off>:<employee>``), so running it twice for the same date changes nothing, and a
later cut-off expires only what the earlier ones did not. Lifetime earned is untouched: what was
earned stays earned for ranking, it just can no longer be spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from backend.models import CreditEntry, CreditEntryKind, CreditHoldStatus, Role
from backend.services.audit import audit
from backend.services.credits import ledger
from backend.services.feed import ChangeSet
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer
from backend.sql import Params, db_time

# Entries that bring credits in (positive amounts): what can lapse, once old enough.
INFLOWS = (CreditEntryKind.EARN, CreditEntryKind.ADJUSTMENT, CreditEntryKind.OPENING_BALANCE)


@dataclass(frozen=True)
class ExpiryRun:
    """What one expiry run did: how many accounts lost credits and how many (tenths) in all."""

    accounts: int
    expired: int


def _lapsing(earned_before: int, gone: int, balance: int, held_before: int = 0) -> int:
    """Tenths that lapse: the earned-before part not yet consumed (oldest spent first), but for
    what of it is held for an integrity review (``held_before``: not in the balance, not spent)."""
    return max(0, min(balance, earned_before - gone - held_before))


async def expire(viewer: Viewer, before: datetime, reason: str, now: datetime | None = None) -> ExpiryRun:
    """Expire unspent credits earned before ``before`` for every account of the tenant (HR admins;
    audited; idempotent per cut-off)."""
    viewer.require_role(Role.HR_ADMIN)
    reason = text(reason, "reason", 300)
    now = now or datetime.now(UTC)
    if before > now:
        raise invalid("before")
    tenant_id, cut_off = viewer.tenant_id, before.astimezone(UTC)
    expired = accounts = 0
    async with in_transaction() as connection:
        changes = ChangeSet(tenant_id)
        earners = (
            await CreditEntry.filter(tenant_id=tenant_id, occurred_at__lt=cut_off, amount__gt=0, kind__in=INFLOWS)
            .using_db(connection)
            .distinct()
            .values("employee_id")
        )
        for employee_id in sorted({int(row["employee_id"]) for row in earners}):
            # Everything below is read with the account locked: a spend committing meanwhile
            # is either fully seen or waits for us.
            account = await ledger.lock_account(connection, tenant_id, employee_id, now)
            earned = (
                await CreditEntry.filter(
                    tenant_id=tenant_id,
                    employee_id=employee_id,
                    occurred_at__lt=cut_off,
                    amount__gt=0,
                    kind__in=INFLOWS,
                )
                .using_db(connection)
                .annotate(total=Sum("amount"))
                .values("total")
            )
            opening = (
                await CreditEntry.filter(
                    tenant_id=tenant_id, employee_id=employee_id, kind=CreditEntryKind.OPENING_BALANCE
                )
                .using_db(connection)
                .annotate(total=Sum("amount"))
                .values("total")
            )
            held = (
                await CreditEntry.filter(tenant_id=tenant_id, employee_id=employee_id, kind__in=ledger.HOLDING)
                .using_db(connection)
                .annotate(total=Sum("amount"))
                .values("total")
            )
            # What has left the balance, net of refunds: everything credited minus what remains,
            # where credits held for an integrity review remain (they are not spent). Those held
            # of what was earned before the cut-off do not lapse while held: only the balance can.
            remains = account.balance - int(held[0]["total"] or 0)
            gone = account.lifetime_earned + int(opening[0]["total"] or 0) - remains
            held_before = await _held_before(connection, tenant_id, employee_id, cut_off)
            lapsing = _lapsing(int(earned[0]["total"] or 0), gone, account.balance, held_before)
            if lapsing <= 0:
                continue
            posted = await ledger.post(
                connection,
                changes,
                tenant_id,
                ledger.Posting(
                    employee_id=employee_id,
                    kind=CreditEntryKind.EXPIRY,
                    amount=-lapsing,
                    entry_key=f"expire:{cut_off.isoformat()}:{employee_id}",
                    occurred_at=now,
                    reason=reason,
                    actor_id=viewer.employee_id,
                ),
                now,
                account_locked=True,
            )
            if posted is not None:
                accounts, expired = accounts + 1, expired + lapsing
        await audit(
            connection,
            viewer,
            tenant_id,
            "credits.expire",
            "CreditAccount",
            "*",
            {
                "before": cut_off.isoformat(),
                "reason": reason,
                "accounts": accounts,
                "expired": str(ledger.from_tenths(expired)),
            },
        )
        await changes.publish(connection, now)
    return ExpiryRun(accounts, expired)


async def _held_before(connection: BaseDBAsyncClient, tenant_id: int, employee_id: int, cut_off: datetime) -> int:
    """Tenths held for an integrity review of entries that happened before ``cut_off``."""
    p = Params(connection)
    rows = await connection.execute_query_dict(
        "SELECT COALESCE(SUM(h.amount), 0) AS held FROM credit_hold h"
        " JOIN credit_entry e ON e.id = h.entry_id AND e.tenant_id = h.tenant_id"
        f" WHERE h.tenant_id = {p(tenant_id)} AND h.employee_id = {p(employee_id)}"
        f" AND h.status = {p(CreditHoldStatus.HELD.value)} AND e.occurred_at < {p(db_time(connection, cut_off))}",
        p.values,
    )
    return int(rows[0]["held"] or 0)
