"""The contract of a record kind: a ``RecordHandler`` parses a record's payload and applies a batch
of records in an ``ApplyContext``, answering an ``Outcome`` for each.

Domain modules build their kinds on this module (and records.work, records.clock), which import no
domain; ``records.registry`` lists the handlers and ``records.ingest`` runs them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import orjson

from backend.errors import DomainError, ErrorCode
from backend.ids import expect_global_id
from backend.models import Device, RecordStatus
from backend.services.records.clock import Clock
from backend.services.records.spec import Obj, invalid_payload
from backend.services.records.work import UnitOfWork


@dataclass(frozen=True)
class IncomingRecord:
    """A record as the client sent it."""

    id: UUID
    seq: int | None  # None for online mutations, which have no outbox
    kind: str
    occurred_at: datetime | None  # None when the phone's time could not be read (see rejection)
    payload: dict[str, Any]
    # As sent, when it could not be read: part of what the record says, so a retry must match it.
    occurred_at_text: str | None = None
    # Why the record is refused before any handler sees it (a time out of bounds or without an
    # offset, an overlong kind): it still gets its own final answer, like any refused record.
    rejection: DomainError | None = None

    @property
    def content_hash(self) -> str:  # read once per record on the hot path: not worth caching
        # An online record (no seq) takes the server's clock when the caller gives no time, so its
        # time is not part of what it says: a retry with the same client id must match.
        return self.hash_with(self.payload)

    def hash_with(self, payload: Any) -> str:
        """The content hash of this record carrying ``payload`` (a kind that keeps only part of its
        payload, ``RecordHandler.stored_payload``, is hashed by that part)."""
        if self.occurred_at is None:
            when = self.occurred_at_text
        else:
            when = self.occurred_at.astimezone(UTC).isoformat() if self.seq is not None else None
        return hashlib.sha256(canonical_json([self.kind, when, payload])).hexdigest()


def canonical_json(value: Any) -> bytes:
    """The JSON text records are hashed by, forever (stored hashes must keep matching their
    retries): ``json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))`` in
    UTF-8. Written by orjson (5× faster, the same bytes) when the value holds only what orjson
    writes identically: strings, integers within 64 bits, booleans, null, lists and objects with
    string keys. Anything else (a float: orjson writes ``1e16`` where json writes ``1e+16``), and
    what orjson refuses, takes the standard library (which answers as it always did)."""
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # a lone surrogate, say
            pass
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


_ORJSON_DEPTH = 254  # orjson refuses deeper values: no need to look further down


def _plain(value: Any, depth: int = 0) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -(2**63) <= value < 2**64
    if depth >= _ORJSON_DEPTH:
        return False
    if kind is list:
        return all(_plain(item, depth + 1) for item in value)
    if kind is dict:
        return all(type(key) is str and _plain(item, depth + 1) for key, item in value.items())
    return False


@dataclass(frozen=True)
class ParsedRecord:
    record: IncomingRecord
    payload: Any  # the handler's parsed form
    occurred_at: datetime  # corrected time
    flags: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    """What applying one record decided; ``params`` fill the message of ``code``; ``result`` is
    what the server decided for kinds that have an answer (a quiz's score), JSON-ready."""

    status: RecordStatus
    code: ErrorCode | None = None
    params: dict[str, Any] = field(default_factory=dict)
    server_version: dict[str, Any] | None = None
    result: dict[str, Any] | None = None

    @classmethod
    def rejected(cls, error: DomainError) -> Outcome:
        return cls(RecordStatus.REJECTED, error.code, dict(error.params))


@dataclass(kw_only=True)
class ApplyContext(UnitOfWork):
    """A unit of work applying records from one device: the device row (locked) and how its
    clock reads, evidence a handler may weigh (check-in corroborates scan times)."""

    device: Device
    clock: Clock
    # The corrected time of every record of the batch, by sequence number.
    batch_times: dict[int, datetime] = field(default_factory=dict)

    @property
    def clock_offset_ms(self) -> int:
        return self.clock.offset_ms


class RecordHandler(Protocol):
    """One record kind. ``parse`` checks shape (no database); ``apply`` decides and writes the
    effects of a batch of records of this kind, in order, with batched queries. Every handler is
    listed in ``records.registry.HANDLERS``."""

    kind: str
    # The payload's declared shape: ``parse`` checks it first; the sync contract publishes it.
    payload_spec: Obj

    def parse(self, payload: dict[str, Any]) -> Any: ...

    # Optional: ``stored_payload(payload) -> dict``, what the activity record keeps of a payload
    # (and hashes, for the duplicate check) when it must not keep all of it (SURVEY_RESPONSE keeps
    # no answers next to the employee). Absent: the whole payload.

    async def apply(self, context: ApplyContext, records: list[ParsedRecord]) -> list[Outcome]: ...


def payload_id(payload: Any, name: str, type_name: str) -> int:
    """The row id of a global ID in ``payload[name]`` that must name a ``type_name``."""
    if not isinstance(payload, dict) or not isinstance(payload.get(name), str):
        raise invalid_payload(name)
    try:
        return expect_global_id(payload[name], type_name, name)
    except DomainError as error:
        raise invalid_payload(name) from error
