"""What cloud code handles: the objects, queries and files a hook sees, the requests it gets, its validators.

`app.cloud` re-exports these for user code; `hooks.py` holds the registry and runs the hooks with them.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.operations import OPERATIONS, Add, AddUnique, Delete, Increment, Remove, apply, value_on_create
from app.domain.values import Pointer, Record
from app.errors import AppError, ValidationError

CLOUD_LOG = logging.getLogger("cloud")
"""The logger cloud code writes to (`request.log`, or `logging.getLogger("cloud")` and its children): its lines
show on Parse Dashboard's Logs page."""


class CloudError(AppError):
    """Raised by cloud code to refuse an operation: the client gets `message` with `code` (141 by default)."""

    code = 141


# Objects cloud code handles ---------------------------------------------------------------------------


class CloudObject:
    """An object as a hook sees it: its stored fields, and the changes of the write it is part of.

    `get` answers with the value the object will have once the write is done (an increment applied);
    `set`, `unset`, `increment`, `add`, `add_unique` and `remove` change what will be written.
    """

    def __init__(
        self,
        class_name: str,
        stored: Record | None = None,
        changes: Mapping[str, Any] | None = None,
        *,
        existed: bool = False,
    ) -> None:
        self.class_name = class_name
        self._stored: Record = dict(stored or {})
        self._changes: dict[str, Any] = dict(changes or {})
        self._existed = existed

    @property
    def id(self) -> str | None:
        value = self._changes.get("objectId", self._stored.get("objectId"))
        return value if isinstance(value, str) else None

    def existed(self) -> bool:
        return self._existed

    def get(self, key: str, default: Any = None) -> Any:
        if key in self._changes:
            change = self._changes[key]
            if isinstance(change, OPERATIONS):
                value = apply(change, self._stored.get(key)) if self._existed else value_on_create(change)
            else:
                value = change
        else:
            value = self._stored.get(key)
        return default if value is None else value

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def set(self, key: str, value: Any) -> None:
        self._changes[key] = _stored_value(value)

    def pointer(self) -> Pointer:
        """A pointer to this object, to set in another one's field (setting the object itself works too)."""
        if self.id is None:
            raise CloudError("an object without an id cannot be pointed to; save it first")
        return Pointer(self.class_name, self.id)

    def unset(self, key: str) -> None:
        self._changes[key] = Delete()

    def increment(self, key: str, amount: int | float = 1) -> None:
        current = self._changes.get(key)
        self._changes[key] = Increment(current.amount + amount if isinstance(current, Increment) else amount)

    def add(self, key: str, *items: Any) -> None:
        self._changes[key] = Add(tuple(_stored_value(item) for item in items))

    def add_unique(self, key: str, *items: Any) -> None:
        self._changes[key] = AddUnique(tuple(_stored_value(item) for item in items))

    def remove(self, key: str, *items: Any) -> None:
        self._changes[key] = Remove(tuple(_stored_value(item) for item in items))

    def dirty(self, key: str) -> bool:
        return key in self._changes

    def dirty_keys(self) -> list[str]:
        return list(self._changes)

    def to_dict(self) -> Record:
        """Every field as it will be after the write."""
        keys = dict.fromkeys([*self._stored, *self._changes])
        return {key: value for key in keys if (value := self.get(key)) is not None}

    @property
    def changes(self) -> dict[str, Any]:
        """What the write will set: the request's fields and operations, with the hooks' changes."""
        return self._changes

    def __repr__(self) -> str:
        return f"CloudObject({self.class_name!r}, {self.to_dict()!r})"


def _stored_value(value: Any) -> Any:
    """What a field holds when cloud code sets an object in it: a pointer to that object."""
    if isinstance(value, CloudObject):
        return value.pointer()
    if isinstance(value, list):
        return [_stored_value(item) for item in value]
    return value


@dataclass(slots=True)
class CloudQuery:
    """A find as `before_find` may change it: constraints (Parse's `where`), order, paging, keys, includes."""

    class_name: str
    where: dict[str, Any]
    limit: int | None = None
    skip: int = 0
    order: list[str] = field(default_factory=list)
    keys: list[str] | None = None
    include: list[str] = field(default_factory=list)


# Requests ----------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Request:
    """What every hook is told: who calls, from where, and the context the client sent."""

    trigger_name: str
    master: bool
    user: CloudObject | None
    installation_id: str | None
    headers: Mapping[str, str]
    ip: str | None
    context: dict[str, Any]
    data: Any = None
    """Finds and writes as this caller (`await request.data.find("Class", {...})`), or with
    `request.data.master()` as the master key: a `CloudData`."""
    log: logging.Logger = field(default=CLOUD_LOG, repr=False)
    """Parse's `request.log`: `request.log.info("…")` and `request.log.error("…")` reach the server's log and
    `/parse/scriptlog`."""


@dataclass(slots=True)
class ObjectRequest(Request):
    """`before_save`, `after_save`, `before_delete`, `after_delete`, and the log-in and log-out hooks."""

    object: CloudObject = field(default_factory=lambda: CloudObject(""))
    original: CloudObject | None = None


@dataclass(slots=True)
class FileInfo:
    """A file as its hooks see it: `before_save("@File")` may change `metadata` and `directory`."""

    name: str
    content_type: str | None
    metadata: dict[str, Any]
    size: int | None = None
    """Known after the upload (in `after_save`); a streamed upload has no size before."""
    directory: str | None = None
    """Where the file is stored (Parse 9's `directory`: `photos/2026`), as the upload asked or the hook chose."""


