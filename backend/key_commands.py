"""``xuefen keys generate`` and ``xuefen keys rewrap``: the commands of a key rotation
(docs/key-rotation.md; backend/cli.py parses the arguments).

- ``generate`` prints a fresh random key (``keyring.new_key``) for XUEFEN_SECRET_KEY; backend/cli.py
  runs it without importing this module, whose imports read the settings (a production
  configuration refused for want of a key must still be able to make one).
- ``rewrap`` wraps every training session's check-in secret under the current key: plain secrets
  from before wrapping and secrets wrapped under a previous key. Run it after a deploy with a new
  current key, and before a previous key leaves the ring. Idempotent: a second run changes
  nothing. Each row is updated only if it still holds what was read, so it is safe while the
  server runs. ``--tenant CODE`` limits it to one company. Exit status 0 when every secret is
  under the current key, 1 when some cannot be opened (wrapped under a key the ring no longer has:
  put it back into XUEFEN_PREVIOUS_SECRET_KEYS), 2 for an unknown company.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

from backend import db, keyring
from backend.config import Settings
from backend.models import Tenant, TrainingSession
from backend.services.certificates import issuer_keys
from backend.services.sessions import qr

BATCH = 500


@dataclass
class RewrapSummary:
    """What a rewrap did: secrets wrapped from plain hex, moved from a previous key (by key id),
    already under the current key, and those it could not open (by key id)."""

    wrapped: int = 0
    moved: Counter[str] = field(default_factory=Counter)
    current: int = 0
    unreadable: Counter[str] = field(default_factory=Counter)

    def lines(self, current_kid: str) -> list[str]:
        moved = ", ".join(f"{count} from key {kid}" for kid, count in sorted(self.moved.items())) or "none"
        lines = [
            f"Session secrets under the current key {current_kid}: {self.current} already, "
            f"{self.wrapped} wrapped from plain, moved: {moved}."
        ]
        for kid, count in sorted(self.unreadable.items()):
            lines.append(
                f"{count} secret(s) wrapped under key {kid}, which is not in the key ring: put that key back "
                "into XUEFEN_PREVIOUS_SECRET_KEYS and run this again."
            )
        return lines


async def rewrap_sessions(settings: Settings, tenant_id: int | None = None) -> RewrapSummary:
    """Wrap every session secret (of one company when ``tenant_id`` is given) under the current
    key (Tortoise must be open)."""
    summary = RewrapSummary()
    last_id = 0
    scope = TrainingSession.all() if tenant_id is None else TrainingSession.filter(tenant_id=tenant_id)
    while True:
        rows = await scope.filter(id__gt=last_id).order_by("id").limit(BATCH).values_list("id", "secret")
        if not rows:
            return summary
        last_id = rows[-1][0]
        for session_id, stored in rows:
            await rewrap_row(settings, session_id, stored, summary)


async def rewrap_row(settings: Settings, session_id: int, stored: str, summary: RewrapSummary) -> None:
    """Wrap one session's secret, read as ``stored``, under the current key, and count what it was.
    The update applies only if the row still holds ``stored``; when it does not (changed since it
    was read: another rewrap got there first, or an operator restored a value), the row is read
    again and judged by what it holds now, so the summary never calls a secret current unseen."""
    keys = settings.keys
    while True:
        kid = keyring.wrapped_kid(stored)
        if kid == keys.current_kid:
            summary.current += 1
            return
        try:
            plain = qr.unwrap_secret(settings, stored)
        except ValueError:
            summary.unreadable[kid or "?"] += 1
            return
        changed = await TrainingSession.filter(id=session_id, secret=stored).update(
            secret=qr.wrap_secret(settings, plain)
        )
        if changed:
            if kid is None:
                summary.wrapped += 1
            else:
                summary.moved[kid] += 1
            return
        row = await TrainingSession.get_or_none(id=session_id)
        if row is None:
            return  # deleted meanwhile: nothing to wrap
        # Terminates: the writers of a stored secret are rewraps, which leave it under the current key.
        stored = row.secret


async def rewrap(settings: Settings, tenant_code: str | None = None) -> int:
    """The command: rewrap, print the summary; 1 when some secret could not be opened, 2 for an
    unknown company."""
    await db.init_db(settings)
    try:
        tenant_id = None
        if tenant_code is not None:
            tenant = await Tenant.get_or_none(code=tenant_code.strip().lower())
            if tenant is None:
                print(f"No tenant {tenant_code!r}.", file=sys.stderr)
                return 2
            tenant_id = tenant.id
        summary = await rewrap_sessions(settings, tenant_id)
        issuers_moved, issuers_unreadable = await issuer_keys.rewrap(settings, tenant_id)
    finally:
        await db.close_db()
    done, *problems = summary.lines(settings.keys.current_kid)
    print(done)
    for line in problems:
        print(line, file=sys.stderr)
    print(f"Certificate issuer keys moved to the current key: {issuers_moved}.")
    for kid, count in sorted(issuers_unreadable.items()):
        print(
            f"{count} certificate issuer key(s) wrapped under key {kid}, which is not in the key ring: put that key "
            "back into XUEFEN_PREVIOUS_SECRET_KEYS and run this again.",
            file=sys.stderr,
        )
    return 1 if summary.unreadable or issuers_unreadable else 0
