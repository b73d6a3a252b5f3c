"""The rewards store: rewards HR admins manage, redeeming them (the REWARD_REDEEMED record kind and
its online twin), and HR's decisions on redemptions.

A redemption is judged when it reaches the server, offline or online, in the ingest transaction
and in an order that makes every refusal write nothing: the employee's credit account is locked
first (so the per-person limit and the balance are judged with nothing of theirs running
alongside), then the reward's dates (at the record's corrected time and at arrival: both must be
inside), the limit and the balance are checked, and only then is one taken from stock by ONE
conditional UPDATE (``stock IS NULL OR stock >= 1``) whose row count says whether it worked. On
PostgreSQL the UPDATE re-checks its condition after waiting for a concurrent one, on SQLite there
is one writer: stock is never oversold, and ``ledger.post`` never drives a balance negative.

A redemption that needs approval holds its credits and stock while PENDING. A rejected or
cancelled one is refunded by a REVERSAL of its REDEEM entry and its stock is put back, in the
decision's transaction; a conditional update from PENDING makes each decision happen once.

Credit amounts are tenths of a credit (see backend/models/credits.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import F, Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.ids import to_global_id
from backend.models import (
    CreditAccount,
    CreditEntry,
    CreditEntryKind,
    NotificationKind,
    RecordStatus,
    Redemption,
    RedemptionStatus,
    Reward,
    RewardCategory,
    Role,
)
from backend.services.audit import audit
from backend.services.credits import ledger
from backend.services.feed import ChangeSet, Entity
from backend.services.notifications.notices import Notice
from backend.services.pagination import Keyset, Page, check_page_size
from backend.services.records.handler import ApplyContext, Outcome, ParsedRecord, payload_id
from backend.services.records.spec import Field, GlobalId, Obj
from backend.services.validation import invalid as _invalid
from backend.services.validation import text as _text
from backend.services.viewer import Viewer
from backend.sql import db_time, db_uuid, placeholders

REWARD_REDEEMED = "REWARD_REDEEMED"
# Redemptions that count against a per-person limit and hold credits and stock.
HOLDING = (RedemptionStatus.PENDING, RedemptionStatus.APPROVED)
MAX_CODE = 64
MAX_NAME = 200
MAX_DESCRIPTION = 2000
MAX_REASON = 300
MAX_STOCK = 2**31 - 1
MAX_LIMIT = 32767
# The store in the order HR created the rewards; redemptions newest first.
STORE: Keyset[Reward] = Keyset("rewards", ("id",), (int,))
MY_REDEMPTIONS: Keyset[Redemption] = Keyset("my-redemptions", ("id",), (int,), descending=True)
REDEMPTIONS: Keyset[Redemption] = Keyset("redemptions", ("id",), (int,), descending=True)


def _moment(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise _invalid(field, "reason.timezone_required")
    return value.astimezone(UTC)


def _reason(reason: str | None) -> str:
    return _text(reason, "reason", MAX_REASON, required=False)


def is_available(reward: Reward, at: datetime) -> bool:
    """Whether a reward can be redeemed at ``at``: not retired, active_from <= at < active_until."""
    return (
        not reward.retired
        and (reward.active_from is None or reward.active_from <= at)
        and (reward.active_until is None or at < reward.active_until)
    )


# --- HR: managing rewards ------------------------------------------------------------------------


@dataclass
class RewardDraft:
    """A reward as HR gives it (cost in credits, at most one decimal place)."""

    code: str
    name: str
    category: RewardCategory
    cost: Any
    description: str = ""
    stock: int | None = None
    per_person_limit: int | None = None
    active_from: datetime | None = None
    active_until: datetime | None = None
    requires_approval: bool = False


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """Validated column values of the fields given (a create gives every field)."""
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name == "code":
            checked[name] = _text(value, "code", MAX_CODE)
        elif name == "name":
            checked[name] = _text(value, "name", MAX_NAME)
        elif name == "description":
            checked[name] = _text(value, "description", MAX_DESCRIPTION, required=False)
        elif name == "category":
            checked[name] = RewardCategory(value)
        elif name == "cost":
            cost = ledger.to_tenths(value, "cost")
            if cost <= 0:
                raise _invalid("cost")
            checked[name] = cost
        elif name == "stock":
            if value is not None and not 0 <= value <= MAX_STOCK:
                raise _invalid("stock")
            checked[name] = value
        elif name == "per_person_limit":
            if value is not None and not 1 <= value <= MAX_LIMIT:
                raise _invalid("perPersonLimit")
            checked[name] = value
        elif name in ("active_from", "active_until"):
            checked[name] = _moment(value, "activeFrom" if name == "active_from" else "activeUntil")
        elif name == "requires_approval":
            checked[name] = bool(value)
        else:  # a programming error, not a user's
            raise ValueError(f"unknown reward field {name}")
    return checked


def _check_dates(active_from: datetime | None, active_until: datetime | None) -> None:
    if active_from is not None and active_until is not None and active_until <= active_from:
        raise _invalid("activeUntil", "reason.ends_before_start")


def _audit_values(values: dict[str, Any]) -> dict[str, Any]:
    shown = {}
    for name, value in values.items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif name == "cost":
            value = str(ledger.from_tenths(value))
        elif isinstance(value, RewardCategory):
            value = value.value
        shown[name] = value
    return shown


async def create_reward(viewer: Viewer, draft: RewardDraft, now: datetime | None = None) -> Reward:
    """A new reward in the store (HR admins). Codes are unique per company (VALIDATION on
    ``code``); cost is more than 0 with at most one decimal place; stock null is unlimited."""
    viewer.require_role(Role.HR_ADMIN)
    values = _checked(
        {
            "code": draft.code,
            "name": draft.name,
            "description": draft.description,
            "category": draft.category,
            "cost": draft.cost,
            "stock": draft.stock,
            "per_person_limit": draft.per_person_limit,
            "active_from": draft.active_from,
            "active_until": draft.active_until,
            "requires_approval": draft.requires_approval,
        }
    )
    _check_dates(values["active_from"], values["active_until"])
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        stamp = db_time(connection, now)
        # ON CONFLICT, not try/except: a failed INSERT would abort a PostgreSQL transaction.
        rows = await connection.execute_query_dict(
            "INSERT INTO reward (tenant_id, code, name, description, category, cost, stock, per_person_limit,"
            " active_from, active_until, requires_approval, retired, version, created_at, updated_at)"
            f" VALUES ({placeholders(connection, 15)}) ON CONFLICT (tenant_id, code) DO NOTHING RETURNING id",
            [
                viewer.tenant_id,
                values["code"],
                values["name"],
                values["description"],
                values["category"].value,
                values["cost"],
                values["stock"],
                values["per_person_limit"],
                db_time(connection, values["active_from"]),
                db_time(connection, values["active_until"]),
                values["requires_approval"],
                False,
                1,
                stamp,
                stamp,
            ],
        )
        if not rows:
            raise _invalid("code")
        reward_id = int(rows[0]["id"])
        await audit(connection, viewer, viewer.tenant_id, "reward.create", "Reward", reward_id, _audit_values(values))
        changes = ChangeSet(viewer.tenant_id)
        changes.touch(Entity.REWARD, reward_id)
        await changes.publish(connection, now)
        return await Reward.get(id=reward_id, using_db=connection)


async def update_reward(viewer: Viewer, reward_id: int, given: dict[str, Any], now: datetime | None = None) -> Reward:
    """Change some fields of a reward (HR admins); ``given`` maps field names (as in
    ``RewardDraft``) to new values. A stock given is the new number left (set, not added), at least
    0. The version goes up by one when anything changed. Redemptions made keep their cost."""
    viewer.require_role(Role.HR_ADMIN)
    values = _checked(given)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        reward = (
            await Reward.filter(tenant_id=viewer.tenant_id, id=reward_id)
            .select_for_update()
            .using_db(connection)
            .first()
        )
        if reward is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        _check_dates(values.get("active_from", reward.active_from), values.get("active_until", reward.active_until))
        changed = {name: value for name, value in values.items() if getattr(reward, name) != value}
        if (
            "code" in changed
            and await Reward.filter(tenant_id=viewer.tenant_id, code=changed["code"])
            .exclude(id=reward.id)
            .using_db(connection)
            .exists()
        ):
            raise _invalid("code")
        if changed:
            before = {name: getattr(reward, name) for name in changed}
            await (
                Reward.filter(id=reward.id)
                .using_db(connection)
                .update(**changed, version=F("version") + 1, updated_at=now)
            )
            await audit(
                connection,
                viewer,
                viewer.tenant_id,
                "reward.update",
                "Reward",
                reward.id,
                {"changes": _audit_values(changed), "before": _audit_values(before)},
            )
            changes = ChangeSet(viewer.tenant_id)
            changes.touch(Entity.REWARD, reward.id)
            await changes.publish(connection, now)
        return await Reward.get(id=reward.id, using_db=connection)


async def retire_reward(viewer: Viewer, reward_id: int, now: datetime | None = None) -> Reward:
    """Take a reward out of the store for good (HR admins). Redemptions made stay as they are
    (pending ones can still be decided); retiring twice changes nothing."""
    viewer.require_role(Role.HR_ADMIN)
    now = now or datetime.now(UTC)
    async with in_transaction() as connection:
        reward = await Reward.filter(tenant_id=viewer.tenant_id, id=reward_id).using_db(connection).first()
        if reward is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        retired = (
            await Reward.filter(id=reward.id, retired=False)
            .using_db(connection)
            .update(retired=True, version=F("version") + 1, updated_at=now)
        )
        if retired:
            await audit(
                connection, viewer, viewer.tenant_id, "reward.retire", "Reward", reward.id, {"code": reward.code}
            )
            changes = ChangeSet(viewer.tenant_id)
            changes.touch(Entity.REWARD, reward.id)
            await changes.publish(connection, now)
        return await Reward.get(id=reward.id, using_db=connection)


# --- the store ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """A page of rewards with what the viewer needs to know about each: how often they redeemed
    it (PENDING or APPROVED, what the per-person limit counts) and their spendable balance."""

    page: Page[Reward]
    my_counts: dict[int, int]
    balance: int


async def balance_of(tenant_id: int, employee_id: int) -> int:
    """An employee's spendable balance in tenths (0 without an account)."""
    balances = await CreditAccount.filter(tenant_id=tenant_id, employee_id=employee_id).values("balance")
    return int(balances[0]["balance"]) if balances else 0


