"""The write rules of the classes that have their own: `_User` (passwords, its own ACL, authData, email
verification, a new session after a password change) and `_Session` (what a client may set, one session per user
and installation); `_Installation`'s are in `installations.py`.

The object writes (`writes.py`) consult a class's rules at named points, in this order: where a write goes
(`settle`: a create may find the object it describes, an update be sent to another), a create's `incoming`
data, its `prepare_create` values, its `created_acl`, a `duplicate` it hits, whether it `answers_whole`; an
update's `check_update`, `prepare_update`, `updated_acl`, `not_found` and `after_update`; a delete's
`check_delete` and `not_found`. `ClassRules` does nothing at each, so a class without rules of its own costs one
dictionary miss.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from app.domain.acl import ACL, MASTER, Auth
from app.domain.auth_providers import AuthProviders
from app.domain.classes import ClassSchema
from app.domain.email_policy import email_request
from app.domain.object_settings import ObjectSettings
from app.domain.operations import Delete
from app.domain.queries import parse_where
from app.domain.sessions import new_session
from app.domain.store import Find, Storage
from app.domain.users import (
    PasswordHasher,
    PasswordPolicy,
    duplicate_user_error,
    email_verify_fields,
    needs_email_verification,
    prepare_user_write,
)
from app.domain.values import Pointer, Record
from app.errors import AppError, DuplicateValueError, InvalidKeyNameError, InvalidSessionTokenError, denied


class UserWrites(Protocol):
    """What the `_User` rules use of the object writes: their collaborators, and sessions to end and make."""

    storage: Storage
    settings: ObjectSettings
    hasher: PasswordHasher
    password_policy: PasswordPolicy | None
    auth_providers: AuthProviders

    async def delete_sessions_of(self, user_id: str) -> None: ...

    async def create(self, auth: Auth, class_name: str, data: Mapping[str, Any]) -> object: ...


class CleanUps(Protocol):
    """The server's own tidying after a write (a session or an installation another replaces): plain storage
    writes without permissions or hooks, as Parse Server's are, that still tell caches and live queries."""

    storage: Storage

    async def discard(self, schema: ClassSchema, row: Record, acl: frozenset[str] | None = None) -> None: ...

    async def clear(self, schema: ClassSchema, row: Record, field: str, acl: frozenset[str] | None = None) -> None: ...


