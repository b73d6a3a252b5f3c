"""The dashboard's routes: sign-in and sign-out, the four report pages, export, static files.

Every page answers with a strict Content-Security-Policy (scripts from /admin/static/ only: chart
data travels in ``<script type="application/json">`` blocks that dashboard.js reads), is never
cached and never framed. Pages are in zh-CN unless ``?lang=en`` or the browser's Accept-Language
asks for English. A page without a valid sign-in redirects to the sign-in form; every POST needs
the session's CSRF token (session.py). Figures come from the report services (views.py), which
check the viewer's roles and scope themselves.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from backend.admin import session, views
from backend.admin.labels import label
from backend.admin.session import SignedIn
from backend.admin.views import Query
from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import SUPPORTED_LOCALES, negotiate_locale
from backend.models import Course, OrgUnit, Position, Role, Site, Tenant
from backend.services.imports.files import FileFormat
from backend.services.people import auth
from backend.services.reports import exports, frame
from backend.services.reports.frame import Dimension, Period, ReportFilter
from backend.services.reports.registry import REPORTS
from backend.services.reports.tables import ReportOptions
from backend.services.reports.training_needs import MAX_DEPTH
from backend.services.validation import invalid

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_STATUS = {
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.VALIDATION: 400,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.ACCOUNT_DISABLED: 403,
}


# --- static files: served under a content hash, cached for a year ---------------------------------


def _static_versions() -> dict[str, str]:
    """Each static file's name and the first hex digits of its SHA-256 (its URL's ``v``)."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        for path in sorted(STATIC.iterdir())
        if path.is_file() and path.suffix in {".js", ".css", ".txt"}
    }


VERSIONS = _static_versions()


def static_url(name: str) -> str:
    return f"/admin/static/{name}?v={VERSIONS[name]}"


async def static_file(request: Request) -> Response:
    """A file of static/ by its name (only the files listed at start: no path is ever built from
    the request). The URL carries the content hash, so it may be cached for good."""
    name = request.path_params["name"]
    if name not in VERSIONS:
        return Response("not found", status_code=404, media_type="text/plain")
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    return Response(
        (STATIC / name).read_bytes(),
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"},
    )


# --- rendering -------------------------------------------------------------------------------------

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.globals["static_url"] = static_url
TEMPLATES.filters["pct"] = views.percent
TEMPLATES.filters["num"] = views.number
TEMPLATES.filters["tenths"] = views.tenths


def locale_of(request: Request) -> tuple[str, bool]:
    """The page's language, and whether the URL chose it (links then keep ``lang``)."""
    asked = request.query_params.get("lang")
    if asked in SUPPORTED_LOCALES:
        return asked, True
    return negotiate_locale(request.headers.get("accept-language")), False


def render(
    request: Request, template: str, status: int = 200, who: SignedIn | None = None, **context: Any
) -> HTMLResponse:
    locale, chosen = locale_of(request)
    other = "zh-CN" if locale == "en" else "en"
    page = TEMPLATES.get_template(template).render(
        locale=locale,
        t=lambda key: label(key, locale),
        lang_query=f"lang={locale}" if chosen else "",
        switch_url=f"{request.url.path}?{_with_query(request, lang=other)}",
        path=request.url.path,
        who=who,
        **context,
    )
    return HTMLResponse(page, status_code=status, headers=SECURITY_HEADERS)


def _with_query(request: Request, **changes: str) -> str:
    query = dict(request.query_params)
    query.update(changes)
    return urlencode(query)


def _to_login(request: Request) -> RedirectResponse:
    locale, chosen = locale_of(request)
    query = {"next": request.url.path + (f"?{request.url.query}" if request.url.query else "")}
    if chosen:
        query["lang"] = locale
    return RedirectResponse(f"/admin/login?{urlencode(query)}", status_code=303, headers=SECURITY_HEADERS)


def _safe_next(value: str | None) -> str:
    """Where to go after signing in: a dashboard path only (no other site, no scheme tricks)."""
    if value and value.startswith("/admin/") and "//" not in value and "\\" not in value:
        return value
    return "/admin/"


def _refusal(request: Request, error: DomainError, who: SignedIn | None = None) -> HTMLResponse:
    locale, _ = locale_of(request)
    return render(
        request,
        "error.html",
        status=_STATUS.get(error.code, 400),
        message=error.message(locale),
        code=error.code.value,
        who=who,
    )


