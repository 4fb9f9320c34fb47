"""What a write tells the rest of the system: the object before and after, for hooks and live queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from app.domain.acl import Auth
from app.domain.classes import ClassSchema
from app.domain.values import Record


@dataclass(frozen=True, slots=True)
class WriteEvent:
    kind: Literal["create", "update", "delete"]
    schema: ClassSchema
    after: Record | None
    before: Record | None
    auth: Auth


class EventSink(Protocol):
    async def publish(self, event: WriteEvent) -> None: ...


class EventBus(EventSink, Protocol):
    """Writes shared between server instances: publishes this one's, replays the others' into this one's sinks.

    Every write is heard in this process first (`Subscribers`); the bus only carries it to the other instances.
    `InProcessBus` is the bus of a single instance, `app.storage.redis_bus.RedisBus` the one across instances.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class InProcessBus:
    """The bus of a single instance: its writes are heard in process already, and no other instance writes."""

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def publish(self, event: WriteEvent) -> None:
        pass


class Subscribers:
    """Every sink that hears about writes (the session cache today; hooks and live queries as they come)."""

    def __init__(self, sinks: list[EventSink] | None = None) -> None:
        self.sinks: list[EventSink] = list(sinks or [])

    async def publish(self, event: WriteEvent) -> None:
        for sink in self.sinks:
            await sink.publish(event)
