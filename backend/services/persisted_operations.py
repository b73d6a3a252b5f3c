"""Persisted GraphQL documents: automatic persisted queries (APQ) and the production allow-list.

A phone sends ``extensions.persistedQuery = {"version": 1, "sha256Hash": …}`` and, the first
time, the document's text with it; afterwards the hash alone (Apollo's APQ protocol), which also
makes a query small enough for a cacheable GET. Documents are known by the sha256 (hex) of their
exact UTF-8 text.

Where they are kept, and why so:

- Every process keeps the last ``apq_cache_size`` documents it saw in an LRU in memory: the
  common case (a phone repeating its queries) costs no database round trip.
- Behind it, the ``persisted_operation`` table, shared by every server process, so a hash sent
  to one process is known to all of them after one miss.
- Only a signed-in caller's documents are written to the table (``remember(..., shared=True)``);
  an anonymous caller's live in this process's LRU only. Anyone may send a document, and comments
  cost nothing against the query's token limit, so an anonymous caller could otherwise fill the
  table with large documents for good and, once the cap is reached, keep every real document out.
- Unregistered (APQ) rows are bounded besides: only a document that parsed and validated against
  the schema is written, its text is at most ``graphql_max_query_bytes`` and holds no U+0000
  (allowed in a GraphQL comment, refused by PostgreSQL's text type: such a document is served
  but not stored), and at most ``apq_max_stored`` unregistered rows exist. Once the cap is
  reached new documents live in process memory only (a warning at most once a minute): clients
  still work (a miss costs them one round trip with the text). Registered rows (a build's
  manifest, ``xuefen operations register``) are not counted.
- Remembering is best effort: a failure to store is logged (without the text) and never fails
  the request, which has already run.
- In allow-list mode (``XUEFEN_GRAPHQL_ALLOWLIST``) only registered documents run and nothing
  is remembered from requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, parse
from tortoise.exceptions import IntegrityError

from backend.config import Settings
from backend.models import PersistedOperation

log = logging.getLogger("xuefen.graphql.persisted")

APQ_VERSION = 1
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
# At most one "store full" warning this often per process (a client may hit the cap on every request).
FULL_WARNING_EVERY_SECONDS = 60.0


def sha256_hex(text: str) -> str:
    """The document's id: the sha256 of its exact UTF-8 text, lowercase hex (what Apollo sends)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_sha256(value: object) -> bool:
    """64 lowercase hex digits, ASCII only (no fullwidth digits)."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def describe(body: str) -> tuple[str, str]:
    """(operation name, operation type) of a document: its only operation's, else ("", "query")
    for a document that does not parse or holds several operations."""
    try:
        document = parse(body)
    except GraphQLError:
        return "", "query"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return "", "query"
    name = operations[0].name.value if operations[0].name else ""
    return name[:200], operations[0].operation.value


@dataclass(frozen=True)
class Known:
    """A document the server knows: its text, and whether it is on the allow-list."""

    body: str
    registered: bool


class PersistedOperations:
    """The store: an in-process LRU in front of the ``persisted_operation`` table."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: OrderedDict[str, Known] = OrderedDict()
        self._full_warned_at = -math.inf

    def _keep(self, sha256: str, known: Known) -> None:
        if self.settings.apq_cache_size <= 0:
            return
        self._cache[sha256] = known
        self._cache.move_to_end(sha256)
        while len(self._cache) > self.settings.apq_cache_size:
            self._cache.popitem(last=False)

    async def get(self, sha256: str, *, need_registered: bool = False) -> Known | None:
        """The document with this hash, or None. With ``need_registered`` an unregistered copy
        in memory is checked again in the table (it may have been registered since)."""
        known = self._cache.get(sha256)
        if known is not None and (known.registered or not need_registered):
            self._cache.move_to_end(sha256)
            return known
        row = await PersistedOperation.filter(sha256=sha256).only("body", "registered").first()
        if row is None:
            return known
        known = Known(row.body, row.registered)
        self._keep(sha256, known)
        return known

    async def remember(self, sha256: str, body: str, *, shared: bool) -> None:
        """An APQ document that validated: kept in memory and, for a signed-in caller
        (``shared``), in the table while the number of unregistered rows is under
        ``apq_max_stored``. Never raises: the request has run, storing is an optimisation."""
        self._keep(sha256, Known(body, False))
        if not shared:
            return
        try:
            await self._store(sha256, body)
        except Exception as exc:  # a database error must not turn an answered request into a 500
            log.warning("APQ document %s… not stored (%s)", sha256[:16], type(exc).__name__)

    async def _store(self, sha256: str, body: str) -> None:
        limit = self.settings.apq_max_stored
        if limit <= 0 or "\x00" in body or len(body.encode("utf-8")) > self.settings.graphql_max_query_bytes:
            return
        if await PersistedOperation.filter(sha256=sha256).exists():
            return
        if await PersistedOperation.filter(registered=False).count() >= limit:
            now = time.monotonic()
            if now - self._full_warned_at >= FULL_WARNING_EVERY_SECONDS:
                self._full_warned_at = now
                log.warning("APQ store full (%d unregistered documents): kept in process memory only", limit)
            return
        name, kind = describe(body)
        with contextlib.suppress(IntegrityError):  # another process stored it first: the same text
            await PersistedOperation.create(sha256=sha256, body=body, operation_name=name, operation_type=kind)


