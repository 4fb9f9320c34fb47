"""Parse's JSON encoding (`__type` values, `__op` operations) to domain values and back.

REST, LiveQuery and cloud function parameters all speak this encoding, so it lives in the domain;
transports call `decode_*` on what arrives and `Encoder` on what leaves.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from app.domain.acl import ACL
from app.domain.operations import (
    Add,
    AddUnique,
    Delete,
    Increment,
    Operation,
    RelationChange,
    Remove,
    value_on_create,
)
from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon, Record, Relation, iso
from app.errors import (
    AppError,
    CommandUnavailableError,
    IncorrectTypeError,
    InvalidJSONError,
    InvalidKeyNameError,
    InvalidNestedKeyError,
)

_SAFE_INTEGER = 2**53
_LARGEST_INTEGER = 2**63
_SCALARS = (str, int, float, bool)
MAX_NESTING = 100
"""How many levels objects and arrays may nest, in a request and in a stored object counting the object itself:
MongoDB's limit for a document (nothing deeper could be stored), and a bound on every recursive pass over values."""
TOO_DEEP = f"nested deeper than {MAX_NESTING} levels"


def nests_deeper_than(value: Any, limit: int) -> bool:
    """Whether dicts and lists in `value` nest more than `limit` levels (the outermost counts as one).

    A loop, not a recursion: it must answer for any depth without exhausting the stack.
    """
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def parse_date(text: Any) -> datetime:
    """An ISO 8601 date as clients send it; naive times are UTC, as JavaScript's Date reads them.

    A number is milliseconds since 1970, as JavaScript's `new Date(n)` reads it.
    """
    if _is_number(text):
        try:
            return datetime.fromtimestamp(int(text) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise IncorrectTypeError("This is not a valid Date") from None
    if not isinstance(text, str) or not text:
        raise IncorrectTypeError("This is not a valid Date")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise IncorrectTypeError("This is not a valid Date") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def normalize_number(value: int | float) -> int | float:
    """JavaScript has one number type: an integral float is the same number as the integer, and an integer
    past 64 bits (which no database stores as one) is the float Parse would store."""
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _SAFE_INTEGER else value
    return value if -_LARGEST_INTEGER <= value < _LARGEST_INTEGER else float(value)


def validate_geopoint(latitude: Any, longitude: Any) -> GeoPoint:
    if not _is_number(latitude) or not _is_number(longitude):
        raise IncorrectTypeError("GeoPoint latitude and longitude must be valid numbers")
    if not -90.0 <= latitude <= 90.0:
        bound = "< -90.0" if latitude < 0 else "> 90.0"
        raise IncorrectTypeError(f"GeoPoint latitude out of bounds: {latitude} {bound}.")
    if not -180.0 <= longitude <= 180.0:
        bound = "< -180.0" if longitude < 0 else "> 180.0"
        raise IncorrectTypeError(f"GeoPoint longitude out of bounds: {longitude} {bound}.")
    return GeoPoint(float(latitude), float(longitude))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def decode_typed(value: Mapping[str, Any]) -> Any:
    """A `{"__type": ...}` value; raises 111 "This is not a valid X" as Parse does."""
    kind = value.get("__type")
    match kind:
        case "Date":
            return parse_date(value.get("iso"))
        case "Pointer":
            class_name, object_id = value.get("className"), value.get("objectId")
            if isinstance(class_name, str) and class_name and isinstance(object_id, str) and object_id:
                return Pointer(class_name, object_id)
        case "Relation":
            if isinstance(value.get("className"), str) and value["className"]:
                return Relation(value["className"])
        case "GeoPoint":
            if value.get("latitude") is not None and value.get("longitude") is not None:
                return validate_geopoint(value["latitude"], value["longitude"])
        case "Polygon":
            return decode_polygon(value.get("coordinates"))
        case "File":
            if isinstance(value.get("name"), str) and value["name"]:
                return File(value["name"], value.get("url") if isinstance(value.get("url"), str) else None)
        case "Bytes":
            data = value.get("base64")
            if isinstance(data, str) and data:
                try:
                    return base64.b64decode(data, validate=True)
                except (binascii.Error, ValueError):
                    raise IncorrectTypeError("This is not a valid Bytes") from None
    raise IncorrectTypeError(f"This is not a valid {_type_name(kind)}")


def decode_polygon(coordinates: Any, *, close: bool = True) -> Polygon:
    """A polygon from `[[lat, lng], ...]` or GeoPoints, with at least three distinct points; closed unless told
    otherwise (a field's default is kept as given, and closed when an object gets it)."""
    if not isinstance(coordinates, list):
        raise IncorrectTypeError("This is not a valid Polygon")
    points: list[tuple[float, float]] = []
    for point in coordinates:
        if isinstance(point, list) and len(point) == 2:
            geo = validate_geopoint(point[0], point[1])
        elif isinstance(point, Mapping) and point.get("__type") == "GeoPoint":
            geo = validate_geopoint(point.get("latitude"), point.get("longitude"))
        else:
            raise IncorrectTypeError("Polygon coordinates must be [latitude, longitude] pairs")
        points.append((geo.latitude, geo.longitude))
    if len(set(points)) < 3:
        raise IncorrectTypeError("Polygon must have at least 3 different vertices")
    polygon = Polygon(tuple(points))
    return polygon.closed() if close else polygon


def decode_default(value: Any) -> Any:
    """A field's `defaultValue`: decoded as any value, but a Polygon kept as given, as Parse's `/schemas` shows it."""
    if isinstance(value, Mapping) and value.get("__type") == "Polygon":
        return decode_polygon(value.get("coordinates"), close=False)
    return decode_value(value)


def decode_value(value: Any, level: int = 1) -> Any:
    """Any value inside an object: nested objects may not have `$` or `.` in their keys.

    `level` is how many objects and arrays hold the value, the object it belongs to included.
    """
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        return normalize_number(value)
    if isinstance(value, list | Mapping) and level >= MAX_NESTING:
        raise InvalidJSONError(f"Objects cannot be {TOO_DEEP}.")
    if isinstance(value, list):
        return [decode_value(item, level + 1) for item in value]
    if isinstance(value, Mapping):
        if "__type" in value:
            return decode_typed(value)
        if "__op" in value:
            # Parse flattens an operation nested inside a value to its create-time value.
            return value_on_create(decode_operation(value, level))
        result: dict[str, Any] = {}
        for key, item in value.items():
            if "$" in key or "." in key:
                raise InvalidNestedKeyError("Nested keys should not contain the '$' or '.' characters")
            if "\0" in key:
                # No database stores a NUL in a key (MongoDB's BSON ends keys with it).
                raise InvalidNestedKeyError("Nested keys should not contain the null character")
            result[key] = decode_value(item, level + 1)
        return result
    raise InvalidJSONError(f"cannot transform value: {value}")


def decode_field(value: Any, level: int = 1) -> Any:
    """A top-level field value of a write: a value, or an operation."""
    if isinstance(value, Mapping) and "__op" in value:
        return decode_operation(value, level)
    return decode_value(value, level)


PROHIBITED_KEYS = ("__proto__", "constructor")


def require_no_prohibited_keys(value: Any, *, top: bool = False) -> None:
    """Keys JavaScript clients could use for prototype pollution, refused at any depth (as Parse does).

    A top-level `__proto__` is left to field-name validation, which Parse reports first.
    """
    if isinstance(value, list):
        for item in value:
            require_no_prohibited_keys(item)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key in PROHIBITED_KEYS and not (top and key == "__proto__"):
                raise InvalidKeyNameError(f'Prohibited keyword in request data: {{"key":"{key}"}}.')
            if key == "_bsontype" and item == "Code":
                raise InvalidKeyNameError('Prohibited keyword in request data: {"key":"_bsontype","value":"Code"}.')
            require_no_prohibited_keys(item)


def decode_object(body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a write: values, operations, and the ACL (null leaves it as it is; Delete empties it, as
    Parse does)."""
    require_no_prohibited_keys(body, top=True)
    fields: dict[str, Any] = {}
    for key, value in body.items():
        if key == "ACL" and value is None:
            continue  # Parse ignores it: an update keeps the ACL, a create gets the default
        if key == "ACL" and isinstance(value, Mapping) and "__op" in value:
            if value["__op"] != "Delete":
                raise AppError("ACL must be a Parse ACL.", code=-1)
            fields[key] = ACL()
        elif key == "ACL" and value is not None:
            fields[key] = ACL.from_json(value)
        else:
            # A dotted key (`"a.b.c": v`) writes inside an Object field: each part is one more level.
            level = 1 + key.count(".")
            if level > 1 and any(not part or "\0" in part for part in key.split(".")[1:]):
                raise InvalidKeyNameError(f"Invalid field name: {key}.")
            if level > MAX_NESTING:
                raise InvalidJSONError(f"Objects cannot be {TOO_DEEP}.")
            fields[key] = decode_field(value, level)
    return fields


def decode_operation(value: Mapping[str, Any], level: int = 1) -> Operation:
    op = value.get("__op")
    objects = value.get("objects")
    match op:
        case "Delete":
            return Delete()
        case "Increment":
            amount = value.get("amount")
            if not isinstance(amount, int | float) or not _is_number(amount):
                raise InvalidJSONError("incrementing must provide a number")
            return Increment(normalize_number(amount))
        case "Add" | "AddUnique":
            if not isinstance(objects, list):
                raise InvalidJSONError("objects to add must be an array")
            # The items land in the field's array: one level below the field.
            items = tuple(decode_value(item, level + 1) for item in objects)
            return Add(items) if op == "Add" else AddUnique(items)
        case "Remove":
            if not isinstance(objects, list):
                raise InvalidJSONError("objects to remove must be an array")
            return Remove(tuple(decode_value(item, level + 1) for item in objects))
        case "AddRelation" | "RemoveRelation":
            pointers = _relation_pointers(objects)
            target = pointers[0].class_name
            return (
                RelationChange(target, add=pointers) if op == "AddRelation" else RelationChange(target, remove=pointers)
            )
        case "Batch":
            ops = value.get("ops")
            changes = (
                [decode_operation(item) if isinstance(item, Mapping) else None for item in ops]
                if isinstance(ops, list)
                else []
            )
            if not changes or not all(isinstance(change, RelationChange) for change in changes):
                # Parse's message for a Batch that is not a list of relation operations.
                raise CommandUnavailableError("The Batch operator is not supported yet.")
            relations = [change for change in changes if isinstance(change, RelationChange)]
            return RelationChange(
                relations[0].target_class,
                add=tuple(p for change in relations for p in change.add),
                remove=tuple(p for change in relations for p in change.remove),
            )
    raise CommandUnavailableError(f"The {_type_name(op)} operator is not supported yet.")


def _relation_pointers(objects: Any) -> tuple[Pointer, ...]:
    if not isinstance(objects, list) or not objects:
        raise InvalidJSONError("relation operations need a non-empty array of pointers")
    pointers = []
    for item in objects:
        pointer = decode_typed(item) if isinstance(item, Mapping) and item.get("__type") == "Pointer" else None
        if not isinstance(pointer, Pointer):
            raise IncorrectTypeError("This is not a valid Pointer")
        pointers.append(pointer)
    if len({p.class_name for p in pointers}) > 1:
        raise IncorrectTypeError("All objects in a relation must be of the same class.")
    return tuple(pointers)


def _type_name(kind: Any) -> str:
    return kind if isinstance(kind, str) else str(kind).lower() if isinstance(kind, bool) else str(kind)


class Encoder:
    """Domain values to Parse's JSON, with file URLs pointing at this server."""

    def __init__(self, file_url: Callable[[str], str]) -> None:
        self.file_url = file_url

    def value(self, value: Any) -> Any:
        if value is None or isinstance(value, _SCALARS):
            return value
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        if isinstance(value, datetime):
            return {"__type": "Date", "iso": iso(value)}
        if isinstance(value, Pointer):
            return {"__type": "Pointer", "className": value.class_name, "objectId": value.object_id}
        if isinstance(value, File):
            return {"__type": "File", "name": value.name, "url": value.url or self.file_url(value.name)}
        if isinstance(value, GeoPoint):
            return {
                "__type": "GeoPoint",
                "latitude": normalize_number(value.latitude),
                "longitude": normalize_number(value.longitude),
            }
        if isinstance(value, bytes):
            return {"__type": "Bytes", "base64": base64.b64encode(value).decode("ascii")}
        if isinstance(value, Relation):
            return {"__type": "Relation", "className": value.target_class}
        if isinstance(value, Polygon):
            return {
                "__type": "Polygon",
                "coordinates": [[normalize_number(a), normalize_number(b)] for a, b in value.coordinates],
            }
        if isinstance(value, ParseObject):
            return {**self.object(value.data), "__type": "Object", "className": value.class_name}
        if isinstance(value, ACL):
            return value.to_json()
        raise TypeError(f"cannot encode {type(value).__name__}")

    def object(self, record: Record) -> dict[str, Any]:
        """A whole object: createdAt and updatedAt are bare ISO strings at its top level."""
        result: dict[str, Any] = {}
        for key, item in record.items():
            if (key == "createdAt" or key == "updatedAt") and isinstance(item, datetime):
                result[key] = iso(item)
            elif item is None or isinstance(item, _SCALARS):
                result[key] = item
            else:
                result[key] = self.value(item)
        return result
