"""The check-in code as the server shows it: SVG and PNG images of the current code, and a
full-screen projector page that refreshes itself. For the session's instructor: signed in
(bearer token) or holding a projector link.

A projector link (``/sessions/{id}/projector?key=…``, from ``sessionCheckInKit.projectorPath``) is
a bearer secret: whoever holds it sees the live check-in codes without signing in. So its key

- is signed (backend/signing.py, as its own kind of value, so no other signed value passes for
  it) over the session, its tenant, the instructor's login (the auth session of the device that fetched the
  kit) and an expiry ``XUEFEN_PROJECTOR_LINK_TTL`` seconds ahead (15 minutes);
- is checked on every page and image load: signature, expiry, the session in the path, and in the
  database that the login is still live (not signed out or revoked, the employee active) and that
  its employee still runs this session in that tenant. Signing out ends the link at once.
- does not renew itself. Each kit gives a fresh link; the page keeps the key it was opened with
  (reloading never extends it), counts down to its expiry and then says to open a fresh one from
  the app. A page that could trade its key for a newer one would let a leaked link live as long
  as the login (weeks, with refresh tokens) instead of minutes, so renewing needs the instructor's
  sign-in: fetching the kit again.

Codes and keys are made and checked in backend/services/sessions/qr.py; this module serves them.
"""

from __future__ import annotations

import html
import io

import qrcode
import qrcode.image.svg
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import negotiate_locale, translate
from backend.models import TrainingSession
from backend.services.people import auth
from backend.services.sessions import qr
from backend.services.sessions.checkin import session_for_instructor

_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


async def _session(request: Request, settings: Settings) -> tuple[TrainingSession, str, int]:
    """The session, the key its page goes on using and that key's expiry (Unix seconds)."""
    session_id = request.path_params["session_id"]
    key = request.query_params.get("key")
    if key:
        session, claims = await qr.session_by_display_key(settings, session_id, key)
        return session, key, claims.expires_at
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    viewer = await auth.authenticate(settings, token.strip())
    session = await session_for_instructor(viewer, session_id)
    path, expires = qr.projector_path(settings, session, viewer)
    return session, path.partition("?key=")[2], int(expires.timestamp())


_STATUS = {ErrorCode.UNAUTHENTICATED: 401, ErrorCode.TOKEN_EXPIRED: 401, ErrorCode.FORBIDDEN: 403}


def _message(error: DomainError, locale: str) -> str:
    link_message = error.params.get("link_message")
    return translate(link_message, locale) if link_message else error.message(locale)


def _refusal(request: Request, error: DomainError) -> JSONResponse:
    locale = negotiate_locale(request.headers.get("accept-language"))
    return JSONResponse(
        {"errors": [{"message": _message(error, locale), "extensions": {"code": error.code.value}}]},
        status_code=_STATUS.get(error.code, 404),
        headers=_NO_STORE,
    )


def _refusal_page(request: Request, error: DomainError) -> HTMLResponse:
    locale = negotiate_locale(request.headers.get("accept-language"))
    message = html.escape(_message(error, locale))
    page = f"""<!doctype html>
<html lang="{locale}"><head><meta charset="utf-8"><title>签到 · Check-in</title>
<style>body{{margin:0;height:100vh;display:flex;align-items:center;justify-content:center;
font-family:sans-serif;background:#fff}}p{{font-size:3vh;max-width:70vw;text-align:center}}</style></head>
<body><p data-code="{error.code.value}">{message}</p></body></html>"""
    return HTMLResponse(page, status_code=_STATUS.get(error.code, 404), headers=_NO_STORE)


