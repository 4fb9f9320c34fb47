"""A websocket that sends from a bounded queue, so a slow client never slows the server or grows it.

Events are queued without waiting and sent by one task per socket. A client that stops reading
fills its queue; the socket is then closed (1013, try again later) and its queue dropped, instead of
holding memory for it or making the writer wait. Every open socket is known here, so a shutdown can
close them all with 1001 (going away) before the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

log = logging.getLogger("app.sockets")

Outgoing = str | tuple[str, "asyncio.Future[str]", str] | Callable[[], Awaitable[str | None]]
"""A message; or its head, a body being rendered (shared by many sockets) and its tail; or a coroutine
function that renders it when its turn comes (None: nothing to send)."""

GOING_AWAY = 1001
TRY_AGAIN_LATER = 1013

_open: set[QueuedSocket] = set()


class QueuedSocket:
    def __init__(self, websocket: WebSocket, *, max_queue: int) -> None:
        self.websocket = websocket
        self.max_queue = max_queue
        self._pending: deque[Outgoing] = deque()
        # Runs only while there is something to send: an idle socket holds no task.
        self._sender: asyncio.Task[None] | None = None
        self.closed = False
        self.close_code: int | None = None
        self._closing = False

    def send(self, message: Outgoing) -> None:
        """Queue a message; a client too far behind is disconnected rather than waited for."""
        if self.closed:
            return
        if len(self._pending) >= self.max_queue:
            log.warning("closing a websocket whose client fell %d messages behind", self.max_queue)
            self._pending.clear()
            asyncio.get_running_loop().create_task(self.close(TRY_AGAIN_LATER, "client too slow; reconnect"))
            return
        self._pending.append(message)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._flush())

    async def serve(self, receive: Callable[[Any], Awaitable[None]]) -> None:
        """Run the connection: each received text message goes to `receive` in order, until either
        side closes. Only the protocol's messages arrive here; decoding them is the caller's."""
        _open.add(self)
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None and message.get("bytes") is not None:
                    text = message["bytes"].decode("utf-8", "replace")
                await receive(text)
                if self.closed:
                    break
        except WebSocketDisconnect:
            pass
        finally:
            _open.discard(self)
            self.closed = True
            self._pending.clear()
            sender = self._sender
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sender

    async def close(self, code: int, reason: str = "") -> None:
        if self.closed:
            return
        self.closed = True
        self.close_code = code
        self._pending.clear()
        if self._sender is not None and self._sender is not asyncio.current_task():
            self._sender.cancel()
        if self.websocket.application_state == WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await self.websocket.close(code, reason)

    def close_soon(self, code: int, reason: str = "") -> None:
        """Close once every message queued before has been sent (for callers that cannot wait)."""
        if self.closed or self._closing:
            return
        self._closing = True

        async def closing() -> None:
            await self.close(code, reason)

        self.send(closing)

    async def _flush(self) -> None:
        try:
            while self._pending:
                text = await self._render(self._pending.popleft())
                if text is None:
                    continue
                try:
                    await self.websocket.send({"type": "websocket.send", "text": text})
                except Exception:
                    # The client is gone; the receive side ends the connection. Send nothing more.
                    self.closed = True
                    self._pending.clear()
                    return
        finally:
            self._sender = None

    @staticmethod
    async def _render(message: Outgoing) -> str | None:
        try:
            if isinstance(message, str):
                return message
            if isinstance(message, tuple):
                head, body, tail = message
                # Shielded: this socket closing must not cancel a rendering other sockets wait for.
                return head + await asyncio.shield(body) + tail
            return await message()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("rendering a websocket message failed")
            return None


async def close_all(code: int = GOING_AWAY, reason: str = "server shutting down") -> None:
    """Close every open socket of this process (graceful shutdown)."""
    await asyncio.gather(*(socket.close(code, reason) for socket in list(_open)), return_exceptions=True)


def open_count() -> int:
    return len(_open)
