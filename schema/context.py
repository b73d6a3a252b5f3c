"""Per-request context: settings, language, request id, the (lazily authenticated) viewer and
the request's DataLoaders."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.websockets import WebSocket

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import translate
from backend.services.people import auth
from backend.services.viewer import Viewer
from schema.loaders import Loaders


@dataclass
class Context:
    """What every resolver gets as ``info.context``."""

    request: HTTPConnection  # the HTTP request (or a WebSocket's opening request)
    response: Response | WebSocket | None
    settings: Settings
    locale: str
    request_id: str
    _viewer: Viewer | None = None
    _auth_error: DomainError | None = None
    _authentication: asyncio.Future[None] | None = None
    _loaders: Loaders | None = field(default=None)

    async def viewer(self) -> Viewer | None:
        """The signed-in viewer, or None without a bearer token. A bad token is remembered and
        reported by require_viewer. Sibling resolvers run concurrently, so the lookup is shared
        through one future rather than a flag."""
        if self._authentication is None:
            self._authentication = asyncio.ensure_future(self._authenticate())
        if not self._authentication.done():
            await asyncio.shield(self._authentication)
        return self._viewer

    async def _authenticate(self) -> None:
        header = self.request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if header and (scheme.lower() != "bearer" or not token.strip()):
            self._auth_error = DomainError(ErrorCode.UNAUTHENTICATED)
        elif token:
            try:
                self._viewer = await auth.authenticate(self.settings, token.strip())
            except DomainError as error:
                self._auth_error = error

    async def require_viewer(self) -> Viewer:
        """The viewer, or ``UNAUTHENTICATED`` / ``TOKEN_EXPIRED``."""
        viewer = await self.viewer()
        if viewer is None:
            raise self._auth_error or DomainError(ErrorCode.UNAUTHENTICATED)
        return viewer

    def sign_in(self, viewer: Viewer) -> None:
        """Make a freshly signed-in viewer the request's viewer (login returns their profile)."""
        self._viewer, self._auth_error = viewer, None
        self._authentication = asyncio.get_running_loop().create_future()
        self._authentication.set_result(None)
        self._loaders = None

    async def loaders(self) -> Loaders:
        """DataLoaders scoped to the viewer's tenant (created once per request)."""
        viewer = await self.require_viewer()  # first, so concurrent callers share one set
        if self._loaders is None:
            self._loaders = Loaders(viewer)
        return self._loaders

    def t(self, key: str, **params: object) -> str:
        return translate(key, self.locale, **params)