def _unavailable(request: Request, page: bool) -> Response:
    """503 for a session whose check-in secret cannot be read (its key left the ring): the operator
    must put the key back (qr.session_secret logged which), nothing the viewer did is wrong."""
    headers = {**_NO_STORE, "Retry-After": "300"}
    if not page:
        locale = negotiate_locale(request.headers.get("accept-language"))
        message = translate("projector.unavailable", locale)
        body = {"errors": [{"message": message, "extensions": {"code": ErrorCode.INTERNAL.value}}]}
        return JSONResponse(body, status_code=503, headers=headers)
    message = html.escape(_both("projector.unavailable"))
    return HTMLResponse(
        f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>签到 · Check-in</title>
<style>body{{margin:0;height:100vh;display:flex;align-items:center;justify-content:center;
font-family:sans-serif;background:#fff}}p{{font-size:3vh;max-width:70vw;text-align:center}}</style></head>
<body><p data-code="SESSION_SECRET_UNAVAILABLE">{message}</p></body></html>""",
        status_code=503,
        headers=headers,
    )


def _both(key: str) -> str:
    """A message in both languages, for the projector page (a room reads it, not one person)."""
    return f"{translate(key, 'zh-CN')} · {translate(key, 'en')}"


def qr_endpoints(settings: Settings):
    """The route handlers, bound to the app's settings."""

    async def svg(request: Request) -> Response:
        try:
            session, _, _ = await _session(request, settings)
        except DomainError as error:
            return _refusal(request, error)
        try:
            token = qr.current_token(settings, session)
        except qr.SessionSecretUnavailable:
            return _unavailable(request, page=False)
        image = qrcode.make(token, image_factory=qrcode.image.svg.SvgPathImage, box_size=20)
        buffer = io.BytesIO()
        image.save(buffer)
        return Response(buffer.getvalue(), media_type="image/svg+xml", headers=_NO_STORE)

    async def png(request: Request) -> Response:
        try:
            session, _, _ = await _session(request, settings)
        except DomainError as error:
            return _refusal(request, error)
        try:
            token = qr.current_token(settings, session)
        except qr.SessionSecretUnavailable:
            return _unavailable(request, page=False)
        image = qrcode.make(token, box_size=12, border=4)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return Response(buffer.getvalue(), media_type="image/png", headers=_NO_STORE)

    async def projector(request: Request) -> Response:
        try:
            session, key, expires_at = await _session(request, settings)
        except DomainError as error:
            return _refusal_page(request, error)
        try:
            qr.session_secret(settings, session)  # a page whose codes can never load says so at once
        except qr.SessionSecretUnavailable:
            return _unavailable(request, page=True)
        title = html.escape(session.title)
        key = html.escape(key, quote=True)  # only [0-9a-zA-Z._-] when we signed it
        expired, broken = html.escape(_both("projector.expired")), html.escape(_both("projector.invalid"))
        page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title} · 签到</title>
<style>body{{margin:0;height:100vh;display:flex;flex-direction:column;align-items:center;
justify-content:center;font-family:sans-serif;background:#fff}}img{{height:78vh}}
h1{{font-size:4vh;margin:1vh}}p{{font-size:2.5vh;color:#555}}#gone{{display:none;font-size:3vh;color:#a00}}</style></head>
<body><h1>{title}</h1><img id="code" alt="签到二维码 check-in code" src="qr.svg?key={key}">
<p id="gone" data-expired="{expired}" data-broken="{broken}"></p>
<p id="hint">请用学分 App 扫码签到 · Scan with the Xuefen app · <span id="left"></span>s</p>
<script>
const rotation = {session.rotation_seconds}, expiresAt = {expires_at} * 1000;
const code = document.getElementById("code"), gone = document.getElementById("gone");
function show(message) {{  // instead of the code; a code that loads again (a network blip) hides it
  code.style.visibility = "hidden"; document.getElementById("hint").style.display = message ? "none" : "";
  gone.textContent = message; gone.style.display = message ? "block" : "none";
  if (!message) code.style.visibility = "visible";
}}
code.onerror = () => {{ if (Date.now() < expiresAt) show(gone.dataset.broken); }};
code.onload = () => {{ if (Date.now() < expiresAt) show(""); }};
function tick() {{
  if (Date.now() >= expiresAt) {{ clearInterval(timer); show(gone.dataset.expired); return; }}
  const left = rotation - Math.floor(Date.now() / 1000) % rotation;
  document.getElementById("left").textContent = left;
  if (left === rotation) code.src = "qr.svg?key={key}&t=" + Date.now();
}}
const timer = setInterval(tick, 1000); tick();
</script></body></html>"""
        return HTMLResponse(page, headers=_NO_STORE)

    return svg, png, projector
