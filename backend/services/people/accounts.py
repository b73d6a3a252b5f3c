"""Accounts: a new company and its first HR admin, one-time activation codes, changing a password,
and each company's password policy.

- ``create_tenant`` (the ``xuefen tenant create`` command) makes a company (code stored lower-case,
  its IANA time zone, which its credit program starts with), its first HR admin (roles EMPLOYEE and
  HR_ADMIN, no password) and that admin's activation code. Nobody ever receives a password.
- An activation code (``issue_activation_code``: HR admins, for new hires and forgotten passwords;
  or the ``xuefen tenant activation-code`` command) is 8 characters from an alphabet without 0/O and
  1/I, shown as ``ABCD-EFGH`` and typed in any case, with or without the dash or spaces. Only an
  HMAC-SHA-256 of it (keyed by the server secret, bound to tenant and employee) is stored, so a
  copied table does not give the codes back by brute force over their 40 bits. It works once,
  until ``activation_code_hours`` after it was issued, and only while it is the employee's newest:
  a new code voids the older unused ones. Issuing one leaves a current password working (the
  employee may remember it after all) unless HR asks to clear it (``clear_password``: a password
  someone else may know stops working and every session ends); a new account has none. An
  account without a password signs in with nothing but a code.
- ``activate_account`` (public) is a sign-in with a code instead of a password: same throttle and
  counters as login (a wrong code counts as a failed login of that account), and one answer,
  ``ACTIVATION_CODE_INVALID``, for a wrong company, employee number, code, or a used, voided or
  expired code. A right code clears the counters; then the new password must pass the policy (a
  refusal leaves the code usable). The code is claimed by a conditional update, so of two
  activations racing with one code exactly one wins. It sets the password, ends every session of
  the employee and signs the device in (like ``login``).
- ``change_password`` (signed in) needs the current password, checked under the login throttle of
  the viewer's device (a wrong one is ``INVALID_CREDENTIALS`` on ``oldPassword``), and may end
  every other session of the employee (never the current one). It voids unused activation codes.
- The policy (``PasswordPolicy``, tenant columns): at least ``min_length`` characters (10 unless
  HR chose 8 to 64), at most 256, not a common password, not the employee number or the company
  code, and letters and digits both when the company asks. Passwords set before a change of policy
  keep working. Each refusal is ``VALIDATION`` on ``newPassword`` naming the rule.

Everything is audited with the employee as entity; details never hold a code, a password or a hash.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import ActivationCode, AuthSession, CreditProgram, Employee, EmployeeRole, Role, Tenant
from backend.services.audit import audit
from backend.services.people import auth, devices
from backend.services.validation import invalid, text
from backend.services.viewer import Viewer

# Outcomes and ids only: never a code, a password or what was typed.
log = logging.getLogger("xuefen.accounts")

# --- password policy --------------------------------------------------------------------------

DEFAULT_MIN_LENGTH = 10
POLICY_MIN_LENGTH = 8  # the shortest minimum HR may choose
POLICY_MAX_LENGTH = 64  # the longest minimum HR may choose
MAX_PASSWORD_LENGTH = 256

# Refused whatever the policy (compared case-insensitively): the most common choices in lists of
# leaked passwords, Chinese ones included, as long as 8 characters or more.
COMMON_PASSWORDS = frozenset(
    {
        "12345678",
        "123456789",
        "1234567890",
        "0123456789",
        "11111111",
        "1111111111",
        "00000000",
        "0000000000",
        "88888888",
        "66666666",
        "12341234",
        "123123123",
        "87654321",
        "987654321",
        "password",
        "password1",
        "password123",
        "passw0rd",
        "p@ssw0rd",
        "p@ssword",
        "qwertyui",
        "qwertyuiop",
        "qwerty123",
        "1qaz2wsx",
        "1q2w3e4r",
        "1q2w3e4r5t",
        "zxcvbnm1",
        "asdfghjkl",
        "iloveyou",
        "abc12345",
        "abcd1234",
        "a1234567",
        "a12345678",
        "aa123456",
        "admin123",
        "administrator",
        "welcome1",
        "letmein1",
        "woaini1314",
        "5201314520",
        "1314520520",
        "147258369",
        "123qweasd",
        "qweasdzxc",
        "xuefen123",
        "xuefen2026",
    }
)


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password of a company must be (the tenant's columns)."""

    min_length: int = DEFAULT_MIN_LENGTH
    letters_and_digits: bool = False

    @classmethod
    def of(cls, tenant: Tenant) -> PasswordPolicy:
        return cls(tenant.password_min_length, tenant.password_letters_and_digits)

    def as_dict(self) -> dict[str, Any]:
        return {"minLength": self.min_length, "lettersAndDigits": self.letters_and_digits}


