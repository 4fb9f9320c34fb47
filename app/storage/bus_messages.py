"""A write as the buses between instances carry it: the object before and after, and its class schema, in Parse's
stored form as BSON, with the sending instance's id so that it can ignore its own."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import bson

from app.domain.acl import Auth
from app.domain.events import WriteEvent
from app.storage.mongo.catalog import document_from_schema, schema_from_document
from app.storage.mongo.documents import from_document, to_document

log = logging.getLogger("app.bus")

REPLAYED = Auth()
"""The writer of a replayed event: unknown here, and never used by live queries."""


def encode(origin: bytes, event: WriteEvent) -> bytes:
    schema = event.schema
    message: dict[str, Any] = {
        "origin": origin,
        "kind": event.kind,
        "schema": document_from_schema(schema, permissions=schema.permissions),
    }
    if event.after is not None:
        message["after"] = to_document(schema, event.after)
    if event.before is not None:
        message["before"] = to_document(schema, event.before)
    return bson.encode(message)


def decode(origin: bytes, data: bytes) -> WriteEvent | None:
    """The event in `data`; None when this instance (`origin`) sent it."""
    message: dict[str, Any] = bson.decode(data, codec_options=bson.CodecOptions(tz_aware=True))
    if message.get("origin") == origin:
        return None
    schema = schema_from_document(message["schema"])
    after = from_document(schema, message["after"]) if "after" in message else None
    before = from_document(schema, message["before"]) if "before" in message else None
    return WriteEvent(message["kind"], schema, after, before, REPLAYED)


async def replay_message(
    origin: bytes, data: bytes, replay: Callable[[WriteEvent], Awaitable[None]], channel: str
) -> None:
    """Hand another instance's write to `replay`; a message that cannot be read, or a replay that fails, is logged
    and skipped, so that one bad message never stops a bus from listening."""
    try:
        event = decode(origin, data)
    except Exception:
        log.exception("ignoring a malformed write message on %s", channel)
        return
    if event is not None:
        try:
            await replay(event)
        except Exception:
            log.exception("replaying a write from another instance failed")
