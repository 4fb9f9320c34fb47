"""GraphQL over a websocket at `/graphql`: the `graphql-transport-ws` protocol (graphql-ws, Apollo, urql) and the
legacy `graphql-ws` protocol (subscriptions-transport-ws).

A connection authenticates once, in `connection_init` (`X-Parse-Application-Id`, `X-Parse-Session-Token`,
`X-Parse-Master-Key`, or `applicationId`/`sessionToken`/`masterKey`, optionally under `headers`) or with
the handshake's headers. Queries and mutations answer once and complete. A subscription to
`<class>Events` sends each event the hub delivers, executed once per group of identical subscribers;
a live page (`<classes>`) sends the page, then the page again whenever a delivered event changes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import orjson
from graphql import DocumentNode, GraphQLError, GraphQLSchema, OperationDefinitionNode, OperationType
from graphql.execution import ExecutionContext
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from app.domain.acl import Auth
from app.domain.hooks import LiveHooks
from app.domain.live import Delivery, Subscription
from app.errors import AppError
from app.transport.context import Credentials, authenticate, file_encoder
from app.transport.graphql import translate
from app.transport.graphql.request import Context, keys_and_include, selected_paths
from app.transport.graphql.subscriptions import LiveField, event_payload
from app.transport.http import header_credentials, parse_mount_url
from app.transport.sockets import QueuedSocket
from app.transport.wire import parse_json

if TYPE_CHECKING:
    from app.transport.graphql.view import GraphQLEndpoint, Operation

log = logging.getLogger("app.graphql")

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
_INIT_TIMEOUT = 3.0  # seconds a client has to send connection_init (graphql-ws's default)
_KEEP_ALIVE = 15.0  # seconds between the legacy protocol's `ka` messages

_CREDENTIAL_KEYS = {
    "x-parse-application-id": "app_id",
    "applicationid": "app_id",
    "x-parse-master-key": "master_key",
    "masterkey": "master_key",
    "x-parse-session-token": "session_token",
    "sessiontoken": "session_token",
    "x-parse-installation-id": "installation_id",
    "installationid": "installation_id",
}


class _Close(Exception):
    """End the connection with a protocol close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


