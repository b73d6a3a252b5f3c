"""GraphiQL's page and files, served by Xuefen itself so the page works on a network without
internet access (strawberry's page loads them from a CDN).

The files are vendored, minified and unmodified, in backend/static/graphiql/ (README.md there: the
versions, their licences and how to update them). The page names each file as
``/graphiql-assets/<name>?v=<first 12 hex digits of its sha256>``, so the files can be cached
for a year: an updated file gets a new URL. Only the .js and .css files of that folder are served.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

ASSETS = Path(__file__).resolve().parent / "static" / "graphiql"
PREFIX = "/graphiql-assets"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_MARKER = re.compile(r"\{asset:([A-Za-z0-9._-]+)\}")


def _versions() -> dict[str, str]:
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(ASSETS.iterdir())
        if path.suffix in _MEDIA_TYPES
    }


VERSIONS = _versions()


def page_html() -> str:
    """The GraphiQL page with each ``{asset:name}`` replaced by the file's versioned URL."""
    template = (ASSETS / "graphiql.html").read_text(encoding="utf-8")
    return _MARKER.sub(lambda match: f"{PREFIX}/{match[1]}?v={VERSIONS[match[1]]}", template)


async def asset(request: Request) -> Response:
    """One vendored file, by its name only (the names listed at start: no path is built from the
    request)."""
    name = request.path_params["name"]
    if name not in VERSIONS:
        raise HTTPException(404)
    path = ASSETS / name
    return FileResponse(
        path,
        media_type=_MEDIA_TYPES[path.suffix],
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )


def graphiql_asset_route() -> Route:
    return Route(PREFIX + "/{name}", asset)
