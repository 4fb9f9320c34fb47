"""Session tokens to callers: the user behind a token and every role they hold, cached briefly."""

from __future__ import annotations

import secrets
import time
from datetime import datetime, timedelta
from typing import Any

from app.domain.acl import Auth, Origin
from app.domain.classes import ClassSchema
from app.domain.events import WriteEvent
from app.domain.schemas import SchemaRegistry
from app.domain.values import Pointer, utc_now
from app.errors import InvalidSessionTokenError
from app.storage.base import Find, Storage


class Authenticator:
    """Turns a session token into an `Auth` with the user's roles, inherited through parent roles."""

    def __init__(
        self,
        storage: Storage,
        schemas: SchemaRegistry,
        *,
        cache_ttl: float = 5.0,
        extend_session_on_use: bool = False,
        session_length: float | None = None,
    ) -> None:
        self.storage = storage
        self.schemas = schemas
        self.cache_ttl = cache_ttl
        self.extend_session_on_use = extend_session_on_use
        self.session_length = session_length
        self._cache: dict[str, tuple[float, str, frozenset[str]]] = {}

    def forget(self, token: str | None = None) -> None:
        """Drop cached sessions (all of them when roles change)."""
        if token is None:
            self._cache.clear()
        else:
            self._cache.pop(token, None)

    async def publish(self, event: WriteEvent) -> None:
        """Forget what a write makes stale: every role set when a role changes, a session when it changes."""
        if event.schema.name == "_Role":
            self.forget()
        elif event.schema.name == "_Session" and event.before is not None:
            token = event.before.get("sessionToken")
            self.forget(token if isinstance(token, str) else None)
        elif event.schema.name == "_User" and event.kind == "delete" and event.before is not None:
            user_id = event.before.get("objectId")
            for token in [t for t, (_, cached_user, _) in self._cache.items() if cached_user == user_id]:
                self.forget(token)

    async def auth_for(self, token: str, installation_id: str | None = None, origin: Origin | None = None) -> Auth:
        cached = self._cache.get(token)
        now = time.monotonic()
        if cached and now - cached[0] < self.cache_ttl:
            _, user_id, roles = cached
        else:
            user_id = await self._user_for(token)
            roles = await self.roles_of(user_id)
            self._cache[token] = (now, user_id, roles)
        return Auth(
            user_id=user_id,
            roles=roles,
            session_token=token,
            installation_id=installation_id,
            origin=origin if origin is not None else Origin(),
        )

    async def auth_for_legacy(
        self, token: str, installation_id: str | None = None, origin: Origin | None = None
    ) -> Auth:
        """The caller behind a legacy session token (one kept on the user by Parse.com, not in `_Session`)."""
        users = await self.storage.find(
            await self.schemas.require("_User"), Find({"sessionToken": token}, limit=1, keys=frozenset({"objectId"}))
        )
        if not users:
            raise InvalidSessionTokenError("invalid legacy session token")
        user_id = str(users[0]["objectId"])
        return Auth(
            user_id=user_id,
            roles=await self.roles_of(user_id),
            installation_id=installation_id,
            origin=origin if origin is not None else Origin(),
        )

    async def _user_for(self, token: str) -> str:
        # The class may not be in _SCHEMA yet (sessions written directly): its default fields suffice.
        schema = await self.schemas.get("_Session") or ClassSchema.build("_Session", {})
        sessions = await self.storage.find(schema, Find({"sessionToken": token}, limit=1))
        if not sessions:
            raise InvalidSessionTokenError("Invalid session token")
        session = sessions[0]
        expires = session.get("expiresAt")
        if isinstance(expires, datetime) and expires < utc_now():
            raise InvalidSessionTokenError("Session token is expired.")
        await self._extend(schema, session)
        user = session.get("user")
        if not isinstance(user, Pointer):
            raise InvalidSessionTokenError("Invalid session token")
        users = await self.storage.find(
            await self.schemas.require("_User"),
            Find({"objectId": user.object_id}, limit=1, keys=frozenset({"objectId"})),
        )
        if not users:
            raise InvalidSessionTokenError("Invalid session token")
        return user.object_id

    async def _extend(self, schema: ClassSchema, session: dict[str, Any]) -> None:
        """Parse's `extendSessionOnUse`: a session used once half its length has passed since it was last written
        lasts a whole `session_length` from now (writing only then keeps the database quiet)."""
        length = self.session_length
        if not self.extend_session_on_use or length is None or not isinstance(session.get("expiresAt"), datetime):
            return
        updated, now = session.get("updatedAt"), utc_now()
        if isinstance(updated, datetime) and updated > now - timedelta(seconds=length / 2):
            return
        changes = {"expiresAt": now + timedelta(seconds=length), "updatedAt": now}
        await self.storage.update(schema, session["objectId"], {}, changes, None)

    async def roles_of(self, user_id: str) -> frozenset[str]:
        """`role:<name>` for each role naming the user, and every role containing those, transitively."""
        role_schema = await self.schemas.get("_Role")
        if role_schema is None:
            return frozenset()
        found = set(await self.storage.owning_ids("_Role", "users", [user_id]))
        frontier = set(found)
        while frontier:
            parents = set(await self.storage.owning_ids("_Role", "roles", sorted(frontier)))
            frontier = parents - found
            found |= parents
        if not found:
            return frozenset()
        roles = await self.storage.find(
            role_schema, Find({"objectId": {"$in": sorted(found)}}, keys=frozenset({"objectId", "name"}))
        )
        return frozenset(f"role:{role['name']}" for role in roles if isinstance(role.get("name"), str))


def new_session(
    user_id: str, action: str, installation_id: str | None, length: float | None, provider: str = "password"
) -> dict[str, Any]:
    """A `_Session` as Parse Server writes one: an `r:` token, its user, how it was made, when it expires (never,
    when `length` is None: Parse's `expireInactiveSessions: false`)."""
    session: dict[str, Any] = {
        "sessionToken": "r:" + secrets.token_hex(16),
        "user": Pointer("_User", user_id),
        # Sessions a client asks for, and upgraded legacy ones, name no provider (as Parse Server writes them).
        "createdWith": {"action": action}
        if action in ("create", "upgrade")
        else {"action": action, "authProvider": provider},
    }
    if length is not None:
        session["expiresAt"] = utc_now() + timedelta(seconds=length)
    if installation_id:
        session["installationId"] = installation_id
    return session
