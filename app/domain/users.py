"""User accounts: password hashing (pwdlib's bcrypt, which reads Parse's `$2a$`/`$2b$`/`$2y$` hashes) and the
rules any write to `_User` follows, whichever route it takes."""

from __future__ import annotations

import asyncio
import re
import secrets
import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher

from app.domain.acl import Auth
from app.domain.operations import Delete
from app.domain.values import Record, utc_now
from app.errors import AppError, OperationForbiddenError, ValidationError, denied

_EMAIL = re.compile(r"^.+@.+$")
_TOKEN_ALPHABET = string.ascii_letters + string.digits


class PasswordHasher:
    """bcrypt at Parse Server's cost (10), off the event loop: a hash takes tens of milliseconds."""

    def __init__(self, rounds: int = 10) -> None:
        self._hash = PasswordHash((BcryptHasher(rounds=rounds),))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, _bcrypt_key(password))

    async def verify(self, password: str, hashed: str) -> bool:
        return await asyncio.to_thread(self._hash.verify, _bcrypt_key(password), hashed)


def _bcrypt_key(password: str) -> bytes:
    """What bcrypt reads of a password: its first 72 bytes of UTF-8. bcryptjs (Parse Server's) cuts there
    silently, where the `bcrypt` package refuses longer ones, so a long password works as it does in Parse."""
    return password.encode("utf-8", "surrogatepass")[:72]


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Parse Server's `passwordPolicy`: what a new password must be, and how long one lasts."""

    pattern: re.Pattern[str] | None = None
    error: str | None = None
    """The message for a password the pattern refuses (Parse's `validationError`)."""
    disallow_username: bool = False
    history: int | None = None
    """A new password may not repeat any of the last `history` ones (`maxPasswordHistory`)."""
    max_age_days: float | None = None
    """A password older than this must be reset before logging in (`maxPasswordAge`)."""
    validator: Callable[[str], Awaitable[bool]] | None = None
    """Cloud code's check of a new password (`validatorCallback`): false refuses it with the policy's message."""

    @property
    def needs_stored_user(self) -> bool:
        return self.disallow_username or bool(self.history)

    async def check(self, password: str, username: Any, current: Record | None, hasher: PasswordHasher) -> None:
        if (self.pattern is not None and not self.pattern.search(password)) or (
            self.validator is not None and not await self.validator(password)
        ):
            raise ValidationError(self.error or "Password does not meet the Password Policy requirements.")
        if self.disallow_username:
            name = username if isinstance(username, str) else (current or {}).get("username")
            if isinstance(name, str) and name and name in password:
                raise ValidationError("Password cannot contain your username.")
        if self.history and current is not None:
            for old in self.previous(current)[: self.history]:
                if await hasher.verify(password, old):
                    raise ValidationError(f"New password should not be the same as last {self.history} passwords.")

    def previous(self, current: Record) -> list[str]:
        """The hashes a new password is compared with: the current one first, then the kept ones."""
        kept = current.get("_password_history") or []
        hashed = current.get("_hashed_password")
        return [*([hashed] if isinstance(hashed, str) else []), *(h for h in reversed(kept) if isinstance(h, str))]

    def history_after(self, current: Record) -> list[str]:
        """`_password_history` once the current password is replaced: the last `history - 1`, oldest first."""
        keep = max(0, (self.history or 0) - 1)
        return list(reversed(self.previous(current)[:keep]))


async def prepare_user_write(
    values: Mapping[str, Any],
    *,
    creating: bool,
    auth: Auth,
    hasher: PasswordHasher,
    policy: PasswordPolicy | None = None,
    current: Record | None = None,
) -> dict[str, Any]:
    """Check a write to `_User` and replace a plain password by its hash; never store a password as given.

    With a password policy, a new password is checked against it (`current` is the stored user, on updates),
    and the history and change time it keeps are written with it."""
    result = dict(values)
    if "emailVerified" in result and not auth.master:
        raise denied(OperationForbiddenError, "Clients aren't allowed to manually update email verification.")
    auth_data = result.get("authData")
    # Only a provider with data stands in for a username and password ({"anonymous": {}} does not).
    has_auth_data = isinstance(auth_data, Mapping) and any(auth_data.values())
    username, password = result.get("username"), result.get("password")
    if creating and not has_auth_data:
        if not isinstance(username, str) or not username:
            raise AppError("bad or missing username", code=200)
        if not isinstance(password, str) or not password:
            raise AppError("password is required", code=201)
    if "username" in result and (not isinstance(username, str) or not username):
        raise AppError("bad or missing username", code=200)
    email = result.get("email")
    if email is not None and not isinstance(email, Delete) and (not isinstance(email, str) or not _EMAIL.match(email)):
        raise AppError("Email address format is invalid.", code=125)
    if "password" in result:
        if not isinstance(password, str) or not password:
            raise AppError("password is required", code=201)
        if policy is not None:
            await policy.check(password, username, current, hasher)
            if policy.history and current is not None:
                result["_password_history"] = policy.history_after(current)
            if policy.max_age_days:
                result["_password_changed_at"] = utc_now()
        result["_hashed_password"] = await hasher.hash(password)
        del result["password"]
    return result


def duplicate_user_error(field: str | None) -> AppError:
    """Parse's answers to a taken username or email (a unique index refused the write)."""
    if field == "username":
        return AppError("Account already exists for this username.", code=202)
    if field == "email":
        return AppError("Account already exists for this email address.", code=203)
    return AppError("A duplicate value for a field with unique values was provided", code=137)


def random_token(size: int = 25) -> str:
    """A token for an emailed link, as Parse Server makes them: 25 letters and digits."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(size))


def email_verify_fields(validity: float | None) -> dict[str, Any]:
    """What a user gets when its email must be verified: a new token (expiring after `validity` seconds, if
    given), and `emailVerified` false until the link is followed."""
    fields: dict[str, Any] = {"_email_verify_token": random_token(), "emailVerified": False}
    if validity:
        fields["_email_verify_token_expires_at"] = utc_now() + timedelta(seconds=validity)
    return fields


def needs_email_verification(values: Mapping[str, Any]) -> bool:
    """Whether a write to `_User` sets an email that must be verified: one given as text, by a user who does not
    sign in through a provider (Parse lets `anonymous` pass)."""
    auth_data = values.get("authData")
    providers = [name for name, data in auth_data.items() if data] if isinstance(auth_data, Mapping) else []
    return isinstance(values.get("email"), str) and bool(values["email"]) and providers in ([], ["anonymous"])
