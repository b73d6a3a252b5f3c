"""The typed sync contract: a JSON Schema (draft 2020-12) for every record kind's payload and every
feed entity's ``data``, for the app team's code generators (Apollo Kotlin/iOS leave the
``SyncRecord`` and ``JSON`` scalars as blobs; quicktype and friends read these instead).

Nothing here is written by hand: a record kind's schema is its handler's ``payload_spec`` (the
declaration its ``parse`` checks first, so the server enforces exactly what is published), an
entity's is the shape declared next to its loader (``mobile_sync.entities.SHAPES``, which the tests
check every loader row against). Building the contract fails when a kind or an entity has none.

Published three ways, all the same bytes: ``schema/sync/contract.schema.json`` (the bundle: one
``$defs`` entry per kind, a top-level object naming them all, so a generator makes every type),
``schema/sync/records/<KIND>.json`` and ``schema/sync/entities/<ENTITY>.json`` (one standalone
schema each), written and checked by ``xuefen export-schema [--check]``; and served at
``GET /schema/sync-contract.json`` (``contract_route``) with an ETag.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from backend.http_caching import none_match
from backend.services.feed import Entity
from backend.services.records.registry import HANDLERS, PHONE_KINDS
from backend.services.records.spec import Obj
from mobile_sync.entities import LOADERS, SHAPES
from mobile_sync.protocol import SUPPORTED_VERSIONS

DRAFT = "https://json-schema.org/draft/2020-12/schema"
URL_PATH = "/schema/sync-contract.json"
BUNDLE_FILE = "contract.schema.json"
# Bumped by hand for a breaking change to a payload or a row (see the policy in
# docs/sync-protocol.md); an additive change only changes the hash.
CONTRACT_VERSION = 1


class ContractError(Exception):
    """A record kind or feed entity without a declared shape."""


def _pascal(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.lower().split("_"))


def record_def(kind: str) -> str:
    """The ``$defs`` name of a record kind's payload (``CONTENT_PROGRESS`` -> ``ContentProgressPayload``)."""
    return f"{_pascal(kind)}Payload"


def entity_def(entity: str) -> str:
    """The ``$defs`` name of an entity's data (``COURSE`` -> ``CourseData``)."""
    return f"{_pascal(entity)}Data"


def _record_schemas() -> dict[str, dict[str, Any]]:
    schemas = {}
    for handler in HANDLERS:
        spec = getattr(handler, "payload_spec", None)
        if not isinstance(spec, Obj):
            raise ContractError(f"record kind {handler.kind} declares no payload_spec")
        schema = spec.schema()
        schema["title"] = handler.kind
        schema["x-record-kind"] = handler.kind
        schema["x-phone-may-send"] = handler.kind in PHONE_KINDS
        schemas[handler.kind] = schema
    return schemas


def _entity_schemas() -> dict[str, dict[str, Any]]:
    missing = sorted(set(Entity) - set(SHAPES)) + sorted(set(LOADERS) - set(SHAPES))
    if missing:
        raise ContractError(f"feed entities without a declared shape: {', '.join(sorted(set(missing)))}")
    schemas = {}
    for entity in sorted(Entity, key=lambda e: e.value):
        schema = SHAPES[entity].schema()
        schema["title"] = entity.value
        schema["x-entity"] = entity.value
        schemas[entity.value] = schema
    return schemas


