"""Organisation mutations (HR admins): org units, sites, positions with their skill requirements,
and skills. Thin: the rules live in backend/services/people/{org_units,sites,positions,
skill_catalog}.py. Fields of an update input left out keep their value."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import strawberry

from backend import models
from backend.services.people import org_units, positions, sites, skill_catalog
from backend.services.viewer import Viewer
from schema.common import UserError
from schema.ids import expect_global_id
from schema.organisation.types import OrgUnit, Position, Site, Skill
from schema.payloads import mutate

CODE = "Code, unique in the company: 1 to 64 upper-case letters, digits or hyphens (e.g. SALES-EAST)."
UNSET: Any = strawberry.UNSET


def _given(**values: object) -> dict[str, object]:
    """The fields of an update input that were sent."""
    return {name: value for name, value in values.items() if value is not strawberry.UNSET}


# --- inputs ---------------------------------------------------------------------------------------


@strawberry.input(description="A new org unit.")
class CreateOrgUnitInput:
    code: str = strawberry.field(description=CODE)
    name: str = strawberry.field(description="Name, e.g. 华东销售组 (at most 200 characters).")
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global ID of the open unit above it; null for a new root."
    )


@strawberry.input(description="A new code and/or name for an org unit.")
class UpdateOrgUnitInput:
    unit_id: strawberry.ID = strawberry.field(description="Global ID of the unit.")
    code: str | None = strawberry.field(default=None, description=CODE + " Null keeps it.")
    name: str | None = strawberry.field(default=None, description="Name (at most 200 characters); null keeps it.")


@strawberry.input(description="Where an org unit (with everything below it) goes.")
class MoveOrgUnitInput:
    unit_id: strawberry.ID = strawberry.field(description="Global ID of the unit to move.")
    parent_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Global ID of the open unit to put it under (not itself or a unit below it); null makes it a root.",
    )


@strawberry.input(description="Closing an org unit.")
class CloseOrgUnitInput:
    unit_id: strawberry.ID = strawberry.field(description="Global ID of the unit.")
    closed_on: date = strawberry.field(
        description="The day it closes (kept as its effective date); not after today in the company's time zone: "
        "closing takes effect at once."
    )


@strawberry.input(description="A new site.")
class CreateSiteInput:
    code: str = strawberry.field(description=CODE)
    name: str = strawberry.field(description="Name, e.g. 乌鲁木齐办事处 (at most 200 characters).")
    address: str | None = strawberry.field(default=None, description="Postal address (at most 300 characters).")
    latitude: float | None = strawberry.field(
        default=None, description="Latitude in degrees, -90 to 90 (WGS 84); given with longitude or not at all."
    )
    longitude: float | None = strawberry.field(
        default=None, description="Longitude in degrees, -180 to 180 (WGS 84); given with latitude or not at all."
    )
    time_zone: str | None = strawberry.field(
        default=None, description="IANA time zone, e.g. Asia/Urumqi; the company's time zone when left out."
    )
    is_headquarters: bool = strawberry.field(
        default=False, description="Whether it is the headquarters (the former one then stops being it)."
    )


@strawberry.input(description="Changes to a site; fields left out keep their value.")
class UpdateSiteInput:
    site_id: strawberry.ID = strawberry.field(description="Global ID of the site.")
    code: str | None = strawberry.field(default=UNSET, description=CODE)
    name: str | None = strawberry.field(default=UNSET, description="Name (at most 200 characters).")
    address: str | None = strawberry.field(default=UNSET, description="Postal address; null clears it.")
    latitude: float | None = strawberry.field(
        default=UNSET, description="Latitude, -90 to 90; null clears it (with longitude)."
    )
    longitude: float | None = strawberry.field(
        default=UNSET, description="Longitude, -180 to 180; null clears it (with latitude)."
    )
    time_zone: str | None = strawberry.field(
        default=UNSET, description="IANA time zone; null sets the company's time zone."
    )
    is_headquarters: bool | None = strawberry.field(
        default=UNSET, description="Whether it is the headquarters (true: the former one stops being it)."
    )


@strawberry.input(description="A new position in the 族-序列-层级 standard.")
class CreatePositionInput:
    code: str = strawberry.field(
        description="Code, unique in the company, following its POSITION_CODE data standard (default 族-序列-层级, "
        "e.g. SAL-AM-1)."
    )
    family: str = strawberry.field(description="Position family (族), e.g. 销售族 (at most 64 characters).")
    sequence: str = strawberry.field(description="Sequence (序列), e.g. 客户经理序列 (at most 64 characters).")
    level: str = strawberry.field(description="Level (层级), e.g. 初级 (at most 64 characters).")
    grade: int = strawberry.field(description="Grade of the level, 1 (most junior) to 20.")


@strawberry.input(description="Changes to a position; fields left out keep their value.")
class UpdatePositionInput:
    position_id: strawberry.ID = strawberry.field(description="Global ID of the position.")
    code: str | None = strawberry.field(
        default=UNSET, description="New code, following the POSITION_CODE standard (a kept code is not re-checked)."
    )
    family: str | None = strawberry.field(default=UNSET, description="Position family (族).")
    sequence: str | None = strawberry.field(default=UNSET, description="Sequence (序列).")
    level: str | None = strawberry.field(default=UNSET, description="Level (层级).")
    grade: int | None = strawberry.field(default=UNSET, description="Grade, 1 to 20.")


@strawberry.input(description="The level a position requires in a skill.")
class SetPositionSkillRequirementInput:
    position_id: strawberry.ID = strawberry.field(description="Global ID of the position.")
    skill_id: strawberry.ID = strawberry.field(description="Global ID of the skill.")
    required_level: int = strawberry.field(description="Level required, 0 to 100.")


@strawberry.input(description="A skill requirement to remove.")
class RemovePositionSkillRequirementInput:
    position_id: strawberry.ID = strawberry.field(description="Global ID of the position.")
    skill_id: strawberry.ID = strawberry.field(description="Global ID of the skill.")


@strawberry.input(description="A new skill of the company's skill matrix.")
class CreateSkillInput:
    code: str = strawberry.field(description=CODE)
    name: str = strawberry.field(description="Name, e.g. 客户需求分析 (at most 200 characters).")
    category: str | None = strawberry.field(default=None, description="Category, e.g. 销售 (at most 64 characters).")


@strawberry.input(description="Changes to a skill; fields left out keep their value.")
class UpdateSkillInput:
    skill_id: strawberry.ID = strawberry.field(description="Global ID of the skill.")
    code: str | None = strawberry.field(default=UNSET, description=CODE)
    name: str | None = strawberry.field(default=UNSET, description="Name (at most 200 characters).")
    category: str | None = strawberry.field(default=UNSET, description="Category; null clears it.")


# --- payloads -------------------------------------------------------------------------------------

ERRORS = "Expected failures; empty on success."


@strawberry.type(description="Result of an org unit mutation.")
class OrgUnitPayload:
    org_unit: OrgUnit | None = strawberry.field(description="The unit as it now is.")
    errors: list[UserError] = strawberry.field(description=ERRORS)

    @classmethod
    def of(cls, row: models.OrgUnit | None, errors: list[UserError]) -> OrgUnitPayload:
        return cls(org_unit=OrgUnit.from_model(row) if row else None, errors=errors)


@strawberry.type(description="Result of createSite or updateSite.")
class SitePayload:
    site: Site | None = strawberry.field(description="The site as it now is.")
    errors: list[UserError] = strawberry.field(description=ERRORS)

    @classmethod
    def of(cls, row: models.Site | None, errors: list[UserError]) -> SitePayload:
        return cls(site=Site.from_model(row) if row else None, errors=errors)


@strawberry.type(description="Result of a position mutation.")
class PositionPayload:
    position: Position | None = strawberry.field(description="The position as it now is, with its requirements.")
    errors: list[UserError] = strawberry.field(description=ERRORS)

    @classmethod
    def of(cls, row: models.Position | None, errors: list[UserError]) -> PositionPayload:
        return cls(position=Position.from_model(row) if row else None, errors=errors)


@strawberry.type(description="Result of createSkill or updateSkill.")
class SkillPayload:
    skill: Skill | None = strawberry.field(description="The skill as it now is.")
    errors: list[UserError] = strawberry.field(description=ERRORS)

    @classmethod
    def of(cls, row: models.Skill | None, errors: list[UserError]) -> SkillPayload:
        return cls(skill=Skill.from_model(row) if row else None, errors=errors)


# --- mutations ------------------------------------------------------------------------------------


def _id(value: strawberry.ID | None, type_name: str, field: str) -> int | None:
    return None if value is None else expect_global_id(value, type_name, field)


@strawberry.type
class OrganisationMutations:
    @strawberry.mutation(description="Create an org unit under an open unit, or a new root (HR admins); audited.")
    async def create_org_unit(
        self, info: strawberry.Info, input: Annotated[CreateOrgUnitInput, strawberry.argument(description="The unit.")]
    ) -> OrgUnitPayload:
        async def work(viewer: Viewer) -> models.OrgUnit:
            parent_id = _id(input.parent_id, "OrgUnit", "parentId")
            return await org_units.create_org_unit(viewer, input.code, input.name, parent_id)

        return await mutate(info, work, OrgUnitPayload.of)

    @strawberry.mutation(
        description="Rename an org unit: a new code and/or name (HR admins); audited. Its employees' phones "
        "show the new name."
    )
    async def update_org_unit(
        self, info: strawberry.Info, input: Annotated[UpdateOrgUnitInput, strawberry.argument(description="Changes.")]
    ) -> OrgUnitPayload:
        async def work(viewer: Viewer) -> models.OrgUnit:
            unit_id = expect_global_id(input.unit_id, "OrgUnit", "unitId")
            return await org_units.update_org_unit(viewer, unit_id, input.code, input.name)

        return await mutate(info, work, OrgUnitPayload.of)

    @strawberry.mutation(
        description="Move an org unit, with everything below it, under another open unit or to the top (HR "
        "admins); audited. Under itself or a unit below it is WOULD_CREATE_CYCLE."
    )
    async def move_org_unit(
        self, info: strawberry.Info, input: Annotated[MoveOrgUnitInput, strawberry.argument(description="The move.")]
    ) -> OrgUnitPayload:
        async def work(viewer: Viewer) -> models.OrgUnit:
            unit_id = expect_global_id(input.unit_id, "OrgUnit", "unitId")
            return await org_units.move_org_unit(viewer, unit_id, _id(input.parent_id, "OrgUnit", "parentId"))

        return await mutate(info, work, OrgUnitPayload.of)

    @strawberry.mutation(
        description="Close an org unit as of a day (HR admins); audited. It stays in the tree for history but "
        "takes no new people or units; STILL_IN_USE while it has open units below it or active employees."
    )
    async def close_org_unit(
        self, info: strawberry.Info, input: Annotated[CloseOrgUnitInput, strawberry.argument(description="Closing.")]
    ) -> OrgUnitPayload:
        async def work(viewer: Viewer) -> models.OrgUnit:
            unit_id = expect_global_id(input.unit_id, "OrgUnit", "unitId")
            return await org_units.close_org_unit(viewer, unit_id, input.closed_on)

        return await mutate(info, work, OrgUnitPayload.of)

    @strawberry.mutation(description="Open a closed org unit again; its parent must be open (HR admins); audited.")
    async def reopen_org_unit(
        self,
        info: strawberry.Info,
        unit_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of the unit.")],
    ) -> OrgUnitPayload:
        async def work(viewer: Viewer) -> models.OrgUnit:
            return await org_units.reopen_org_unit(viewer, expect_global_id(unit_id, "OrgUnit", "unitId"))

        return await mutate(info, work, OrgUnitPayload.of)

    @strawberry.mutation(description="Create a site (HR admins); audited.")
    async def create_site(
        self, info: strawberry.Info, input: Annotated[CreateSiteInput, strawberry.argument(description="The site.")]
    ) -> SitePayload:
        async def work(viewer: Viewer) -> models.Site:
            return await sites.create_site(
                viewer,
                input.code,
                input.name,
                input.address,
                input.latitude,
                input.longitude,
                input.time_zone,
                input.is_headquarters,
            )

        return await mutate(info, work, SitePayload.of)

    @strawberry.mutation(
        description="Change a site (HR admins); audited. A new name or time zone reaches the phones of its "
        "employees and the sessions held there."
    )
    async def update_site(
        self, info: strawberry.Info, input: Annotated[UpdateSiteInput, strawberry.argument(description="Changes.")]
    ) -> SitePayload:
        async def work(viewer: Viewer) -> models.Site:
            site_id = expect_global_id(input.site_id, "Site", "siteId")
            changes = _given(
                code=input.code,
                name=input.name,
                address=input.address,
                latitude=input.latitude,
                longitude=input.longitude,
                time_zone=input.time_zone,
                is_headquarters=input.is_headquarters,
            )
            return await sites.update_site(viewer, site_id, changes)

        return await mutate(info, work, SitePayload.of)

    @strawberry.mutation(description="Create a position (HR admins); audited.")
    async def create_position(
        self,
        info: strawberry.Info,
        input: Annotated[CreatePositionInput, strawberry.argument(description="The position.")],
    ) -> PositionPayload:
        async def work(viewer: Viewer) -> models.Position:
            return await positions.create_position(
                viewer, input.code, input.family, input.sequence, input.level, input.grade
            )

        return await mutate(info, work, PositionPayload.of)

    @strawberry.mutation(
        description="Change a position (HR admins); audited. A new title reaches the phones of its employees."
    )
    async def update_position(
        self,
        info: strawberry.Info,
        input: Annotated[UpdatePositionInput, strawberry.argument(description="Changes.")],
    ) -> PositionPayload:
        async def work(viewer: Viewer) -> models.Position:
            position_id = expect_global_id(input.position_id, "Position", "positionId")
            changes = _given(
                code=input.code, family=input.family, sequence=input.sequence, level=input.level, grade=input.grade
            )
            return await positions.update_position(viewer, position_id, changes)

        return await mutate(info, work, PositionPayload.of)

    @strawberry.mutation(
        description="Set the level a position requires in a skill, adding or replacing the requirement (HR "
        "admins); audited."
    )
    async def set_position_skill_requirement(
        self,
        info: strawberry.Info,
        input: Annotated[SetPositionSkillRequirementInput, strawberry.argument(description="The requirement.")],
    ) -> PositionPayload:
        async def work(viewer: Viewer) -> models.Position:
            position_id = expect_global_id(input.position_id, "Position", "positionId")
            skill_id = expect_global_id(input.skill_id, "Skill", "skillId")
            return await positions.set_position_skill(viewer, position_id, skill_id, input.required_level)

        return await mutate(info, work, PositionPayload.of)

    @strawberry.mutation(description="Remove what a position requires in a skill (HR admins); audited.")
    async def remove_position_skill_requirement(
        self,
        info: strawberry.Info,
        input: Annotated[RemovePositionSkillRequirementInput, strawberry.argument(description="The requirement.")],
    ) -> PositionPayload:
        async def work(viewer: Viewer) -> models.Position:
            position_id = expect_global_id(input.position_id, "Position", "positionId")
            skill_id = expect_global_id(input.skill_id, "Skill", "skillId")
            return await positions.remove_position_skill(viewer, position_id, skill_id)

        return await mutate(info, work, PositionPayload.of)

    @strawberry.mutation(description="Create a skill (HR admins); audited.")
    async def create_skill(
        self, info: strawberry.Info, input: Annotated[CreateSkillInput, strawberry.argument(description="The skill.")]
    ) -> SkillPayload:
        async def work(viewer: Viewer) -> models.Skill:
            return await skill_catalog.create_skill(viewer, input.code, input.name, input.category)

        return await mutate(info, work, SkillPayload.of)

    @strawberry.mutation(
        description="Change a skill (HR admins); audited. A new code or name reaches the phones of everyone "
        "with a level in it."
    )
    async def update_skill(
        self, info: strawberry.Info, input: Annotated[UpdateSkillInput, strawberry.argument(description="Changes.")]
    ) -> SkillPayload:
        async def work(viewer: Viewer) -> models.Skill:
            skill_id = expect_global_id(input.skill_id, "Skill", "skillId")
            changes = _given(code=input.code, name=input.name, category=input.category)
            return await skill_catalog.update_skill(viewer, skill_id, changes)

        return await mutate(info, work, SkillPayload.of)