# --- the filter form --------------------------------------------------------------------------------


async def _today(tenant_id: int) -> date:
    zone = await Tenant.filter(id=tenant_id).first().values_list("time_zone", flat=True)
    return datetime.now(ZoneInfo(str(zone or "Asia/Shanghai"))).date()


def _int_or_none(value: str, field: str) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or len(value) > 9:
        raise invalid(field)
    return int(value)


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise invalid(field, "reason.date_format") from exc


FILTER_FIELDS = ("from", "to", "org_unit", "site", "course", "scenario", "family", "level", "by", "depth")


async def read_query(tenant_id: int, given: dict[str, str]) -> Query:
    """What the filter form asks (defaults filled in: the last twelve months up to today, one
    level below); VALIDATION for a value that is no date, id, dimension or depth."""
    values = {name: (given.get(name) or "").strip()[:64] for name in FILTER_FIELDS}
    if not values["from"] or not values["to"]:
        today = await _today(tenant_id)
        start = date(today.year - 1, today.month + 1, 1) if today.month < 12 else date(today.year, 1, 1)
        values["from"] = values["from"] or start.isoformat()
        values["to"] = values["to"] or today.isoformat()
    report_filter = ReportFilter(
        period=Period.of(_day(values["from"], "from"), _day(values["to"], "to")),
        org_unit_id=_int_or_none(values["org_unit"], "orgUnit"),
        site_id=_int_or_none(values["site"], "site"),
        course_id=_int_or_none(values["course"], "course"),
        scenario=values["scenario"] or None,
        position_family=values["family"] or None,
        position_level=values["level"] or None,
    )
    by = values["by"]
    if by and by not in Dimension.__members__:
        raise invalid("by")
    depth = _int_or_none(values["depth"], "depth") or 1
    return Query(values, report_filter, Dimension(by) if by else None, depth)


async def choices(who: SignedIn) -> dict[str, list[tuple[str, str]]]:
    """The filter form's lists, (value, label) pairs: org units (a manager's own subtree only),
    sites, courses, scenarios, position families and levels of the company."""
    viewer = who.viewer
    tenant_id = viewer.tenant_id
    units = OrgUnit.filter(tenant_id=tenant_id)
    if not viewer.has_role(Role.HR_ADMIN):
        units = units.filter(path__startswith=await frame.manager_subtree(viewer))
    unit_rows = await units.order_by("path").values_list("id", "name", "path")
    top = min((str(path).count(".") for _, _, path in unit_rows), default=1)
    positions = await Position.filter(tenant_id=tenant_id).values_list("family", "level")
    scenarios = (
        await Course.filter(tenant_id=tenant_id).exclude(scenario="").distinct().values_list("scenario", flat=True)
    )
    return {
        "org_unit": [(str(i), "\u3000" * (str(path).count(".") - top) + str(name)) for i, name, path in unit_rows],
        "site": [
            (str(i), str(n))
            for i, n in await Site.filter(tenant_id=tenant_id).order_by("code").values_list("id", "name")
        ],
        "course": [
            (str(i), f"{c} {t}")
            for i, c, t in await Course.filter(tenant_id=tenant_id)
            .order_by("code", "id")
            .values_list("id", "code", "title")
        ],
        "scenario": [(str(s), str(s)) for s in sorted(set(scenarios))],
        "family": [(f, f) for f in sorted({str(f) for f, _ in positions if f})],
        "level": [(lv, lv) for lv in sorted({str(lv) for _, lv in positions if lv})],
        "by": [(d.value, d.value) for d in Dimension],
        "depth": [(str(depth), str(depth)) for depth in range(1, MAX_DEPTH + 1)],
    }


# --- the pages ---------------------------------------------------------------------------------------

PageBody = Callable[[SignedIn, Query, str], Awaitable[dict[str, Any]]]

PAGES: dict[str, tuple[str, tuple[str, ...], PageBody]] = {
    # path: (template, the reports its export buttons ask for, what the page shows)
    "/admin/": ("overview.html", ("training-effect",), views.overview),
    "/admin/needs": ("needs.html", ("training-needs",), views.needs),
    "/admin/credits": ("credits.html", ("credit-distribution",), views.credits),
    "/admin/instructors": ("instructors.html", ("instructors", "mentors"), views.instructors_page),
}


