"""The REST route table and its dispatcher, shared by HTTP requests and `/batch` sub-requests."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from app.domain.acl import Auth
from app.domain.encoding import Encoder
from app.errors import AppError
from app.transport.callers import Credentials, Services


@dataclass(slots=True)
class RestCall:
    """One REST request, whichever way it arrived: parsed, authenticated, ready for a handler."""

    method: str
    path: str
    params: dict[str, str]
    query: dict[str, Any]
    body: Any
    auth: Auth
    services: Services
    credentials: Credentials
    mount: str
    encoder: Encoder

    def json_body(self) -> dict[str, Any]:
        if self.body is None:
            return {}
        if isinstance(self.body, list):
            # Parse reads an array as an object keyed "0", "1"…, which then fail as field names.
            return {str(index): item for index, item in enumerate(self.body)}
        if not isinstance(self.body, dict):
            raise AppError("The request body must be a JSON object.", code=107)
        return self.body


@dataclass(slots=True)
class RestResponse:
    body: Any
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RestCall], Awaitable[RestResponse]]


class RouteNotFound(Exception):
    """No route matches; HTTP answers Express's 404 page, batch answers code 107."""


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    idempotent: bool = False
    """Whether an HTTP request here runs once per `X-Parse-Request-Id` on the configured paths: the routes Parse
    Server deduplicates, POST and PUT of `/classes`, `/users` and `/installations`, `/functions/:name` and
    `/jobs/:name`; `/batch` sub-requests never are."""
    regex: re.Pattern[str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        # `/classes/:className/:objectId` style, as Parse's routers write them.
        regex = re.sub(r":(\w+)", r"(?P<\1>[^/]+)", self.pattern)
        object.__setattr__(self, "regex", re.compile(f"^{regex}/?$"))


class Router:
    def __init__(self, routes: list[Route]) -> None:
        self.routes = routes

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        for route in self.routes:
            if route.method != method:
                continue
            found = route.regex.match(path)
            if found:
                return route, found.groupdict()
        raise RouteNotFound(f"cannot route {method} {path}")
