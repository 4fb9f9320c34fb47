"""Class schemas on PostgreSQL: `_SCHEMA` rows (in `catalog`'s format), their tables, and their indexes under
Parse Server's names (`_User_unique_username`, `case_insensitive_email`…)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from app.domain.classes import ClassSchema, FieldType
from app.errors import DuplicateValueError, InvalidQueryError
from app.storage.postgres import catalog
from app.storage.postgres.columns import Tables, field_type, join_table
from app.storage.postgres.connection import Database, quote
from app.storage.postgres.where import json_path

log = logging.getLogger("app.storage.postgres")

_USER = ClassSchema.build("_User", {})
_ROLE = ClassSchema.build("_Role", {})
_IDEMPOTENCY = ClassSchema.build("_Idempotency", {})
# Parse Server's system indexes on PostgreSQL: (name, table, columns, unique, case-insensitive).
SYSTEM_INDEXES = (
    ("_User_unique_username", "_User", ("username",), True, False),
    # Unique here, where Parse Server checks with a query before it writes: one index refuses "Ada" after "ada"
    # under concurrent sign-ups too (a database that already holds such duplicates keeps a plain index).
    ("case_insensitive_username", "_User", ("username",), True, True),
    ("case_insensitive_email", "_User", ("email",), True, True),
    ("_User_unique_email", "_User", ("email",), True, False),
    ("_Role_unique_name", "_Role", ("name",), True, False),
    ("_Idempotency_unique_reqId", "_Idempotency", ("reqId",), True, False),
    ("ttl", "_Idempotency", ("expire",), False, False),
)

# The columns an index definition names (`"userName"`, `lower(username)`), beside SQL's own words.
_COLUMN = re.compile(r'"((?:[^"]|"")+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()')
_NOT_COLUMNS = frozenset(
    {"text", "varchar_pattern_ops", "DESC", "ASC", "NULLS", "FIRST", "LAST", "COALESCE", "english", "regconfig", ""}
)


def _index_expression(key: str, columns: Mapping[str, int]) -> str | None:
    """What an index key names on this table: a column, or a path into an Object column; None if neither."""
    column, _, rest = key.partition(".")
    if column not in columns:
        return None
    if not rest:
        return quote(column)
    return f"({quote(column)} #> {json_path(rest.split('.'))})"


def _index_columns(definition: str) -> list[str]:
    names = []
    for quoted, bare in _COLUMN.findall(definition):
        name = quoted.replace('""', '"') if quoted else bare
        if name not in _NOT_COLUMNS:
            names.append(name)
    return names


class PostgresClasses:
    """The class operations of the storage port, on one database."""

    def __init__(self, db: Database, tables: Tables) -> None:
        self.db = db
        self.tables = tables
        self._catalog_ready = False

    async def ensure_catalog(self) -> None:
        if not self._catalog_ready:
            if await self.tables.existing(catalog.SCHEMA_TABLE) is None:
                await self.tables.ddl(catalog.CREATE_SCHEMA_TABLE)
                self.tables.forget()
            self._catalog_ready = True

    async def load_classes(self) -> list[ClassSchema]:
        await self.ensure_catalog()
        rows = await self.db.fetch(
            f'SELECT "className", "schema" FROM "_SCHEMA" ORDER BY ("schema" ->> \'{catalog.CREATED}\')::numeric'
            ' NULLS FIRST, "className"'
        )
        return [catalog.schema_from_json(row["className"], row["schema"] or {}) for row in rows]

    async def _stored(self, class_name: str) -> dict[str, Any] | None:
        rows = await self.db.fetch('SELECT "schema" FROM "_SCHEMA" WHERE "className" = %s', (class_name,))
        return dict(rows[0]["schema"] or {}) if rows else None

    async def create_class(self, schema: ClassSchema, *, stored_permissions: Mapping[str, Any] | None) -> None:
        await self.ensure_catalog()
        await self.tables.ensure(schema)
        for name in schema.relation_fields:
            await self.tables.ensure_join_table(schema.name, name)
        stored = catalog.schema_json(schema, permissions=stored_permissions)
        inserted = await self.db.execute(
            'INSERT INTO "_SCHEMA" ("className", "schema", "isParseClass") VALUES (%s, %s, true) '
            'ON CONFLICT ("className") DO NOTHING',
            (schema.name, Jsonb(stored)),
        )
        if not inserted:
            raise DuplicateValueError("Class already exists.")
        await self._create_indexes(schema.name, schema.indexes)

    async def add_fields(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        await self.ensure_catalog()
        schema = ClassSchema.build(class_name, fields)
        await self.db.execute(
            'INSERT INTO "_SCHEMA" ("className", "schema", "isParseClass") VALUES (%s, %s, true) '
            'ON CONFLICT ("className") DO NOTHING',
            (class_name, Jsonb(catalog.schema_json(schema, permissions=None))),
        )
        for name, field in fields.items():
            # Only where the field is not there yet: a concurrent writer's type stays if it came first.
            await self.db.execute(
                'UPDATE "_SCHEMA" SET "schema" = jsonb_set(jsonb_set("schema", ARRAY[\'fields\', %s::text], %s::jsonb,'
                f" true), '{{{catalog.FIELD_ORDER}}}', COALESCE(\"schema\" -> '{catalog.FIELD_ORDER}', '[]'::jsonb)"
                ' || to_jsonb(%s::text), true) WHERE "className" = %s AND NOT ("schema" -> \'fields\' ? %s)',
                (name, Jsonb(catalog.field_json(field)), name, class_name, name),
            )
        await self.tables.ensure(schema)
        for name in schema.relation_fields:
            await self.tables.ensure_join_table(class_name, name)

    async def update_field_options(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        for name, field in fields.items():
            await self.db.execute(
                'UPDATE "_SCHEMA" SET "schema" = jsonb_set("schema", ARRAY[\'fields\', %s::text], %s::jsonb, true) '
                'WHERE "className" = %s AND "schema" -> \'fields\' ? %s',
                (name, Jsonb(catalog.field_json(field)), class_name, name),
            )

    async def set_permissions(self, class_name: str, permissions: Mapping[str, Any] | None) -> None:
        if permissions is None:
            await self.db.execute(
                'UPDATE "_SCHEMA" SET "schema" = "schema" - \'classLevelPermissions\' WHERE "className" = %s',
                (class_name,),
            )
            return
        await self.db.execute(
            'UPDATE "_SCHEMA" SET "schema" = jsonb_set("schema", \'{classLevelPermissions}\', %s::jsonb, true) '
            'WHERE "className" = %s',
            (Jsonb(dict(permissions)), class_name),
        )

    async def update_indexes(
        self, schema: ClassSchema, add: Mapping[str, Mapping[str, Any]], drop: Sequence[str]
    ) -> None:
        await self.tables.ensure(schema)
        for name in drop:
            await self.db.execute(f"DROP INDEX IF EXISTS {quote(name)}")
        await self._create_indexes(schema.name, add)
        indexes = {name: spec for name, spec in (schema.indexes or catalog.DEFAULT_INDEXES).items() if name not in drop}
        indexes.update(add)
        await self._set_indexes(schema.name, indexes)

    async def _set_indexes(self, class_name: str, indexes: Mapping[str, Any]) -> None:
        await self.db.execute(
            'UPDATE "_SCHEMA" SET "schema" = jsonb_set("schema", \'{indexes}\', %s::jsonb, true) '
            'WHERE "className" = %s',
            (Jsonb(dict(indexes)), class_name),
        )

    async def _create_indexes(self, class_name: str, indexes: Mapping[str, Mapping[str, Any]]) -> None:
        columns = await self.tables.existing(class_name) or {}
        for name, spec in indexes.items():
            if name == "_id_":
                continue
            expressions = {key: _index_expression(key, columns) for key in spec}
            if None in expressions.values():
                # An index of MongoDB's own layout (`_auth_data_anonymous.id`, a copy's `_p_owner`…).
                log.warning("index %s of %s names no column here: not made on PostgreSQL", name, class_name)
                continue
            if any(value == "text" for value in spec.values()):
                # One field: the expression `$text` searches (in English), so that the search reads the index.
                text = " || ' ' || ".join(f"COALESCE({expression}::text, '')" for expression in expressions.values())
                if len(spec) == 1:
                    text = f"{next(iter(expressions.values()))}::text"
                keys = f"USING gin (to_tsvector('english'::regconfig, {text}))"
            else:
                # Nulls where MongoDB sorts them (first ascending, last descending): the index serves both orders.
                order = {1: " ASC NULLS FIRST", -1: " DESC NULLS LAST"}
                keys = "(" + ", ".join(f"{expressions[key]}{order.get(value, '')}" for key, value in spec.items()) + ")"
            try:
                await self.db.execute(f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(class_name)} {keys}")
            except InvalidQueryError as error:
                raise InvalidQueryError(f"Index {name} could not be created: {error.message}") from None

    async def delete_fields(self, schema: ClassSchema, names: Sequence[str]) -> None:
        columns = [name for name in names if field_type(schema, name) is not None]
        await self.tables.drop_columns(schema.name, columns)
        for name in names:
            await self.db.execute(
                'UPDATE "_SCHEMA" SET "schema" = jsonb_set("schema", \'{fields}\', ("schema" -> \'fields\') - %s::text)'
                f" - '{catalog.FIELD_ORDER}' || jsonb_build_object('{catalog.FIELD_ORDER}', "
                f"COALESCE(\"schema\" -> '{catalog.FIELD_ORDER}', '[]'::jsonb) - %s::text)"
                ' WHERE "className" = %s',
                (name, name, schema.name),
            )
        await self.tables.drop(
            join_table(schema.name, name) for name in names if schema.fields[name].type == "Relation"
        )

    async def delete_class(self, schema: ClassSchema) -> None:
        await self.tables.drop([schema.name, *(join_table(schema.name, name) for name in schema.relation_fields)])
        await self.db.execute('DELETE FROM "_SCHEMA" WHERE "className" = %s', (schema.name,))

    async def ensure_system_indexes(self) -> None:
        """The unique and case-insensitive indexes Parse Server creates at start, under its names."""
        for schema in (_USER, _ROLE, _IDEMPOTENCY):
            await self.tables.ensure(schema, {"reqId": "String", "expire": "Date"} if schema is _IDEMPOTENCY else None)
        for name, table, columns, unique, case_insensitive in SYSTEM_INDEXES:
            keys = ", ".join(
                f"lower({quote(column)}) varchar_pattern_ops" if case_insensitive else quote(column)
                for column in columns
            )
            kind = "UNIQUE INDEX" if unique else "INDEX"
            try:
                await self.db.execute(f"CREATE {kind} IF NOT EXISTS {quote(name)} ON {quote(table)} ({keys})")
            except DuplicateValueError:
                log.warning("index %s cannot be unique: %s holds duplicates; a plain one is made", name, table)
                await self.db.execute(f"CREATE INDEX IF NOT EXISTS {quote(name)} ON {quote(table)} ({keys})")

    async def sync_indexes(self, class_name: str) -> None:
        rows = await self.db.fetch(
            "SELECT i.relname AS name, ix.indisprimary AS primary, "
            "array_agg(pg_get_indexdef(ix.indexrelid, k.n::int, true) ORDER BY k.n) AS keys "
            "FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid "
            "JOIN pg_namespace ns ON ns.oid = t.relnamespace "
            "CROSS JOIN LATERAL generate_series(1, ix.indnkeyatts) AS k(n) "
            "WHERE t.relname = %s AND ns.nspname = current_schema() GROUP BY i.relname, ix.indisprimary",
            (class_name,),
        )
        if not rows:
            return
        indexes: dict[str, dict[str, Any]] = {}
        for row in sorted(rows, key=lambda entry: entry["name"]):
            if row["primary"]:
                indexes["_id_"] = {"_id": 1}
                continue
            spec: dict[str, Any] = {}
            for key in row["keys"]:
                text = "to_tsvector" in key
                for column in _index_columns(key.split("::regconfig")[-1] if text else key):
                    spec[column] = "text" if text else -1 if " DESC" in key else 1
            indexes[row["name"]] = spec
        await self._set_indexes(class_name, indexes)
