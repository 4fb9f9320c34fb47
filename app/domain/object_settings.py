"""The object service's settings: paging, ids, users' privacy, sessions' length, email verification, limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain.email_policy import EmailPolicy
from app.domain.limits import RequestLimits


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
    limits: RequestLimits = RequestLimits()
