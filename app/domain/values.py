"""The typed values a Parse object holds, independent of any wire or storage format.

Strings, numbers, booleans, lists, dicts, `None`, `bytes` (Bytes) and aware UTC `datetime`
(Date) are plain Python values; the Parse types without a Python counterpart are defined here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Record = dict[str, Any]
"""An object's fields by their Parse names, including objectId, createdAt, updatedAt and ACL."""


@dataclass(frozen=True, slots=True)
class Pointer:
    class_name: str
    object_id: str


@dataclass(frozen=True, slots=True)
class Relation:
    """The marker a relation field shows when its object is read; members live in a join table."""

    target_class: str


@dataclass(frozen=True, slots=True)
class GeoPoint:
    latitude: float
    longitude: float


@dataclass(frozen=True, slots=True)
class Polygon:
    """A ring of (latitude, longitude) points, as Parse's REST encoding orders them: closed in every object, and
    in a field's default as the schema was given it."""

    coordinates: tuple[tuple[float, float], ...]

    def closed(self) -> Polygon:
        """The ring ending where it starts."""
        if self.coordinates and self.coordinates[0] != self.coordinates[-1]:
            return Polygon((*self.coordinates, self.coordinates[0]))
        return self


@dataclass(frozen=True, slots=True)
class File:
    """A stored file by its name; the URL is derived from the server's address when encoded."""

    name: str
    url: str | None = None


@dataclass(slots=True)
class ParseObject:
    """A whole object inside another value: an included pointer, or an object in a function result."""

    class_name: str
    data: Record = field(default_factory=dict)


def utc_now() -> datetime:
    """The current time at millisecond precision, the precision MongoDB keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def iso(moment: datetime) -> str:
    """Parse's ISO form: UTC with exactly three fraction digits and a Z."""
    offset = moment.utcoffset()
    if offset is None:
        moment = moment.replace(tzinfo=UTC)
    elif offset:
        moment = moment.astimezone(UTC)
    # isoformat is several times faster than strftime; the "+00:00" it ends with becomes "Z".
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"


MISSING: Any = object()
"""What `value_at` finds where a path leads nowhere (None is a value)."""


def value_at(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, through objects and included pointers; `MISSING` when there is none."""
    value: Any = record
    for part in path.split("."):
        if isinstance(value, ParseObject):
            value = value.data
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def js_text(value: Any) -> str:
    """JavaScript's String(value) (and template strings), for Parse's messages that embed a value."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if item is None else js_text(item) for item in value)  # join prints null as ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