async def store(
    viewer: Viewer,
    first: int,
    after: str | None,
    max_page_size: int,
    include_retired: bool = False,
    now: datetime | None = None,
) -> Store:
    """The rewards the viewer can redeem now (not retired, inside their dates), in the order HR
    created them. ``include_retired`` (HR admins only, FORBIDDEN otherwise) lists every reward,
    retired and out-of-date ones too. Three queries whatever the page size."""
    check_page_size(first, max_page_size)
    if include_retired:
        viewer.require_role(Role.HR_ADMIN)
    now = now or datetime.now(UTC)
    query = Reward.filter(tenant_id=viewer.tenant_id)
    if not include_retired:
        query = query.filter(
            Q(active_from__isnull=True) | Q(active_from__lte=now),
            Q(active_until__isnull=True) | Q(active_until__gt=now),
            retired=False,
        )
    page = await STORE.fetch(query, first, after)
    counts = await my_redemption_counts(viewer, [r.id for r in page.items])
    return Store(page, counts, await balance_of(viewer.tenant_id, viewer.employee_id))


async def my_redemption_counts(viewer: Viewer, reward_ids: list[int]) -> dict[int, int]:
    """How many PENDING or APPROVED redemptions the viewer has of each reward (one query)."""
    if not reward_ids:
        return {}
    rows = (
        await Redemption.filter(
            tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, reward_id__in=reward_ids, status__in=HOLDING
        )
        .annotate(n=Count("id"))
        .group_by("reward_id")
        .values_list("reward_id", "n")
    )
    return {int(reward_id): int(n) for reward_id, n in rows}


