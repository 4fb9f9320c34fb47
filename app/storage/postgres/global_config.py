"""Parse Config on PostgreSQL: the `_GlobalConfig` table's one row (objectId "1"), `params` and `masterKeyOnly`
as jsonb, as Parse Server keeps them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from app.domain.classes import ClassSchema, FieldType
from app.storage.postgres.columns import Tables
from app.storage.postgres.connection import Database

CONFIG = ClassSchema.build("_GlobalConfig", {"params": FieldType("Object"), "masterKeyOnly": FieldType("Object")})


class PostgresConfig:
    """The config operations of the storage port, on one database."""

    def __init__(self, db: Database, tables: Tables) -> None:
        self.db = db
        self.tables = tables

    async def read_config(self) -> tuple[dict[str, Any], dict[str, bool]] | None:
        if await self.tables.existing("_GlobalConfig") is None:
            return None
        rows = await self.db.fetch(
            'SELECT "params", "masterKeyOnly" FROM "_GlobalConfig" WHERE "objectId" = %s', ("1",)
        )
        if not rows:
            return None
        return dict(rows[0]["params"] or {}), dict(rows[0]["masterKeyOnly"] or {})

    async def update_config(
        self, values: Mapping[str, Any], removed: Sequence[str], master_key_only: Mapping[str, bool]
    ) -> None:
        await self.tables.ensure(CONFIG)
        # One statement: a concurrent update merges with this one instead of overwriting it.
        await self.db.execute(
            'INSERT INTO "_GlobalConfig" AS c ("objectId", "params", "masterKeyOnly") '
            "VALUES ('1', (%s::jsonb - %s::text[]), %s::jsonb) "
            'ON CONFLICT ("objectId") DO UPDATE SET '
            '"params" = (COALESCE(c."params", \'{}\'::jsonb) || %s::jsonb) - %s::text[], '
            '"masterKeyOnly" = COALESCE(c."masterKeyOnly", \'{}\'::jsonb) || %s::jsonb',
            (
                Jsonb(dict(values)),
                list(removed),
                Jsonb(dict(master_key_only)),
                Jsonb(dict(values)),
                list(removed),
                Jsonb(dict(master_key_only)),
            ),
        )
