"""CORS for browser clients (a web app on another origin), configured by XUEFEN_CORS_ORIGINS.

No origins (the default): no CORS headers at all, so browsers keep other sites' pages out, and a
preflight is answered as before. With origins: Starlette's CORSMiddleware answers the preflight
(OPTIONS with Access-Control-Request-Method) itself, with the headers our clients send.

Credentials (cookies) are never allowed: the API is called with a bearer token in
``Authorization``, which a page must hold to send, so no cookie of the HR dashboard can ride along
on a cross-origin call. ``*`` is therefore harmless to the dashboard, and still refused in
production (backend/config.py): listing the app's origins keeps other sites from using a token
they have obtained from a person's browser.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware

from backend.config import Settings

ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Accept",
    "Accept-Language",
    "X-Request-ID",
    "If-None-Match",
    # Apollo clients: client awareness and the CSRF-preventing preflight headers.
    "apollographql-client-name",
    "apollographql-client-version",
    "GraphQL-Preflight",
    "Apollo-Require-Preflight",
    "X-Apollo-Operation-Name",
)
# Response headers a page's script may read.
EXPOSED_HEADERS = ("X-Request-ID", "ETag", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
PREFLIGHT_MAX_AGE = 600  # seconds a browser may reuse a preflight answer


def cors_middleware(settings: Settings) -> list[Middleware]:
    """The CORS middleware for ``settings.cors_origins`` (none when the list is empty)."""
    if not settings.cors_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=list(ALLOWED_HEADERS),
            expose_headers=list(EXPOSED_HEADERS),
            allow_credentials=False,
            max_age=PREFLIGHT_MAX_AGE,
        )
    ]