def check_password(
    policy: PasswordPolicy, password: str, tenant_code: str, employee_no: str, field: str = "newPassword"
) -> None:
    """VALIDATION on ``field`` naming the first rule ``password`` breaks; nothing when it is fine."""
    if not password:
        raise invalid(field, "reason.required")
    if len(password) < policy.min_length:
        raise invalid(field, "reason.password_too_short", min=policy.min_length)
    if len(password) > MAX_PASSWORD_LENGTH:
        raise invalid(field, "reason.too_long", max=MAX_PASSWORD_LENGTH)
    folded = password.strip().casefold()
    if folded in {tenant_code.casefold(), employee_no.casefold()}:
        raise invalid(field, "reason.password_identifier")
    if folded in COMMON_PASSWORDS:
        raise invalid(field, "reason.password_common")
    if policy.letters_and_digits and not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
        raise invalid(field, "reason.password_letters_digits")


async def password_policy(viewer: Viewer) -> PasswordPolicy:
    """The viewer's company's password policy (anyone signed in: the app shows it)."""
    return PasswordPolicy.of(await Tenant.get(id=viewer.tenant_id))


async def update_password_policy(
    viewer: Viewer, min_length: int | None = None, letters_and_digits: bool | None = None
) -> PasswordPolicy:
    """Change the company's password policy (HR admins); fields left None keep their value. Applies
    to passwords set from now on. Audited with before and after."""
    viewer.require_role(Role.HR_ADMIN)
    if min_length is not None and not POLICY_MIN_LENGTH <= min_length <= POLICY_MAX_LENGTH:
        raise invalid("minLength", "reason.password_policy_length", min=POLICY_MIN_LENGTH, max=POLICY_MAX_LENGTH)
    async with in_transaction() as connection:
        tenant = await Tenant.filter(id=viewer.tenant_id).select_for_update().using_db(connection).get()
        before = PasswordPolicy.of(tenant)
        after = PasswordPolicy(
            before.min_length if min_length is None else min_length,
            before.letters_and_digits if letters_and_digits is None else letters_and_digits,
        )
        await (
            Tenant.filter(id=tenant.id)
            .using_db(connection)
            .update(password_min_length=after.min_length, password_letters_and_digits=after.letters_and_digits)
        )
        await audit(
            connection,
            viewer,
            tenant.id,
            "account.password_policy.update",
            "Tenant",
            tenant.id,
            {"before": before.as_dict(), "after": after.as_dict()},
        )
    return after


# --- activation codes -------------------------------------------------------------------------

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # 32 symbols: no 0/O, no 1/I
CODE_LENGTH = 8
MAX_CODE_INPUT = 64


@dataclass(frozen=True)
class IssuedCode:
    """A new activation code: shown once to whoever issued it, never stored or logged as such."""

    code: str
    expires_at: datetime
    employee: Employee


