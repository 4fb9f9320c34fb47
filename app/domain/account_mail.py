"""Email verification and password reset, as Parse Server does them: tokens kept on `_User`, links mailed to
the user, and the checks when a link comes back.

Storage uses Parse's fields: `_email_verify_token` (+ `_email_verify_token_expires_at`) and `emailVerified` for
verification, `_perishable_token` (+ `_perishable_token_expires_at`) for password resets. The tokens never leave
the server except in the emails: reads strip every `_` field.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from app.domain.acl import Auth, Origin
from app.domain.classes import ClassSchema
from app.domain.email_policy import EmailPolicy, email_request
from app.domain.events import WriteEvent
from app.domain.mail import MailMessage, Outbox
from app.domain.objects import ObjectService
from app.domain.operations import Delete
from app.domain.store import Find
from app.domain.users import email_verify_fields, random_token
from app.domain.values import Record, utc_now
from app.errors import AppError, ObjectNotFoundError

log = logging.getLogger("app.mail")

NOT_CONFIGURED = (
    "An appName, publicServerURL, and emailAdapter are required for password reset and email verification "
    "functionality."
)
INVALID_RESET = "Failed to reset password: username / email / token is invalid"
EXPIRED_RESET = "The password reset link has expired"


class ResetLinkError(Exception):
    """A password reset link that cannot be used; the message is Parse's, shown on the page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """Parse Server's email options, under this server's names (see `app.settings`)."""

    app_id: str
    public_url: str
    """Where clients reach `/parse`: links in emails start here."""
    app_name: str | None = None
    """None: the features are off, and their endpoints answer as Parse does without an email adapter."""
    verify_token_validity: float | None = None
    verify_token_reuse: bool = False
    verify_success_on_invalid_email: bool = True
    reset_token_validity: float | None = None
    reset_token_reuse: bool = False
    reset_success_on_invalid_email: bool = True
    unlock_on_reset: bool = False

    @property
    def configured(self) -> bool:
        return self.app_name is not None

    def link(self, page: str, token: str) -> str:
        return f"{self.public_url}/apps/{quote(self.app_id, safe='')}/{page}?token={quote(token, safe='')}"


