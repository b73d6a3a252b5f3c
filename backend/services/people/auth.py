"""Sign-in: passwords, access tokens, rotating refresh tokens, throttling, sign-out.

- Access tokens are short-lived JWTs (HS256, explicit) naming tenant, employee, roles, device and
  session. Every request re-checks the session and the employee in the database, so logout,
  refresh-token reuse and deactivation take effect at once, not when the token expires.
- Refresh tokens are opaque strings; only their SHA-256 is stored. Each works once. Using one
  twice revokes its whole session (the chain of tokens of that device login), except for a short
  grace window (``refresh_retry_seconds``): the token a refresh hands out is derived from the
  token it replaces (HMAC with the secret key), so the same device retrying a refresh whose answer
  was lost gets the very same pair again, as long as that pair has not been used yet.
- Wrong tenant, unknown employee number and wrong password are indistinguishable, in the answer
  and in the work done (a dummy hash is verified when there is no employee, the device lookup runs
  either way, and the throttle is keyed by what was typed).
- Login throttling separates the source from the account (see ``_limits``): failures from one
  client address lock that address (per account, and across accounts), failures from everywhere
  lock the account only for devices that never signed in to it. So strangers cannot lock an
  employee out of the phone they already use.
- ``find_account``, ``begin_attempt`` (an ``Attempt`` counted by the throttle), ``verify_password``
  and ``start_session`` are shared with ``accounts`` (activation codes and password changes), so
  every secret of an account is checked under the same counters and signs in the same way.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import cast

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise import connections
from tortoise.expressions import F, Q
from tortoise.fields import CharField
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.keyring import KeyRing
from backend.models import AuthSession, Device, Employee, EmployeeRole, LoginThrottle, RefreshToken, Role, Tenant
from backend.observability import metrics
from backend.services.people import devices
from backend.services.validation import text
from backend.services.viewer import Viewer
from backend.sql import Params, db_uuid

# Outcomes only: ids, codes and limit kinds, never what was typed, passwords or addresses.
log = logging.getLogger("xuefen.auth")

JWT_ALGORITHM = "HS256"
JWT_ISSUER = "xuefen"
JWT_AUDIENCE = "xuefen-app"
MAX_FIELD_LENGTH = 128


@dataclass(frozen=True)
class IssuedTokens:
    """What a successful login or refresh hands to the app."""

    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    viewer: Viewer


def utcnow() -> datetime:
    return datetime.now(UTC)


@lru_cache(maxsize=4)
def _hasher(time_cost: int, memory_cost: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost)


def password_hasher(settings: Settings) -> PasswordHasher:
    return _hasher(settings.password_time_cost, settings.password_memory_cost_kib)


def hash_password(settings: Settings, password: str) -> str:
    """An argon2id hash of ``password`` with the configured cost."""
    return password_hasher(settings).hash(password)


@lru_cache(maxsize=4)
def _dummy_hash(time_cost: int, memory_cost: int) -> str:
    return _hasher(time_cost, memory_cost).hash(secrets.token_hex(16))


def _verify(settings: Settings, password_hash: str | None, password: str) -> bool:
    hasher = password_hasher(settings)
    target = password_hash or _dummy_hash(settings.password_time_cost, settings.password_memory_cost_kib)
    try:
        # An account without a password (a new hire waiting for activation) never signs in with one.
        return hasher.verify(target, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(settings: Settings, password_hash: str, password: str) -> bool:
    """Whether ``password`` is the account's (never for an account without one); blocking (argon2):
    run it in a thread."""
    return _verify(settings, password_hash, password[:1024])


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _require_text(field: str, value: str) -> str:
    return text(value, field, MAX_FIELD_LENGTH)


def checked_device_uid(value: str) -> str:
    """The app's ``deviceId`` for a sign-in: VALIDATION when empty, too long, or one of the server's
    own ids (``xuefen-…``, such as the import device history is written through): no phone may
    pose as the importer."""
    device_uid = _require_text("deviceId", value)
    if devices.is_reserved(device_uid):
        raise DomainError(
            ErrorCode.VALIDATION, field="deviceId", reason_key="reason.reserved_device", prefix=devices.RESERVED_PREFIX
        )
    return device_uid


# --- throttling -------------------------------------------------------------------------------
#
# Every limit is a row of login_throttle keyed by a SHA-256 of what it counts, so the table holds
# several kinds of keys and never says whether a company or employee exists. A login is checked
# against the limits that apply to it (``_limits``):
#
# - a device that has signed in to the account before (a ``device`` row exists): failures of that
#   account on that device only. Failures from anywhere else never block it.
# - any other device: failures of the account from this client address (``login_max_failures``,
#   the old per-account limit, now per source), of the account from everywhere
#   (``login_account_max_failures``, higher) and of this client address across all accounts
#   (``login_source_max_failures``: enumeration of sequential employee numbers).
#
# Each attempt is counted *before* its password is checked, in one upsert per limit, so parallel
# guesses cannot exceed a limit. A success clears the account's counters it was checked against
# and gives the address back its one attempt (an attacker's own valid account must not reset the
# address). A disabled account with the right password gives every attempt back.

# How long an attempt waits for others in flight on a full (not yet locked) counter.
_IN_FLIGHT_WAIT_SECONDS = 5.0


@dataclass(frozen=True)
class _Limit:
    kind: str  # for logs: "device", "account_source", "account", "source"
    key: str
    max_failures: int
    account: bool  # cleared by a successful login (else only this attempt is given back)


def client_source(host: str | None) -> str:
    """The client address as throttling counts it: IPv4 as is (also when IPv4-mapped), IPv6 by
    its /64 (one subscriber's allocation), anything else verbatim; "" when unknown."""
    if not host:
        return ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:MAX_FIELD_LENGTH]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _throttle_key(tenant_code: str, employee_no: str) -> str:
    """Account-wide failures (all sources), as typed."""
    return _sha256(f"{tenant_code.lower()}\x00{employee_no.upper()}")


