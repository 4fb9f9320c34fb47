"""One PostgreSQL database as each part of the engine uses it: a pool, the task's transaction, the time limit.

Every statement runs under `statement_timeout` (the setting `max_query_time`): PostgreSQL interrupts a statement,
a pattern match included, when it passes the limit, and the caller gets code 124. A transaction (`/batch` with
`transaction: true`) holds one connection for the task and the tasks it starts (a context variable), and every
statement inside runs on it. Driver errors leave through `errors.translate`.

The pool opens connections in the background and, when it cannot, only says so to its own log; a caller waiting
for one gets a timeout without the cause. So every connection the pool opens reports to its `Database`, which
keeps why the last attempt failed (`failure`) until one succeeds: an outage answer then says why (a certificate
refused, a login refused), and a server refuses to start on a database that will never take its connections.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Self

import orjson
import psycopg
from psycopg import AsyncConnection, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from app.errors import RequestTimeoutError
from app.storage.postgres.errors import translate, unavailable

Connection = AsyncConnection[DictRow]
observers: list[Callable[[str], None]] = []
"""Called with every statement before it is sent (tests count them, as pymongo's monitoring counts commands)."""
_current: ContextVar[Connection | None] = ContextVar("parseql_postgres_transaction", default=None)


@lru_cache(maxsize=4096)
def quote(name: str) -> str:
    """An identifier (table, column, index) quoted as the driver quotes it."""
    return sql.Identifier(name).as_string()


def _dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _reporting_to(database: Database) -> type[Connection]:
    """The pool's connection class for `database`: each attempt to connect leaves its failure, or None, there."""

    class Reporting(AsyncConnection[DictRow]):
        @classmethod
        async def connect(cls, conninfo: str = "", **kwargs: Any) -> Self:
            try:
                connection = await super().connect(conninfo, **kwargs)
            except psycopg.OperationalError as error:
                database.failure = error
                raise
            database.failure = None
            return connection

    return Reporting


def connection_options(uri: str, application_name: str, server_options: str | None = None) -> dict[str, str]:
    """What ParseQL adds to a URI's own connection parameters, without overriding them: its application name unless
    the URI names one, and `server_options` (`-c name=value`) after the URI's own `options` (`search_path`…)."""
    given = conninfo_to_dict(uri)
    added = {} if "application_name" in given else {"application_name": application_name}
    if server_options:
        added["options"] = f"{given['options']} {server_options}" if given.get("options") else server_options
    return added


class Database:
    """The pool of one database, shared by the engine's objects, classes, relations and config."""

    def __init__(self, uri: str, *, connect_timeout: float = 10.0, max_query_time: float | None = None) -> None:
        self.uri = uri
        self.max_query_time = max_query_time
        self.failure: psycopg.OperationalError | None = None
        """Why the pool's last attempt to connect failed; None once one succeeds."""
        limit = None if max_query_time is None else f"-c statement_timeout={max(1, round(max_query_time * 1000))}"
        options = connection_options(uri, "parseql", limit)
        self.pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            uri,
            min_size=1,
            max_size=20,
            kwargs={"autocommit": True, "row_factory": dict_row, **options},
            configure=self._configure,
            connection_class=_reporting_to(self),
            timeout=connect_timeout,
            open=False,
        )
        self._opened = False

    @staticmethod
    async def _configure(connection: Connection) -> None:
        set_json_loads(orjson.loads, connection)
        set_json_dumps(_dumps, connection)

    async def close(self) -> None:
        if self._opened:
            await self.pool.close()

    def timed_out(self) -> RequestTimeoutError:
        limit = f" ({self.max_query_time:g} s)" if self.max_query_time is not None else ""
        return RequestTimeoutError(f"Request timed out: the query ran longer than this server allows{limit}.")

    @asynccontextmanager
    async def connection(self, *, raw: bool = False) -> AsyncIterator[Connection]:
        """The task's transaction connection, or one from the pool; driver errors come out translated (`raw`:
        as the driver raised them, for a caller that expects some)."""
        current = _current.get()
        if current is not None:
            try:
                yield current
            except psycopg.Error as error:
                if raw:
                    raise
                raise translate(error, self.timed_out()) from None
            return
        if not self._opened:
            self._opened = True
            await self.pool.open(wait=False)
        try:
            async with self.pool.connection() as connection:
                yield connection
        except PoolTimeout as error:
            raise unavailable(self.failure or error) from None
        except psycopg.Error as error:
            if raw:
                raise
            raise translate(error, self.timed_out()) from None

    async def fetch(self, query: str, params: Sequence[Any] = ()) -> list[DictRow]:
        for observer in observers:
            observer(query)
        async with self.connection() as connection:
            cursor = await connection.execute(query.encode(), params)  # bytes: built here, never from values
            return await cursor.fetchall()

    async def execute(self, query: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; the number of rows it touched."""
        for observer in observers:
            observer(query)
        async with self.connection() as connection:
            cursor = await connection.execute(query.encode(), params)
            return cursor.rowcount

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if _current.get() is not None:
            yield  # already inside one: its savepoints are not needed by Parse's batches
            return
        async with self.connection() as connection, connection.transaction():
            token = _current.set(connection)
            try:
                yield
            finally:
                _current.reset(token)

    @asynccontextmanager
    async def atomic(self, *, raw: bool = False) -> AsyncIterator[Connection]:
        """Several statements that commit together (inside the task's transaction, a savepoint of it)."""
        async with self.connection(raw=raw) as connection, connection.transaction():
            yield connection
