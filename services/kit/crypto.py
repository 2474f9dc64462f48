"""Field encryption at rest (AES-256-GCM, key id stored with each value) and blind indexes
(keyed HMAC-SHA256) for exact look-ups without plaintext.

Stored form: ``<key id>:<base64(nonce || ciphertext || tag)>``. The field name is bound in as
associated data, so a value copied into another column does not decrypt. Keys come from
configuration (a KMS in production); several may be loaded at once so values written under an
older key stay readable while a rotation re-encrypts them under the active one.
"""

import base64
import hmac
import os
import unicodedata
from collections.abc import Sequence
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Text
from sqlalchemy.types import TypeDecorator

NONCE_BYTES = 12


class UndecryptableValue(Exception):
    """A stored value does not open with the configured keys: a key is missing, wrong, or the
    value was altered. An operations problem, answered 503, never the value itself."""


class KeyRing:
    def __init__(
        self,
        keys: dict[str, bytes],
        active_key_id: str,
        blind_index_key: bytes,
        previous_blind_index_keys: Sequence[bytes] = (),
    ):
        if active_key_id not in keys:
            raise ValueError(f"the active key id {active_key_id!r} is not among the configured keys")
        for key_id, key in keys.items():
            if len(key) != 32:
                raise ValueError(f"key {key_id!r} must be 32 bytes (AES-256)")
            if ":" in key_id:
                raise ValueError(f"key id {key_id!r} may not contain ':'")
        if any(len(key) < 32 for key in (blind_index_key, *previous_blind_index_keys)):
            raise ValueError("a blind index key must be at least 32 bytes")
        self._ciphers = {key_id: AESGCM(key) for key_id, key in keys.items()}
        self.active_key_id = active_key_id
        self._blind_index_key = blind_index_key
        self._previous_blind_index_keys = tuple(previous_blind_index_keys)

    def encrypt(self, plaintext: str, *, field: str) -> str:
        sealed = self.encrypt_many([plaintext], field=field)[0]
        assert sealed is not None
        return sealed

    def encrypt_many(self, plaintexts: list[str | None], *, field: str) -> list[str | None]:
        """`encrypt` over a column of values (None stays None), for bulk writes: the same stored
        form, a fresh random nonce per value, all the nonces drawn from the OS at once."""
        cipher, prefix, associated = self._ciphers[self.active_key_id], f"{self.active_key_id}:", field.encode()
        nonces = os.urandom(NONCE_BYTES * len(plaintexts))
        sealed: list[str | None] = []
        for start, plaintext in zip(range(0, len(nonces), NONCE_BYTES), plaintexts, strict=True):
            if plaintext is None:
                sealed.append(None)
                continue
            nonce = nonces[start : start + NONCE_BYTES]
            sealed.append(
                prefix + base64.b64encode(nonce + cipher.encrypt(nonce, plaintext.encode(), associated)).decode()
            )
        return sealed

    def decrypt(self, stored: str, *, field: str) -> str:
        key_id, _, encoded = stored.partition(":")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise UndecryptableValue(f"no key {key_id!r} is configured; load it before reading values it sealed")
        raw = base64.b64decode(encoded)
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], field.encode()).decode()
        except InvalidTag:
            raise UndecryptableValue(
                f"a {field} value does not open with key {key_id!r} (wrong key or altered data)"
            ) from None

    @staticmethod
    def key_id_of(stored: str) -> str:
        return stored.partition(":")[0]

    def blind_index(self, value: str, *, field: str) -> str:
        """Deterministic keyed hash of a normalised value, for equality look-ups only: what is
        written, under the current blind-index key."""
        return _keyed_hash(self._blind_index_key, value, field)

    def previous_blind_indexes(self, value: str, *, field: str) -> list[str]:
        """The value's hashes under the blind-index keys a rotation is replacing (none outside a
        rotation): rows not yet re-indexed still hold one of these."""
        return [_keyed_hash(key, value, field) for key in self._previous_blind_index_keys]

    def blind_indexes(self, value: str, *, field: str) -> list[str]:
        """Every hash a row holding the value may have: the current one first. Look-ups and
        duplicate checks match any of them, so they hold while a rotation re-indexes."""
        return [self.blind_index(value, field=field), *self.previous_blind_indexes(value, field=field)]


def _keyed_hash(key: bytes, value: str, field: str) -> str:
    normalised = unicodedata.normalize("NFKC", value).strip().upper()
    message = f"{field}\x00{normalised}".encode()
    return hmac.digest(key, message, "sha256").hex()  # one-shot: a third of hmac.new's cost


def new_key() -> str:
    """A fresh random 256-bit key, base64-encoded, as configuration expects it."""
    return base64.b64encode(os.urandom(32)).decode()


def decode_key(encoded: str) -> bytes:
    return base64.b64decode(encoded)


# One component per process, so one key ring per process, installed at start-up.
_installed: KeyRing | None = None


def install(keyring: KeyRing) -> None:
    global _installed
    _installed = keyring


def keyring() -> KeyRing:
    if _installed is None:
        raise RuntimeError("no key ring installed: the component must call crypto.install() at start-up")
    return _installed


class EncryptedText(TypeDecorator):
    """A column whose values are encrypted before they reach the database."""

    impl = Text
    cache_ok = True

    def __init__(self, field: str):
        super().__init__()
        self.field = field

    def plaintext(self, value) -> str:
        return str(value)

    def process_bind_param(self, value, dialect):
        return None if value is None else keyring().encrypt(self.plaintext(value), field=self.field)

    def bind_many(self, values: list) -> list[str | None]:
        """process_bind_param over a column of values at once (services.kit.db.insert_many)."""
        return keyring().encrypt_many([None if v is None else self.plaintext(v) for v in values], field=self.field)

    def process_result_value(self, value, dialect):
        return None if value is None else keyring().decrypt(value, field=self.field)


class EncryptedDate(EncryptedText):
    """An encrypted date (stored as its ISO form)."""

    # Declared on each subclass: SQLAlchemy reads it from the class itself, and without it every
    # statement touching the column is compiled anew instead of taken from the statement cache.
    cache_ok = True

    def plaintext(self, value) -> str:
        return value.isoformat()

    def process_result_value(self, value, dialect):
        plain = super().process_result_value(value, dialect)
        return None if plain is None else date.fromisoformat(plain)
