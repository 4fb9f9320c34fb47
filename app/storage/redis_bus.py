"""Writes shared between server instances over Redis pub/sub, so every instance's live queries see them.

Each instance publishes the writes it makes (the object before and after, and its class schema, in
Parse's stored form as BSON) on one channel per application, and replays the writes of the others
into its own sinks: the live query hub, and the session cache that a role or session change makes
stale. An instance ignores its own messages: it has already handled them in process. If Redis is
unreachable, writes still succeed (they are in the database); instances just stop hearing each
other until it is back, and the outage is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.domain.events import WriteEvent
from app.storage.bus_messages import REPLAYED, encode, replay_message

log = logging.getLogger("app.bus")

_RETRY_SECONDS = 1.0


class RedisBus:
    def __init__(self, url: str, app_id: str, replay: Callable[[WriteEvent], Awaitable[None]]) -> None:
        self.client: redis.Redis = redis.from_url(url)
        self.channel = f"parseql:{app_id}:writes"
        self.replay = replay
        self.origin = uuid.uuid4().bytes
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._failing = False

    async def start(self) -> None:
        """Listen for the other instances' writes; returns once subscribed (or after the first failure)."""
        self._listener = asyncio.get_running_loop().create_task(self._listen(), name="redis-bus")
        await self._ready.wait()

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self.client.aclose()

    async def publish(self, event: WriteEvent) -> None:
        if event.auth is REPLAYED:
            return  # a write of another instance, replayed here
        try:
            await self.client.publish(self.channel, encode(self.origin, event))
        except RedisError as error:
            if not self._failing:
                log.error("cannot publish writes to Redis (%s); other instances miss them until it is back", error)
            self._failing = True
        else:
            self._failing = False

    async def _listen(self) -> None:
        while True:
            pubsub = self.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._ready.set()
                log.info("listening for other instances' writes on Redis channel %s", self.channel)
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                    if message is not None and message.get("type") == "message":
                        await self._receive(message["data"])
            except RedisError as error:
                log.error("Redis subscription lost (%s); retrying in %.0f s", error, _RETRY_SECONDS)
                self._ready.set()
                await asyncio.sleep(_RETRY_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed in newer redis releases

    async def _receive(self, data: bytes) -> None:
        await replay_message(self.origin, data, self.replay, self.channel)
