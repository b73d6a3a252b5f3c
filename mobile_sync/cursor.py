"""Pull cursors: opaque, signed, and bound to one tenant and employee.

A cursor is ``[tenant, employee, seq]`` signed as kind ``v1`` (backend/signing.py). A client can
store and replay it, not forge or borrow one. While a first sync is still streaming its snapshot,
the cursor also carries where that snapshot ends: ``[tenant, employee, seq, snapshot_end]``. Once
the snapshot is through, cursors have the three fields again, as every cursor had before.
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.errors import DomainError, ErrorCode
from backend.signing import Keys, sign, unsign

_KIND = "v1"  # cursors issued before this module existed were already signed this way


@dataclass(frozen=True)
class Position:
    """Where a phone is in the feed: the last feed number it has, and, during a first sync, the
    feed head when that snapshot started (0 when no snapshot is in progress)."""

    seq: int
    snapshot_end: int = 0

    @property
    def in_snapshot(self) -> bool:
        return self.seq < self.snapshot_end


def encode(secret: Keys, tenant_id: int, employee_id: int, position: Position) -> str:
    fields = [tenant_id, employee_id, position.seq]
    if position.in_snapshot:
        fields.append(position.snapshot_end)
    return sign(secret, _KIND, fields)


def decode(secret: Keys, cursor: str, tenant_id: int, employee_id: int) -> Position:
    """The feed position in ``cursor``; ``CURSOR_INVALID`` unless we issued it to this viewer,
    under a key still in the ring (a cursor whose key was retired starts the pull over)."""
    try:
        fields = unsign(secret, _KIND, cursor)
        if len(fields) not in (3, 4) or not all(type(f) is int and f >= 0 for f in fields[2:]):
            raise ValueError("malformed")
        tenant, employee, seq, *snapshot_end = fields
        if (tenant, employee) != (tenant_id, employee_id):
            raise ValueError("owner")
        return Position(seq, snapshot_end[0] if snapshot_end else 0)
    except ValueError as exc:
        raise DomainError(ErrorCode.CURSOR_INVALID, field="cursor") from exc
