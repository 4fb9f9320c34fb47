"""Tables and columns in Parse Server's PostgreSQL layout: a table per class, a column per field with Parse's
types, `_rperm`/`_wperm` as text arrays, the `_User` table's internal columns; made on demand, race-safe.

`Tables` knows which tables and columns exist (read from the catalog once, then kept as this engine changes
them) and brings a class's table up to its schema before an operation uses it: classes that Parse keeps out of
`_SCHEMA` (`_JobStatus`, `_Hooks`…) and fields written before any schema named them get their columns then.
DDL runs on the task's connection (inside a `/batch` transaction, in a savepoint of it): on another connection
it would wait for the locks the transaction holds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from psycopg import errors as pg_errors

from app.domain.classes import ClassSchema
from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon
from app.storage.postgres.connection import Database, quote

log = logging.getLogger("app.storage.postgres")

SQL_TYPES = {
    "String": "text",
    "Date": "timestamp with time zone",
    "Object": "jsonb",
    "File": "text",
    "Boolean": "boolean",
    "Pointer": "text",
    "Number": "double precision",
    "GeoPoint": "point",
    "Bytes": "jsonb",
    "Polygon": "polygon",
    "Array": "jsonb",
    "Permissions": "text[]",
}
# Columns outside the schema, with the Parse type that says how they are stored.
INTERNAL_TYPES = {
    "_rperm": "Permissions",
    "_wperm": "Permissions",
    "_hashed_password": "String",
    "_email_verify_token": "String",
    "_perishable_token": "String",
    "_perishable_token_expires_at": "Date",
    "_email_verify_token_expires_at": "Date",
    "_failed_login_count": "Number",
    "_account_lockout_expires_at": "Date",
    "_password_changed_at": "Date",
    "_password_history": "Array",
    "_tombstone": "Boolean",
}
# What Parse Server's createTable adds to `_User` beyond its schema.
_USER_INTERNALS = (
    "_hashed_password",
    "_email_verify_token_expires_at",
    "_email_verify_token",
    "_account_lockout_expires_at",
    "_failed_login_count",
    "_perishable_token",
    "_perishable_token_expires_at",
    "_password_changed_at",
    "_password_history",
)
_RACES = (pg_errors.DuplicateTable, pg_errors.DuplicateColumn, pg_errors.UniqueViolation, pg_errors.DuplicateObject)


def join_table(class_name: str, field: str) -> str:
    return f"_Join:{field}:{class_name}"


def inferred_type(value: Any) -> str:
    """The Parse type of a value written to a field no schema names (system classes, internal fields)."""
    match value:
        case bool():
            return "Boolean"
        case int() | float():
            return "Number"
        case str():
            return "String"
        case datetime():
            return "Date"
        case Pointer() | ParseObject():
            return "Pointer"
        case GeoPoint():
            return "GeoPoint"
        case Polygon():
            return "Polygon"
        case File():
            return "File"
        case list() | tuple():
            return "Array"
        case bytes():
            return "Bytes"
    return "Object"


def field_type(schema: ClassSchema, name: str) -> str | None:
    """The Parse type a column is stored as (None: not a column, as `ACL`, relations and `_User.password`)."""
    internal = INTERNAL_TYPES.get(name)
    if internal is not None:
        return internal
    field = schema.fields.get(name)
    if field is None:
        return None
    if field.type in ("ACL", "Relation") or (schema.name == "_User" and name == "password"):
        return None
    return field.type


def schema_columns(schema: ClassSchema) -> dict[str, str]:
    """The columns a class's table has in Parse's layout: column name to Parse type."""
    columns: dict[str, str] = {"objectId": "String", "createdAt": "Date", "updatedAt": "Date"}
    for name in schema.fields:
        kind = field_type(schema, name)
        if kind is not None:
            columns[name] = kind
    columns["_rperm"] = columns["_wperm"] = "Permissions"
    if schema.name == "_User":
        for name in _USER_INTERNALS:
            columns[name] = INTERNAL_TYPES[name]
    return columns


class Tables:
    """The tables and columns of one database, brought up to the schemas operations use."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.columns: dict[str, dict[str, int]] | None = None
        """Each table's columns, with their positions."""
        self._ready: dict[str, ClassSchema] = {}

    def forget(self) -> None:
        """Read the catalog again next time (after a transaction that made columns rolled back)."""
        self.columns = None
        self._ready.clear()

    async def _load(self) -> dict[str, dict[str, int]]:
        if self.columns is None:
            rows = await self.db.fetch(
                "SELECT table_name, column_name, ordinal_position FROM information_schema.columns"
                " WHERE table_schema = current_schema()"
            )
            columns: dict[str, dict[str, int]] = {}
            for row in rows:
                columns.setdefault(row["table_name"], {})[row["column_name"]] = row["ordinal_position"]
            self.columns = columns
        return self.columns

    async def existing(self, table: str) -> dict[str, int] | None:
        """The columns of a table, or None when it does not exist."""
        return (await self._load()).get(table)

    async def ensure(self, schema: ClassSchema, extra: Mapping[str, str] | None = None) -> dict[str, int]:
        """The class's table with a column for every field of the schema (and `extra`, name to Parse type)."""
        if not extra and self._ready.get(schema.name) is schema:
            return (await self._load())[schema.name]
        wanted = schema_columns(schema)
        if extra:
            wanted.update(extra)
        tables = await self._load()
        existing = tables.get(schema.name)
        if existing is None or not wanted.keys() <= existing.keys():
            await self._refresh(schema.name)
            existing = tables.get(schema.name)
        if existing is None:
            await self._create(schema.name, wanted)
        else:
            missing = {name: kind for name, kind in wanted.items() if name not in existing}
            if missing:
                await self._add_columns(schema.name, missing)
        if not extra:
            self._ready[schema.name] = schema
        return tables[schema.name]

    async def _refresh(self, table: str) -> None:
        rows = await self.db.fetch(
            "SELECT column_name, ordinal_position FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
        tables = await self._load()
        if rows:
            tables[table] = {row["column_name"]: row["ordinal_position"] for row in rows}
        else:
            tables.pop(table, None)

    async def _create(self, table: str, columns: Mapping[str, str]) -> None:
        definitions = [f"{quote(name)} {SQL_TYPES[kind]}" for name, kind in columns.items()]
        definitions.append(f"PRIMARY KEY ({quote('objectId')})")
        await self.ddl(f"CREATE TABLE IF NOT EXISTS {quote(table)} ({', '.join(definitions)})")
        await self._refresh(table)

    async def _add_columns(self, table: str, columns: Mapping[str, str]) -> None:
        for name, kind in columns.items():
            await self.ddl(f"ALTER TABLE {quote(table)} ADD COLUMN IF NOT EXISTS {quote(name)} {SQL_TYPES[kind]}")
        await self._refresh(table)

    async def ensure_join_table(self, class_name: str, field: str) -> None:
        table = join_table(class_name, field)
        if await self.existing(table) is not None:
            return
        await self.ddl(
            f"CREATE TABLE IF NOT EXISTS {quote(table)} "
            '("relatedId" varChar(120), "owningId" varChar(120), PRIMARY KEY("relatedId", "owningId"))'
        )
        # Parse's key leads with relatedId; an owner's related objects, the commonest read, need their own index.
        await self.ddl(f'CREATE INDEX IF NOT EXISTS {quote(table[:54] + "_owningId")} ON {quote(table)} ("owningId")')
        await self._refresh(table)

    async def drop(self, tables: Iterable[str]) -> None:
        for table in tables:
            await self.db.execute(f"DROP TABLE IF EXISTS {quote(table)}")
            (await self._load()).pop(table, None)
            self._ready.pop(table, None)

    async def drop_columns(self, table: str, names: Iterable[str]) -> None:
        for name in names:
            await self.db.execute(f"ALTER TABLE IF EXISTS {quote(table)} DROP COLUMN IF EXISTS {quote(name)}")
        self._ready.pop(table, None)
        await self._refresh(table)

    async def ddl(self, statement: str) -> None:
        """One DDL statement that another writer may race: losing the race is success."""
        try:
            async with self.db.atomic(raw=True) as connection:
                await connection.execute(statement.encode())
        except _RACES:
            log.debug("lost a race to: %s", statement)
