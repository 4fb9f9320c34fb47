"""The live query hub: who follows which query, and which of them a write concerns.

Subscriptions that ask the same thing (class, constraints, and caller) share a group. A write is
matched once per group, and only against the groups that can match it: groups are indexed by an
equality their query requires (`objectId`, `room`, …), so a write to room A never looks at the
groups of room B. Permissions are applied once per group, on the object before and after the write,
with the same rules as a find; a listener only gets the event, and renders it once per group at most
(`Delivery.memo`). Listeners must not block: they queue, and their transport sends.

Cloud code's `after_event` is the exception: it sees the subscriber's own connection (its headers and
address, `Subscription.origin`), so where a class has one it runs once per subscription, as in Parse
Server, and each subscription gets its own delivery. It never runs with the writer's request.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from app.domain.acl import Auth, Origin
from app.domain.classes import ClassSchema
from app.domain.events import WriteEvent
from app.domain.hooks import LiveHooks
from app.domain.matching import compile_where, equality_keys
from app.domain.objects import ObjectService
from app.domain.values import Record
from app.domain.visibility import event_view, live_query
from app.errors import AppError, DatabaseUnavailableError

log = logging.getLogger("app.live")

EventName = Literal["create", "enter", "update", "leave", "delete"]
EVENT_NAMES: tuple[EventName, ...] = ("create", "enter", "update", "leave", "delete")
# Writes to these classes can change what a session may see, so cached callers are looked up again.
_AUTH_CLASSES = frozenset({"_Role", "_Session", "_User"})


@dataclass(slots=True)
class Delivery:
    """One event for one group: the object as the group's caller may see it (never to be mutated)."""

    event: EventName
    object: Record
    original: Record | None
    schema: ClassSchema
    memo: dict[Hashable, Any] = field(default_factory=dict)
    """Renderings shared by the listeners of the group, so each is made once per event."""


class Listener(Protocol):
    def deliver(self, subscription: Subscription, delivery: Delivery) -> None:
        """Take an event without waiting (queue it); called from the hub's dispatch loop."""
        ...


@dataclass(eq=False, slots=True)
class Subscription:
    listener: Listener
    group: _Group
    tag: Any = None
    """The transport's name for it (a LiveQuery requestId, a GraphQL operation id)."""
    watch: tuple[str, ...] = ()
    """Send creates and updates only when one of these fields changed."""
    keys: tuple[str, ...] | None = None
    """The fields a LiveQuery client asked for (after `before_subscribe`, which may change them)."""
    origin: Origin = field(default_factory=Origin)
    """Where the subscriber connected from: what its `after_event` hooks see."""

    def wants(self, event: WriteEvent, name: EventName) -> bool:
        if not self.watch or name not in ("create", "update"):
            return True
        after = event.after or {}
        before = event.before or {}
        return any(after.get(key) != before.get(key) for key in self.watch)


@dataclass(eq=False, slots=True)
class _Group:
    key: tuple[Hashable, ...]
    class_name: str
    op: str
    matches: Callable[[Record], bool]
    principal: tuple[str, ...]
    auth: Auth
    checked_at: float
    index: tuple[str, Hashable] | None
    members: dict[Subscription, None] = field(default_factory=dict)


class _ClassIndex:
    """The groups of one class, by an equality each requires, plus those that require none."""

    def __init__(self) -> None:
        self.by_value: dict[str, dict[Hashable, set[_Group]]] = {}
        self.scan: set[_Group] = set()
        self.size = 0

    def add(self, group: _Group) -> None:
        self.size += 1
        if group.index is None:
            self.scan.add(group)
        else:
            name, value = group.index
            self.by_value.setdefault(name, {}).setdefault(value, set()).add(group)

    def remove(self, group: _Group) -> None:
        self.size -= 1
        if group.index is None:
            self.scan.discard(group)
            return
        name, value = group.index
        values = self.by_value.get(name, {})
        groups = values.get(value)
        if groups is not None:
            groups.discard(group)
            if not groups:
                del values[value]
            if not values:
                self.by_value.pop(name, None)

    def candidates(self, records: tuple[Record | None, ...]) -> Iterator[_Group]:
        seen: set[_Group] = set()
        yield from self.scan
        for name, values in self.by_value.items():
            for record in records:
                if record is None or name not in record:
                    continue
                for value in _hashables(record[name]):
                    for group in values.get(value, ()):
                        if group not in seen:
                            seen.add(group)
                            yield group


