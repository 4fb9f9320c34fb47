"""Push notifications: `POST /push` checked and recorded in `_PushStatus`, then sent in the background.

A request is checked as Parse Server checks it (`where` or `channels`, `push_time`, `expiration_time` or
`expiration_interval`, the badge), written to `_PushStatus` as Parse writes it (`pending`, or `scheduled` with a
`push_time`), and answered; nothing is sent inside the request. Sending starts by claiming the status (one atomic
change from `pending` or `scheduled` to `running`), so one instance sends it however many run, and everything it
needs is read back from the status (`query`, `payload`, `expiry`, `expiration_interval`): a scheduled push is sent
when due by whichever instance claims it first, after a restart too.

The sender pages through the matching installations (those with a `deviceToken`, by objectId), applies the badge
(`Increment` adds to each installation's stored badge, a number sets it, as Parse does), resolves each device's
payload (its localized `alert-<locale>`/`title-<locale>` by `localeIdentifier`, its badge), groups the devices by
provider and payload, hands each group to its `PushSender` (`push_delivery.py`) a few at a time, and adds what came
back to the status: `numSent`, `numFailed`, `sentPerType`, `failedPerType`. A device type no sender serves counts
as failed, as in Parse. When it is done the status is `succeeded`, or `failed` with `errorMessage` when a provider
could not be reached at all or the sending itself broke. A token the provider says is unregistered is removed from
its installations (`deviceToken` deleted), which Parse does when PARSE_SERVER_CLEANUP_INVALID_INSTALLATIONS is set:
such a token never works again, and keeping it makes every later push fail on it.

Audiences (`_Audience`, Parse Dashboard's saved queries) are the master key's too.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain.access import require_master, require_writing_master
from app.domain.acl import ACL, MASTER, Auth
from app.domain.objects import ObjectService, WriteResult
from app.domain.operations import Delete, Increment
from app.domain.push_delivery import PushDevice, PushMessage, PushOutcome, PushSender, is_number, json_text
from app.domain.queries import QueryOptions, parse_where
from app.domain.values import Record, iso, js_text, utc_now
from app.errors import AppError, PushMisconfiguredError

log = logging.getLogger("app.push")

PUSH_TYPES = frozenset({"ios", "osx", "tvos", "watchos", "android", "fcm", "web", "expo"})
"""Device types Parse's push adapter knows: an installation of another type is left out, one of these that no
sender serves counts as failed."""
LOCALIZABLE = ("alert", "title")
EMPTY_HASH = hashlib.md5(b"").hexdigest()
BADGE_ERROR = "Invalid value for badge, expected number or 'Increment' or {increment: number}"
SHUTDOWN_GRACE = 5.0
"""Seconds a stopping server waits for the pushes it is sending."""
_OFFSET = re.compile(r"(.+)([+-])\d\d:\d\d$")


@dataclass(frozen=True, slots=True)
class PushLimits:
    """How much of the machine one push may take."""

    page_size: int = 100
    """Installations read, and their statuses updated, at a time (Parse's batch size)."""
    concurrency: int = 8
    """Provider calls of one page in flight at once (each adapter bounds its own requests too)."""
    poll_interval: float = 30.0
    """Seconds between looks for scheduled pushes this instance did not create (another instance's, or its own
    before a restart)."""
    orphan_after: float = 60.0
    """Seconds after which a `pending` push nobody claimed is taken as one whose instance stopped before sending
    it (sending starts within milliseconds of the request), and sent."""


def _date(value: Any) -> tuple[datetime, bool]:
    """A time as Parse reads `push_time` and `expiration_time`: seconds since the epoch, or an ISO date; and
    whether it names no time zone (Parse keeps such a push time without its `Z`)."""
    invalid = PushMisconfiguredError(f"{js_text(value)} is not valid time.")
    if is_number(value):
        try:
            return datetime.fromtimestamp(value, UTC), True
        except (OverflowError, OSError, ValueError):
            raise invalid from None
    if not isinstance(value, str):
        raise invalid
    text = value.strip()
    local = not (text.endswith("Z") or _OFFSET.match(text))
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), local


