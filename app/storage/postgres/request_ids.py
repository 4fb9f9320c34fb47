"""Request ids on PostgreSQL: `_Idempotency` rows ("objectId", "reqId", "expire", "createdAt", "updatedAt") in
Parse Server's layout, under its unique index `_Idempotency_unique_reqId`. PostgreSQL has no TTL index: each claim
also deletes a few expired rows, so the table stays about as large as the ids still live."""

from __future__ import annotations

from datetime import timedelta

from app.domain.values import utc_now
from app.domain.writes import new_object_id
from app.storage.postgres.connection import Database

PURGED_PER_CLAIM = 16
"""Expired rows one claim deletes at most: more than one, so the purge keeps up with the claims, and few, so a
claim never waits on a large delete."""


class PostgresRequestIds:
    """The request-id operations of the storage port, on one database (its table is made at start)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(self, request_id: str, ttl: timedelta) -> bool:
        now = utc_now()
        # One statement: a new id is inserted, an expired one taken over; a live one is left alone and returns no
        # row. A concurrent claim of the same id waits on the unique index, then finds it live.
        claimed = await self.db.fetch(
            'INSERT INTO "_Idempotency" AS i ("objectId", "reqId", "expire", "createdAt", "updatedAt") '
            "VALUES (%s, %s, %s, %s, %s) "
            'ON CONFLICT ("reqId") DO UPDATE SET "expire" = EXCLUDED."expire", "updatedAt" = EXCLUDED."updatedAt" '
            'WHERE i."expire" <= %s RETURNING i."objectId"',
            (new_object_id(), request_id, now + ttl, now, now, now),
        )
        await self.db.execute(
            'DELETE FROM "_Idempotency" WHERE "objectId" IN (SELECT "objectId" FROM "_Idempotency" '
            'WHERE "expire" <= %s ORDER BY "expire" LIMIT %s FOR UPDATE SKIP LOCKED)',
            (now, PURGED_PER_CLAIM),
        )
        return bool(claimed)