def _account_source_key(tenant_code: str, employee_no: str, source: str) -> str:
    return _sha256(f"account-source\x00{tenant_code.lower()}\x00{employee_no.upper()}\x00{source}")


def _device_key(tenant_code: str, employee_no: str, device_uid: str) -> str:
    return _sha256(f"account-device\x00{tenant_code.lower()}\x00{employee_no.upper()}\x00{device_uid}")


def _source_key(source: str) -> str:
    return _sha256(f"source\x00{source}")


def _limits(
    settings: Settings, tenant_code: str, employee_no: str, device_uid: str, source: str, familiar: bool
) -> list[_Limit]:
    """The limits a login is held to, most specific first; a limit of 0 is off."""
    if familiar:
        limits = [
            _Limit("device", _device_key(tenant_code, employee_no, device_uid), settings.login_max_failures, True)
        ]
    else:
        limits = [
            _Limit(
                "account_source",
                _account_source_key(tenant_code, employee_no, source),
                settings.login_max_failures,
                True,
            ),
            _Limit("account", _throttle_key(tenant_code, employee_no), settings.login_account_max_failures, True),
        ]
        if source:  # an unknown address cannot be told apart from others: no per-source limit
            limits.append(_Limit("source", _source_key(source), settings.login_source_max_failures, False))
    return [limit for limit in limits if limit.max_failures > 0]


def _retry_after(locked_until: datetime, now: datetime) -> int:
    return int((locked_until - now).total_seconds()) + 1


async def _check_throttle(limits: list[_Limit], now: datetime) -> None:
    """Refuse at once, without writing, while any limit is locked (the longest wait is told)."""
    if not limits:
        return
    locks = await LoginThrottle.filter(key_hash__in=[limit.key for limit in limits], locked_until__gt=now).values_list(
        "locked_until"
    )
    if locks:
        raise DomainError(ErrorCode.TOO_MANY_ATTEMPTS, retry_after=_retry_after(max(until for (until,) in locks), now))


