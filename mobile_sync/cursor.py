"""Pull cursors: opaque, signed, and bound to one tenant and employee.

A cursor is ``[tenant, employee, seq]`` signed as kind ``v1`` (backend/signing.py). A client can
store and replay it, not forge or borrow one.
"""

from __future__ import annotations

from backend.errors import DomainError, ErrorCode
from backend.signing import sign, unsign

_KIND = "v1"  # cursors issued before this module existed were already signed this way


def encode(secret: str, tenant_id: int, employee_id: int, seq: int) -> str:
    return sign(secret, _KIND, [tenant_id, employee_id, seq])


def decode(secret: str, cursor: str, tenant_id: int, employee_id: int) -> int:
    """The feed position in ``cursor``; ``CURSOR_INVALID`` unless we issued it to this viewer."""
    try:
        tenant, employee, seq = unsign(secret, _KIND, cursor)
        if (tenant, employee) != (tenant_id, employee_id) or not isinstance(seq, int) or seq < 0:
            raise ValueError("owner")
        return seq
    except ValueError as exc:
        raise DomainError(ErrorCode.CURSOR_INVALID, field="cursor") from exc
