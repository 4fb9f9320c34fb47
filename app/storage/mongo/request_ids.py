"""Request ids on MongoDB: `_Idempotency` documents (`_id`, `reqId`, `expire`, `_created_at`, `_updated_at`) as
Parse Server writes them, under its unique `reqId` index; its TTL index on `expire` purges expired ones."""

from __future__ import annotations

from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from app.domain.values import utc_now
from app.domain.writes import new_object_id
from app.storage.mongo.connection import Connection
from app.storage.mongo.reachability import guarded_methods

COLLECTION = "_Idempotency"


@guarded_methods
class MongoRequestIds:
    """The request-id operations of the storage port, on one database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.reachability = connection.reachability  # an unreachable database: DatabaseUnavailableError

    async def claim(self, request_id: str, ttl: timedelta) -> bool:
        now = utc_now()
        try:
            # One upsert: it takes over an expired id, or inserts a new one; a live id makes the insert break the
            # unique index, which is how a second claim (from this instance or another) loses.
            await self.connection.collection(COLLECTION).update_one(
                {"reqId": request_id, "expire": {"$lte": now}},
                {
                    "$set": {"expire": now + ttl, "_updated_at": now},
                    "$setOnInsert": {"_id": new_object_id(), "_created_at": now},
                },
                upsert=True,
                session=self.connection.session(),
            )
        except DuplicateKeyError:
            return False
        return True
