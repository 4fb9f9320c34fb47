"""Sign-up, log-in and log-out: users with passwords and the sessions they hold.

Every transport signs users up and in through `AccountService`, so a session made through GraphQL is the same
`_Session` row a Parse SDK would get from `POST /users` (`r:` + 32 hex digits, `createdWith`, `expiresAt`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.domain.acl import MASTER, Auth
from app.domain.auth_providers import AuthProviders
from app.domain.classes import ClassSchema
from app.domain.email_policy import EmailPolicy, email_request
from app.domain.objects import ObjectService, WriteResult, new_object_id
from app.domain.operations import Delete, Increment
from app.domain.queries import QueryOptions, parse_where
from app.domain.sessions import Authenticator, new_session
from app.domain.store import Find
from app.domain.users import PasswordHasher
from app.domain.values import Record, utc_now
from app.errors import AppError, InvalidSessionTokenError, ObjectNotFoundError, OperationForbiddenError, denied

_BAD_LOGIN = "Invalid username/password."
_UNVERIFIED = "User email is not verified."
# Compared against when no user matches, so a wrong username costs what a wrong password costs.
_DUMMY_HASH = "$2b$10$mRle5yiPtfz5RY0Iq40Py.gmYq9YFc/y5UWQqpv9hCNiPmKFqywdK"


@dataclass(frozen=True, slots=True)
class EmailGate:
    """Parse's `verifyUserEmails` with `preventLoginWithUnverifiedEmail` (settings or cloud code's functions): no
    session for an unverified email, and with `preventSignupWithUnverifiedEmail` a sign-up answers 205 rather
    than a user without a session."""

    policy: EmailPolicy = field(default_factory=EmailPolicy)
    prevent_signup_unverified: bool = False


@dataclass(slots=True)
class SignedIn:
    """A user with a new session: its token, the user as read or stored, the write that made it (a sign-up) and
    the provider whose `authData` signed it in. A sign-up held back until the email is verified has no token."""

    session_token: str | None
    user: Record
    written: WriteResult | None = None
    provider: str | None = None

    @property
    def created(self) -> bool:
        """Whether the user was made now (a sign-up) rather than found (a log-in)."""
        return self.written is not None

    @property
    def user_id(self) -> str:
        return str(self.user["objectId"])

    @property
    def object(self) -> Record:
        """The user, as a create's `WriteResult` names what it stored."""
        return self.user


@dataclass(frozen=True, slots=True)
class Lockout:
    """Parse Server's `accountLockout`: `threshold` failed log-ins lock an account for `duration` minutes."""

    threshold: int
    duration: float

    @property
    def message(self) -> str:
        minutes = f"{self.duration:g}"
        return (
            f"Your account is locked due to multiple failed login attempts. Please try again after {minutes} minute(s)"
        )