def new_code() -> str:
    """A random code, grouped for reading aloud and typing on a phone: ``ABCD-EFGH``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:]}"


def normalise_code(typed: str) -> str:
    """A code as typed (any case, dashes and spaces anywhere) as it was issued, without the dash."""
    return re.sub(r"[\s\-]", "", typed).upper()


def code_hash(settings: Settings, tenant_id: int, employee_id: int, code: str, key: str | None = None) -> str:
    """What is stored of a code: an HMAC-SHA-256 with the server secret (the current key unless
    ``key`` is given) over tenant, employee and the normalised code."""
    message = f"activation:{tenant_id}:{employee_id}:{normalise_code(code)}".encode()
    return hmac.new((key or settings.keys.current).encode("utf-8"), message, hashlib.sha256).hexdigest()


def code_hashes(settings: Settings, tenant_id: int, employee_id: int, code: str) -> list[str]:
    """What a code issued under any key of the ring was stored as (a code issued before a key
    rotation still activates): one lookup matches them all."""
    return [code_hash(settings, tenant_id, employee_id, code, key) for key in settings.keys.all]


async def _issue_code(
    connection: BaseDBAsyncClient,
    settings: Settings,
    actor: Viewer | None,
    employee: Employee,
    now: datetime,
    clear_password: bool = False,
) -> IssuedCode:
    """Void the employee's unused codes and store a new one, in the caller's transaction (with
    ``clear_password``, the current password stops working and every session ends). The employee
    row is locked first, so of two codes issued at once for one person one stays usable."""
    await Employee.filter(tenant_id=employee.tenant_id, id=employee.id).select_for_update().using_db(connection).first()
    voided = (
        await ActivationCode.filter(
            tenant_id=employee.tenant_id, employee_id=employee.id, used_at__isnull=True, voided_at__isnull=True
        )
        .using_db(connection)
        .update(voided_at=now)
    )
    code = new_code()
    expires_at = now + timedelta(hours=settings.activation_code_hours)
    await ActivationCode.create(
        tenant_id=employee.tenant_id,
        employee_id=employee.id,
        code_hash=code_hash(settings, employee.tenant_id, employee.id, code),
        expires_at=expires_at,
        issued_by_id=actor.employee_id if actor else None,
        using_db=connection,
    )
    details: dict[str, Any] = {
        "expiresAt": expires_at.isoformat(),
        "voidedCodes": voided,
        "hadPassword": bool(employee.password_hash),
    }
    if clear_password:
        await Employee.filter(id=employee.id).using_db(connection).update(password_hash="")
        details["clearedPassword"] = True
        details["endedSessions"] = await _end_sessions(connection, employee, now, "PASSWORD_CLEARED")
        employee.password_hash = ""
    if actor is None:
        details["via"] = "cli"
    await audit(
        connection, actor, employee.tenant_id, "account.activation_code.issue", "Employee", employee.id, details
    )
    log.info("activation code issued: tenant %s employee %s", employee.tenant_id, employee.id)
    return IssuedCode(code, expires_at, employee)


async def issue_activation_code(
    settings: Settings, viewer: Viewer, employee_id: int, clear_password: bool = False, now: datetime | None = None
) -> IssuedCode:
    """A new activation code for an active employee of the viewer's company (HR admins): a new
    hire's first sign-in, or a forgotten password. Older unused codes stop working. With
    ``clear_password`` (a password someone else may know) the current password stops working at
    once and every session of the employee ends: the code is then the only way in. NOT_FOUND for
    an employee of another company. Audited (never the code)."""
    viewer.require_role(Role.HR_ADMIN)
    now = now or auth.utcnow()
    async with in_transaction() as connection:
        employee = await Employee.filter(tenant_id=viewer.tenant_id, id=employee_id).using_db(connection).first()
        if employee is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="employeeId")
        if not employee.is_active:
            raise invalid("employeeId", "reason.inactive_employee")
        return await _issue_code(connection, settings, viewer, employee, now, clear_password)


async def issue_code_by_number(
    settings: Settings, tenant_code: str, employee_no: str, now: datetime | None = None
) -> IssuedCode:
    """A new activation code for an employee named by company code and employee number, with no one
    signed in (the ``xuefen tenant activation-code`` command, run by IT: say, when the first HR
    admin's code expired unused). NOT_FOUND when there is no such active employee."""
    now = now or auth.utcnow()
    tenant_code, employee_no, employee = await auth.find_account(tenant_code, employee_no)
    if employee is None:
        raise DomainError(ErrorCode.NOT_FOUND, field="employeeNo")
    if not employee.is_active:
        raise invalid("employeeNo", "reason.inactive_employee")
    async with in_transaction() as connection:
        return await _issue_code(connection, settings, None, employee, now)


async def activate_account(
    settings: Settings,
    tenant_code: str,
    employee_no: str,
    code: str,
    new_password: str,
    device_uid: str,
    source: str | None = None,
    now: datetime | None = None,
) -> auth.IssuedTokens:
    """Set a password with an activation code and sign the device in. ``ACTIVATION_CODE_INVALID``
    for any wrong part (company, employee number, code, or a used, voided or expired code),
    ``TOO_MANY_ATTEMPTS`` while the account is throttled (the login throttle: a wrong code counts as
    a failed login), ``ACCOUNT_DISABLED`` for a deactivated employee with a right code, VALIDATION
    on ``newPassword`` when the policy refuses it (the code stays usable). Ends every other session
    of the employee. Audited."""
    now = now or auth.utcnow()
    typed = normalise_code(text(code, "code", MAX_CODE_INPUT))
    device_uid = auth.checked_device_uid(device_uid)
    if not new_password:
        raise invalid("newPassword", "reason.required")
    tenant_code, employee_no, employee = await auth.find_account(tenant_code, employee_no)
    attempt = await auth.begin_attempt(settings, tenant_code, employee_no, employee, device_uid, source, now)
    # The same lookup runs when there is no such employee (matching nothing).
    tenant_id, employee_id = (employee.tenant_id, employee.id) if employee else (0, 0)
    row = await ActivationCode.filter(
        tenant_id=tenant_id,
        employee_id=employee_id,
        code_hash__in=code_hashes(settings, tenant_id, employee_id, typed),
        used_at__isnull=True,
        voided_at__isnull=True,
        expires_at__gt=now,
    ).first()
    if employee is None or row is None:
        locked = await attempt.failed()
        log.info("activation failed: ACTIVATION_CODE_INVALID")
        if employee is not None:  # as a failed login: HR sees code guessing and the locks it set
            await devices.audit_sign_in_failure(
                settings, employee, ErrorCode.ACTIVATION_CODE_INVALID, device_uid, attempt.familiar, source, locked
            )
        raise DomainError(ErrorCode.ACTIVATION_CODE_INVALID)
    if not employee.is_active:
        await attempt.give_back()
        raise DomainError(ErrorCode.ACCOUNT_DISABLED)
    await attempt.succeeded()

    tenant = await Tenant.get(id=employee.tenant_id)
    check_password(PasswordPolicy.of(tenant), new_password, tenant.code, employee.employee_no)
    password_hash = await asyncio.to_thread(auth.hash_password, settings, new_password)
    async with in_transaction() as connection:
        # Of two activations with one code, exactly one claims it (the other waits for the first's
        # commit on PostgreSQL, then matches nothing).
        claimed = (
            await ActivationCode.filter(id=row.id, used_at__isnull=True, voided_at__isnull=True)
            .using_db(connection)
            .update(used_at=now)
        )
        if not claimed:
            raise DomainError(ErrorCode.ACTIVATION_CODE_INVALID)
        await Employee.filter(id=employee.id).using_db(connection).update(password_hash=password_hash)
        employee.password_hash = password_hash
        ended = await _end_sessions(connection, employee, now, "ACTIVATED")
        issued = await auth.start_session(settings, employee, device_uid, now)
        await audit(
            connection,
            issued.viewer,
            employee.tenant_id,
            "account.activate",
            "Employee",
            employee.id,
            {"endedSessions": ended, "codeIssuedAt": row.created_at.isoformat()},
        )
    log.info("account activated: tenant %s employee %s", employee.tenant_id, employee.id)
    return issued


async def _end_sessions(
    connection: BaseDBAsyncClient, employee: Employee, now: datetime, reason: str, keep: UUID | None = None
) -> int:
    """Revoke the employee's live sessions (but ``keep``); how many."""
    query = AuthSession.filter(tenant_id=employee.tenant_id, employee_id=employee.id, revoked_at__isnull=True)
    if keep is not None:
        query = query.exclude(id=keep)
    return await query.using_db(connection).update(revoked_at=now, revoke_reason=reason)


# --- changing one's password ------------------------------------------------------------------


async def change_password(
    settings: Settings,
    viewer: Viewer,
    old_password: str,
    new_password: str,
    end_other_sessions: bool = False,
    source: str | None = None,
    now: datetime | None = None,
) -> int:
    """Change the viewer's password; the current one is required (``INVALID_CREDENTIALS`` on
    ``oldPassword``, counted by the login throttle of the viewer's device). The new one must pass
    the policy and differ from the old. With ``end_other_sessions``, every other session of the
    employee ends (not this one). Unused activation codes are voided. Returns how many sessions
    ended. Audited."""
    now = now or auth.utcnow()
    if not old_password:
        raise invalid("oldPassword", "reason.required")
    if not new_password:
        raise invalid("newPassword", "reason.required")
    employee = await Employee.get(tenant_id=viewer.tenant_id, id=viewer.employee_id)
    tenant = await Tenant.get(id=viewer.tenant_id)
    attempt = await auth.begin_attempt(
        settings, tenant.code, employee.employee_no, employee, viewer.device_uid, source, now
    )
    if not await asyncio.to_thread(auth.verify_password, settings, employee.password_hash, old_password):
        await attempt.failed()
        log.info("password change refused: INVALID_CREDENTIALS (employee %s)", employee.id)
        raise DomainError(ErrorCode.INVALID_CREDENTIALS, field="oldPassword")
    await attempt.succeeded()
    check_password(PasswordPolicy.of(tenant), new_password, tenant.code, employee.employee_no)
    if new_password == old_password:
        raise invalid("newPassword", "reason.password_unchanged")
    password_hash = await asyncio.to_thread(auth.hash_password, settings, new_password)
    async with in_transaction() as connection:
        # Only over the hash the old password was checked against: of two changes at once, one wins.
        changed = (
            await Employee.filter(id=employee.id, password_hash=employee.password_hash)
            .using_db(connection)
            .update(password_hash=password_hash)
        )
        if not changed:
            raise DomainError(ErrorCode.INVALID_CREDENTIALS, field="oldPassword")
        ended = (
            await _end_sessions(connection, employee, now, "PASSWORD_CHANGED", keep=viewer.session_id)
            if end_other_sessions
            else 0
        )
        voided = (
            await ActivationCode.filter(
                tenant_id=employee.tenant_id, employee_id=employee.id, used_at__isnull=True, voided_at__isnull=True
            )
            .using_db(connection)
            .update(voided_at=now)
        )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "account.password.change",
            "Employee",
            employee.id,
            {"endOtherSessions": end_other_sessions, "endedSessions": ended, "voidedCodes": voided},
        )
    log.info("password changed: tenant %s employee %s", employee.tenant_id, employee.id)
    return ended


