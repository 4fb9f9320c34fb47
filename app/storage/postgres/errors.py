"""PostgreSQL's errors as Parse's: a duplicate (137), a statement stopped at its time limit (124), a bad query
(102), an unreachable server (the outage answer), anything else an internal error logged here.

A connection the server refuses for good (a TLS handshake that cannot succeed as the URI asks it, a login
`pg_hba.conf` or the password refuses) is `DatabaseRefusedError`, its reason libpq's words and what to change.
"""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg import errors as pg_errors

from app.errors import (
    AppError,
    DatabaseRefusedError,
    DatabaseUnavailableError,
    DuplicateValueError,
    InternalError,
    InvalidQueryError,
)

log = logging.getLogger("app.storage.postgres")

# Parse Server names unique indexes `<Class>_unique_<field>` (and this engine `case_insensitive_<field>`); the
# field is what the refusal names.
_UNIQUE_FIELD = re.compile(r"(?:unique|case_insensitive)_([a-zA-Z0-9]+)")
# The query, not the server, is at fault: bad values, patterns, types (SQLSTATE classes 22 and 42).
_BAD_QUERY = (psycopg.DataError, psycopg.ProgrammingError)


def duplicate(error: pg_errors.UniqueViolation) -> DuplicateValueError:
    refused = DuplicateValueError("A duplicate value for a field with unique values was provided")
    constraint = error.diag.constraint_name or ""
    found = _UNIQUE_FIELD.search(constraint)
    refused.field = found.group(1) if found else None  # type: ignore[attr-defined]
    return refused


# A refused connection carries no SQLSTATE (it fails before any result): libpq's words say what failed. Those of a
# TLS handshake that cannot succeed as configured (not those of a connection dropped mid-handshake, "SSL SYSCALL
# error", as when a server stops); those of a login the server refuses; and what to change for the common ones.
_TLS_FAILURES = (
    "certificate",  # not signed by the CA, for another host, the CA file missing
    "does not support SSL",  # TLS asked of a server without it
    "no encryption",  # a plain connection to a server that takes TLS only (pg_hba.conf's hostssl)
    "tlsv1 alert",  # the server refused the handshake: a client certificate it wants, a protocol version
    "sslv3 alert",
    "wrong version number",  # TLS spoken to a port that does not speak it
    "invalid sslmode",
)
_LOGIN_FAILURES = ("pg_hba.conf", "authentication failed")
# Not `sslrootcert=system` for a public CA: psycopg's wheel brings its own OpenSSL, which looks for the system's CAs
# where it was built to (/usr/lib/psycopg-openssl), not where the system keeps them; a file path works everywhere.
_HINTS = (
    (
        "certificate verify failed",
        "the server's certificate is not signed by the CA in the URI's sslrootcert: name the CA file your provider "
        "gives (for a public CA, the system's bundle file, e.g. /etc/ssl/certs/ca-certificates.crt)",
    ),
    ("does not match host name", "the server's certificate names another host: connect with the name it names"),
    (
        "no encryption",
        "this server accepts TLS connections only: use sslmode=verify-full with sslrootcert (or sslmode=require)",
    ),
)


def refusal(error: BaseException) -> str | None:
    """Why a connection fails if waiting would not change it (TLS, or the login), in words for the server's log;
    None for any other failure."""
    if not isinstance(error, psycopg.OperationalError):
        return None
    text = " ".join(str(error).split()).removeprefix("connection failed: ")
    login = any(words in text for words in _LOGIN_FAILURES)
    tls = any(words in text for words in _TLS_FAILURES)
    if not (login or tls):
        return None
    hints = "".join(f"; {hint}" for words, hint in _HINTS if words in text)
    return f"cannot connect to PostgreSQL ({'TLS' if tls else 'login'}): {text}{hints}"


def unavailable(error: BaseException) -> DatabaseUnavailableError:
    refused = refusal(error)
    reason = refused or " ".join(str(error).split())[:300] or type(error).__name__
    log.warning("the database cannot be reached: %s", reason)
    return DatabaseRefusedError(reason=reason) if refused else DatabaseUnavailableError(reason=reason)


def translate(error: Exception, timed_out: AppError) -> Exception:
    """A driver error as the error the caller answers with (`timed_out` for a statement stopped at its limit)."""
    if isinstance(error, pg_errors.UniqueViolation):
        return duplicate(error)
    if isinstance(error, pg_errors.QueryCanceled):
        return timed_out
    if isinstance(error, pg_errors.OperationalError | pg_errors.AdminShutdown | pg_errors.CannotConnectNow):
        return unavailable(error)
    if isinstance(error, _BAD_QUERY):
        return InvalidQueryError(error.diag.message_primary or str(error))
    log.error("database error: %s", error)
    return InternalError("Database adapter error")
