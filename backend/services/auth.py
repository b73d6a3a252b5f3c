"""Sign-in: passwords, access tokens, rotating refresh tokens, throttling, sign-out.

- Access tokens are short-lived JWTs (HS256, explicit) naming tenant, employee, roles, device and
  session. Every request re-checks the session and the employee in the database, so logout,
  refresh-token reuse and deactivation take effect at once, not when the token expires.
- Refresh tokens are opaque random strings; only their SHA-256 is stored. Each works once. Using
  one twice revokes its whole session (the chain of tokens of that device login).
- Wrong tenant, unknown employee number and wrong password are indistinguishable, in the answer
  and in the work done (a dummy hash is verified when there is no employee).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import AuthSession, Device, Employee, EmployeeRole, LoginThrottle, RefreshToken, Role
from backend.services.viewer import Viewer

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
    return datetime.now(timezone.utc)


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
        return hasher.verify(target, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _require_text(field: str, value: str) -> str:
    value = (value or "").strip()
    if not value:
        raise DomainError(ErrorCode.VALIDATION, field=field, reason_key="reason.required")
    if len(value) > MAX_FIELD_LENGTH:
        raise DomainError(
            ErrorCode.VALIDATION, field=field, reason_key="reason.too_long", max=MAX_FIELD_LENGTH
        )
    return value


# --- throttling -------------------------------------------------------------------------------


def _throttle_key(tenant_code: str, employee_no: str) -> str:
    return _sha256(f"{tenant_code.lower()}\x00{employee_no.upper()}")


async def _check_throttle(settings: Settings, key: str, now: datetime) -> None:
    row = await LoginThrottle.get_or_none(key_hash=key)
    if row and row.locked_until and row.locked_until > now:
        retry_after = int((row.locked_until - now).total_seconds()) + 1
        raise DomainError(ErrorCode.TOO_MANY_ATTEMPTS, retry_after=retry_after)


async def _reserve_attempt(settings: Settings, key: str, now: datetime) -> None:
    """Count this attempt against the limit *before* the password is checked.

    The count goes up in one conditional update (``failures < max``), so of many parallel
    guesses at most ``login_max_failures`` get their password checked; counting only after a
    failed check would let a burst of parallel requests all pass ``_check_throttle`` first.
    A successful login deletes the row; a failed one stays counted (see ``_lock_if_exhausted``).
    """
    window = timedelta(seconds=settings.login_failure_window_seconds)
    for _ in range(2):  # a concurrent first attempt may win the insert; then use theirs
        row = await LoginThrottle.get_or_none(key_hash=key)
        if row is None:
            try:
                row = await LoginThrottle.create(key_hash=key, failures=0, window_started_at=now)
            except IntegrityError:
                continue
        lock_over = row.locked_until is not None and row.locked_until <= now
        if row.window_started_at + window < now or lock_over:
            # A fresh window: start counting again (conditional on nobody else resetting it).
            await LoginThrottle.filter(id=row.id, window_started_at=row.window_started_at).update(
                failures=0, window_started_at=now, locked_until=None
            )
        reserved = await LoginThrottle.filter(
            id=row.id, failures__lt=settings.login_max_failures
        ).update(failures=F("failures") + 1)
        if not reserved:
            # Every allowed attempt is taken. Locked: say until when. Otherwise some are still in
            # flight and will either lock or clear the row within moments.
            await _check_throttle(settings, key, now)
            raise DomainError(ErrorCode.TOO_MANY_ATTEMPTS, retry_after=1)
        return


async def _lock_if_exhausted(settings: Settings, key: str, now: datetime) -> None:
    """After a failed attempt (already counted): lock once the limit is reached."""
    await LoginThrottle.filter(key_hash=key, failures__gte=settings.login_max_failures).update(
        locked_until=now + timedelta(seconds=settings.login_lock_seconds)
    )


async def _refund_attempt(key: str) -> None:
    """Un-count an attempt whose password was right (a disabled account is not a failure)."""
    await LoginThrottle.filter(key_hash=key, failures__gt=0).update(failures=F("failures") - 1)


# --- tokens -----------------------------------------------------------------------------------


def _encode_access_token(
    settings: Settings, viewer: Viewer, tenant_code: str, now: datetime
) -> tuple[str, datetime]:
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
    return jwt.encode(claims, settings.secret_key, algorithm=JWT_ALGORITHM), expires_at


async def _new_refresh_token(
    settings: Settings, session: AuthSession, now: datetime
) -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(seconds=settings.refresh_token_ttl_seconds)
    await RefreshToken.create(
        tenant_id=session.tenant_id,
        session=session,
        token_hash=_sha256(token),
        expires_at=expires_at,
    )
    return token, expires_at


async def _roles_of(employee: Employee) -> frozenset[Role]:
    rows = await EmployeeRole.filter(tenant_id=employee.tenant_id, employee_id=employee.id).values_list(
        "role", flat=True
    )
    return frozenset(Role(role) for role in rows)


async def _issue(
    settings: Settings, session: AuthSession, employee: Employee, device_uid: str, now: datetime
) -> IssuedTokens:
    viewer = Viewer(
        tenant_id=employee.tenant_id,
        employee=employee,
        roles=await _roles_of(employee),
        session_id=session.id,
        device_uid=device_uid,
    )
    tenant_code = (await employee.tenant).code
    access, access_expires = _encode_access_token(settings, viewer, tenant_code, now)
    refresh, refresh_expires = await _new_refresh_token(settings, session, now)
    return IssuedTokens(access, access_expires, refresh, refresh_expires, viewer)


# --- public API -------------------------------------------------------------------------------


async def login(
    settings: Settings,
    tenant_code: str,
    employee_no: str,
    password: str,
    device_uid: str,
    now: datetime | None = None,
) -> IssuedTokens:
    """Sign in on a device. Raises ``INVALID_CREDENTIALS`` for any wrong part,
    ``TOO_MANY_ATTEMPTS`` while throttled, ``ACCOUNT_DISABLED`` for a deactivated employee."""
    now = now or utcnow()
    tenant_code = _require_text("tenant", tenant_code)
    employee_no = _require_text("employeeNo", employee_no)
    device_uid = _require_text("deviceId", device_uid)
    if not password:
        raise DomainError(ErrorCode.VALIDATION, field="password", reason_key="reason.required")

    key = _throttle_key(tenant_code, employee_no)
    await _check_throttle(settings, key, now)
    await _reserve_attempt(settings, key, now)

    employee = await Employee.filter(
        tenant__code=tenant_code.lower(), employee_no=employee_no.upper()
    ).first()
    password_ok = await asyncio.to_thread(
        _verify, settings, employee.password_hash if employee else None, password[:1024]
    )
    if employee is None or not password_ok:
        await _lock_if_exhausted(settings, key, now)
        raise DomainError(ErrorCode.INVALID_CREDENTIALS)
    if not employee.is_active:
        await _refund_attempt(key)
        raise DomainError(ErrorCode.ACCOUNT_DISABLED)

    await LoginThrottle.filter(key_hash=key).delete()
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


async def refresh(
    settings: Settings, refresh_token: str, device_uid: str, now: datetime | None = None
) -> IssuedTokens:
    """Trade a refresh token for a new pair. The old token stops working; presenting it again
    revokes the whole session (``REFRESH_TOKEN_REUSED``)."""
    now = now or utcnow()
    refresh_token = _require_text("refreshToken", refresh_token)
    device_uid = _require_text("deviceId", device_uid)
    row = await RefreshToken.filter(token_hash=_sha256(refresh_token)).select_related(
        "session", "session__device", "session__employee"
    ).first()
    if row is None or row.session.revoked_at is not None:
        raise DomainError(ErrorCode.INVALID_REFRESH_TOKEN)
    session = row.session
    if row.used_at is not None:
        await revoke_session(session.id, "REUSE", now)
        raise DomainError(ErrorCode.REFRESH_TOKEN_REUSED)
    if session.device.device_uid != device_uid:
        # A token carried to another device is treated as stolen.
        await revoke_session(session.id, "DEVICE_MISMATCH", now)
        raise DomainError(ErrorCode.INVALID_REFRESH_TOKEN)
    if row.expires_at <= now:
        raise DomainError(ErrorCode.INVALID_REFRESH_TOKEN)
    if not session.employee.is_active:
        await revoke_session(session.id, "DEACTIVATED", now)
        raise DomainError(ErrorCode.ACCOUNT_DISABLED)

    async with in_transaction():
        # Conditional update: of two concurrent refreshes with one token, exactly one wins.
        claimed = await RefreshToken.filter(id=row.id, used_at__isnull=True).update(used_at=now)
        if claimed:
            await Device.filter(id=session.device_id).update(last_seen_at=now)
            return await _issue(settings, session, session.employee, device_uid, now)
    await revoke_session(session.id, "REUSE", now)
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
        await AuthSession.filter(
            tenant_id=tenant_id, employee_id=employee_id, revoked_at__isnull=True
        ).update(revoked_at=utcnow(), revoke_reason="DEACTIVATED")


async def authenticate(settings: Settings, access_token: str) -> Viewer:
    """The viewer behind a bearer token, checked against the live session and employee."""
    try:
        claims = jwt.decode(
            access_token,
            settings.secret_key,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            issuer=JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "tid"]},
        )
        session_id = uuid.UUID(claims["sid"])
        employee_id = int(claims["sub"])
        tenant_id = int(claims["tid"])
    except jwt.ExpiredSignatureError as exc:
        raise DomainError(ErrorCode.TOKEN_EXPIRED) from exc
    except (jwt.InvalidTokenError, ValueError, TypeError, KeyError) as exc:
        raise DomainError(ErrorCode.UNAUTHENTICATED) from exc
    session = await AuthSession.filter(
        id=session_id,
        tenant_id=tenant_id,
        employee_id=employee_id,
        revoked_at__isnull=True,
        employee__is_active=True,
    ).select_related("employee", "device").first()
    if session is None:
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    return Viewer(
        tenant_id=tenant_id,
        employee=session.employee,
        roles=await _roles_of(session.employee),
        session_id=session.id,
        device_uid=session.device.device_uid,
    )
