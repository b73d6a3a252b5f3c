"""Declared shapes: one object that both checks a JSON value and describes it as JSON Schema.

A record kind declares its payload once (``PAYLOAD = Obj(...)`` next to its handler); the handler's
``parse`` runs ``PAYLOAD.check(payload)`` before anything else, and ``mobile_sync.contract`` writes
``PAYLOAD.schema()`` into the published sync contract, so what the server enforces and what the
app team's code generators read come from the same declaration. Feed entities declare the shape
of their ``data`` with the same types (an output: the tests check every loader's rows against it).

Why an in-house spec and not pydantic or msgspec: the sync protocol promises an ``INVALID_PAYLOAD``
naming the *first* bad field in the order the handler reads them (``attachments[2].mimeType``),
tolerates unknown keys on most kinds, and has a few rules JSON Schema cannot say (an interval's
start before its end). The libraries collect errors in input order or all at once; matching the
answers phones already get would have meant a translation layer bigger than this module.

A check raises ``error(name)`` (by default ``INVALID_PAYLOAD`` with ``field`` = ``name``) at the
first value that does not fit, fields in their declared order; ``refine`` hooks carry the rules
a schema can only describe in words (they are named in the field's description).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from backend.errors import DomainError, ErrorCode
from backend.ids import expect_global_id, to_global_id

Error = Callable[[str], DomainError]
Json = dict[str, Any]


def invalid_payload(name: str) -> DomainError:
    """INVALID_PAYLOAD naming the field at fault (``records.handler`` re-exports it)."""
    return DomainError(ErrorCode.INVALID_PAYLOAD, reason_key="reason.field", name=name)


_default_error = invalid_payload


class Spec:
    """A shape: ``check`` raises ``error(name)`` when ``value`` does not fit; ``schema`` is the
    JSON Schema (draft 2020-12) of the values that fit."""

    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        raise NotImplementedError

    def schema(self) -> Json:
        raise NotImplementedError

    def _described(self, schema: Json) -> Json:
        if self.description:
            schema["description"] = self.description
        return schema


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Int(Spec):
    """A JSON integer (never a boolean, never a string of digits) within [minimum, maximum]."""

    minimum: int | None = None
    maximum: int | None = None
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not _is_int(value) or _out_of_bounds(value, self.minimum, self.maximum):
            raise error(name)

    def schema(self) -> Json:
        return self._described(_bounded({"type": "integer"}, self.minimum, self.maximum))


@dataclass
class Number(Spec):
    """A finite JSON number (integer or fraction, never a boolean) within [minimum, maximum]."""

    minimum: float | None = None
    maximum: float | None = None
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise error(name)
        if isinstance(value, float) and not math.isfinite(value):
            raise error(name)
        if _out_of_bounds(value, self.minimum, self.maximum):
            raise error(name)

    def schema(self) -> Json:
        return self._described(_bounded({"type": "number"}, self.minimum, self.maximum))


def _out_of_bounds(value: float, minimum: float | None, maximum: float | None) -> bool:
    return (minimum is not None and value < minimum) or (maximum is not None and value > maximum)


def _bounded(schema: Json, minimum: float | None, maximum: float | None) -> Json:
    """``schema`` with its ``minimum`` and ``maximum`` (inclusive), where there are any."""
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


@dataclass
class Text(Spec):
    """A string of at most ``max_length`` characters (code points), matching ``pattern`` (a
    full match) when one is given."""

    max_length: int | None = None
    pattern: str | None = None
    min_length: int = 0
    format: str | None = None  # documentation for generators (date-time, uuid), not checked here
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, str) or len(value) < self.min_length:
            raise error(name)
        if self.max_length is not None and len(value) > self.max_length:
            raise error(name)
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise error(name)

    def schema(self) -> Json:
        schema: Json = {"type": "string"}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.max_length is not None:
            schema["maxLength"] = self.max_length
        if self.pattern is not None:
            schema["pattern"] = f"^(?:{self.pattern})$"
        if self.format is not None:
            schema["format"] = self.format
        return self._described(schema)


@dataclass
class Moment(Spec):
    """An ISO 8601 time. The server reads what Python's ``datetime.fromisoformat`` reads (a time
    without an offset is UTC); clients send RFC 3339 with an offset, as the schema says."""

    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, str):
            raise error(name)
        try:
            datetime.fromisoformat(value)
        except ValueError as exc:
            raise error(name) from exc

    def schema(self) -> Json:
        return self._described({"type": "string", "format": "date-time"})


@dataclass
class Uuid(Spec):
    """A UUID in its 36-character text form (``any_form``: any form Python's ``UUID`` reads, as
    some kinds always took; clients send the 36-character form)."""

    any_form: bool = False
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, str) or (len(value) != 36 and not self.any_form):
            raise error(name)
        try:
            UUID(value)
        except ValueError as exc:
            raise error(name) from exc

    def schema(self) -> Json:
        return self._described({"type": "string", "format": "uuid", "minLength": 36, "maxLength": 36})


@dataclass
class Bool(Spec):
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, bool):
            raise error(name)

    def schema(self) -> Json:
        return self._described({"type": "boolean"})


@dataclass
class OneOf(Spec):
    """One of a few strings. ``loose``: the server also reads them with spaces around and in any
    case (clients send them as listed)."""

    values: Sequence[str]
    loose: bool = False
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, str):
            raise error(name)
        if (value.strip().lower() if self.loose else value) not in self.values:
            raise error(name)

    def schema(self) -> Json:
        return self._described({"type": "string", "enum": list(self.values)})


def _global_id_prefix(type_name: str) -> str:
    """The base64 characters every global ID of ``type_name`` starts with (each 3 bytes of
    ``Type:`` fix 4 characters; the rest depends on the row id)."""
    whole = len(type_name) // 3 * 4
    return to_global_id(type_name, 1)[:whole]


@dataclass
class GlobalId(Spec):
    """A global ID (URL-safe base64 of ``Type:id``) that must name a ``type_name``."""

    type_name: str
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, str):
            raise error(name)
        try:
            expect_global_id(value, self.type_name, name)
        except DomainError as exc:
            raise error(name) from exc

    def schema(self) -> Json:
        prefix = re.escape(_global_id_prefix(self.type_name))
        return {
            "type": "string",
            "pattern": f"^{prefix}[A-Za-z0-9_-]+$",
            "maxLength": 64,
            "description": self.description or f"A global ID of a {self.type_name}.",
            "x-global-id-type": self.type_name,
        }


@dataclass
class AnyJson(Spec):
    """Any JSON value (an answer whose shape depends on the question)."""

    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        return None

    def schema(self) -> Json:
        return self._described({})


@dataclass
class Nullable(Spec):
    """``inner`` or null."""

    inner: Spec
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if value is not None:
            self.inner.check(value, name, error)

    def schema(self) -> Json:
        inner = self.inner.schema()
        description = self.description or inner.pop("description", "")
        schema: Json = {"anyOf": [inner, {"type": "null"}]}
        if description:
            schema["description"] = description
        return schema


@dataclass
class ListOf(Spec):
    """A JSON array of at most ``max_items`` ``item``s. An item's error names the list, or with
    ``item_paths`` the item and its field (``attachments[2].sha256``); ``unique``: no two items
    share that field's value (checked right after the field, as the handler reads it)."""

    item: Spec
    max_items: int | None = None
    min_items: int = 0
    item_paths: bool = False
    unique: str | None = None
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, list) or len(value) < self.min_items:
            raise error(name)
        if self.max_items is not None and len(value) > self.max_items:
            raise error(name)
        hook = self._unique_hook(set())
        for index, item in enumerate(value):
            path = f"{name}[{index}]" if self.item_paths else name
            if isinstance(self.item, Obj) and self.item_paths:
                self.item.check_fields(item, path, error, hook)
            else:
                self.item.check(item, path, error)

    def _unique_hook(self, seen: set[Any]) -> Callable[[str, Any, str, Error], None] | None:
        if self.unique is None:
            return None
        unique = self.unique

        def hook(key: str, value: Any, path: str, error: Error) -> None:
            if key == unique:
                marker = UUID(value) if isinstance(value, str) else value
                if marker in seen:
                    raise error(path)
                seen.add(marker)

        return hook

    def schema(self) -> Json:
        schema: Json = {"type": "array", "items": self.item.schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return self._described(schema)


@dataclass
class Pair(Spec):
    """A two-element array (a [start, end] interval)."""

    item: Spec
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, list) or len(value) != 2:
            raise error(name)
        for item in value:
            self.item.check(item, name, error)

    def schema(self) -> Json:
        return self._described(
            {"type": "array", "prefixItems": [self.item.schema(), self.item.schema()], "items": False, "minItems": 2}
        )


