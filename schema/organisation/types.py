"""Organisation types: tenant, org units, sites, positions, skills."""

from __future__ import annotations

import strawberry

from backend import models
from backend.services.people.organisation import depth_of
from schema.common import Node
from schema.ids import to_global_id


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
        return cls(id=strawberry.ID(to_global_id("OrgUnit", row.id)), code=row.code, name=row.name, _row=row)


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

    @strawberry.field(description="The full name: family-sequence-level.")
    def title(self) -> str:
        return f"{self.family}-{self.sequence}-{self.level}"

    @classmethod
    def from_model(cls, row: models.Position) -> Position:
        return cls(
            id=strawberry.ID(to_global_id("Position", row.id)),
            code=row.code,
            family=row.family,
            sequence=row.sequence,
            level=row.level,
            grade=row.grade,
        )


@strawberry.type(description="A skill of the company's skill matrix.")
class Skill(Node):
    code: str = strawberry.field(description="Code of the skill.")
    name: str = strawberry.field(description="Name, e.g. 客户需求分析.")
    category: str = strawberry.field(description="Category, e.g. 销售.")

    @classmethod
    def from_model(cls, row: models.Skill) -> Skill:
        return cls(
            id=strawberry.ID(to_global_id("Skill", row.id)),
            code=row.code,
            name=row.name,
            category=row.category,
        )