@dataclass
class RegisterSummary:
    added: int = 0
    now_registered: int = 0  # known from APQ before, registered now
    unchanged: int = 0


class ManifestError(ValueError):
    """A manifest that is neither Apollo's persisted-query manifest nor Relay's {hash: text}."""


def read_manifest(data: Any) -> list[tuple[str, str, str, str]]:
    """(sha256, body, name, type) for every operation of a manifest: Apollo's
    ``{"format": "apollo-persisted-query-manifest", "version": 1, "operations": [{"id", "body",
    "name", "type"}]}`` or Relay's ``{"<sha256>": "<text>"}``. Every id must be the sha256 of its
    body (the hash phones send), else the whole manifest is refused."""
    entries: list[tuple[str, str, str, str]] = []
    if isinstance(data, dict) and data.get("format") == "apollo-persisted-query-manifest":
        if data.get("version") != 1 or not isinstance(data.get("operations"), list):
            raise ManifestError("an Apollo manifest must have version 1 and a list of operations")
        for index, item in enumerate(data["operations"]):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("id"), str)
                or not isinstance(item.get("body"), str)
            ):
                raise ManifestError(f"operation {index} must be an object with a string id and body")
            name, kind = describe(item["body"])
            given_name, given_type = item.get("name"), item.get("type")
            entries.append(
                (
                    item["id"],
                    item["body"],
                    given_name[:200] if isinstance(given_name, str) else name,
                    given_type if given_type in ("query", "mutation", "subscription") else kind,
                )
            )
    elif isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()):
        entries = [(key, body, *describe(body)) for key, body in data.items()]
    else:
        raise ManifestError("expected an Apollo persisted-query manifest or a Relay {hash: text} object")
    for sha256, body, name, _ in entries:
        if "\x00" in body:  # PostgreSQL's text cannot hold it; a build's document never needs it
            raise ManifestError(f"{name or 'an operation'} ({sha256[:16]}…) contains the character U+0000")
        if sha256 != sha256_hex(body):
            raise ManifestError(f"the id of {name or 'an operation'} ({sha256[:16]}…) is not the sha256 of its body")
    return entries


async def register(entries: Iterable[tuple[str, str, str, str]]) -> RegisterSummary:
    """Put documents on the allow-list (adding them, or marking an APQ copy registered)."""
    summary = RegisterSummary()
    for sha256, body, name, kind in entries:
        row = await PersistedOperation.filter(sha256=sha256).first()
        if row is None:
            await PersistedOperation.create(
                sha256=sha256, body=body, operation_name=name, operation_type=kind, registered=True
            )
            summary.added += 1
        elif not row.registered:
            await PersistedOperation.filter(id=row.id).update(registered=True, operation_name=name, operation_type=kind)
            summary.now_registered += 1
        else:
            summary.unchanged += 1
    return summary


async def listing(registered_only: bool = False) -> list[PersistedOperation]:
    """Stored documents, registered first, then by name."""
    rows = PersistedOperation.all() if not registered_only else PersistedOperation.filter(registered=True)
    return await rows.order_by("-registered", "operation_name", "sha256")
