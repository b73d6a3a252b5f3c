"""Tenants (companies) and their structure: org units, sites and positions."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.migrations.constraints import CheckConstraint
from tortoise.models import Model

from backend.models.base import TenantModel, TimestampedModel


class Tenant(TimestampedModel):
    """A company using Xuefen. code is what employees type at login (e.g. demo)."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    default_locale = fields.CharField(max_length=16, default="zh-CN")
    # The company's time zone (IANA name): its credit program starts in it (`xuefen tenant create`),
    # and it is the one to default to where a time zone is not given (new sites).
    # (A database default too, db_default, for the rows that existed before the column: SQLite adds a
    # NOT NULL column only with one.)
    time_zone = fields.CharField(max_length=64, default="Asia/Shanghai", db_default="Asia/Shanghai")
    # Password policy (backend/services/people/accounts.py): the shortest password allowed, and
    # whether a password needs both a letter and a digit. Common passwords, the company code and
    # the employee's own number are always refused.
    password_min_length = fields.SmallIntField(default=10, db_default=10)
    password_letters_and_digits = fields.BooleanField(default=False, db_default=False)
    # Evidence photos are re-encoded on arrival; their GPS metadata is kept only when this is on.
    keep_photo_location = fields.BooleanField(default=False, db_default=False)

    class Meta:
        table = "tenant"
        # Login matches company codes case-insensitively by storing them lower-case.
        constraints = (CheckConstraint(check="code = LOWER(code)", name="tenant_code_lower"),)


class OrgUnit(TenantModel):
    """A department or team. A tree: path (like 1.4.9.) makes subtree checks one prefix match."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    parent: fields.ForeignKeyNullableRelation[OrgUnit] = fields.ForeignKeyField(
        "xuefen.OrgUnit", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    parent_id: int | None
    path = fields.CharField(max_length=512, default="")
    # A closed unit stays in the tree for history (past moves and reports name it) but takes no
    # new people or children; it closes only once it has no open children and no active employees.
    closed_on = fields.DateField(null=True)

    class Meta:
        table = "org_unit"
        unique_together = (("tenant", "code"),)


class Site(TenantModel):
    """A place where people work and train: the HQ or a remote office, with its time zone."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    is_headquarters = fields.BooleanField(default=False)
    time_zone = fields.CharField(max_length=64, default="Asia/Shanghai")
    address = fields.CharField(max_length=300, default="")
    # Where the site is, for check-in risk signals (a scan far from the site is flagged).
    latitude = fields.FloatField(null=True)
    longitude = fields.FloatField(null=True)

    class Meta:
        table = "site"
        unique_together = (("tenant", "code"),)


class Position(TenantModel):
    """A job position: family / sequence / level, e.g. 销售族-客户经理序列-初级.

    grade orders levels within a family (1 = most junior) so eligibility rules can say
    "grade 2 or above".
    """

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=64)
    family = fields.CharField(max_length=64)
    sequence = fields.CharField(max_length=64)
    level = fields.CharField(max_length=64)
    grade = fields.SmallIntField(default=1)

    class Meta:
        table = "position"
        unique_together = (("tenant", "code"),)


class DataStandardSubject(StrEnum):
    """What a company's data standard governs: the format of one kind of code."""

    EMPLOYEE_NO = "EMPLOYEE_NO"
    POSITION_CODE = "POSITION_CODE"
    COURSE_CODE = "COURSE_CODE"


class DataStandard(TenantModel):
    """A company's own format for one kind of code, replacing the default of
    ``backend/services/people/standards.py`` (the source articles' 工号+部门编码, 族-序列-层级,
    类型-名称-版本). pattern is a regular expression a whole code must match; example is what the
    refusal shows people."""

    id = fields.IntField(primary_key=True)
    subject = fields.CharEnumField(DataStandardSubject, max_length=16)
    pattern = fields.CharField(max_length=200)
    example = fields.CharField(max_length=64)

    class Meta:
        table = "data_standard"
        unique_together = (("tenant", "subject"),)


__all__ = ["DataStandard", "DataStandardSubject", "Model", "OrgUnit", "Position", "Site", "Tenant"]