async def get_reward(viewer: Viewer, reward_id: int) -> Reward | None:
    """A reward of the viewer's company: any for HR admins, otherwise one not retired."""
    reward = await Reward.filter(tenant_id=viewer.tenant_id, id=reward_id).first()
    if reward is None or (reward.retired and not viewer.has_role(Role.HR_ADMIN)):
        return None
    return reward


async def my_redemptions(viewer: Viewer, first: int, after: str | None, max_page_size: int) -> Page[Redemption]:
    """The viewer's own redemptions, newest first, with their rewards and employees loaded."""
    check_page_size(first, max_page_size)
    query = Redemption.filter(tenant_id=viewer.tenant_id, employee_id=viewer.employee_id)
    return await MY_REDEMPTIONS.fetch(query.select_related("reward", "employee"), first, after)


async def redemptions(
    viewer: Viewer, status: RedemptionStatus | None, first: int, after: str | None, max_page_size: int
) -> Page[Redemption]:
    """Every redemption of the company (HR admins; FORBIDDEN otherwise), newest first, optionally
    only those in one status (PENDING: what awaits a decision), with their rewards and employees
    loaded."""
    viewer.require_role(Role.HR_ADMIN)
    check_page_size(first, max_page_size)
    query = Redemption.filter(tenant_id=viewer.tenant_id)
    if status is not None:
        query = query.filter(status=status)
    return await REDEMPTIONS.fetch(query.select_related("reward", "employee"), first, after)


