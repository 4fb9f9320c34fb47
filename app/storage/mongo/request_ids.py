"""Request ids on MongoDB: `_Idempotency` documents (`_id`, `reqId`, `expire`, `_created_at`, `_updated_at`) as
Parse Server writes them, under its unique `reqId` index; its TTL index on `expire` purges expired ones."""

from __future__ import annotations

from datetime import timedelta

from pymongo.errors import DuplicateKeyError

from app.domain.values import utc_now
from app.domain.writes import new_object_id
from app.storage.mongo.connection import Connection
from app.storage.mongo.reachability import guarded_methods, insert_once

COLLECTION = "_Idempotency"


@guarded_methods
class MongoRequestIds:
    """The request-id operations of the storage port, on one database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.reachability = connection.reachability  # an unreachable database: DatabaseUnavailableError

    async def claim(self, request_id: str, ttl: timedelta) -> bool:
        now = utc_now()
        collection = self.connection.collection(COLLECTION)
        # Parse Server's document, in its key order.
        document = {
            "_id": new_object_id(),
            "reqId": request_id,
            "expire": now + ttl,
            "_created_at": now,
            "_updated_at": now,
        }
        try:
            # The unique index decides: of two claims of a new id, from this instance or another, one inserts.
            await insert_once(collection, document, self.connection.session())
            return True
        except DuplicateKeyError:
            pass
        # The id is recorded. It is this request's only if it expired (the TTL monitor runs once a minute); one
        # conditional update, so of two requests taking over an expired id, one does.
        taken = await collection.update_one(
            {"reqId": request_id, "expire": {"$lte": now}},
            {"$set": {"expire": now + ttl, "_updated_at": now}},
            session=self.connection.session(),
        )
        return taken.modified_count == 1
