"""Parse Config on MongoDB: one `_GlobalConfig` document, its parameters and which only the master key reads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.storage.mongo.connection import Connection
from app.storage.mongo.reachability import guarded_methods

CONFIG_COLLECTION = "_GlobalConfig"


@guarded_methods
class MongoConfig:
    """The config operations of the storage port, on one database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.reachability = connection.reachability  # an unreachable database: DatabaseUnavailableError

    async def read_config(self) -> tuple[dict[str, Any], dict[str, bool]] | None:
        async with self.connection.read():
            document = await self.connection.collection(CONFIG_COLLECTION).find_one(
                {"_id": 1}, session=self.connection.session(), **self.connection.limit("max_time_ms")
            )
        if document is None:
            return None
        return dict(document.get("params") or {}), dict(document.get("masterKeyOnly") or {})

    async def update_config(
        self, values: Mapping[str, Any], removed: Sequence[str], master_key_only: Mapping[str, bool]
    ) -> None:
        update: dict[str, Any] = {}
        if values or master_key_only:
            update["$set"] = {
                **{f"params.{key}": value for key, value in values.items()},
                **{f"masterKeyOnly.{key}": flag for key, flag in master_key_only.items()},
            }
        if removed:
            update["$unset"] = {f"params.{key}": "" for key in removed}
        if update:
            await self.connection.collection(CONFIG_COLLECTION).update_one(
                {"_id": 1}, update, upsert=True, session=self.connection.session()
            )
