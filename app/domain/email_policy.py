"""Parse's `verifyUserEmails` and `preventLoginWithUnverifiedEmail`: each a setting, or a function of the request
that cloud code registers (`@cloud.verify_user_emails`, `@cloud.prevent_login_with_unverified_email`), which then
decides instead of the setting.

Parse asks these where it asks the options, and so do we: a sign-up or an email change that sets an email
(whether the address must be verified, so a token is made and mailed), a resent verification link (whether to
make and send a new one), a sign-up (whether the new user gets no session until the address is verified), and a
log-in with a password (whether an unverified address refuses it; `ignoreEmailVerification` with the master key
skips the question). The second function is asked only when the first said yes, as Parse does, and only `True`
counts as yes. A function may be `async def` or plain (run in a worker thread); one that raises fails the request
with code 141, as any cloud code does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.acl import Auth
from app.domain.cloud_requests import CloudObject, EmailRequest
from app.domain.hooks import Registration, as_app_error, call_handler
from app.domain.values import Record


class EmailPolicy:
    """The two options: the settings' values, and the functions cloud code gave (set once it is loaded)."""

    def __init__(self, verify_user_emails: bool = False, prevent_login_unverified: bool = False) -> None:
        self.verify_setting = verify_user_emails
        self.prevent_setting = prevent_login_unverified
        self.verify_function: Registration | None = None
        self.prevent_function: Registration | None = None

    @property
    def enabled(self) -> bool:
        """Whether verification is on at all (a function counts, as in Parse): verification links work then."""
        return self.verify_setting or self.verify_function is not None

    async def verifies(self, request: EmailRequest) -> bool:
        """Whether the address in this request must be verified."""
        return await _decide(self.verify_function, self.verify_setting, request, "verify_user_emails")

    async def prevents_login(self, request: EmailRequest) -> bool:
        """Whether an unverified address keeps this user from a session (asked on sign-up and log-in)."""
        if not await self.verifies(request):
            return False
        return await _decide(
            self.prevent_function, self.prevent_setting, request, "prevent_login_with_unverified_email"
        )


async def _decide(function: Registration | None, setting: bool, request: EmailRequest, name: str) -> bool:
    if function is None:
        return setting
    try:
        return await call_handler(function, request) is True
    except Exception as error:
        raise as_app_error(error, name) from None


def user_shown(record: Mapping[str, Any] | None) -> Record:
    """A user as these functions see it: no internal fields, no password."""
    return {key: value for key, value in (record or {}).items() if not key.startswith("_") and key != "password"}


def email_request(
    auth: Auth,
    user: Mapping[str, Any],
    *,
    action: str | None = None,
    provider: str | None = None,
    original: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    resend: bool = False,
) -> EmailRequest:
    """The request Parse passes: `user` as stored (or as it will be with `changes`), the caller's key and
    address, and how the user was made or signs in (`action` and `provider`)."""
    existed = original is not None
    shown = CloudObject("_User", user_shown(original if existed else user), user_shown(changes), existed=existed)
    return EmailRequest(
        object=shown,
        master=auth.master,
        ip=auth.origin.ip,
        installation_id=auth.installation_id,
        created_with={"action": action, "authProvider": provider or "password"} if action else None,
        original=CloudObject("_User", user_shown(original), existed=True) if existed else None,
        resend_request=resend,
    )
