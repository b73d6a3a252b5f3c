"""Shared model pieces: rows read fast, timestamps, and the tenant foreign key every row carries."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Self

from tortoise import fields
from tortoise.models import Model

from backend.compiled import factory

if TYPE_CHECKING:
    from backend.models.organisation import Tenant

# How to read a row of given columns into a model: (column, attribute, conversion, also of None).
_Plan = tuple[bool, bool, tuple[tuple[str, str, Callable[[Any], Any] | None, bool], ...]]
_PLANS: dict[tuple[type, tuple[str, ...]], tuple[object, _Compiled]] = {}  # with the anchor it was made for


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
        return _compiled(cls, tuple(kwargs)).reader("")(kwargs)

    @classmethod
    def reader(cls, columns: tuple[str, ...], prefix: str = "") -> Callable[[Mapping[str, Any]], Self]:
        """A builder of objects from rows read by plain SQL, each column (the model's own) read
        from ``prefix + column`` (a joined table's columns, aliased): the objects
        ``_init_from_db`` builds from the same columns. Ask for it per use, as ``values_of``."""
        return _compiled(cls, columns).reader(prefix)

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
        if not columns:
            return lambda row: ()
        names: dict[str, Any] = {}
        values = ", ".join(_converted(column, *steps[column], names) for column in columns)
        return factory(f"def make({', '.join(names)}):\n    return lambda row: ({values},)\n")(**names)


class _Compiled:
    """A plan and its object builders, one per column prefix (made when first asked for)."""

    def __init__(self, cls: type[Model], plan: _Plan) -> None:
        self.cls, self.plan = cls, plan
        self._readers: dict[str, Callable[[Mapping[str, Any]], Any]] = {}

    def reader(self, prefix: str) -> Callable[[Mapping[str, Any]], Any]:
        known = self._readers.get(prefix)
        if known is None:
            known = self._readers[prefix] = _builder(self.cls, self.plan, prefix)
        return known


def _plan_of(cls: type[Model], columns: tuple[str, ...]) -> _Plan:
    return _compiled(cls, columns).plan


def _compiled(cls: type[Model], columns: tuple[str, ...]) -> _Compiled:
    """The plan for these columns and its object builder, made again when Tortoise was
    initialised anew (on another engine its conversions differ): its field lists are then new,
    so their first entry is too."""
    meta = cls._meta
    anchor = (meta.db_native_fields or meta.db_default_fields or meta.db_complex_fields)[0]
    known = _PLANS.get((cls, columns))
    if known is None or known[0] is not anchor:
        plan = _plan(cls, columns)
        known = _PLANS[(cls, columns)] = (anchor, _Compiled(cls, plan))
    return known[1]


def _converted(
    column: str, convert: Callable[[Any], Any] | None, of_none: bool, names: dict[str, Any], prefix: str = ""
) -> str:
    """Source of ``column``'s value from ``row`` (its key ``prefix + column``) after its conversion
    (bound in ``names``)."""
    key = repr(prefix + column)
    if convert is None:
        return f"row[{key}]"
    name = f"c{len(names)}"
    names[name] = convert
    if of_none:
        return f"{name}(row[{key}])"
    return f"(None if (v := row[{key}]) is None else {name}(v))"


def _builder(cls: type[Model], plan: _Plan, prefix: str) -> Callable[[Mapping[str, Any]], Any]:
    """Tortoise's ``_init_from_db`` for this plan as one function of a row: the object's state
    written in one step, as Tortoise writes it attribute by attribute with ``object.__setattr__``
    (the same as long as no attribute is a descriptor, which no model has: one that did would
    be refused here, loudly, by tests/test_models.py reading every model)."""
    partial, custom_pk, steps = plan
    state = {"_partial": partial, "_saved_in_db": True, "_custom_generated_pk": custom_pk, "_await_when_save": {}}
    for name in [*state, *(step[1] for step in steps)]:
        if hasattr(inspect.getattr_static(cls, name, None), "__set__"):
            raise TypeError(f"{cls.__name__}.{name} is a descriptor: rows cannot be read into its __dict__")
    names: dict[str, Any] = {"model": cls}
    items = [f"{name!r}: {value!r}" for name, value in state.items()]
    items += [
        f"{attribute!r}: {_converted(column, convert, of_none, names, prefix)}"
        for column, attribute, convert, of_none in steps
    ]
    source = f"def make({', '.join(names)}):\n    def init(row):\n        self = model.__new__(model)\n"
    source += f"        self.__dict__.update({{{', '.join(items)}}})\n        return self\n    return init\n"
    return factory(source)(**names)


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
