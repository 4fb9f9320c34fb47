"""Relay global ids: base64 of "ClassName:objectId", as graphql-relay (and so Parse Server) writes them."""

from __future__ import annotations

import base64
import binascii


def to_global_id(class_name: str, object_id: str) -> str:
    return base64.b64encode(f"{class_name}:{object_id}".encode()).decode("ascii")


def from_global_id(value: str) -> tuple[str, str] | None:
    """(class name, objectId) for a global id; None for anything else, such as a plain objectId."""
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    class_name, separator, object_id = decoded.partition(":")
    if not separator or not class_name or not object_id:
        return None
    return class_name, object_id


def object_id_for(value: str, class_name: str) -> str:
    """The objectId an `id` argument names: a global id of this class, or the objectId itself."""
    decoded = from_global_id(value)
    if decoded is not None and decoded[0] == class_name:
        return decoded[1]
    return value
