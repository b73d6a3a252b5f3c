"""Certificates over plain HTTP (docs/certificates.md):

- ``GET /verify/{code}``: the public verification page a certificate's QR code opens. No account:
  server-rendered HTML for a phone, in zh-CN or en (``Accept-Language``, or ``?lang=``), showing the
  holder's name, the certificate, the company, its dates and VALID / EXPIRED / REVOKED, nothing
  else about the person. A code no certificate has (forged, mistyped, malformed) is a "not found"
  page with 404. Cached for at most a minute (``max-age=60``), so a revocation shows within one.
  Counted by the rate limit per client address like every request without a token.
- ``GET /issuers/{tenant_id}`` and ``/issuers/{tenant_id}/jwks.json``: the issuer profile of the
  company's Open Badges credentials and the public keys their VC-JWTs verify with (404 until the
  company has signed a credential: counting through ids does not list company names).
- ``GET /certificates/{id}.pdf``: the PDF, for its holder, HR admins and the holder's manager (bearer
  token, as the app downloads it), or through a signed link (``?k=``, from ``Certificate.pdfUrl``).
"""

from __future__ import annotations

import html
import logging
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from backend.config import Settings
from backend.errors import DomainError, ErrorCode
from backend.i18n import SUPPORTED_LOCALES, negotiate_locale
from backend.models import Certificate, CertificateIssuerKey, Tenant
from backend.services.certificates import documents, issuer_keys, pdf, queries
from backend.services.certificates.badges import OB_CONTEXT, VC_CONTEXT, issuer_url
from backend.services.certificates.status import CertificateStatus
from backend.services.people import auth

log = logging.getLogger("xuefen.certificates")

_PAGE_HEADERS = {
    "Cache-Control": "public, max-age=60",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'",
    "Vary": "Accept-Language",
}
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

WORDS = {
    "zh-CN": {
        "title": "证书验证",
        "holder": "持证人",
        "certificate": "证书",
        "number": "证书编号",
        "issuer": "颁发单位",
        "issued": "颁发日期",
        "expires": "有效期至",
        "never": "长期有效",
        "VALID": "有效",
        "EXPIRED": "已过期",
        "REVOKED": "已撤销",
        "missing": "未找到该证书：验证码无效或不存在。",
    },
    "en": {
        "title": "Certificate verification",
        "holder": "Holder",
        "certificate": "Certificate",
        "number": "Certificate No.",
        "issuer": "Issued by",
        "issued": "Issued",
        "expires": "Valid through",
        "never": "No expiry",
        "VALID": "Valid",
        "EXPIRED": "Expired",
        "REVOKED": "Revoked",
        "missing": "No such certificate: the code is invalid or unknown.",
    },
}
_COLOURS = {"VALID": "#1a7f37", "EXPIRED": "#9a6700", "REVOKED": "#cf222e", "INVALID": "#cf222e"}


def _locale(request: Request) -> str:
    asked = request.query_params.get("lang")
    return asked if asked in SUPPORTED_LOCALES else negotiate_locale(request.headers.get("accept-language"))


def _page(locale: str, status: str, label: str, rows: list[tuple[str, str]]) -> str:
    words = WORDS[locale]
    items = "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in rows)
    return f"""<!doctype html>
<html lang="{locale}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(words["title"])}</title>
<style>body{{margin:0;font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;
background:#f6f8fa;color:#1f2328}}main{{max-width:32rem;margin:0 auto;padding:1.5rem 1rem}}
h1{{font-size:1.25rem;margin:0 0 1rem}}.status{{display:inline-block;padding:.4rem .9rem;border-radius:1rem;
color:#fff;font-weight:600;font-size:1.1rem;background:{_COLOURS[status]}}}
dl{{background:#fff;border:1px solid #d0d7de;border-radius:.5rem;padding:1rem;margin:1rem 0}}
dt{{font-size:.8rem;color:#59636e;margin-top:.6rem}}dt:first-child{{margin-top:0}}dd{{margin:0;font-size:1.05rem}}</style>
</head><body><main><h1>{html.escape(words["title"])}</h1>
<p class="status" data-status="{status}">{html.escape(label)}</p>{f"<dl>{items}</dl>" if rows else ""}
</main></body></html>"""


