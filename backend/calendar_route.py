"""``GET /calendar/<token>.ics``: an employee's private calendar feed, for the phone's calendar app.

No sign-in: the 256-bit token in the path is the credential (calendar apps send no headers of
ours), made by ``createCalendarFeed`` and revoked by ``revokeCalendarFeed``
(backend/services/calendars). Every refusal is the same 404 with the same body, whether the token
is malformed (too long, non-ASCII, a path trick: refused before the database), unknown, revoked,
or its employee inactive; a well-formed token costs one lookup of its SHA-256.

The answer is ``text/calendar; charset=utf-8`` with a weak ETag of its bytes (a calendar's bytes
depend only on its facts, backend/services/calendars/ics.py): ``If-None-Match`` with it answers
304. ``Cache-Control: private, max-age=900``: a shared cache must not keep someone's calendar.

The token never reaches a log or a trace: backend/logs.py ``redact`` blanks ``/calendar/<…>.ics``
in every logged string (the access line's path too), and the span's path is redacted
(backend/observability/otel.py). The route is rate-limited per client address like every request
without an access token (backend/rate_limit.py: 1,200 a minute by default, far above what calendar
apps ask, which is a fetch every quarter of an hour to a few hours).
"""

from __future__ import annotations

import hashlib

import orjson
from starlette.requests import Request
from starlette.responses import Response

from backend.errors import ErrorCode
from backend.http_caching import none_match
from backend.i18n import negotiate_locale, translate
from backend.services.calendars import events, feeds, ics

MEDIA_TYPE = "text/calendar; charset=utf-8"
MAX_AGE_SECONDS = 900
_COMMON = {"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}


def _not_found(request: Request) -> Response:
    locale = negotiate_locale(request.headers.get("accept-language"))
    body = orjson.dumps(
        {
            "errors": [
                {"message": translate("error.NOT_FOUND", locale), "extensions": {"code": ErrorCode.NOT_FOUND.value}}
            ]
        }
    )
    return Response(
        body, status_code=404, media_type="application/json", headers={**_COMMON, "Cache-Control": "no-store"}
    )


async def calendar_feed(request: Request) -> Response:
    employee = await feeds.employee_of_token(request.path_params.get("token"))
    if employee is None:
        return _not_found(request)
    body = ics.render(await events.calendar_for(employee))
    # Weak: the same calendar compressed or not (GZipMiddleware) is the same for a calendar app.
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {
        **_COMMON,
        "ETag": etag,
        "Cache-Control": f"private, max-age={MAX_AGE_SECONDS}",
        "Content-Disposition": 'inline; filename="xuefen.ics"',
    }
    if none_match(request.headers, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=MEDIA_TYPE, headers=headers)