async def sign_in(settings: Settings, request: Request) -> Response:
    """The sign-in form's POST: the app's own login (throttled, audited), for HR admins and
    managers only; anyone else's new login is ended at once and gets a refusal, no cookie."""
    if not session.same_site(request):
        return _refusal(request, DomainError(ErrorCode.FORBIDDEN))
    form = await request.form()
    tenant, employee_no, password = (str(form.get(name) or "") for name in ("tenant", "employee_no", "password"))
    next_path = _safe_next(str(form.get("next") or ""))
    device, new_device = session.device_uid(request)
    locale, _ = locale_of(request)
    source = request.client.host if request.client else None
    try:
        issued = await auth.login(settings, tenant, employee_no, password, device, source=source)
    except DomainError as error:
        return render(
            request,
            "login.html",
            status=_STATUS.get(error.code, 400),
            error=error.message(locale),
            next=next_path,
            tenant=tenant[:64],
            employee_no=employee_no[:64],
        )
    if not issued.viewer.has_role(*session.ROLES):
        # Signed in, but the dashboard is not theirs: end the login at once, no cookie.
        await auth.revoke_session(issued.viewer.session_id, "NOT_ALLOWED")
        return render(request, "refused.html", status=403)
    response = RedirectResponse(next_path, status_code=303, headers=SECURITY_HEADERS)
    session.set_cookies(settings, response, issued.viewer, device if new_device else None)
    return response


async def export(settings: Settings, request: Request) -> Response:
    """An export button's POST: a signed download link for the report and filter (the report's
    own checks run now), answered with a redirect to it."""
    who = await session.signed_in(settings, request)
    if who is None:
        return _refusal(request, DomainError(ErrorCode.UNAUTHENTICATED))
    form = await request.form()
    try:
        session.check_post(request, who, str(form.get("csrf") or ""))
        query = await read_query(who.viewer.tenant_id, {name: str(form.get(name) or "") for name in FILTER_FIELDS})
        report = str(form.get("report") or "")
        fmt = FileFormat.CSV if form.get("format") == "csv" else FileFormat.XLSX
        known = REPORTS.get(report)
        reads_breakdown = known is not None and "breakdown" in known.options
        options = ReportOptions(filter=query.filter, breakdown=query.breakdown if reads_breakdown else None)
        link = await exports.export_link(settings, who.viewer, report, fmt, options, datetime.now(UTC))
    except DomainError as error:
        return _refusal(request, error, who)
    return RedirectResponse(link.url, status_code=303, headers=SECURITY_HEADERS)


def admin_routes(settings: Settings) -> Mount:
    """The dashboard, mounted at /admin."""

    async def report_page(request: Request) -> Response:
        who = await session.signed_in(settings, request)
        if who is None:
            return _to_login(request)
        template, reports, body = PAGES[request.url.path]
        locale, _ = locale_of(request)
        try:
            query = await read_query(who.viewer.tenant_id, dict(request.query_params))
            context = await body(who, query, locale)
            lists = await choices(who)
        except DomainError as error:
            return _refusal(request, error, who)
        return render(request, template, who=who, values=query.values, choices=lists, reports=reports, **context)

    async def login_form(request: Request) -> Response:
        if await session.signed_in(settings, request) is not None:
            return RedirectResponse(_safe_next(request.query_params.get("next")), 303, headers=SECURITY_HEADERS)
        return render(
            request,
            "login.html",
            error=None,
            next=_safe_next(request.query_params.get("next")),
            tenant="",
            employee_no="",
        )

    async def logout(request: Request) -> Response:
        who = await session.signed_in(settings, request)
        form = await request.form()
        if who is not None:
            try:
                session.check_post(request, who, str(form.get("csrf") or ""))
            except DomainError as error:
                return _refusal(request, error, who)
            await session.sign_out(who)
        response = RedirectResponse("/admin/login", status_code=303, headers=SECURITY_HEADERS)
        session.clear_cookie(settings, response)
        return response

    routes = [
        Route("/", report_page),
        Route("/needs", report_page),
        Route("/credits", report_page),
        Route("/instructors", report_page),
        Route("/login", login_form, methods=["GET"]),
        Route("/login", partial(sign_in, settings), methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/export", partial(export, settings), methods=["POST"]),
        Route("/static/{name}", static_file),
    ]
    return Mount("/admin", routes=routes)
