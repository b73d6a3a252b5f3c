"""GraphQL over HTTP (https://graphql.github.io/graphql-over-http/draft/): which media type an
answer is sent as, and the caching headers of answers to GET queries.

Media types: ``application/graphql-response+json`` when the Accept header names it (and does not
prefer ``application/json``), ``application/json`` otherwise, and None (406) when the header
accepts neither. A missing or empty header, ``*/*`` and ``application/*`` get
``application/json``, as the spec asks during its "watershed" for clients that predate the new type.

Caching: an answer to a GET query that has no errors may be kept by the caller's own cache only
(``private``: it is one person's data, read with their token), and must be checked again before
each use (``max-age=0, must-revalidate``): a permission or a balance can change at any moment,
so a short max-age would show stale data, while revalidation with ``If-None-Match`` still spares
the body (304) on a slow link. Everything else (POST, mutations, errors) is ``no-store``.
"""

from __future__ import annotations

import base64
import hashlib

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
CACHEABLE = "private, max-age=0, must-revalidate"
NO_STORE = "no-store"
# The answer depends on who asks, in what format and language.
VARY = "Authorization, Accept, Accept-Language"
# GZipMiddleware's minimum_size in backend/app.py: an answer at least this long is compressed
# when the caller accepts gzip, so its ETag is marked weak (as nginx does).
GZIP_MINIMUM_SIZE = 1024


def _quality(params: list[str]) -> float | None:
    """The q of a media range's parameters (1 when absent); None when a parameter rules the range
    out: a charset other than UTF-8 (answers are UTF-8 only) or an unreadable q."""
    quality = 1.0
    for param in params:
        name, _, value = param.partition("=")
        name, value = name.strip().lower(), value.strip().strip('"').lower()
        if name == "q":
            try:
                quality = float(value)
            except ValueError:
                return None
            if not 0 <= quality <= 1:
                return None
        elif name == "charset" and value not in ("utf-8", "utf8"):
            return None
    return quality


def negotiate(accept: str | None) -> str | None:
    """The media type to answer with, or None when ``accept`` takes neither (406)."""
    if accept is None or not accept.strip():
        return JSON
    best = {GRAPHQL_RESPONSE_JSON: (-1, 0.0), JSON: (-1, 0.0)}  # (specificity, q) of the best match
    for item in accept.split(","):
        media, *params = item.split(";")
        media = media.strip().lower()
        quality = _quality(params)
        if quality is None or not media:
            continue
        for offered in best:
            if media == offered:
                specificity = 2
            elif offered == JSON and media in ("application/*", "*/*"):
                specificity = 1 if media == "application/*" else 0
            else:
                continue
            if specificity > best[offered][0]:
                best[offered] = (specificity, quality)
    new_q, old_q = best[GRAPHQL_RESPONSE_JSON][1], best[JSON][1]
    if new_q > 0 and new_q >= old_q:
        return GRAPHQL_RESPONSE_JSON
    if old_q > 0:
        return JSON
    return None


def content_type(media: str) -> str:
    return f"{media}; charset=utf-8"


def etag(body: bytes, accept_encoding: str | None) -> str:
    """A strong validator (the body's sha256), marked weak when GZipMiddleware will compress the
    answer: the compressed bytes differ, and a strong ETag promises the same bytes."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode().rstrip("=")
    gzipped = len(body) >= GZIP_MINIMUM_SIZE and "gzip" in (accept_encoding or "").lower()
    return f'{"W/" if gzipped else ""}"{digest}"'
