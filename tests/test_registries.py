"""The explicit lists a new piece of code must join, checked against the code that should be in
them: record handlers and feed backfillers (backend/services/records/registry.py), entity loaders
(mobile_sync/entities.py) and messages (backend/i18n.py). A slip here fails quietly in production
(a kind answered UNKNOWN_KIND, a row never sent to phones, an error shown as its key), so each
list is compared with what the code defines or uses. No database: these are fast."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import backend.services
from backend.errors import ErrorCode
from backend.i18n import MESSAGES, SUPPORTED_LOCALES
from backend.models import DeliveryChannel, NotificationKind
from backend.services.feed import Entity
from backend.services.notifications.channels.registry import CHANNELS
from backend.services.notifications.kinds import KINDS as NOTIFICATION_KINDS
from backend.services.notifications.kinds import template_fields
from backend.services.records import registry
from mobile_sync.entities import LOADERS

ROOT = Path(__file__).resolve().parent.parent


def service_modules() -> Iterator[ModuleType]:
    """Every module under backend.services, imported."""
    for info in pkgutil.walk_packages(backend.services.__path__, "backend.services."):
        yield importlib.import_module(info.name)


def looks_like_handler(candidate: object) -> bool:
    """What ingest needs of a record kind (records.handler.RecordHandler)."""
    return (
        isinstance(getattr(candidate, "kind", None), str)
        and callable(getattr(candidate, "parse", None))
        and inspect.iscoroutinefunction(getattr(candidate, "apply", None))
    )


def defined_handlers() -> dict[str, type]:
    """Record handler classes defined (or instantiated at module level) anywhere in the services."""
    found: dict[str, type] = {}
    for module in service_modules():
        for name, value in vars(module).items():
            kind = value if inspect.isclass(value) else type(value)
            if kind.__module__ == module.__name__ and looks_like_handler(value):
                found[f"{module.__name__}.{name}"] = kind
    return found


def test_every_record_handler_defined_in_the_services_is_in_the_registry() -> None:
    listed = {type(handler) for handler in registry.HANDLERS}
    missing = sorted(name for name, kind in defined_handlers().items() if kind not in listed)
    assert not missing, f"add these to HANDLERS in backend/services/records/registry.py: {missing}"


def test_the_registry_knows_each_kind_once() -> None:
    kinds = [handler.kind for handler in registry.HANDLERS]
    assert len(kinds) == len(set(kinds)), kinds
    assert set(registry.KINDS) == set(kinds)
    assert all(looks_like_handler(handler) for handler in registry.HANDLERS)


def documented_kinds() -> set[str]:
    """The kinds of the table "Kinds" in docs/sync-protocol.md."""
    text = (ROOT / "docs" / "sync-protocol.md").read_text(encoding="utf-8")
    section = text.split("### Kinds", 1)[1].split("\n#", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z_]*)` \|", section, flags=re.MULTILINE))


def test_every_documented_kind_is_registered_and_every_registered_kind_documented() -> None:
    documented = documented_kinds()
    assert documented, "the Kinds table of docs/sync-protocol.md was not found"
    assert sorted(documented - set(registry.KINDS)) == [], "documented but not in the registry"
    assert sorted(set(registry.KINDS) - documented) == [], "registered but not in docs/sync-protocol.md"


def python_files(*folders: str) -> Iterator[Path]:
    for folder in folders:
        yield from (ROOT / folder).rglob("*.py")


def online_twin_kinds() -> dict[str, str]:
    """The kind of every ``submit_record(info, client_id, KIND, ...)`` in schema/, by call site.
    A ``module.NAME`` argument is read from the service module it names (no schema import)."""
    found: dict[str, str] = {}
    for path in python_files("schema"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = {
            alias.asname or alias.name: f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
            for alias in node.names
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or len(node.args) < 3:
                continue
            function = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
            if function != "submit_record":
                continue
            argument, where = node.args[2], f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(argument, ast.Constant):
                found[where] = argument.value
            elif isinstance(argument, ast.Attribute) and isinstance(argument.value, ast.Name):
                found[where] = getattr(importlib.import_module(modules[argument.value.id]), argument.attr)
            else:
                raise AssertionError(f"{where}: name the kind as a constant or module.CONSTANT")
    return found


def test_every_online_twin_submits_a_registered_kind() -> None:
    twins = online_twin_kinds()
    assert len(twins) >= 8, twins  # the checkIn, completeLesson, submitQuiz, … mutations
    unknown = {where: kind for where, kind in twins.items() if kind not in registry.KINDS}
    assert not unknown, f"these mutations would answer UNKNOWN_KIND: {unknown}"


def test_every_kind_the_reference_client_and_its_tests_record_is_registered() -> None:
    used: dict[str, str] = {}
    for path in python_files("mobile_sync", "tests", "bench"):
        for kind in re.findall(r"\.record\(\s*\"([A-Z][A-Z_]*)\"", path.read_text(encoding="utf-8")):
            used.setdefault(kind, str(path.relative_to(ROOT)))
    assert "LESSON_COMPLETED" in used, "the client's record(...) calls were not found"
    unknown = {kind: where for kind, where in used.items() if kind not in registry.KINDS}
    assert not unknown, unknown


def looks_like_backfiller(candidate: object) -> bool:
    """``async def …(tenant_id, changes)``: the shape of feed.Backfiller."""
    if not inspect.iscoroutinefunction(candidate):
        return False
    return list(inspect.signature(candidate).parameters) == ["tenant_id", "changes"]


def test_every_feed_backfiller_defined_in_the_services_is_in_the_registry() -> None:
    defined = {
        f"{module.__name__}.{name}": value
        for module in service_modules()
        for name, value in vars(module).items()
        if looks_like_backfiller(value) and value.__module__ == module.__name__
    }
    assert len(defined) >= len(registry.BACKFILLERS), defined
    missing = sorted(name for name, function in defined.items() if function not in registry.BACKFILLERS)
    assert not missing, f"add these to BACKFILLERS in backend/services/records/registry.py: {missing}"
    assert len(set(registry.BACKFILLERS)) == len(registry.BACKFILLERS), "a backfiller is listed twice"


def test_every_feed_entity_has_a_loader() -> None:
    missing = sorted(entity.value for entity in Entity if entity not in LOADERS)
    assert not missing, f"add a loader to mobile_sync/entities.py LOADERS (or a feed_*.py module) for {missing}"


def test_every_message_has_every_language() -> None:
    incomplete = sorted(
        key
        for key, texts in MESSAGES.items()
        if any(not isinstance(texts.get(locale), str) or not texts[locale].strip() for locale in SUPPORTED_LOCALES)
    )
    assert not incomplete, f"messages without zh-CN or en in backend/i18n.py: {incomplete}"
    assert set(SUPPORTED_LOCALES) == {"zh-CN", "en"}


def test_every_error_code_has_a_message() -> None:
    missing = sorted(code.value for code in ErrorCode if f"error.{code.value}" not in MESSAGES)
    assert not missing, f"add error.<CODE> messages (zh-CN and en) to backend/i18n.py for {missing}"


def test_every_reason_key_used_has_a_message() -> None:
    used: dict[str, str] = {}
    for path in python_files("backend", "schema", "mobile_sync"):
        if path == ROOT / "backend" / "i18n.py":
            continue  # where the messages are, not where they are used
        for key in re.findall(r"[\"']((?:reason|subject)\.[a-z_]+)[\"']", path.read_text(encoding="utf-8")):
            used.setdefault(key, str(path.relative_to(ROOT)))
    assert len(used) > 10, used
    missing = {key: where for key, where in used.items() if key not in MESSAGES}
    assert not missing, f"add these reason/subject messages (zh-CN and en) to backend/i18n.py: {missing}"


def test_phones_are_told_every_kind_but_the_importers() -> None:
    from backend.services.records import registry

    assert "HISTORY_RESULT" in registry.KINDS and "HISTORY_RESULT" not in registry.PHONE_KINDS
    assert set(registry.PHONE_KINDS) == set(registry.KINDS) - {"HISTORY_RESULT"}


def test_every_notification_kind_has_templates_naming_only_its_parameters() -> None:
    assert set(NOTIFICATION_KINDS) == set(NotificationKind), (
        "a NotificationKind without an entry in notifications.kinds.KINDS"
    )
    for kind, spec in NOTIFICATION_KINDS.items():
        assert set(spec.templates) == set(SUPPORTED_LOCALES), kind
        for locale, (title, body) in spec.templates.items():
            named = template_fields(title) | template_fields(body)
            assert named <= set(spec.params), f"{kind} {locale} names {named - set(spec.params)}"


def test_every_delivery_channel_has_a_channel() -> None:
    assert set(CHANNELS) == set(DeliveryChannel)
    assert all(channel.channel == key for key, channel in CHANNELS.items())
