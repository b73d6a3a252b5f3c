"""A company's detector settings: each threshold within its detector's bounds, and kinds switched
off. HR admins change them (``update``, audited, optimistic by version); a decision that dismisses
an alert may tune its kind's thresholds in the same step (``decisions``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.models import IntegrityAlertKind, IntegritySettings, Role
from backend.services.audit import audit
from backend.services.integrity.detectors import Limits
from backend.services.integrity.registry import DETECTORS
from backend.services.validation import invalid
from backend.services.viewer import Viewer


@dataclass(frozen=True)
class CompanySettings:
    """Thresholds in force for every kind (defaults where the company set none) and switched-off kinds."""

    limits: Mapping[IntegrityAlertKind, Limits]
    disabled: frozenset[IntegrityAlertKind]
    version: int

    def enabled(self, kind: IntegrityAlertKind) -> bool:
        return kind not in self.disabled


def _merged(stored: IntegritySettings | None) -> CompanySettings:
    thresholds = stored.thresholds if stored else {}
    limits: dict[IntegrityAlertKind, Limits] = {}
    for kind, detector in DETECTORS.items():
        own = thresholds.get(kind.value) or {}
        limits[kind] = {t.name: float(own.get(t.name, t.default)) for t in detector.thresholds}
    disabled = frozenset(IntegrityAlertKind(k) for k in (stored.disabled if stored else []) if k in DETECTORS_BY_VALUE)
    return CompanySettings(limits, disabled, stored.version if stored else 0)


DETECTORS_BY_VALUE = {kind.value for kind in DETECTORS}


async def settings_of(tenant_id: int, connection: BaseDBAsyncClient | None = None) -> CompanySettings:
    query = IntegritySettings.filter(tenant_id=tenant_id)
    stored = await (query.using_db(connection) if connection else query).first()
    return _merged(stored)


@dataclass(frozen=True)
class ThresholdChange:
    kind: IntegrityAlertKind
    name: str
    value: float


MAX_CHANGES = 100  # more than every threshold of every detector: a longer list is not a setting


def checked(changes: list[ThresholdChange]) -> list[ThresholdChange]:
    """Every change names a threshold of its kind and lies within its bounds (else VALIDATION)."""
    if len(changes) > MAX_CHANGES:
        raise invalid("thresholds")
    for index, change in enumerate(changes):
        known = {t.name: t for t in DETECTORS[change.kind].thresholds}
        threshold = known.get(change.name)
        where = f"thresholds.{index}"
        if threshold is None:
            raise invalid(f"{where}.name")
        value = change.value
        if not (threshold.minimum <= value <= threshold.maximum) or (threshold.integer and value != int(value)):
            raise invalid(f"{where}.value")
    return changes


async def apply_changes(
    connection: BaseDBAsyncClient,
    viewer: Viewer,
    changes: list[ThresholdChange],
    disabled: list[IntegrityAlertKind] | None,
    expected_version: int | None,
    now: datetime,
    reason: str = "",
) -> CompanySettings:
    """Write threshold changes (and the switched-off kinds, when given) on the caller's
    transaction, locking the company's row; VERSION_CONFLICT when ``expected_version`` is stale."""
    tenant_id = viewer.tenant_id
    await IntegritySettings.get_or_create(tenant_id=tenant_id, using_db=connection)
    row = await IntegritySettings.filter(tenant_id=tenant_id).select_for_update().using_db(connection).get()
    if expected_version is not None and expected_version != row.version:
        raise DomainError(ErrorCode.VERSION_CONFLICT)
    before = {"thresholds": row.thresholds, "disabled": row.disabled}
    thresholds = {kind: dict(values) for kind, values in row.thresholds.items()}
    for change in checked(changes):
        thresholds.setdefault(change.kind.value, {})[change.name] = change.value
    row.thresholds = thresholds
    if disabled is not None:
        row.disabled = sorted({kind.value for kind in disabled})
    row.version += 1
    await row.save(using_db=connection)
    details: dict[str, object] = {"before": before, "after": {"thresholds": row.thresholds, "disabled": row.disabled}}
    if reason:
        details["reason"] = reason
    await audit(connection, viewer, tenant_id, "integrity.settings.update", "IntegritySettings", row.id, details)
    return _merged(row)


async def update(
    viewer: Viewer,
    changes: list[ThresholdChange],
    disabled: list[IntegrityAlertKind] | None,
    expected_version: int | None,
    now: datetime | None = None,
) -> CompanySettings:
    """HR admins: change thresholds and switched-off kinds (audited)."""
    viewer.require_role(Role.HR_ADMIN)
    async with in_transaction() as connection:
        return await apply_changes(connection, viewer, changes, disabled, expected_version, now or datetime.now(UTC))