def _push_time_text(moment: datetime, local: bool) -> str:
    text = iso(moment)
    return text[:-1] if local else text


def _parse_push_time(text: str) -> datetime:
    """When a stored `pushTime` is due (one without a time zone is taken as UTC)."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _badge_change(badge: Any) -> Any:
    """The change a push's badge makes to each installation: Increment, a number, or nothing (Parse's reading)."""
    if not badge:
        return None
    if isinstance(badge, str) and badge.lower() == "increment":
        return Increment(1)
    if isinstance(badge, dict):
        op, amount = badge.get("__op"), badge.get("amount")
        if isinstance(op, str) and op.lower() == "increment" and is_number(amount) and amount:
            return Increment(amount)
    elif is_number(badge) or (isinstance(badge, str) and _is_number_text(badge)):
        number = float(badge) if isinstance(badge, str) else badge
        return int(number) if float(number).is_integer() else number
    # Parse throws this text bare, which its router answers as an internal error; it is the caller's mistake.
    raise PushMisconfiguredError(BADGE_ERROR)


def _is_number_text(text: str) -> bool:
    try:
        return float(text) != 0
    except ValueError:
        return False


def push_hash(data: Mapping[str, Any]) -> str:
    """Parse's `pushHash`: the MD5 of the alert (its JSON when an object), of nothing without one."""
    alert = data.get("alert")
    if isinstance(alert, str):
        return hashlib.md5(alert.encode()).hexdigest()
    if isinstance(alert, dict | list):
        return hashlib.md5(json_text(alert).encode()).hexdigest()
    return EMPTY_HASH


def locales_of(data: Mapping[str, Any]) -> list[str]:
    """The locales a push is localized for (`alert-fr`, `title-pt-BR`…), in the order they appear."""
    found: list[str] = []
    for key in data:
        for base in LOCALIZABLE:
            if key.startswith(f"{base}-") and key[len(base) + 1 :] not in found:
                found.append(key[len(base) + 1 :])
    return found


def localized(data: Mapping[str, Any], locale: str | None) -> dict[str, Any]:
    """The data one locale's devices get: its own alert and title, every localized key removed."""
    result = dict(data)
    if locale is not None:
        for base in LOCALIZABLE:
            if data.get(f"{base}-{locale}"):
                result[base] = data[f"{base}-{locale}"]
    return {key: value for key, value in result.items() if not any(key.startswith(f"{b}-") for b in LOCALIZABLE)}


def locale_for(installation: Mapping[str, Any], locales: Sequence[str]) -> str | None:
    """The first locale the installation's `localeIdentifier` starts with (Parse's rule: `fr` serves `fr_FR`)."""
    identifier = installation.get("localeIdentifier")
    if isinstance(identifier, str):
        for locale in locales:
            if identifier.startswith(locale):
                return locale
    return None


@dataclass(slots=True)
class _Tally:
    """What one page of sends did, as increments of the status."""

    sent: int = 0
    failed: int = 0
    sent_per_type: dict[str, int] | None = None
    failed_per_type: dict[str, int] | None = None
    error: str | None = None

    def add(self, outcome: PushOutcome) -> None:
        kind = outcome.device.device_type
        if outcome.sent:
            self.sent += 1
            self.sent_per_type = self.sent_per_type or {}
            self.sent_per_type[kind] = self.sent_per_type.get(kind, 0) + 1
        else:
            self.failed += 1
            self.failed_per_type = self.failed_per_type or {}
            self.failed_per_type[kind] = self.failed_per_type.get(kind, 0) + 1

    def changes(self) -> dict[str, Any]:
        changes: dict[str, Any] = {"count": Increment(-1)}
        if self.sent:
            changes["numSent"] = Increment(self.sent)
        if self.failed:
            changes["numFailed"] = Increment(self.failed)
        for kind, number in (self.sent_per_type or {}).items():
            changes[f"sentPerType.{kind}"] = Increment(number)
        for kind, number in (self.failed_per_type or {}).items():
            changes[f"failedPerType.{kind}"] = Increment(number)
        return changes