class AccountMail:
    """The email flows; every transport (REST, GraphQL, the pages) calls these."""

    def __init__(
        self, objects: ObjectService, outbox: Outbox, settings: EmailSettings, policy: EmailPolicy | None = None
    ) -> None:
        self.objects = objects
        self.outbox = outbox
        self.settings = settings
        self.policy = policy or EmailPolicy()

    def require_configured(self) -> None:
        if not self.settings.configured:
            raise AppError(NOT_CONFIGURED, code=1)

    async def _users(self) -> ClassSchema:
        return await self.objects.schemas.require("_User")

    # Verification -------------------------------------------------------------------------------------------

    async def publish(self, event: WriteEvent) -> None:
        """After a write to `_User` that gave it a new verification token (sign-up, email change), mail the link."""
        if event.schema.name != "_User" or event.after is None:
            return
        token = event.after.get("_email_verify_token")
        before = (event.before or {}).get("_email_verify_token")
        if isinstance(token, str) and token != before and self.settings.configured:
            await self.send_verification(event.after, token)

    async def send_verification(self, user: Record, token: str) -> None:
        name = self.settings.app_name
        email = str(user.get("email"))
        link = self.settings.link("verify_email", token)
        text = (
            f"Hello {user.get('username')},\n\n"
            f"Please confirm that {email} is your email address for {name} by opening this link:\n\n{link}\n\n"
            "If you did not sign up, you can ignore this message.\n"
        )
        self._send(MailMessage(email, f"Confirm your email address for {name}", text, link))

    async def request_verification_email(self, email: Any, auth: Auth | None = None) -> None:
        """`POST /verificationEmailRequest`: mail a new link to an unverified address."""
        self.require_configured()
        if not email:
            raise AppError("you must provide an email", code=204)
        if not isinstance(email, str):
            raise AppError("you must provide a valid email string", code=125)
        quiet = self.settings.verify_success_on_invalid_email
        schema = await self._users()
        found = await self.objects.storage.find(schema, Find({"email": email}, limit=1))
        if not found or found[0].get("emailVerified"):
            # The work a new link costs, so that the answer's time does not tell an account from none.
            await self._write_nothing(schema)
            if quiet:
                return
            if not found:
                raise AppError(f"No user found with email {email}", code=205)
            raise AppError(f"Email {email} is already verified.", code=-1)
        await self._resend(found[0], auth or Auth())

    async def resend_verification(self, username: Any, token: Any, origin: Origin | None = None) -> bool:
        """The pages' resend form: by username or by the old token; whether a link went out (or would have)."""
        where: dict[str, Any] = {}
        if isinstance(username, str) and username:
            where["username"] = username
        if isinstance(token, str) and token:
            where["_email_verify_token"] = token
        if not where:
            return False
        found = await self.objects.storage.find(await self._users(), Find(where, limit=2))
        if len(found) != 1 or found[0].get("emailVerified"):
            return False
        await self._resend(found[0], Auth(origin=origin or Origin()))
        return True

    async def _resend(self, user: Record, auth: Auth) -> None:
        settings = self.settings
        token, expires = user.get("_email_verify_token"), user.get("_email_verify_token_expires_at")
        reusable = settings.verify_token_reuse and isinstance(expires, datetime) and expires > utc_now()
        if reusable and isinstance(token, str) and self.policy.enabled:
            await self._write_nothing(await self._users())  # the old link is mailed again
        elif await self.policy.verifies(email_request(auth, user, resend=True)):
            fields = email_verify_fields(settings.verify_token_validity)
            await self.objects.storage.update(await self._users(), user["objectId"], {}, fields, None)
            token = fields["_email_verify_token"]
        else:
            await self._write_nothing(await self._users())
            return  # Parse answers as if it sent one
        await self.send_verification(user, str(token))

    async def verify_email(self, token: Any) -> bool:
        """The link in a verification email: whether it named an unexpired token (the email is then verified)."""
        if not self.policy.enabled or not isinstance(token, str) or not token:
            return False
        where: dict[str, Any] = {"_email_verify_token": token}
        changes: dict[str, Any] = {"emailVerified": True, "_email_verify_token": Delete()}
        if self.settings.verify_token_validity:
            where["emailVerified"] = False
            where["_email_verify_token_expires_at"] = {"$gt": utc_now()}
            changes["_email_verify_token_expires_at"] = Delete()
        schema = await self._users()
        found = await self.objects.storage.find(schema, Find(where, limit=1, keys=frozenset({"objectId"})))
        if not found:
            return False
        return await self.objects.storage.update(schema, found[0]["objectId"], where, changes, None) is not None

    # Password reset -----------------------------------------------------------------------------------------

    async def request_password_reset(self, email: Any, origin: Origin, token: Any = None) -> None:
        """`POST /requestPasswordReset`: mail a reset link to the user with this email (or, lacking an email,
        this username); an unknown address succeeds too unless `reset_password_success_on_invalid_email` is off.
        Parse 9's `token` instead of an email: the token of an expired link, whose user gets a new one."""
        self.require_configured()
        if not email and not token:
            raise AppError("you must provide an email", code=204)
        if token and not isinstance(token, str):
            raise AppError("token must be a string", code=162)
        schema = await self._users()
        if token:
            where_expired = {"_perishable_token": token, "_perishable_token_expires_at": {"$lt": utc_now()}}
            expired = await self.objects.storage.find(schema, Find(where_expired, limit=1))
            if expired and expired[0].get("email"):
                email = expired[0]["email"]
        if not isinstance(email, str):
            raise AppError("you must provide a valid email string", code=125)
        where = {"$or": [{"email": email}, {"username": email, "email": {"$exists": False}}]}
        found = await self.objects.storage.find(schema, Find(where, limit=1))
        if not found:
            # The same lookup and a write of the same cost as for a known address: the time does not tell.
            await self._write_nothing(schema)
            if self.settings.reset_success_on_invalid_email:
                return
            raise ObjectNotFoundError("A user with that email does not exist.")
        user = found[0]
        hooks = self.objects.hooks
        if hooks is not None and hooks.has("before_password_reset_request", "_User"):
            # Cloud code may refuse the request (Parse's beforePasswordResetRequest); no link is made then.
            shown = {key: value for key, value in user.items() if not key.startswith("_") and key != "password"}
            await hooks.on_user("before_password_reset_request", Auth(origin=origin), shown)
        token, expires = user.get("_perishable_token"), user.get("_perishable_token_expires_at")
        reusable = (
            self.settings.reset_token_reuse
            and self.settings.reset_token_validity
            and isinstance(expires, datetime)
            and expires > utc_now()
        )
        if reusable and isinstance(token, str):
            await self._write_nothing(schema)
        else:
            token = random_token()
            fields: dict[str, Any] = {"_perishable_token": token}
            if self.settings.reset_token_validity:
                fields["_perishable_token_expires_at"] = utc_now() + timedelta(
                    seconds=self.settings.reset_token_validity
                )
            await self.objects.storage.update(schema, user["objectId"], {}, fields, None)
        name = self.settings.app_name
        link = self.settings.link("request_password_reset", str(token))
        text = (
            f"Hello {user.get('username')},\n\n"
            f"Someone asked to reset the password of your {name} account. To choose a new password, open this "
            f"link:\n\n{link}\n\nIf it was not you, ignore this message: your password stays as it is.\n"
        )
        recipient = str(user.get("email") or user.get("username"))
        self._send(MailMessage(recipient, f"Reset your {name} password", text, link))

    async def check_reset_token(self, token: Any) -> Record:
        """The user a reset link is for; ResetLinkError when the token is unknown or expired."""
        if not isinstance(token, str) or not token:
            raise ResetLinkError(INVALID_RESET)
        found = await self.objects.storage.find(await self._users(), Find({"_perishable_token": token}, limit=1))
        if not found:
            raise ResetLinkError(INVALID_RESET)
        expires = found[0].get("_perishable_token_expires_at")
        if self.settings.reset_token_validity and isinstance(expires, datetime) and expires < utc_now():
            raise ResetLinkError(EXPIRED_RESET)
        return found[0]

    async def reset_password(self, token: Any, password: Any, origin: Origin) -> None:
        """Set a new password through a reset link. The password policy applies; the link stops working, the
        user's sessions end (`revoke_session_on_password_reset`), and a locked account may be unlocked."""
        user = await self.check_reset_token(token)
        try:
            await self.objects.update(
                Auth(master=True, origin=origin), "_User", user["objectId"], {"password": password}
            )
        except ObjectNotFoundError:
            raise ResetLinkError(INVALID_RESET) from None
        except AppError as error:
            raise ResetLinkError(error.message) from None
        if self.settings.unlock_on_reset:
            unlock = {"_failed_login_count": Delete(), "_account_lockout_expires_at": Delete()}
            await self.objects.storage.update(await self._users(), user["objectId"], {}, unlock, None)

    def _send(self, message: MailMessage) -> None:
        # Never awaited: a request does not wait for the mail server, nor tells by its time that it mailed someone.
        self.outbox.post(message)

    async def _write_nothing(self, schema: ClassSchema) -> None:
        """The write an unknown address would have cost had it been known (an update by an id nobody has), so
        that the time of a request does not tell whether an account exists."""
        await self.objects.storage.update(schema, random_token(), {}, {"_perishable_token": Delete()}, None)