@lru_cache(maxsize=1)
def bundle() -> dict[str, Any]:
    """The whole contract as one schema: ``$defs`` per kind, and a top-level object naming them
    (``records.<KIND>``, ``entities.<ENTITY>``) so code generators emit every type."""
    records, entities = _record_schemas(), _entity_schemas()
    defs = {record_def(kind): schema for kind, schema in records.items()}
    defs.update({entity_def(entity): schema for entity, schema in entities.items()})
    body: dict[str, Any] = {
        "$schema": DRAFT,
        "$id": f"urn:xuefen:sync-contract:{CONTRACT_VERSION}",
        "title": "XuefenSyncContract",
        "description": "Record payloads (syncPush records[].payload, by kind) and feed entity data "
        "(syncPull changes[].data, by entity) of the Xuefen sync protocol. Clients must ignore "
        "unknown fields, entity kinds and enum values (docs/sync-protocol.md, versioning).",
        "x-contract-version": CONTRACT_VERSION,
        "x-protocol-versions": list(SUPPORTED_VERSIONS),
        "type": "object",
        "properties": {
            "records": {
                "type": "object",
                "properties": {kind: {"$ref": f"#/$defs/{record_def(kind)}"} for kind in records},
            },
            "entities": {
                "type": "object",
                "properties": {entity: {"$ref": f"#/$defs/{entity_def(entity)}"} for entity in entities},
            },
        },
        "$defs": defs,
    }
    return body


def _standalone(schema: dict[str, Any], folder: str, name: str) -> dict[str, Any]:
    return {"$schema": DRAFT, "$id": f"urn:xuefen:sync-contract:{CONTRACT_VERSION}:{folder}:{name}", **schema}


def _text(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def files() -> dict[str, str]:
    """Every published file (path under ``schema/sync/``) and its text."""
    body = bundle()
    found = {BUNDLE_FILE: _text(body)}
    for kind in _record_schemas():
        found[f"records/{kind}.json"] = _text(_standalone(body["$defs"][record_def(kind)], "records", kind))
    for entity in _entity_schemas():
        found[f"entities/{entity}.json"] = _text(_standalone(body["$defs"][entity_def(entity)], "entities", entity))
    return found


def _published(root: Path) -> set[str]:
    paths = {BUNDLE_FILE} if (root / BUNDLE_FILE).exists() else set()
    for folder in ("records", "entities"):
        paths |= {f"{folder}/{p.name}" for p in (root / folder).glob("*.json")}
    return paths


def stale(root: Path) -> list[str]:
    """The files under ``root`` that differ from the contract, are missing or are left over."""
    expected = files()
    wrong = [
        name
        for name, text in expected.items()
        if not (root / name).exists() or (root / name).read_text("utf-8") != text
    ]
    return sorted(wrong + sorted(_published(root) - set(expected)))


def write(root: Path) -> int:
    """Write the contract under ``root`` (removing files of kinds that are gone); how many files."""
    expected = files()
    for name in _published(root) - set(expected):
        (root / name).unlink()
    for name, text in expected.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return len(expected)


@lru_cache(maxsize=1)
def served() -> tuple[bytes, str]:
    """The bundle as served, and its ETag (a hash of the bytes: a new contract, a new tag)."""
    content = _text(bundle()).encode("utf-8")
    return content, '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def contract_hash() -> str:
    return served()[1].strip('"')


@lru_cache(maxsize=1)
def deprecated_fields() -> list[str]:
    """Every field the contract marks ``deprecated`` (``records.KIND.field``, ``entities.ENTITY.a.b``),
    which ``syncInfo`` announces (the policy in docs/sync-protocol.md)."""
    found: list[str] = []

    def walk(schema: Any, path: str) -> None:
        if isinstance(schema, dict):
            for key, value in (schema.get("properties") or {}).items():
                if isinstance(value, dict) and value.get("deprecated"):
                    found.append(f"{path}.{key}")
                walk(value, f"{path}.{key}")
            for key in ("items", "anyOf", "additionalProperties"):
                if isinstance(schema.get(key), dict | list):
                    walk(schema[key], path)
        elif isinstance(schema, list):
            for item in schema:
                walk(item, path)

    for kind, schema in _record_schemas().items():
        walk(schema, f"records.{kind}")
    for entity, schema in _entity_schemas().items():
        walk(schema, f"entities.{entity}")
    return sorted(found)


async def contract_route(request: Request) -> Response:
    """``GET /schema/sync-contract.json``: public (it is in the repository too), cacheable for an
    hour and revalidated by ETag, so a generator run costs one 304."""
    content, etag = served()
    headers = {"ETag": etag, "Cache-Control": "public, max-age=3600"}
    if none_match(request.headers, etag):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/schema+json", headers=headers)
