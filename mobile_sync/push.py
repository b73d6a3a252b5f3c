"""Push: protocol checks around the one ingest path (``backend.services.records.ingest.ingest``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.observability import metrics
from backend.services.records import ingest
from backend.services.records.handler import IncomingRecord
from backend.services.records.ingest import IngestResult
from backend.services.records.registry import KINDS
from backend.services.viewer import Viewer
from mobile_sync.protocol import MAX_PUSH_RECORDS, check_version


async def push(
    viewer: Viewer,
    protocol_version: int,
    device_id: str,
    sent_at: datetime,
    records: Sequence[IncomingRecord],
    settings: Settings | None = None,
) -> IngestResult:
    """Apply a batch from a phone's outbox exactly once (see docs/sync-protocol.md)."""
    check_version(protocol_version)
    if len(records) > MAX_PUSH_RECORDS:
        raise DomainError(ErrorCode.BATCH_TOO_LARGE, max=MAX_PUSH_RECORDS)
    if any(record.seq is None or record.seq < 1 for record in records):
        raise DomainError(ErrorCode.VALIDATION, field="records.seq", reason_key="reason.field", name="seq")
    result = await ingest.ingest(viewer, device_id, records, sent_at=sent_at, settings=settings)
    metrics.count_sync_records((r.kind for r in records), ((r.status, r.code) for r in result.results), KINDS)
    return result
