"""The credit ledger's one write path: post an entry and keep the account's sums with it.

Entries are append-only and keyed: ``post`` inserts with ``ON CONFLICT (tenant_id, entry_key) DO
NOTHING``, so a retried or reprocessed cause posts nothing the second time. The account row is
changed in the same transaction by a conditional update, so a spend can never take the spendable
balance below zero, whatever runs concurrently (the database also has a CHECK for it). Pending
credits (waiting for HR) live outside the ledger and only count once approved.

Account sums, kept equal to the ledger (``verify`` proves it):
- balance: the sum of every posted entry (spendable);
- lifetime_earned: EARN entries plus positive ADJUSTMENTs (never decreases: reversals and spends
  change the balance, not what was earned);
- pending: PENDING claims, plus credits held for an integrity review (HOLD entries take them out
  of the balance, RELEASE entries give them back: pending gains what the balance loses).

An OPENING_BALANCE entry (``post_opening_balances``) is a balance brought from an earlier system:
spendable, never earned here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import DoesNotExist
from tortoise.expressions import F

from backend.errors import DomainError, ErrorCode
from backend.models import (
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    PendingCredit,
    PendingCreditStatus,
)
from backend.services.feed import ChangeSet, Entity
from backend.services.reports import rollups
from backend.sql import db_time, insert_many, placeholders

ZERO = 0
TENTH = Decimal("0.1")


def to_tenths(credits: Decimal | str | int, field: str = "credits") -> int:
    """Credits as stored: whole tenths (Decimal("1.5") -> 15). More precision is VALIDATION."""
    try:
        value = Decimal(str(credits))
    except InvalidOperation as error:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.field", name=field) from error
    # The range first: quantize raises InvalidOperation past the context's precision (1e30).
    if not value.is_finite() or abs(value) >= 10**11 or value != value.quantize(TENTH, rounding=ROUND_HALF_UP):
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.field", name=field)
    return int(value * 10)


def from_tenths(tenths: int) -> Decimal:
    """Stored tenths as credits (15 -> Decimal("1.5"))."""
    return (Decimal(int(tenths)) / 10).quantize(TENTH)


# A percent shown as a GraphQL Int (32-bit): capped, so a huge balance over a small target stays a
# number an app can show ("more than 999,999%") instead of an error.
MAX_PERCENT = 999_999


def percent_of(earned: int, target: int | None) -> int | None:
    """Whole percent of ``target`` reached by ``earned`` (may pass 100, capped at MAX_PERCENT);
    None without a target; a zero target counts as met."""
    if target is None:
        return None
    return 100 if target == 0 else min(earned * 100 // target, MAX_PERCENT)


# Entries that move credits between the balance and pending while an integrity alert is reviewed.
HOLDING = (CreditEntryKind.HOLD, CreditEntryKind.RELEASE)


def counts_as_earned(kind: CreditEntryKind, amount: int) -> bool:
    """Whether an entry adds to lifetime earned (and to what leaderboards and targets count)."""
    return kind == CreditEntryKind.EARN or (kind == CreditEntryKind.ADJUSTMENT and amount > 0)


async def ensure_account(connection: BaseDBAsyncClient, tenant_id: int, employee_id: int, now: datetime) -> None:
    """Create the employee's account row if it is missing (a no-op otherwise)."""
    await connection.execute_query(
        "INSERT INTO credit_account (tenant_id, employee_id, balance, lifetime_earned, pending, created_at,"
        f" updated_at) VALUES ({placeholders(connection, 7)}) ON CONFLICT (employee_id) DO NOTHING",
        [tenant_id, employee_id, ZERO, ZERO, ZERO, db_time(connection, now), db_time(connection, now)],
    )