class AccountService:
    def __init__(
        self,
        objects: ObjectService,
        authenticator: Authenticator,
        *,
        session_length: float | None,
        hasher: PasswordHasher,
        lockout: Lockout | None = None,
        providers: AuthProviders | None = None,
        email_gate: EmailGate | None = None,
    ) -> None:
        self.objects = objects
        self.authenticator = authenticator
        self.session_length = session_length
        self.hasher = hasher
        self.lockout = lockout
        self.providers = providers or AuthProviders()
        self.email_gate = email_gate or EmailGate()

    async def create(self, auth: Auth, class_name: str, fields: Mapping[str, Any]) -> SignedIn | WriteResult:
        """A client's new object, whichever protocol it came by: a new `_User` is a sign-up (signed in at once, or
        logged in when its `authData` names a user who exists), any other class a plain create."""
        if class_name == "_User":
            return await self.sign_up(auth, fields)
        return await self.objects.create(auth, class_name, fields)

    async def sign_up(self, auth: Auth, fields: Mapping[str, Any]) -> SignedIn:
        """Create a user (the object service checks username, password and email) and a session for it; with
        `authData` of a provider this server verifies, log its user in instead when there is one."""
        provider = _provider_of(fields.get("authData"))
        if provider is not None:
            await self.providers.verify(provider, fields["authData"][provider])
            return await self._sign_up_with(auth, provider, fields)
        created = await self.objects.create(auth, "_User", fields)
        user_id = created.object["objectId"]
        if await self._held_back(auth, created, "password"):
            return SignedIn(None, created.object, created)
        token = await self.create_session(user_id, "signup", auth.installation_id)
        return SignedIn(token, created.object, created)

    async def _held_back(self, auth: Auth, created: WriteResult, provider: str) -> bool:
        """Whether a new user gets no session until the email is verified (Parse makes the user all the same, and
        may say so as an error)."""
        request = email_request(auth, created.object, action="signup", provider=provider)
        if not await self.email_gate.policy.prevents_login(request):
            return False
        if self.email_gate.prevent_signup_unverified:
            raise AppError(_UNVERIFIED, code=205)
        return True

    async def _sign_up_with(self, auth: Auth, provider: str, fields: Mapping[str, Any]) -> SignedIn:
        identity = fields["authData"][provider]["id"]
        schema = await self.objects.schemas.require("_User")
        where = parse_where({f"authData.{provider}.id": identity}, schema, master=True)
        found = await self.objects.storage.find(schema, Find(where, limit=1, keys=frozenset({"objectId"})))
        if found:
            user_id = str(found[0]["objectId"])
            token = await self.create_session(user_id, "login", auth.installation_id, provider)
            user = await self.objects.get(auth.as_user(user_id), "_User", user_id)
            return SignedIn(token, user, provider=provider)
        values = {"username": new_object_id(25), **fields}  # Parse gives such users a random username
        created = await self.objects.create(auth, "_User", values)
        if await self._held_back(auth, created, ",".join(fields["authData"])):
            return SignedIn(None, created.object, created, provider)
        token = await self.create_session(created.object["objectId"], "signup", auth.installation_id, provider)
        return SignedIn(token, created.object, created, provider)

    async def log_in(
        self, auth: Auth, username: Any, email: Any, password: Any, *, ignore_email_verification: Any = False
    ) -> SignedIn:
        """Check the password and open a session, as `POST /login` does."""
        user_id = await self.authenticate(
            auth, username, email, password, ignore_email_verification=ignore_email_verification
        )
        hooks = self.objects.hooks
        as_user = auth.as_user(user_id)
        if hooks is not None and hooks.has("before_login", "_User"):
            # After the password is checked and before a session exists: the hook may refuse the log-in.
            await hooks.on_user("before_login", as_user, await self.objects.get(auth.as_master(), "_User", user_id))
        token = await self.create_session(user_id, "login", auth.installation_id)
        user = await self.objects.get(as_user, "_User", user_id)
        if hooks is not None and hooks.has("after_login", "_User"):
            await hooks.on_user("after_login", as_user, user)
        return SignedIn(token, user)

    async def verify_password(
        self, auth: Auth, username: Any, email: Any, password: Any, *, ignore_email_verification: Any = False
    ) -> Record:
        """`/verifyPassword`: the user these credentials name, as that user sees their own object, checked as a log-in
        is (lockout, unverified email, locked ACL) but without opening a session or running the log-in hooks."""
        user_id = await self.authenticate(
            auth, username, email, password, ignore_email_verification=ignore_email_verification
        )
        return await self.objects.get(auth.as_user(user_id), "_User", user_id)

    async def log_in_as(self, auth: Auth, user_id: Any) -> SignedIn:
        """`POST /loginAs`, for the master key only (support acting as a user): a session for any user, made "with
        the master key" (`createdWith.authProvider`), no password asked."""
        if not auth.master:
            raise denied(OperationForbiddenError, "loginAs without the master key")  # Parse's 119, not a 403
        if auth.read_only:
            raise OperationForbiddenError("read-only masterKey isn't allowed to log in as a user.")
        if not user_id:
            raise AppError("userId must not be empty, null, or undefined", code=162)
        schema = await self.objects.schemas.require("_User")
        if not isinstance(user_id, str):
            raise ObjectNotFoundError("user not found")
        exists = Find(parse_where({"objectId": user_id}, schema), keys=frozenset({"objectId"}), limit=1)
        if not await self.objects.storage.find(schema, exists):
            raise ObjectNotFoundError("user not found")
        token = await self.create_session(user_id, "login", auth.installation_id, "masterkey")
        return SignedIn(token, await self.objects.get(auth.as_user(user_id), "_User", user_id))

    async def authenticate(
        self, auth: Auth, username: Any, email: Any, password: Any, *, ignore_email_verification: Any = False
    ) -> str:
        """The id of the user these credentials name, as Parse Server finds it: by username, by email, or by a
        username that is another user's email (the username wins). The master key may pass
        `ignore_email_verification` to log in a user whose email is not verified yet."""
        if not username and not email:
            raise AppError("username/email is required.", code=200)
        if not password:
            raise AppError("password is required.", code=201)
        if (
            not isinstance(password, str)
            or (email and not isinstance(email, str))
            or (username and not isinstance(username, str))
        ):
            raise ObjectNotFoundError(_BAD_LOGIN)
        if email and username:
            where: dict[str, Any] = {"email": email, "username": username}
        elif email:
            where = {"email": email}
        else:
            where = {"$or": [{"username": username}, {"email": username}]}
        schema = await self.objects.schemas.require("_User")
        found = await self.objects.storage.find(schema, Find(parse_where(where, schema), limit=2))
        user = next((u for u in found if u.get("username") == username), found[0] if found else None)
        hashed = user.get("_hashed_password") if user else None
        usable = isinstance(hashed, str) and bool(hashed)
        valid = await self.hasher.verify(password, hashed if usable else _DUMMY_HASH)  # type: ignore[arg-type]
        if user is not None and self.lockout is not None:
            await self._count_attempt(schema, user, valid and usable)
        if user is None or not usable or not valid:
            raise ObjectNotFoundError(_BAD_LOGIN)
        acl = user.get("ACL")
        if not auth.master and acl is not None and not acl.read and not acl.write:
            raise ObjectNotFoundError(_BAD_LOGIN)  # a user no one may read is locked out
        skip_gate = auth.master and ignore_email_verification is True
        if not skip_gate:
            request = email_request(auth, user, action="login")
            if await self.email_gate.policy.prevents_login(request) and not user.get("emailVerified"):
                raise AppError(_UNVERIFIED, code=205)
        await self._check_password_age(schema, user)
        return str(user["objectId"])

    async def _check_password_age(self, schema: ClassSchema, user: Record) -> None:
        policy = self.objects.password_policy
        if policy is None or not policy.max_age_days:
            return
        changed = user.get("_password_changed_at")
        if not isinstance(changed, datetime):
            # Set before the policy was: its age counts from now.
            await self.objects.storage.update(schema, user["objectId"], {}, {"_password_changed_at": utc_now()}, None)
        elif changed + timedelta(days=policy.max_age_days) < utc_now():
            raise ObjectNotFoundError("Your password has expired. Please reset your password.")

    async def _count_attempt(self, schema: ClassSchema, user: Record, succeeded: bool) -> None:
        """Parse's account lockout: refuse a locked account whatever the password, count failures atomically,
        and lock at the threshold (the attempt past it is refused as locked)."""
        assert self.lockout is not None
        lockout, now, user_id = self.lockout, utc_now(), user["objectId"]
        expires = user.get("_account_lockout_expires_at")
        failures = user.get("_failed_login_count") or 0
        if isinstance(expires, datetime) and expires > now and failures >= lockout.threshold:
            raise ObjectNotFoundError(lockout.message)
        if succeeded:
            if failures:
                await self.objects.storage.update(schema, user_id, {}, {"_failed_login_count": 0}, None)
            return
        before = await self.objects.storage.update(schema, user_id, {}, {"_failed_login_count": Increment(1)}, None)
        count = ((before or {}).get("_failed_login_count") or 0) + 1
        if count >= lockout.threshold:
            until = now + timedelta(minutes=lockout.duration)
            await self.objects.storage.update(schema, user_id, {}, {"_account_lockout_expires_at": until}, None)
            if count > lockout.threshold:
                raise ObjectNotFoundError(lockout.message)

    async def log_out(self, auth: Auth) -> None:
        """End the caller's session; without a session there is nothing to end."""
        token = auth.session_token
        if token is None:
            return
        schema = await self.objects.schemas.get("_Session")
        if schema is not None:
            sessions = await self.objects.storage.find(schema, Find({"sessionToken": token}, limit=1))
            if not sessions:
                raise InvalidSessionTokenError("Session token not found.")
            await self.objects.delete(MASTER, "_Session", sessions[0]["objectId"])
            if self.objects.hooks is not None:
                session = {key: value for key, value in sessions[0].items() if not key.startswith("_")}
                await self.objects.hooks.after_logout(auth, session)
        self.authenticator.forget(token)

    async def upgrade_session(self, auth: Auth) -> Record:
        """`POST /upgradeToRevocableSession`: a `_Session` for the caller, whose legacy token (kept on the user)
        stops working; the new session as the user sees it."""
        if auth.user_id is None:
            raise ObjectNotFoundError("invalid session")
        token = await self.create_session(auth.user_id, "upgrade", auth.installation_id)
        users = await self.objects.schemas.require("_User")
        await self.objects.storage.update(users, auth.user_id, {}, {"sessionToken": Delete()}, None)
        found = await self.objects.find(
            auth.as_user(auth.user_id, auth.roles, token),
            "_Session",
            {"sessionToken": token},
            QueryOptions(limit=1),
        )
        if not found.results:
            raise AppError("Failed to load upgraded session.", code=1)
        return found.results[0]

    async def current_user(self, auth: Auth, options: QueryOptions | None = None) -> Record:
        """The user behind the caller's session token."""
        if auth.session_token is None or auth.user_id is None:
            raise denied(InvalidSessionTokenError, "Invalid session token")
        try:
            return await self.objects.get(auth, "_User", auth.user_id, options)
        except ObjectNotFoundError:
            raise InvalidSessionTokenError("Invalid session token") from None

    async def current_session(self, auth: Auth) -> Record:
        """The session behind the caller's token, as the caller may read it."""
        token = auth.session_token
        if token is None:
            raise InvalidSessionTokenError("Session token required.")
        found = await self.objects.find(auth, "_Session", {"sessionToken": token}, QueryOptions(limit=1))
        if not found.results:
            raise denied(ObjectNotFoundError, "Session token not found.")
        return found.results[0]

    async def create_session(
        self, user_id: str, action: str, installation_id: str | None, provider: str = "password"
    ) -> str:
        session = new_session(user_id, action, installation_id, self.session_length, provider)
        # The session's rules end the user's other session on the same installation.
        await self.objects.create(MASTER, "_Session", session)
        return str(session["sessionToken"])


def _provider_of(auth_data: Any) -> str | None:
    """The provider `authData` signs in with: the first one given data ({"anonymous": {}} is none)."""
    if not isinstance(auth_data, Mapping):
        return None
    return next((str(name) for name, data in auth_data.items() if data), None)
