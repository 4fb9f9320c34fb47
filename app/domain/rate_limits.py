"""Rate limits as Parse Server's `rateLimit` option sets them: rules of a path pattern, methods, a window and a count.

Each rule counts the requests that match it in fixed windows: a caller's window opens at their first request and
lasts `requestTimeWindow` milliseconds; past `requestCount` requests in it, each is refused (429, code 100, the
rule's message) until it closes. Who "a caller" is, is the rule's zone: the client's address (`ip`, the default),
the session token (`session`) or its user (`user`), both falling back to the address without a token, or the whole
app (`global`).

Spared, as in Parse: the master key (read-only too) unless the rule has `includeMasterKey`, and requests from the
server's own machine (a loopback address: what Parse calls internal, cloud code calling its server over HTTP)
unless it has `includeInternalRequests`. A `/batch` counts as one request to `/batch`, and each sub-request counts
toward the rules its own path matches; one over a limit fails the whole batch (400, code 100) before any runs.
A request is counted once its keys are known and before its session token is checked (a flood of bad tokens is
counted too), and GraphQL's HTTP requests under the path `/graphql`.

A cloud code validator's `rate_limit` is a rule of its own (`CloudLimit`), checked where its handler runs rather
than by path, so that a function called through GraphQL or a batch counts as one called at `/functions/<name>`.

Counts live in this process (`InProcessCounter`: windows dropped as they close, a bounded number of callers), or in
Redis when the rule or the server names one, so that instances behind one load balancer share them; the Redis
counter is a sibling in `app/storage/`. A counter that cannot be reached counts nothing: requests pass, as in
Parse, and the outage is logged.

Where ParseQL differs on purpose: `requestMethods` also holds with `includeMasterKey` (Parse then counts every
method); each rule counts on its own in Redis (Parse's rules share one key per caller there); any loopback
address is internal (Parse compares the text `127.0.0.1`, so `::1` and `::ffff:127.0.0.1` are not).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from app.domain.access import spared_by_rate_limits
from app.domain.acl import Auth
from app.domain.route_patterns import RoutePattern, RoutePatternError
from app.errors import AppError, RateLimitedError

Zone = Literal["global", "ip", "user", "session"]
ZONES: tuple[Zone, ...] = ("global", "ip", "user", "session")
DEFAULT_MESSAGE = "Too many requests."
# Each option under Parse's name and its snake_case twin (parseql.toml's spelling).
_OPTIONS = {
    "requestPath": "request_path",
    "requestTimeWindow": "request_time_window",
    "requestCount": "request_count",
    "errorResponseMessage": "error_response_message",
    "requestMethods": "request_methods",
    "includeMasterKey": "include_master_key",
    "includeInternalRequests": "include_internal_requests",
    "redisUrl": "redis_url",
    "zone": "zone",
}
_NAMES = {**{name: name for name in _OPTIONS}, **{snake: camel for camel, snake in _OPTIONS.items()}}


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    """One rule, checked: what it matches, how many requests a window allows, and whom it spares."""

    path: RoutePattern
    window_ms: int
    count: int
    message: str = DEFAULT_MESSAGE
    methods: tuple[str, ...] | re.Pattern[str] | None = None
    """A list of methods, or a regular expression a method must contain a match of; None: every method."""
    include_master_key: bool = False
    include_internal_requests: bool = False
    zone: Zone = "ip"
    redis_url: str | None = None
    key: str = ""
    """Names the rule's counts: the same rule on every instance, a different one for a changed rule."""

    def applies_to(self, paths: Sequence[str], methods: Sequence[str]) -> bool:
        if not any(self.path.matches(path) for path in paths):
            return False
        if self.methods is None:
            return True
        if isinstance(self.methods, tuple):
            return any(method in self.methods for method in methods)
        return any(self.methods.search(method) for method in methods)


def _number(rule: Mapping[str, Any], name: str, where: str) -> float:
    value = rule.get(name)
    if value is None:
        raise ValueError(f"{where}: {name} must be defined")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: {name} must be a number")
    return float(value)


