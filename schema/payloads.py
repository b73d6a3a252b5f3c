"""The one shape of every mutation: authorize, run the service, and answer a payload whose
``errors`` carry expected failures (typed by code, in the caller's language).

A resolver is ``return await mutate(info, work, payload)``: ``work(viewer)`` calls the service
(parsing IDs inside it, so a bad ID is an error of the payload too) and ``payload(result, errors)``
shapes the answer, ``result`` being ``None`` when the service refused. The role each mutation needs
is checked before the resolver runs (``schema.permissions``)."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar, overload

import strawberry

from backend.errors import DomainError
from backend.services.viewer import Viewer
from schema.common import UserError

Payload = TypeVar("Payload")


@overload
async def mutate(
    info: strawberry.Info,
    work: Callable[[Viewer], Awaitable[Any]],
    payload: Callable[[Any, list[UserError]], Payload | Awaitable[Payload]],
    *,
    anonymous: Literal[False] = False,
) -> Payload: ...


@overload
async def mutate(
    info: strawberry.Info,
    work: Callable[[None], Awaitable[Any]],
    payload: Callable[[Any, list[UserError]], Payload | Awaitable[Payload]],
    *,
    anonymous: Literal[True],
) -> Payload: ...


async def mutate(
    info: strawberry.Info,
    work: Callable[[Any], Awaitable[Any]],
    payload: Callable[[Any, list[UserError]], Payload | Awaitable[Payload]],
    *,
    anonymous: bool = False,
) -> Payload:
    """Run ``work`` for the signed-in viewer (``None`` for the ``anonymous`` mutations of signing in);
    ``payload(result, [])`` on success, ``payload(None, [error])`` when the service refused with
    a DomainError. ``payload`` may be async (to load what the answer shows)."""
    context = info.context
    viewer = None if anonymous else await context.require_viewer()
    try:
        result = await work(viewer)
        errors: list[UserError] = []
    except DomainError as error:
        result, errors = None, [UserError.from_domain(error, context.locale)]
    shaped = payload(result, errors)
    if inspect.isawaitable(shaped):
        return await shaped
    return shaped