def _hashables(value: Any) -> Iterator[Hashable]:
    # Equality with an array field means "contains", so each element is a key of its own.
    for item in value if isinstance(value, list) else (value,):
        try:
            hash(item)
        except TypeError:
            continue
        yield item


def _canonical(where: Any) -> str:
    return json.dumps(where, sort_keys=True, default=repr, separators=(",", ":"))


class LiveHub:
    """Subscriptions, grouped and indexed; `publish` (an event sink) queues writes for dispatch."""

    def __init__(
        self,
        objects: ObjectService,
        resolve_session: Callable[[str], Awaitable[Auth]],
        *,
        auth_ttl: float = 5.0,
    ) -> None:
        self.objects = objects
        self.resolve_session = resolve_session
        self.auth_ttl = auth_ttl
        self._groups: dict[tuple[Hashable, ...], _Group] = {}
        self._classes: dict[str, _ClassIndex] = {}
        self._queue: asyncio.Queue[WriteEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._auth_epoch = 0.0
        self.delivered = 0

    # Subscribing ------------------------------------------------------------------------------------

    async def subscribe(
        self,
        auth: Auth,
        class_name: str,
        where: Any,
        listener: Listener,
        *,
        tag: Any = None,
        watch: tuple[str, ...] = (),
        keys: tuple[str, ...] | None = None,
    ) -> Subscription:
        """Follow `where` on a class as `auth`; refused (AppError) as a find would be, or when an
        operator cannot be matched in memory, or by cloud code's `before_subscribe`."""
        if self.objects.hooks is not None:
            where, new_keys, new_watch = await LiveHooks(self.objects.hooks).before_subscribe(
                auth, class_name, where, list(keys) if keys is not None else None, list(watch)
            )
            keys = tuple(new_keys) if new_keys is not None else None
            watch = tuple(new_watch or ())
        objects = self.objects
        schema, parsed, op = await live_query(
            objects.schemas,
            objects.settings.limits,
            auth,
            class_name,
            where,
            watch,
            client_class_creation=objects.settings.allow_client_class_creation,
        )
        principal = _principal(auth)
        key = (class_name, _canonical(parsed), op, principal)
        group = self._groups.get(key)
        if group is None:
            matches = compile_where(parsed, schema)
            required = equality_keys(parsed, schema)
            index = ("objectId", required["objectId"]) if "objectId" in required else next(iter(required.items()), None)
            group = _Group(key, class_name, op, matches, principal, auth, time.monotonic(), index)
            self._groups[key] = group
            self._classes.setdefault(class_name, _ClassIndex()).add(group)
        subscription = Subscription(listener, group, tag, tuple(watch), keys, auth.origin)
        group.members[subscription] = None
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        group = subscription.group
        if subscription not in group.members:
            return
        del group.members[subscription]
        if group.members:
            return
        del self._groups[group.key]
        index = self._classes[group.class_name]
        index.remove(group)
        if not index.size:
            del self._classes[group.class_name]

    @property
    def subscription_count(self) -> int:
        return sum(len(group.members) for group in self._groups.values())

    @property
    def group_count(self) -> int:
        return len(self._groups)

    # Dispatch ---------------------------------------------------------------------------------------

    async def publish(self, event: WriteEvent) -> None:
        if event.schema.name in _AUTH_CLASSES:
            self._auth_epoch = time.monotonic()
        if event.schema.name not in self._classes:
            return
        self._queue.put_nowait(event)
        if self._task is None or self._task.done():
            # A context of its own: the task outlives the write that starts it, and must carry nothing of that
            # request (its transaction, anything a context variable holds) into every later dispatch.
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name="live-hub", context=contextvars.Context()
            )

    async def drain(self) -> None:
        """Wait until every queued write has been dispatched (tests and shutdown)."""
        await self._queue.join()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self.dispatch(event)
            except DatabaseUnavailableError:
                log.warning("live query events of a write on %s dropped: no database", event.schema.name)
            except Exception:
                log.exception("live query dispatch failed for a write on %s", event.schema.name)
            finally:
                self._queue.task_done()

    async def dispatch(self, event: WriteEvent) -> None:
        index = self._classes.get(event.schema.name)
        if index is None:
            return
        views: dict[tuple[Hashable, ...], Record | None] = {}

        def view(group: _Group, auth: Auth, which: Literal["before", "after"]) -> Record | None:
            # Groups of one caller see an object alike, so each version is filtered once per caller.
            record = event.before if which == "before" else event.after
            if record is None:
                return None
            memo_key = (group.principal, group.op, which)
            if memo_key not in views:
                views[memo_key] = event_view(event.schema, auth, record, group.op)
            return views[memo_key]

        hooks = LiveHooks(self.objects.hooks) if self.objects.hooks is not None else None
        for group in list(index.candidates((event.after, event.before))):
            was = event.before is not None and group.matches(event.before)
            now = event.after is not None and group.matches(event.after)
            if not (was or now):
                continue
            auth = await self._auth_of(group)
            before = view(group, auth, "before") if was else None
            after = view(group, auth, "after") if now else None
            delivery = _decide(event, before, after, functools.partial(view, group, auth))
            if delivery is None:
                continue
            if hooks is not None and hooks.hooks.has("after_event", event.schema.name):
                await self._deliver_each(hooks, group, auth, event, delivery)
                continue
            for subscription in list(group.members):
                if subscription.wants(event, delivery.event):
                    self.delivered += 1
                    subscription.listener.deliver(subscription, delivery)

    async def _deliver_each(
        self, hooks: LiveHooks, group: _Group, auth: Auth, event: WriteEvent, delivery: Delivery
    ) -> None:
        """`after_event` once per subscription, with the subscriber's own origin, and a delivery of its own."""
        for subscription in list(group.members):
            if not subscription.wants(event, delivery.event):
                continue
            changed = await hooks.after_event(
                replace(auth, origin=subscription.origin),
                event.schema.name,
                delivery.event,
                delivery.object,
                delivery.original,
            )
            if changed is None or subscription not in group.members:
                continue
            self.delivered += 1
            subscription.listener.deliver(subscription, Delivery(delivery.event, *changed, delivery.schema))

    async def _auth_of(self, group: _Group) -> Auth:
        """The group's caller, looked up again when stale: roles and sessions change while sockets live."""
        if group.principal[0] != "session":
            return group.auth
        if group.checked_at < self._auth_epoch or time.monotonic() - group.checked_at > self.auth_ttl:
            try:
                group.auth = await self.resolve_session(group.principal[1])
            except DatabaseUnavailableError:
                raise  # not known to have ended: neither keep a stale caller nor make it public
            except AppError:
                group.auth = Auth()  # the session ended: from now on it sees what the public sees
            group.checked_at = time.monotonic()
        return group.auth


def _principal(auth: Auth) -> tuple[str, ...]:
    if auth.master:
        return ("master",)
    if auth.session_token:
        return ("session", auth.session_token)
    return ("public",)


def _decide(
    event: WriteEvent,
    before: Record | None,
    after: Record | None,
    readable: Callable[[Literal["before", "after"]], Record | None],
) -> Delivery | None:
    """Parse's event for a group from what it could see before and after the write."""
    if event.kind == "delete":
        return Delivery("delete", before, None, event.schema) if before is not None else None
    if before is not None and after is not None:
        return Delivery("update", after, before, event.schema)
    if before is not None:
        # It left the query. If the caller lost read access, send what it last saw, not the new state.
        current = readable("after")
        return Delivery("leave", current if current is not None else before, before, event.schema)
    if after is not None:
        if event.before is None:
            return Delivery("create", after, None, event.schema)
        # It entered. If the caller could not read it before, the old state is not theirs to see.
        return Delivery("enter", after, readable("before"), event.schema)
    return None
