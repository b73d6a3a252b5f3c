"""Sign-in state: one AuthSession per device login, its rotating refresh tokens, login
throttling, and the one-time activation codes that let an employee set a password. All of it
lives in the database so it holds across server processes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from tortoise import fields

from backend.models.base import TenantModel, XuefenModel

if TYPE_CHECKING:
    from backend.models.people import Device, Employee


class AuthSession(TenantModel):
    """A login on one device: the chain ("family") of refresh tokens issued from it.

    Access tokens name their session (sid). Revoking the session (logout, refresh-token reuse,
    deactivation) ends every token of the chain at once.
    """

    id = fields.UUIDField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="auth_sessions", on_delete=fields.CASCADE
    )
    employee_id: int
    device: fields.ForeignKeyRelation[Device] = fields.ForeignKeyField(
        "xuefen.Device", related_name="auth_sessions", on_delete=fields.CASCADE
    )
    device_id: int
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "auth_session"


class RefreshToken(TenantModel):
    """One refresh token of a session. Only its SHA-256 is stored, and it works once."""

    id = fields.IntField(primary_key=True)
    session: fields.ForeignKeyRelation[AuthSession] = fields.ForeignKeyField(
        "xuefen.AuthSession", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    session_id: UUID
    token_hash = fields.CharField(max_length=64, unique=True)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)

    class Meta:
        table = "refresh_token"


class LoginThrottle(XuefenModel):
    """Failed logins per typed (tenant, employee number), keyed by a hash of what was typed.

    Not tenant-owned on purpose: it must behave the same for tenants and employees that do not
    exist, or the throttle itself would reveal which ones do.
    """

    id = fields.IntField(primary_key=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    failures = fields.IntField(default=0)
    window_started_at = fields.DatetimeField()
    locked_until = fields.DatetimeField(null=True)

    class Meta:
        table = "login_throttle"


class ActivationCode(TenantModel):
    """A one-time code with which an employee sets a password (a new account or a forgotten one).

    Only a keyed SHA-256 (HMAC with the server's secret key) of the code is stored. A code works
    once (used_at, claimed by a conditional update), until expires_at, and only while it is the
    employee's newest: issuing a new code voids the older unused ones (voided_at).
    """

    id = fields.IntField(primary_key=True)
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name="activation_codes", on_delete=fields.CASCADE
    )
    employee_id: int
    code_hash = fields.CharField(max_length=64)
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    voided_at = fields.DatetimeField(null=True)
    # Who issued it: an HR admin, or nobody (the `xuefen tenant` command, run by IT).
    issued_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    issued_by_id: int | None

    class Meta:
        table = "activation_code"
        indexes = (("tenant_id", "employee_id"),)