class ClassRules:
    """A class without write rules of its own: every point leaves the write as it is."""

    async def settle(
        self, auth: Auth, object_id: str | None, data: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], str | None]:
        """Before anything else: the data to write and the object it updates (None: a new object)."""
        return data, object_id

    def incoming(self, auth: Auth, data: Mapping[str, Any]) -> Mapping[str, Any]:
        return data

    async def prepare_create(self, auth: Auth, schema: ClassSchema, values: dict[str, Any]) -> dict[str, Any]:
        return values

    def created_acl(self, object_id: str, acl: ACL | None) -> ACL | None:
        return acl

    def duplicate(self, error: DuplicateValueError) -> AppError:
        return error

    def answers_whole(self, auth: Auth) -> bool:
        """Whether a create is answered with everything written rather than what the server filled in."""
        return False

    def check_update(self, auth: Auth, values: Mapping[str, Any]) -> None:
        return None

    async def prepare_update(
        self, auth: Auth, schema: ClassSchema, object_id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        return values

    def updated_acl(self, auth: Auth, object_id: str, acl: ACL) -> ACL:
        return acl

    def not_found(self, auth: Auth) -> AppError | None:
        """The refusal of an update or a delete that found nothing it may write, when not "Object not found."."""
        return None

    async def after_update(self, auth: Auth, object_id: str, values: Mapping[str, Any]) -> str | None:
        """Work after an update is stored; a new session token the caller is answered with."""
        return None

    def check_delete(self, auth: Auth) -> None:
        return None


NO_RULES = ClassRules()


class UserRules(ClassRules):
    """`_User`: passwords hashed and checked against the policy, a user always able to read and write itself,
    authData proven and held by one user, email verification, sessions ended by a new password."""

    def __init__(self, writes: UserWrites) -> None:
        self.writes = writes
        self.settings = writes.settings

    async def prepare_create(self, auth: Auth, schema: ClassSchema, values: dict[str, Any]) -> dict[str, Any]:
        writes = self.writes
        self._lowercase(values)
        values = await prepare_user_write(
            values, creating=True, auth=auth, hasher=writes.hasher, policy=writes.password_policy
        )
        await self._require_unused(schema, None, values)
        if needs_email_verification(values):
            request = email_request(auth, values, action="signup", provider=_providers_of(values.get("authData")))
            if await self.settings.email_policy.verifies(request):
                values.update(email_verify_fields(self.settings.email_verify_token_validity))
        return values

    def _lowercase(self, values: dict[str, Any]) -> None:
        """Parse's convertEmailToLowercase / convertUsernameToLowercase, before uniqueness is checked."""
        for name in self.settings.lowercase_user_fields:
            if isinstance(values.get(name), str):
                values[name] = values[name].lower()

    def created_acl(self, object_id: str, acl: ACL | None) -> ACL:
        # A user always keeps read and write on itself; others read it only if users are public.
        base = acl or ACL((() if self.settings.enforce_private_users else ("*",)), ())
        return ACL(tuple(dict.fromkeys((*base.read, object_id))), tuple(dict.fromkeys((*base.write, object_id))))

    def duplicate(self, error: DuplicateValueError) -> AppError:
        return duplicate_user_error(getattr(error, "field", None))

    async def prepare_update(
        self, auth: Auth, schema: ClassSchema, object_id: str, values: dict[str, Any]
    ) -> dict[str, Any]:
        if not auth.master and not auth.is_authenticated:
            raise denied(AppError, f"Cannot modify user {object_id}.", code=206)
        writes = self.writes
        self._lowercase(values)
        await self._link_auth_data(schema, object_id, values.get("authData"))
        current = None
        policy = writes.password_policy
        if policy is not None and policy.needs_stored_user and "password" in values:
            stored = await writes.storage.find(schema, Find({"objectId": object_id}, limit=1))
            current = stored[0] if stored else None
        values = await prepare_user_write(
            values, creating=False, auth=auth, hasher=writes.hasher, policy=policy, current=current
        )
        await self._require_unused(schema, object_id, values)
        if "_hashed_password" in values or "email" in values:
            # A reset link stops working once the password or the address it went to changes.
            values["_perishable_token"] = values["_perishable_token_expires_at"] = Delete()
        if needs_email_verification(values) and await self._verifies_change(auth, schema, object_id, values):
            values.update(email_verify_fields(self.settings.email_verify_token_validity))
        return values

    async def _verifies_change(
        self, auth: Auth, schema: ClassSchema, object_id: str, values: Mapping[str, Any]
    ) -> bool:
        """Whether a new email must be verified; cloud code's function sees the user before and after."""
        policy = self.settings.email_policy
        if policy.verify_function is None:
            return policy.verify_setting
        stored = await self.writes.storage.find(schema, Find({"objectId": object_id}, limit=1))
        original = stored[0] if stored else {}
        return await policy.verifies(email_request(auth, original, original=original, changes=values))

    def updated_acl(self, auth: Auth, object_id: str, acl: ACL) -> ACL:
        if auth.master:
            return acl
        # Users cannot lock themselves out of their own record.
        return ACL(tuple(dict.fromkeys((*acl.read, object_id))), tuple(dict.fromkeys((*acl.write, object_id))))

    def not_found(self, auth: Auth) -> AppError | None:
        return None if auth.master else denied(AppError, "Insufficient auth.", code=206)

    async def after_update(self, auth: Auth, object_id: str, values: Mapping[str, Any]) -> str | None:
        """Parse's `revokeSessionOnPasswordReset`: a new password ends every session of the user; a user who
        changed their own gets a new session (its token is returned), the master key does not."""
        if "_hashed_password" not in values:
            return None
        if self.settings.revoke_session_on_password_reset:
            await self.writes.delete_sessions_of(object_id)
        if auth.master:
            return None
        session = new_session(object_id, "update", auth.installation_id, self.settings.session_length)
        del session["createdWith"]  # Parse records no way of making for this one
        await self.writes.create(MASTER, "_Session", session)
        return str(session["sessionToken"])

    def check_delete(self, auth: Auth) -> None:
        if not auth.master and not auth.is_authenticated:
            raise AppError("Insufficient auth to delete user", code=206)

    async def _require_unused(self, schema: ClassSchema, object_id: str | None, values: Mapping[str, Any]) -> None:
        """Parse's check that the username, then the email, is no other user's in any case ("Alice" takes
        "alice"), before the write; the unique indexes still stop two writers racing for the same spelling."""
        for field in ("username", "email"):
            value = values.get(field)
            if not isinstance(value, str):
                continue
            where: dict[str, Any] = {field: value}
            if object_id is not None:
                where["objectId"] = {"$ne": object_id}
            parsed = parse_where(where, schema, master=True)
            query = Find(parsed, limit=1, keys=frozenset({"objectId"}), case_insensitive=True)
            if await self.writes.storage.find(schema, query):
                raise duplicate_user_error(field)

    async def _link_auth_data(self, schema: ClassSchema, user_id: str, auth_data: Any) -> None:
        """Linking a provider to a user: its data must prove the id, and no other user may hold that id.
        (A provider set to null is unlinked.)"""
        if not isinstance(auth_data, Mapping):
            return
        for provider, data in auth_data.items():
            if not data:
                continue
            await self.writes.auth_providers.verify(provider, data)
            where = parse_where(
                {f"authData.{provider}.id": data["id"], "objectId": {"$ne": user_id}}, schema, master=True
            )
            if await self.writes.storage.find(schema, Find(where, limit=1, keys=frozenset({"objectId"}))):
                raise AppError("this auth is already used", code=208)


def _providers_of(auth_data: Any) -> str | None:
    """Parse's `authProvider` of a sign-up with `authData`: every provider named, joined by commas."""
    return ",".join(auth_data) if isinstance(auth_data, Mapping) and auth_data else None


# Keys of a session that only the server sets (a client's values for them are dropped or refused).
_SESSION_OWN_KEYS = ("objectId", "user", "sessionToken", "expiresAt", "createdWith")


class SessionRules(ClassRules):
    """`_Session`: a client makes sessions only for itself, with a token the server draws, and changes neither
    their ACL nor token; their user and times are the master key's."""

    def __init__(self, clean_ups: CleanUps, session_length: float | None) -> None:
        self.clean_ups = clean_ups
        self.session_length = session_length

    def incoming(self, auth: Auth, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """What a session written by a client holds: a new token for its own user, as Parse Server makes it."""
        if auth.master:
            return data
        if auth.user_id is None:
            raise InvalidSessionTokenError("Session token required.")
        if "ACL" in data:
            raise InvalidKeyNameError("Cannot set ACL on a Session.")
        extra = {k: v for k, v in data.items() if k not in _SESSION_OWN_KEYS}
        return {**new_session(auth.user_id, "create", None, self.session_length), **extra}

    async def prepare_create(self, auth: Auth, schema: ClassSchema, values: dict[str, Any]) -> dict[str, Any]:
        """One session per user and installation, as Parse Server keeps them: a new one ends the others, whoever
        makes it (a log-in, a sign-up, a client, the master key), without their delete hooks, as in Parse."""
        user, installation_id = values.get("user"), values.get("installationId")
        if isinstance(user, Pointer) and installation_id:
            token = values.get("sessionToken")
            where = {"user": user, "installationId": installation_id, "sessionToken": {"$ne": token}}
            for old in await self.clean_ups.storage.find(schema, Find(where)):
                await self.clean_ups.discard(schema, old)
        return values

    def answers_whole(self, auth: Auth) -> bool:
        # A client's new session is answered whole, so the client learns its token.
        return not auth.master

    def check_update(self, auth: Auth, values: Mapping[str, Any]) -> None:
        """Parse Server's rules for changing a session: never its ACL or token; its user and times by the master
        key."""
        if "ACL" in values:
            raise InvalidKeyNameError("Cannot set ACL on a Session.")
        user = values.get("user")
        if "user" in values and not auth.master and not (isinstance(user, Pointer) and user.object_id == auth.user_id):
            raise InvalidKeyNameError("Invalid key name: user")
        for key in ("installationId", "sessionToken"):
            if key in values:
                raise InvalidKeyNameError(f"Invalid key name: {key}")
        for key in ("expiresAt", "createdWith"):
            if key in values and not auth.master:
                raise InvalidKeyNameError(f"Invalid key name: {key}")
