"""``xuefen operations register MANIFEST.json`` and ``xuefen operations list``: the allow-list of
GraphQL documents (backend/services/persisted_operations.py, docs/api.md).

A mobile build produces a manifest of every document it sends: Apollo's persisted-query manifest
(``generate-persisted-query-manifest``, Apollo iOS/Kotlin's operation manifest in that format) or
Relay's ``{hash: text}`` (relay-compiler's persistConfig with the SHA256 algorithm). Registering it before the build
ships lets the server run those documents in allow-list mode (``XUEFEN_GRAPHQL_ALLOWLIST=true``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

import orjson

from backend import db
from backend.config import Settings
from backend.services import persisted_operations


def add_parser(commands: Any) -> None:
    """The ``operations`` command and its two actions."""
    operations_cmd = commands.add_parser(
        "operations", help="GraphQL allow-list: register a build's persisted-query manifest, list what is known"
    )
    actions = operations_cmd.add_subparsers(dest="operations_command", required=True)
    register = actions.add_parser(
        "register",
        help="register every operation of an Apollo persisted-query manifest or a Relay {hash: text} JSON file",
    )
    register.add_argument("manifest", type=Path, metavar="MANIFEST.json", help="the manifest file")
    listing = actions.add_parser("list", help="list the stored operations (registered first)")
    listing.add_argument("--registered", action="store_true", help="only the registered ones (the allow-list)")


async def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.operations_command == "register":
        return await register(settings, args.manifest)
    return await list_operations(settings, args.registered)


def _error(message: str) -> int:
    print(f"xuefen operations: {message}", file=sys.stderr)
    return 1


async def register(settings: Settings, manifest: Path) -> int:
    """Register a manifest's operations; 0, printing a summary, or 1 with one line saying why."""
    try:
        data = orjson.loads(await asyncio.to_thread(manifest.read_bytes))
    except OSError as exc:
        return _error(f"cannot read {manifest}: {exc.strerror}")
    except orjson.JSONDecodeError as exc:
        return _error(f"{manifest} is not JSON: {exc}")
    try:
        entries = persisted_operations.read_manifest(data)
    except persisted_operations.ManifestError as exc:
        return _error(f"{manifest}: {exc}")
    await db.init_db(settings)
    try:
        summary = await persisted_operations.register(entries)
    finally:
        await db.close_db()
    print(
        f"{len(entries)} operation(s) in {manifest.name}: {summary.added} added, "
        f"{summary.now_registered} registered (known from APQ before), {summary.unchanged} already registered."
    )
    if not settings.graphql_allowlist:
        print("Note: XUEFEN_GRAPHQL_ALLOWLIST is off here, so the server also runs unregistered documents.")
    return 0


async def list_operations(settings: Settings, registered_only: bool) -> int:
    """One line per stored operation: registered or APQ, type, name, hash."""
    await db.init_db(settings)
    try:
        rows = await persisted_operations.listing(registered_only)
    finally:
        await db.close_db()
    for row in rows:
        state = "registered" if row.registered else "apq"
        print(f"{state:<10} {row.operation_type:<12} {row.operation_name or '(anonymous)':<40} {row.sha256}")
    registered = sum(1 for row in rows if row.registered)
    print(f"{len(rows)} operation(s), {registered} registered.")
    return 0
