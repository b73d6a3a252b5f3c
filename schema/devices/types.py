"""Devices an employee signs in on, and the answer of revokeDevice."""

from __future__ import annotations

from datetime import datetime

import strawberry

from backend.services.people import devices
from schema.common import UserError
from schema.ids import to_global_id


@strawberry.type(
    description="A phone, tablet or browser an employee signed in on (one per app installation). Its own "
    "deviceId stays on the device: it is shown by a tag, the same tag session rosters show."
)
class Device:
    tag: str = strawberry.field(
        description="Short stable label of the device (the same device, the same tag); what revokeDevice takes."
    )
    employee_id: strawberry.ID = strawberry.field(description="Global ID of the employee the device signed in as.")
    first_seen_at: datetime = strawberry.field(description="When it first signed in (UTC).")
    last_seen_at: datetime | None = strawberry.field(
        description="When it last signed in or refreshed its tokens (UTC)."
    )
    last_sign_in_at: datetime | None = strawberry.field(description="When it last signed in with a password (UTC).")
    signed_in: bool = strawberry.field(
        description="Whether it is signed in now: a sign-in on it is neither revoked, signed out nor expired."
    )
    current: bool = strawberry.field(description="Whether this is the device making the request.")

    @classmethod
    def from_domain(cls, state: devices.DeviceState) -> Device:
        return cls(
            tag=state.tag,
            employee_id=strawberry.ID(to_global_id("Employee", state.employee_id)),
            first_seen_at=state.first_seen_at,
            last_seen_at=state.last_seen_at,
            last_sign_in_at=state.last_sign_in_at,
            signed_in=state.signed_in,
            current=state.current,
        )


@strawberry.input(description="The device to cut off: its tag, and whose it is (HR admins only).")
class RevokeDeviceInput:
    device_tag: str = strawberry.field(description="The device's tag (Device.tag).")
    employee_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Global ID of the employee whose device it is; leave it out for your own. Only HR admins "
        "may name someone else (FORBIDDEN otherwise).",
    )


@strawberry.type(description="Result of revokeDevice.")
class RevokeDevicePayload:
    device: Device | None = strawberry.field(description="The device after the revocation (no longer signed in).")
    revoked_sessions: int | None = strawberry.field(
        description="How many live sign-ins it ended (0 when it was signed out already)."
    )
    errors: list[UserError] = strawberry.field(description="Expected failures; empty on success.")

    @classmethod
    def build(cls, result: devices.RevokedDevice | None, errors: list[UserError]) -> RevokeDevicePayload:
        if result is None:
            return cls(device=None, revoked_sessions=None, errors=errors)
        return cls(device=Device.from_domain(result.device), revoked_sessions=result.revoked_sessions, errors=errors)
