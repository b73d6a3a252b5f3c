"""Conditional GET as every cacheable answer of the server reads it: GraphQL GET answers
(schema/api.py), /media (backend/media_route.py), the sync contract (mobile_sync/contract.py) and
calendar feeds (backend/calendar_route.py)."""

from __future__ import annotations

from starlette.datastructures import Headers


def none_match(headers: Headers, etag: str) -> bool:
    """Whether ``If-None-Match`` (every header of that name, each a comma-separated list) names
    ``etag``: ``*``, or a tag equal to it under weak comparison (RFC 9110, 13.1.2), so ``W/"x"``
    (what a proxy that compressed the body sends back) matches ``"x"``. Our tags are hex or
    base64url: no comma inside the quotes."""
    ours = etag.removeprefix("W/")
    for value in headers.getlist("if-none-match"):
        for tag in value.split(","):
            tag = tag.strip()
            if tag == "*" or tag.removeprefix("W/") == ours:
                return True
    return False
