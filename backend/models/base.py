"""Shared model pieces: rows read fast, timestamps, and the tenant foreign key every row carries."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Self

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from backend.models.organisation import Tenant

# How to read a row of given columns into a model: (column, attribute, conversion, also of None).
_Plan = tuple[bool, bool, tuple[tuple[str, str, Callable[[Any], Any] | None, bool], ...]]
_PLANS: dict[tuple[type, tuple[str, ...]], tuple[object, _Plan]] = {}  # with the anchor it was made for


class XuefenModel(Model):
    """Every Xuefen model: a row from the database becomes an object by a plan made once per
    model and column list. Tortoise's own ``_init_from_db`` answers a partial row (``.only()``,
    which every list query uses) by catching a KeyError and classifying each column again, row by
    row: building a page's models cost a quarter of the page. The objects are the same
    (tests/test_models.py compares them for every model, full and partial)."""

    class Meta:
        abstract = True

    @classmethod
    def _init_from_db(cls, **kwargs: Any) -> Self:
        partial, custom_pk, steps = _plan_of(cls, tuple(kwargs))
        self = cls.__new__(cls)
        _setattr = object.__setattr__  # as Tortoise: its __setattr__ checks relations, not needed here
        _setattr(self, "_partial", partial)
        _setattr(self, "_saved_in_db", True)
        _setattr(self, "_custom_generated_pk", custom_pk)
        _setattr(self, "_await_when_save", {})
        for column, attribute, convert, of_none in steps:
            value = kwargs[column]
            if convert is not None and (of_none or value is not None):
                value = convert(value)
            _setattr(self, attribute, value)
        return self

    @classmethod
    def values_of(cls, columns: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple]:
        """A reader of the values of ``columns`` (the model's own) from a row read by plain SQL,
        in that order, converted as the ORM converts them on this engine (an enum column to its
        enum, a decimal, a boolean from SQLite's integer). Ask for it per use: the conversions
        are the engine's of the moment."""
        steps = {column: (convert, of_none) for column, _, convert, of_none in _plan_of(cls, columns)[2]}
        missing = set(columns) - set(steps)
        if missing:
            raise ValueError(f"{cls.__name__} has no columns {sorted(missing)}")
        plan = [(column, *steps[column]) for column in columns]

        def values(row: Mapping[str, Any]) -> tuple:
            return tuple(
                convert(value) if convert is not None and (of_none or value is not None) else value
                for column, convert, of_none in plan
                for value in (row[column],)
            )

        return values


def _plan_of(cls: type[Model], columns: tuple[str, ...]) -> _Plan:
    """The plan for these columns, made again when Tortoise was initialised anew (on another
    engine its conversions differ): its field lists are then new, so their first entry is too."""
    meta = cls._meta
    anchor = (meta.db_native_fields or meta.db_default_fields or meta.db_complex_fields)[0]
    known = _PLANS.get((cls, columns))
    if known is None or known[0] is not anchor:
        known = _PLANS[(cls, columns)] = (anchor, _plan(cls, columns))
    return known[1]


def _plan(cls: type[Model], columns: tuple[str, ...]) -> _Plan:
    """Tortoise's ``_init_from_db``, decided once: native columns as the driver gives them,
    default ones through the field's type (None stays None), complex ones through the field's
    ``to_python_value``; a full row in the model's field order, a partial one in its own."""
    meta = cls._meta
    custom_pk = meta.db_pk_column not in meta.generated_db_fields
    kinds: dict[str, tuple[str, Callable[[Any], Any] | None, bool]] = {}
    for column, attribute, _field in meta.db_native_fields:
        kinds[column] = (attribute, None, False)
    for column, attribute, field in meta.db_default_fields:
        kinds[column] = (attribute, field.field_type, False)
    for column, attribute, field in meta.db_complex_fields:
        kinds[column] = (attribute, field.to_python_value, True)
    if all(column in columns for column in kinds):
        ordered = [
            (column, *kinds[column])
            for group in (meta.db_native_fields, meta.db_default_fields, meta.db_complex_fields)
            for column, _, _ in group
        ]
        return False, custom_pk, tuple(ordered)
    steps = []
    for column in columns:
        if column not in meta.fields_map:
            continue
        field = meta.fields_map[column]
        attribute = meta.fields_db_projection_reverse.get(column, column)
        if column in kinds:
            steps.append((column, attribute, kinds[column][1], kinds[column][2]))
        else:  # a field Tortoise lists in none of the three (it converts it in full)
            steps.append((column, attribute, field.to_python_value, True))
    return True, custom_pk, tuple(steps)


class TimestampedModel(XuefenModel):
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
