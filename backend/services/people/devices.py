"""The devices an employee signs in on, cutting one off at once (a lost phone), and the audit of
sign-ins.

- A ``Device`` row exists per employee and app installation (the ``deviceId`` the app generated)
  from its first sign-in on. That id stays private to its owner's phone: it makes a login a known
  device's login for throttling (services.people.auth), so whoever knew it could use up that
  device's attempts. Everyone, the owner included, names a device by its *tag*, the keyed hash
  session rosters show too (``device_tag``): the same phone, the same tag.
- A device is *signed in* while one of its auth sessions is not revoked and still holds an unused,
  unexpired refresh token (an access token never outlives the refresh token issued with it).
- ``revoke_device`` revokes every auth session of the device (``DEVICE_REVOKED``). Access tokens
  are checked against their session on every request and refresh tokens against theirs, so both
  stop working on the next request, on every server process. The device may sign in again with the
  password: revocation takes the tokens off a lost phone, whoever holds it still needs the
  password (HR resets it when that is in doubt). The device row stays (its sync sequence lives on
  it), so it stays a known device for throttling. Employees revoke their own devices (the current
  one signs them out); HR admins any employee's of their tenant. Audited (``device.revoke``).
- Sign-ins are audited with the employee as entity: ``auth.login`` (the actor is the employee),
  ``auth.login_failed`` for an existing employee (``INVALID_CREDENTIALS``, ``ACCOUNT_DISABLED``, or
  ``ACTIVATION_CODE_INVALID`` from ``activateAccount``, and which throttle limits that failure locked), ``auth.refresh_reused`` and
  ``auth.refresh_device_mismatch`` (a copied refresh token; its session was revoked). Details hold
  the device tag and the client's network prefix (IPv4 /24, IPv6 /48), never the address, what was
  typed, a password or a token. Nothing is written for unknown companies or employee numbers (no
  tenant to file it under, and the work done must not tell them apart), nor for attempts refused
  while a throttle limit is locked: they cost an attacker nothing, so writing a row for each would
  let anyone fill the audit log, and a fast refusal that writes only for real accounts would say
  which accounts exist. The lock itself is audited, once, on the failure that set it.
- Device ids starting with ``xuefen-`` are the server's own: an import of training history writes
  each employee's records through their ``IMPORT_DEVICE_UID`` device (created on demand), which
  the ``HISTORY_RESULT`` record kind demands. No phone can sign in with such an id, and device
  lists leave them out (they are not phones).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Max
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import AuditEntry, AuthSession, Device, Employee, Role
from backend.services.audit import audit
from backend.services.viewer import Viewer
from backend.sql import db_time, insert_many


def device_tag(secret: str, tenant_id: int, device_uid: str) -> str:
    """A short, stable label of a phone for rosters, device lists and audit rows: a keyed hash, so the same phone shows the same
    tag while its id, which signs it in as a known device, stays private. ``secret`` is the ring's
    tag key (``settings.keys.tag_key``), which a key rotation leaves alone (backend/keyring.py)."""
    digest = hmac.new(secret.encode(), f"device-tag:{tenant_id}:{device_uid}".encode(), hashlib.sha256)
    return digest.hexdigest()[:12]


REVOKE_REASON = "DEVICE_REVOKED"
MAX_TAG_LENGTH = 64
# The server's own devices: no phone may use an id starting with this (sign-in refuses it).
RESERVED_PREFIX = "xuefen-"
# The device an import of history writes each employee's records through (HISTORY_RESULT).
IMPORT_DEVICE_UID = RESERVED_PREFIX + "import"


def is_reserved(device_uid: str) -> bool:
    """Whether ``device_uid`` is, or could pass for, one of the server's own device ids (in any
    case, with spaces around it)."""
    return device_uid.strip().lower().startswith(RESERVED_PREFIX)


async def import_devices(
    connection: BaseDBAsyncClient, tenant_id: int, employee_ids: Sequence[int]
) -> dict[int, Device]:
    """Each employee's import device, created when missing and locked until the transaction ends
    (ingest locks the device a batch is applied through), by employee id. Employees must be of
    ``tenant_id`` (the caller checked)."""
    ids = sorted(set(employee_ids))
    now = db_time(connection, datetime.now(UTC))
    await insert_many(
        connection,
        "device",
        _DEVICE_COLUMNS,
        [(tenant_id, employee_id, IMPORT_DEVICE_UID, now, 0, now, now) for employee_id in ids],
        on_conflict="ON CONFLICT (tenant_id, employee_id, device_uid) DO NOTHING",
    )
    found: dict[int, Device] = {}
    for start in range(0, len(ids), _LOCK_CHUNK):
        for device in (
            await Device.filter(
                tenant_id=tenant_id, device_uid=IMPORT_DEVICE_UID, employee_id__in=ids[start : start + _LOCK_CHUNK]
            )
            .order_by("id")  # one lock order: two imports at once cannot deadlock
            .select_for_update()
            .using_db(connection)
        ):
            found[device.employee_id] = device
    return found


_LOCK_CHUNK = 1000  # ids per IN (…)
_DEVICE_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "device_uid": "text",
    "first_seen_at": "timestamptz",
    "applied_seq": "bigint",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


@dataclass(frozen=True)
class DeviceState:
    """One device of an employee as its owner and HR see it."""

    employee_id: int
    row_id: int
    tag: str
    first_seen_at: datetime
    last_seen_at: datetime | None
    last_sign_in_at: datetime | None
    signed_in: bool
    current: bool


@dataclass(frozen=True)
class RevokedDevice:
    """The device after ``revoke_device``, and how many live sign-ins it ended."""

    device: DeviceState
    revoked_sessions: int


def network_prefix(host: str | None) -> str | None:
    """The client's network, never its address: IPv4 (also IPv4-mapped) by its /24, IPv6 by its
    /48; None when unknown or not an IP address."""
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if isinstance(address, ipaddress.IPv4Address) else 48
    return str(ipaddress.ip_network((address, prefix), strict=False))


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


async def _states(
    settings: Settings, viewer: Viewer, employee_id: int, now: datetime, only: Device | None = None
) -> list[DeviceState]:
    """The employee's devices (or just ``only``), most recently seen first: three queries."""
    tenant_id = viewer.tenant_id
    devices = (
        [only]
        if only
        else await Device.filter(tenant_id=tenant_id, employee_id=employee_id).exclude(
            device_uid__startswith=RESERVED_PREFIX
        )
    )
    if not devices:
        return []
    device_ids = [device.id for device in devices]
    sessions = AuthSession.filter(tenant_id=tenant_id, employee_id=employee_id, device_id__in=device_ids)
    live = set(
        await sessions.filter(
            revoked_at__isnull=True,
            refresh_tokens__used_at__isnull=True,
            refresh_tokens__expires_at__gt=now,
        )
        .distinct()
        .values_list("device_id", flat=True)
    )
    last_sign_in = dict(
        await AuthSession.filter(tenant_id=tenant_id, employee_id=employee_id, device_id__in=device_ids)
        .annotate(last=Max("created_at"))
        .group_by("device_id")
        .values_list("device_id", "last")
    )
    current = employee_id == viewer.employee_id
    states = [
        DeviceState(
            employee_id=employee_id,
            row_id=device.id,
            tag=device_tag(settings.keys.tag_key, tenant_id, device.device_uid),
            first_seen_at=device.first_seen_at,
            last_seen_at=device.last_seen_at,
            last_sign_in_at=last_sign_in.get(device.id),
            signed_in=device.id in live,
            current=current and device.device_uid == viewer.device_uid,
        )
        for device in devices
    ]
    return sorted(states, key=lambda s: (s.last_seen_at or s.first_seen_at, s.row_id), reverse=True)