class PushService:
    """Sends pushes through the senders the push option configured (none: push is not configured, 115)."""

    def __init__(
        self,
        objects: ObjectService,
        senders: Sequence[PushSender],
        limits: PushLimits | None = None,
        *,
        sending: bool = True,
    ) -> None:
        self.objects = objects
        self.sending = sending
        """False: this instance records pushes and leaves sending them to the others (Parse's disablePushWorker)."""
        self.senders = list(senders)
        self.limits = limits or PushLimits()
        self._by_type = {kind: sender for sender in self.senders for kind in sender.device_types}
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._closing = False
        self._in_flight: set[str] = set()

    @property
    def configured(self) -> bool:
        return bool(self.senders)

    def require_access(self, auth: Auth) -> None:
        """The master key, not the read-only one (asked before the body is read, as Parse refuses the key first)."""
        require_writing_master(auth, "send push notifications")

    async def send(self, auth: Auth, body: Mapping[str, Any]) -> str:
        """Check and record a push (master key, not read-only); its `_PushStatus` id. Sent in the background: now,
        or at its `push_time`."""
        self.require_access(auth)
        where = self._where(body)
        if not self.configured:
            raise PushMisconfiguredError("Missing push configuration")
        now = utc_now()
        status = await self._initial_status(body, where, now)
        saved = await self.objects.create(MASTER, "_PushStatus", status)
        status_id = str(saved.object["objectId"])
        if isinstance(body.get("audience_id"), str):
            await self._count_audience_use(body["audience_id"])
        if status["status"] == "scheduled":
            self._wake.set()
        else:
            self._spawn(status_id, "pending")
        return status_id

    def _where(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The installations a push is for: its `where`, or those subscribed to one of its `channels`."""
        has_where, has_channels = "where" in body, "channels" in body
        if has_where and has_channels:
            raise PushMisconfiguredError("Channels and query can not be set at the same time.")
        if has_where:
            where = body["where"]
        elif has_channels:
            where = {"channels": {"$in": body["channels"]}}
        else:
            raise PushMisconfiguredError('Sending a push requires either "channels" or a "where" query.')
        if not isinstance(where, dict):
            raise PushMisconfiguredError("where must be an object")
        # Checked now rather than failing in the background, as Parse does, after answering `true`.
        parse_where(where, None, master=True)
        return where

    async def _initial_status(self, body: Mapping[str, Any], where: Mapping[str, Any], now: datetime) -> Record:
        expiration_ms: float | None = None
        if "expiration_time" in body:
            expires, _ = _date(body["expiration_time"])
            expiration_ms = expires.timestamp() * 1000
        interval = body.get("expiration_interval")
        if "expiration_interval" in body and not (is_number(interval) and interval > 0):
            raise PushMisconfiguredError("expiration_interval must be a number greater than 0")
        if expiration_ms is not None and "expiration_interval" in body:
            raise PushMisconfiguredError("Both expiration_time and expiration_interval cannot be set")
        scheduled = "push_time" in body
        if interval is not None and not scheduled:
            expiration_ms = now.timestamp() * 1000 + interval * 1000
        push_time = iso(now)
        if scheduled:
            moment, local = _date(body["push_time"])
            push_time = _push_time_text(moment, local)
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise PushMisconfiguredError("data must be an object")
        _badge_change(data.get("badge"))
        status: Record = {
            "pushTime": push_time,
            "query": json_text(where),
            "payload": json_text(data),
            "source": "rest",
            "status": "scheduled" if scheduled else "pending",
            "numSent": 0,
            "pushHash": push_hash(data),
            "ACL": ACL(),
        }
        if expiration_ms is not None:
            status["expiry"] = int(expiration_ms) if float(expiration_ms).is_integer() else expiration_ms
        if interval is not None:
            status["expiration_interval"] = interval
        return status

    async def _count_audience_use(self, audience_id: str) -> None:
        try:
            await self.objects.update(
                MASTER, "_Audience", audience_id, {"lastUsed": utc_now(), "timesUsed": Increment(1)}
            )
        except AppError as error:
            log.warning("push audience %s: its use was not counted: %s", audience_id, error.message)

    # Sending

    def start(self) -> None:
        """Start looking for scheduled pushes (and those whose instance stopped before sending them)."""
        if self.configured and self.sending and self._scheduler is None:
            self._scheduler = asyncio.get_running_loop().create_task(self._schedule(), name="push scheduler")

    async def close(self) -> None:
        """Stop looking for scheduled pushes, give the pushes being sent `SHUTDOWN_GRACE` seconds to finish (one
        stopped then stays `running`), and close the senders' connections."""
        self._closing = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE)
        tasks = [*self._tasks, *([self._scheduler] if self._scheduler else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            # A database driver may swallow a cancellation mid-call; `_closing` ends the loops then, and a task
            # that still does not end is left behind rather than holding the shutdown.
            await asyncio.wait(tasks, timeout=SHUTDOWN_GRACE)
        self._scheduler = None
        for sender in self.senders:
            with contextlib.suppress(Exception):
                await sender.close()

    def _spawn(self, status_id: str, expected: str) -> None:
        if self._closing or not self.sending or status_id in self._in_flight:
            return  # this instance is already on it (the scheduler looked again before it was claimed)
        task = asyncio.get_running_loop().create_task(self._deliver(status_id, expected), name=f"push {status_id}")
        self._tasks.add(task)
        self._in_flight.add(status_id)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda _: self._in_flight.discard(status_id))

    async def _schedule(self) -> None:
        while not self._closing:
            try:
                delay = await self._start_due()
            except Exception:
                if self._closing:
                    return
                log.exception("looking for scheduled pushes failed; trying again shortly")
                delay = self.limits.poll_interval
            self._wake.clear()
            if self._closing:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(delay, 0.05))

    async def _start_due(self) -> float:
        """Start the scheduled pushes that are due and the orphaned pending ones; seconds until the next is due."""
        now = utc_now()
        found = await self.objects.find(
            MASTER,
            "_PushStatus",
            {"status": {"$in": ["scheduled", "pending"]}},
            QueryOptions(order=("createdAt",), limit=1000, keys=("status", "pushTime", "createdAt")),
            capped=False,
        )
        wait = self.limits.poll_interval
        for record in found.results:
            status_id = str(record["objectId"])
            if record.get("status") == "pending":
                created = record.get("createdAt")
                if isinstance(created, datetime) and (now - created).total_seconds() > self.limits.orphan_after:
                    self._spawn(status_id, "pending")
                continue
            try:
                due = _parse_push_time(str(record.get("pushTime")))
            except ValueError:
                due = now
            if due <= now:
                self._spawn(status_id, "scheduled")
            else:
                wait = min(wait, (due - now).total_seconds())
        return wait

    async def _claim(self, status_id: str, expected: str, changes: Mapping[str, Any]) -> bool:
        """Change the status from `expected` in one atomic write; False when another sender got there first."""
        schema = await self.objects.schemas.get("_PushStatus")
        if schema is None:
            return False
        where = parse_where({"status": expected}, schema, master=True)
        before = await self.objects.storage.update(schema, status_id, where, {**changes, "updatedAt": utc_now()}, None)
        return before is not None

    async def _deliver(self, status_id: str, expected: str) -> None:
        try:
            await self._send_claimed(status_id, expected)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            if self._closing:
                log.warning("_PushStatus %s: stopped by the server's shutdown", status_id)
                return
            message = error.message if isinstance(error, AppError) else str(error) or type(error).__name__
            log.exception("_PushStatus %s: sending failed", status_id)
            await self._finish(status_id, {"status": "failed", "errorMessage": {"message": message}})

    async def _send_claimed(self, status_id: str, expected: str) -> None:
        status = await self.objects.get(MASTER, "_PushStatus", status_id)
        if status.get("status") != expected:
            return
        where = json.loads(str(status.get("query") or "{}"))
        data = json.loads(str(status.get("payload") or "{}"))
        if "deviceToken" not in where:
            where["deviceToken"] = {"$exists": True}
        expiry = status.get("expiry")
        expiration = expiry / 1000 if is_number(expiry) else None
        interval = status.get("expiration_interval")
        if expiration is None and is_number(interval):
            expiration = utc_now().timestamp() + interval
        total = await self.objects.find(MASTER, "_Installation", where, QueryOptions(limit=0, count=True))
        count = total.count or 0
        if count == 0:
            await self._claim(status_id, expected, {"status": "succeeded"})
            return
        pages = -(-count // self.limits.page_size)
        if not await self._claim(status_id, expected, {"status": "running", "count": pages}):
            return
        log.info("_PushStatus %s: sending to %d installations", status_id, count)
        failure: str | None = None
        last: str | None = None
        while True:
            page_where = where if last is None else {"$and": [where, {"objectId": {"$gt": last}}]}
            page = await self.objects.find(
                MASTER,
                "_Installation",
                page_where,
                QueryOptions(order=("objectId",), limit=self.limits.page_size),
                capped=False,
            )
            if not page.results:
                break
            last = str(page.results[-1]["objectId"])
            tally = await self._send_page(status_id, data, page.results, expiration)
            failure = failure or tally.error
            await self.objects.update(MASTER, "_PushStatus", status_id, tally.changes())
        final: dict[str, Any] = {"status": "succeeded", "count": Delete()}
        if failure is not None:
            final = {"status": "failed", "count": Delete(), "errorMessage": {"message": failure}}
        await self._finish(status_id, final)

    async def _finish(self, status_id: str, changes: dict[str, Any]) -> None:
        try:
            await self.objects.update(MASTER, "_PushStatus", status_id, changes)
        except AppError as error:
            log.error("_PushStatus %s: its end was not recorded: %s", status_id, error.message)

    async def _send_page(
        self, status_id: str, data: Mapping[str, Any], installations: list[Record], expiration: float | None
    ) -> _Tally:
        change = _badge_change(data.get("badge"))
        if change is not None:
            installations = await self._apply_badge(installations, change)
        locales = locales_of(data)
        groups: dict[tuple[str | None, Any, int], list[PushDevice]] = {}
        senders: dict[int, PushSender] = {}
        tally = _Tally()
        for installation in installations:
            token = installation.get("deviceToken")
            if not isinstance(token, str) or not token:
                continue
            kind = str(installation.get("deviceType") or "")
            sender = self._by_type.get(str(installation.get("pushType") or "")) or self._by_type.get(kind)
            app = installation.get("appIdentifier")
            device = PushDevice(kind, token, installation.get("installationId"), app if isinstance(app, str) else None)
            if sender is None:
                if kind in PUSH_TYPES:
                    tally.add(PushOutcome(device, sent=False, error=f"no sender for push type {kind}"))
                continue
            badge = installation.get("badge") if isinstance(change, Increment) else None
            key = (locale_for(installation, locales), badge, id(sender))
            senders[id(sender)] = sender
            groups.setdefault(key, []).append(device)
        slots = asyncio.Semaphore(self.limits.concurrency)

        async def deliver(key: tuple[str | None, Any, int], devices: list[PushDevice]) -> list[PushOutcome]:
            locale, badge, sender_id = key
            payload = localized(data, locale) if locales else dict(data)
            if isinstance(change, Increment):
                payload["badge"] = badge if badge is not None else 0
            elif change is not None:
                payload["badge"] = change
            message = PushMessage(payload, devices, expiration, status_id)
            async with slots:
                try:
                    return await senders[sender_id].send(message)
                except Exception as error:
                    reason = str(error) or type(error).__name__
                    log.error("_PushStatus %s: a provider could not be reached: %s", status_id, reason)
                    tally.error = tally.error or reason
                    return [PushOutcome(device, sent=False, error=reason) for device in devices]

        results = await asyncio.gather(*(deliver(key, devices) for key, devices in groups.items()))
        gone: set[str] = set()
        for outcomes in results:
            for outcome in outcomes:
                tally.add(outcome)
                if outcome.unregistered:
                    gone.add(outcome.device.device_token)
        if gone:
            await self._forget_tokens(installations, gone)
        return tally

    async def _apply_badge(self, installations: list[Record], change: Any) -> list[Record]:
        """Each installation's badge changed as the push says, and the installations as they are after it."""
        slots = asyncio.Semaphore(self.limits.concurrency)

        async def apply(installation: Record) -> Record:
            async with slots:
                try:
                    saved = await self.objects.update(
                        MASTER, "_Installation", str(installation["objectId"]), {"badge": change}
                    )
                except AppError as error:
                    log.warning("installation %s: badge not changed: %s", installation["objectId"], error.message)
                    return installation
            return {**installation, "badge": saved.object.get("badge")}

        return list(await asyncio.gather(*(apply(installation) for installation in installations)))

    async def _forget_tokens(self, installations: list[Record], tokens: set[str]) -> None:
        """Remove tokens that will never work again from the installations holding them; straight in storage, as
        Parse does (the installation rules of a client's write, which would look the token up, do not apply)."""
        schema = await self.objects.schemas.get("_Installation")
        if schema is None:
            return
        for installation in installations:
            token = installation.get("deviceToken")
            if token not in tokens:
                continue
            # Only while it still holds that token: the app may have registered a new one meanwhile.
            where = parse_where({"deviceToken": token}, schema, master=True)
            changes = {"deviceToken": Delete(), "updatedAt": utc_now()}
            try:
                await self.objects.storage.update(schema, str(installation["objectId"]), where, changes, None)
            except AppError as error:
                log.warning("installation %s: token kept: %s", installation["objectId"], error.message)

    # Audiences: Parse Dashboard's saved push queries, the master key's

    def require_audiences(self, auth: Auth) -> None:
        """The master key (Parse refuses anyone else before reading the request)."""
        require_master(auth)

    async def find_audiences(self, auth: Auth, where: Any, options: QueryOptions) -> list[Record]:
        self.require_audiences(auth)
        found = await self.objects.find(auth, "_Audience", where, options)
        return [_with_query(record) for record in found.results]

    async def get_audience(self, auth: Auth, object_id: str) -> Record:
        self.require_audiences(auth)
        return _with_query(await self.objects.get(auth, "_Audience", object_id))

    async def create_audience(self, auth: Auth, fields: Mapping[str, Any]) -> WriteResult:
        self.require_audiences(auth)
        return await self.objects.create(auth, "_Audience", fields)

    async def update_audience(self, auth: Auth, object_id: str, fields: Mapping[str, Any]) -> WriteResult:
        self.require_audiences(auth)
        return await self.objects.update(auth, "_Audience", object_id, fields)

    async def delete_audience(self, auth: Auth, object_id: str) -> None:
        self.require_audiences(auth)
        await self.objects.delete(auth, "_Audience", object_id)


def _with_query(record: Record) -> Record:
    """An audience as Parse answers it: its `query`, stored as JSON text, as the object it holds."""
    query = record.get("query")
    if isinstance(query, str):
        try:
            return {**record, "query": json.loads(query)}
        except ValueError:
            return record
    return record