async def lock_account(connection: BaseDBAsyncClient, tenant_id: int, employee_id: int, now: datetime) -> CreditAccount:
    """The employee's account, locked until the transaction ends (PostgreSQL; SQLite has one
    writer). Hold it while deciding anything that depends on the employee's credits: caps,
    first-time rules, per-person limits."""
    await ensure_account(connection, tenant_id, employee_id, now)
    return (
        await CreditAccount.filter(tenant_id=tenant_id, employee_id=employee_id)
        .select_for_update()
        .using_db(connection)
        .get()
    )


async def lock_accounts(
    connection: BaseDBAsyncClient, tenant_id: int, employee_ids: Sequence[int], now: datetime
) -> dict[int, tuple[int, int]]:
    """``lock_account`` for many employees at once (an import of history, a batch of records):
    their accounts, created when missing, locked in employee order (the order every writer locks
    them in), in one statement. Returns each one's (lifetime earned, pending)."""
    ids = sorted(set(employee_ids))
    stamp = db_time(connection, now)
    # The update changes nothing: it locks an existing row, as FOR UPDATE would, in the same pass
    # that creates a missing one (SQLite has one writer: the transaction holds everything already).
    rows = await insert_many(
        connection,
        "credit_account",
        _ACCOUNT_COLUMNS,
        [(tenant_id, employee_id, ZERO, ZERO, ZERO, stamp, stamp) for employee_id in ids],
        on_conflict="ON CONFLICT (employee_id) DO UPDATE SET updated_at = credit_account.updated_at"
        " WHERE credit_account.tenant_id = excluded.tenant_id",
        returning="employee_id, lifetime_earned, pending",
    )
    found = {int(row["employee_id"]): (int(row["lifetime_earned"]), int(row["pending"])) for row in rows}
    if len(found) != len(ids):  # an account of another tenant's employee: never credit across tenants
        raise DoesNotExist(CreditAccount)
    return found


@dataclass(frozen=True)
class Posting:
    """What to post. amount is signed tenths of a credit (+ adds to the spendable balance).
    occurred_at is stored in UTC: SQLite compares times as text, so period sums need one zone."""

    employee_id: int
    kind: CreditEntryKind
    amount: int
    entry_key: str
    occurred_at: datetime
    rule_id: int | None = None
    event_id: int | None = None
    redemption_id: int | None = None
    reverses_id: int | None = None
    reason: str = ""
    actor_id: int | None = None
    # The course of the event, for the report rollups (not stored: the event holds it).
    course_id: int | None = None


async def post(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    posting: Posting,
    now: datetime,
    account_locked: bool = False,
) -> int | None:
    """Post one entry and update the account: the new entry's id, or None when its key was
    posted before (nothing changes). A negative amount larger than the balance raises
    INSUFFICIENT_CREDITS before anything is written. ``account_locked``: the caller holds
    ``lock_account`` (so the row exists)."""
    amount = posting.amount
    if amount == 0:
        return None
    if not account_locked:
        await ensure_account(connection, tenant_id, posting.employee_id, now)
    earned = amount if counts_as_earned(posting.kind, amount) else ZERO
    account = CreditAccount.filter(tenant_id=tenant_id, employee_id=posting.employee_id).using_db(connection)
    if amount < 0:
        changed = await account.filter(balance__gte=-amount).update(balance=F("balance") + amount, updated_at=now)
        if changed != 1:
            available = (await account.get()).balance
            raise DomainError(
                ErrorCode.INSUFFICIENT_CREDITS, needed=str(from_tenths(-amount)), available=str(from_tenths(available))
            )
    rows = await connection.execute_query_dict(
        "INSERT INTO credit_entry (tenant_id, employee_id, kind, amount, entry_key, rule_id, event_id,"
        " redemption_id, reverses_id, reason, actor_id, occurred_at, posted_at, created_at, updated_at)"
        f" VALUES ({placeholders(connection, 15)}) ON CONFLICT (tenant_id, entry_key) DO NOTHING RETURNING id",
        [
            tenant_id,
            posting.employee_id,
            posting.kind.value,
            amount,
            posting.entry_key,
            posting.rule_id,
            posting.event_id,
            posting.redemption_id,
            posting.reverses_id,
            posting.reason[:300],
            posting.actor_id,
            db_time(connection, posting.occurred_at.astimezone(UTC)),
            db_time(connection, now),
            db_time(connection, now),
            db_time(connection, now),
        ],
    )
    if not rows:
        if amount < 0:  # posted before: give back what the conditional update took
            await account.update(balance=F("balance") - amount, updated_at=now)
        return None
    # A HOLD moves credits from the balance to pending (under review), a RELEASE back.
    held = -amount if posting.kind in HOLDING else ZERO
    if amount > 0 or earned or held:
        await account.update(
            **({"balance": F("balance") + amount} if amount > 0 else {}),
            **({"lifetime_earned": F("lifetime_earned") + earned} if earned else {}),
            **({"pending": F("pending") + held} if held else {}),
            updated_at=now,
        )
    entry_id = int(rows[0]["id"])
    course_id = posting.course_id
    if course_id is None and posting.event_id is not None and earned:
        course_id = await _course_of_event(connection, tenant_id, posting.event_id)
    rollups.add_entries(
        changes.tally,
        rollups.ledger_entries(posting.employee_id, posting.kind.value, amount, course_id, posting.occurred_at),
    )
    changes.touch(Entity.CREDIT_ACCOUNT, posting.employee_id, audience=posting.employee_id)
    changes.touch(Entity.CREDIT_ENTRY, entry_id, audience=posting.employee_id)
    return entry_id