async def my_devices(settings: Settings, viewer: Viewer, now: datetime | None = None) -> list[DeviceState]:
    """The viewer's devices, most recently seen first."""
    return await _states(settings, viewer, viewer.employee_id, _now(now))


async def _employee_for(viewer: Viewer, employee_id: int | None) -> int:
    """Whose devices: the viewer's own (``employee_id`` None or theirs), or, for HR admins, any
    employee's of their tenant. Anyone else naming another employee is FORBIDDEN, decided by
    role before any row is read, so it tells nothing about that employee."""
    if employee_id is None or employee_id == viewer.employee_id:
        return viewer.employee_id
    viewer.require_role(Role.HR_ADMIN)
    if not await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).exists():
        raise DomainError(ErrorCode.NOT_FOUND, field="employeeId")
    return employee_id


async def employee_devices(
    settings: Settings, viewer: Viewer, employee_id: int, now: datetime | None = None
) -> list[DeviceState]:
    """An employee's devices for HR admins (the viewer's own for anyone); NOT_FOUND for an
    employee of another tenant or none."""
    return await _states(settings, viewer, await _employee_for(viewer, employee_id), _now(now))


async def revoke_device(
    settings: Settings, viewer: Viewer, tag: str, employee_id: int | None = None, now: datetime | None = None
) -> RevokedDevice:
    """End every live sign-in of one device (named by its tag) of the viewer, or, for HR admins,
    of ``employee_id``. Its tokens fail on their next use. Audited; idempotent."""
    now = _now(now)
    target = await _employee_for(viewer, employee_id)
    tag = tag.strip().lower()
    if not tag or len(tag) > MAX_TAG_LENGTH:
        raise DomainError(ErrorCode.NOT_FOUND, field="deviceTag")
    async with in_transaction() as connection:
        devices = (
            await Device.filter(tenant_id=viewer.tenant_id, employee_id=target)
            .exclude(device_uid__startswith=RESERVED_PREFIX)
            .using_db(connection)
        )
        # A tag shown under any key of the ring names its device too (one from before the tag key
        # was pinned, say): a tag copied from an older audit row still finds its phone. Compared as
        # bytes: compare_digest raises TypeError for a str with non-ASCII ("é" must be NOT_FOUND).
        keys = {settings.keys.tag_key, *settings.keys.all}
        device = next(
            (
                row
                for row in devices
                if any(
                    hmac.compare_digest(device_tag(key, viewer.tenant_id, row.device_uid).encode(), tag.encode())
                    for key in keys
                )
            ),
            None,
        )
        if device is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="deviceTag")
        revoked = (
            await AuthSession.filter(
                tenant_id=viewer.tenant_id, employee_id=target, device_id=device.id, revoked_at__isnull=True
            )
            .using_db(connection)
            .update(revoked_at=now, revoke_reason=REVOKE_REASON)
        )
        current = target == viewer.employee_id and device.device_uid == viewer.device_uid
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "device.revoke",
            "Employee",
            target,
            {
                "deviceId": device.id,
                "device": device_tag(settings.keys.tag_key, viewer.tenant_id, device.device_uid),
                "revokedSessions": revoked,
                "current": current,
            },
        )
    (state,) = await _states(settings, viewer, target, now, only=device)
    return RevokedDevice(state, revoked)


