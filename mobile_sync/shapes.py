"""Short names for declaring the shape of a feed entity's ``data`` (an output), next to its loader.

A loader writes every key of its row on every row, so every field of a row is required; a value
that may be missing is ``opt(...)`` (null). The declarations are ``records.spec`` objects, the
same kind a record payload is declared with; ``mobile_sync.contract`` publishes their schemas and
tests/test_sync_contract.py checks every row of the demo company's feeds against them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from backend.models import EvidenceStatus, MediaKind
from backend.services.records.spec import (
    AnyJson,
    Bool,
    Field,
    GlobalId,
    Int,
    ListOf,
    MapOf,
    Nullable,
    Obj,
    OneOf,
    Spec,
    Text,
)

TEXT = Text()
INT = Int()
BOOL = Bool()
ANY = AnyJson()
# Amounts (credits, hours, points) travel as decimal strings: a float would lose tenths.
DECIMAL = Text(pattern=r"-?[0-9]+(\.[0-9]+)?", description='A decimal number as a string ("12.5").')
MOMENT = Text(format="date-time", description="An RFC 3339 time with its offset.")
DAY = Text(format="date", description="A calendar day (YYYY-MM-DD).")
UUID_TEXT = Text(format="uuid")
SHA256 = Text(pattern="[0-9a-f]{64}")
PARAMS = MapOf(Text(), AnyJson(), description="Named values (JSON).")


def gid(type_name: str, description: str = "") -> GlobalId:
    return GlobalId(type_name, description)


def opt(spec: Spec) -> Nullable:
    """A value or null."""
    return Nullable(spec)


def enum(values: type[StrEnum], description: str = "") -> OneOf:
    """One of an enum's values (clients must tolerate values added later: see the policy)."""
    return OneOf([value.value for value in values], description=description)


def many(item: Spec, description: str = "") -> ListOf:
    return ListOf(item, description=description)


@dataclass
class Deprecated(Spec):
    """A field on its way out (docs/sync-protocol.md, "Versioning and deprecation"): still sent,
    marked ``deprecated`` in the schema and listed in ``syncInfo.deprecatedFields``."""

    inner: Spec

    def schema(self) -> dict[str, Any]:
        return self.inner.schema()


def row(about: str = "", /, **fields: Spec) -> Obj:
    """A row whose every key is always there (null where the value is ``opt``); ``about``: what
    it is, for the schema's description. ``Deprecated(spec)`` marks a field deprecated."""
    return Obj(
        {
            key: Field(spec.inner, required=True, deprecated=True)
            if isinstance(spec, Deprecated)
            else Field(spec, required=True)
            for key, spec in fields.items()
        },
        description=about,
    )


def person() -> Obj:
    return row(id=gid("Employee"), name=TEXT, employeeNo=TEXT)


# An attachment of a record, as a feed row lists it (``evidence.feed_copy``): no link.
EVIDENCE = many(
    row(
        id=UUID_TEXT,
        kind=enum(MediaKind),
        mimeType=TEXT,
        fileName=TEXT,
        sizeBytes=INT,
        sha256=TEXT,
        status=enum(EvidenceStatus, "PENDING until the file's bytes arrive."),
        receivedAt=opt(MOMENT),
    )
)