def _rule(raw: Any, index: int, default_redis_url: str | None) -> RateLimitRule:
    where = f"rule {index + 1}"
    if not isinstance(raw, Mapping):
        raise ValueError(f"{where}: expected a table of options (requestPath, requestTimeWindow, requestCount, …)")
    rule: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in _NAMES:
            raise ValueError(f"{where}: unknown option {name!r}; the options are {', '.join(_OPTIONS)}")
        rule[_NAMES[name]] = value
    path = rule.get("requestPath")
    if path is None:
        raise ValueError(f"{where}: requestPath must be defined")
    if not isinstance(path, str):
        raise ValueError(f"{where}: requestPath must be a string")
    try:
        pattern = RoutePattern.compile(path)
    except RoutePatternError as error:
        raise ValueError(f'{where}: requestPath "{path}" is not valid: {error}') from None
    window = _number(rule, "requestTimeWindow", where)
    if window <= 0:
        raise ValueError(f"{where}: requestTimeWindow must be more than 0 (milliseconds)")
    count = _number(rule, "requestCount", where)
    if count < 0:
        raise ValueError(f"{where}: requestCount must be 0 or more")
    message = rule.get("errorResponseMessage") or DEFAULT_MESSAGE
    if not isinstance(message, str):
        raise ValueError(f"{where}: errorResponseMessage must be a string")
    flags = {}
    for name in ("includeMasterKey", "includeInternalRequests"):
        flag = rule.get(name, False)
        if not isinstance(flag, bool):
            raise ValueError(f"{where}: {name} must be a boolean")
        flags[name] = flag
    zone = rule.get("zone") or "ip"
    if zone not in ZONES:
        raise ValueError(f"{where}: zone must be one of global, ip, user or session")
    redis_url = rule.get("redisUrl") or default_redis_url
    if redis_url is not None and not (isinstance(redis_url, str) and redis_url.startswith(_REDIS_SCHEMES)):
        raise ValueError(f"{where}: redisUrl must be a redis://, rediss:// or unix:// URL")
    identity = json.dumps([path, window, count, rule.get("requestMethods"), zone, index], default=str)
    return RateLimitRule(
        path=pattern,
        window_ms=math.ceil(window),
        count=math.floor(count),
        message=message,
        methods=_methods(rule.get("requestMethods"), where),
        include_master_key=flags["includeMasterKey"],
        include_internal_requests=flags["includeInternalRequests"],
        zone=zone,
        redis_url=redis_url,
        key=hashlib.sha256(identity.encode()).hexdigest()[:16],
    )