async def serve(endpoint: GraphQLEndpoint, scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    offered = [p.strip() for p in websocket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    protocol = next((p for p in offered if p in (TRANSPORT_WS, LEGACY_WS)), None)
    if protocol is None:
        await websocket.accept()
        await websocket.close(4406, "Subprotocol not acceptable")
        return
    await websocket.accept(subprotocol=protocol)
    connection = _Connection(endpoint, websocket, legacy=protocol == LEGACY_WS)
    await connection.run()


class _Connection:
    def __init__(self, endpoint: GraphQLEndpoint, websocket: WebSocket, *, legacy: bool) -> None:
        self.endpoint = endpoint
        self.services = endpoint.services
        settings = self.services.settings
        self.websocket = websocket
        self.legacy = legacy
        self.socket = QueuedSocket(websocket, max_queue=settings.live_query_queue_size)
        self.encoder = file_encoder(parse_mount_url(websocket, settings), settings.app_id)
        self.client_ip = websocket.client.host if websocket.client else None
        self.auth: Auth | None = None
        self.init_received = False
        self.operations: dict[str, _Running] = {}

    async def run(self) -> None:
        timers = [asyncio.get_running_loop().create_task(self._init_timeout())]
        if self.legacy:
            timers.append(asyncio.get_running_loop().create_task(self._keep_alive()))
        try:
            await self.socket.serve(self.receive)
        finally:
            for timer in timers:
                timer.cancel()
            for running in list(self.operations.values()):
                running.stop()
            self.operations.clear()

    async def _init_timeout(self) -> None:
        await asyncio.sleep(_INIT_TIMEOUT)
        if not self.init_received:
            await self.socket.close(4408, "Connection initialisation timeout")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(_KEEP_ALIVE)
            if self.auth is not None:
                self.socket.send('{"type":"ka"}')

    # Incoming -----------------------------------------------------------------------------------------

    async def receive(self, text: str | None) -> None:
        try:
            await self._handle(text)
        except _Close as close:
            await self.socket.close(close.code, close.reason)

    async def _handle(self, text: str | None) -> None:
        try:
            message = parse_json(text or "")
        except ValueError:
            raise _Close(4400, "Invalid message received") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise _Close(4400, "Invalid message received")
        kind = message["type"]
        if kind == "connection_init":
            await self._init(message.get("payload"))
        elif kind == "ping" and not self.legacy:
            pong: dict[str, Any] = {"type": "pong"}
            if isinstance(message.get("payload"), dict):
                pong["payload"] = message["payload"]
            self.socket.send(orjson.dumps(pong).decode())
        elif kind == "pong" and not self.legacy:
            pass
        elif kind == ("start" if self.legacy else "subscribe"):
            await self._subscribe(message)
        elif kind == ("stop" if self.legacy else "complete"):
            running = self.operations.pop(str(message.get("id")), None)
            if running is not None:
                running.stop()
        elif kind == "connection_terminate" and self.legacy:
            await self.socket.close(1000, "")
        else:
            raise _Close(4400, f"Unexpected message type {kind}")

    async def _init(self, payload: Any) -> None:
        if self.init_received:
            raise _Close(4429, "Too many initialisation requests")
        self.init_received = True
        credentials = _credentials(payload, self.websocket.headers)
        try:
            auth = await authenticate(self.services, credentials, self.client_ip)
            if self.services.hooks is not None:
                # Cloud code's before_connect decides for GraphQL sockets too, as for LiveQuery ones.
                await LiveHooks(self.services.hooks).before_connect(auth)
            self.auth = auth
        except AppError as error:
            message = "Forbidden" if error.code is None else error.message
            if self.legacy:
                self.socket.send(orjson.dumps({"type": "connection_error", "payload": {"message": message}}).decode())
                return
            raise _Close(4403, message) from None
        self.socket.send('{"type":"connection_ack"}')
        if self.legacy:
            self.socket.send('{"type":"ka"}')

    async def _subscribe(self, message: dict[str, Any]) -> None:
        from app.transport.graphql.view import RequestError, operation_from

        if self.auth is None:
            if self.legacy:
                self._error(message.get("id"), [{"message": "Not initialised: send connection_init first."}])
                return
            raise _Close(4401, "Unauthorized")
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            raise _Close(4400, "Invalid message received")
        if op_id in self.operations:
            raise _Close(4409, f"Subscriber for {op_id} already exists")
        reveal = self.auth.master or self.services.settings.graphql_public_introspection
        context = Context(self.services, self.auth, self.encoder)
        try:
            operation = operation_from(payload)
            schema, document, chosen = await self.endpoint.prepare(operation, "POST", reveal, exempt=self.auth.master)
            limit = self.services.settings.live_query_max_subscriptions
            if chosen.operation == OperationType.SUBSCRIPTION and len(self.operations) >= limit:
                raise AppError(f"A connection may hold at most {limit} subscriptions.", code=155)
            if chosen.operation != OperationType.SUBSCRIPTION:
                body = await self.endpoint.run(schema, document, operation, context, reveal)
                self._next(op_id, orjson.dumps(body).decode())
                self._complete(op_id)
                return
            running = _Running(self, op_id, schema, document, chosen, operation, reveal)
            self.operations[op_id] = running
            try:
                await running.start()
            except BaseException:
                self.operations.pop(op_id, None)
                running.stop()
                raise
        except RequestError as error:
            self._error(op_id, error.errors)
        except AppError as error:
            self._error(op_id, [{"message": error.message, "extensions": {"code": error.code}}])

    # Outgoing -----------------------------------------------------------------------------------------

    def _next(self, op_id: str, body: str) -> None:
        self.socket.send(self.envelope(op_id) + body + "}")

    def envelope(self, op_id: str) -> str:
        """The start of a result message; the body and a closing brace follow."""
        kind = "data" if self.legacy else "next"
        return '{"id":' + orjson.dumps(op_id).decode() + ',"type":"' + kind + '","payload":'

    def _complete(self, op_id: str) -> None:
        self.socket.send(orjson.dumps({"id": op_id, "type": "complete"}).decode())

    def _error(self, op_id: Any, errors: list[dict[str, Any]]) -> None:
        payload: Any = errors if not self.legacy else errors[0]
        self.socket.send(orjson.dumps({"id": op_id, "type": "error", "payload": payload}).decode())
        self.operations.pop(str(op_id), None)


class _Running:
    """One subscription operation of a connection, following the hub."""

    def __init__(
        self,
        connection: _Connection,
        op_id: str,
        schema: GraphQLSchema,
        document: DocumentNode,
        chosen: OperationDefinitionNode,
        operation: Operation,
        reveal: bool,
    ) -> None:
        self.connection = connection
        self.op_id = op_id
        self.schema, self.document, self.chosen = schema, document, chosen
        self.operation = operation
        self.reveal = reveal
        self.subscription: Subscription | None = None
        self.memo_key = ("graphql", id(document), operation.operation_name, orjson.dumps(operation.variables or {}))
        self.envelope = connection.envelope(op_id)
        self.on: frozenset[str] | None = None
        self.include: tuple[str, ...] = ()
        self.live: LiveField | None = None
        # Live pages: the last page sent, and whether a refresh is already queued.
        self.last: str | None = None
        self.started = False
        self.dirty = False
        self.queued = False

    async def start(self) -> None:
        from app.transport.graphql.view import RequestError, error_body, redacted_body

        connection = self.connection
        auth = connection.auth
        assert auth is not None
        built = ExecutionContext.build(
            self.schema, self.document, None, None, self.operation.variables, self.operation.operation_name
        )
        if isinstance(built, list):
            raise RequestError(
                [
                    redacted_body(
                        error_body(error, "BAD_USER_INPUT", variables=self.operation.variables),
                        self.reveal,
                        self.operation.query,
                    )
                    for error in built
                ]
            )
        root = self.schema.subscription_type
        assert root is not None
        fields = collect_fields(self.schema, built.fragments, built.variable_values, root, self.chosen.selection_set)
        field_nodes = next(iter(fields.values()))
        field_def = root.fields[field_nodes[0].name.value]
        try:
            args = get_argument_values(field_def, field_nodes[0], built.variable_values)
        except GraphQLError as error:
            body = redacted_body(error_body(error, "BAD_USER_INPUT"), self.reveal, self.operation.query)
            raise RequestError([body]) from None
        live: LiveField = field_def.extensions["live"]
        self.live = live
        classes = {name: t.schema for name, t in live.builder.types.items()}
        where = translate.where_to_parse(args.get("where"), live.types.schema, classes)
        hub = connection.services.live
        if live.kind == "events":
            self.on = frozenset(args["on"]) if args.get("on") else None
            info = SimpleNamespace(fragments=built.fragments, field_nodes=field_nodes)
            paths = selected_paths(info)  # type: ignore[arg-type]
            node_paths = [p.split(".", 1)[1] for p in paths if p.startswith(("node.", "previous."))]
            self.include = keys_and_include(node_paths, live.types.fields)[1]
        self.subscription = await hub.subscribe(
            auth,
            live.types.schema.name,
            where,
            self,
            tag=self.op_id,
            watch=tuple(args.get("watch") or ()),
        )
        if live.kind == "page":
            first = await self._execute(None)
            self.last = first
            connection._next(self.op_id, first)
            self.started = True
            if self.dirty:
                self._queue_refresh(None)

    def stop(self) -> None:
        if self.subscription is not None:
            self.connection.services.live.unsubscribe(self.subscription)
            self.subscription = None

    # The hub's listener ---------------------------------------------------------------------------------

    def deliver(self, subscription: Subscription, delivery: Delivery) -> None:
        if subscription is not self.subscription or self.live is None:
            return
        if self.live.kind == "page":
            if not self.started:
                self.dirty = True
            elif not self.queued:
                self._queue_refresh(delivery)
            return
        if self.on is not None and delivery.event not in self.on:
            return
        self.connection.socket.send((self.envelope, self._rendering(delivery), "}"))

    def _queue_refresh(self, delivery: Delivery | None) -> None:
        self.queued = True
        envelope = self.envelope

        async def refresh() -> str | None:
            self.queued = False
            if self.subscription is None:
                return None
            body = await self._shared(delivery)
            if body == self.last:
                return None  # the write did not change this page
            self.last = body
            return envelope + body + "}"

        self.connection.socket.send(refresh)

    def _rendering(self, delivery: Delivery) -> asyncio.Future[str]:
        """The result for a delivery, executed once for every identical subscription of its group."""
        future: asyncio.Future[str] | None = delivery.memo.get(self.memo_key)
        if future is None:
            future = delivery.memo[self.memo_key] = asyncio.ensure_future(self._execute(delivery))
        return future

    async def _shared(self, delivery: Delivery | None) -> str:
        if delivery is None:
            return await self._execute(None)
        return await asyncio.shield(self._rendering(delivery))

    async def _execute(self, delivery: Delivery | None) -> str:
        from app.transport.graphql.view import RequestError

        connection = self.connection
        assert connection.auth is not None and self.live is not None
        root = None
        if delivery is not None and self.live.kind == "events":
            root = event_payload(delivery, self.live.types.schema.name)
            if self.include:
                records = [root["node"]] + ([root["previous"]] if root["previous"] is not None else [])
                await connection.services.objects.include(
                    connection.auth, self.live.types.schema.name, records, self.include
                )
        context = Context(connection.services, connection.auth, connection.encoder)
        try:
            body = await connection.endpoint.run(
                self.schema, self.document, self.operation, context, self.reveal, root_value=root
            )
        except RequestError as error:
            body = {"errors": error.errors}
        return orjson.dumps(body).decode()


def _credentials(payload: Any, headers: Headers) -> Credentials:
    """Keys and token from connection_init's payload (or its `headers`), else from the handshake's headers."""
    credentials = header_credentials(headers)
    for source in (payload, payload.get("headers") if isinstance(payload, Mapping) else None):
        if not isinstance(source, Mapping):
            continue
        for key, value in source.items():
            attribute = _CREDENTIAL_KEYS.get(str(key).lower())
            if attribute is not None and isinstance(value, str):
                setattr(credentials, attribute, value)
    return credentials
