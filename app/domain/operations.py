"""Field operations a write may carry (`{"__op": ...}` on the wire) and how they apply to a value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.values import Pointer, Record


@dataclass(frozen=True, slots=True)
class Increment:
    amount: int | float


@dataclass(frozen=True, slots=True)
class Add:
    objects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class AddUnique:
    objects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Remove:
    objects: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Delete:
    pass


@dataclass(frozen=True, slots=True)
class RelationChange:
    """AddRelation, RemoveRelation, or a Batch of both: members to add to and remove from a relation."""

    target_class: str
    add: tuple[Pointer, ...] = ()
    remove: tuple[Pointer, ...] = ()


Operation = Increment | Add | AddUnique | Remove | Delete | RelationChange
OPERATIONS = (Increment, Add, AddUnique, Remove, Delete, RelationChange)
ECHOED = (Increment, Add, AddUnique, Remove)
"""Operations whose resulting value a write response reports, as Parse does."""


def value_on_create(operation: Operation) -> Any:
    """What an operation leaves in a field of a new object (Parse flattens them this way)."""
    match operation:
        case Increment(amount=amount):
            return amount
        case Add(objects=objects) | AddUnique(objects=objects):
            return list(objects)
        case Remove():
            return []
    return None


def apply(operation: Operation, current: Any) -> Any:
    """The value a field holds after the operation, computed in memory (for hooks and events)."""
    match operation:
        case Increment(amount=amount):
            return (current if isinstance(current, int | float) and not isinstance(current, bool) else 0) + amount
        case Add(objects=objects):
            return [*(current if isinstance(current, list) else []), *objects]
        case AddUnique(objects=objects):
            result = list(current) if isinstance(current, list) else []
            result.extend(item for item in objects if item not in result)
            return result
        case Remove(objects=objects):
            if current is None:
                return None  # removing from a missing field leaves it missing, as MongoDB's $pullAll does
            return [item for item in (current if isinstance(current, list) else []) if item not in objects]
        case Delete():
            return None
    return current


def apply_changes(record: Record, changes: Mapping[str, Any]) -> Record:
    """The object after an update, computed from the object before it (the write itself is atomic)."""
    after = dict(record)
    for name, change in changes.items():
        if "." in name:
            root, rest = name.split(".", 1)
            container = after.get(root)
            after[root] = _set_nested(container if isinstance(container, dict) else {}, rest.split("."), change)
            continue
        value = apply(change, after.get(name)) if isinstance(change, OPERATIONS) else change
        if isinstance(change, Delete) or (isinstance(change, OPERATIONS) and value is None):
            after.pop(name, None)
        else:
            after[name] = value
    return after


def _set_nested(container: dict[str, Any], path: list[str], change: Any) -> dict[str, Any]:
    result = dict(container)
    if len(path) == 1:
        if isinstance(change, Delete):
            result.pop(path[0], None)
        else:
            result[path[0]] = apply(change, result.get(path[0])) if isinstance(change, OPERATIONS) else change
        return result
    child = result.get(path[0])
    result[path[0]] = _set_nested(child if isinstance(child, dict) else {}, path[1:], change)
    return result
