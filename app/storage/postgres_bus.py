"""Writes shared between server instances through PostgreSQL's LISTEN/NOTIFY, so instances on one PostgreSQL need
no Redis for each other's live queries.

Each instance publishes the writes it makes (`bus_messages`: BSON, base64 in the notification's text) with
`pg_notify` on one channel per application, and replays the others' into its own sinks, as `RedisBus` does. A
notification carries at most 8,000 bytes: a larger write goes into the table `_parseql_bus` and the notification
carries its sender and row id only ("ref:<sender>:<id>"); rows are removed a few minutes later by whichever
instance publishes. The bus has two connections of its own: one listens (a listening connection runs no other
query while it waits), the other sends and reads the large messages.

A write is never held by the bus: `publish` queues its message, and one task sends what has queued in a single
round trip (`pg_notify` over an array), in order. The queue is bounded: if PostgreSQL stops taking messages, the
oldest are dropped and that is logged once. If PostgreSQL is unreachable, writes fail anyway; the listener
reconnects once it is back (instances miss what was written meanwhile, as with Redis).
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from app.domain.events import WriteEvent
from app.storage.bus_messages import REPLAYED, encode, replay_message
from app.storage.postgres.connection import connection_options

log = logging.getLogger("app.bus")

TABLE = "_parseql_bus"
INLINE_LIMIT = 7_900
"""PostgreSQL refuses a notification payload of 8,000 bytes or more; a little room is kept."""
KEEP_SECONDS = 300
"""How long a large message stays in the table: long past any listener reading it."""
QUEUE_LIMIT = 10_000
"""Messages waiting to be sent, at most; beyond it the oldest go (a stalled database must not grow memory)."""
SEND_BATCH = 200
_RETRY_SECONDS = 1.0
APPLICATION_NAME = "parseql-bus"
"""How the bus's connections name themselves to PostgreSQL (`pg_stat_activity`), beside the pool's `parseql`."""


class PostgresBus:
    def __init__(self, uri: str, app_id: str, replay: Callable[[WriteEvent], Awaitable[None]]) -> None:
        self.uri = uri
        # A channel is an identifier: at most 63 bytes, quoted where it is named in SQL.
        self.channel = f"parseql_{app_id}"[:63]
        self.replay = replay
        self.origin = uuid.uuid4().bytes
        self._publisher: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._publishing = asyncio.Lock()
        self._listener: asyncio.Task[None] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._queue: collections.deque[str] = collections.deque(maxlen=QUEUE_LIMIT)
        self._queued = asyncio.Event()
        self._ready = asyncio.Event()
        self._failing = False
        self._pruned = 0.0

    async def start(self) -> None:
        """Listen for the other instances' writes; returns once listening (or after the first failure)."""
        loop = asyncio.get_running_loop()
        self._listener = loop.create_task(self._listen(), name="postgres-bus")
        self._sender = loop.create_task(self._send_queued(), name="postgres-bus-sender")
        await self._ready.wait()

    async def close(self) -> None:
        for task in (self._listener, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._publisher is not None:
            await self._publisher.close()

    async def publish(self, event: WriteEvent) -> None:
        if event.auth is REPLAYED:
            return  # a write of another instance, replayed here
        if len(self._queue) == QUEUE_LIMIT and not self._failing:
            log.error("PostgreSQL takes no write messages; other instances miss the oldest until it is back")
            self._failing = True
        self._queue.append(base64.b64encode(encode(self.origin, event)).decode("ascii"))
        self._queued.set()

    async def _send_queued(self) -> None:
        while True:
            await self._queued.wait()
            self._queued.clear()
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(SEND_BATCH, len(self._queue)))]
                try:
                    async with self._publishing:
                        connection = await self._connection()
                        payloads = [
                            await self._store(connection, payload) if len(payload) > INLINE_LIMIT else payload
                            for payload in batch
                        ]
                        await connection.execute(
                            "SELECT pg_notify(%s, payload) FROM unnest(%s::text[]) WITH ORDINALITY AS m(payload, n)"
                            " ORDER BY n",
                            (self.channel, payloads),
                        )
                except psycopg.Error as error:
                    if not self._failing:
                        log.error("cannot publish writes to PostgreSQL (%s); other instances miss them", error)
                    self._failing = True
                    if self._publisher is not None:
                        await self._publisher.close()
                        self._publisher = None
                    await asyncio.sleep(_RETRY_SECONDS)
                else:
                    self._failing = False

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        # The URI as the engine's pool takes it, its TLS parameters (sslmode, sslrootcert, …) included.
        conninfo = make_conninfo(self.uri, **connection_options(self.uri, APPLICATION_NAME))
        return await psycopg.AsyncConnection.connect(conninfo, autocommit=True)

    async def _connection(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._publisher is None or self._publisher.closed:
            self._publisher = await self._connect()
            await self._publisher.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (id bigserial PRIMARY KEY, body text, at timestamptz DEFAULT now())"
                ).format(sql.Identifier(TABLE))
            )
        return self._publisher

    async def _store(self, connection: psycopg.AsyncConnection[tuple[object, ...]], payload: str) -> str:
        """Put a message too large for a notification into the table; the reference to notify instead."""
        table = sql.Identifier(TABLE)
        if time.monotonic() - self._pruned > 60:
            self._pruned = time.monotonic()
            await connection.execute(
                sql.SQL("DELETE FROM {} WHERE at < now() - make_interval(secs => %s)").format(table), (KEEP_SECONDS,)
            )
        cursor = await connection.execute(
            sql.SQL("INSERT INTO {} (body) VALUES (%s) RETURNING id").format(table), (payload,)
        )
        row = await cursor.fetchone()
        assert row is not None
        return f"ref:{self.origin.hex()}:{row[0]}"

    async def _listen(self) -> None:
        while True:
            try:
                async with await self._connect() as connection:
                    await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self._ready.set()
                    log.info("listening for other instances' writes on PostgreSQL channel %s", self.channel)
                    async for notification in connection.notifies():
                        await self._receive(notification.payload)
            except psycopg.Error as error:
                log.error("PostgreSQL bus connection lost (%s); retrying in %.0f s", error, _RETRY_SECONDS)
                self._ready.set()
                await asyncio.sleep(_RETRY_SECONDS)

    async def _receive(self, payload: str) -> None:
        try:
            if payload.startswith("ref:"):
                _, sender, row_id = payload.split(":")
                if sender == self.origin.hex():
                    return  # its own: handled in process already
                async with self._publishing:
                    cursor = await (await self._connection()).execute(
                        sql.SQL("SELECT body FROM {} WHERE id = %s").format(sql.Identifier(TABLE)), (int(row_id),)
                    )
                    row = await cursor.fetchone()
                if row is None:
                    log.error("a large write message on %s was gone before it was read", self.channel)
                    return
                payload = str(row[0])
            data = base64.b64decode(payload)
        except psycopg.Error as error:
            log.error("cannot read a large write message on %s (%s); it is lost to this instance", self.channel, error)
            return
        except ValueError:
            log.error("ignoring a malformed write message on %s", self.channel)
            return
        await replay_message(self.origin, data, self.replay, self.channel)
