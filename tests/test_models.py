"""Rows become model objects by a plan made once per model and column list
(backend/models/base.py): the objects must be exactly those Tortoise's own code builds."""

from __future__ import annotations

from typing import Any

import pytest
from tortoise import Tortoise, connections
from tortoise.models import Model

from backend.models import Course, CourseModule
from backend.models.base import XuefenModel, _plan_of
from tests.factories import make_company

TORTOISE_INIT_FROM_DB = Model.__dict__["_init_from_db"].__func__


def _state(instance: Model) -> list[tuple[str, type, Any]]:
    return sorted((name, type(value), value) for name, value in vars(instance).items())


async def test_every_model_reads_rows_as_tortoise_does(password_hash):
    await make_company(password_hash)
    models = list(Tortoise.apps["xuefen"].values())
    assert all(issubclass(model, XuefenModel) for model in models), "a model without the fast row reader"
    connection = connections.get("default")
    covered = 0
    for model in models:
        rows = await connection.execute_query_dict(f"SELECT * FROM {model._meta.db_table} LIMIT 5")
        covered += bool(rows)
        for row in rows:
            columns = list(row)
            for kwargs in (
                row,  # every column
                {column: row[column] for column in columns[::2]},  # a partial row (.only())
                {column: row[column] for column in reversed(columns[1:])},  # another order, no id
                {**row, "total": 3},  # an annotation beside the columns
            ):
                ours, theirs = model._init_from_db(**kwargs), TORTOISE_INIT_FROM_DB(model, **kwargs)
                assert _state(ours) == _state(theirs), (model.__name__, list(kwargs))
            # Objects read by plain SQL from a joined table's aliased columns: the same objects.
            aliased = {f"j__{column}": value for column, value in row.items()}
            for named in (tuple(columns), tuple(columns[::2])):
                expected_object = TORTOISE_INIT_FROM_DB(model, **{column: row[column] for column in named})
                assert _state(model.reader(named, "j__")(aliased)) == _state(expected_object), model.__name__
            # Values read by plain SQL: converted as the objects' attributes are.
            named = tuple(reversed(columns))
            attributes = [model._meta.fields_db_projection_reverse.get(c, c) for c in named]
            expected = TORTOISE_INIT_FROM_DB(model, **row)
            values = model.values_of(named)(row)
            assert [(type(v), v) for v in values] == [
                (type(getattr(expected, a)), getattr(expected, a)) for a in attributes
            ]
    assert covered >= 15  # the company's rows: tenant, people, org, courses, modules, skills…


async def test_partial_rows_through_the_orm_are_the_same_objects(password_hash):
    company = await make_company(password_hash)
    tenant = company.tenant.id
    fast = await Course.filter(tenant_id=tenant).only("id", "code", "status", "credits", "created_at")
    full = await Course.filter(tenant_id=tenant).order_by("id")
    assert fast and {c.id: (c.code, c.status, c.credits, c.created_at) for c in fast} == {
        c.id: (c.code, c.status, c.credits, c.created_at) for c in full
    }
    assert all(c._partial for c in fast) and not any(c._partial for c in full)
    module = (await CourseModule.filter(tenant_id=tenant).only("id", "kind").first()).kind
    assert type(module).__name__ == "ModuleKind"  # an enum column still becomes the enum


async def test_row_plans_are_made_again_after_tortoise_is_initialised_again(client):
    """Which columns need converting depends on the engine Tortoise was initialised for: a plan
    made before a new initialisation (its field lists are then new) is not used after it."""
    columns = ("id", "kind", "credits")
    first = _plan_of(CourseModule, columns)
    assert _plan_of(CourseModule, columns) is first
    CourseModule._meta._generate_db_fields()  # what Tortoise.init does for every model
    again = _plan_of(CourseModule, columns)
    assert again is not first and again == first


def test_no_columns_read_as_no_values():
    assert CourseModule.values_of(())({"id": 1}) == ()


@pytest.mark.postgres_only  # SQLite has no row locks: tortoise asks for none there
async def test_a_lock_is_never_asked_of_a_values_query(database_url):
    """tortoise leaves FOR UPDATE out of values()/values_list(): the suite refuses that spelling
    (tests/conftest.py) and backend.sql.values_of keeps the lock."""
    from backend.models import Employee
    from backend.sql import values_of

    with pytest.raises(AssertionError, match="values_of"):
        Employee.filter(id=0).select_for_update().values_list("id", flat=True)
    assert "FOR UPDATE" in Employee.filter(id=0).select_for_update().only("id").sql()
    assert await values_of(Employee.filter(id=0).select_for_update(), "id") == []
