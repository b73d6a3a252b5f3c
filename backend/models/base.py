"""Shared model pieces: timestamps and the tenant foreign key every row carries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from backend.models.organisation import Tenant


class TimestampedModel(Model):
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class TenantModel(TimestampedModel):
    """A row owned by one tenant. tenant_id is the first filter of every query."""

    tenant: fields.ForeignKeyRelation[Tenant] = fields.ForeignKeyField(
        "xuefen.Tenant", related_name=False, on_delete=fields.CASCADE
    )
    tenant_id: int

    class Meta:
        abstract = True