# --- a new company ----------------------------------------------------------------------------

TENANT_CODE = re.compile(r"[a-z0-9][a-z0-9-]{1,63}", re.ASCII)
EMPLOYEE_NO = re.compile(r"[A-Z0-9][A-Z0-9._-]{0,31}", re.ASCII)
DEFAULT_ADMIN_NAME = "HR 管理员"


@dataclass(frozen=True)
class NewTenant:
    """A company just created: its row, its first HR admin and that admin's activation code."""

    tenant: Tenant
    admin: Employee
    activation: IssuedCode


def valid_time_zone(name: str) -> bool:
    """Whether ``name`` is an IANA time zone this server knows (``Asia/Shanghai``)."""
    if not name or len(name) > 64 or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


async def create_tenant(
    settings: Settings,
    code: str,
    name: str,
    time_zone: str,
    admin_no: str,
    admin_name: str | None = None,
    now: datetime | None = None,
) -> NewTenant:
    """A new company ``code`` (lower-cased), its credit program in ``time_zone``, and its first HR
    admin ``admin_no`` (upper-cased; roles EMPLOYEE and HR_ADMIN, no password) with an activation
    code. VALIDATION on ``code`` (format, or taken), ``name``, ``timeZone``, ``admin`` or
    ``adminName``. Audited (no actor: run by IT)."""
    now = now or datetime.now(UTC)
    code = text(code, "code", 64).lower()
    if not TENANT_CODE.fullmatch(code):
        raise invalid("code", "reason.tenant_code_format")
    name = text(name, "name", 200)
    time_zone = text(time_zone, "timeZone", 64)
    if not valid_time_zone(time_zone):
        raise invalid("timeZone", "reason.time_zone")
    admin_no = text(admin_no, "admin", 32).upper()
    if not EMPLOYEE_NO.fullmatch(admin_no):
        raise invalid("admin", "reason.employee_no_format")
    admin_name = text(admin_name, "adminName", 100, required=False) or DEFAULT_ADMIN_NAME
    if await Tenant.filter(code=code).exists():
        raise invalid("code", "reason.tenant_code_taken", tenant_code=code)
    try:
        async with in_transaction() as connection:
            tenant = await Tenant.create(code=code, name=name, time_zone=time_zone, using_db=connection)
            await CreditProgram.create(tenant=tenant, time_zone=time_zone, using_db=connection)
            admin = await Employee.create(
                tenant=tenant, employee_no=admin_no, name=admin_name, password_hash="", using_db=connection
            )
            for role in (Role.EMPLOYEE, Role.HR_ADMIN):
                await EmployeeRole.create(tenant=tenant, employee=admin, role=role, using_db=connection)
            await audit(
                connection,
                None,
                tenant.id,
                "tenant.create",
                "Tenant",
                tenant.id,
                {"code": code, "name": name, "timeZone": time_zone, "adminEmployeeId": admin.id, "via": "cli"},
            )
            activation = await _issue_code(connection, settings, None, admin, now)
    except IntegrityError:  # the same code created at the same moment by another command
        raise invalid("code", "reason.tenant_code_taken", tenant_code=code) from None
    log.info("tenant created: %s (id %s)", code, tenant.id)
    return NewTenant(tenant, admin, activation)