@dataclass
class MapOf(Spec):
    """A JSON object used as a map: keys fit ``key`` (a string spec), values fit ``value``."""

    key: Spec
    value: Spec
    max_properties: int | None = None
    description: str = ""

    def check(self, value: Any, name: str, error: Error) -> None:
        if not isinstance(value, dict):
            raise error(name)
        if self.max_properties is not None and len(value) > self.max_properties:
            raise error(name)
        for key, item in value.items():
            self.key.check(key, name, error)
            self.value.check(item, name, error)

    def schema(self) -> Json:
        key = self.key.schema()
        key.pop("description", None)
        key.pop("type", None)
        key.pop("x-global-id-type", None)
        schema: Json = {"type": "object", "propertyNames": key, "additionalProperties": self.value.schema()}
        if self.max_properties is not None:
            schema["maxProperties"] = self.max_properties
        return self._described(schema)


@dataclass
class Field:
    """One key of an object: its shape, whether it must be there, what the server takes when it
    is absent (null is a value like any other: allowed only where the spec is ``Nullable``)."""

    spec: Spec
    required: bool = False
    default: Any = None
    # A rule the schema can only state in words (in the spec's description): (value) -> fits?
    refine: Callable[[Any], bool] | None = None
    deprecated: bool = False


@dataclass
class Obj(Spec):
    """A JSON object with named fields, checked in their declared order. ``closed``: unknown keys
    are refused (the first of them, sorted, named; at most 40 characters of it); otherwise they
    are ignored (and the schema allows them: clients may send newer fields to older servers).
    ``not_object``: the name a value that is not an object is refused with (a handler that reads
    its first field straight away names that field)."""

    fields: Mapping[str, Field]
    closed: bool = False
    not_object: str = "payload"
    description: str = ""
    title: str = ""
    # Rules between fields, for the schema (``if``/``then``, ``anyOf``); the handler checks them.
    all_of: list[Json] = field(default_factory=list)

    def check(self, value: Any, name: str = "payload", error: Error = _default_error) -> None:
        """Raise ``error(field)`` at the first field that does not fit."""
        self.check_fields(value, None, error, None)

    def check_fields(
        self, value: Any, path: str | None, error: Error, hook: Callable[[str, Any, str, Error], None] | None
    ) -> None:
        """``path``: where an item of a list is (its fields are named ``path.key``), or None at
        the top of a payload (fields are named by their key)."""
        if not isinstance(value, dict):
            raise error(path or self.not_object)
        if self.closed:
            unknown = set(value) - set(self.fields)
            if unknown:
                raise error(path or sorted(map(str, unknown))[0][:40])
        for key, spec_field in self.fields.items():
            where = f"{path}.{key}" if path else key
            if key not in value:
                if spec_field.required:
                    raise error(where)
                continue
            item = value[key]
            spec_field.spec.check(item, where, error)
            if spec_field.refine is not None and not spec_field.refine(item):
                raise error(where)
            if hook is not None:
                hook(key, item, where, error)

    def schema(self) -> Json:
        properties: Json = {}
        for key, spec_field in self.fields.items():
            described = spec_field.spec.schema()
            if spec_field.default is not None:
                described["default"] = spec_field.default
            if spec_field.deprecated:
                described["deprecated"] = True
            properties[key] = described
        schema: Json = {"type": "object"}
        if self.title:
            schema["title"] = self.title
        schema["properties"] = properties
        required = [key for key, spec_field in self.fields.items() if spec_field.required]
        if required:
            schema["required"] = required
        schema["additionalProperties"] = not self.closed
        if self.all_of:
            schema["allOf"] = self.all_of
        return self._described(schema)
