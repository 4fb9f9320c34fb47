"""Webhooks on MongoDB: the `_Hooks` collection, one document per hook with Parse Server's fields and an `_id` the
database gives it, as Parse Server's upserts leave them."""

from __future__ import annotations

from typing import Any

from app.domain.webhooks import Webhook
from app.storage.mongo.connection import Connection
from app.storage.mongo.reachability import guarded_methods

HOOKS_COLLECTION = "_Hooks"


def _key(hook: Webhook) -> dict[str, Any]:
    if hook.function_name is not None:
        return {"functionName": hook.function_name}
    return {"className": hook.class_name, "triggerName": hook.trigger_name}


@guarded_methods
class MongoHooks:
    """The hook store of the webhooks, on one database."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.reachability = connection.reachability  # an unreachable database: DatabaseUnavailableError

    async def read_hooks(self) -> list[Webhook]:
        # Outside any transaction of the request that asks: the list is this instance's, not the request's.
        async with self.connection.read():
            cursor = self.connection.collection(HOOKS_COLLECTION).find({}, **self.connection.limit("max_time_ms"))
            documents = await cursor.to_list()
        hooks = []
        for document in documents:
            url, name = document.get("url"), document.get("functionName")
            if not isinstance(url, str):
                continue
            if isinstance(name, str):
                hooks.append(Webhook(url, function_name=name))
            elif isinstance(document.get("className"), str) and isinstance(document.get("triggerName"), str):
                hooks.append(Webhook(url, class_name=document["className"], trigger_name=document["triggerName"]))
        return hooks

    async def save_hook(self, hook: Webhook) -> None:
        await self.connection.collection(HOOKS_COLLECTION).update_one(
            _key(hook), {"$set": {**_key(hook), "url": hook.url}}, upsert=True
        )

    async def delete_hook(self, hook: Webhook) -> bool:
        result = await self.connection.collection(HOOKS_COLLECTION).delete_many(_key(hook))
        return result.deleted_count > 0
