"""The legacy `graphql-ws` protocol (subscriptions-transport-ws): its messages, where errors are messages too.

Keys that do not pass get a `connection_error` and the socket stays open; an operation before `connection_init`
gets an `error`. The protocol has no code for a session that ended: each running operation first gets an
`error` (code 209, "Invalid session token"), then the socket closes with graphql-transport-ws's 4403. The server
sends `ka` (keep alive) after the acknowledgement and every 15 seconds.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from app.errors import AppError, InvalidSessionTokenError
from app.transport.graphql.ws_connection import SESSION_ENDED, Close, Connection

PROTOCOL = "graphql-ws"
_KEEP_ALIVE = 15.0  # seconds between `ka` messages


class LegacyWsConnection(Connection):
    result_type = "data"

    async def handle(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "connection_init":
            await self.init(message.get("payload"))
        elif kind == "start":
            await self.subscribe(message)
        elif kind == "stop":
            self.stop(message.get("id"))
        elif kind == "connection_terminate":
            await self.socket.close(1000, "")
        else:
            raise Close(4400, f"Unexpected message type {kind}")

    def timers(self) -> list[asyncio.Task[None]]:
        return [asyncio.get_running_loop().create_task(self._keep_alive())]

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(_KEEP_ALIVE)
            if self.auth is not None:
                self.socket.send('{"type":"ka"}')

    async def refuse_init(self, error: AppError, message: str) -> None:
        self.socket.send(orjson.dumps({"type": "connection_error", "payload": {"message": message}}).decode())

    def acknowledge(self) -> None:
        self.socket.send('{"type":"connection_ack"}')
        self.socket.send('{"type":"ka"}')

    def uninitialised(self, op_id: Any) -> None:
        self.send_error(op_id, [{"message": "Not initialised: send connection_init first."}])

    def refuse_ended(self, op_id: str) -> None:
        self.send_error(op_id, [{"message": SESSION_ENDED, "extensions": {"code": InvalidSessionTokenError.code}}])

    def error_payload(self, errors: list[dict[str, Any]]) -> Any:
        return errors[0]
