"""Included pointers: finding the pointers at a dotted path, and putting the loaded objects in their place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from app.domain.acl import Auth
from app.domain.limits import UNLIMITED, RequestLimits
from app.domain.values import ParseObject, Pointer
from app.errors import InvalidQueryError


def require_include_limits(paths: Sequence[Sequence[str]], limits: RequestLimits, auth: Auth) -> None:
    """Refuse (102) includes past the limits: `paths` as a find loads them, `a.b` expanded to `a` and `a.b`, from
    `include`, dotted `keys` and `includeAll` alike (Parse counts them after the same expansion)."""
    if not paths or not limits.apply_to(auth):
        return
    depth = max(len(path) for path in paths)
    if limits.include_depth != UNLIMITED and depth > limits.include_depth:
        raise InvalidQueryError(f"Include depth of {depth} exceeds maximum allowed depth of {limits.include_depth}")
    if limits.include_count != UNLIMITED and len(paths) > limits.include_count:
        raise InvalidQueryError(
            f"Number of include fields ({len(paths)}) exceeds maximum allowed ({limits.include_count})"
        )


def pointers_at(value: Any, path: list[str]) -> list[Pointer]:
    if isinstance(value, list):
        return [p for item in value for p in pointers_at(item, path)]
    if isinstance(value, ParseObject):
        value = value.data
    if not path:
        return [value] if isinstance(value, Pointer) else []
    if not isinstance(value, Mapping):
        return []
    child = value.get(path[0])
    return [] if child is None else pointers_at(child, path[1:])


def replace_pointers(record: dict[str, Any], path: list[str], loaded: Mapping[tuple[str, str], ParseObject]) -> None:
    """Swap pointers at `path` for the loaded objects; an unreadable one disappears, as in Parse."""
    head, rest = path[0], path[1:]
    if head not in record:
        return
    value = record[head]
    if not rest:
        if isinstance(value, Pointer):
            found = loaded.get((value.class_name, value.object_id))
            if found is None:
                del record[head]
            else:
                record[head] = found
        elif isinstance(value, list):
            items = []
            for item in value:
                if isinstance(item, Pointer):
                    found = loaded.get((item.class_name, item.object_id))
                    if found is not None:
                        items.append(found)
                else:
                    items.append(item)
            record[head] = items
        return
    for child in value if isinstance(value, list) else [value]:
        if isinstance(child, ParseObject):
            replace_pointers(child.data, rest, loaded)
        elif isinstance(child, dict):
            replace_pointers(child, rest, loaded)


def sub_keys(keys: tuple[str, ...] | None, path: list[str]) -> tuple[str, ...] | None:
    if keys is None:
        return None
    result = []
    for key in keys:
        parts = key.split(".")
        if parts[: len(path)] == path and len(parts) > len(path):
            result.append(parts[len(path)])
    return tuple(dict.fromkeys(result)) or None


def sub_exclude(keys: tuple[str, ...] | None, path: list[str]) -> tuple[str, ...] | None:
    if not keys:
        return None
    result = [
        key.split(".")[len(path)]
        for key in keys
        if key.split(".")[: len(path)] == path and len(key.split(".")) == len(path) + 1
    ]
    return tuple(result) or None