# --- redeeming: the REWARD_REDEEMED record kind -------------------------------------------------


async def _redeem(context: ApplyContext, parsed: ParsedRecord) -> Outcome:
    """Judge and apply one redemption. Every check comes before the first write."""
    viewer, connection, now = context.viewer, context.connection, context.received_at
    tenant_id, employee_id = viewer.tenant_id, viewer.employee_id
    account = await ledger.lock_account(connection, tenant_id, employee_id, now)
    reward = await Reward.filter(tenant_id=tenant_id, id=parsed.payload).using_db(connection).first()
    if reward is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    # Both times: a redemption made offline before the store opened does not count when it
    # arrives later, nor does one made while open that arrives after it closed.
    if not (is_available(reward, parsed.occurred_at) and is_available(reward, now)):
        raise DomainError(ErrorCode.REWARD_NOT_AVAILABLE)
    if reward.per_person_limit is not None:
        made = (
            await Redemption.filter(
                tenant_id=tenant_id, employee_id=employee_id, reward_id=reward.id, status__in=HOLDING
            )
            .using_db(connection)
            .count()
        )
        if made >= reward.per_person_limit:
            raise DomainError(ErrorCode.REDEMPTION_LIMIT_REACHED, limit=reward.per_person_limit)
    if account.balance < reward.cost:
        raise DomainError(
            ErrorCode.INSUFFICIENT_CREDITS,
            needed=str(ledger.from_tenths(reward.cost)),
            available=str(ledger.from_tenths(account.balance)),
        )
    # NULL - 1 stays NULL: an unlimited reward goes through the same statement (and row lock).
    taken = (
        await Reward.filter(Q(stock__isnull=True) | Q(stock__gte=1), tenant_id=tenant_id, id=reward.id)
        .using_db(connection)
        .update(stock=F("stock") - 1, updated_at=now)
    )
    if taken != 1:
        raise DomainError(ErrorCode.OUT_OF_STOCK)
    status = RedemptionStatus.PENDING if reward.requires_approval else RedemptionStatus.APPROVED
    stamp = db_time(connection, now)
    rows = await connection.execute_query_dict(
        "INSERT INTO redemption (tenant_id, record_id, employee_id, reward_id, cost, status, requested_at,"
        f" reason, created_at, updated_at) VALUES ({placeholders(connection, 10)})"
        " ON CONFLICT (record_id) DO NOTHING RETURNING id",
        [
            tenant_id,
            db_uuid(connection, parsed.record.id),
            employee_id,
            reward.id,
            reward.cost,
            status.value,
            db_time(connection, parsed.occurred_at),
            "",
            stamp,
            stamp,
        ],
    )
    if not rows:  # the same record arriving twice at once (two devices): the other one counts
        await Reward.filter(id=reward.id, stock__isnull=False).using_db(connection).update(stock=F("stock") + 1)
        raise DomainError(ErrorCode.ID_REUSED)
    redemption_id = int(rows[0]["id"])
    await ledger.post(
        connection,
        context.changes,
        tenant_id,
        ledger.Posting(
            employee_id=employee_id,
            kind=CreditEntryKind.REDEEM,
            amount=-reward.cost,
            entry_key=f"redeem:{redemption_id}",
            occurred_at=parsed.occurred_at,
            redemption_id=redemption_id,
            reason=reward.name,
        ),
        now,
    )
    context.changes.touch(Entity.REDEMPTION, redemption_id, audience=employee_id)
    context.changes.touch(Entity.REWARD, reward.id)
    return Outcome(
        RecordStatus.ACCEPTED,
        result={
            "redemptionId": to_global_id("Redemption", redemption_id),
            "status": status.value,
        },
    )


