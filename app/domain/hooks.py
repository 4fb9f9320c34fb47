"""Cloud code as the domain runs it: what was registered (triggers, functions, jobs), and running it.

`app.cloud` is the API cloud code sees; this module holds the registry it fills and the runner the
object service, the accounts and the transports call at Parse's points: before and after a save, a
delete, a find, a log-in and a log-out, a function call, a job, a live query connection and
subscription and event. A hook that raises `CloudError` stops the operation with its code (141 by
default) and nothing is written; any other exception is code 141 with its message, logged once.
Synchronous handlers run in a worker thread, so a slow one never holds up other requests.

Functions and save and delete triggers that cloud code does not define may be webhooks (`webhooks.py`): the
same points call their URL instead.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain import cloud_log
from app.domain.acl import Auth
from app.domain.cloud_requests import (
    CloudError,
    CloudObject,
    CloudQuery,
    FileInfo,
    FileRequest,
    FindRequest,
    FunctionRequest,
    LiveQueryRequest,
    ObjectRequest,
    Request,
    Validator,
)
from app.domain.operations import OPERATIONS, Delete
from app.domain.rate_limits import CloudLimit
from app.domain.values import ParseObject, Record
from app.domain.webhooks import Webhook, Webhooks, saved_fields
from app.errors import AppError, ScriptFailedError

log = logging.getLogger("app.cloud")

Handler = Callable[..., Any]

TRIGGERS = (
    "before_save",
    "after_save",
    "before_delete",
    "after_delete",
    "before_find",
    "after_find",
    "before_login",
    "after_login",
    "after_logout",
    "before_password_reset_request",
    "before_connect",
    "before_subscribe",
    "after_event",
)


FILE_CLASS = "@File"
"""The class name file hooks register under, as Parse's `Parse.File` triggers do."""

CONFIG_CLASS = "@Config"
"""The class name Parse Config's `before_save` and `after_save` register under, as Parse's `Parse.Config` ones."""

_TRIGGER_NAMES = {
    "before_login": "beforeLogin",
    "after_login": "afterLogin",
    "before_password_reset_request": "beforePasswordResetRequest",
}


# The registry ------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Registration:
    handler: Handler
    validator: Validator | None = None
    limiter: CloudLimit | None = None
    """The validator's rate limit, bound to the server's counters when the app is built."""
    graphql: str | None = None
    """For typed functions: "query" or "mutation", the GraphQL field the function also is."""
    log_levels: cloud_log.LogLevels = cloud_log.PARSE_LEVELS
    """The levels of the lines its runs leave (Parse's `logLevels`), set when the app is built."""


@dataclass(slots=True)
class HookRegistry:
    """What cloud code registered, by trigger and class, by function name, by job name."""

    triggers: dict[tuple[str, str], Registration] = field(default_factory=dict)
    functions: dict[str, Registration] = field(default_factory=dict)
    jobs: dict[str, Registration] = field(default_factory=dict)
    policies: dict[str, Registration] = field(default_factory=dict)
    """Options given as functions: `verify_user_emails`, `prevent_login_with_unverified_email`."""

    def trigger(self, name: str, class_name: str) -> Registration | None:
        return self.triggers.get((name, class_name))


# Running ------------------------------------------------------------------------------------------------


async def call_handler(registration: Registration, *args: Any, **kwargs: Any) -> Any:
    """Run a handler: coroutines on the loop, plain functions in a worker thread."""
    handler = registration.handler
    if inspect.iscoroutinefunction(handler):
        return await handler(*args, **kwargs)
    context = contextvars.copy_context()
    result = await asyncio.to_thread(context.run, handler, *args, **kwargs)
    if inspect.isawaitable(result):
        result = await result
    return result


def password_check(registration: Registration) -> Callable[[str], Awaitable[bool]]:
    """Cloud code's `password_validator` as the password policy calls it: truthy accepts the password."""

    async def check(password: str) -> bool:
        try:
            return bool(await call_handler(registration, password))
        except Exception as error:
            raise as_app_error(error, "password_validator") from None

    return check


