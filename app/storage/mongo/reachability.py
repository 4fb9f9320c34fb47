"""Whether the database answers: pymongo's connection errors as `DatabaseUnavailableError`, logged once per
outage, and calls answered within about a second while the database is known to be down.

Every public coroutine of a storage class marked `@guarded_methods` goes through its `Reachability`. While the
database answers, that costs one look at pymongo's (immutable, shared) topology description. A call that fails
because the database cannot be reached (pymongo's `ConnectionFailure` family: server selection timed out, a
connection refused, reset or timed out; or a server shutting down) answers `DatabaseUnavailableError`, and the
outage is logged once. From then on, and as soon as pymongo has seen a server fail, each call first awaits a
probe: one `ping` bounded by `probe_timeout`, shared by every call that arrives meanwhile. A failed probe answers
the call at once, so a client gets its 503 after about a second instead of a full server selection; the first
probe that succeeds ends the outage (logged too). A call already inside pymongo when the database goes away
waits at most the client's server selection timeout (`database_timeout`, 3 s by default), and pymongo retries
it once: across a quick restart it succeeds. `/health` asks the same probe (`ping`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import bson
import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError
from pymongo.topology_description import TopologyDescription

from app.errors import DatabaseUnavailableError

log = logging.getLogger("app.storage")

# MongoDB's codes for a server shutting down or stepping down: it cannot take this call, another server may.
_GOING_AWAY = frozenset({91, 189, 10107, 11600, 11602, 13435, 13436})
PROBE_TIMEOUT = 1.0
"""Seconds a probe of an unreachable database waits for an answer (also `/health`'s bound)."""

T = TypeVar("T")


def is_unreachable(error: BaseException) -> bool:
    """Whether a driver error means the database cannot be reached, rather than that it refused this call."""
    if isinstance(error, ConnectionFailure):
        return True
    return isinstance(error, OperationFailure) and error.code in _GOING_AWAY


def _reason(error: BaseException) -> str:
    # A server selection error ends with the whole topology description: the first part says what failed.
    return str(error).split(", Timeout:")[0][:300] or type(error).__name__


class Reachability:
    """One database client's view of whether the database answers, shared by every store on that client."""

    def __init__(self, client: AsyncMongoClient[Any], *, probe_timeout: float = PROBE_TIMEOUT) -> None:
        self.client = client
        self.probe_timeout = probe_timeout
        self.down_since: float | None = None
        self._probe: asyncio.Future[bool] | None = None
        self._trusted: TopologyDescription | None = None

    @property
    def suspect(self) -> bool:
        """Whether a call should wait for a probe first: an outage is known, or pymongo saw a server fail."""
        if self.down_since is not None:
            return True
        description = self.client.topology_description
        if description is self._trusted:
            return False
        if any(server.error is not None for server in description.server_descriptions().values()):
            return True
        self._trusted = description
        return False

    async def require(self) -> None:
        """Return once a probe (this call's, or one already running) found the database; else raise."""
        probe = self._probe
        if probe is None:
            probe = self._probe = asyncio.ensure_future(self._run_probe())
        # Shielded: a caller that gives up (its client left) must not cancel the probe the others wait on.
        if not await asyncio.shield(probe):
            raise DatabaseUnavailableError()

    async def _run_probe(self) -> bool:
        try:
            with pymongo.timeout(self.probe_timeout):
                await self.client.admin.command("ping")
        except PyMongoError as error:
            # Any failure counts here, a timeout included: a database that does not answer a ping is not usable.
            self.lost(error)
            return False
        else:
            self.recovered()
            return True
        finally:
            self._probe = None

    def lost(self, error: BaseException) -> DatabaseUnavailableError:
        """Note an outage (logged once, when it starts); the error a caller answers."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.error("the database is unreachable (%s); requests answer 503 until it is back", _reason(error))
        return DatabaseUnavailableError()

    def recovered(self) -> None:
        self._trusted = self.client.topology_description
        if self.down_since is not None:
            log.warning("the database is reachable again, after %.1f s", time.monotonic() - self.down_since)
            self.down_since = None


async def insert_once(
    collection: AsyncCollection[dict[str, Any]], document: dict[str, Any], session: AsyncClientSession | None = None
) -> None:
    """`insert_one`, where a duplicate of this very document counts as done: pymongo retries a write once when
    the connection breaks, and a database that wrote it before dying, and forgot the retry's id with its memory
    (SecantusDB does; MongoDB keeps it), refuses the retry as a duplicate of itself."""
    try:
        await collection.insert_one(document, session=session)
    except DuplicateKeyError:
        if session is not None:
            raise  # inside a transaction: pymongo retries the commit, not each write (and the error ended it)
        stored = await collection.find_one({"_id": document["_id"]})
        if stored is None or _as_stored(stored) != _as_stored(document):
            raise


def _as_stored(document: dict[str, Any]) -> dict[str, Any]:
    # Through BSON, as the database keeps it (dates to the millisecond).
    return bson.decode(bson.encode(document), codec_options=bson.CodecOptions(tz_aware=True))


def guarded_methods(cls: type[T]) -> type[T]:
    """Route every public coroutine (and async generator) method of a storage class, whose instances hold a
    `reachability`, through it; `close` and `ping` stay as they are."""
    for name, member in list(vars(cls).items()):
        if name.startswith("_") or name in ("close", "ping"):
            continue
        if inspect.iscoroutinefunction(member):
            setattr(cls, name, _guarded(member))
        elif inspect.isasyncgenfunction(member):
            setattr(cls, name, _guarded_stream(member))
    return cls


def _guarded(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    async def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        reachability: Reachability = self.reachability
        if reachability.suspect:
            await reachability.require()
        try:
            return await method(self, *args, **kwargs)
        except PyMongoError as error:
            if not is_unreachable(error):
                raise
            raise reachability.lost(error) from None

    return call


def _guarded_stream(method: Callable[..., AsyncIterator[Any]]) -> Callable[..., AsyncIterator[Any]]:
    @functools.wraps(method)
    async def stream(self: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        reachability: Reachability = self.reachability
        if reachability.suspect:
            await reachability.require()
        try:
            async with contextlib.aclosing(method(self, *args, **kwargs)) as items:  # type: ignore[type-var]
                async for item in items:
                    yield item
        except PyMongoError as error:
            if not is_unreachable(error):
                raise
            raise reachability.lost(error) from None

    return stream
