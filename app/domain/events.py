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
    """Writes shared with other server instances (Redis pub/sub): publishes ours, replays theirs."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class Subscribers:
    """Every sink that hears about writes (the session cache today; hooks and live queries as they come)."""

    def __init__(self, sinks: list[EventSink] | None = None) -> None:
        self.sinks: list[EventSink] = list(sinks or [])

    async def publish(self, event: WriteEvent) -> None:
        for sink in self.sinks:
            await sink.publish(event)