async def _count_attempt(settings: Settings, limit: _Limit, now: datetime) -> bool:
    """Count one attempt in a single statement: insert the row, or start a fresh window when the
    old one or its lock is over, or add one while below the limit and unlocked. False when the
    limit is reached (no row changed). One statement, so a row deleted or reset by a concurrent
    login between a read and a write cannot be mistaken for a full counter."""
    connection = connections.get("default")
    p = Params(connection)
    key, now_, window_start, most = (
        p(limit.key),
        p(now),
        p(now - timedelta(seconds=settings.login_failure_window_seconds)),
        p(limit.max_failures),
    )
    stale = f"(login_throttle.window_started_at < {window_start} OR login_throttle.locked_until <= {now_})"
    rows = await connection.execute_query_dict(
        "INSERT INTO login_throttle (key_hash, failures, window_started_at, locked_until) "
        f"VALUES ({key}, 1, {now_}, NULL) "
        "ON CONFLICT (key_hash) DO UPDATE SET "
        f"failures = CASE WHEN {stale} THEN 1 ELSE login_throttle.failures + 1 END, "
        f"window_started_at = CASE WHEN {stale} THEN {now_} ELSE login_throttle.window_started_at END, "
        f"locked_until = CASE WHEN {stale} THEN NULL ELSE login_throttle.locked_until END "
        f"WHERE {stale} OR (login_throttle.failures < {most} AND login_throttle.locked_until IS NULL) "
        "RETURNING failures",
        p.values,
    )
    return bool(rows)


async def _reserve_attempt(settings: Settings, limit: _Limit, now: datetime) -> None:
    """Count this attempt against ``limit`` *before* the password is checked, so of many parallel
    guesses at most ``max_failures`` get their password checked (counting only after a failed
    check would let a burst all pass the check first). A full counter that is not locked means
    attempts are still in flight: they lock or clear it within moments, so wait for them (a
    burst of correct logins then all succeed) rather than refuse a correct password."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _IN_FLIGHT_WAIT_SECONDS
    delay = 0.01
    while True:
        if await _count_attempt(settings, limit, now):
            return
        row = await LoginThrottle.filter(key_hash=limit.key).first().values("locked_until")
        locked_until = row["locked_until"] if row else None
        if locked_until is not None and locked_until > now:
            raise DomainError(ErrorCode.TOO_MANY_ATTEMPTS, retry_after=_retry_after(locked_until, now))
        if loop.time() >= deadline:
            raise DomainError(ErrorCode.TOO_MANY_ATTEMPTS, retry_after=1)
        if row is not None:  # gone: cleared by a success since, so count again at once
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)


async def _reserve_attempts(settings: Settings, limits: list[_Limit], now: datetime) -> None:
    """Count the attempt against every limit, or against none (a refusal gives back the rest)."""
    reserved: list[_Limit] = []
    try:
        for limit in limits:
            await _reserve_attempt(settings, limit, now)
            reserved.append(limit)
    except BaseException:
        await _refund_attempts(reserved)
        raise


async def _lock_if_exhausted(settings: Settings, limits: list[_Limit], now: datetime) -> list[str]:
    """After a failed attempt (already counted): lock each limit that is now reached (their kinds)."""
    locked_until = now + timedelta(seconds=settings.login_lock_seconds)
    kinds: list[str] = []
    for limit in limits:
        locked = await LoginThrottle.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now),
            key_hash=limit.key,
            failures__gte=limit.max_failures,
        ).update(locked_until=locked_until)
        if locked:
            kinds.append(limit.kind)
            log.warning("login throttle: %s limit reached, locked for %ss", limit.kind, settings.login_lock_seconds)
    return kinds


async def _refund_attempts(limits: list[_Limit]) -> None:
    """Un-count an attempt (its password was right, or another limit refused it)."""
    for limit in limits:
        await LoginThrottle.filter(key_hash=limit.key, failures__gt=0).update(failures=F("failures") - 1)


async def _clear_after_success(limits: list[_Limit]) -> None:
    """A correct password: forget the account's failures, give the address its attempt back."""
    account_keys = [limit.key for limit in limits if limit.account]
    if account_keys:
        await LoginThrottle.filter(key_hash__in=account_keys).delete()
    await _refund_attempts([limit for limit in limits if not limit.account])


@dataclass(frozen=True)
class Attempt:
    """One try at an account's secret (its password, an activation code), already counted by the
    throttle: ``failed`` after a wrong secret, ``succeeded`` after a right one, ``give_back`` when
    the secret was right but the account refused (disabled)."""

    settings: Settings
    limits: list[_Limit]
    now: datetime
    familiar: bool  # the device has signed in to this account before

    async def failed(self) -> list[str]:
        """Lock each limit this failure exhausted; the kinds locked (for logs and audit)."""
        return await _lock_if_exhausted(self.settings, self.limits, self.now)

    async def succeeded(self) -> None:
        await _clear_after_success(self.limits)

    async def give_back(self) -> None:
        await _refund_attempts(self.limits)


