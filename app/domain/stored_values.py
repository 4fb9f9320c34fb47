"""Parse values in their stored form: how the database compares, sorts and matches them, one rule for all.

Parse Server stores a field's own value in its column form (a pointer as `Class$id`, a GeoPoint as
`[longitude, latitude]`, a File by its name, a Polygon as GeoJSON) and a value nested in an Object or Array
field in Parse's JSON form (`{"__type": "Pointer", …}`); integers beyond 32 bits become doubles, as JavaScript
stores them. Queries compare in that form: the MongoDB engine writes documents and translates constraints with
these functions (app/storage/mongo/), and the live-query matcher (`matching.py`) puts records and constraints in
the same form, so that it answers as the database does.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon, Relation
from app.errors import InvalidJSONError

INT32: Final = 2**31
# Values stored exactly as a record holds them (subclasses take the slower, checked path).
_AS_STORED: Final = frozenset({str, bool, float, type(None), datetime, bytes})


def stored_number(value: int) -> int | float:
    """An integer as stored: beyond 32 bits, a double (as JavaScript would store it)."""
    return value if -INT32 <= value < INT32 else float(value)


def stored_pointer(class_name: str | None, object_id: Any) -> str:
    """A pointer as a field stores it, `Class$objectId`; inside an operator on a pointer field, Parse reads a bare
    objectId as a pointer of the field's class."""
    return f"{class_name}${object_id}"


def stored_field(value: Any) -> Any:
    """A field's own value as stored: pointers as `Class$id`, points as `[lng, lat]`, files by name."""
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None or kind is datetime:
        return value
    if kind is int:
        return stored_number(value)
    if kind is Pointer:
        return stored_pointer(value.class_name, value.object_id)
    if kind is GeoPoint:
        return [value.longitude, value.latitude]
    if kind is File:
        return value.name
    if kind is Polygon:
        return {"type": "Polygon", "coordinates": [[[lng, lat] for lat, lng in value.coordinates]]}
    if kind is ParseObject:
        return stored_pointer(value.class_name, value.data.get("objectId"))
    return stored_nested(value)


def stored_nested(value: Any) -> Any:
    """A value nested in an Object or Array field as stored: Parse's JSON form for Parse's own types."""
    kind = type(value)
    if kind in _AS_STORED:
        return value
    if kind is int:
        return stored_number(value)
    if kind is list:
        # Most arrays hold only values stored as they are: skip the copy.
        for item in value:
            if type(item) not in _AS_STORED:
                return [stored_nested(item) for item in value]
        return value
    if isinstance(value, dict):
        return {key: stored_nested(item) for key, item in value.items()}
    if isinstance(value, str | bool | float | datetime | bytes):
        return value
    if isinstance(value, int):
        return stored_number(value)
    if isinstance(value, list | tuple):
        return [stored_nested(item) for item in value]
    typed = typed_object(value)
    if typed is None:
        raise InvalidJSONError(f"cannot store a value of type {type(value).__name__}")
    return typed


def typed_object(value: Any) -> dict[str, Any] | None:
    """A Parse type inside an Object or Array as every engine stores it (`{"__type": "Pointer", …}`); None for a
    value that is not one of them."""
    if isinstance(value, Pointer):
        return {"__type": "Pointer", "className": value.class_name, "objectId": value.object_id}
    if isinstance(value, ParseObject):
        return {"__type": "Pointer", "className": value.class_name, "objectId": value.data.get("objectId")}
    if isinstance(value, File):
        stored = {"__type": "File", "name": value.name}
        if value.url:
            stored["url"] = value.url
        return stored
    if isinstance(value, GeoPoint):
        return {"__type": "GeoPoint", "latitude": value.latitude, "longitude": value.longitude}
    if isinstance(value, Polygon):
        return {"__type": "Polygon", "coordinates": [list(point) for point in value.coordinates]}
    if isinstance(value, Relation):
        return {"__type": "Relation", "className": value.target_class}
    return None


NOT_TYPED: Final = object()
"""What `typed_value` answers for an object that is not one of Parse's types (or is malformed)."""


def typed_value(kind: Any, value: Mapping[str, Any]) -> Any:
    """A stored `{"__type": kind, …}` (Pointer, File, GeoPoint, Polygon, Bytes) as its domain value, leniently, as
    other software may have written it; NOT_TYPED otherwise (Dates are each engine's: their stored forms differ)."""
    if kind == "Pointer" and isinstance(value.get("className"), str):
        return Pointer(value["className"], str(value.get("objectId")))
    if kind == "File" and isinstance(value.get("name"), str):
        return File(value["name"], value.get("url"))
    if kind == "GeoPoint":
        return GeoPoint(value.get("latitude", 0.0), value.get("longitude", 0.0))
    if kind == "Polygon" and isinstance(value.get("coordinates"), list):
        return Polygon(tuple((p[0], p[1]) for p in value["coordinates"]))
    if kind == "Bytes" and isinstance(value.get("base64"), str):
        return base64.b64decode(value["base64"])
    return NOT_TYPED
