"""The server's secret keys: one current key that signs everything new, and previous keys that are
still accepted, so a key can be rotated without signing any phone out or resetting any sync cursor
(docs/key-rotation.md has the procedure).

- ``KeyRing.current`` signs and keys every new value: access tokens, refresh-token successors,
  activation codes, signed values (backend/signing.py: sync cursors, projector, media and report
  links, the dashboard cookie), CSRF tokens, and wraps session check-in secrets.
- ``KeyRing.all`` (current first) is what verification accepts. A value made under a key that is no
  longer in the ring fails like a forged one.
- Each key has a *key id* (``kid``): a short keyed fingerprint that names the key without telling
  anything about it. Access tokens carry it in their JWT header and wrapped secrets in their
  envelope, so the right key is picked directly. Signed values and HMACs carry none: they try each
  key (keys are few), and values made before key rotation existed keep their exact format.
- Device tags must stay the same across a rotation (HR matches them between device lists, rosters
  and audit rows written earlier), so they have their own key: ``XUEFEN_DEVICE_TAG_KEY`` when set,
  else the *oldest* key of the ring (the last previous key, or the current key when there is none).
  Rotating the current key therefore leaves tags alone; before the oldest key leaves the ring, its
  value goes to ``XUEFEN_DEVICE_TAG_KEY``. It only names devices: it signs and unlocks nothing.
- ``wrap``/``unwrap`` keep a secret at rest encrypted (AES-256-GCM under a key derived with HKDF
  from a ring key and a purpose label): ``w1.<kid>.<base64url(nonce ‖ ciphertext ‖ tag)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

WRAP_VERSION = "w1"
KID_LENGTH = 8  # hex digits: 32 bits, plenty to tell a handful of keys apart
NONCE_BYTES = 12


def new_key() -> str:
    """A fresh key: 48 random bytes, URL-safe (64 characters, no comma, so it fits a key list)."""
    return secrets.token_urlsafe(48)


def key_id(key: str) -> str:
    """The public name of ``key``: an HMAC under the key itself, so it tells nothing about it
    (finding the key from it is as hard as from any value the key signed)."""
    return hmac.new(key.encode("utf-8"), b"xuefen key id", hashlib.sha256).hexdigest()[:KID_LENGTH]


def derive(key: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from a ring key (HKDF-SHA256): what one purpose
    computes under it can never be replayed as another's."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"xuefen:{purpose}".encode())
    return hkdf.derive(key.encode("utf-8"))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class KeyRing:
    """The current key and the previous ones, newest first (see the module docstring)."""

    current: str
    previous: tuple[str, ...] = ()
    # XUEFEN_DEVICE_TAG_KEY, empty when not pinned.
    pinned_tag_key: str = ""
    _by_kid: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.current:
            raise ValueError("XUEFEN_SECRET_KEY is empty")
        # Each message names the variable to fix (config.py shows it as it is).
        if self.current in self.previous:
            raise ValueError(
                "XUEFEN_PREVIOUS_SECRET_KEYS: a previous key equals the current key "
                "(XUEFEN_SECRET_KEY must be the new key)"
            )
        if len(set(self.previous)) != len(self.previous) or not all(self.previous):
            raise ValueError("XUEFEN_PREVIOUS_SECRET_KEYS: a previous key is repeated or empty")
        by_kid = {key_id(key): key for key in self.all}
        if len(by_kid) != len(self.all):  # one chance in billions: generate another key
            raise ValueError(
                "XUEFEN_SECRET_KEY and a key of XUEFEN_PREVIOUS_SECRET_KEYS share a key id: generate another"
            )
        object.__setattr__(self, "_by_kid", by_kid)

    @classmethod
    def of(cls, keys: KeyRing | str) -> KeyRing:
        """``keys`` as a ring (a single key string is a ring of one)."""
        return keys if isinstance(keys, KeyRing) else cls(keys)

    @property
    def all(self) -> tuple[str, ...]:
        """Every accepted key, the current one first."""
        return (self.current, *self.previous)

    @property
    def current_kid(self) -> str:
        return key_id(self.current)

    def by_kid(self, kid: str) -> str | None:
        """The ring key named ``kid``, None when no key of the ring has it (a retired key)."""
        return self._by_kid.get(kid)

    @property
    def tag_key(self) -> str:
        """The key of device tags: pinned, else the oldest key of the ring (see the docstring)."""
        return self.pinned_tag_key or self.all[-1]

    @property
    def tag_kid(self) -> str:
        """The key id of the tag key (logged, so an operator can tell which key keys the tags)."""
        return key_id(self.tag_key)


# --- wrapping secrets at rest ------------------------------------------------------------------


def is_wrapped(value: str) -> bool:
    return value.startswith(WRAP_VERSION + ".")


def wrapped_kid(value: str) -> str | None:
    """The key id of a wrapped value, None for a value that is not wrapped."""
    parts = value.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == WRAP_VERSION else None


def wrap(ring: KeyRing, purpose: str, plain: bytes) -> str:
    """``plain`` encrypted under the current key for ``purpose``, as a key-identified envelope."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(derive(ring.current, purpose)).encrypt(nonce, plain, purpose.encode())
    return f"{WRAP_VERSION}.{ring.current_kid}.{_b64(nonce + sealed)}"


def unwrap(ring: KeyRing, purpose: str, value: str) -> bytes:
    """What ``wrap`` sealed, under whichever ring key the envelope names. ValueError when the value
    is malformed, names a key the ring no longer has, or was altered."""
    kid = wrapped_kid(value)
    key = ring.by_kid(kid) if kid is not None else None
    if kid is None:
        raise ValueError("not a wrapped value")
    if key is None:
        raise ValueError(f"wrapped under key {kid}, which is not in the key ring")
    body = value.rsplit(".", 1)[1]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if len(raw) <= NONCE_BYTES:
            raise ValueError("too short")
        return AESGCM(derive(key, purpose)).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], purpose.encode())
    except (binascii.Error, InvalidTag, ValueError) as exc:
        raise ValueError(f"wrapped value under key {kid} does not open") from exc
