"""Websocket clients for tests, speaking the protocols as the SDKs do: Parse LiveQuery and GraphQL over ws."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from tests.conftest import APP_ID, MASTER_KEY

QUIET = 0.3  # seconds of silence that mean "nothing more is coming"
WAIT = 5.0  # seconds to wait for a message that must come


class Socket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: Any) -> None:
        await self.connection.send(message if isinstance(message, str) else json.dumps(message))

    async def next(self) -> dict[str, Any]:
        """The next message; fails the test if none comes within WAIT seconds."""
        return dict(json.loads(await asyncio.wait_for(self.connection.recv(), WAIT)))

    async def drain(self, quiet: float = QUIET) -> list[dict[str, Any]]:
        """Every message until the socket is quiet for `quiet` seconds."""
        messages = []
        try:
            while True:
                messages.append(json.loads(await asyncio.wait_for(self.connection.recv(), quiet)))
        except TimeoutError:
            return messages

    async def closed_with(self) -> tuple[int | None, str]:
        """Wait (up to WAIT seconds a message) for the server to close the socket; its code and reason."""
        try:
            while True:
                await asyncio.wait_for(self.connection.recv(), WAIT)
        except websockets.ConnectionClosed as closed:
            received = closed.rcvd
            return (received.code, received.reason) if received else (None, "")


@asynccontextmanager
async def open_socket(url: str, subprotocols: list[str] | None = None) -> AsyncIterator[Socket]:
    async with websockets.connect(url, subprotocols=subprotocols, open_timeout=WAIT) as connection:  # type: ignore[arg-type]
        yield Socket(connection)


class LiveQuery(Socket):
    """A Parse LiveQuery client: connect, subscribe by requestId, read events."""

    async def connect(self, *, token: str | None = None, master: bool = False, **extra: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"op": "connect", "applicationId": APP_ID, **extra}
        if token:
            message["sessionToken"] = token
        if master:
            message["masterKey"] = MASTER_KEY
        await self.send(message)
        return await self.next()

    async def subscribe(
        self, request_id: int, class_name: str, where: dict[str, Any] | None = None, **query: Any
    ) -> dict[str, Any]:
        token = query.pop("session_token", None)
        message: dict[str, Any] = {
            "op": "subscribe",
            "requestId": request_id,
            "query": {"className": class_name, "where": where or {}, **query},
        }
        if token:
            message["sessionToken"] = token
        await self.send(message)
        return await self.next()


@asynccontextmanager
async def live_query(
    address: str, headers: dict[str, str] | None = None, path: str = "/parse", **connect: Any
) -> AsyncIterator[LiveQuery]:
    """A LiveQuery client at `path`, connected (and its `connected` message checked); `headers` go with the
    handshake."""
    url = f"ws://{address}{path}"
    async with websockets.connect(url, additional_headers=headers, open_timeout=WAIT) as connection:
        client = LiveQuery(connection)
        answer = await client.connect(**connect)
        assert answer["op"] == "connected", answer
        yield client


class GraphQLSocket(Socket):
    """graphql-transport-ws (or, with `legacy`, subscriptions-transport-ws's graphql-ws)."""

    legacy = False

    async def init(self, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        await self.send({"type": "connection_init", "payload": payload or {}})
        return await self.next()

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"id": op_id, "type": "start" if self.legacy else "subscribe", "payload": payload})

    async def complete(self, op_id: str) -> None:
        await self.send({"id": op_id, "type": "stop" if self.legacy else "complete"})

    async def data(self) -> tuple[str, Any]:
        """The next result (skipping keep-alives): its operation id and `data`."""
        while True:
            message = await self.next()
            if message["type"] == "ka":
                continue
            assert message["type"] == ("data" if self.legacy else "next"), message
            assert "errors" not in message["payload"], message
            return message["id"], message["payload"]["data"]

    async def results(self, quiet: float = QUIET) -> list[tuple[str, Any]]:
        return [
            (message["id"], message["payload"].get("data"))
            for message in await self.drain(quiet)
            if message["type"] in ("next", "data")
        ]


def master_init() -> dict[str, Any]:
    return {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}


def user_init(token: str | None = None) -> dict[str, Any]:
    payload = {"X-Parse-Application-Id": APP_ID}
    if token:
        payload["X-Parse-Session-Token"] = token
    return payload


@asynccontextmanager
async def graphql_socket(
    address: str, init: dict[str, Any] | None = None, *, legacy: bool = False, headers: dict[str, str] | None = None
) -> AsyncIterator[GraphQLSocket]:
    """A GraphQL websocket, initialised (and acknowledged) with `init` (the master key by default); `headers` go
    with the handshake."""
    protocol = "graphql-ws" if legacy else "graphql-transport-ws"
    async with websockets.connect(
        f"ws://{address}/graphql",
        subprotocols=[protocol],  # type: ignore[list-item]
        additional_headers=headers,
        open_timeout=WAIT,
    ) as connection:
        client = GraphQLSocket(connection)
        client.legacy = legacy
        ack = await client.init(init if init is not None else master_init())
        assert ack["type"] == "connection_ack", ack
        yield client
