"""uvicorn's server, with websockets closed as "going away" (1001) before it stops, and an HTTP protocol that
gives clients a deadline for their request's headers and for each pause in its body.

uvicorn drops open websockets with 1012 (service restart) when it shuts down, before the app's
lifespan ends; closing them first with 1001 tells live query clients the server is leaving, so they
reconnect elsewhere instead of treating it as an error. (With `--workers` above 1, uvicorn's own
supervisor starts the workers and they close with its 1012; clients reconnect all the same.)

uvicorn bounds neither a connection that has sent no complete request yet (its keep-alive timeout starts
only after a first response, and stops at the first byte of the next request) nor a body that stops
half-way, so a client sending a byte now and then (slowloris) holds a connection for ever. `HttpProtocol`
adds both deadlines:

* headers: `header_timeout` seconds from the connection (or from the end of the previous response on a
  keep-alive connection) to the end of the request's headers; a websocket handshake is such a request;
* body: `body_timeout` seconds between two chunks of a body the app is waiting for (not while uvicorn
  has stopped reading because the app is busy).

Past either, the client is answered 408 (unless a response has started, or no request has begun: an idle
connection is closed without a word, as a keep-alive one is) and the connection is closed; an app still
reading the body reads a disconnect.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from typing import Any, cast

import uvicorn
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from app.settings import Settings
from app.transport.sockets import close_all

_TIMED_OUT = b"Request Timeout"


class Server(uvicorn.Server):
    banner: str | None = None
    """Printed once the app has started and listens: a server that cannot start never claims it runs."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.banner:
            print(self.banner, flush=True)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await close_all()
        await super().shutdown(sockets)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (httptools) with a deadline for headers and for pauses in a body.

    Nothing is done per request: a request pays one addition per packet (the bytes received so far). A tick
    per connection, every quarter of the shorter deadline, looks at uvicorn's state instead: a new request
    cycle since the last tick is activity; no request in flight means the client owes headers, since the first
    tick that saw it so; a request whose app still waits for body, with no byte since the last tick, is
    pausing. So a deadline is never met early, and at most half a deadline late.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        header_timeout: float,
        body_timeout: float,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.tick_every = min(header_timeout, body_timeout) / 4
        self.ticker: asyncio.TimerHandle | None = None
        self.received = 0
        # What the last tick saw: the request cycle, the bytes received, since when headers (or body) are owed.
        self.seen_cycle: Any = None
        self.seen_received = 0
        self.owed_since: float | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.owed_since = self.loop.time()
        self.ticker = self.loop.call_later(self.tick_every, self._tick)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
            self.ticker = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        super().data_received(data)

    def _tick(self) -> None:
        self.ticker = None
        transport = self.transport
        if transport.is_closing() or transport.get_protocol() is not self:  # closed, or now a websocket's
            return
        now, cycle = self.loop.time(), self.cycle
        if cycle is not self.seen_cycle:  # a request's headers arrived since the last tick
            self.seen_cycle, self.owed_since = cycle, None
        if cycle is None or cycle.response_complete:
            if self.pipeline:  # the next request's headers are in: it waits for its turn
                self.owed_since = None
            elif self.owed_since is None:
                self.owed_since = now
            elif now - self.owed_since >= self.header_timeout:
                self._headers_late()
                return
        elif cycle.more_body and not self.flow.read_paused:
            # The app may be waiting for body; uvicorn not reading (the app is busy) is not the client's pause.
            if self.owed_since is None or self.received != self.seen_received:
                self.owed_since = now
            elif now - self.owed_since >= self.body_timeout:
                self._body_late()
                return
        else:
            self.owed_since = None
        self.seen_received = self.received
        self.ticker = self.loop.call_later(self.tick_every, self._tick)

    def _headers_late(self) -> None:
        # uvicorn makes a new scope when a request's first bytes arrive, and hands it to the cycle at its headers.
        cycle, scope = self.cycle, self.scope
        if scope is not None and (cycle is None or scope is not cycle.scope):
            self._send_408()
        else:
            self.transport.close()  # no request begun: an idle connection is closed without a word

    def _body_late(self) -> None:
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()
        else:
            self._send_408()
        # The app, if it still reads the body, reads a disconnect (and answers no one).
        cycle.disconnected = True
        cycle.message_event.set()

    def _send_408(self) -> None:
        head = [b"HTTP/1.1 408 Request Timeout\r\n"]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(_TIMED_OUT)).encode("ascii") + b"\r\n",
            b"connection: close\r\n\r\n",
            _TIMED_OUT,
        ]
        self.transport.write(b"".join(head))
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What uvicorn is given besides the app and the address, by `parseql serve` (one process or several)
    and by the tests' servers alike."""
    return {
        "http": http_protocol(settings),
        "ws_ping_interval": settings.websocket_timeout,
        "ws_ping_timeout": settings.websocket_timeout,
        # No permessage-deflate, as Parse's LiveQuery server: each socket's zlib state took ~40 KB, and freeing
        # it as sockets came and went kept the process growing. Events are small JSON.
        "ws_per_message_deflate": False,
        "timeout_graceful_shutdown": 10,
    }


def http_protocol(settings: Settings) -> type[asyncio.Protocol]:
    """The HTTP protocol for uvicorn's `Config(http=…)`, with the settings' deadlines.

    A partial of a module-level class, so that uvicorn can pickle it to the processes of `--workers`;
    uvicorn only ever calls it as it would call a protocol class.
    """
    factory = functools.partial(
        HttpProtocol, header_timeout=settings.header_timeout, body_timeout=settings.body_timeout
    )
    return cast(type[asyncio.Protocol], factory)