def as_app_error(error: Exception, where: str, default_code: int = 141) -> AppError:
    """What a client sees of an exception in cloud code: its own code for CloudError, else 141."""
    if isinstance(error, AppError):
        return error
    log.error("cloud code failed in %s", where, exc_info=error)
    message = str(error) or "Script failed. Unknown error."
    return ScriptFailedError(message, code=default_code) if default_code != 141 else ScriptFailedError(message)


async def run(
    registration: Registration,
    request: Request,
    where: str,
    values: Mapping[str, Any] | None = None,
    set_value: Callable[[str, Any], None] | None = None,
    **kwargs: Any,
) -> Any:
    """Check the validator, then run the handler; every failure as an AppError. The run, or its failure, is
    logged as Parse logs it (`cloud_log.py`)."""
    given = cloud_log.before(request, registration.log_levels)
    try:
        if registration.validator is not None:
            validator = registration.validator
            if request.master and validator.skip_with_master_key:
                return None
            validator.check(request, values or {}, set_value or (lambda key, value: None))
        if registration.limiter is not None:
            user_id = request.user.id if request.user is not None else None
            await registration.limiter.require_allowed(master=request.master, ip=request.ip, user_id=user_id)
        result = await call_handler(registration, request, **kwargs)
    except Exception as error:
        failure = as_app_error(error, where)
        cloud_log.failed(request, where, given, failure, registration.log_levels)
        raise failure from None
    cloud_log.ran(request, given, result, registration.log_levels)
    return result


def request_fields(trigger_name: str, auth: Auth, user: CloudObject | None, data: Any = None) -> dict[str, Any]:
    """What every hook's request holds; where it came from is the caller's own (`Auth.origin`), never another's."""
    origin = auth.origin
    return {
        "data": data,
        "trigger_name": trigger_name,
        "master": auth.master and not auth.maintenance,
        "user": user,
        "installation_id": auth.installation_id,
        "headers": origin.headers,
        "ip": origin.ip,
        "context": origin.context,
    }


UserLoader = Callable[[Auth], Awaitable[CloudObject | None]]