REDEEM_PAYLOAD = Obj(
    {"rewardId": Field(GlobalId("Reward", "The reward redeemed."), required=True)},
    not_object="rewardId",
    title="REWARD_REDEEMED",
)


class RewardRedeemed:
    """Payload: ``{"rewardId": "<Reward global ID>"}``; ``occurredAt`` is when the employee
    redeemed. Judged on arrival (stock, balance and the dates then, and the dates at the corrected
    time too). ACCEPTED with result ``{redemptionId, status}`` (APPROVED, or PENDING when HR must
    approve); refusals: NOT_FOUND, REWARD_NOT_AVAILABLE, REDEMPTION_LIMIT_REACHED (limit),
    INSUFFICIENT_CREDITS (needed, available), OUT_OF_STOCK."""

    kind = REWARD_REDEEMED

    payload_spec = REDEEM_PAYLOAD

    def parse(self, payload: dict[str, Any]) -> int:
        REDEEM_PAYLOAD.check(payload)
        return payload_id(payload, "rewardId", "Reward")

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]:
        outcomes = []
        for parsed in records:  # in sequence order: each one sees the balance the last one left
            try:
                outcomes.append(await _redeem(context, parsed))
            except DomainError as error:
                outcomes.append(Outcome.rejected(error))
        return outcomes


# --- cancelling and deciding --------------------------------------------------------------------


async def _settle(
    viewer: Viewer,
    redemption_id: int,
    status: RedemptionStatus,
    reason: str,
    now: datetime,
    may: Callable[[Redemption], None],
) -> Redemption:
    """Move a PENDING redemption to ``status`` once (ALREADY_DECIDED otherwise), refunding it
    unless approved; ``may(redemption)`` raises when the viewer may not."""
    async with in_transaction() as connection:
        redemption = await Redemption.filter(tenant_id=viewer.tenant_id, id=redemption_id).using_db(connection).first()
        if redemption is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        may(redemption)
        # Conditional: two decisions at once (or a cancel and a decision) cannot both happen.
        moved = (
            await Redemption.filter(id=redemption.id, status=RedemptionStatus.PENDING)
            .using_db(connection)
            .update(status=status, decided_by_id=viewer.employee_id, decided_at=now, reason=reason, updated_at=now)
        )
        if moved != 1:
            current = await Redemption.get(id=redemption.id, using_db=connection)
            raise DomainError(ErrorCode.ALREADY_DECIDED, status=RedemptionStatus(current.status).value)
        changes = ChangeSet(viewer.tenant_id)
        if status != RedemptionStatus.APPROVED:
            spend = (
                await CreditEntry.filter(
                    tenant_id=viewer.tenant_id, redemption_id=redemption.id, kind=CreditEntryKind.REDEEM
                )
                .using_db(connection)
                .first()
            )
            if spend is not None:
                await ledger.reverse(
                    connection, changes, viewer.tenant_id, spend, reason or status.value, viewer.employee_id, now
                )
            # Account first, reward second: the order a redemption takes them in.
            await (
                Reward.filter(id=redemption.reward_id, stock__isnull=False)
                .using_db(connection)
                .update(stock=F("stock") + 1, updated_at=now)
            )
            changes.touch(Entity.REWARD, redemption.reward_id)
        changes.touch(Entity.REDEMPTION, redemption.id, audience=redemption.employee_id)
        if viewer.employee_id != redemption.employee_id:  # HR decided: the employee is told
            reward = await Reward.filter(id=redemption.reward_id).using_db(connection).values_list("name", flat=True)
            changes.notify(
                Notice(
                    NotificationKind.REDEMPTION_DECIDED,
                    redemption.employee_id,
                    f"redemption:{redemption.id}:{status.value}",
                    {
                        "reward": reward[0] if reward else "",
                        "credits": str(ledger.from_tenths(redemption.cost)),
                        "decision": status.value,
                        "reason": reason,
                    },
                    to_global_id("Redemption", redemption.id),
                )
            )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            f"redemption.{status.value.lower()}",
            "Redemption",
            redemption.id,
            {
                "reason": reason,
                "employeeId": redemption.employee_id,
                "rewardId": redemption.reward_id,
                "cost": str(ledger.from_tenths(redemption.cost)),
            },
        )
        await changes.publish(connection, now)
        return await Redemption.filter(id=redemption.id).select_related("reward", "employee").using_db(connection).get()


