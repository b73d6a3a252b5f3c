"""Activation codes for many people at once: after a company's employees are imported, none of
them has a password, and HR hands each a one-time code (on paper, by text, in a team meeting).

``issue_codes_for_new_accounts`` gives a code to every active employee without a password (or of
one org unit's subtree): the same codes as ``issueActivationCode`` gives one by one (keyed hash
stored, works once, expires after ``XUEFEN_ACTIVATION_CODE_HOURS``, voids that person's older unused
codes), written in a few statements whatever the number of people, and audited per employee. The
codes themselves exist only in the answer; the CLI writes them to a file for HR
(``xuefen tenant activation-codes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.models import ActivationCode, Employee, OrgUnit, Tenant
from backend.services.audit import audit_many
from backend.services.people import auth
from backend.services.people.accounts import IssuedCode, code_hash, new_code
from backend.services.validation import text
from backend.sql import db_time, insert_many

CHUNK = 2000  # employees a statement
MAX_TENANT_CODE = 64  # Tenant.code
MAX_ORG_UNIT_CODE = 64  # OrgUnit.code

_CODE_COLUMNS = {
    "tenant_id": "int",
    "employee_id": "int",
    "code_hash": "text",
    "expires_at": "timestamptz",
    "created_at": "timestamptz",
    "updated_at": "timestamptz",
}


async def issue_codes_for_new_accounts(
    settings: Settings, tenant_code: str, org_unit_code: str | None = None, now: datetime | None = None
) -> list[IssuedCode]:
    """A new activation code for every active employee of the company who has no password yet
    (of ``org_unit_code``'s subtree when given), by employee number. NOT_FOUND for an unknown
    company or org unit. Run by IT or HR from the CLI (no one signed in: the audit names "cli")."""
    now = now or auth.utcnow()
    async with in_transaction() as connection:
        tenant = (
            await Tenant.filter(code=text(tenant_code, "tenant", MAX_TENANT_CODE).lower()).using_db(connection).first()
        )
        if tenant is None:
            raise DomainError(ErrorCode.NOT_FOUND, field="tenant")
        people = Employee.filter(tenant_id=tenant.id, is_active=True, password_hash="")
        if org_unit_code is not None:
            code = text(org_unit_code, "orgUnit", MAX_ORG_UNIT_CODE)
            unit = await OrgUnit.filter(tenant_id=tenant.id, code=code).using_db(connection)
            if not unit:
                raise DomainError(ErrorCode.NOT_FOUND, field="orgUnit")
            people = people.filter(org_unit__path__startswith=unit[0].path)
        employees = await people.order_by("employee_no").select_for_update().using_db(connection)
        issued: list[IssuedCode] = []
        for start in range(0, len(employees), CHUNK):
            issued += await _issue_chunk(connection, settings, tenant.id, employees[start : start + CHUNK], now)
    return issued


async def _issue_chunk(
    connection: BaseDBAsyncClient, settings: Settings, tenant_id: int, employees: Sequence[Employee], now: datetime
) -> list[IssuedCode]:
    ids = [employee.id for employee in employees]
    await (
        ActivationCode.filter(tenant_id=tenant_id, employee_id__in=ids, used_at__isnull=True, voided_at__isnull=True)
        .using_db(connection)
        .update(voided_at=now)
    )
    expires_at = now + timedelta(hours=settings.activation_code_hours)
    issued = [IssuedCode(new_code(), expires_at, employee) for employee in employees]
    at, until = db_time(connection, now), db_time(connection, expires_at)
    await insert_many(
        connection,
        "activation_code",
        _CODE_COLUMNS,
        [
            (tenant_id, one.employee.id, code_hash(settings, tenant_id, one.employee.id, one.code), until, at, at)
            for one in issued
        ],
    )
    details = {"expiresAt": expires_at.isoformat(), "hadPassword": False, "via": "cli", "batch": True}
    entries = [("account.activation_code.issue", "Employee", one.employee.id, details) for one in issued]
    await audit_many(connection, tenant_id, None, entries, now)
    return issued
