"""Field operations a write may carry (`{"__op": ...}` on the wire) and how they apply to a value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.domain.values import Pointer


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
