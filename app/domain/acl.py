"""Who is asking (`Auth`, with where the request came from) and what an object's ACL lets them do."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.errors import AppError, InvalidACLError

PUBLIC = "*"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one request came from, as cloud code sees it: its headers as received (the keys included, as Parse
    passes them), the client's address, and the context the client sent. Set by the transport that received the
    request and carried on its caller's `Auth`, so a hook can only ever see its own request's."""

    headers: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    """Shared by every hook of the request (a before_save may leave something for its after_save), as in Parse."""


@dataclass(frozen=True, slots=True)
class Auth:
    """The caller of one request: the master key, a user with their roles, or the public."""

    master: bool = False
    read_only: bool = False
    maintenance: bool = False
    """Parse's maintenance key: the master key's reach over objects (with `master`), none of its other powers."""
    user_id: str | None = None
    roles: frozenset[str] = frozenset()
    session_token: str | None = None
    installation_id: str | None = None
    # Not part of who the caller is: two calls by one caller are equal whatever their headers.
    origin: Origin = field(default_factory=Origin, compare=False, repr=False)
    groups: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        # The principals an ACL or a class permission may name for this caller.
        groups = {PUBLIC, *self.roles}
        if self.user_id:
            groups.add(self.user_id)
        object.__setattr__(self, "groups", frozenset(groups))

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def as_master(self) -> Auth:
        """The master key's rights for work a request does on its own behalf, still from where it came."""
        return Auth(master=True, origin=self.origin)

    def as_user(self, user_id: str, roles: frozenset[str] = frozenset(), session_token: str | None = None) -> Auth:
        """A user acting in the rest of this request (one who just logged in or signed up), from where it came."""
        return Auth(
            user_id=user_id,
            roles=roles,
            session_token=session_token,
            installation_id=self.installation_id,
            origin=self.origin,
        )

    def signed_in_as(self, user_id: str, session_token: str) -> Auth:
        """This caller as `user_id` with that session: its roles kept when it is that user already, none otherwise
        (a user who has just signed in has not had theirs loaded)."""
        return self.as_user(user_id, self.roles if self.user_id == user_id else frozenset(), session_token)


MASTER = Auth(master=True)
PUBLIC_AUTH = Auth()


@dataclass(frozen=True, slots=True)
class ACL:
    """Who may read and who may write one object, in the order Parse stores them."""

    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Any) -> ACL:
        """Validate an ACL as clients send it: `{"*": {"read": true}, "<userId>": {"write": true}}`."""
        if not isinstance(value, Mapping):
            raise AppError("ACL must be a Parse ACL.", code=-1)
        read: list[str] = []
        write: list[str] = []
        for principal, permissions in value.items():
            if principal == "*unresolved":
                raise InvalidACLError("Invalid ACL.")
            if "\0" in principal:  # it would be a stored key (`_acl`), which no database can hold
                raise InvalidACLError("Invalid ACL: a user id or role name cannot contain a null character.")
            if not isinstance(permissions, Mapping):
                raise InvalidACLError(f"Invalid ACL: the entry for {principal} must be an object.")
            for permission, allowed in permissions.items():
                if permission not in ("read", "write"):
                    raise InvalidACLError(f"Invalid ACL: {permission} is not a permission (read or write).")
                if not isinstance(allowed, bool):
                    raise InvalidACLError(f"Invalid ACL: {principal}.{permission} must be true or false.")
                if allowed:
                    (read if permission == "read" else write).append(principal)
        return cls(tuple(read), tuple(write))

    def to_json(self) -> dict[str, dict[str, bool]]:
        result: dict[str, dict[str, bool]] = {}
        for principal in self.read:
            result.setdefault(principal, {})["read"] = True
        for principal in self.write:
            result.setdefault(principal, {})["write"] = True
        return result

    def can_read(self, auth: Auth) -> bool:
        return auth.master or not auth.groups.isdisjoint(self.read)

    def can_write(self, auth: Auth) -> bool:
        return auth.master or not auth.groups.isdisjoint(self.write)
