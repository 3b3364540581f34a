"""Partner secrets at rest: stored encrypted with a key derived from `PITWALL_SECRET_KEY`.

The server has to use some secrets again, so it cannot keep only a hash of them: a tenant's Stripe
keys, the secret telematics partners sign with, and the secrets our webhooks are signed with. They
are stored sealed (Fernet: AES-128-CBC and HMAC-SHA256) under a key derived from the server's secret
key, so a database dump or backup does not hand them to whoever reads it.

The `Sealed` column type seals on the way in and opens on the way out, so the code that uses these
columns sees plain strings. After a change of `PITWALL_SECRET_KEY` the previous keys, named in
`PITWALL_OLD_SECRET_KEYS`, still open what they sealed, and `pitwall migrate` seals everything again
under the current key (`reseal_stored_secrets`). A value no key opens reads as None: the feature then
shows as not set up, and its settings page takes a new secret.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Text, select, type_coerce, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

SEALED_PREFIX = "sealed:v1:"
# The dialect attribute a Database sets to its SecretBox: a column type sees only the dialect.
DIALECT_ATTRIBUTE = "pitwall_secret_box"


def _fernet_key(secret_key: str) -> bytes:
    """A Fernet key of its own for sealing, so the key that signs cookies is not also the one that
    encrypts, and a short or non-random PITWALL_SECRET_KEY still gives a full-length key."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"pitwall secrets at rest").derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(derived)


class SecretBox:
    """Seals under the first key and opens with any of them (the current key, then older ones)."""

    def __init__(self, secret_keys: Sequence[str]) -> None:
        if not secret_keys or not all(secret_keys):
            raise ValueError("sealing needs the server's secret key")
        self._fernets = [Fernet(_fernet_key(key)) for key in secret_keys]
        self._any = MultiFernet(self._fernets)
        self._reported: set[str] = set()

    def seal(self, plaintext: str) -> str:
        return SEALED_PREFIX + self._any.encrypt(plaintext.encode()).decode()

    def open(self, stored: str) -> str | None:
        """The plaintext; a value stored before sealing existed as it is; None when no key opens it."""
        if not stored.startswith(SEALED_PREFIX):
            return stored
        try:
            return self._any.decrypt(stored[len(SEALED_PREFIX) :].encode()).decode()
        except InvalidToken:
            if stored not in self._reported:
                self._reported.add(stored)
                log.error(
                    "a stored secret cannot be opened with PITWALL_SECRET_KEY or PITWALL_OLD_SECRET_KEYS: "
                    "name the key it was sealed with in PITWALL_OLD_SECRET_KEYS, or enter the secret again"
                )
            return None

    def is_current(self, stored: str) -> bool:
        """Sealed under the current key (opened by it, not only by an older one)."""
        if not stored.startswith(SEALED_PREFIX):
            return False
        try:
            self._fernets[0].decrypt(stored[len(SEALED_PREFIX) :].encode())
        except InvalidToken:
            return False
        return True


def attach(dialect: Dialect, box: SecretBox | None) -> None:
    setattr(dialect, DIALECT_ATTRIBUTE, box)


def _box(dialect: Dialect) -> SecretBox:
    box = getattr(dialect, DIALECT_ATTRIBUTE, None)
    if box is None:
        raise RuntimeError(
            "this database was opened without the server's secret key: it cannot seal or open secrets"
        )
    return box


class Sealed(TypeDecorator[str]):
    """A string column stored sealed; reads give the plaintext, or None when no key opens it."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else _box(dialect).seal(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or not value.startswith(SEALED_PREFIX):
            return value
        return _box(dialect).open(value)


def sealed_columns() -> list[Any]:
    """Every mapped column of type Sealed, with its model: what `reseal_stored_secrets` goes over."""
    from ops.db import Base, import_all_models

    import_all_models()
    found = []
    for mapper in Base.registry.mappers:
        for column in mapper.columns:
            if isinstance(column.type, Sealed):
                found.append((mapper.class_, column))
    return found


async def reseal_stored_secrets(session: AsyncSession, box: SecretBox) -> int:
    """Seal under the current key every secret stored in plain text (before sealing existed) or under
    an older key; returns how many values were written. Values no key opens are left as they are."""
    written = 0
    for model, column in sealed_columns():
        raw = type_coerce(column, Text())
        rows = (await session.execute(select(model.id, raw).where(column.is_not(None)))).all()
        for row_id, stored in rows:
            if box.is_current(stored):
                continue
            plaintext = box.open(stored)
            if plaintext is None:
                continue
            await session.execute(
                update(model)
                .where(model.id == row_id)
                .values({column.key: plaintext})
                .execution_options(synchronize_session=False)
            )
            written += 1
    return written
