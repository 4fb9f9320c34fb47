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
