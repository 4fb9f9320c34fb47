"""Relations on PostgreSQL: a `_Join:<field>:<class>` table per relation field, a row (relatedId, owningId) per
related pair, as Parse Server's PostgreSQL adapter makes them."""

from __future__ import annotations

from collections.abc import Sequence

from app.storage.postgres.columns import Tables, join_table
from app.storage.postgres.connection import Database, quote


class PostgresRelations:
    """The relation operations of the storage port, on one database."""

    def __init__(self, db: Database, tables: Tables) -> None:
        self.db = db
        self.tables = tables

    async def _table(self, class_name: str, field: str) -> str | None:
        table = join_table(class_name, field)
        return quote(table) if await self.tables.existing(table) is not None else None

    async def add_relation(self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]) -> None:
        await self.tables.ensure_join_table(class_name, field)
        table = quote(join_table(class_name, field))
        for related_id in related_ids:
            await self.db.execute(
                f'INSERT INTO {table} ("relatedId", "owningId") VALUES (%s, %s) ON CONFLICT DO NOTHING',
                (related_id, owning_id),
            )

    async def remove_relation(self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]) -> None:
        table = await self._table(class_name, field)
        if table is not None:
            await self.db.execute(
                f'DELETE FROM {table} WHERE "owningId" = %s AND "relatedId" = ANY(%s::text[])',
                (owning_id, list(related_ids)),
            )

    async def related_ids(self, class_name: str, field: str, owning_id: str) -> list[str]:
        table = await self._table(class_name, field)
        if table is None:
            return []
        rows = await self.db.fetch(f'SELECT "relatedId" FROM {table} WHERE "owningId" = %s', (owning_id,))
        return [row["relatedId"] for row in rows]

    async def related_by_owner(self, class_name: str, field: str, owning_ids: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {owner: [] for owner in owning_ids}
        table = await self._table(class_name, field)
        if table is None:
            return found
        rows = await self.db.fetch(
            f'SELECT "owningId", "relatedId" FROM {table} WHERE "owningId" = ANY(%s::text[])', (list(owning_ids),)
        )
        for row in rows:
            found.setdefault(row["owningId"], []).append(row["relatedId"])
        return found

    async def owning_ids(self, class_name: str, field: str, related_ids: Sequence[str]) -> list[str]:
        table = await self._table(class_name, field)
        if table is None:
            return []
        rows = await self.db.fetch(
            f'SELECT "owningId" FROM {table} WHERE "relatedId" = ANY(%s::text[])', (list(related_ids),)
        )
        return [row["owningId"] for row in rows]
