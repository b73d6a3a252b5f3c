"""Sync protocol fields and the online twins of record kinds. Thin: each calls the same service a
synced record goes through."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from backend.errors import DomainError
from backend.services.catalog import progress
from backend.services.people import profile_settings
from backend.services.records import registry
from backend.services.records.ingest import IngestResult
from backend.services.viewer import Viewer
from mobile_sync import contract, protocol
from mobile_sync.pull import pull
from mobile_sync.push import push
from schema.common import UserError
from schema.payloads import mutate
from schema.sync.records import RecordPayload, submit_record, viewer_credits
from schema.sync.types import (
    ChangeOp,
    SyncChange,
    SyncInfo,
    SyncPullInput,
    SyncPullPayload,
    SyncPushInput,
    SyncPushPayload,
    SyncRecordResult,
    utc,
)


@strawberry.input(description="A lesson module finished, online.")
class CompleteLessonInput:
    client_id: strawberry.ID | None = strawberry.field(
        default=None, description="UUID for safe retries (the same id is applied once)."
    )
    module_id: strawberry.ID = strawberry.field(description="The LESSON CourseModule.")
    seconds_spent: int = strawberry.field(description="Time spent, seconds.")
    completed_at: datetime | None = strawberry.field(default=None, description="When; now if omitted.")


@strawberry.input(description="New app settings, based on the version the app last saw.")
class UpdateMySettingsInput:
    client_id: strawberry.ID | None = strawberry.field(default=None, description="UUID for safe retries.")
    base_version: int = strawberry.field(description="The settings version this change is based on.")
    locale: str = strawberry.field(description="zh-CN or en.")


@strawberry.type
class SyncMutations:
    @strawberry.mutation(description="Push a batch of records from a phone's outbox (exactly once).")
    async def sync_push(
        self,
        info: strawberry.Info,
        input: Annotated[SyncPushInput, strawberry.argument(description="The batch.")],
    ) -> SyncPushPayload:
        locale = info.context.locale

        async def work(viewer: Viewer) -> tuple[Viewer, IngestResult]:
            settings = info.context.settings
            sent_at = utc(input.sent_at)
            return viewer, await push(viewer, input.protocol_version, input.device_id, sent_at, input.records, settings)

        async def shape(done: tuple[Viewer, IngestResult] | None, errors: list[UserError]) -> SyncPushPayload:
            if done is None:
                return SyncPushPayload(
                    results=[], applied_seq=0, server_time=None, clock_offset_ms=0, clock_skewed=False, errors=errors
                )
            viewer, result = done
            return SyncPushPayload(
                results=[SyncRecordResult.from_result(r, locale) for r in result.results],
                applied_seq=result.applied_seq,
                server_time=result.received_at,
                clock_offset_ms=result.clock_offset_ms,
                clock_skewed=result.clock_skewed,
                errors=[],
                credits=await viewer_credits(viewer),
            )

        return await mutate(info, work, shape)

    @strawberry.mutation(description="Record a finished lesson online: the LESSON_COMPLETED kind.")
    async def complete_lesson(
        self,
        info: strawberry.Info,
        input: Annotated[CompleteLessonInput, strawberry.argument(description="The lesson.")],
    ) -> RecordPayload:
        payload = {"moduleId": str(input.module_id), "secondsSpent": input.seconds_spent}
        return await submit_record(info, input.client_id, progress.LESSON_COMPLETED, input.completed_at, payload)

    @strawberry.mutation(description="Change app settings online: the SETTINGS_CHANGED kind.")
    async def update_my_settings(
        self,
        info: strawberry.Info,
        input: Annotated[UpdateMySettingsInput, strawberry.argument(description="The change.")],
    ) -> RecordPayload:
        payload = {"baseVersion": input.base_version, "locale": input.locale}
        return await submit_record(info, input.client_id, profile_settings.SETTINGS_CHANGED, None, payload)


@strawberry.type
class SyncQueries:
    @strawberry.field(description="The next page of the change feed (a snapshot without cursor).")
    async def sync_pull(
        self,
        info: strawberry.Info,
        input: Annotated[SyncPullInput, strawberry.argument(description="Where to continue.")],
    ) -> SyncPullPayload:
        viewer = await info.context.require_viewer()
        try:
            page = await pull(
                info.context.settings, viewer, input.protocol_version, input.device_id, input.cursor, input.limit
            )
        except DomainError as error:
            return SyncPullPayload(
                changes=[],
                cursor=None,
                has_more=False,
                applied_seq=0,
                server_time=None,
                errors=[UserError.from_domain(error, info.context.locale)],
            )
        return SyncPullPayload(
            changes=[
                SyncChange(
                    entity=item.entity,
                    id=strawberry.ID(item.id),
                    op=ChangeOp.DELETE if item.deleted else ChangeOp.UPSERT,
                    data=JSON(item.data),
                )
                for item in page.changes
            ],
            cursor=page.cursor,
            has_more=page.has_more,
            applied_seq=page.applied_seq,
            server_time=datetime.now(UTC),
            errors=[],
        )

    @strawberry.field(description="Protocol versions and limits of this server.")
    def sync_info(self, info: strawberry.Info) -> SyncInfo:
        settings = info.context.settings
        return SyncInfo(
            supported_versions=list(protocol.SUPPORTED_VERSIONS),
            max_push_records=protocol.MAX_PUSH_RECORDS,
            max_pull_limit=protocol.MAX_PULL_LIMIT,
            max_body_bytes=settings.max_body_bytes,
            tombstone_days=settings.sync_tombstone_days,
            record_kinds=list(registry.PHONE_KINDS),
            contract_url=contract.URL_PATH,
            contract_version=contract.CONTRACT_VERSION,
            contract_hash=contract.contract_hash(),
            deprecated_fields=contract.deprecated_fields(),
        )
