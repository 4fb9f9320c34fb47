"""Relations on MongoDB: one `_Join:<field>:<class>` collection per relation field, a row per related pair."""

from __future__ import annotations

from collections.abc import Sequence

from app.storage.mongo.connection import Connection
from app.storage.mongo.reachability import guarded_methods


def join_collection(class_name: str, field: str) -> str:
    return f"_Join:{field}:{class_name}"


@guarded_methods
class MongoRelations:
    """The relation operations of the storage port, on one database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.reachability = connection.reachability  # an unreachable database: DatabaseUnavailableError

    async def add_relation(self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]) -> None:
        collection = self.connection.collection(join_collection(class_name, field))
        for related_id in related_ids:
            row = {"relatedId": related_id, "owningId": owning_id}
            await collection.update_one(row, {"$set": row}, upsert=True, session=self.connection.session())

    async def remove_relation(self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]) -> None:
        await self.connection.collection(join_collection(class_name, field)).delete_many(
            {"owningId": owning_id, "relatedId": {"$in": list(related_ids)}}, session=self.connection.session()
        )

    async def related_ids(self, class_name: str, field: str, owning_id: str) -> list[str]:
        async with self.connection.read():
            cursor = self.connection.collection(join_collection(class_name, field)).find(
                {"owningId": owning_id},
                {"relatedId": 1},
                session=self.connection.session(),
                **self.connection.limit("max_time_ms"),
            )
            return [row["relatedId"] async for row in cursor]

    async def related_by_owner(self, class_name: str, field: str, owning_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {owner: [] for owner in owning_ids}
        async with self.connection.read():
            cursor = self.connection.collection(join_collection(class_name, field)).find(
                {"owningId": {"$in": list(owning_ids)}},
                {"owningId": 1, "relatedId": 1},
                session=self.connection.session(),
                **self.connection.limit("max_time_ms"),
            )
            async for row in cursor:
                found.setdefault(row["owningId"], []).append(row["relatedId"])
        return found

    async def owning_ids(self, class_name: str, field: str, related_ids: Sequence[str]) -> list[str]:
        async with self.connection.read():
            cursor = self.connection.collection(join_collection(class_name, field)).find(
                {"relatedId": {"$in": list(related_ids)}},
                {"owningId": 1},
                session=self.connection.session(),
                **self.connection.limit("max_time_ms"),
            )
            return [row["owningId"] async for row in cursor]
