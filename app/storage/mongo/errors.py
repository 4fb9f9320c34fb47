"""MongoDB's errors as Parse's: a time limit met (124), a query the database refuses (102), a duplicate (137)."""

from __future__ import annotations

import logging

from pymongo.errors import DuplicateKeyError, OperationFailure, PyMongoError

from app.errors import DuplicateValueError, InternalError, InvalidQueryError
from app.storage.mongo.reachability import is_unreachable

log = logging.getLogger("app.storage.mongo")

_MAX_TIME_EXPIRED = 50  # MongoDB's MaxTimeMSExpired
# Bad values, unknown operators, invalid regular expressions: the query is at fault, not the server.
_BAD_QUERY = (2, 9, 17287, 16810, 51091, 51108)


def duplicate(error: DuplicateKeyError) -> DuplicateValueError:
    refused = DuplicateValueError("A duplicate value for a field with unique values was provided")
    details = error.details or {}
    key_pattern = details.get("keyPattern") or {}
    refused.field = next(iter(key_pattern), None)  # type: ignore[attr-defined]
    return refused


def message(error: PyMongoError) -> str:
    details = getattr(error, "details", None) or {}
    return str(details.get("errmsg") or error)


def is_timeout(error: PyMongoError) -> bool:
    """The database stopped a command at its time limit, or the driver gave up waiting for it (but not for a
    database it cannot reach, which is an outage: the guard answers that)."""
    if is_unreachable(error):
        return False
    return error.timeout or (isinstance(error, OperationFailure) and error.code == _MAX_TIME_EXPIRED)


def query_error(error: PyMongoError) -> PyMongoError | InternalError | InvalidQueryError:
    """A failed read as Parse answers it; an unreachable database's error is left for the guard to answer."""
    if is_unreachable(error):
        return error  # a server shutting down: the guard answers it as an outage
    if isinstance(error, OperationFailure) and error.code in _BAD_QUERY:
        return InvalidQueryError(message(error))
    log.error("database error: %s", error)
    return InternalError("Database adapter error")
