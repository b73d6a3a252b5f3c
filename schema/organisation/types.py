"""Organisation types: tenant, org units, sites, positions, skills."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any
from weakref import WeakKeyDictionary

import strawberry
from strawberry.dataloader import DataLoader

from backend import models
from backend.services.catalog.course_catalog import SkillSummary
from backend.services.people import positions
from backend.services.people.organisation import depth_of
from schema.common import Node
from schema.ids import to_global_id
from schema.loaders import Loaders

# A position's skill requirements, batched per request (a page of positions costs one query).
# Kept beside the request's Loaders rather than in them: not cached, as a mutation's answer shows
# them as they are after it.
_REQUIREMENTS: WeakKeyDictionary[Loaders, DataLoader[int, list[Any]]] = WeakKeyDictionary()


async def _requirements(info: strawberry.Info, position_id: int) -> list[Any]:
    loaders = await info.context.loaders()
    loader = _REQUIREMENTS.get(loaders)
    if loader is None:
        tenant_id = loaders.viewer.tenant_id

        async def load(keys: Sequence[int]) -> list[list[Any]]:
            grouped = await positions.requirements_by_position(tenant_id, list(keys))
            return [grouped.get(key, []) for key in keys]

        loader = _REQUIREMENTS[loaders] = DataLoader(load_fn=load, cache=False)
    return await loader.load(position_id)


@strawberry.type(description="The company the viewer belongs to.")
class Tenant:
    code: str = strawberry.field(description="Company code typed at login, e.g. `demo`.")
    name: str = strawberry.field(description="Company name.")

    @classmethod
    def from_model(cls, row: models.Tenant) -> Tenant:
        return cls(code=row.code, name=row.name)


@strawberry.type(description="A department or team in the organisation tree.")
class OrgUnit(Node):
    code: str = strawberry.field(description="Code of the unit, unique in the company.")
    name: str = strawberry.field(description="Name, e.g. 销售部.")
    closed_on: date | None = strawberry.field(
        description="The day the unit closed (it then takes no new people or units); null while open."
    )
    _row: strawberry.Private[models.OrgUnit]

    @strawberry.field(description="The unit above this one; null for the root.")
    async def parent(self, info: strawberry.Info) -> OrgUnit | None:
        if self._row.parent_id is None:
            return None
        row = await (await info.context.loaders()).org_unit.load(self._row.parent_id)
        return OrgUnit.from_model(row) if row else None

    @strawberry.field(description="How far below a root the unit is: 0 for a root, 1 for the units under it, ….")
    def depth(self) -> int:
        return depth_of(self._row)

    @strawberry.field(description="Number of units directly below this one.")
    async def child_count(self, info: strawberry.Info) -> int:
        return await (await info.context.loaders()).org_unit_child_count.load(self._row.id) or 0

    @classmethod
    def from_model(cls, row: models.OrgUnit) -> OrgUnit:
        return cls(
            id=strawberry.ID(to_global_id("OrgUnit", row.id)),
            code=row.code,
            name=row.name,
            closed_on=row.closed_on,
            _row=row,
        )


@strawberry.type(description="A place of work: the headquarters or a remote office.")
class Site(Node):
    code: str = strawberry.field(description="Code of the site, e.g. HQ.")
    name: str = strawberry.field(description="Name, e.g. 上海总部.")
    is_headquarters: bool = strawberry.field(description="Whether this is the headquarters.")
    time_zone: str = strawberry.field(
        description="IANA time zone of the site, e.g. Asia/Shanghai; local times are shown in it."
    )
    address: str = strawberry.field(description="Postal address (empty when not recorded).")
    latitude: float | None = strawberry.field(description="Latitude in degrees (WGS 84), if recorded.")
    longitude: float | None = strawberry.field(description="Longitude in degrees (WGS 84), if recorded.")

    @classmethod
    def from_model(cls, row: models.Site) -> Site:
        return cls(
            id=strawberry.ID(to_global_id("Site", row.id)),
            code=row.code,
            name=row.name,
            is_headquarters=row.is_headquarters,
            time_zone=row.time_zone,
            address=row.address,
            latitude=row.latitude,
            longitude=row.longitude,
        )


@strawberry.type(description="A job position: family, sequence and level (销售族-客户经理序列-初级).")
class Position(Node):
    code: str = strawberry.field(description="Code of the position.")
    family: str = strawberry.field(description="Position family, e.g. 销售族.")
    sequence: str = strawberry.field(description="Sequence within the family, e.g. 客户经理序列.")
    level: str = strawberry.field(description="Level name, e.g. 初级.")
    grade: int = strawberry.field(description="Numeric grade of the level, 1 being the most junior.")
    _row_id: strawberry.Private[int]

    @strawberry.field(description="The full name: family-sequence-level.")
    def title(self) -> str:
        return f"{self.family}-{self.sequence}-{self.level}"

    @strawberry.field(description="The levels the position requires in skills, by skill code.")
    async def skill_requirements(self, info: strawberry.Info) -> list[SkillRequirement]:
        rows = await _requirements(info, self._row_id)
        return [SkillRequirement(skill=Skill.from_model(row.skill), required_level=row.required_level) for row in rows]

    @classmethod
    def from_model(cls, row: models.Position) -> Position:
        return cls(
            id=strawberry.ID(to_global_id("Position", row.id)),
            code=row.code,
            family=row.family,
            sequence=row.sequence,
            level=row.level,
            grade=row.grade,
            _row_id=row.id,
        )


@strawberry.type(description="A skill of the company's skill matrix.")
class Skill(Node):
    code: str = strawberry.field(description="Code of the skill.")
    name: str = strawberry.field(description="Name, e.g. 客户需求分析.")
    category: str = strawberry.field(description="Category, e.g. 销售.")

    @classmethod
    def from_model(cls, row: models.Skill | SkillSummary) -> Skill:
        return cls(
            id=strawberry.ID(to_global_id("Skill", row.id)),
            code=row.code,
            name=row.name,
            category=row.category,
        )


@strawberry.type(description="The level (0–100) a position requires in a skill.")
class SkillRequirement:
    skill: Skill = strawberry.field(description="The skill.")
    required_level: int = strawberry.field(description="The level required, 0 to 100.")
