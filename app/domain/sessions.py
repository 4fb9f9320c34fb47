"""Session tokens to callers: the user behind a token and every role they hold, cached briefly; and the end of
a session, told to whoever follows it.

A socket authenticated by a session token lives longer than the session may. It `follow`s the token, and is told
once when the session ends, whatever ends it: a write to the `_Session` (a log-out, a delete or change through
`/sessions`, a password change that revokes sessions), its user deleted, here or on another instance (the Redis
bus replays their writes into `publish`); a lookup that finds the session gone (the hub's periodic re-check, the
socket's next operation); or its expiry, for which a timer per followed token is set.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from app.domain.acl import Auth, Origin
from app.domain.classes import ClassSchema
from app.domain.events import WriteEvent
from app.domain.schemas import SchemaRegistry
from app.domain.store import Find, Storage
from app.domain.values import Pointer, Record, utc_now
from app.errors import InvalidSessionTokenError

log = logging.getLogger("app.sessions")

_LONGEST_TIMER = 86_400.0  # seconds; a later expiry is looked at again then (clocks drift, sessions get extended)
_RETRY = 5.0  # seconds before looking again at a session whose check failed for another reason than its end


class SessionListener(Protocol):
    def session_ended(self, token: str) -> None:
        """The session behind `token` ended. Called once, from the write or lookup that found it; must not block."""
        ...


@dataclass(slots=True)
class _Cached:
    checked_at: float
    user_id: str
    roles: frozenset[str]
    expires_at: datetime | None


@dataclass(eq=False, slots=True)
class _Followed:
    user_id: str
    listeners: dict[SessionListener, None] = field(default_factory=dict)
    expires_at: datetime | None = None
    timer: asyncio.TimerHandle | None = None


def _expired(expires_at: Any) -> bool:
    return isinstance(expires_at, datetime) and expires_at < utc_now()


def _ends(event: WriteEvent, token: str) -> bool:
    """Whether a write to the `_Session` holding `token` ends it (a change of its other fields does not)."""
    before, after = event.before or {}, event.after
    if event.kind == "delete" or after is None:
        return True
    return (
        after.get("sessionToken") != token
        or after.get("user") != before.get("user")
        or _expired(after.get("expiresAt"))
    )


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
        self._cache: dict[str, _Cached] = {}
        self._forgotten = 0  # how many times something was forgotten: a lookup that overlapped one is not kept
        self._followed: dict[str, _Followed] = {}
        self._checks: set[asyncio.Task[None]] = set()

    def forget(self, token: str | None = None) -> None:
        """Drop cached sessions (all of them when roles change)."""
        self._forgotten += 1
        if token is None:
            self._cache.clear()
        else:
            self._cache.pop(token, None)

    async def publish(self, event: WriteEvent) -> None:
        """Forget what a write makes stale: every role set when a role changes, a session when it changes; and
        tell the followers of a session the write ended."""
        if event.schema.name == "_Role":
            self.forget()
        elif event.schema.name == "_Session" and event.before is not None:
            token = event.before.get("sessionToken")
            if not isinstance(token, str):
                self.forget()
            elif _ends(event, token):
                self.announce_end(token)
            else:
                self.forget(token)
                followed = self._followed.get(token)
                if followed is not None and event.after is not None:
                    expires_at = event.after.get("expiresAt")
                    self._set_timer(token, followed, expires_at if isinstance(expires_at, datetime) else None)
        elif event.schema.name == "_User" and event.kind == "delete" and event.before is not None:
            user_id = event.before.get("objectId")
            for token in [t for t, cached in self._cache.items() if cached.user_id == user_id]:
                self.forget(token)
            for token in [t for t, followed in self._followed.items() if followed.user_id == user_id]:
                self.announce_end(token)

    # Following a session ---------------------------------------------------------------------------------

    def follow(self, auth: Auth, listener: SessionListener) -> None:
        """Tell `listener` when the session `auth` was resolved from ends (nothing to follow without one)."""
        token, user_id = auth.session_token, auth.user_id
        if token is None or user_id is None:
            return
        followed = self._followed.get(token)
        if followed is None:
            followed = self._followed[token] = _Followed(user_id)
            cached = self._cache.get(token)
            self._set_timer(token, followed, cached.expires_at if cached is not None else None)
        followed.listeners[listener] = None

    def unfollow(self, token: str | None, listener: SessionListener) -> None:
        followed = self._followed.get(token or "")
        if token is None or followed is None:
            return
        followed.listeners.pop(listener, None)
        if not followed.listeners:
            if followed.timer is not None:
                followed.timer.cancel()
            del self._followed[token]

    def announce_end(self, token: str) -> None:
        """Announce that the session behind `token` ended: forgotten here, and each follower told once."""
        self.forget(token)
        followed = self._followed.pop(token, None)
        if followed is None:
            return
        if followed.timer is not None:
            followed.timer.cancel()
        for listener in list(followed.listeners):
            try:
                listener.session_ended(token)
            except Exception:
                log.exception("telling a follower that its session ended failed")

    def _set_timer(self, token: str, followed: _Followed, expires_at: datetime | None) -> None:
        if followed.timer is not None:
            if followed.expires_at == expires_at:
                return
            followed.timer.cancel()
            followed.timer = None
        followed.expires_at = expires_at
        if expires_at is None:
            return
        # A little past the expiry, so that the lookup then finds it expired.
        delay = min(max(0.0, (expires_at - utc_now()).total_seconds()) + 0.05, _LONGEST_TIMER)
        # Run in a context of its own, not in the request that set the timer (its transaction may be over by then).
        followed.timer = asyncio.get_running_loop().call_later(
            delay, self._expiry_due, token, context=contextvars.Context()
        )

    def _expiry_due(self, token: str) -> None:
        followed = self._followed.get(token)
        if followed is None:
            return
        followed.timer = None
        followed.expires_at = None
        task = asyncio.get_running_loop().create_task(self._check(token, followed), name="session expiry")
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

    async def _check(self, token: str, followed: _Followed) -> None:
        """Look a followed session up again: announced if it ended, its timer set again if it lives on."""
        self.forget(token)
        try:
            cached = await self._lookup(token)
        except InvalidSessionTokenError:
            return  # announced by the lookup
        except Exception:
            log.warning("could not check whether a session expired; trying again in %s s", _RETRY, exc_info=True)
            if self._followed.get(token) is followed:
                followed.timer = asyncio.get_running_loop().call_later(
                    _RETRY, self._expiry_due, token, context=contextvars.Context()
                )
            return
        if self._followed.get(token) is followed:
            self._set_timer(token, followed, cached.expires_at)

    # Looking tokens up -----------------------------------------------------------------------------------

    async def auth_for(self, token: str, installation_id: str | None = None, origin: Origin | None = None) -> Auth:
        cached = await self._lookup(token)
        return Auth(
            user_id=cached.user_id,
            roles=cached.roles,
            session_token=token,
            installation_id=installation_id,
            origin=origin if origin is not None else Origin(),
        )

    async def _lookup(self, token: str) -> _Cached:
        """The session's user, roles and expiry: from the cache while fresh, else from the database (and an
        ended session announced)."""
        cached = self._cache.get(token)
        now = time.monotonic()
        if cached is None or now - cached.checked_at >= self.cache_ttl or _expired(cached.expires_at):
            forgotten = self._forgotten
            try:
                session = await self._session_for(token)
            except InvalidSessionTokenError:
                self.announce_end(token)
                raise
            user_id = session["user"].object_id
            expires_at = session.get("expiresAt")
            roles = await self.roles_of(user_id)
            cached = _Cached(now, user_id, roles, expires_at if isinstance(expires_at, datetime) else None)
            if forgotten == self._forgotten:
                self._cache[token] = cached
        return cached

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

    async def _session_for(self, token: str) -> Record:
        """The live `_Session` behind a token, its user checked to exist."""
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
        return session

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
        session.update(changes)

    async def roles_of(self, user_id: str) -> frozenset[str]:
        """`role:<name>` for each role naming the user, and every role containing those, transitively."""
        role_schema = await self.schemas.get("_Role")
        if role_schema is None:
            return frozenset()
        found = set(await self.storage.relations.owning_ids("_Role", "users", [user_id]))
        frontier = set(found)
        while frontier:
            parents = set(await self.storage.relations.owning_ids("_Role", "roles", sorted(frontier)))
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
