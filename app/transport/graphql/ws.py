"""GraphQL over a websocket at `/graphql`: the handshake picks the protocol, `graphql-transport-ws`
(`ws_transport.py`) or the legacy `graphql-ws` (`ws_legacy.py`); both run on `ws_connection.py`'s core and the
executor the HTTP endpoint uses (`execution.py`)."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from app.transport.graphql import ws_legacy, ws_transport
from app.transport.graphql.execution import Executor
from app.transport.graphql.ws_connection import Connection

_PROTOCOLS: dict[str, type[Connection]] = {
    ws_transport.PROTOCOL: ws_transport.TransportWsConnection,
    ws_legacy.PROTOCOL: ws_legacy.LegacyWsConnection,
}


class GraphQLSockets:
    """The ASGI app for websockets at /graphql."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
        protocol = next((p for p in offered if p in _PROTOCOLS), None)
        if protocol is None:
            await websocket.accept()
            await websocket.close(4406, "Subprotocol not acceptable")
            return
        await websocket.accept(subprotocol=protocol)
        await _PROTOCOLS[protocol](self.executor, websocket).run()
