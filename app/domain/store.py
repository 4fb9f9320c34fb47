"""The storage port: what the domain asks of a database engine, in Parse's terms, and what each engine can do.

The domain reaches every engine through `Storage`: objects read with a `Find` (Parse's constraints over decoded
values, as `queries.parse_where` makes them, sub-queries already resolved) and changed with values and
`operations`; and four parts, `storage.classes` (class schemas), `storage.relations`, `storage.config` (Parse
Config) and `storage.request_ids` (idempotency), which each engine builds on its own connection. Records hold the
domain's values (`values.py`); each engine keeps them in its own layout (app/storage/mongo/ in Parse Server's
MongoDB format).

A few of Parse's options exist because Parse Server hands them to MongoDB as they are: `/aggregate` pipelines,
`explain`, `hint`, `readPreference` and `comment`. An engine says in its `Capabilities` which of them it
supports, and the domain asks before it uses one: one the engine lacks is refused with Parse's code for an
operation the database does not support (119, as Parse Server's PostgreSQL adapter answers), so no engine has
to pretend to be MongoDB, and an engine never sees an operation it did not claim.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from app.domain.classes import ClassSchema, FieldType
from app.domain.values import Record
from app.errors import OperationForbiddenError


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
    case_insensitive: bool = False
    """Compare strings regardless of case (Parse's check that a username or email is taken), through the
    case-insensitive indexes every engine keeps on `_User`'s username and email."""
    hint: str | Mapping[str, Any] | None = None
    """The index to use, by name or by keys (only with `Capabilities.index_hints`)."""
    comment: str | None = None
    """A note the database logs and profiles with the read (only with `Capabilities.comments`)."""
    read_preference: str | None = None
    """Which member of a replica set answers, one of `queries.READ_PREFERENCES` (with `read_preferences`)."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What an engine can do beyond the port's common part, and what it guarantees; asked of the database once."""

    engine: str = "This database"
    """The engine's name, as refusals say it."""
    bounded_pattern_matching: bool = True
    """Whether the work of one `$regex` match is bounded by the engine (MongoDB's PCRE has a match limit, and
    its time limit interrupts a match). Without it (SecantusDB runs Python's backtracking `re`, and checks its
    time limit only between documents) one pattern that backtracks catastrophically holds the whole database,
    so such patterns must be refused before they reach it."""
    pipeline_stages: frozenset[str] | None = frozenset()
    """The `/aggregate` stages the engine runs (`$match`, `$group`…); None: every stage its database takes."""
    query_plans: bool = False
    """`explain`: the database's plan for a find instead of its results."""
    index_hints: bool = False
    read_preferences: bool = False
    comments: bool = False

    def require_pipeline(self, pipeline: Sequence[Mapping[str, Any]]) -> None:
        """Refuse (119) a pipeline with a stage the engine does not run."""
        if self.pipeline_stages is None:
            return
        for stage in pipeline:
            for name in stage:
                if name not in self.pipeline_stages:
                    raise self._unsupported(f"the aggregate stage {name}")

    def require_query_plans(self) -> None:
        """Refuse (119) `explain` on an engine that cannot show its plan."""
        if not self.query_plans:
            raise self._unsupported("explain")

    def require_read_options(self, query: Find) -> None:
        """Refuse (119) the `hint`, `comment` or `readPreference` of a read the engine cannot honour."""
        if query.hint is not None and not self.index_hints:
            raise self._unsupported("hint")
        if query.comment is not None and not self.comments:
            raise self._unsupported("comment")
        if query.read_preference is not None and not self.read_preferences:
            raise self._unsupported("readPreference")

    def _unsupported(self, what: str) -> OperationForbiddenError:
        return OperationForbiddenError(f"{self.engine} doesn't support {what}.")


class ClassStore(Protocol):
    """The class schemas (`_SCHEMA`) and what each class's storage holds: fields, permissions, indexes."""

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
    ) -> None:
        """Create and drop indexes, given as Parse's `/schemas` takes them (name: {field: 1 | -1 | "text"})."""

    async def delete_fields(self, schema: ClassSchema, names: Sequence[str]) -> None:
        """Remove fields from the schema and from every object (and relation tables)."""

    async def delete_class(self, schema: ClassSchema) -> None: ...

    async def ensure_system_indexes(self) -> None:
        """The unique and case-insensitive indexes Parse Server creates at start (usernames, emails, roles…)."""

    async def sync_indexes(self, class_name: str) -> None:
        """Record in the schema the indexes the class really has."""


class ConfigStore(Protocol):
    """Parse Config: one set of parameters."""

    async def read_config(self) -> tuple[dict[str, Any], dict[str, bool]] | None:
        """The parameters and which of them only the master key reads; None before any was set."""

    async def update_config(
        self, values: Mapping[str, Any], removed: Sequence[str], master_key_only: Mapping[str, bool]
    ) -> None:
        """Set and remove parameters in one atomic write (values are stored as given, in Parse's JSON)."""


class RelationStore(Protocol):
    """Relation fields: a join table (or collection) per field."""

    async def add_relation(self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]) -> None: ...

    async def remove_relation(
        self, class_name: str, field: str, owning_id: str, related_ids: Sequence[str]
    ) -> None: ...

    async def related_ids(self, class_name: str, field: str, owning_id: str) -> list[str]: ...

    async def related_by_owner(self, class_name: str, field: str, owning_ids: Sequence[str]) -> dict[str, list[str]]:
        """The related ids of several owning objects at once (every owner is a key)."""

    async def owning_ids(self, class_name: str, field: str, related_ids: Sequence[str]) -> list[str]: ...


class RequestIdStore(Protocol):
    """The ids of requests already run (`_Idempotency`: `reqId` under a unique index, and `expire`)."""

    async def claim(self, request_id: str, ttl: timedelta) -> bool:
        """Record the id for `ttl` unless it is recorded and not yet expired; whether this call recorded it.
        Atomic: of two concurrent claims of one id, exactly one wins."""


class Storage(Protocol):
    """A database holding classes, objects and relations in one engine's layout of Parse's data: the objects'
    methods here, the rest in three parts (`classes`, `config`, `relations`) that the engine builds."""

    async def close(self) -> None: ...

    async def capabilities(self) -> Capabilities:
        """What this engine can do and guarantees (asked of the database once)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Everything awaited inside commits together or not at all (MongoDB needs a replica set for it)."""
        ...

    async def ping(self) -> None:
        """Return when the database answers within about a second; DatabaseUnavailableError otherwise."""

    @property
    def classes(self) -> ClassStore: ...

    @property
    def config(self) -> ConfigStore: ...

    @property
    def relations(self) -> RelationStore: ...

    @property
    def request_ids(self) -> RequestIdStore: ...

    # Objects
    async def purge(self, schema: ClassSchema) -> None:
        """Delete every object of a class, keeping the class."""

    async def find(self, schema: ClassSchema, query: Find) -> list[Record]: ...

    async def count(self, schema: ClassSchema, query: Find) -> int: ...

    async def distinct(self, schema: ClassSchema, field: str, query: Find) -> list[Any]: ...

    async def explain(self, schema: ClassSchema, query: Find) -> dict[str, Any]:
        """The database's plan for a read, as Parse's `explain` returns it (only with `query_plans`)."""

    async def aggregate(self, schema: ClassSchema, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """An `/aggregate` pipeline over Parse field names (only stages in `pipeline_stages`)."""

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