# --- sign-in audit (called by services.people.auth) --------------------------------------------


async def _audit_account(
    tenant_id: int, actor_id: int | None, action: str, employee_id: int, details: dict[str, object]
) -> None:
    """One audit row about an account (inside the caller's transaction, if any)."""
    await AuditEntry.create(
        tenant_id=tenant_id,
        actor_id=actor_id,
        action=action,
        entity="Employee",
        entity_id=str(employee_id),
        details=details,
    )


async def audit_sign_in(
    settings: Settings, employee: Employee, device_uid: str, new_device: bool, source: str | None
) -> None:
    """A successful login: ``auth.login`` by the employee."""
    await _audit_account(
        employee.tenant_id,
        employee.id,
        "auth.login",
        employee.id,
        {
            "device": device_tag(settings.keys.tag_key, employee.tenant_id, device_uid),
            "newDevice": new_device,
            "network": network_prefix(source),
        },
    )


async def audit_sign_in_failure(
    settings: Settings,
    employee: Employee,
    reason: ErrorCode,
    device_uid: str,
    known_device: bool,
    source: str | None,
    locked: list[str] | None = None,
) -> None:
    """A failed login of an existing employee: ``auth.login_failed`` with the reason, whether the
    device had signed in to the account before, and the throttle limits this failure locked."""
    await _audit_account(
        employee.tenant_id,
        None,
        "auth.login_failed",
        employee.id,
        {
            "reason": reason.value,
            "device": device_tag(settings.keys.tag_key, employee.tenant_id, device_uid),
            "knownDevice": known_device,
            "network": network_prefix(source),
            "locked": sorted(locked or []),
        },
    )


async def audit_refresh_refused(
    settings: Settings, session: AuthSession, reason: str, presented_by: str | None = None
) -> None:
    """A refresh token presented again after use (``auth.refresh_reused``) or from another device
    (``auth.refresh_device_mismatch``): its session was revoked. ``session`` has its device loaded."""
    details: dict[str, object] = {
        "device": device_tag(settings.keys.tag_key, session.tenant_id, session.device.device_uid)
    }
    if presented_by is not None:
        details["presentedBy"] = device_tag(settings.keys.tag_key, session.tenant_id, presented_by)
    await _audit_account(session.tenant_id, None, reason, session.employee_id, details)
