"""One MongoDB database as each part of the engine uses it: its client, the task's transaction, the time limit.

Every read carries the query time limit (`maxTimeMS`, the setting `max_query_time`), and this side stops
waiting a little after it, in case the database does not stop (SecantusDB checks its limit only between
documents); either way the caller gets code 124. Writes carry the limit on their filter where the driver
takes it, and are never cut off from this side: a write abandoned here might still be applied there, and
its outcome would be unknown.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from types import TracebackType
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from app.errors import AppError, RequestTimeoutError
from app.storage.mongo.deadlines import DeadlineExceeded, Deadlines
from app.storage.mongo.errors import is_timeout, query_error
from app.storage.mongo.reachability import Reachability, is_unreachable

log = logging.getLogger("app.storage.mongo")

_current_session: ContextVar[AsyncClientSession | None] = ContextVar("parseql_mongo_session", default=None)
_GRACE = 1.0  # seconds this side waits past the time limit for the database's own answer


class Connection:
    """The client of one database, shared by the engine's objects, classes, relations and config."""

    def __init__(
        self, uri: str, *, server_selection_timeout_ms: int = 10_000, max_query_time: float | None = None
    ) -> None:
        self.client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            uri, tz_aware=True, serverSelectionTimeoutMS=server_selection_timeout_ms, appname="parseql"
        )
        self.db: AsyncDatabase[dict[str, Any]] = self.client.get_default_database("parse")
        self.max_query_time = max_query_time
        self.deadlines = None if max_query_time is None else Deadlines(max_query_time + _GRACE)
        self.reachability = Reachability(self.client)

    def collection(self, name: str) -> AsyncCollection[dict[str, Any]]:
        return self.db[name]

    def session(self) -> AsyncClientSession | None:
        """The transaction this task runs in, if any (context variables follow the tasks a batch starts)."""
        return _current_session.get()

    def limit(self, name: str = "maxTimeMS") -> dict[str, Any]:
        """The time limit as a command argument (`max_time_ms` for pymongo's cursor helpers)."""
        return {} if self.max_query_time is None else {name: max(1, round(self.max_query_time * 1000))}

    def read(self) -> TimedRead:
        """A read under the time limit: answered 124 when the database stops it, or when it does not answer
        within a second more (pymongo closes the connection of a cancelled command)."""
        return TimedRead(self)

    def timed_out(self) -> RequestTimeoutError:
        limit = f" ({self.max_query_time:g} s)" if self.max_query_time is not None else ""
        return RequestTimeoutError(f"Request timed out: the query ran longer than this server allows{limit}.")

    def query_error(self, error: PyMongoError) -> AppError | PyMongoError:
        if is_timeout(error):
            return self.timed_out()
        return query_error(error)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        if _current_session.get() is not None:
            yield  # already inside one: MongoDB has no nested transactions
            return
        if self.reachability.suspect:
            await self.reachability.require()
        try:
            async with self.client.start_session() as session, await session.start_transaction():
                token = _current_session.set(session)
                try:
                    yield
                finally:
                    _current_session.reset(token)
        except PyMongoError as error:
            # Starting or committing; what ran inside raised the storage's own errors already.
            if not is_unreachable(error):
                raise
            raise self.reachability.lost(error) from None


class TimedRead:
    """`async with connection.read():` (a class, not a generator: it wraps every read, and costs a third as much)."""

    __slots__ = ("connection", "read")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.read = None if connection.deadlines is None else connection.deadlines.read()

    async def __aenter__(self) -> None:
        if self.read is not None:
            await self.read.__aenter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.read is not None:
            try:
                await self.read.__aexit__(kind, error, trace)
            except DeadlineExceeded:
                log.warning("a query outlived its time limit by %g s; its connection was closed", _GRACE)
                raise self.connection.timed_out() from None
        if isinstance(error, PyMongoError) and is_timeout(error):
            raise self.connection.timed_out() from None
