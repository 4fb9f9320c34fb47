"""The object service's settings: paging, ids, users' privacy, sessions' length, email verification, limits,
installations' duplicate tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.domain.email_policy import EmailPolicy
from app.domain.limits import RequestLimits


@dataclass(frozen=True, slots=True)
class InstallationSettings:
    """Parse's `installation` options: what happens to rows that lose their push token to another installation."""

    duplicate_device_token_action: Literal["delete", "update"] = "delete"
    """Delete such a row (Parse's default), or only clear the id it loses."""
    merge_priority: Literal["deviceToken", "installationId"] = "deviceToken"
    """When an installation id's row and a token-only row are one device, which survives."""
    enforce_auth: bool = False
    """Whether those clean-ups are the caller's writes (its ACLs apply) rather than the master key's."""


@dataclass(frozen=True, slots=True)
class ObjectSettings:
    allow_client_class_creation: bool = False
    default_limit: int = 100
    max_limit: int | None = None
    object_id_size: int = 10
    allow_custom_object_id: bool = False
    enforce_private_users: bool = True
    session_length: float | None = 31536000.0
    """Seconds a new session lasts; None: forever."""
    email_policy: EmailPolicy = field(default_factory=EmailPolicy)
    """Whether an email must be verified: the setting, or cloud code's function (shared with the accounts)."""
    email_verify_token_validity: float | None = None
    """Seconds an email verification link works; None: until it is used."""
    revoke_session_on_password_reset: bool = True
    allowed_file_url_domains: tuple[str, ...] = ("*",)
    """Hosts a File value's url may name (Parse's fileUpload.allowedFileUrlDomains); `*`: any."""
    lowercase_user_fields: tuple[str, ...] = ()
    """`_User` fields stored lower-cased (`email`, `username`): Parse's convertEmailToLowercase and
    convertUsernameToLowercase."""
    limits: RequestLimits = RequestLimits()
    installations: InstallationSettings = InstallationSettings()
