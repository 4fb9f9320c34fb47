"""User accounts: password hashing (pwdlib's bcrypt, which reads Parse's `$2a$`/`$2b$`/`$2y$` hashes) and the
rules any write to `_User` follows, whichever route it takes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from pwdlib import PasswordHash
from pwdlib.hashers.bcrypt import BcryptHasher

from app.domain.acl import Auth
from app.domain.operations import Delete
from app.errors import AppError, OperationForbiddenError, denied

_EMAIL = re.compile(r"^.+@.+$")


class PasswordHasher:
    """bcrypt at Parse Server's cost (10), off the event loop: a hash takes tens of milliseconds."""

    def __init__(self, rounds: int = 10) -> None:
        self._hash = PasswordHash((BcryptHasher(rounds=rounds),))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash.hash, password)

    async def verify(self, password: str, hashed: str) -> bool:
        return await asyncio.to_thread(self._hash.verify, password, hashed)


async def prepare_user_write(
    values: Mapping[str, Any], *, creating: bool, auth: Auth, hasher: PasswordHasher
) -> dict[str, Any]:
    """Check a write to `_User` and replace a plain password by its hash; never store a password as given."""
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