async def find_account(tenant_code: str, employee_no: str) -> tuple[str, str, Employee | None]:
    """The typed company code and employee number as stored (lower / upper case) and the employee
    they name, if any. VALIDATION when either is empty or longer than its column."""
    tenant_code = _require_text("tenant", tenant_code)
    employee_no = _require_text("employeeNo", employee_no)
    # Compared as stored (lower / upper case); case mapping may lengthen text ("ß" → "SS"), and a
    # value longer than its column cannot match (the ORM refuses to compare it at all).
    tenant_code, employee_no = tenant_code.lower(), employee_no.upper()
    for field, value, model_field in (
        ("tenant", tenant_code, cast(CharField, Tenant._meta.fields_map["code"])),
        ("employeeNo", employee_no, cast(CharField, Employee._meta.fields_map["employee_no"])),
    ):
        if len(value) > model_field.max_length:
            raise DomainError(
                ErrorCode.VALIDATION, field=field, reason_key="reason.too_long", max=model_field.max_length
            )
    employee = await Employee.filter(tenant__code=tenant_code, employee_no=employee_no).first()
    return tenant_code, employee_no, employee


async def begin_attempt(
    settings: Settings,
    tenant_code: str,
    employee_no: str,
    employee: Employee | None,
    device_uid: str,
    source: str | None,
    now: datetime,
) -> Attempt:
    """Count a try at the account's secret against every limit that applies (TOO_MANY_ATTEMPTS
    while one is locked), before the secret is checked. ``tenant_code`` and ``employee_no`` as
    ``find_account`` returns them; ``employee`` None when there is no such account."""
    # Has this device signed in to this account before? The same query runs when there is no such
    # employee (matching nothing), so the work done does not tell whether the account exists.
    familiar = await Device.filter(
        tenant_id=employee.tenant_id if employee else 0,
        employee_id=employee.id if employee else 0,
        device_uid=device_uid,
    ).exists()
    limits = _limits(settings, tenant_code, employee_no, device_uid, client_source(source), familiar)
    await _check_throttle(limits, now)
    await _reserve_attempts(settings, limits, now)
    return Attempt(settings, limits, now, familiar)


# --- tokens -----------------------------------------------------------------------------------


def _encode_access_token(settings: Settings, viewer: Viewer, tenant_code: str, now: datetime) -> tuple[str, datetime]:
    expires_at = now + timedelta(seconds=settings.access_token_ttl_seconds)
    claims = {
        "iss": JWT_ISSUER,
        "aud": JWT_AUDIENCE,
        "sub": str(viewer.employee_id),
        "tid": viewer.tenant_id,
        "ten": tenant_code,
        "roles": sorted(role.value for role in viewer.roles),
        "dev": viewer.device_uid,
        "sid": str(viewer.session_id),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
    }
    # The header names the key (backend/keyring.py), so verification picks it directly.
    keys = settings.keys
    token = jwt.encode(claims, keys.current, algorithm=JWT_ALGORITHM, headers={"kid": keys.current_kid})
    return token, expires_at