async def cancel_redemption(
    viewer: Viewer, redemption_id: int, reason: str | None = None, now: datetime | None = None
) -> Redemption:
    """The employee withdraws their own redemption while it is PENDING: the credits come back by a
    REVERSAL entry and the stock is put back. ALREADY_DECIDED once HR has decided."""
    reason = _reason(reason)

    def may(redemption: Redemption) -> None:
        if redemption.employee_id != viewer.employee_id:
            raise DomainError(ErrorCode.FORBIDDEN)

    return await _settle(viewer, redemption_id, RedemptionStatus.CANCELLED, reason, now or datetime.now(UTC), may)


async def decide_redemption(
    viewer: Viewer, redemption_id: int, approve: bool, reason: str | None = None, now: datetime | None = None
) -> Redemption:
    """Approve or reject a PENDING redemption (HR admins). Approving keeps the credits spent and
    the stock taken; rejecting needs a reason and refunds both. Decided once (ALREADY_DECIDED)."""
    viewer.require_role(Role.HR_ADMIN)
    reason = _reason(reason)
    if not approve and not reason:
        raise _invalid("reason", "reason.required")

    def may(redemption: Redemption) -> None:
        if redemption.employee_id == viewer.employee_id:  # another HR admin decides one's own
            raise DomainError(ErrorCode.FORBIDDEN)

    status = RedemptionStatus.APPROVED if approve else RedemptionStatus.REJECTED
    return await _settle(viewer, redemption_id, status, reason, now or datetime.now(UTC), may)


# --- what the pull feed sends ---------------------------------------------------------------------


async def rewards_by_id(viewer: Viewer, reward_ids: list[int]) -> list[Reward]:
    """The rewards among ``reward_ids`` still in the store (not retired) of the viewer's company."""
    return await Reward.filter(tenant_id=viewer.tenant_id, id__in=reward_ids, retired=False)


async def my_redemptions_by_id(viewer: Viewer, redemption_ids: list[int]) -> list[Redemption]:
    """The viewer's own redemptions among ``redemption_ids``, with their rewards loaded."""
    return await Redemption.filter(
        tenant_id=viewer.tenant_id, employee_id=viewer.employee_id, id__in=redemption_ids
    ).select_related("reward")


async def mark_feed_rows(tenant_id: int, changes: ChangeSet) -> None:
    for reward_id in await Reward.filter(tenant_id=tenant_id, retired=False).values_list("id", flat=True):
        changes.touch(Entity.REWARD, reward_id)
    for redemption_id, employee_id in await Redemption.filter(tenant_id=tenant_id).values_list("id", "employee_id"):
        changes.touch(Entity.REDEMPTION, redemption_id, audience=employee_id)
