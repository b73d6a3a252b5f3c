"""Organisation fields: the lists every employee of the company may read to fill forms and pick
IDs (org units as a tree, sites, positions, skills). Thin: each calls
backend.services.people.organisation."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.services.people import organisation
from schema.connection import Connection
from schema.ids import expect_global_id
from schema.organisation.types import OrgUnit, Position, Site, Skill

FIRST = "Page size, 0 to the configured maximum (100)."
AFTER = "endCursor of the previous page."
SEARCH = "Words (up to 100 characters) that must each appear in {columns}, ignoring case; Chinese works."


@strawberry.type
class OrganisationQueries:
    @strawberry.field(
        description="The company's org units in tree order (each unit right before the units below it), as "
        "a Relay connection; every signed-in employee may read them. With parentId, only the units directly "
        "below that one (NOT_FOUND if it is not a unit of the company)."
    )
    async def org_units(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        parent_id: Annotated[
            strawberry.ID | None, strawberry.argument(description="Global ID of a unit: list its direct children.")
        ] = None,
        search: Annotated[
            str | None, strawberry.argument(description=SEARCH.format(columns="the code or the name"))
        ] = None,
    ) -> Connection[OrgUnit]:
        viewer = await info.context.require_viewer()
        page = await organisation.org_units(
            viewer,
            first,
            after,
            info.context.settings.max_page_size,
            parent_id=expect_global_id(parent_id, "OrgUnit", "parentId") if parent_id is not None else None,
            search=search,
        )
        return Connection[OrgUnit].from_page(page, OrgUnit.from_model)

    @strawberry.field(
        description="The company's sites (headquarters and remote offices) in code order; every signed-in "
        "employee may read them."
    )
    async def sites(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        search: Annotated[
            str | None, strawberry.argument(description=SEARCH.format(columns="the code, the name or the address"))
        ] = None,
    ) -> Connection[Site]:
        viewer = await info.context.require_viewer()
        page = await organisation.sites(viewer, first, after, info.context.settings.max_page_size, search=search)
        return Connection[Site].from_page(page, Site.from_model)

    @strawberry.field(
        description="The company's position catalog (族-序列-层级: family, sequence, level, grade) in code order; "
        "every signed-in employee may read it."
    )
    async def positions(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        family: Annotated[
            str | None, strawberry.argument(description="Only positions of this family (族), exactly, e.g. 销售族.")
        ] = None,
        search: Annotated[
            str | None,
            strawberry.argument(description=SEARCH.format(columns="the code, family, sequence or level")),
        ] = None,
    ) -> Connection[Position]:
        viewer = await info.context.require_viewer()
        page = await organisation.positions(
            viewer, first, after, info.context.settings.max_page_size, family=family, search=search
        )
        return Connection[Position].from_page(page, Position.from_model)

    @strawberry.field(
        description="The company's skill matrix in code order (the IDs skillGap and course filters take); "
        "every signed-in employee may read it."
    )
    async def skills(
        self,
        info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        search: Annotated[
            str | None,
            strawberry.argument(description=SEARCH.format(columns="the code, the name or the category")),
        ] = None,
    ) -> Connection[Skill]:
        viewer = await info.context.require_viewer()
        page = await organisation.skills(viewer, first, after, info.context.settings.max_page_size, search=search)
        return Connection[Skill].from_page(page, Skill.from_model)