@dataclass(slots=True)
class FileRequest(Request):
    """The hooks of class `@File`: `before_save`, `after_save`, `before_delete`, `after_delete`."""

    file: FileInfo = field(default_factory=lambda: FileInfo("", None, {}))


@dataclass(slots=True)
class FindRequest(Request):
    query: CloudQuery = field(default_factory=lambda: CloudQuery("", {}))
    count: bool = False
    is_get: bool = False
    objects: list[CloudObject] = field(default_factory=list)
    """The results, for `after_find` (return a list to replace them)."""


@dataclass(slots=True)
class FunctionRequest(Request):
    function_name: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class JobRequest(Request):
    job_name: str = ""
    job_id: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    def message(self, text: str) -> None:
        """Record progress: it becomes the job status's `message`."""
        self.messages.append(str(text))


@dataclass(slots=True)
class LiveQueryRequest(Request):
    """`before_connect`, `before_subscribe` (may change `query`, `keys`, `watch`) and `after_event`."""

    query: CloudQuery | None = None
    keys: list[str] | None = None
    watch: list[str] | None = None
    event: str | None = None
    object: CloudObject | None = None
    original: CloudObject | None = None
    send_event: bool = True


@dataclass(slots=True)
class EmailRequest:
    """What `verify_user_emails` and `prevent_login_with_unverified_email` functions are asked about, as Parse
    passes it: the user (`original` too when an update changes the email), who asks and from where, and
    `created_with`, Parse's `createdWith`: `{"action": "signup" | "login", "authProvider": "password" | provider}`,
    None for an email change and for a resent link (then `resend_request` is True)."""

    object: CloudObject
    master: bool = False
    ip: str | None = None
    installation_id: str | None = None
    created_with: dict[str, str] | None = None
    original: CloudObject | None = None
    resend_request: bool = False


@dataclass(slots=True)
class EventRequest(Request):
    """`app_opened` and `track_event`: an analytics event a client sent to `/parse/events/<name>`
    (`Parse.Analytics.track(name, dimensions)`), as Parse's analytics adapter is given it."""

    event_name: str = ""
    dimensions: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    """The whole body the client sent: `dimensions`, and `at` (a date) from the mobile SDKs."""


# Validators ----------------------------------------------------------------------------------------------

_TYPES: dict[str, tuple[type, ...]] = {
    "String": (str,),
    "Number": (int, float),
    "Boolean": (bool,),
    "Array": (list,),
    "Object": (dict,),
}


@dataclass(frozen=True, slots=True)
class Field:
    """A field a validator checks: its type, whether it must be there, a default, the values allowed."""

    type: str | None = None
    required: bool = False
    default: Any = None
    options: tuple[Any, ...] | Callable[[Any], bool] | None = None
    constant: bool = False
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Validator:
    """Parse's validator object: checked before the handler; failures are code 142."""

    require_user: bool = False
    require_master: bool = False
    validate_master_key: bool = False
    skip_with_master_key: bool = False
    fields: Mapping[str, Field] | tuple[str, ...] = ()
    require_user_keys: tuple[str, ...] = ()
    rate_limit: tuple[int, float] | None = None
    """At most N calls per window of seconds, per caller (user, else address)."""

    def check(self, request: Request, values: Mapping[str, Any], set_value: Callable[[str, Any], None]) -> None:
        if request.master and not self.validate_master_key:
            return
        if self.require_master and not request.master:
            raise ValidationError("Validation failed. Master key is required to complete this request.")
        if (self.require_user or self.require_user_keys) and request.user is None and not request.master:
            raise ValidationError("Validation failed. Please login to continue.")
        for key in self.require_user_keys:
            if request.user is not None and request.user.get(key) is None:
                raise ValidationError(f"Validation failed. Please set data for {key} on your account.")
        specs = {name: Field(required=True) for name in self.fields} if isinstance(self.fields, tuple) else self.fields
        for name, spec in specs.items():
            value = values.get(name)
            if value is None and spec.default is not None:
                value = spec.default() if callable(spec.default) else spec.default
                set_value(name, value)
            if value is None:
                if spec.required:
                    raise ValidationError(spec.error or f"Validation failed. Please specify data for {name}.")
                continue
            if spec.type is not None:
                allowed = _TYPES.get(spec.type, ())
                if not isinstance(value, allowed) or (spec.type == "Number" and isinstance(value, bool)):
                    raise ValidationError(
                        spec.error or f"Validation failed. Invalid type for {name}. Expected: {spec.type.lower()}"
                    )
            if spec.options is not None:
                ok = spec.options(value) if callable(spec.options) else value in spec.options
                if not ok:
                    expected = "" if callable(spec.options) else ": " + ", ".join(str(o) for o in spec.options)
                    raise ValidationError(
                        spec.error or f"Validation failed. Invalid option for {name}. Expected{expected}"
                    )


class RateLimiter:
    """Calls per caller in a sliding window, in this process (each instance counts its own)."""

    def __init__(self, count: int, window: float) -> None:
        self.count, self.window = count, window
        self.calls: dict[str, deque[float]] = {}

    def check(self, caller: str) -> None:
        now = time.monotonic()
        calls = self.calls.setdefault(caller, deque())
        while calls and now - calls[0] > self.window:
            calls.popleft()
        if len(calls) >= self.count:
            raise AppError("Too many requests.", code=155)
        calls.append(now)
