"""Integrity fields: ``integrityAlerts``, ``integrityAlert``, ``integritySettings``,
``decideIntegrityAlert`` and ``updateIntegritySettings``. Thin: they call
backend.services.integrity."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.integrity import decisions, queries, settings
from backend.services.viewer import Viewer
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.integrity.types import (
    DecideIntegrityAlertInput,
    IntegrityAlert,
    IntegrityAlertFilter,
    IntegrityAlertPayload,
    IntegritySettings,
    IntegritySettingsPayload,
    IntegrityThresholdInput,
    UpdateIntegritySettingsInput,
)
from schema.payloads import mutate
from schema.sync.types import utc


def _filter(given: IntegrityAlertFilter | None) -> queries.AlertFilter:
    if given is None:
        return queries.AlertFilter()
    return queries.AlertFilter(
        kind=given.kind,
        status=given.status,
        org_unit_id=expect_global_id(given.org_unit_id, "OrgUnit", "filter.orgUnitId")
        if given.org_unit_id is not None
        else None,
        employee_id=expect_global_id(given.employee_id, "Employee", "filter.employeeId")
        if given.employee_id is not None
        else None,
        since=utc(given.from_) if given.from_ is not None else None,
        until=utc(given.to) if given.to is not None else None,
    )


def _changes(given: list[IntegrityThresholdInput] | None) -> list[settings.ThresholdChange]:
    return [settings.ThresholdChange(item.kind, item.name, item.value) for item in given or []]


@strawberry.type
class IntegrityQueries:
    @strawberry.field(
        description="Integrity alerts, newest first, as a Relay connection: HR admins see the company's, managers "
        "those about people of their own unit's subtree; anyone else FORBIDDEN."
    )
    async def integrity_alerts(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 0 to the configured maximum (100).")] = 50,
        after: Annotated[str | None, strawberry.argument(description="endCursor of the previous page.")] = None,
        filter: Annotated[
            IntegrityAlertFilter | None, strawberry.argument(description="Conditions to narrow the list.")
        ] = None,
    ) -> Connection[IntegrityAlert]:
        viewer = await info.context.require_viewer()
        context = info.context
        page = await queries.alerts_page(viewer, _filter(filter), first, after, context.settings.max_page_size)
        secret = context.settings.keys.tag_key
        return Connection[IntegrityAlert].from_page(page, lambda row: IntegrityAlert.of(row, context.locale, secret))

    @strawberry.field(description="One integrity alert (as integrityAlerts shows it); NOT_FOUND when not visible.")
    async def integrity_alert(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the alert.")],
    ) -> IntegrityAlert:
        viewer = await info.context.require_viewer()
        row = await queries.alert_of(viewer, expect_global_id(id, "IntegrityAlert", "id"))
        return IntegrityAlert.of(row, info.context.locale, info.context.settings.keys.tag_key)

    @strawberry.field(description="The company's detector settings: every threshold with its bounds (HR admins).")
    async def integrity_settings(self, info: strawberry.Info) -> IntegritySettings:
        viewer = await info.context.require_viewer()
        return IntegritySettings.of(await settings.settings_of(viewer.tenant_id), info.context.locale)


@strawberry.type
class IntegrityMutations:
    @strawberry.mutation(
        description="Decide an open alert, once (ALREADY_DECIDED after that; HR admins, never about themselves): "
        "RELEASE, REVERSE (a note is required; a reversal the balance cannot cover is INSUFFICIENT_CREDITS) or "
        "DISMISS (optionally tuning the kind's thresholds). Audited."
    )
    async def decide_integrity_alert(
        self,
        info: strawberry.Info,
        input: Annotated[DecideIntegrityAlertInput, strawberry.argument(description="The decision.")],
    ) -> IntegrityAlertPayload:
        context = info.context

        async def work(viewer: Viewer):
            alert_id = expect_global_id(input.alert_id, "IntegrityAlert", "alertId")
            return await decisions.decide(viewer, alert_id, input.decision, input.note, _changes(input.tune))

        def payload(row, errors) -> IntegrityAlertPayload:
            alert = IntegrityAlert.of(row, context.locale, context.settings.keys.tag_key) if row else None
            return IntegrityAlertPayload(alert=alert, errors=errors)

        return await mutate(info, work, payload)

    @strawberry.mutation(
        description="Change detector thresholds and which detectors are switched off (HR admins); a value "
        "outside its bounds is VALIDATION, a stale version VERSION_CONFLICT. Audited."
    )
    async def update_integrity_settings(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateIntegritySettingsInput, strawberry.argument(description="The changes.")],
    ) -> IntegritySettingsPayload:
        context = info.context

        async def work(viewer: Viewer):
            return await settings.update(viewer, _changes(input.thresholds), input.disabled_kinds, input.version)

        def payload(row, errors) -> IntegritySettingsPayload:
            return IntegritySettingsPayload(
                settings=IntegritySettings.of(row, context.locale) if row else None, errors=errors
            )

        return await mutate(info, work, payload)
