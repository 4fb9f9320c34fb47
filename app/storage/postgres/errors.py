"""PostgreSQL's errors as Parse's: a duplicate (137), a statement stopped at its time limit (124), a bad query
(102), an unreachable server (the outage answer), anything else an internal error logged here."""

from __future__ import annotations

import logging
import re

import psycopg
from psycopg import errors as pg_errors

from app.errors import AppError, DatabaseUnavailableError, DuplicateValueError, InternalError, InvalidQueryError

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


def unavailable(error: BaseException) -> DatabaseUnavailableError:
    log.warning("the database cannot be reached: %s", str(error).strip()[:300])
    return DatabaseUnavailableError()


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