_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def _methods(value: Any, where: str) -> tuple[str, ...] | re.Pattern[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return re.compile(value)
        except re.error as error:
            raise ValueError(f"{where}: requestMethods is not a regular expression: {error}") from None
    if isinstance(value, list) and all(isinstance(method, str) for method in value):
        return tuple(method.upper() for method in value)
    raise ValueError(f"{where}: requestMethods must be a list of methods (or a regular expression)")


def parse_rules(value: Any, default_redis_url: str | None = None) -> tuple[RateLimitRule, ...]:
    """Rules from Parse's `rateLimit` option as given (one table, or a list of them), checked: a `ValueError` says
    which rule and what is wrong. `default_redis_url` counts in Redis the rules that name none."""
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from None
    rules = [value] if isinstance(value, Mapping) else value
    if not isinstance(rules, list):
        raise ValueError("expected a list of rules (or one rule), each a table of options")
    return tuple(_rule(raw, index, default_redis_url) for index, raw in enumerate(rules))


@dataclass(frozen=True, slots=True)
class Window:
    """A caller's window under one rule, after counting a request: how many it holds, and when it closes."""

    count: int
    closes_at: float
    """Seconds since the epoch."""


class RateCounter(Protocol):
    """Counts requests in fixed windows, by key; None when the count cannot be had (the request then passes)."""

    async def hit(self, key: str, window_ms: int) -> Window | None: ...

    async def close(self) -> None: ...


class InProcessCounter:
    """Fixed windows in this process's memory.

    The windows of one length close in the order they opened, so each length keeps its keys in an ordered dict, the
    oldest first: closed windows are dropped from its front as requests come, and beyond `max_keys` callers in one
    length the oldest window is dropped early (its caller starts afresh: bounded memory over exact counts for a
    flood of addresses).
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self.max_keys = max_keys
        self._windows: dict[int, OrderedDict[str, list[float]]] = {}

    async def hit(self, key: str, window_ms: int) -> Window:
        now = time.monotonic()
        windows = self._windows.setdefault(window_ms, OrderedDict())
        while windows:
            oldest = next(iter(windows.values()))
            if oldest[1] > now:
                break
            windows.popitem(last=False)
        entry = windows.get(key)
        if entry is None:
            entry = windows[key] = [0, now + window_ms / 1000]
            if len(windows) > self.max_keys:
                windows.popitem(last=False)
        entry[0] += 1
        return Window(int(entry[0]), time.time() + entry[1] - now)

    def size(self) -> int:
        """Windows held, for tests of the bound."""
        return sum(len(windows) for windows in self._windows.values())

    async def close(self) -> None:
        self._windows.clear()


@dataclass(frozen=True, slots=True)
class Quota:
    """What a rule leaves a caller, for the `X-RateLimit-*` headers Parse sends."""

    limit: int
    remaining: int
    resets_at: float
    over: bool = False
    """The request that took this count was one too many."""

    def headers(self, refused: bool = False) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.resets_at)),
        }
        if refused:
            headers["Retry-After"] = str(max(1, math.ceil(self.resets_at - time.time())))
        return headers


@dataclass(frozen=True, slots=True)
class LimitedRequest:
    """What the rules look at in one request (or one sub-request of a batch)."""

    paths: tuple[str, ...]
    """The path under the mount (`/classes/Note`); GraphQL's are `/graphql`, as Parse documents, and `/`, which is
    what Parse 9.10 compares in fact."""
    method: str
    client_ip: str | None
    session_token: str | None = None
    in_batch: bool = False
    """A sub-request: a rule for POST (the batch's method) matches it too, as in Parse."""


@functools.lru_cache(maxsize=4096)
def _is_loopback(ip: str | None) -> bool:
    # Remembered, as the key addresses are: parsing an address costs more than the lookup.
    if ip is None:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class RateLimiter:
    """The server's rules and their counters; `require_allowed` before a request runs."""

    def __init__(self, app_id: str, rules: Sequence[RateLimitRule], counters: dict[str | None, RateCounter]):
        self.app_id = app_id
        self.rules = tuple(rules)
        self.counters = counters
        """By Redis URL; None for this process's."""

    async def require_allowed(
        self, auth: Auth, request: LimitedRequest, user_id: Callable[[], Awaitable[str | None]]
    ) -> Quota | None:
        """Count the request under every rule it falls under; `RateLimitedError` when one is over its count (a
        batch's sub-request: an `AppError` with code 100, which fails the batch with 400). Returns what the
        tightest rule leaves, for the response's headers; None when no rule counted it. `user_id` resolves the
        session, for rules by user."""
        if not self.rules:
            return None
        methods = (request.method, "POST") if request.in_batch else (request.method,)
        internal = _is_loopback(request.client_ip)
        spared = spared_by_rate_limits(auth)
        tightest: Quota | None = None
        refused: tuple[RateLimitRule, Quota] | None = None
        for rule in self.rules:
            if internal and not rule.include_internal_requests:
                continue
            if spared and not rule.include_master_key:
                continue
            if not rule.applies_to(request.paths, methods):
                continue
            quota = await self.count(rule, await self._caller(rule, request, user_id))
            if quota is None:
                continue
            if tightest is None or quota.remaining < tightest.remaining:
                tightest = quota
            if quota.over and refused is None:
                refused = (rule, quota)
        if refused is not None:
            rule, quota = refused
            if request.in_batch:
                raise AppError(rule.message, code=100)
            raise RateLimitedError(rule.message, quota.headers(refused=True))
        return tightest

    async def count(self, rule: RateLimitRule, caller: str) -> Quota | None:
        """One more request of `caller` under `rule`: what the rule leaves them; None when it cannot be counted."""
        window = await self.counters[rule.redis_url].hit(f"{rule.key}:{caller}", rule.window_ms)
        if window is None:
            return None
        return Quota(rule.count, max(0, rule.count - window.count), window.closes_at, window.count > rule.count)

    async def _caller(
        self, rule: RateLimitRule, request: LimitedRequest, user_id: Callable[[], Awaitable[str | None]]
    ) -> str:
        if rule.zone == "global":
            return f"app:{self.app_id}"
        token = request.session_token
        if rule.zone == "session" and token:
            return f"session:{token}"
        if rule.zone == "user" and token:
            user = await user_id()
            if user:
                return f"user:{user}"
        return f"ip:{request.client_ip}"

    async def close(self) -> None:
        for counter in self.counters.values():
            await counter.close()


def cloud_rule(limit: Any, name: str, default_redis_url: str | None = None) -> RateLimitRule:
    """A cloud code validator's `rate_limit`: `(count, seconds)` per user (else per address), or Parse's `rateLimit`
    options (its zones and flags; a path is not needed, the handler is what is limited)."""
    if isinstance(limit, tuple | list) and len(limit) == 2:
        count, seconds = limit
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise ValueError(f"{name}: rate_limit's window must be a number of seconds")
        # ParseQL's own spelling, older than this module: every caller but the master key, wherever from.
        limit = {"requestCount": count, "requestTimeWindow": seconds * 1000, "zone": "user"}
        limit["includeInternalRequests"] = True
    if not isinstance(limit, Mapping):
        raise ValueError(f"{name}: rate_limit must be (count, seconds) or a table of Parse's rateLimit options")
    options = {**limit, "requestPath": f"/cloud/{name}"}
    options.pop("request_path", None)
    try:
        return parse_rules([options], default_redis_url)[0]
    except ValueError as error:
        raise ValueError(f"{name}: {str(error).removeprefix('rule 1: ')}") from None


@dataclass(frozen=True, slots=True)
class CloudLimit:
    """A cloud validator's rate limit, checked where its handler runs, so that it holds whichever way the handler is
    reached (REST, GraphQL, a batch). Spared as a request is: the master key unless the rule includes it, and
    calls from the server itself (cloud code calling its own functions) unless it includes those. A hook sees the
    user, not the token, so the `session` zone counts by user here."""

    limiter: RateLimiter
    rule: RateLimitRule

    async def require_allowed(self, *, master: bool, ip: str | None, user_id: str | None) -> None:
        rule = self.rule
        if master and not rule.include_master_key:
            return
        if (ip is None or _is_loopback(ip)) and not rule.include_internal_requests:
            return
        if rule.zone == "global":
            caller = f"app:{self.limiter.app_id}"
        elif rule.zone in ("user", "session") and user_id:
            caller = f"user:{user_id}"
        else:
            caller = f"ip:{ip}"
        quota = await self.limiter.count(rule, caller)
        if quota is not None and quota.over:
            raise RateLimitedError(rule.message, quota.headers(refused=True))
