"""The storage seam: what the domain asks of a database, in domain terms (no driver types cross it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from app.domain.classes import ClassSchema, FieldType
from app.domain.operations import Operation
from app.domain.values import Record


@dataclass(frozen=True, slots=True)
class Find:
    """A read: `where` holds Parse constraints over decoded values, already free of sub-queries."""

    where: Mapping[str, Any]
    order: tuple[tuple[str, int], ...] = ()
    skip: int = 0
    limit: int | None = None
    keys: frozenset[str] | None = None
    acl: frozenset[str] | None = None
    """The caller's principals: only objects whose read ACL names one of them match. None = no check."""
    for_write: bool = False
    """Check the write ACL instead of the read ACL (the object about to be changed)."""
    hint: str | Mapping[str, Any] | None = None
    comment: str | None = None
    read_preference: str | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine guarantees beyond answering, where the domain must act otherwise without it."""

    bounded_pattern_matching: bool = True
    """Whether the work of one `$regex` match is bounded by the engine (MongoDB's PCRE has a match limit, and
    its time limit interrupts a match). Without it (SecantusDB runs Python's backtracking `re`, and checks its
    time limit only between documents) one pattern that backtracks catastrophically holds the whole database,
    so such patterns must be refused before they reach it."""


class Storage(Protocol):
    """A database holding classes, objects and relations in Parse Server's layout."""

    async def close(self) -> None: ...

    async def capabilities(self) -> Capabilities:
        """What this engine guarantees (asked of the database once)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Everything awaited inside commits together or not at all (needs a replica set, as MongoDB does)."""
        ...

    async def ping(self) -> None:
        """Return when the database answers within about a second; DatabaseUnavailableError otherwise."""

    # Class schemas (`_SCHEMA`)
    async def load_classes(self) -> list[ClassSchema]: ...

    async def create_class(self, schema: ClassSchema, *, stored_permissions: Mapping[str, Any] | None) -> None:
        """Raises DuplicateValueError when the class exists; None permissions leave Parse's defaults."""

    async def add_fields(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        """Add fields that do not exist yet, creating the class entry if needed (safe against races)."""

    async def update_field_options(self, class_name: str, fields: Mapping[str, FieldType]) -> None:
        """Replace `required` and `defaultValue` of existing fields."""

    async def set_permissions(self, class_name: str, permissions: Mapping[str, Any] | None) -> None:
        """Replace a class's permissions; None restores Parse's defaults."""

    async def update_indexes(
        self, schema: ClassSchema, add: Mapping[str, Mapping[str, Any]], drop: Sequence[str]
    ) -> None: ...

    async def delete_fields(self, schema: ClassSchema, names: Sequence[str]) -> None:
        """Remove fields from the schema and from every object (and relation tables)."""

    async def delete_class(self, schema: ClassSchema) -> None: ...

    async def ensure_system_indexes(self) -> None: ...

    async def sync_indexes(self, class_name: str) -> None:
        """Record in the schema the indexes the collection really has."""

    async def purge(self, schema: ClassSchema) -> None:
        """Delete every object of a class, keeping the class."""

    # Objects
    async def find(self, schema: ClassSchema, query: Find) -> list[Record]: ...

    async def count(self, schema: ClassSchema, query: Find) -> int: ...

    async def explain(self, schema: ClassSchema, query: Find) -> dict[str, Any]:
        """The database's plan for a read, as Parse's `explain` option returns it."""

    async def distinct(self, schema: ClassSchema, field: str, query: Find) -> list[Any]: ...

    async def aggregate(self, schema: ClassSchema, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]: ...

    async def insert(self, schema: ClassSchema, record: Record) -> None:
        """Raises DuplicateValueError when a unique index refuses the object."""

    async def update(
        self,
        schema: ClassSchema,
        object_id: str,
        where: Mapping[str, Any],
        changes: Mapping[str, Any],
        acl: frozenset[str] | None,
    ) -> Record | None:
        """Apply values and operations to one object atomically; the object *before* the change, or None."""

    async def delete(
        self, schema: ClassSchema, object_id: str, where: Mapping[str, Any], acl: frozenset[str] | None
    ) -> bool: ...

    # Parse Config (`_GlobalConfig`, one document)
    async def read_config(self) -> tuple[dict[str, Any], dict[str, bool]] | None:
        """The parameters and which of them only the master key reads; None before any was set."""

    async def update_config(
        self, values: Mapping[str, Any], removed: Sequence[str], master_key_only: Mapping[str, bool]
    ) -> None:
        """Set and remove parameters in one atomic write (values are stored as given, in Parse's JSON)."""

    # Relations (`_Join:<field>:<class>`)
    async def add_relation(self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]) -> None: ...

    async def remove_relation(
        self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]
    ) -> None: ...

    async def related_ids(self, class_name: str, field: str, owning_id: str) -> list[str]: ...

    async def related_by_owner(self, class_name: str, field: str, owning_ids: Sequence[str]) -> dict[str, list[str]]:
        """The related ids of several owning objects at once (every owner is a key)."""

    async def owning_ids(self, class_name: str, field: str, related_ids: Sequence[str]) -> list[str]: ...


__all__ = ["Capabilities", "Find", "Operation", "Storage"]
