"""Webhooks on PostgreSQL: the `_Hooks` table in Parse Server's layout of a class (made on the first hook), a row per
hook with `functionName`, or `className` and `triggerName`, and `url`."""

from __future__ import annotations

from app.domain.classes import ClassSchema, FieldType
from app.domain.webhooks import Webhook
from app.domain.writes import new_object_id
from app.storage.postgres.columns import Tables
from app.storage.postgres.connection import Database

HOOKS = ClassSchema.build(
    "_Hooks",
    {
        "functionName": FieldType("String"),
        "className": FieldType("String"),
        "triggerName": FieldType("String"),
        "url": FieldType("String"),
    },
)


def _where(hook: Webhook) -> tuple[str, tuple[str | None, ...]]:
    if hook.function_name is not None:
        return '"functionName" = %s', (hook.function_name,)
    return '"className" = %s AND "triggerName" = %s AND "functionName" IS NULL', (hook.class_name, hook.trigger_name)


class PostgresHooks:
    """The hook store of the webhooks, on one database."""

    def __init__(self, db: Database, tables: Tables) -> None:
        self.db = db
        self.tables = tables

    async def _exists(self) -> bool:
        # Asked of the database, not of `tables`' memory: another instance may have made the table since; and
        # never by reading a missing table, which would end the transaction of the request that asks.
        rows = await self.db.fetch(
            "SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = '_Hooks'"
        )
        return bool(rows)

    async def read_hooks(self) -> list[Webhook]:
        if not await self._exists():
            return []
        rows = await self.db.fetch('SELECT "functionName", "className", "triggerName", "url" FROM "_Hooks"')
        hooks = []
        for row in rows:
            if row["url"] is None:
                continue
            if row["functionName"] is not None:
                hooks.append(Webhook(row["url"], function_name=row["functionName"]))
            elif row["className"] is not None and row["triggerName"] is not None:
                hooks.append(Webhook(row["url"], class_name=row["className"], trigger_name=row["triggerName"]))
        return hooks

    async def save_hook(self, hook: Webhook) -> None:
        await self.tables.ensure(HOOKS)
        where, params = _where(hook)
        if await self.db.execute(f'UPDATE "_Hooks" SET "url" = %s WHERE {where}', (hook.url, *params)):
            return
        await self.db.execute(
            'INSERT INTO "_Hooks" ("objectId", "functionName", "className", "triggerName", "url")'
            " VALUES (%s, %s, %s, %s, %s)",
            (new_object_id(), hook.function_name, hook.class_name, hook.trigger_name, hook.url),
        )

    async def delete_hook(self, hook: Webhook) -> bool:
        if not await self._exists():
            return False
        where, params = _where(hook)
        return bool(await self.db.execute(f'DELETE FROM "_Hooks" WHERE {where}', params))
