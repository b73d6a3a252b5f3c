"""Shared model pieces: timestamps and the tenant foreign key every row carries."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class TimestampedModel(Model):
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        abstract = True


class TenantModel(TimestampedModel):
    """A row owned by one tenant. tenant_id is the first filter of every query."""

    tenant = fields.ForeignKeyField("xuefen.Tenant", related_name=False, on_delete=fields.CASCADE)

    class Meta:
        abstract = True
