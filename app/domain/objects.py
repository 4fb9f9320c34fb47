"""ObjectService: the one path every transport and cloud code takes to read and write objects, composing the reads
(`reads.py`) and the writes (`writes.py`) over the collaborators they share."""

from __future__ import annotations

from app.domain.auth_providers import AuthProviders
from app.domain.events import EventSink
from app.domain.hooks import Hooks
from app.domain.object_settings import ObjectSettings
from app.domain.reads import FindResult, ObjectReads
from app.domain.schemas import SchemaRegistry
from app.domain.store import Storage
from app.domain.users import PasswordHasher, PasswordPolicy
from app.domain.writes import ObjectWrites, WriteResult, new_object_id

__all__ = ["FindResult", "ObjectService", "ObjectSettings", "WriteResult", "new_object_id"]


class ObjectService:
    """Reads and writes of objects with ACLs, class permissions and cloud code hooks applied. Its operations are
    the reads' and the writes' own methods, bound once here, so a call costs no extra step."""

    def __init__(
        self,
        storage: Storage,
        schemas: SchemaRegistry,
        settings: ObjectSettings,
        events: EventSink | None = None,
        hasher: PasswordHasher | None = None,
        password_policy: PasswordPolicy | None = None,
        auth_providers: AuthProviders | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.storage = storage
        self.schemas = schemas
        self.settings = settings
        self.reads = reads = ObjectReads(storage, schemas, settings, hooks)
        self.writes = writes = ObjectWrites(
            storage, schemas, settings, events, hasher, password_policy, auth_providers, hooks
        )
        self.hasher = writes.hasher
        self.password_policy = password_policy
        self.find = reads.find
        self.get = reads.get
        self.include = reads.include
        self.find_related = reads.find_related
        self.require_aggregation = reads.require_aggregation
        self.aggregate = reads.aggregate
        self.distinct = reads.distinct
        self.create = writes.create
        self.update = writes.update
        self.delete = writes.delete
        self.delete_sessions_of = writes.delete_sessions_of

    @property
    def hooks(self) -> Hooks | None:
        """Cloud code; set by the app once the services it needs exist, for the reads and the writes alike."""
        return self.writes.hooks

    @hooks.setter
    def hooks(self, hooks: Hooks | None) -> None:
        self.reads.hooks = self.writes.hooks = hooks
