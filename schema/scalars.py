"""Scalars with declared bounds: every DateTime, Date, Decimal, JSON, String and ID a client sends
is read once, here, with a strict form (backend/services/validation.py), so no resolver or
service ever meets a year 9999, a naive time, ``1e30``, full-width digits, or text a database
cannot store (U+0000, lone surrogates). A refused value is a VALIDATION error naming the input
(schema/api.py adds the field path). The sync record scalar applies the same rules per record
(schema/sync/types.py). Reading uses the standard library: sync pushes carry hundreds of
timestamps and dateutil's parser was a measurable share of a push.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

from graphql import GraphQLID, GraphQLString, value_from_ast_untyped
from strawberry.scalars import JSON
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition, DecimalDefinition
from strawberry.schema.types.scalar import DEFAULT_SCALAR_REGISTRY
from strawberry.types.scalar import ScalarDefinition

from backend.services.validation import invalid, parse_day, parse_decimal, parse_moment, storable_json, storable_text

DATETIME = ScalarDefinition(
    name=DateTimeDefinition.name,
    description="An instant, RFC 3339 with a UTC offset (2026-11-30T09:00:00+08:00 or …Z), between the years "
    "1900 and 2199. Answers are in UTC.",
    specified_by_url="https://datatracker.ietf.org/doc/html/rfc3339",
    serialize=DateTimeDefinition.serialize,
    parse_value=parse_moment,
    parse_literal=None,
    origin=dt.datetime,
)

DATE = ScalarDefinition(
    name=DateDefinition.name,
    description="A calendar date, YYYY-MM-DD, between 1900-01-01 and 2199-12-31.",
    specified_by_url=None,
    serialize=DateDefinition.serialize,
    parse_value=parse_day,
    parse_literal=None,
    origin=dt.date,
)

DECIMAL = ScalarDefinition(
    name=DecimalDefinition.name,
    description="A decimal number as a string (or a JSON number) in ASCII digits: at most 12 digits before the "
    'point and 6 after, no exponent, spaces or full-width digits ("12.5", "-3"). Fields may allow fewer '
    "decimal places (credits: one).",
    specified_by_url=None,
    serialize=DecimalDefinition.serialize,
    parse_value=parse_decimal,
    parse_literal=None,
    origin=decimal.Decimal,
)

_JSON_DEFINITION = DEFAULT_SCALAR_REGISTRY[JSON]


def _json_value(value: Any) -> Any:
    parse = _JSON_DEFINITION.parse_value
    return _storable_json(parse(value) if parse else value)


def _json_literal(node: Any, variables: dict[str, Any] | None = None) -> Any:
    # strawberry's JSON has no literal reader of its own: graphql-core's untyped reading is its
    # default, so literals and variables reach the same check.
    parse = _JSON_DEFINITION.parse_literal
    return _storable_json(parse(node, variables) if parse else value_from_ast_untyped(node, variables))


def _storable_json(value: Any) -> Any:
    if not storable_json(value):
        raise invalid("value", "reason.text_chars")
    return value


JSON_VALUE = ScalarDefinition(
    name=_JSON_DEFINITION.name,
    description=f"{_JSON_DEFINITION.description} Its strings hold no U+0000 or lone surrogates.",
    specified_by_url=_JSON_DEFINITION.specified_by_url,
    serialize=_JSON_DEFINITION.serialize,
    parse_value=_json_value,
    parse_literal=_json_literal,
    origin=JSON,
)

SCALAR_OVERRIDES = {dt.datetime: DATETIME, dt.date: DATE, decimal.Decimal: DECIMAL, JSON: JSON_VALUE}


def _checked(read: Callable[..., Any]) -> Callable[..., Any]:
    def read_storable(*args: Any) -> Any:
        return storable_text(read(*args))

    read_storable.storable = True  # type: ignore[attr-defined]
    return read_storable


# String and ID are graphql-core's own reserved types, which a schema may not redefine, so their
# readers are wrapped where they live, once per process: every text argument, literal or variable,
# passes here.
for _builtin in (GraphQLString, GraphQLID):
    for _reader in ("coerce_input_value", "coerce_input_literal", "parse_value"):
        if not getattr(getattr(_builtin, _reader), "storable", False):
            setattr(_builtin, _reader, _checked(getattr(_builtin, _reader)))