def _successor_token(key: str, refresh_token: str) -> str:
    """The refresh token a refresh hands out for ``refresh_token``: derived (under the current
    key), not random, so a retry of a refresh whose answer was lost can be given the same token
    again. Stored, like every refresh token, as a plain SHA-256: no key is needed to look one up."""
    mac = hmac.new(key.encode("utf-8"), b"refresh:" + refresh_token.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


async def _store_refresh_token(settings: Settings, session: AuthSession, token: str, now: datetime) -> datetime:
    expires_at = now + timedelta(seconds=settings.refresh_token_ttl_seconds)
    await RefreshToken.create(
        tenant_id=session.tenant_id,
        session=session,
        token_hash=_sha256(token),
        expires_at=expires_at,
    )
    return expires_at


async def _roles_of(employee: Employee) -> frozenset[Role]:
    rows = await EmployeeRole.filter(tenant_id=employee.tenant_id, employee_id=employee.id).values_list("role")
    return frozenset(Role(role) for (role,) in rows)


def _viewer_of(session: AuthSession, employee: Employee, roles: frozenset[Role], device_uid: str) -> Viewer:
    return Viewer(
        tenant_id=employee.tenant_id, employee=employee, roles=roles, session_id=session.id, device_uid=device_uid
    )


async def _issue(
    settings: Settings,
    session: AuthSession,
    employee: Employee,
    device_uid: str,
    now: datetime,
    refresh_token: str | None = None,
) -> IssuedTokens:
    """A new pair: an access token and ``refresh_token`` (random when not given), stored."""
    viewer = _viewer_of(session, employee, await _roles_of(employee), device_uid)
    tenant_code = (await employee.tenant).code
    access, access_expires = _encode_access_token(settings, viewer, tenant_code, now)
    refresh_token = refresh_token or secrets.token_urlsafe(32)
    refresh_expires = await _store_refresh_token(settings, session, refresh_token, now)
    return IssuedTokens(access, access_expires, refresh_token, refresh_expires, viewer)


async def _reissue(
    settings: Settings, row: RefreshToken, refresh_token: str, device_uid: str, now: datetime
) -> IssuedTokens | None:
    """The pair a used refresh token was traded for, again, if this is a retry of that refresh:
    within ``refresh_retry_seconds`` of the first use, from the session's device, by an active
    employee, and the successor is still unused and unexpired. Its access token is encoded with
    the first answer's time, so both answers are the same bytes. None otherwise (reuse)."""
    session = row.session
    window = timedelta(seconds=settings.refresh_retry_seconds)
    if settings.refresh_retry_seconds <= 0 or row.used_at is None or now - row.used_at > window:
        return None
    if session.device.device_uid != device_uid or not session.employee.is_active:
        return None
    # The first answer derived its successor under the key current then: a retry reaching a
    # process that has rotated keys since looks under each key of the ring, in one query.
    successors = {
        _sha256(token): token for token in (_successor_token(key, refresh_token) for key in settings.keys.all)
    }
    successor_row = await RefreshToken.filter(
        token_hash__in=list(successors), session_id=session.id, used_at__isnull=True, expires_at__gt=now
    ).first()
    if successor_row is None:
        return None
    successor = successors[successor_row.token_hash]
    employee = session.employee
    viewer = _viewer_of(session, employee, await _roles_of(employee), device_uid)
    tenant_code = (await employee.tenant).code
    access, access_expires = _encode_access_token(settings, viewer, tenant_code, row.used_at)
    log.info("refresh retried within the grace window: session %s", session.id)
    return IssuedTokens(access, access_expires, successor, successor_row.expires_at, viewer)


# --- public API -------------------------------------------------------------------------------


async def login(
    settings: Settings,
    tenant_code: str,
    employee_no: str,
    password: str,
    device_uid: str,
    now: datetime | None = None,
    source: str | None = None,
) -> IssuedTokens:
    """Sign in on a device. Raises ``INVALID_CREDENTIALS`` for any wrong part,
    ``TOO_MANY_ATTEMPTS`` while throttled, ``ACCOUNT_DISABLED`` for a deactivated employee.
    ``source`` is the client address (``request.client.host``) the throttle counts by."""
    now = now or utcnow()
    tenant_code = _require_text("tenant", tenant_code)
    employee_no = _require_text("employeeNo", employee_no)
    device_uid = checked_device_uid(device_uid)
    if not password:
        raise DomainError(ErrorCode.VALIDATION, field="password", reason_key="reason.required")
    tenant_code, employee_no, employee = await find_account(tenant_code, employee_no)
    try:
        attempt = await begin_attempt(settings, tenant_code, employee_no, employee, device_uid, source, now)
    except DomainError as refused:
        metrics.count_login_failure(refused.code.value)  # TOO_MANY_ATTEMPTS
        raise

    password_ok = await asyncio.to_thread(
        _verify, settings, employee.password_hash if employee else None, password[:1024]
    )
    if employee is None or not password_ok:
        locked = await attempt.failed()
        log.info("login failed: INVALID_CREDENTIALS")
        metrics.count_login_failure(ErrorCode.INVALID_CREDENTIALS.value)
        if employee is not None:  # unknown accounts write nothing: the log must not tell them apart
            await devices.audit_sign_in_failure(
                settings, employee, ErrorCode.INVALID_CREDENTIALS, device_uid, attempt.familiar, source, locked
            )
        raise DomainError(ErrorCode.INVALID_CREDENTIALS)
    if not employee.is_active:
        await attempt.give_back()
        log.info("login refused: ACCOUNT_DISABLED (employee %s)", employee.id)
        metrics.count_login_failure(ErrorCode.ACCOUNT_DISABLED.value)
        await devices.audit_sign_in_failure(
            settings, employee, ErrorCode.ACCOUNT_DISABLED, device_uid, attempt.familiar, source
        )
        raise DomainError(ErrorCode.ACCOUNT_DISABLED)

    await attempt.succeeded()
    issued = await start_session(settings, employee, device_uid, now)
    await devices.audit_sign_in(settings, employee, device_uid, not attempt.familiar, source)
    log.info(
        "login: tenant %s employee %s session %s%s",
        employee.tenant_id,
        employee.id,
        issued.viewer.session_id,
        "" if attempt.familiar else " (new device)",
    )
    return issued


async def start_session(settings: Settings, employee: Employee, device_uid: str, now: datetime) -> IssuedTokens:
    """Sign ``employee`` in on ``device_uid`` (whose secret was just checked): the device row, a
    new session and its first token pair, in one transaction (a savepoint inside the caller's)."""
    device_uid = checked_device_uid(device_uid)  # every way in (login, activation) ends here
    async with in_transaction():
        device, created = await Device.get_or_create(
            tenant_id=employee.tenant_id,
            employee_id=employee.id,
            device_uid=device_uid,
            defaults={"last_seen_at": now},
        )
        if not created:
            await Device.filter(id=device.id).update(last_seen_at=now)
        session = await AuthSession.create(
            id=uuid.uuid4(), tenant_id=employee.tenant_id, employee=employee, device=device
        )
        return await _issue(settings, session, employee, device_uid, now)


async def refresh(settings: Settings, refresh_token: str, device_uid: str, now: datetime | None = None) -> IssuedTokens:
    """Trade a refresh token for a new pair. The old token stops working; presenting it again
    revokes the whole session (``REFRESH_TOKEN_REUSED``), unless it is the same device retrying
    within ``refresh_retry_seconds`` before using the new pair: then it gets that pair again."""
    now = now or utcnow()
    refresh_token = _require_text("refreshToken", refresh_token)
    device_uid = _require_text("deviceId", device_uid)
    row = (
        await RefreshToken.filter(token_hash=_sha256(refresh_token))
        .select_related("session", "session__device", "session__employee")
        .first()
    )
    if row is None or row.session.revoked_at is not None:
        raise DomainError(ErrorCode.INVALID_REFRESH_TOKEN)
    session = row.session
    if row.used_at is not None:
        return await _reissue_or_revoke(settings, row, refresh_token, device_uid, now)
    if session.device.device_uid != device_uid:
        # A token carried to another device is treated as stolen.
        await revoke_session(session.id, "DEVICE_MISMATCH", now)
        await devices.audit_refresh_refused(settings, session, "auth.refresh_device_mismatch", device_uid)
        log.warning("refresh from another device: session %s revoked", session.id)
        raise DomainError(ErrorCode.INVALID_REFRESH_TOKEN)
    if row.expires_at <= now:
        raise DomainError(ErrorCode.INVALID_REFRESH_TOKEN)
    if not session.employee.is_active:
        await revoke_session(session.id, "DEACTIVATED", now)
        raise DomainError(ErrorCode.ACCOUNT_DISABLED)

    for _ in range(3):
        async with in_transaction():
            # Conditional update: of two concurrent refreshes with one token, exactly one wins.
            claimed = await RefreshToken.filter(id=row.id, used_at__isnull=True).update(used_at=now)
            if claimed:
                await Device.filter(id=session.device_id).update(last_seen_at=now)
                return await _issue(
                    settings,
                    session,
                    session.employee,
                    device_uid,
                    now,
                    _successor_token(settings.keys.current, refresh_token),
                )
        # Another request with this token won the claim (on PostgreSQL our update waited for its
        # commit): a retry racing its original gets the winner's pair, like a retry that came later.
        fresh = await RefreshToken.filter(id=row.id).first().values_list("used_at")
        row.used_at = fresh[0] if fresh else None
        if row.used_at is not None:
            return await _reissue_or_revoke(settings, row, refresh_token, device_uid, now)
        # Unused again: the winner's transaction rolled back. Claim it ourselves.
    raise DomainError(ErrorCode.INVALID_REFRESH_TOKEN)


async def _reissue_or_revoke(
    settings: Settings, row: RefreshToken, refresh_token: str, device_uid: str, now: datetime
) -> IssuedTokens:
    """A used refresh token: the same pair again if this is a retry, else reuse (revoked)."""
    reissued = await _reissue(settings, row, refresh_token, device_uid, now)
    if reissued is not None:
        return reissued
    await revoke_session(row.session.id, "REUSE", now)
    await devices.audit_refresh_refused(settings, row.session, "auth.refresh_reused")
    log.warning("refresh token reuse: session %s revoked", row.session.id)
    raise DomainError(ErrorCode.REFRESH_TOKEN_REUSED)


async def revoke_session(session_id: uuid.UUID, reason: str, now: datetime | None = None) -> int:
    """End a device login: its access and refresh tokens stop working at once."""
    return await AuthSession.filter(id=session_id, revoked_at__isnull=True).update(
        revoked_at=now or utcnow(), revoke_reason=reason
    )


async def logout(viewer: Viewer | None, refresh_token: str | None = None) -> None:
    """Sign out the viewer's session, or the session a refresh token belongs to."""
    if viewer is not None:
        await revoke_session(viewer.session_id, "LOGOUT")
        return
    if refresh_token:
        row = await RefreshToken.get_or_none(token_hash=_sha256(refresh_token))
        if row is not None:
            await revoke_session(row.session_id, "LOGOUT")
            return
    raise DomainError(ErrorCode.UNAUTHENTICATED)


async def deactivate_employee(tenant_id: int, employee_id: int) -> None:
    """Deactivate an employee and end all their sessions (used by HR tooling and tests)."""
    async with in_transaction():
        await Employee.filter(tenant_id=tenant_id, id=employee_id).update(is_active=False)
        await AuthSession.filter(tenant_id=tenant_id, employee_id=employee_id, revoked_at__isnull=True).update(
            revoked_at=utcnow(), revoke_reason="DEACTIVATED"
        )


# Access tokens verified before: (secret, token) -> (session, employee, tenant, expiry, issued).
# The signature of the same text under the same key verifies the same every time, so a phone's
# repeated requests skip it (and the parsing of its header); only the expiry moves, and it is
# checked on every use. Whether the session is still live is the database's answer, every
# request (authenticate). Keyed by the key too: a token of a key that has left the ring is never
# found. ``issued`` tells two tokens of one sign-in apart (its jti, else iat: the rate limiter's
# per-token counter).
_VERIFIED: dict[tuple[str, str], tuple[uuid.UUID, int, int, float, str]] = {}
_VERIFIED_LIMIT = 10_000  # tokens kept (each a few hundred bytes); emptied when full


def _candidate_keys(keys: KeyRing, access_token: str) -> tuple[str, ...]:
    """The ring keys that may have signed ``access_token``: the one its ``kid`` header names
    (none when that key has left the ring), or every key for a token from before key ids."""
    try:
        kid = jwt.get_unverified_header(access_token).get("kid")
    except jwt.InvalidTokenError as exc:
        raise DomainError(ErrorCode.UNAUTHENTICATED) from exc
    if kid is None:
        return keys.all
    key = keys.by_kid(kid) if isinstance(kid, str) else None
    return (key,) if key is not None else ()


def _verified_token(keys: KeyRing, access_token: str) -> tuple[uuid.UUID, int, int, float, str]:
    """(session, employee, tenant, expiry, issued) of a valid, unexpired access token signed under
    a key of the ring; TOKEN_EXPIRED or UNAUTHENTICATED otherwise."""
    # Verified before under a key still in the ring: that key signed it (no header to parse).
    known = next((hit for key in keys.all if (hit := _VERIFIED.get((key, access_token))) is not None), None)
    if known is None:
        candidates = _candidate_keys(keys, access_token)
        for secret_key in candidates:
            try:
                known = _verify_token(secret_key, access_token)
                break
            except jwt.InvalidSignatureError:
                continue  # another key of the ring, maybe (a token without a key id)
        else:
            raise DomainError(ErrorCode.UNAUTHENTICATED)
    elif known[3] <= datetime.now(UTC).timestamp():  # as PyJWT: expired from its exp second on
        raise DomainError(ErrorCode.TOKEN_EXPIRED)
    return known


def _token_claims(keys: KeyRing, access_token: str) -> tuple[uuid.UUID, int, int]:
    """(session, employee, tenant) of a valid, unexpired access token signed under a key of the
    ring; TOKEN_EXPIRED or UNAUTHENTICATED otherwise."""
    session_id, employee_id, tenant_id, _, _ = _verified_token(keys, access_token)
    return session_id, employee_id, tenant_id


def access_token_claims(keys: KeyRing, access_token: str) -> tuple[uuid.UUID, int, int]:
    """``_token_claims`` for code outside this module that checks access tokens itself (the
    benchmark's minimal server): the one verification, key ring included."""
    return _token_claims(keys, access_token)


def access_token_identity(keys: KeyRing, access_token: str) -> tuple[uuid.UUID, int, int, str]:
    """(session, employee, tenant, issued) of a valid access token: ``issued`` (its jti, else its
    iat) tells apart two tokens of one sign-in (the rate limiter's per-token counter). Verified
    and cached as ``_token_claims`` is."""
    session_id, employee_id, tenant_id, _, issued = _verified_token(keys, access_token)
    return session_id, employee_id, tenant_id, issued


def _verify_token(secret_key: str, access_token: str) -> tuple[uuid.UUID, int, int, float, str]:
    """``_verified_token`` under one key; InvalidSignatureError when the key did not sign it."""
    key = (secret_key, access_token)
    try:
        claims = jwt.decode(
            access_token,
            secret_key,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "tid"]},
        )
        session_id = uuid.UUID(claims["sid"])
        employee_id = int(claims["sub"])
        tenant_id = int(claims["tid"])
        expires = float(claims["exp"])
        issued = str(claims.get("jti") or claims.get("iat") or "")
    except jwt.ExpiredSignatureError as exc:
        raise DomainError(ErrorCode.TOKEN_EXPIRED) from exc
    except jwt.InvalidSignatureError:
        raise
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise DomainError(ErrorCode.UNAUTHENTICATED) from exc
    if len(_VERIFIED) >= _VERIFIED_LIMIT:
        _VERIFIED.clear()
    _VERIFIED[key] = verified = (session_id, employee_id, tenant_id, expires, issued)
    return verified


