"""The error tree: every failure a client may see, with Parse's numeric code and HTTP status.

    AppError                          (code, status) as class attributes
     ├── InternalError                    1  500  unexpected; the message never reaches a client
     ├── RateLimitedError               100  429  a rate limit's message, with Retry-After and X-RateLimit-* headers
     ├── DatabaseUnavailableError         1  503  the database cannot be reached; worth retrying shortly
     │    └── DatabaseRefusedError        1  503  it answers but refuses this server (TLS, certificate, login)
     ├── ObjectNotFoundError            101  404  missing, or hidden by an ACL (the two look alike)
     ├── InvalidQueryError              102
     ├── InvalidClassNameError          103
     ├── MissingObjectIdError           104
     ├── InvalidKeyNameError            105
     ├── InvalidPointerError            106
     ├── InvalidJSONError               107
     ├── CommandUnavailableError        108
     ├── IncorrectTypeError             111
     ├── PushMisconfiguredError         115  push is not configured, or a push request cannot be sent
     ├── OperationForbiddenError        119
     ├── InvalidNestedKeyError          121
     ├── InvalidFileNameError           122
     ├── InvalidACLError                123
     ├── RequestTimeoutError            124  a query ran past the server's time limit (nothing written)
     ├── FileSaveError                  130  an upload refused or failed
     ├── RequiredFieldError             135
     ├── ImmutableFieldError            136
     ├── DuplicateValueError            137
     ├── ScriptFailedError              141
     ├── ValidationError                142
 ├── WebhookError                   143  a webhook declaration refused, or naming no webhook
     ├── FileDeleteError                153
     ├── DuplicateRequestError          159  a request id seen already (idempotency): the request did not run
     ├── InvalidSessionTokenError       209
     ├── InvalidSchemaOperationError    255
     ├── UnauthorizedError             none  403  {"error": "unauthorized"}, as Parse answers
     │    └── MasterKeyRequiredError   none  403  over REST; GraphQL answers it as 119, as Parse does
     └── PayloadTooLargeError          none  413

`code` may be overridden per instance (cloud code raises errors with codes of its choosing).
"""

from __future__ import annotations

from typing import ClassVar


class AppError(Exception):
    """A failure with a Parse error code; transports map it to their own error shape."""

    code: ClassVar[int | None] = 1
    status: ClassVar[int] = 400

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail: str | None = None
        if code is not None:
            self.code = code  # type: ignore[misc]
            # Parse's mapping of codes to statuses, for errors built with a code of their own.
            self.status = 500 if code == 1 else 404 if code == 101 else type(self).status  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code})"


class InternalError(AppError):
    code, status = 1, 500


class RateLimitedError(AppError):
    """A rate limit refused the request (Parse's CONNECTION_FAILED code, with HTTP's 429); `headers` tell the client
    when to come back."""

    code, status = 100, 429

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


class DatabaseUnavailableError(AppError):
    """The database cannot be reached (down, restarting, or cut off): not the request's fault, and logged once per
    outage by the storage, not once per request."""

    code, status = 1, 503

    def __init__(self, message: str = "The database is unavailable; try again shortly.", *, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        """What the driver said, for the server's own messages (its log, a start-up error); never for a client."""


class DatabaseRefusedError(DatabaseUnavailableError):
    """The database answers, but refuses this server's connections: the URI's TLS settings, the server's certificate
    or the credentials do not fit. Waiting does not end it, so a server refuses to start on it; `reason` says why."""


class ObjectNotFoundError(AppError):
    """The object does not exist, or the caller may not see it (the two must look the same)."""

    code, status = 101, 404


class InvalidQueryError(AppError):
    code = 102


class InvalidClassNameError(AppError):
    code = 103


class MissingObjectIdError(AppError):
    code = 104


class InvalidKeyNameError(AppError):
    code = 105


class InvalidPointerError(AppError):
    code = 106


class InvalidJSONError(AppError):
    code = 107


class CommandUnavailableError(AppError):
    code = 108


class IncorrectTypeError(AppError):
    code = 111


class PushMisconfiguredError(AppError):
    code = 115


class OperationForbiddenError(AppError):
    code = 119


class InvalidNestedKeyError(AppError):
    code = 121


class InvalidFileNameError(AppError):
    code = 122


class InvalidACLError(AppError):
    code = 123


class RequestTimeoutError(AppError):
    """A query ran longer than the server allows and was stopped; the request wrote nothing."""

    code = 124


class FileSaveError(AppError):
    code = 130


class RequiredFieldError(AppError):
    code = 135


class ImmutableFieldError(AppError):
    code = 136


class DuplicateValueError(AppError):
    code = 137


class ScriptFailedError(AppError):
    code = 141


class ValidationError(AppError):
    code = 142


class WebhookError(AppError):
    code = 143


class FileDeleteError(AppError):
    code = 153


class DuplicateRequestError(AppError):
    """A request carried an `X-Parse-Request-Id` already used within the idempotency ttl; nothing ran."""

    code = 159


class InvalidSessionTokenError(AppError):
    code = 209


class InvalidSchemaOperationError(AppError):
    code = 255


class UnauthorizedError(AppError):
    """Parse answers a missing or wrong key with a bare 403 and no code."""

    code, status = None, 403


class MasterKeyRequiredError(UnauthorizedError):
    """Only the master key may ask this: Parse answers 403 without a code over REST and 119 over GraphQL, so each
    transport maps it (the domain refuses once, in `app/domain/access.py`)."""


class PayloadTooLargeError(AppError):
    code, status = None, 413


PERMISSION_DENIED = "Permission denied"


def denied(error_type: type[AppError], detail: str, code: int | None = None) -> AppError:
    """A permission failure, answered in Parse 9's words; the detail is only logged.

    Parse Server 9 sanitizes these messages so a client cannot learn which rule refused it.
    """
    error = error_type(PERMISSION_DENIED, code)
    error.detail = detail
    return error
