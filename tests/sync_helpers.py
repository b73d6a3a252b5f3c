"""Helpers for sync protocol tests: GraphQL documents and record builders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.ids import to_global_id

PUSH = """
mutation Push($input: SyncPushInput!) {
  syncPush(input: $input) {
    appliedSeq clockOffsetMs clockSkewed serverTime
    results { id seq status code message retryable originalStatus serverVersion receivedAt }
    errors { code message field }
  }
}
"""

PULL = """
query Pull($input: SyncPullInput!) {
  syncPull(input: $input) {
    cursor hasMore appliedSeq
    changes { entity id op data }
    errors { code message field }
  }
}
"""

NOW = datetime.now(UTC)


def lesson(
    module_id: int, seq: int, seconds: int = 60, record_id: str | None = None, occurred_at: datetime | None = None
) -> dict[str, Any]:
    return {
        "id": record_id or str(uuid.uuid4()),
        "seq": seq,
        "kind": "LESSON_COMPLETED",
        "occurredAt": (occurred_at or NOW - timedelta(hours=1)).isoformat(),
        "payload": {"moduleId": to_global_id("CourseModule", module_id), "secondsSpent": seconds},
    }


def push_input(
    records: list[dict[str, Any]], device_id: str = "device-1", sent_at: datetime | None = None, version: int = 1
) -> dict[str, Any]:
    return {
        "input": {
            "protocolVersion": version,
            "deviceId": device_id,
            "sentAt": (sent_at or datetime.now(UTC)).isoformat(),
            "records": records,
        }
    }


def pull_input(
    cursor: str | None = None, limit: int = 200, device_id: str = "device-1", version: int = 1
) -> dict[str, Any]:
    return {"input": {"protocolVersion": version, "deviceId": device_id, "cursor": cursor, "limit": limit}}
