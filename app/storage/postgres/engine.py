"""PostgresStorage: the storage port over psycopg 3's async pool, in Parse Server's PostgreSQL layout.

The objects' operations are here; the `where` compiler (`where`), rows (`rows`), tables (`columns`), classes,
relations, config and request ids are each their own module, on the same `Database` (the pool, the task's
transaction and the statement time limit). Reads and writes first bring the class's table up to its schema
(`Tables.ensure`, a dictionary look-up once it is).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from app.domain.classes import ClassSchema
from app.domain.store import Capabilities, Find
from app.domain.values import Pointer, Record
from app.errors import InvalidQueryError
from app.storage.postgres.classes import PostgresClasses
from app.storage.postgres.columns import Tables, field_type
from app.storage.postgres.connection import Database, quote
from app.storage.postgres.errors import unavailable
from app.storage.postgres.global_config import PostgresConfig
from app.storage.postgres.pipelines import STAGES, Pipeline
from app.storage.postgres.relations import PostgresRelations
from app.storage.postgres.request_ids import PostgresRequestIds
from app.storage.postgres.rows import assignments, from_json, record_columns, record_from_row
from app.storage.postgres.where import Compiler, distance

PING_SECONDS = 1.0


class PostgresStorage:
    """Parse Server's PostgreSQL layout; the only class that talks to the driver (through `Database`)."""

    def __init__(
        self, uri: str, *, server_selection_timeout_ms: int = 10_000, max_query_time: float | None = None
    ) -> None:
        self.db = Database(uri, connect_timeout=server_selection_timeout_ms / 1000, max_query_time=max_query_time)
        self.tables = Tables(self.db)
        self.classes = PostgresClasses(self.db, self.tables)
        self.relations = PostgresRelations(self.db, self.tables)
        self.config = PostgresConfig(self.db, self.tables)
        self.request_ids = PostgresRequestIds(self.db)
        self._capabilities = Capabilities(
            engine="PostgreSQL",
            # PostgreSQL interrupts a pattern match at statement_timeout: with a limit, a match is bounded.
            bounded_pattern_matching=bool(max_query_time),
            pipeline_stages=STAGES,
            # One server answers every read: each preference is met by the primary (as Parse's adapter does).
            read_preferences=True,
        )

    async def close(self) -> None:
        await self.db.close()

    async def ping(self) -> None:
        # Within about a second, as the port asks: waiting for the pool's own timeout (--database-timeout) would let
        # a database that is down for less than that look up the whole time.
        try:
            async with asyncio.timeout(PING_SECONDS):
                await self.db.fetch("SELECT 1")
        except (OSError, TimeoutError) as error:
            raise unavailable(self.db.failure or error) from None

    async def capabilities(self) -> Capabilities:
        return self._capabilities

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        try:
            async with self.db.transaction():
                yield
        except BaseException:
            self.tables.forget()  # columns made inside are gone with the rollback
            raise

    # Objects ----------------------------------------------------------------------------------------

    async def purge(self, schema: ClassSchema) -> None:
        if await self.tables.existing(schema.name) is not None:
            await self.db.execute(f"DELETE FROM {quote(schema.name)}")

    def _condition(self, compiler: Compiler, query: Find, acl_column: str = "_rperm") -> str:
        condition = compiler.where(query.where)
        if query.acl is None:
            return condition
        # A missing ACL means public, as Parse Server reads it.
        compiler.params.append(sorted(query.acl))
        column = quote(acl_column)
        return f"{condition} AND ({column} IS NULL OR {column} && %s::text[])"

    async def find(self, schema: ClassSchema, query: Find) -> list[Record]:
        if query.limit == 0:
            return []
        columns = await self.tables.ensure(schema)
        params: list[Any] = []
        compiler = Compiler(schema, columns, params, case_insensitive=query.case_insensitive)
        condition = self._condition(compiler, query, "_wperm" if query.for_write else "_rperm")
        statement = f"SELECT {_select(schema, query.keys, columns)} FROM {quote(schema.name)} WHERE {condition}"
        statement += _order(compiler, query.order)
        if query.limit is not None:
            statement += " LIMIT %s"
            params.append(query.limit)
        if query.skip:
            statement += " OFFSET %s"
            params.append(query.skip)
        rows = await self.db.fetch(statement, params)
        return [record_from_row(schema, row) for row in rows]

    async def explain(self, schema: ClassSchema, query: Find) -> dict[str, Any]:
        raise NotImplementedError("PostgreSQL does not claim query_plans")

    async def count(self, schema: ClassSchema, query: Find) -> int:
        columns = await self.tables.ensure(schema)
        params: list[Any] = []
        condition = self._condition(Compiler(schema, columns, params), query)
        rows = await self.db.fetch(f"SELECT count(*) AS n FROM {quote(schema.name)} WHERE {condition}", params)
        return int(rows[0]["n"])

    async def distinct(self, schema: ClassSchema, field: str, query: Find) -> list[Any]:
        columns = await self.tables.ensure(schema)
        params: list[Any] = []
        compiler = Compiler(schema, columns, params)
        condition = self._condition(compiler, query)
        reference, kind = compiler.reference(field)
        if kind is None:
            return []
        table = quote(schema.name)
        if kind == "Array":
            statement = (
                f"SELECT DISTINCT e.v AS value FROM {table}, jsonb_array_elements({reference}) AS e(v) "
                f"WHERE jsonb_typeof({reference}) = 'array' AND {condition}"
            )
        else:
            statement = (
                f"SELECT DISTINCT {reference} AS value FROM {table} WHERE {reference} IS NOT NULL AND {condition}"
            )
            # The reference's own parameters (a path) come before the condition's.
        rows = await self.db.fetch(statement, params)
        values = [row["value"] for row in rows]
        if kind in ("Array", "Json", "Object"):
            return [from_json(value) for value in values if value is not None]
        if kind == "Pointer":
            target = schema.fields[field].target_class or ""
            return [Pointer(target, value) for value in values]
        if kind == "Number":
            return [from_json(value) for value in values]
        return [record_from_row(schema, {field: value}).get(field, value) for value in values]

    async def aggregate(self, schema: ClassSchema, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        compiled = Pipeline(schema, await self.tables.ensure(schema))
        for stage in pipeline:
            if not isinstance(stage, dict) or len(stage) != 1:
                raise InvalidQueryError("Pipeline stages should only have one key.")
            [(name, body)] = stage.items()
            compiled.add(name, body)
        rows = await self.db.fetch(compiled.statement(), compiled.params)
        return [compiled.record(row["doc"]) for row in rows]

    async def insert(self, schema: ClassSchema, record: Record) -> None:
        columns = record_columns(schema, record)
        existing = await self.tables.ensure(schema)
        missing = {name: kind for name, (_, _, kind) in columns.items() if name not in existing}
        if missing:
            await self.tables.ensure(schema, missing)
        names = ", ".join(quote(name) for name in columns)
        placeholders = ", ".join(placeholder for placeholder, _, _ in columns.values())
        await self.db.execute(
            f"INSERT INTO {quote(schema.name)} ({names}) VALUES ({placeholders})",
            [parameter for _, parameter, _ in columns.values()],
        )

    async def update(
        self,
        schema: ClassSchema,
        object_id: str,
        where: Mapping[str, Any],
        changes: Mapping[str, Any],
        acl: frozenset[str] | None,
    ) -> Record | None:
        existing = await self.tables.ensure(schema)
        (setting, params), missing = assignments(schema, changes, existing)
        if missing:
            existing = await self.tables.ensure(schema, missing)
            (setting, params), _ = assignments(schema, changes, existing)
        compiler = Compiler(schema, existing, params)
        condition = self._condition(compiler, Find({**where, "objectId": object_id}, acl=acl), "_wperm")
        table = quote(schema.name)
        # The row before the change, locked, then changed: one statement, atomic.
        returned = ", ".join(f"prior.{quote(column)}" for column in existing)
        rows = await self.db.fetch(
            f"UPDATE {table} AS t SET {setting} FROM (SELECT * FROM {table} WHERE {condition} FOR UPDATE) AS prior "
            f'WHERE t."objectId" = prior."objectId" RETURNING {returned}',
            params,
        )
        return record_from_row(schema, rows[0]) if rows else None

    async def delete(
        self, schema: ClassSchema, object_id: str, where: Mapping[str, Any], acl: frozenset[str] | None
    ) -> bool:
        columns = await self.tables.ensure(schema)
        params: list[Any] = []
        condition = self._condition(
            Compiler(schema, columns, params), Find({**where, "objectId": object_id}, acl=acl), "_wperm"
        )
        return await self.db.execute(f"DELETE FROM {quote(schema.name)} WHERE {condition}", params) > 0


def _select(schema: ClassSchema, keys: frozenset[str] | None, columns: Mapping[str, int]) -> str:
    if keys is None:
        # Named, not `*`: a prepared statement's result must not change when another field adds a column.
        return ", ".join(quote(column) for column in columns)
    selected: list[str] = []
    # In the table's order (a set has none), as `*` would list them.
    for name in sorted(keys, key=lambda key: (columns.get(key.split(".", 1)[0], 0), key)):
        column = name.split(".", 1)[0]
        if name == "ACL":
            selected += ["_rperm", "_wperm"]
        elif name == "authData" and schema.name == "_User":
            continue
        elif column in columns and (field_type(schema, column) is not None or column == "objectId"):
            selected.append(column)
    return ", ".join(quote(column) for column in dict.fromkeys(selected))


def _order(compiler: Compiler, order: Sequence[tuple[str, int]]) -> str:
    """ORDER BY as MongoDB sorts: a missing value first when ascending; by distance after any explicit order."""
    terms: list[str] = []
    for name, direction in order:
        if name == "$score":
            if compiler.rank is not None:
                text, params = compiler.rank
                compiler.params.extend(params)
                terms.append(f"{text} DESC")
            continue
        reference, kind = compiler.reference(name)
        if kind is None:
            continue
        terms.append(f"{reference} ASC NULLS FIRST" if direction > 0 else f"{reference} DESC NULLS LAST")
    if compiler.near is not None:
        column, point = compiler.near
        terms.append(f"{distance(column, point, compiler.params)} ASC")
    # No order asked, none given: an unsorted find comes in the table's order, as Parse Server on PostgreSQL
    # answers it, so that an equality on an indexed field with a limit reads only that many rows of its index
    # (sorting by createdAt read every match: 6 ms at a thousand matches, growing with the class).
    return " ORDER BY " + ", ".join(terms) if terms else ""
