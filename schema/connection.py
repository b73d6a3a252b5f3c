"""The one Relay connection: ``Connection[T]`` and ``Edge[T]`` for any node type, built from a
service's ``Page`` (``backend.services.pagination``).

``Connection[Course]`` is the GraphQL type ``CourseConnection`` with ``CourseEdge``s; a list with
fields of its own subclasses it (``class CreditsBehindConnection(Connection[...])``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from backend.services.pagination import Page
from schema.execution import answered_by

NodeT = TypeVar("NodeT")


@strawberry.type(description="Relay page information of a connection.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether more items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Whether items precede this page (true when `after` was given)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first item, if any.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last item; pass it as `after` for the next page."
    )


@strawberry.type(description="An item of a page with its cursor.")
class Edge(Generic[NodeT]):
    # The cursor is written when it is asked for (pages mostly ask for pageInfo's end cursor only):
    # an answer held by the edge, read off ``_cursor`` by the executor like a plain field.
    @strawberry.field(description="Opaque cursor of this item; pass it as `after` to read on from it.")
    @answered_by("_cursor")
    def cursor(self) -> str:
        return self._cursor

    node: NodeT = strawberry.field(description="The item.")
    _item: strawberry.Private[Any]  # the page's item, and how its cursor is written
    _cursor_of: strawberry.Private[Callable[[Any], str]]

    @property
    def _cursor(self) -> str:
        return self._cursor_of(self._item)


@strawberry.type(description="A page of a list (Relay connection), in the list's order.")
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]] = strawberry.field(description="The items of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Paging information.")
    count_total: strawberry.Private[Callable[[], Awaitable[int]]]
    # A connection whose edge type keeps an older name than the generic one (``SkillGapEdge``, not
    # ``SkillGapEntryEdge``) declares that subclass of Edge here and as the type of its ``edges``.
    edge_type: ClassVar[type[Edge[Any]]] = Edge

    @strawberry.field(description="Number of items in the whole list, across all pages (counted only when asked).")
    async def total_count(self) -> int:
        return await self.count_total()

    @classmethod
    def from_page(cls, page: Page[Any], node: Callable[[Any], NodeT], **extra: Any) -> Any:
        """The connection of ``page``, each item shaped by ``node``; ``extra`` fills a subclass's
        own fields."""
        items, cursor_of, edge = page.items, page.cursor_of, cls.edge_type
        return cls(
            edges=[edge(node=node(item), _item=item, _cursor_of=cursor_of) for item in items],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=cursor_of(items[0]) if items else None,
                end_cursor=cursor_of(items[-1]) if items else None,
            ),
            count_total=page.count_total,
            **extra,
        )


def selects(info: strawberry.Info, *path: str) -> bool:
    """Whether the operation asks, below the current field, for the field at ``path`` (names,
    e.g. ``"edges", "node", "modules"``), through fragments too. ``@include``/``@skip`` are not
    evaluated: a field may be read for nothing, never missed."""
    return any(_asks(field.selections, path) for field in info.selected_fields if isinstance(field, SelectedField))


def _asks(selections: list[Selection], names: tuple[str, ...]) -> bool:
    # A module-level function, not a closure: a closure calling itself is a reference cycle,
    # garbage the collector would have to find after every request.
    for selection in selections:
        if isinstance(selection, SelectedField):
            if selection.name == names[0] and (len(names) == 1 or _asks(selection.selections, names[1:])):
                return True
        elif _asks(selection.selections, names):  # a fragment: its fields are this level's
            return True
    return False