async def _course_of_event(connection: BaseDBAsyncClient, tenant_id: int, event_id: int) -> int | None:
    rows = await connection.execute_query_dict(
        f"SELECT course_id FROM credit_event WHERE id = {placeholders(connection, 1)}", [event_id]
    )
    return rows[0]["course_id"] if rows else None


async def post_many(
    connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, postings: Sequence[Posting], now: datetime
) -> int:
    """``post`` for many entries that add credits (amount > 0, accounts locked by the caller with
    ``lock_accounts``), in two statements whatever the count: the entries, then every account's
    sums. Keys posted before are left out; returns how many entries were posted."""
    inserted = await insert_many(
        connection,
        "credit_entry",
        _ENTRY_COLUMNS,
        [_entry_row(connection, tenant_id, posting, now) for posting in postings if posting.amount > 0],
        on_conflict="ON CONFLICT (tenant_id, entry_key) DO NOTHING",
        returning="id, employee_id, kind, amount, entry_key",
    )
    sums: dict[int, list[int]] = {}
    by_key = {posting.entry_key: posting for posting in postings}
    for row in inserted:
        employee_id, amount = int(row["employee_id"]), int(row["amount"])
        posting = by_key[row["entry_key"]]
        rollups.add_entries(
            changes.tally,
            rollups.ledger_entries(employee_id, row["kind"], amount, posting.course_id, posting.occurred_at),
        )
        earned = amount if counts_as_earned(CreditEntryKind(row["kind"]), amount) else ZERO
        account = sums.setdefault(employee_id, [0, 0, 0])
        account[0] += amount
        account[1] += earned
        changes.touch(Entity.CREDIT_ENTRY, int(row["id"]), audience=employee_id)
    for employee_id in sums:  # the balance a phone shows, as ``post`` marks it
        changes.touch(Entity.CREDIT_ACCOUNT, employee_id, audience=employee_id)
    await _add_to_accounts(connection, tenant_id, sums, now)
    return len(inserted)


