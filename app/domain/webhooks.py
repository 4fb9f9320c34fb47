"""Webhooks: cloud functions and triggers served by an outside URL, declared in `_Hooks` as Parse Server keeps them.

A webhook is a `Webhook`: a function name, or a class and a trigger name, and the URL that answers it. The master key
declares them (`/parse/hooks/…`, Parse Dashboard's Webhooks page) through `WebhookAdmin`; `Webhooks` is what the
cloud code runner asks at Parse's points, and what calls the URL.

How instances agree: hooks live only in the database. Each instance keeps the last list it read for a few seconds
(`ttl`) and reads `_Hooks` again when that has passed, before it runs the next hook; a change made through this
instance is seen at once, one made through another within `ttl`. Parse Server reads `_Hooks` only at start, so its
instances disagree until they restart; a bus message would be quicker, but not every deployment has a bus (several
instances on MongoDB without Redis), and one small read every few seconds costs nothing next to a request.

Calling one: the server POSTs Parse's webhook body (the request as cloud code would see it, the object and the
original as Parse JSON with their `className`) with `X-Parse-Webhook-Key`, and reads `{"success": …}` or
`{"error": …}` back. An error, a URL that cannot be reached, an answer that is not JSON, and one that takes longer
than the timeout (Parse Server has none) all fail the request with code 141 and a message that says which.

When cloud code and a webhook share a name, cloud code runs: Parse Server loads `_Hooks` first and its cloud code
over it at every start, so that is what its instances settle on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from app.domain.access import require_master, require_writing_master
from app.domain.acl import Auth
from app.domain.encoding import Encoder, decode_object
from app.domain.operations import Add, AddUnique, Delete, Increment, RelationChange, Remove
from app.domain.values import Record
from app.errors import ObjectNotFoundError, ScriptFailedError, WebhookError

log = logging.getLogger("app.cloud")

TRIGGER_NAMES = (
    "beforeLogin",
    "afterLogin",
    "afterLogout",
    "beforePasswordResetRequest",
    "beforeSave",
    "afterSave",
    "beforeDelete",
    "afterDelete",
    "beforeFind",
    "afterFind",
    "beforeConnect",
    "beforeSubscribe",
    "afterEvent",
)
"""The trigger names a webhook may be declared for (Parse Server's list)."""

RUN_AS_WEBHOOKS = {
    "before_save": "beforeSave",
    "after_save": "afterSave",
    "before_delete": "beforeDelete",
    "after_delete": "afterDelete",
}
"""The triggers this server runs as webhooks (cloud code's name: the wire's); the others are kept and listed only."""

INVALID = "invalid hook declaration"


@dataclass(frozen=True, slots=True)
class Webhook:
    """One declared webhook: a function (`function_name`) or a trigger (`class_name` and `trigger_name`)."""

    url: str
    function_name: str | None = None
    class_name: str | None = None
    trigger_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """As Parse Server answers a hook it stored: a function's name and URL, a trigger's class, trigger and URL."""
        if self.function_name is not None:
            return {"functionName": self.function_name, "url": self.url}
        return {"className": self.class_name, "triggerName": self.trigger_name, "url": self.url}


class HookStore(Protocol):
    """Where webhooks are declared: `_Hooks`, in each engine's layout of it."""

    async def read_hooks(self) -> list[Webhook]: ...

    async def save_hook(self, hook: Webhook) -> None:
        """Create the hook, or change the URL of the one with the same function name, or class and trigger."""

    async def delete_hook(self, hook: Webhook) -> bool:
        """Remove the hook with the same function name, or class and trigger (its URL aside); whether there was one."""


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What a webhook's URL answered."""

    status: int
    content_type: str
    text: str


class WebhookUnreachableError(Exception):
    """The URL could not be reached, or did not answer in time; the message says which, in words."""


class WebhookClient(Protocol):
    """The HTTP client webhooks are called with (in storage, as every outbound connection)."""

    async def post(self, url: str, body: Mapping[str, Any], headers: Mapping[str, str]) -> WebhookReply:
        """POST `body` as JSON; WebhookUnreachableError when nothing came back within the client's timeout."""

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class _Catalog:
    functions: dict[str, Webhook]
    triggers: dict[tuple[str, str], Webhook]
    """By (trigger name as Parse spells it, class name)."""


def _catalog(hooks: list[Webhook]) -> _Catalog:
    functions = {hook.function_name: hook for hook in hooks if hook.function_name is not None}
    triggers = {
        (hook.trigger_name, hook.class_name): hook
        for hook in hooks
        if hook.function_name is None and hook.class_name is not None and hook.trigger_name is not None
    }
    return _Catalog(functions, triggers)


class Webhooks:
    """The declared webhooks as this instance last read them (at most `ttl` seconds ago), and calling them."""

    def __init__(
        self,
        store: HookStore,
        client: WebhookClient,
        encoder: Encoder,
        *,
        key: str | None,
        ttl: float,
    ) -> None:
        self.store = store
        self.client = client
        self.encoder = encoder
        self.key = key
        self.ttl = ttl
        self._catalog: _Catalog | None = None
        self._read_at = 0.0
        self._reading: asyncio.Lock | None = None
        self._generation = 0
        self._warned_without_key = False

    async def catalog(self) -> _Catalog:
        """The webhooks, read again once `ttl` has passed (one read at a time, however many requests wait)."""
        if self._catalog is not None and time.monotonic() - self._read_at < self.ttl:
            return self._catalog
        if self._reading is None:
            self._reading = asyncio.Lock()
        async with self._reading:
            catalog = self._catalog
            if catalog is None or time.monotonic() - self._read_at >= self.ttl:
                started, generation = time.monotonic(), self._generation
                catalog = _catalog(await self.store.read_hooks())
                # Kept only if no change was made here meanwhile: the read may have missed it.
                if generation == self._generation:
                    self._catalog, self._read_at = catalog, started
        return catalog

    def forget(self) -> None:
        """Read `_Hooks` again before the next hook runs (this instance changed it)."""
        self._catalog = None
        self._generation += 1

    async def function(self, name: str) -> Webhook | None:
        return (await self.catalog()).functions.get(name)

    async def trigger(self, trigger: str, class_name: str) -> Webhook | None:
        """The webhook of a trigger, by cloud code's name for it (`before_save`), if it runs as a webhook."""
        wire_name = RUN_AS_WEBHOOKS.get(trigger)
        if wire_name is None:
            return None
        return (await self.catalog()).triggers.get((wire_name, class_name))

    def request_body(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """What every webhook receives of the request (Parse's names): who calls, from where, with what context."""
        body: dict[str, Any] = {"master": bool(fields["master"]), "isReadOnly": bool(fields.get("read_only"))}
        user = fields.get("user")
        if user is not None:
            body["user"] = {
                **self.encoder.object({k: v for k, v in user.to_dict().items() if not k.startswith("_")}),
                "className": "_User",
            }
            body["user"].pop("password", None)
        if fields.get("installation_id"):
            body["installationId"] = fields["installation_id"]
        body["headers"] = dict(fields.get("headers") or {})
        body["ip"] = fields.get("ip")
        body["context"] = dict(fields.get("context") or {})
        return body

    def object_json(self, class_name: str, record: Record) -> dict[str, Any]:
        return {**self.encoder.object(record), "className": class_name}

    def write_json(self, class_name: str, original: Record | None, changes: Mapping[str, Any]) -> dict[str, Any]:
        """The object of a `beforeSave`, as Parse sends it: the stored fields with the write's over them, its
        operations as they came (`{"__op": "Increment", …}`), so a webhook that answers the object it got saves
        what was asked, operations included."""
        result = self.encoder.object(dict(original or {}))
        for key, change in changes.items():
            result[key] = self.operation_json(change)
        return {**result, "className": class_name}

    def operation_json(self, change: Any) -> Any:
        match change:
            case Increment(amount=amount):
                return {"__op": "Increment", "amount": amount}
            case Add(objects=objects):
                return {"__op": "Add", "objects": self.encoder.value(list(objects))}
            case AddUnique(objects=objects):
                return {"__op": "AddUnique", "objects": self.encoder.value(list(objects))}
            case Remove(objects=objects):
                return {"__op": "Remove", "objects": self.encoder.value(list(objects))}
            case Delete():
                return {"__op": "Delete"}
            case RelationChange(add=add, remove=remove):
                ops = [
                    {"__op": name, "objects": self.encoder.value(list(pointers))}
                    for name, pointers in (("AddRelation", add), ("RemoveRelation", remove))
                    if pointers
                ]
                return ops[0] if len(ops) == 1 else {"__op": "Batch", "ops": ops}
        return self.encoder.value(change)

    async def call(self, hook: Webhook, body: Mapping[str, Any]) -> Any:
        """POST the body to the hook's URL; what it answered in `success` (None for nothing), or ScriptFailedError."""
        name = hook.function_name or f"{hook.trigger_name} {hook.class_name}"
        headers = {"Content-Type": "application/json"}
        if self.key:
            headers["X-Parse-Webhook-Key"] = self.key
        elif not self._warned_without_key:
            self._warned_without_key = True
            log.warning("calling webhooks without a webhook key: set webhook_key so they can tell the calls are ours")
        try:
            reply = await self.client.post(hook.url, body, headers)
        except WebhookUnreachableError as error:
            raise ScriptFailedError(f"Webhook {name} at {hook.url}: {error}") from None
        if not reply.text.strip():
            if reply.status >= 400:
                raise ScriptFailedError(f"Webhook {name} at {hook.url} answered HTTP {reply.status}")
            return None
        try:
            answer = json.loads(reply.text)
        except ValueError:
            sample = " ".join(reply.text[:100].split())
            raise ScriptFailedError(
                f"Webhook {name} at {hook.url} answered HTTP {reply.status} with something that is not JSON"
                f" ({reply.content_type or 'no content type'}): {sample}"
            ) from None
        if isinstance(answer, dict) and answer.get("error"):  # an empty or false `error` is none, as in Parse
            raise ScriptFailedError(_error_message(answer["error"]))
        if reply.status >= 400:
            raise ScriptFailedError(f"Webhook {name} at {hook.url} answered HTTP {reply.status}")
        return answer.get("success") if isinstance(answer, dict) else None


def _error_message(error: Any) -> str:
    """The message of a webhook's `error`: the text, or an object's `message` (its `code` is not kept: Parse answers
    every webhook error with 141)."""
    if isinstance(error, str):
        return error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return json.dumps(error)


def saved_fields(success: Any, *, updating: bool) -> dict[str, Any] | None:
    """The fields a `beforeSave` webhook answered, which replace the write's (as Parse Server replaces them); None
    when it answered no object, and the write goes on as asked."""
    if not isinstance(success, dict):
        return None
    dropped = {"createdAt", "updatedAt", "className", *(("objectId",) if updating else ())}
    return decode_object({key: value for key, value in success.items() if key not in dropped})


class WebhookAdmin:
    """Declaring webhooks, as Parse's `/hooks` routes do (master key; changes not with the read-only one)."""

    def __init__(self, webhooks: Webhooks) -> None:
        self.webhooks = webhooks
        self.store = webhooks.store

    def require_access(self, auth: Auth, *, change: str | None = None) -> None:
        """The master key; to `change` hooks ("create a hook", "modify a hook"), not the read-only one. A transport
        asks this before it reads a request's body, as Parse refuses the key first."""
        if change is not None:
            require_writing_master(auth, change)
        else:
            require_master(auth)

    async def functions(self, auth: Auth) -> list[Webhook]:
        """Every function webhook (master key)."""
        self.require_access(auth)
        return [hook for hook in await self.store.read_hooks() if hook.function_name is not None]

    async def triggers(self, auth: Auth) -> list[Webhook]:
        """Every trigger webhook (master key)."""
        self.require_access(auth)
        return [hook for hook in await self.store.read_hooks() if hook.function_name is None and hook.class_name]

    async def function(self, auth: Auth, name: str) -> Webhook:
        """One function webhook (master key); 143 when there is none."""
        self.require_access(auth)
        found = await self._find(Webhook("", function_name=name))
        if found is None:
            raise WebhookError(f"no function named: {name} is defined")
        return found

    async def trigger(self, auth: Auth, class_name: str, trigger_name: str) -> Webhook:
        """One trigger webhook (master key); 143 when there is none."""
        self.require_access(auth)
        found = await self._find(Webhook("", class_name=class_name, trigger_name=trigger_name))
        if found is None:
            raise WebhookError(f"class {class_name} does not exist")
        return found

    async def create(self, auth: Auth, declaration: Mapping[str, Any]) -> Webhook:
        """A new webhook from Parse's declaration (`functionName` and `url`, or `className`, `triggerName` and
        `url`), whichever route it came through, as Parse takes it (master key, not read-only); 143 when it is
        incomplete, names an unknown trigger, or exists already."""
        self.require_access(auth, change="create a hook")
        key = _key_of(declaration)
        if await self._find(key) is not None:
            if key.function_name is not None:
                raise WebhookError(f"function name: {key.function_name} already exists")
            raise WebhookError(f"class {key.class_name} already has trigger {key.trigger_name}")
        return await self._save(_declared(declaration))

    async def update(self, auth: Auth, declaration: Mapping[str, Any]) -> Webhook:
        """A webhook's new URL (master key, not read-only); 143 when there is no such webhook or no URL."""
        self.require_access(auth, change="modify a hook")
        if not declaration.get("url"):
            raise WebhookError(INVALID)  # before the lookup, as Parse checks
        key = _key_of(declaration)
        if await self._find(key) is None:
            if key.function_name is not None:
                raise WebhookError(f"no function named: {key.function_name} is defined")
            raise WebhookError(f"class {key.class_name} does not exist")
        return await self._save(_declared(declaration))

    async def delete(self, auth: Auth, declaration: Mapping[str, Any]) -> None:
        """Remove a webhook (master key, not read-only); 101 when there is none, as Parse answers."""
        self.require_access(auth, change="modify a hook")
        if not await self.store.delete_hook(_key_of(declaration)):
            raise ObjectNotFoundError("Object not found.")
        self.webhooks.forget()

    async def _find(self, key: Webhook) -> Webhook | None:
        for hook in await self.store.read_hooks():
            if (hook.function_name, hook.class_name, hook.trigger_name) == (
                key.function_name,
                key.class_name,
                key.trigger_name,
            ):
                return hook
        return None

    async def _save(self, hook: Webhook) -> Webhook:
        if hook.trigger_name is not None and hook.trigger_name not in RUN_AS_WEBHOOKS.values():
            log.warning("webhook %s %s is kept, but only save and delete triggers run as webhooks here", *_names(hook))
        await self.store.save_hook(hook)
        self.webhooks.forget()
        return hook


def _names(hook: Webhook) -> tuple[str | None, str | None]:
    return hook.trigger_name, hook.class_name


def _key_of(declaration: Mapping[str, Any]) -> Webhook:
    """Which webhook a declaration names (its URL aside): a function's name comes first, as in Parse."""
    function_name = declaration.get("functionName")
    if isinstance(function_name, str) and function_name:
        return Webhook("", function_name=function_name)
    class_name, trigger_name = declaration.get("className"), declaration.get("triggerName")
    if isinstance(class_name, str) and class_name and isinstance(trigger_name, str) and trigger_name:
        return Webhook("", class_name=class_name, trigger_name=trigger_name)
    raise WebhookError(INVALID)


def _declared(declaration: Mapping[str, Any]) -> Webhook:
    """The webhook a complete declaration makes; 143 for a missing URL, one that is not http(s) (Parse keeps any
    text and fails each call instead), or an unknown trigger."""
    url = declaration.get("url")
    if not isinstance(url, str) or not url:
        raise WebhookError(INVALID)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise WebhookError(f"{INVALID}: the url must be an http:// or https:// address")
    key = _key_of(declaration)
    if key.function_name is None and key.trigger_name not in TRIGGER_NAMES:
        raise WebhookError(INVALID)
    return Webhook(url, key.function_name, key.class_name, key.trigger_name)
