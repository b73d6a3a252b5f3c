"""Each company's Open Badges signing key: Ed25519, made on first use, the private half stored
wrapped by the key ring (AES-GCM under a key derived from the current secret key, ``w1.<kid>.…``,
as session check-in secrets are), the public half published as a JWK set at
``/issuers/<tenant id>/jwks.json``. Old keys stay published (``is_current`` false) so credentials
signed with them still verify."""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from backend import keyring
from backend.config import Settings
from backend.models import CertificateIssuerKey, Tenant

PURPOSE = "certificate-issuer-key"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def public_jwk(private: Ed25519PrivateKey, kid: str) -> dict[str, str]:
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": kid, "use": "sig", "alg": "EdDSA"}


async def signing_key(settings: Settings, tenant_id: int) -> tuple[str, Ed25519PrivateKey]:
    """The company's current key (kid, private key), made and stored on first use. ValueError when
    it is wrapped under a key that has left the ring (an operator's problem: put the key back)."""
    row = await CertificateIssuerKey.filter(tenant_id=tenant_id, is_current=True).order_by("id").first()
    if row is None:
        row = await _create(settings, tenant_id)
    raw = keyring.unwrap(settings.keys, PURPOSE, row.private_key)
    return row.kid, Ed25519PrivateKey.from_private_bytes(raw)


async def _create(settings: Settings, tenant_id: int) -> CertificateIssuerKey:
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    kid = f"{tenant_id}-{secrets.token_hex(8)}"
    async with in_transaction() as connection:
        # The company row serialises two first uses: the second finds the first one's key.
        await Tenant.filter(id=tenant_id).select_for_update().using_db(connection).first()
        existing = (
            await CertificateIssuerKey.filter(tenant_id=tenant_id, is_current=True)
            .using_db(connection)
            .order_by("id")
            .first()
        )
        if existing is not None:
            return existing
        try:
            return await CertificateIssuerKey.create(
                tenant_id=tenant_id,
                kid=kid,
                private_key=keyring.wrap(settings.keys, PURPOSE, raw),
                public_jwk=public_jwk(private, kid),
                is_current=True,
                using_db=connection,
            )
        except IntegrityError:  # pragma: no cover (a 64-bit random kid taken)
            raise


async def jwks(tenant_id: int) -> dict[str, list[dict[str, str]]]:
    """The company's public keys as a JWK set (RFC 7517), oldest first."""
    rows = await CertificateIssuerKey.filter(tenant_id=tenant_id).order_by("id")
    return {"keys": [dict(row.public_jwk) for row in rows]}


async def rewrap(settings: Settings, tenant_id: int | None = None) -> tuple[int, dict[str, int]]:
    """Wrap every issuer key (of one company when ``tenant_id`` is given) under the current key
    (``xuefen keys rewrap``): how many moved, and by key id those whose key left the ring."""
    moved = 0
    unreadable: dict[str, int] = {}
    scope = CertificateIssuerKey.all() if tenant_id is None else CertificateIssuerKey.filter(tenant_id=tenant_id)
    for row_id, stored in await scope.order_by("id").values_list("id", "private_key"):
        kid = keyring.wrapped_kid(stored)
        if kid == settings.keys.current_kid:
            continue
        try:
            raw = keyring.unwrap(settings.keys, PURPOSE, stored)
        except ValueError:
            unreadable[kid or "?"] = unreadable.get(kid or "?", 0) + 1
            continue
        # Only if unchanged since read: a concurrent rewrap already moved it.
        moved += await CertificateIssuerKey.filter(id=row_id, private_key=stored).update(
            private_key=keyring.wrap(settings.keys, PURPOSE, raw)
        )
    return moved, unreadable