async def authenticate(settings: Settings, access_token: str) -> Viewer:
    """The viewer behind a bearer token, checked against the live session and employee."""
    session_id, employee_id, tenant_id = _token_claims(settings.keys, access_token)
    viewer = await viewer_of_session(tenant_id, session_id, employee_id)
    if viewer is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    return viewer


async def viewer_of_session(tenant_id: int, session_id: uuid.UUID, employee_id: int | None = None) -> Viewer | None:
    """The viewer of a live login (not signed out or revoked, its employee active), or None: what
    every request checks, for a bearer token, the dashboard's cookie and a signed download link
    alike. ``employee_id``, when the caller holds one (a token's), must be the login's."""
    connection = connections.get("default")
    p = Params(connection)
    # One statement per request, the hottest in the API: the live session, its active employee
    # (every column but the password hash), its device and roles (a row per role).
    sql = (
        f"SELECT {_viewer_columns()}, d.device_uid AS device_uid__, r.role AS role__ "
        "FROM auth_session s JOIN employee e ON e.id = s.employee_id JOIN device d ON d.id = s.device_id "
        "LEFT JOIN employee_role r ON r.employee_id = e.id AND r.tenant_id = e.tenant_id "
        f"WHERE s.id = {p(db_uuid(connection, session_id))} AND s.tenant_id = {p(tenant_id)} "
    )
    if employee_id is not None:
        sql += f"AND s.employee_id = {p(employee_id)} "
    rows = await connection.execute_query_dict(sql + "AND s.revoked_at IS NULL AND e.is_active", p.values)
    if not rows:
        return None
    roles = frozenset(Role(row.pop("role__")) for row in rows if row["role__"] is not None)
    first = rows[0]
    first.pop("role__", None)
    device_uid = first.pop("device_uid__")
    return Viewer(
        tenant_id=tenant_id,
        employee=Employee._init_from_db(**first),  # partial: no password hash to carry around
        roles=roles,
        session_id=session_id,
        device_uid=device_uid,
    )


@lru_cache(maxsize=1)
def _viewer_columns() -> str:
    """The employee columns a viewer carries: all but the password hash (read once the ORM is
    initialised, when the foreign-key columns are known)."""
    columns = Employee._meta.fields_db_projection.values()
    return ", ".join(f"e.{column}" for column in sorted(columns) if column != "password_hash")
