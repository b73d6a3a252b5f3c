"""Online twins of record kinds: a mutation such as ``checkIn`` is a push of one record, right now,
through the same ingest path as a phone's outbox (docs/sync-protocol.md)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import strawberry

from backend.errors import DomainError, ErrorCode
from backend.services.credits import credit_accounts
from backend.services.records import ingest
from backend.services.records.handler import IncomingRecord
from backend.services.viewer import Viewer
from schema.common import UserError
from schema.credits.types import CreditBalance
from schema.payloads import mutate
from schema.sync.types import SyncRecordResult, utc


async def viewer_credits(viewer: Viewer) -> CreditBalance:
    """The viewer's account, read once after the write's transaction committed."""
    return CreditBalance.from_balance(await credit_accounts.balance_of(viewer.tenant_id, viewer.employee_id))


@strawberry.type(description="Answer to an online record mutation.")
class RecordPayload:
    result: SyncRecordResult | None = strawberry.field(description="The record's outcome.")
    errors: list[UserError] = strawberry.field(description="Whole-request failures.")
    credits: CreditBalance | None = strawberry.field(
        default=None, description="The viewer's credit account after the record (null on a whole-request failure)."
    )


def client_record_id(client_id: strawberry.ID | None) -> uuid.UUID:
    """The record id a client chose for safe retries (a UUID), or a fresh one."""
    try:
        return uuid.UUID(str(client_id)) if client_id else uuid.uuid4()
    except ValueError as exc:
        raise DomainError(ErrorCode.VALIDATION, field="clientId", reason_key="reason.bad_id") from exc


async def submit_record(
    info: strawberry.Info,
    client_id: strawberry.ID | None,
    kind: str,
    occurred_at: datetime | None,
    payload: dict[str, Any],
) -> RecordPayload:
    """Ingest one record of ``kind`` for the viewer's device and answer its outcome and the
    viewer's credits after it."""

    async def work(viewer: Viewer) -> tuple[Viewer, ingest.IngestResult]:
        record = IncomingRecord(client_record_id(client_id), None, kind, utc(occurred_at or datetime.now(UTC)), payload)
        return viewer, await ingest.ingest(viewer, viewer.device_uid, [record], settings=info.context.settings)

    async def shape(done: tuple[Viewer, ingest.IngestResult] | None, errors: list[UserError]) -> RecordPayload:
        if done is None:
            return RecordPayload(result=None, errors=errors)
        viewer, result = done
        return RecordPayload(
            result=SyncRecordResult.from_result(result.results[0], info.context.locale),
            errors=[],
            credits=await viewer_credits(viewer),
        )

    return await mutate(info, work, shape)
