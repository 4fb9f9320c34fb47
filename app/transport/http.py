"""What every HTTP transport shares: Parse's CORS headers, JSON and error bodies, credentials from headers,
bounded request bodies, the public address of `/parse`, and the cancelling of reads their client abandoned."""

from __future__ import annotations

import asyncio
import base64
import logging
from types import TracebackType
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from app.errors import AppError, InvalidJSONError, PayloadTooLargeError, RateLimitedError
from app.settings import Settings
from app.transport.callers import Credentials
from app.transport.wire import dump_json, parse_json

log = logging.getLogger("app.http")

PARSE_MOUNT = "/parse"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET,PUT,POST,DELETE,OPTIONS",
    "Access-Control-Allow-Headers": (
        "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
        "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
        "X-Parse-Request-Id, Content-Type, Pragma, Cache-Control"
    ),
    # Beyond Parse: the list names itself, so that a browser page on another origin (Parse Dashboard served apart
    # from the server) may read it; the JS SDK reads the push and job status ids through it.
    "Access-Control-Expose-Headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id, Access-Control-Expose-Headers",
}
JSON_TYPE = "application/json; charset=utf-8"


class CorsPolicy:
    """Parse's `allowOrigin` and `allowHeaders`: the CORS headers every response carries, rewritten for the request
    (its `Origin` echoed when listed) on the way out, so each endpoint keeps sending the defaults above."""

    def __init__(self, origins: list[str], headers: list[str]) -> None:
        self.origins = [origin.encode("latin-1") for origin in origins] or [b"*"]
        allowed = CORS_HEADERS["Access-Control-Allow-Headers"] + "".join(f", {header}" for header in headers)
        self.allowed_headers = allowed.encode("latin-1")

    @classmethod
    def of(cls, settings: Settings) -> CorsPolicy | None:
        """The policy the settings ask for; None for Parse's defaults (any origin, the default headers), which
        every response already carries."""
        if settings.allow_origin == ["*"] and not settings.allow_headers:
            return None
        return cls(settings.allow_origin, settings.allow_headers)

    def wrap(self, scope: Scope, send: Send) -> Send:
        origin = next((value for name, value in scope["headers"] if name == b"origin"), None)
        allowed_origin = origin if origin is not None and origin in self.origins else self.origins[0]

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() not in (b"access-control-allow-origin", b"access-control-allow-headers")
                ]
                headers.append((b"access-control-allow-origin", allowed_origin))
                headers.append((b"access-control-allow-headers", self.allowed_headers))
                if origin is not None and self.origins != [b"*"]:
                    headers.append((b"vary", b"Origin"))  # caches must not serve one origin's answer to another
                message = {**message, "headers": headers}
            await send(message)

        return sending


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump_json(body), status, {**CORS_HEADERS, **(headers or {})}, JSON_TYPE)


NO_ROUTE_CODE = 107
"""Parse's code for a request it cannot route (its router's `cannot route …`, which `/batch` answers too)."""


def route_not_found(method: str, path: str, status: int = 404) -> Response:
    """A request no route takes: Parse's status (Express's 404), as JSON with Parse's code where Express answers
    an HTML page, so that a client reading JSON reads why."""
    return json_response({"code": NO_ROUTE_CODE, "error": f"Cannot {method} {path}"}, status)