async def add_pending_many(
    connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, postings: Sequence[Posting], now: datetime
) -> int:
    """``add_pending`` for many claims (accounts locked by the caller), in two statements; keys
    claimed before are left out. Returns how many claims were added."""
    stamp = db_time(connection, now)
    inserted = await insert_many(
        connection,
        "pending_credit",
        _PENDING_COLUMNS,
        [
            (
                tenant_id,
                posting.employee_id,
                posting.rule_id,
                posting.event_id,
                posting.amount,
                posting.entry_key,
                PendingCreditStatus.PENDING.value,
                db_time(connection, posting.occurred_at.astimezone(UTC)),
                "",
                stamp,
                stamp,
            )
            for posting in postings
        ],
        on_conflict="ON CONFLICT (tenant_id, entry_key) DO NOTHING",
        returning="employee_id, amount",
    )
    sums: dict[int, list[int]] = {}
    for row in inserted:
        sums.setdefault(int(row["employee_id"]), [0, 0, 0])[2] += int(row["amount"])
    for employee_id in sums:  # the pending sum a phone shows, as ``add_pending`` marks it
        changes.touch(Entity.CREDIT_ACCOUNT, employee_id, audience=employee_id)
    await _add_to_accounts(connection, tenant_id, sums, now)
    return len(inserted)


def _entry_row(connection: BaseDBAsyncClient, tenant_id: int, posting: Posting, now: datetime) -> tuple:
    stamp = db_time(connection, now)
    return (
        tenant_id,
        posting.employee_id,
        posting.kind.value,
        posting.amount,
        posting.entry_key,
        posting.rule_id,
        posting.event_id,
        posting.redemption_id,
        posting.reverses_id,
        posting.reason[:300],
        posting.actor_id,
        db_time(connection, posting.occurred_at.astimezone(UTC)),
        stamp,
        stamp,
        stamp,
    )


_ENTRY_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "kind": "text",
    "amount": "bigint",
    "entry_key": "text",
    "rule_id": "int",
    "event_id": "bigint",
    "redemption_id": "int",
    "reverses_id": "bigint",
    "reason": "text",
    "actor_id": "int",
    "occurred_at": "timestamptz",
    "posted_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
_PENDING_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "rule_id": "int",
    "event_id": "bigint",
    "amount": "bigint",
    "entry_key": "text",
    "status": "text",
    "occurred_at": "timestamptz",
    "reason": "text",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


async def reverse(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    entry: CreditEntry,
    reason: str,
    actor_id: int | None,
    now: datetime,
) -> int:
    """Post the reversal of ``entry`` (a refund of a spend, or taking back an earn while the
    balance allows it). Each entry is reversed at most once (ALREADY_REVERSED)."""
    if entry.kind == CreditEntryKind.REVERSAL:
        raise DomainError(ErrorCode.ALREADY_REVERSED)
    entry_id = await post(
        connection,
        changes,
        tenant_id,
        Posting(
            employee_id=entry.employee_id,
            kind=CreditEntryKind.REVERSAL,
            amount=-entry.amount,
            entry_key=f"reverse:{entry.id}",
            occurred_at=now,
            rule_id=entry.rule_id,
            event_id=entry.event_id,
            redemption_id=entry.redemption_id,
            reverses_id=entry.id,
            reason=reason,
            actor_id=actor_id,
        ),
        now,
    )
    if entry_id is None:
        raise DomainError(ErrorCode.ALREADY_REVERSED)
    return entry_id


async def add_pending(
    connection: BaseDBAsyncClient, changes: ChangeSet, tenant_id: int, posting: Posting, now: datetime
) -> int | None:
    """Hold credits for HR's approval (outside the ledger): the claim's id, or None when its key
    was claimed before."""
    rows = await connection.execute_query_dict(
        "INSERT INTO pending_credit (tenant_id, employee_id, rule_id, event_id, amount, entry_key, status,"
        " occurred_at, reason, created_at, updated_at)"
        f" VALUES ({placeholders(connection, 11)}) ON CONFLICT (tenant_id, entry_key) DO NOTHING RETURNING id",
        [
            tenant_id,
            posting.employee_id,
            posting.rule_id,
            posting.event_id,
            posting.amount,
            posting.entry_key,
            PendingCreditStatus.PENDING.value,
            db_time(connection, posting.occurred_at.astimezone(UTC)),
            "",
            db_time(connection, now),
            db_time(connection, now),
        ],
    )
    if not rows:
        return None
    await ensure_account(connection, tenant_id, posting.employee_id, now)
    await (
        CreditAccount.filter(tenant_id=tenant_id, employee_id=posting.employee_id)
        .using_db(connection)
        .update(pending=F("pending") + posting.amount, updated_at=now)
    )
    changes.touch(Entity.CREDIT_ACCOUNT, posting.employee_id, audience=posting.employee_id)
    return int(rows[0]["id"])