class Hooks:
    """The runner the services call; with no cloud code and no webhooks every method returns at once."""

    def __init__(
        self,
        registry: HookRegistry,
        load_user: UserLoader,
        data_for: Callable[[Auth], Any] | None = None,
        webhooks: Webhooks | None = None,
    ) -> None:
        self.registry = registry
        self.load_user = load_user
        self.data_for = data_for or (lambda auth: None)
        self.webhooks = webhooks

    def has(self, trigger_name: str, class_name: str) -> bool:
        """Whether cloud code defines this trigger (webhooks aside: `runs` asks them too)."""
        return (trigger_name, class_name) in self.registry.triggers

    async def runs(self, trigger_name: str, class_name: str) -> bool:
        """Whether a trigger runs here: cloud code's, or a webhook's."""
        return self.has(trigger_name, class_name) or await self._webhook(trigger_name, class_name) is not None

    async def webhook_functions(self) -> tuple[str, ...]:
        """The names of the webhook functions cloud code does not define (sorted)."""
        if self.webhooks is None:
            return ()
        names = (await self.webhooks.catalog()).functions
        return tuple(sorted(name for name in names if name not in self.registry.functions))

    async def _webhook(self, trigger_name: str, class_name: str) -> Webhook | None:
        if self.webhooks is None:
            return None
        return await self.webhooks.trigger(trigger_name, class_name)

    async def _webhook_request(self, wire_name: str, auth: Auth) -> dict[str, Any]:
        """The request part of a webhook's body, as cloud code would see the request."""
        assert self.webhooks is not None
        fields = await self.request_fields_for(wire_name, auth)
        return self.webhooks.request_body({**fields, "read_only": auth.read_only})

    async def _call_trigger(
        self,
        hook: Webhook,
        auth: Auth,
        class_name: str,
        obj: Record | None,
        original: Record | None,
        changes: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call a trigger's webhook with the object, or (for `beforeSave`) the write's changes over the original."""
        webhooks = self.webhooks
        assert webhooks is not None and hook.trigger_name is not None
        body = {"triggerName": hook.trigger_name, **await self._webhook_request(hook.trigger_name, auth)}
        if obj is not None:
            body["object"] = webhooks.object_json(class_name, obj)
        else:
            body["object"] = webhooks.write_json(class_name, original, changes or {})
        if original is not None:
            body["original"] = webhooks.object_json(class_name, original)
        return await webhooks.call(hook, body)

    async def request_fields_for(self, trigger_name: str, auth: Auth) -> dict[str, Any]:
        user = await self.load_user(auth) if auth.user_id else None
        return request_fields(trigger_name, auth, user, self.data_for(auth))

    # Saves and deletes ----------------------------------------------------------------------------------

    async def before_save(
        self, auth: Auth, class_name: str, changes: Mapping[str, Any], original: Record | None
    ) -> tuple[dict[str, Any], list[str]]:
        """The changes to write once `before_save` has run, and the keys the hook changed (Parse echoes them)."""
        registration = self.registry.trigger("before_save", class_name)
        if registration is None:
            return await self._before_save_webhook(auth, class_name, changes, original)
        obj = CloudObject(class_name, original, changes, existed=original is not None)
        request = ObjectRequest(
            **await self.request_fields_for("beforeSave", auth),
            object=obj,
            original=CloudObject(class_name, original, existed=True) if original is not None else None,
        )
        await run(registration, request, f"beforeSave {class_name}", obj.to_dict(), obj.set)
        changed = [key for key, value in obj.changes.items() if key not in changes or changes[key] != value]
        return obj.changes, changed

    async def _before_save_webhook(
        self, auth: Auth, class_name: str, changes: Mapping[str, Any], original: Record | None
    ) -> tuple[dict[str, Any], list[str]]:
        """A `beforeSave` webhook: the object it answers replaces the write's fields, as in Parse Server."""
        hook = await self._webhook("before_save", class_name)
        if hook is None:
            return dict(changes), []
        success = await self._call_trigger(hook, auth, class_name, None, original, changes)
        fields = saved_fields(success, updating=original is not None)
        if fields is None:
            return dict(changes), []
        changed = [key for key, value in fields.items() if key not in changes or changes[key] != value]
        return fields, changed

    async def _after_webhook(
        self, trigger: str, auth: Auth, class_name: str, obj: Record, original: Record | None = None
    ) -> None:
        """An `afterSave` or `afterDelete` webhook: the write is done, so a failure is only logged."""
        hook = await self._webhook(trigger, class_name)
        if hook is None:
            return
        try:
            await self._call_trigger(hook, auth, class_name, obj, original)
        except AppError as error:
            log.warning("%s webhook of %s failed: %s", hook.trigger_name, class_name, error.message)

    async def after_save(self, auth: Auth, class_name: str, after: Record, before: Record | None) -> None:
        registration = self.registry.trigger("after_save", class_name)
        if registration is None:
            await self._after_webhook("after_save", auth, class_name, after, before)
            return
        request = ObjectRequest(
            **await self.request_fields_for("afterSave", auth),
            object=CloudObject(class_name, after, existed=True),
            original=CloudObject(class_name, before, existed=True) if before is not None else None,
        )
        try:
            await run(registration, request, f"afterSave {class_name}")
        except AppError as error:
            # The object is saved: an afterSave failure is the server's to know, not the client's.
            log.warning("afterSave %s failed: %s", class_name, error.message)

    async def before_delete(self, auth: Auth, class_name: str, record: Record) -> None:
        registration = self.registry.trigger("before_delete", class_name)
        if registration is None and (hook := await self._webhook("before_delete", class_name)) is not None:
            await self._call_trigger(hook, auth, class_name, record, None)
        if registration is not None:
            request = ObjectRequest(
                **await self.request_fields_for("beforeDelete", auth),
                object=CloudObject(class_name, record, existed=True),
            )
            await run(registration, request, f"beforeDelete {class_name}")

    async def after_delete(self, auth: Auth, class_name: str, record: Record) -> None:
        registration = self.registry.trigger("after_delete", class_name)
        if registration is None:
            await self._after_webhook("after_delete", auth, class_name, record)
            return
        request = ObjectRequest(
            **await self.request_fields_for("afterDelete", auth), object=CloudObject(class_name, record, existed=True)
        )
        try:
            await run(registration, request, f"afterDelete {class_name}")
        except AppError as error:
            log.warning("afterDelete %s failed: %s", class_name, error.message)

    # Finds ----------------------------------------------------------------------------------------------

    async def before_find(self, auth: Auth, query: CloudQuery, *, count: bool, is_get: bool) -> CloudQuery:
        registration = self.registry.trigger("before_find", query.class_name)
        if registration is None:
            return query
        request = FindRequest(
            **await self.request_fields_for("beforeFind", auth), query=query, count=count, is_get=is_get
        )
        result = await run(registration, request, f"beforeFind {query.class_name}")
        return result if isinstance(result, CloudQuery) else request.query

    async def after_find(self, auth: Auth, query: CloudQuery, records: list[Record]) -> list[Record]:
        registration = self.registry.trigger("after_find", query.class_name)
        if registration is None:
            return records
        objects = [CloudObject(query.class_name, record, existed=True) for record in records]
        request = FindRequest(**await self.request_fields_for("afterFind", auth), query=query, objects=objects)
        result = await run(registration, request, f"afterFind {query.class_name}")
        chosen = result if isinstance(result, list) else request.objects
        return [item.to_dict() if isinstance(item, CloudObject) else item for item in chosen]

    # Accounts -------------------------------------------------------------------------------------------

    async def on_user(self, trigger: str, auth: Auth, user: Record) -> None:
        """`before_login` (raise to refuse the log-in), `after_login`, `before_password_reset_request`."""
        registration = self.registry.trigger(trigger, "_User")
        if registration is not None:
            name = _TRIGGER_NAMES[trigger]
            obj = CloudObject("_User", user, existed=True)
            request = ObjectRequest(**request_fields(name, auth, obj, self.data_for(auth)), object=obj)
            await run(registration, request, name)

    async def after_logout(self, auth: Auth, session: Record) -> None:
        registration = self.registry.trigger("after_logout", "_Session")
        if registration is None:
            return
        request = ObjectRequest(
            **await self.request_fields_for("afterLogout", auth), object=CloudObject("_Session", session, existed=True)
        )
        try:
            await run(registration, request, "afterLogout")
        except AppError as error:
            log.warning("afterLogout failed: %s", error.message)

    # Files ----------------------------------------------------------------------------------------------

    async def on_file(self, trigger: str, auth: Auth, file: FileInfo) -> FileInfo:
        """A file hook; `before_*` ones refuse with code 130 (save) or 153 (delete) unless they give another."""
        registration = self.registry.trigger(trigger, FILE_CLASS)
        if registration is None:
            return file
        name = {"before_save": "beforeSave", "after_save": "afterSave"}.get(trigger, trigger)
        request = FileRequest(**await self.request_fields_for(name, auth), file=file)
        try:
            await call_handler(registration, request)
        except Exception as error:
            if trigger.startswith("after_"):
                log.warning("%s of file %s failed: %s", trigger, file.name, error)
                return file
            if isinstance(error, CloudError) and "code" not in vars(error):  # no code given: Parse's default
                raise AppError(error.message, code=130 if trigger == "before_save" else 153) from None
            raise as_app_error(error, f"{trigger} file", 130 if trigger == "before_save" else 153) from None
        return request.file

    # Parse Config -------------------------------------------------------------------------------------

    async def before_save_config(
        self, auth: Auth, params: Mapping[str, Any], original: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """`before_save("@Config")` on a config update: `object` is the config as it will be (its `dirty_keys()` the
        parameters this update sets), `original` as stored (None before the first). The hook refuses by raising
        (141 unless it gives a code); beyond Parse, whose `Parse.Config` cannot be changed, its `set` and `unset`
        change what is stored. The parameters to write, `Delete()` for one removed."""
        registration = self.registry.trigger("before_save", CONFIG_CLASS)
        if registration is None:
            return dict(params)
        obj = CloudObject(CONFIG_CLASS, dict(original or {}), params, existed=original is not None)
        request = ObjectRequest(
            **await self.request_fields_for("beforeSave", auth),
            object=obj,
            original=CloudObject(CONFIG_CLASS, dict(original), existed=True) if original is not None else None,
        )
        await run(registration, request, "beforeSave @Config", obj.to_dict(), obj.set)
        for key, value in obj.changes.items():
            if isinstance(value, OPERATIONS) and not isinstance(value, Delete):
                raise ScriptFailedError(f"config parameter {key}: set a value or unset it, operations are not stored")
        return obj.changes

    async def after_save_config(
        self, auth: Auth, config: Mapping[str, Any], original: Mapping[str, Any] | None
    ) -> None:
        """`after_save("@Config")`: the config as stored now, and before; a failure is logged (the update stands)."""
        registration = self.registry.trigger("after_save", CONFIG_CLASS)
        if registration is None:
            return
        request = ObjectRequest(
            **await self.request_fields_for("afterSave", auth),
            object=CloudObject(CONFIG_CLASS, dict(config), existed=True),
            original=CloudObject(CONFIG_CLASS, dict(original), existed=True) if original is not None else None,
        )
        try:
            await run(registration, request, "afterSave @Config")
        except AppError as error:
            log.warning("afterSave @Config failed: %s", error.message)

    # Functions ------------------------------------------------------------------------------------------

    async def call_function(self, auth: Auth, name: str, params: dict[str, Any]) -> Any:
        registration = self.registry.functions.get(name)
        if registration is None:
            webhooks = self.webhooks
            hook = await webhooks.function(name) if webhooks is not None else None
            if webhooks is None or hook is None:
                raise ScriptFailedError(f'Invalid function: "{name}"')
            body = {"params": webhooks.encoder.value(params), **await self._webhook_request(name, auth)}
            body["functionName"] = name
            return await webhooks.call(hook, body)
        request = FunctionRequest(**await self.request_fields_for(name, auth), function_name=name, params=params)
        return await run(
            registration,
            request,
            f"function {name}",
            params,
            params.__setitem__,
            **typed_arguments(registration, params),
        )


def plain(value: Any) -> Any:
    """A handler's result with its CloudObjects as objects a transport can encode."""
    if isinstance(value, CloudObject):
        return ParseObject(value.class_name, value.to_dict())
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    return value


def typed_arguments(registration: Registration, params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a function declared with typed parameters after `request`."""
    if registration.graphql is None:
        return {}
    signature = inspect.signature(registration.handler)
    names = list(signature.parameters)[1:]
    return {name: params[name] for name in names if name in params}


class LiveHooks:
    """The live query hooks, run by the hub and the LiveQuery transport."""

    def __init__(self, hooks: Hooks) -> None:
        self.hooks = hooks

    async def before_connect(self, auth: Auth) -> None:
        registration = self.hooks.registry.trigger("before_connect", "@Connect")
        if registration is not None:
            request = LiveQueryRequest(**await self.hooks.request_fields_for("beforeConnect", auth), event="connect")
            await run(registration, request, "beforeConnect")

    async def before_subscribe(
        self, auth: Auth, class_name: str, where: Any, keys: list[str] | None, watch: list[str] | None
    ) -> tuple[Any, list[str] | None, list[str] | None]:
        """The query, keys and watched fields to subscribe with, once `before_subscribe` has seen them."""
        registration = self.hooks.registry.trigger("before_subscribe", class_name)
        if registration is None:
            return where, keys, watch
        query = CloudQuery(class_name, dict(where) if isinstance(where, Mapping) else {})
        request = LiveQueryRequest(
            **await self.hooks.request_fields_for("beforeSubscribe", auth),
            query=query,
            keys=list(keys) if keys is not None else None,
            watch=list(watch) if watch is not None else None,
        )
        await run(registration, request, f"beforeSubscribe {class_name}")
        assert request.query is not None
        return request.query.where, request.keys, request.watch

    async def after_event(
        self, auth: Auth, class_name: str, event: str, obj: Record, original: Record | None
    ) -> tuple[Record, Record | None] | None:
        """The object (and original) to send, or None when the hook set `send_event` to False."""
        registration = self.hooks.registry.trigger("after_event", class_name)
        if registration is None:
            return obj, original
        request = LiveQueryRequest(
            **await self.hooks.request_fields_for("afterEvent", auth),
            event=event,
            object=CloudObject(class_name, obj, existed=True),
            original=CloudObject(class_name, original, existed=True) if original is not None else None,
        )
        try:
            await run(registration, request, f"afterEvent {class_name}")
        except AppError as error:
            log.warning("afterEvent %s failed: %s", class_name, error.message)
            return None
        if not request.send_event or request.object is None:
            return None
        return request.object.to_dict(), request.original.to_dict() if request.original is not None else None
