"""The check-in code as the server shows it: SVG and PNG images of the current code, and a
full-screen projector page that refreshes itself. For the session's instructor: signed in
(bearer token) or holding the session's display link (a signed key that ends with the session)."""

from __future__ import annotations

import html
import io
from datetime import datetime, timezone

import jwt
import qrcode
import qrcode.image.svg
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import negotiate_locale
from backend.models import TrainingSession
from backend.services import auth, qr
from backend.services.checkin import session_for_instructor

DISPLAY_AUDIENCE = "xuefen-display"


def display_key(settings: Settings, session: TrainingSession) -> str:
    """A key for the projector page of one session, valid until the session ends."""
    claims = {"aud": DISPLAY_AUDIENCE, "sid": session.id, "tid": session.tenant_id,
              "exp": int(session.ends_at.timestamp())}
    return jwt.encode(claims, settings.secret_key, algorithm="HS256")


async def _session(request: Request, settings: Settings) -> TrainingSession:
    session_id = request.path_params["session_id"]
    key = request.query_params.get("key")
    if key:
        try:
            claims = jwt.decode(key, settings.secret_key, algorithms=["HS256"], audience=DISPLAY_AUDIENCE)
        except jwt.InvalidTokenError as exc:
            raise DomainError(ErrorCode.UNAUTHENTICATED) from exc
        if claims.get("sid") != session_id:
            raise DomainError(ErrorCode.FORBIDDEN)
        session = await TrainingSession.get_or_none(id=session_id, tenant_id=claims.get("tid"))
        if session is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        return session
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    viewer = await auth.authenticate(settings, token.strip())
    return await session_for_instructor(viewer, session_id)


def current_token(session: TrainingSession, now: datetime | None = None) -> str:
    step = qr.step_at(now or datetime.now(timezone.utc), session.rotation_seconds)
    return qr.token_for(session.secret, session.tenant_id, session.id, step)


def _refusal(request: Request, error: DomainError) -> JSONResponse:
    status = {ErrorCode.UNAUTHENTICATED: 401, ErrorCode.TOKEN_EXPIRED: 401, ErrorCode.FORBIDDEN: 403}.get(error.code, 404)
    locale = negotiate_locale(request.headers.get("accept-language"))
    return JSONResponse({"errors": [{"message": error.message(locale), "extensions": {"code": error.code.value}}]},
                        status_code=status)


def qr_endpoints(settings: Settings):
    """The route handlers, bound to the app's settings."""

    async def svg(request: Request) -> Response:
        try:
            session = await _session(request, settings)
        except DomainError as error:
            return _refusal(request, error)
        image = qrcode.make(current_token(session), image_factory=qrcode.image.svg.SvgPathImage, box_size=20)
        buffer = io.BytesIO()
        image.save(buffer)
        return Response(buffer.getvalue(), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    async def png(request: Request) -> Response:
        try:
            session = await _session(request, settings)
        except DomainError as error:
            return _refusal(request, error)
        image = qrcode.make(current_token(session), box_size=12, border=4)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png", headers={"Cache-Control": "no-store"})

    async def projector(request: Request) -> Response:
        try:
            session = await _session(request, settings)
        except DomainError as error:
            return _refusal(request, error)
        key = display_key(settings, session)
        title = html.escape(session.title)
        page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title} · 签到</title>
<style>body{{margin:0;height:100vh;display:flex;flex-direction:column;align-items:center;
justify-content:center;font-family:sans-serif;background:#fff}}img{{height:78vh}}
h1{{font-size:4vh;margin:1vh}}p{{font-size:2.5vh;color:#555}}</style></head>
<body><h1>{title}</h1><img id="code" alt="签到二维码 check-in code" src="qr.svg?key={key}">
<p>请用学分 App 扫码签到 · Scan with the Xuefen app · <span id="left"></span>s</p>
<script>
const rotation = {session.rotation_seconds};
function tick() {{
  const left = rotation - Math.floor(Date.now() / 1000) % rotation;
  document.getElementById("left").textContent = left;
  if (left === rotation) document.getElementById("code").src = "qr.svg?key={key}&t=" + Date.now();
}}
setInterval(tick, 1000); tick();
</script></body></html>"""
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    return svg, png, projector
