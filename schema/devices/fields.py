"""Device fields: myDevices, employeeDevices (HR admins) and revokeDevice, which cuts a lost phone
off at once. Thin: each calls backend.services.people.devices."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.people import devices
from backend.services.viewer import Viewer
from schema.devices.types import Device, RevokeDeviceInput, RevokeDevicePayload
from schema.ids import expect_global_id
from schema.payloads import mutate


@strawberry.type
class DeviceQueries:
    @strawberry.field(
        description="The devices the viewer signed in on, most recently seen first, each saying whether it is "
        "signed in now and whether it is this one."
    )
    async def my_devices(self, info: strawberry.Info) -> list[Device]:
        viewer = await info.context.require_viewer()
        return [Device.from_domain(state) for state in await devices.my_devices(info.context.settings, viewer)]

    @strawberry.field(
        description="The devices an employee signed in on, most recently seen first. HR admins; NOT_FOUND for "
        "an employee of another company or none."
    )
    async def employee_devices(
        self,
        info: strawberry.Info,
        employee_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the employee.")],
    ) -> list[Device]:
        viewer = await info.context.require_viewer()
        found = await devices.employee_devices(
            info.context.settings, viewer, expect_global_id(employee_id, "Employee", "employeeId")
        )
        return [Device.from_domain(state) for state in found]


@strawberry.type
class DeviceMutations:
    @strawberry.mutation(
        description="Sign a device out at once (a lost phone): its access and refresh tokens fail on their next "
        "use. Your own devices (revoking this one signs you out), or, for HR admins, any employee's. It can sign "
        "in again with the password. Audited."
    )
    async def revoke_device(
        self,
        info: strawberry.Info,
        input: Annotated[RevokeDeviceInput, strawberry.argument(description="The device, and whose it is.")],
    ) -> RevokeDevicePayload:
        async def work(viewer: Viewer) -> devices.RevokedDevice:
            employee_id = (
                expect_global_id(input.employee_id, "Employee", "employeeId") if input.employee_id is not None else None
            )
            return await devices.revoke_device(info.context.settings, viewer, input.device_tag, employee_id)

        return await mutate(info, work, RevokeDevicePayload.build)
