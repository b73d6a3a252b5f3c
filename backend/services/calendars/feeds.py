"""Calendar links: made, revoked, read back, and resolved from the token a calendar app sends.

- A link's token is ``secrets.token_urlsafe(32)`` (256 random bits, 43 characters of
  ``[A-Za-z0-9_-]``). It is returned once, by ``create_feed``; the database keeps its SHA-256 only
  (a unique column), so a copy of the database does not hold working links, and nothing shows the
  token again: ``feed_state`` says whether a link is live and since when.
- ``create_feed`` revokes the employee's live link (``REPLACED``) and makes a new one in one
  transaction, with the employee's row locked: two requests at once leave one live link.
- ``revoke_feed``: the employee's own (``REVOKED``), or, for HR admins, any employee's of their
  company (``REVOKED_BY_HR``); anyone else naming another employee is FORBIDDEN before any row is
  read. Idempotent. Leaving the company revokes it too (``LEFT``, people/employment_moves.py).
- ``employee_of_token``: the active employee whose live link this is, else None, whatever the
  reason (malformed, unknown, revoked, the employee inactive): the route answers each with the same
  404. A malformed token never reaches the database; a well-formed one costs one indexed lookup
  of its hash, the same statement whether or not it exists.

Every change is audited (``calendar.create``, ``calendar.revoke``), never with a token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import CalendarFeed, CalendarFeedRevokeReason, Employee, Role
from backend.services.audit import audit
from backend.services.viewer import Viewer

TOKEN_BYTES = 32
# What token_urlsafe(TOKEN_BYTES) writes: anything else is no token of ours (and never queried).
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}", re.ASCII)
PATH_PREFIX = "/calendar/"
PATH_SUFFIX = ".ics"
# The employee's columns the feed reads (never the password hash, phone or e-mail).
EMPLOYEE_COLUMNS = ("id", "tenant_id", "name", "site_id", "locale", "is_active")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def feed_path(token: str) -> str:
    """The link's path on this server."""
    return f"{PATH_PREFIX}{token}{PATH_SUFFIX}"


@dataclass(frozen=True)
class FeedState:
    """An employee's calendar link as they (or HR) may see it: never its token."""

    employee_id: int
    active: bool
    created_at: datetime | None  # of the newest link, live or not
    revoked_at: datetime | None
    revoke_reason: CalendarFeedRevokeReason | None


@dataclass(frozen=True)
class NewFeed:
    """A link just made: the only time its token is known."""

    token: str
    state: FeedState

    @property
    def path(self) -> str:
        return feed_path(self.token)


@dataclass(frozen=True)
class RevokedFeed:
    state: FeedState
    revoked: bool  # whether a live link was ended (False: there was none)


async def _state(tenant_id: int, employee_id: int, connection: BaseDBAsyncClient | None = None) -> FeedState:
    """The newest link of the employee (one indexed query)."""
    query = CalendarFeed.filter(tenant_id=tenant_id, employee_id=employee_id).order_by("-id")
    if connection is not None:
        query = query.using_db(connection)
    newest = await query.only("id", "created_at", "revoked_at", "revoke_reason").first()
    if newest is None:
        return FeedState(employee_id, False, None, None, None)
    return FeedState(employee_id, newest.revoked_at is None, newest.created_at, newest.revoked_at, newest.revoke_reason)


async def feed_state(viewer: Viewer) -> FeedState:
    """The viewer's own link: live or not, since when."""
    return await _state(viewer.tenant_id, viewer.employee_id)


async def _revoke_live(
    connection: BaseDBAsyncClient,
    tenant_id: int,
    employee_id: int,
    reason: CalendarFeedRevokeReason,
    by: int | None,
    now: datetime,
) -> int:
    return (
        await CalendarFeed.filter(tenant_id=tenant_id, employee_id=employee_id, revoked_at__isnull=True)
        .using_db(connection)
        .update(revoked_at=now, revoke_reason=reason, revoked_by_id=by, updated_at=now)
    )


async def revoke_all(
    connection: BaseDBAsyncClient, tenant_id: int, employee_id: int, reason: CalendarFeedRevokeReason, now: datetime
) -> int:
    """End every live link of the employee in the caller's transaction (a leaver's); how many."""
    return await _revoke_live(connection, tenant_id, employee_id, reason, None, now)


async def create_feed(viewer: Viewer, now: datetime | None = None) -> NewFeed:
    """A new link for the viewer; their previous one stops working at once. Audited."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    async with in_transaction() as connection:
        # The employee's row, locked: concurrent requests make their links one after the other.
        locked = (
            await Employee.filter(tenant_id=viewer.tenant_id, id=viewer.employee_id, is_active=True)
            .select_for_update()
            .using_db(connection)
            .only("id")
            .first()
        )
        if locked is None:  # left between authentication and now
            raise DomainError(ErrorCode.ACCOUNT_DISABLED)
        replaced = await _revoke_live(
            connection, viewer.tenant_id, viewer.employee_id, CalendarFeedRevokeReason.REPLACED, None, now
        )
        await CalendarFeed.create(
            tenant_id=viewer.tenant_id,
            employee_id=viewer.employee_id,
            token_hash=token_hash(token),
            using_db=connection,
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "calendar.create",
            "Employee",
            viewer.employee_id,
            {"replaced": replaced},
        )
        state = await _state(viewer.tenant_id, viewer.employee_id, connection)
    return NewFeed(token, state)


async def _target(viewer: Viewer, employee_id: int | None) -> int:
    """Whose link: the viewer's own, or, for HR admins, any employee's of their company (decided
    by role before any row is read, so it tells nothing about that employee)."""
    if employee_id is None or employee_id == viewer.employee_id:
        return viewer.employee_id
    viewer.require_role(Role.HR_ADMIN)
    if not await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).exists():
        raise DomainError(ErrorCode.NOT_FOUND, field="employeeId")
    return employee_id


async def revoke_feed(viewer: Viewer, employee_id: int | None = None, now: datetime | None = None) -> RevokedFeed:
    """Turn off the live link of the viewer, or (HR admins) of ``employee_id``. Audited; revoking
    when no link is live changes nothing and says so (``revoked`` false)."""
    now = now or datetime.now(UTC)
    target = await _target(viewer, employee_id)
    reason = (
        CalendarFeedRevokeReason.REVOKED if target == viewer.employee_id else CalendarFeedRevokeReason.REVOKED_BY_HR
    )
    async with in_transaction() as connection:
        revoked = await _revoke_live(connection, viewer.tenant_id, target, reason, viewer.employee_id, now)
        await audit(connection, viewer, viewer.tenant_id, "calendar.revoke", "Employee", target, {"revoked": revoked})
        state = await _state(viewer.tenant_id, target, connection)
    return RevokedFeed(state, revoked > 0)


async def employee_of_token(token: object) -> Employee | None:
    """The active employee whose live link ``token`` is, or None (see the module's docstring)."""
    if not isinstance(token, str) or not TOKEN_PATTERN.fullmatch(token):
        return None
    live = CalendarFeed.filter(token_hash=token_hash(token), revoked_at__isnull=True).values("employee_id")
    return await Employee.filter(id__in=Subquery(live), is_active=True).only(*EMPLOYEE_COLUMNS).first()
