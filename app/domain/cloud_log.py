"""What a cloud code run leaves in the server's log, in the words Parse Server's logs use, so that its Logs page
reads the same: `Ran cloud function hello for user undefined with:` (info) and `Failed running cloud function …`
(error) for functions; `beforeSave triggered for Order for user …:` (info) and `beforeSave failed for Order …`
(error) for the object, log-in and log-out triggers and `afterFind`; for any other hook only its failure.

Values are written as Parse's JSON, cut after 1,000 characters as Parse cuts them, and without secrets: a key that
names a password, a token or a secret, and `authData`, shows `********` (Parse masks only `password`). Nothing is
encoded unless the logger would keep the line.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from app.domain.cloud_requests import CloudObject, FindRequest, FunctionRequest, ObjectRequest, Request
from app.domain.encoding import Encoder
from app.domain.recent_logs import TRUNCATED
from app.errors import AppError

log = logging.getLogger("app.cloud")

LIMIT = 1000
"""Characters of a value a line shows (Parse's truncation length)."""
MASK = "********"
_SECRET_WORDS = ("password", "token", "secret")
_SECRET_KEYS = frozenset({"authData", "_auth_data", "masterKey"})
_ENCODER = Encoder(lambda name: name)
Level = int | None
"""A `logging` level, or None for Parse's `silent`: no line at all."""


@dataclass(frozen=True, slots=True)
class LogLevels:
    """Parse's `logLevels`: the level of each kind of line, as `logging` levels (Parse's defaults)."""

    cloud_function_success: Level = logging.INFO
    cloud_function_error: Level = logging.ERROR
    trigger_after: Level = logging.INFO
    trigger_before_success: Level = logging.INFO
    trigger_before_error: Level = logging.ERROR


PARSE_LEVELS = LogLevels()


def before(request: Request, levels: LogLevels) -> str | None:
    """What a hook was given, as its line will show it, taken before the hook can change it; None for the hooks
    whose runs Parse does not log (a failure of theirs is logged without it), or when errors are not logged."""
    kinds = (levels.cloud_function_error, levels.trigger_before_error, _success_level(request, levels))
    if not any(_enabled(level) for level in kinds):
        return None
    if isinstance(request, FunctionRequest):
        return shown(request.params)
    if isinstance(request, ObjectRequest):
        return shown(request.object)
    if isinstance(request, FindRequest) and request.trigger_name == "afterFind":
        return shown([f"{item.id}:{item.class_name}" for item in request.objects])
    return None


def ran(request: Request, given: str | None, result: Any, levels: LogLevels) -> None:
    """A hook ran to its end: a line for functions and for Parse's logged triggers, at its kind's level."""
    level = _success_level(request, levels)
    if level is None or not log.isEnabledFor(level) or given is None:
        return
    user = _user(request)
    if isinstance(request, FunctionRequest):
        log.log(
            level,
            "Ran cloud function %s for user %s with:\n  Input: %s\n  Result: %s",
            request.function_name,
            user,
            given,
            shown(result),
        )
        return
    name, class_name = request.trigger_name, _class_name(request)
    if name.startswith("before") and isinstance(request, ObjectRequest):
        log.log(
            level,
            "%s triggered for %s for user %s:\n  Input: %s\n  Result: %s",
            name,
            class_name,
            user,
            given,
            shown(request.object),
        )
    else:
        log.log(level, "%s triggered for %s for user %s:\n  Input: %s", name, class_name, user, given)


def _enabled(level: Level) -> bool:
    return level is not None and log.isEnabledFor(level)


def _success_level(request: Request, levels: LogLevels) -> Level:
    if isinstance(request, FunctionRequest):
        return levels.cloud_function_success
    return levels.trigger_before_success if request.trigger_name.startswith("before") else levels.trigger_after


def failed(request: Request, where: str, given: str | None, error: AppError, levels: LogLevels) -> None:
    """A hook failed, or its validator refused: a line whatever the hook, at the error level of its kind."""
    level = levels.cloud_function_error if isinstance(request, FunctionRequest) else levels.trigger_before_error
    if level is None or not log.isEnabledFor(level):
        return
    user, reason = _user(request), shown({"message": error.message, "code": error.code})
    if isinstance(request, FunctionRequest):
        log.log(
            level,
            "Failed running cloud function %s for user %s with:\n  Input: %s\n  Error: %s",
            request.function_name,
            user,
            given,
            reason,
        )
    elif given is not None:
        name, class_name = request.trigger_name, _class_name(request)
        log.log(level, "%s failed for %s for user %s:\n  Input: %s\n  Error: %s", name, class_name, user, given, reason)
    else:
        log.log(level, "%s failed for user %s:\n  Error: %s", where, user, reason)


def shown(value: Any) -> str:
    """A value as Parse's compact JSON, secrets masked, cut after LIMIT characters (encoding stops there)."""
    chunks: list[str] = []
    length = 0
    try:
        for chunk in _JSON.iterencode(_masked(value)):
            chunks.append(chunk)
            length += len(chunk)
            if length > LIMIT:
                break
    except (TypeError, ValueError):  # a circular value: what was written so far
        pass
    text = "".join(chunks)
    return text[:LIMIT] + TRUNCATED if len(text) > LIMIT else text


def _encodable(value: Any) -> Any:
    if isinstance(value, CloudObject):
        return _masked(_ENCODER.object(value.to_dict()))
    try:
        return _masked(_ENCODER.value(value))
    except TypeError:
        return repr(value)


_JSON = json.JSONEncoder(default=_encodable, ensure_ascii=False, separators=(",", ":"))
"""Parse's compact JSON; it keeps no state between encodings, so one serves every line."""


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: MASK if _is_secret(key) else _masked(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def _is_secret(key: Any) -> bool:
    if not isinstance(key, str):
        return False
    lowered = key.lower()
    return key in _SECRET_KEYS or key.startswith("_auth_data_") or any(word in lowered for word in _SECRET_WORDS)


def _user(request: Request) -> str:
    # Parse writes JavaScript's `undefined` for a call without a user.
    return request.user.id if request.user is not None and request.user.id else "undefined"


def _class_name(request: Request) -> str:
    if isinstance(request, ObjectRequest):
        return request.object.class_name
    if isinstance(request, FindRequest):
        return request.query.class_name
    return ""