def error_response(error: AppError) -> Response:
    if error.detail:
        log.info("refused: %s", error.detail)
    if error.code is None:
        return json_response({"error": error.message}, error.status)
    # A 503 is temporary, and a rate limit ends: say when to come back.
    headers = {"Retry-After": "1"} if error.status == 503 else None
    if isinstance(error, RateLimitedError):
        headers = error.headers
    return json_response({"code": error.code, "error": error.message}, error.status, headers)


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    """`Authorization: Basic base64(appId:masterKey)`, which Parse accepts instead of the key headers."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    app_id, separator, key = decoded.partition(":")
    return (app_id, key) if separator else None


def header_credentials(headers: Headers) -> Credentials:
    """The keys and token a client sent in headers (or as HTTP basic auth, which Parse also reads)."""
    credentials = Credentials(
        app_id=headers.get("x-parse-application-id"),
        master_key=headers.get("x-parse-master-key"),
        maintenance_key=headers.get("x-parse-maintenance-key"),
        session_token=headers.get("x-parse-session-token"),
        installation_id=headers.get("x-parse-installation-id"),
        client_version=headers.get("x-parse-client-version"),
        headers=headers,
    )
    basic = _basic_auth(headers.get("authorization"))
    if basic is not None:
        credentials.app_id = basic[0]
        if not basic[1].startswith("javascript-key="):
            credentials.master_key = basic[1] or credentials.master_key
    context = headers.get("x-parse-cloud-context")
    if context is not None:
        try:
            credentials.context = parse_json(context)
        except ValueError:
            credentials.context = None  # type: ignore[assignment]
        if not isinstance(credentials.context, dict):
            raise InvalidJSONError("Invalid object for context.")
    return credentials


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLargeError("request entity too large")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError("request entity too large")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_mount_url(request: HTTPConnection, settings: Settings) -> str:
    """Where clients reach `/parse`: the configured public URL, or the address this request (or
    websocket) came to."""
    if settings.server_url:
        return settings.public_url
    scheme = {"ws": "http", "wss": "https"}.get(request.url.scheme, request.url.scheme)
    return f"{scheme}://{request.url.netloc}{PARSE_MOUNT}"


class ClientGone(Exception):
    """The client disconnected before its answer, and the read it asked for was cancelled."""


# A client that went away gets no answer; this status only names the case in logs and tests.
CLIENT_GONE_STATUS = 499
# Most reads answer sooner than this; only longer ones get a task watching their client.
_WATCH_AFTER = 0.05


class AbandonedReads:
    """Cancels a read whose client disconnects before its answer (`ClientGone` is then raised).

    The rule: only requests that only read come here. A read abandoned half-way leaves nothing behind: no
    further database command is sent, the running one is abandoned (pymongo closes its connection, and the
    query time limit bounds what the database still does). A write is never cancelled: it runs to its end
    whether or not anyone waits, so a client that disconnects finds it done whole or not at all, and an
    acknowledged write is never undone. The request's body must have been read: `receive` then only
    reports the disconnect.

    Reads in flight are kept in a set, and one timer, running while there are any, gives each read still
    running after `_WATCH_AFTER` seconds a task that waits for its client's disconnect: a read pays for a set
    entry (about a microsecond), not a timer of its own (several).
    """

    def __init__(self) -> None:
        self.running: set[_Watched] = set()
        self._sweeper: asyncio.TimerHandle | None = None

    def watch(self, receive: Receive) -> _Watched:
        """`async with reads.watch(request.receive):` the block, cancelled if the client goes away."""
        return _Watched(self, receive)

    def _sweep(self) -> None:
        self._sweeper = None
        loop = asyncio.get_running_loop()
        due = loop.time() - _WATCH_AFTER
        for watched in self.running:
            if watched.watcher is None and watched.started <= due:
                watched.watcher = loop.create_task(watched.wait_for_disconnect())
        if self.running:
            self._sweeper = loop.call_later(_WATCH_AFTER, self._sweep)


class _Watched:
    __slots__ = ("armed", "fired", "reads", "receive", "started", "task", "watcher")

    def __init__(self, reads: AbandonedReads, receive: Receive) -> None:
        self.reads, self.receive = reads, receive
        self.armed, self.fired = True, False
        self.watcher: asyncio.Task[None] | None = None

    async def __aenter__(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        self.task, self.started = task, loop.time()
        reads = self.reads
        reads.running.add(self)
        if reads._sweeper is None:
            reads._sweeper = loop.call_later(_WATCH_AFTER, reads._sweep)

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.armed = False
        self.reads.running.discard(self)
        if self.watcher is not None:
            self.watcher.cancel()
        if not self.fired:
            return
        # Our cancellation: taken back; the block's answer (if it swallowed the cancellation) goes nowhere.
        if self.task.uncancel() == 0 and kind is asyncio.CancelledError:
            raise ClientGone from None

    async def wait_for_disconnect(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        if self.armed:
            self.fired = True
            self.task.cancel()


class HttpEndpoint:
    """An ASGI app that answers each HTTP request with `handle`: the shape of every endpoint under /parse."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.handle(Request(scope, receive))
        except ClientDisconnect:
            return  # the client left (or was too slow) before its body was read: no one to answer
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        raise NotImplementedError
