"""Certificates: what a set of courses earns, for how long, and who holds one (issue 20).

A ``certificate_program`` names the courses that earn it (all of them), how many months a
certificate stays valid (none: for good) and the shorter refresher courses whose completion renews
it. A ``certificate`` is derived from course completions (backend/services/certificates/issue.py,
in the completion's own transaction): one per person and program, its dates recomputed from the
facts, never edited by hand. Revocation by HR is the one decision on it, final and audited.

Each company signs its Open Badges credentials with its own Ed25519 key
(``certificate_issuer_key``), stored wrapped by the key ring like session secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields

from backend.models.base import TenantModel

if TYPE_CHECKING:
    from backend.models.people import Employee


class CertificateProgram(TenantModel):
    """A certificate a company grants: the courses that earn it (all of them), its validity in
    months (null: does not expire) and the refresher courses that renew it."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    description = fields.CharField(max_length=2000, default="")
    course_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    refresher_course_ids: fields.JSONField[list[int]] = fields.JSONField(default=list)
    validity_months = fields.IntField(null=True)
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "certificate_program"
        unique_together = (("tenant", "code"),)


class Certificate(TenantModel):
    """One person's certificate of one program, derived from their completions: issued on the day
    the last of the program's courses was completed, renewed by each later refresher completion,
    expiring ``validity_months`` after the newer of the two. ``code`` is the public verification
    code (32 random bytes, URL-safe base64), the only way the public page finds it."""

    id = fields.IntField(primary_key=True)
    program: fields.ForeignKeyRelation[CertificateProgram] = fields.ForeignKeyField(
        "xuefen.CertificateProgram", related_name="certificates", on_delete=fields.RESTRICT
    )
    program_id: int
    employee: fields.ForeignKeyRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, on_delete=fields.CASCADE
    )
    employee_id: int
    code = fields.CharField(max_length=64, unique=True)
    earned_at = fields.DatetimeField()
    issued_on = fields.DateField()
    expires_on = fields.DateField(null=True, db_index=True)
    renewed_count = fields.IntField(default=0)
    last_renewed_on = fields.DateField(null=True)
    revoked_at = fields.DatetimeField(null=True)
    revoke_reason = fields.CharField(max_length=2000, default="")
    revoked_by: fields.ForeignKeyNullableRelation[Employee] = fields.ForeignKeyField(
        "xuefen.Employee", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    revoked_by_id: int | None

    class Meta:
        table = "certificate"
        unique_together = (("program", "employee"),)


class CertificateIssuerKey(TenantModel):
    """A company's Ed25519 key for signing Open Badges credentials: the private key wrapped by the
    key ring (``w1.<kid>.``), the public one as a JWK published at /issuers/{tenant}/jwks.json."""

    id = fields.IntField(primary_key=True)
    kid = fields.CharField(max_length=64, unique=True)
    private_key = fields.CharField(max_length=512)
    public_jwk: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    is_current = fields.BooleanField(default=True)

    class Meta:
        table = "certificate_issuer_key"