async def settle_pending(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    claim_id: int,
    approve: bool,
    actor_id: int,
    reason: str,
    now: datetime,
) -> PendingCredit:
    """Approve (post it as an EARN entry under its key) or reject a pending claim, once: a claim
    decided before answers ALREADY_DECIDED."""
    claim = await PendingCredit.filter(tenant_id=tenant_id, id=claim_id).using_db(connection).first()
    if claim is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    status = PendingCreditStatus.APPROVED if approve else PendingCreditStatus.REJECTED
    decided = (
        await PendingCredit.filter(id=claim.id, status=PendingCreditStatus.PENDING)
        .using_db(connection)
        .update(status=status, decided_by_id=actor_id, decided_at=now, reason=reason[:300], updated_at=now)
    )
    if decided != 1:
        current = await PendingCredit.get(id=claim.id, using_db=connection)
        raise DomainError(ErrorCode.ALREADY_DECIDED, status=current.status.value)
    await (
        CreditAccount.filter(tenant_id=tenant_id, employee_id=claim.employee_id)
        .using_db(connection)
        .update(pending=F("pending") - claim.amount, updated_at=now)
    )
    changes.touch(Entity.CREDIT_ACCOUNT, claim.employee_id, audience=claim.employee_id)
    if approve:
        await post(
            connection,
            changes,
            tenant_id,
            Posting(
                employee_id=claim.employee_id,
                kind=CreditEntryKind.EARN,
                amount=claim.amount,
                entry_key=claim.entry_key,
                occurred_at=claim.occurred_at,
                rule_id=claim.rule_id,
                event_id=claim.event_id,
                reason=reason,
                actor_id=actor_id,
            ),
            now,
        )
    return await PendingCredit.get(id=claim.id, using_db=connection)


# --- opening balances -----------------------------------------------------------------------
#
# A company that brings its people's credit balances from an earlier system posts each one as one
# OPENING_BALANCE entry, explained like any other entry: its reason names the source and the day
# the balance was taken, its occurred_at is that day. It adds to the spendable balance, not to
# lifetime earned (it was earned elsewhere, so targets, leaderboards and rules never count it).
# Keyed ``opening:<employee id>``: posted at most once per employee.

MAX_OPENING_BALANCE = 1_000_000  # credits: far above any real balance, far below what a column holds

_ACCOUNT_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "balance": "bigint",
    "lifetime_earned": "bigint",
    "pending": "bigint",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}
_OPENING_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "kind": "text",
    "amount": "bigint",
    "entry_key": "text",
    "reason": "text",
    "actor_id": "int",
    "occurred_at": "timestamptz",
    "posted_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


@dataclass(frozen=True)
class OpeningBalance:
    """One employee's balance from an earlier system: ``amount`` in tenths (> 0), taken at
    ``as_of``, from ``source`` (e.g. "Excel 2023"), posted by ``actor_id`` (None: the CLI)."""

    employee_id: int
    amount: int
    as_of: datetime
    source: str
    actor_id: int | None = None


def opening_key(employee_id: int) -> str:
    return f"opening:{employee_id}"


def opening_reason(source: str, as_of: datetime) -> str:
    """What the entry says about itself: where the balance came from and when it was taken."""
    return f"{source} · {as_of.date().isoformat()}"[:300]


