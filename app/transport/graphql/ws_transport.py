"""The `graphql-transport-ws` protocol (graphql-ws, Apollo, urql): its messages and close codes.

Errors of the connection itself close it with the protocol's codes: 4401 for an operation before
`connection_init`, 4403 for keys that do not pass or a session that ended (Forbidden), 1013 (try again later,
which clients retry) when no database answers.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.errors import AppError, DatabaseUnavailableError
from app.transport.graphql.ws_connection import FORBIDDEN, Close, Connection
from app.transport.sockets import TRY_AGAIN_LATER

PROTOCOL = "graphql-transport-ws"


class TransportWsConnection(Connection):
    result_type = "next"

    async def handle(self, kind: str, message: dict[str, Any]) -> None:
        if kind == "connection_init":
            await self.init(message.get("payload"))
        elif kind == "ping":
            pong: dict[str, Any] = {"type": "pong"}
            if isinstance(message.get("payload"), dict):
                pong["payload"] = message["payload"]
            self.socket.send(orjson.dumps(pong).decode())
        elif kind == "pong":
            pass
        elif kind == "subscribe":
            await self.subscribe(message)
        elif kind == "complete":
            self.stop(message.get("id"))
        else:
            raise Close(4400, f"Unexpected message type {kind}")

    async def refuse_init(self, error: AppError, message: str) -> None:
        # No database: "try again later", which graphql-ws clients retry, rather than "forbidden".
        raise Close(TRY_AGAIN_LATER if isinstance(error, DatabaseUnavailableError) else FORBIDDEN, message)

    def acknowledge(self) -> None:
        self.socket.send('{"type":"connection_ack"}')

    def uninitialised(self, op_id: Any) -> None:
        raise Close(4401, "Unauthorized")

    def refuse_ended(self, op_id: str) -> None:
        pass  # the client learns it from the close code (4403) that follows

    def error_payload(self, errors: list[dict[str, Any]]) -> Any:
        return errors
