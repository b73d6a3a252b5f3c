"""The shape every mutation of the API shares: authorize, run the service, and answer a payload
whose ``errors`` carry expected failures (typed by code, in the caller's language)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import strawberry

from backend.errors import DomainError
from backend.services.viewer import Viewer
from schema.common import UserError

Payload = TypeVar("Payload")


async def mutate(
    info: strawberry.Info,
    work: Callable[[Viewer], Awaitable[Any]],
    payload: Callable[[Any, list[UserError]], Payload],
) -> Payload:
    """Run ``work`` for the signed-in viewer; ``payload(result, [])`` on success,
    ``payload(None, [error])`` when the service refused with a DomainError."""
    viewer = await info.context.require_viewer()
    try:
        return payload(await work(viewer), [])
    except DomainError as error:
        return payload(None, [UserError.from_domain(error, info.context.locale)])
