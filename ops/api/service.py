"""Idempotency of partner POSTs: claim a key before running the request, store its answer after.

A key is the partner's, per token: (tenant, token, key) is unique, so of two concurrent requests with
the same key exactly one inserts the claim and runs; the other sees the claim and is told the first is
in progress (409), or once it has finished gets the stored answer. Answers are kept 24 hours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ops.api.models import IdempotencyRecord
from ops.auth.actor import Actor
from ops.db import Database, utcnow

KEY_LIFETIME = timedelta(hours=24)
KEY_MAX_LENGTH = 255
# A claim this old whose request never stored an answer belonged to a process that died mid-request.
ABANDONED_AFTER = timedelta(minutes=5)


@dataclass(frozen=True)
class Claimed:
    """This request holds the key and runs."""

    record_id: int


@dataclass(frozen=True)
class Replay:
    """The key's request ran before: answer with what it answered."""

    status: int
    body: str


class InProgress(Exception):
    """Another request with the same key is running now."""


class KeyReused(Exception):
    """The key was used for a different request."""


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


async def claim_key(
    db: Database, actor: Actor, token_id: int, key: str, fingerprint: str
) -> Claimed | Replay:
    """Claim `key` for this request, or the stored answer of the request that used it first."""
    for _attempt in range(2):
        now = utcnow()
        async with db.uow(actor) as uow:
            session = uow.session
            record = IdempotencyRecord(
                token_id=token_id,
                key=key,
                request_hash=fingerprint,
                created_at=now,
                expires_at=now + KEY_LIFETIME,
            )
            session.add(record)
            try:
                await session.commit()
                return Claimed(record.id)
            except IntegrityError:
                await session.rollback()
            existing = await session.scalar(
                select(IdempotencyRecord).where(
                    IdempotencyRecord.token_id == token_id, IdempotencyRecord.key == key
                )
            )
            if existing is None:
                continue  # released or purged in between: claim again
            stale = existing.expires_at <= now or (
                existing.status is None and existing.created_at <= now - ABANDONED_AFTER
            )
            if stale:
                await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == existing.id))
                await session.commit()
                continue
            if existing.request_hash != fingerprint:
                raise KeyReused(key)
            if existing.status is None or existing.body is None:
                raise InProgress(key)
            return Replay(existing.status, existing.body)
    raise InProgress(key)


async def store_answer(db: Database, actor: Actor, claim: Claimed, status: int, body: str) -> None:
    async with db.uow(actor) as uow:
        await uow.session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == claim.record_id)
            .values(status=status, body=body)
        )
        await uow.session.commit()


async def release_key(db: Database, actor: Actor, claim: Claimed) -> None:
    """The request failed without an answer worth repeating (a server error): a retry may run it."""
    async with db.uow(actor) as uow:
        await uow.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == claim.record_id))
        await uow.session.commit()


async def purge_expired_keys(db: Database) -> int:
    """Delete the answers older than 24 hours, of every tenant; the worker calls this."""
    async with db.system(write=True) as session:
        result = await session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= utcnow())
        )
        await session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
