"""A company's own wording of a notification kind in one language (HR admins), over the built-in
templates of ``kinds``.

A template may name only the kind's parameters, plainly (``{session}``): no attribute or index
(``{session.x}``, ``{0}``), conversion or format spec, so what a template shows is always one of
the parameters as ``kinds.shown`` writes it. Checked when written, so rendering never fails.
"""

from __future__ import annotations

import string

from tortoise.transactions import in_transaction

from backend.errors import DomainError, ErrorCode
from backend.i18n import SUPPORTED_LOCALES
from backend.models import NotificationKind, NotificationTemplate, Role
from backend.services.audit import audit
from backend.services.notifications.kinds import KINDS
from backend.services.validation import text
from backend.services.viewer import Viewer


def check_wording(kind: NotificationKind, wording: str, name: str) -> str:
    """``wording`` if it names only ``kind``'s parameters, plainly; else VALIDATION on ``name``."""
    allowed = set(KINDS[kind].params)
    try:
        parts = list(string.Formatter().parse(wording))
    except ValueError as error:  # an unmatched brace
        raise DomainError(ErrorCode.VALIDATION, field=name, reason_key="reason.field", name=name) from error
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in allowed or spec or conversion:
            raise DomainError(ErrorCode.VALIDATION, field=name, reason_key="reason.field", name=name)
    return wording


async def templates_of(viewer: Viewer) -> list[NotificationTemplate]:
    viewer.require_role(Role.HR_ADMIN)
    return await NotificationTemplate.filter(tenant_id=viewer.tenant_id).order_by("kind", "locale")


async def set_template(
    viewer: Viewer, kind: NotificationKind, locale: str, title: str | None, body: str | None
) -> NotificationTemplate | None:
    """Write the company's wording of ``kind`` in ``locale``; both None: back to the built-in one."""
    viewer.require_role(Role.HR_ADMIN)
    if locale not in SUPPORTED_LOCALES:
        raise DomainError(ErrorCode.VALIDATION, field="locale", reason_key="reason.field", name="locale")
    async with in_transaction() as connection:
        existing = await NotificationTemplate.filter(tenant_id=viewer.tenant_id, kind=kind, locale=locale).using_db(
            connection
        )
        if title is None and body is None:
            for row in existing:
                await row.delete(using_db=connection)
            await audit(
                connection, viewer, viewer.tenant_id, "notifications.template.reset", "NotificationTemplate", kind
            )
            return None
        title = check_wording(kind, text(title, "title", 200), "title")
        body = check_wording(kind, text(body, "body", 2000), "body")
        if existing:
            row = existing[0]
            row.title, row.body = title, body
            await row.save(using_db=connection)
        else:
            row = await NotificationTemplate.create(
                tenant_id=viewer.tenant_id, kind=kind, locale=locale, title=title, body=body, using_db=connection
            )
        await audit(
            connection,
            viewer,
            viewer.tenant_id,
            "notifications.template.set",
            "NotificationTemplate",
            row.id,
            {"kind": kind.value, "locale": locale, "title": title, "body": body},
        )
    return row
