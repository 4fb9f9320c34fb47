"""The class schemas as the master key reads and changes them (`/schemas`, GraphQL's class operations), and purges.

Every method is the master key's only; a change is refused to the read-only master key. `SchemaRegistry` below it
changes schemas for anyone's first write too, so it takes no caller: a transport goes through this service.
"""

from __future__ import annotations

from typing import Any

from app.domain import permissions
from app.domain.access import require_master, require_writing_master
from app.domain.acl import Auth
from app.domain.classes import ClassSchema
from app.domain.schemas import SchemaRegistry
from app.domain.sessions import Authenticator
from app.errors import OperationForbiddenError


class SchemaAdmin:
    def __init__(self, registry: SchemaRegistry, authenticator: Authenticator, *, locked: bool = False) -> None:
        self.registry = registry
        self.authenticator = authenticator
        self.locked = locked
        """Parse's `schema.lockSchemas`: the schema directory's definitions are the only way classes are made or
        changed while the server runs; deleting an empty class stays possible, as in Parse."""

    def _require_unlocked(self) -> None:
        if self.locked:
            raise OperationForbiddenError("Cannot perform this operation when schemas options is used.")

    def require_access(self, auth: Auth, action: str | None = None) -> None:
        """The master key; for an `action` ("create", "update", "delete", "purge"), not the read-only one. A
        transport asks this before it reads a request's body, as Parse refuses the key first."""
        if action is None:
            require_master(auth)
        else:
            require_writing_master(auth, f"{action} a schema")

    async def list(self, auth: Auth) -> list[ClassSchema]:
        """Every class schema, read fresh (master key)."""
        self.require_access(auth)
        await self.registry.reload()
        return await self.registry.all()

    async def read(self, auth: Auth, name: str) -> ClassSchema:
        """One class schema, read fresh; 103 when there is none (master key)."""
        self.require_access(auth)
        await self.registry.reload()
        return await self.registry.require(name)

    async def create(self, auth: Auth, name: str, fields: Any, permissions: Any, indexes: Any) -> ClassSchema:
        """A new class (master key, not read-only)."""
        self.require_access(auth, "create")
        self._require_unlocked()
        return await self.registry.create_class(name, fields, permissions, indexes)

    async def update(self, auth: Auth, name: str, fields: Any, permissions: Any, indexes: Any) -> ClassSchema:
        """Fields added and removed, permissions and indexes changed (master key, not read-only)."""
        self.require_access(auth, "update")
        self._require_unlocked()
        return await self.registry.update_class(name, fields, permissions, indexes)

    async def delete(self, auth: Auth, name: str) -> None:
        """Drop an empty class (master key, not read-only)."""
        self.require_access(auth, "delete")
        await self.registry.delete_class(name)

    async def purge(self, auth: Auth, class_name: str) -> None:
        """Delete every object of a class (master key, not read-only); sessions and roles cached for callers are
        forgotten with them."""
        self.require_access(auth, "purge")
        permissions.require_class_access("delete", class_name, auth)
        schema = await self.registry.get(class_name)
        if schema is not None:
            await self.registry.storage.purge(schema)
        if class_name in ("_Session", "_Role"):
            self.authenticator.forget()