async def post_opening_balances(
    connection: BaseDBAsyncClient,
    changes: ChangeSet,
    tenant_id: int,
    openings: Sequence[OpeningBalance],
    now: datetime,
) -> tuple[dict[int, int], dict[int, int]]:
    """Post each employee's OPENING_BALANCE entry unless one was posted before, in a few
    statements whatever the count (employees once each, of ``tenant_id``: the caller checked).
    Returns the ids of the entries posted now and the amounts (tenths) posted before, by employee:
    the same amount again is nothing to do, a different one is the caller's to refuse."""
    if not openings:
        return {}, {}
    stamp = db_time(connection, now)
    inserted = await insert_many(
        connection,
        "credit_entry",
        _OPENING_COLUMNS,
        [
            (
                tenant_id,
                opening.employee_id,
                CreditEntryKind.OPENING_BALANCE.value,
                opening.amount,
                opening_key(opening.employee_id),
                opening_reason(opening.source, opening.as_of),
                opening.actor_id,
                db_time(connection, opening.as_of.astimezone(UTC)),
                stamp,
                stamp,
                stamp,
            )
            # In employee order: two imports of overlapping balances wait on each other's first
            # shared key instead of deadlocking on keys taken in opposite orders.
            for opening in sorted(openings, key=lambda opening: opening.employee_id)
        ],
        on_conflict="ON CONFLICT (tenant_id, entry_key) DO NOTHING",
        returning="id, employee_id",
    )
    posted = {int(row["employee_id"]): int(row["id"]) for row in inserted}
    amounts = {opening.employee_id: opening.amount for opening in openings}
    if posted:
        await insert_many(
            connection,
            "credit_account",
            _ACCOUNT_COLUMNS,
            [(tenant_id, employee_id, ZERO, ZERO, ZERO, stamp, stamp) for employee_id in sorted(posted)],
            on_conflict="ON CONFLICT (employee_id) DO NOTHING",
        )
        # In employee order: the lock order of settle and of other imports.
        await _add_to_accounts(connection, tenant_id, {e: [amounts[e], 0, 0] for e in sorted(posted)}, now)
        for employee_id, entry_id in posted.items():
            changes.touch(Entity.CREDIT_ACCOUNT, employee_id, audience=employee_id)
            changes.touch(Entity.CREDIT_ENTRY, entry_id, audience=employee_id)
    before = [employee_id for employee_id in amounts if employee_id not in posted]
    if not before:
        return posted, {}
    earlier: dict[int, int] = {}
    for start in range(0, len(before), 1000):  # keys per IN (…)
        for employee_id, amount in (
            await CreditEntry.filter(
                tenant_id=tenant_id, entry_key__in=[opening_key(e) for e in before[start : start + 1000]]
            )
            .using_db(connection)
            .values_list("employee_id", "amount")
        ):
            earlier[int(employee_id)] = int(amount)
    return posted, earlier


async def _add_to_accounts(
    connection: BaseDBAsyncClient, tenant_id: int, sums: dict[int, list[int]], now: datetime
) -> None:
    """Add to each employee's account (the accounts exist): sums maps employee id -> [balance,
    lifetime earned, pending]; one statement on PostgreSQL, in employee order (the lock order)."""
    if not sums:
        return
    ordered = sorted(sums)
    if connection.capabilities.dialect == "postgres":
        await connection.execute_query(
            "UPDATE credit_account AS a SET balance = a.balance + u.balance,"
            " lifetime_earned = a.lifetime_earned + u.earned, pending = a.pending + u.pending, updated_at = $5"
            " FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(employee_id, balance, earned, pending)"
            " WHERE a.employee_id = u.employee_id AND a.tenant_id = $6",
            [
                ordered,
                [sums[e][0] for e in ordered],
                [sums[e][1] for e in ordered],
                [sums[e][2] for e in ordered],
                now,
                tenant_id,
            ],
        )
        return
    await connection.execute_many(
        "UPDATE credit_account SET balance = balance + ?, lifetime_earned = lifetime_earned + ?,"
        " pending = pending + ?, updated_at = ? WHERE employee_id = ? AND tenant_id = ?",
        [[*sums[e], db_time(connection, now), e, tenant_id] for e in ordered],
    )