async def _pdf_row(request: Request, settings: Settings, certificate_id: int) -> Certificate:
    """The certificate a PDF request may read: through a signed link (``?k=``), or as the bearer
    token's viewer (holder, HR admin, the holder's manager); NOT_FOUND otherwise."""
    if not 0 < certificate_id < 2**31:
        raise DomainError(ErrorCode.NOT_FOUND)
    key = request.query_params.get("k")
    if key:
        tenant_id = documents.check_link(settings, key, certificate_id)
        row = await Certificate.filter(tenant_id=tenant_id, id=certificate_id).first()
        if row is None:
            raise DomainError(ErrorCode.NOT_FOUND)
        return row
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise DomainError(ErrorCode.UNAUTHENTICATED)
    viewer = await auth.authenticate(settings, token.strip())
    return await queries.certificate_of(viewer, certificate_id)


def certificate_endpoints(settings: Settings):
    """The route handlers (verify, issuer profile, JWK set, PDF), bound to the app's settings."""

    async def verify(request: Request) -> Response:
        locale = _locale(request)
        words = WORDS[locale]
        view = await documents.public_view(request.path_params["code"])
        if view is None:
            return HTMLResponse(_page(locale, "INVALID", words["missing"], []), status_code=404, headers=_PAGE_HEADERS)
        rows = [
            (words["holder"], view.holder),
            (words["certificate"], view.program),
            (words["number"], view.number),
            (words["issuer"], view.company),
            (words["issued"], view.issued_on.isoformat()),
            (words["expires"], view.expires_on.isoformat() if view.expires_on else words["never"]),
        ]
        status = view.status.value
        return HTMLResponse(_page(locale, status, words[status], rows), headers=_PAGE_HEADERS)

    async def _tenant(request: Request) -> Tenant | None:
        """The company of an issuer URL, only once it has signed a credential (has an issuer key):
        otherwise 404, so counting through ids does not list every company's name."""
        tenant_id = request.path_params["tenant_id"]
        if not 0 < tenant_id < 2**31:
            return None
        if not await CertificateIssuerKey.filter(tenant_id=tenant_id).exists():
            return None
        return await Tenant.filter(id=tenant_id).first()

    async def issuer(request: Request) -> Response:
        tenant = await _tenant(request)
        if tenant is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=_NO_STORE)
        url = issuer_url(settings, tenant.id)
        profile = {
            "@context": [VC_CONTEXT, OB_CONTEXT],
            "id": url,
            "type": ["Profile"],
            "name": tenant.name,
            "url": settings.public_url,
            "publicKeys": f"{url}/jwks.json",
        }
        return JSONResponse(profile, headers={"Cache-Control": "public, max-age=300"})

    async def jwks(request: Request) -> Response:
        tenant = await _tenant(request)
        if tenant is None:
            return JSONResponse({"error": "not found"}, status_code=404, headers=_NO_STORE)
        return JSONResponse(
            await issuer_keys.jwks(tenant.id),
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "public, max-age=300"},
        )

    async def certificate_pdf(request: Request) -> Response:
        certificate_id = request.path_params["certificate_id"]
        try:
            row = await _pdf_row(request, settings, certificate_id)
            body = await documents.render_pdf(settings, row)
        except DomainError as error:
            status = {ErrorCode.UNAUTHENTICATED: 401, ErrorCode.TOKEN_EXPIRED: 401}.get(error.code, 404)
            locale = _locale(request)
            return JSONResponse(
                {"errors": [{"message": error.message(locale), "extensions": {"code": error.code.value}}]},
                status_code=status,
                headers=_NO_STORE,
            )
        except pdf.FontMissing as missing:
            log.error("certificate PDF unavailable: %s", missing)
            return JSONResponse(
                {"errors": [{"message": "certificate PDF unavailable", "extensions": {"code": "INTERNAL"}}]},
                status_code=503,
                headers={**_NO_STORE, "Retry-After": "300"},
            )
        name = f"certificate-{certificate_id}.pdf"
        return Response(
            body,
            media_type="application/pdf",
            headers={
                "Cache-Control": "private, no-store",
                "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
            },
        )

    return verify, issuer, jwks, certificate_pdf


__all__ = ["CertificateStatus", "certificate_endpoints"]
