"""GraphQL over a websocket at `/graphql`: the `graphql-transport-ws` protocol (graphql-ws, Apollo, urql) and the
legacy `graphql-ws` protocol (subscriptions-transport-ws).

A connection presents its keys once, in `connection_init` (`X-Parse-Application-Id`, `X-Parse-Session-Token`,
`X-Parse-Master-Key`, or `applicationId`/`sessionToken`/`masterKey`, optionally under `headers`) or with
the handshake's headers, and the caller behind them is looked up again for every operation (cached briefly by
the authenticator, which forgets a session as soon as a write changes it). Cloud code sees the handshake's
headers with the payload's string entries on top (a browser cannot set handshake headers), and the client's
address. Queries and mutations answer once and complete. A subscription to `<class>Events` sends each event
the hub delivers, executed once per group of identical subscribers; a live page (`<classes>`) sends the page,
then the page again whenever a delivered event changes it.

When the session a connection was opened with ends (logged out, deleted, revoked by a password change, its user
deleted, expired; on this instance or another), its subscriptions stop at once and the socket closes with 4403,
after the answer to an operation in hand. `graphql-transport-ws` defines 4403 (Forbidden). The legacy protocol
has no such code: it first gets an `error` (code 209, "Invalid session token") for each running operation, then
the same 4403 close. An operation that arrives after the end is refused the same way and runs nothing.
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
from app.errors import AppError, DatabaseUnavailableError, InvalidSessionTokenError
from app.transport.context import Credentials, authenticate, file_encoder
from app.transport.graphql import translate
from app.transport.graphql.request import Context, keys_and_include, selected_paths
from app.transport.graphql.subscriptions import LiveField, event_payload
from app.transport.http import header_credentials, parse_mount_url
from app.transport.sockets import TRY_AGAIN_LATER, QueuedSocket
from app.transport.wire import parse_json

if TYPE_CHECKING:
    from app.transport.graphql.view import GraphQLEndpoint, Operation

log = logging.getLogger("app.graphql")

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
_INIT_TIMEOUT = 3.0  # seconds a client has to send connection_init (graphql-ws's default)
_KEEP_ALIVE = 15.0  # seconds between the legacy protocol's `ka` messages
_FORBIDDEN = 4403
_SESSION_ENDED = "Invalid session token"

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
        self.credentials: Credentials | None = None
        self.auth: Auth | None = None
        """The caller as last looked up (every operation looks again)."""
        self.init_received = False
        self.operations: dict[str, _Running] = {}
        self.handling = False
        self.session_over = False

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
            if self.auth is not None:
                self.services.authenticator.unfollow(self.auth.session_token, self)

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
        self.handling = True
        try:
            await self._handle(text)
        except _Close as close:
            await self.socket.close(close.code, close.reason)
        finally:
            self.handling = False
        if self.session_over:
            self.socket.close_soon(_FORBIDDEN, _SESSION_ENDED)

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
        try:
            credentials = _credentials(payload, self.websocket.headers)
            auth = await authenticate(self.services, credentials, self.client_ip)
            if self.services.hooks is not None:
                # Cloud code's before_connect decides for GraphQL sockets too, as for LiveQuery ones.
                await LiveHooks(self.services.hooks).before_connect(auth)
            self.credentials, self.auth = credentials, auth
            self.services.authenticator.follow(auth, self)
        except AppError as error:
            message = "Forbidden" if error.code is None else error.message
            if self.legacy:
                self.socket.send(orjson.dumps({"type": "connection_error", "payload": {"message": message}}).decode())
                return
            # No database: "try again later", which graphql-ws clients retry, rather than "forbidden".
            raise _Close(TRY_AGAIN_LATER if isinstance(error, DatabaseUnavailableError) else 4403, message) from None
        self.socket.send('{"type":"connection_ack"}')
        if self.legacy:
            self.socket.send('{"type":"ka"}')

    async def _subscribe(self, message: dict[str, Any]) -> None:
        from app.transport.graphql.view import RequestError, operation_from

        if self.credentials is None:
            if self.legacy:
                self._error(message.get("id"), [{"message": "Not initialised: send connection_init first."}])
                return
            raise _Close(4401, "Unauthorized")
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            raise _Close(4400, "Invalid message received")
        if op_id in self.operations:
            raise _Close(4409, f"Subscriber for {op_id} already exists")
        if self.session_over:
            self._refuse_ended(op_id)
            return
        try:
            # Looked up again for each operation: the session may have ended since the last one.
            auth = self.auth = await authenticate(self.services, self.credentials, self.client_ip)
        except InvalidSessionTokenError:
            self.session_ended(self.credentials.session_token or "")
            self._refuse_ended(op_id)
            return
        except AppError as error:
            self._error(op_id, [{"message": error.message, "extensions": {"code": error.code}}])
            return
        reveal = auth.master or self.services.settings.graphql_public_introspection
        context = Context(self.services, auth, self.encoder)
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
                await running.start(auth)
            except BaseException:
                self.operations.pop(op_id, None)
                running.stop()
                raise
        except RequestError as error:
            self._error(op_id, error.errors)
        except AppError as error:
            self._error(op_id, [{"message": error.message, "extensions": {"code": error.code}}])

    # The end of the session ---------------------------------------------------------------------------

    def session_ended(self, token: str) -> None:
        """The authenticator's word that this connection's session ended: stop every subscription now; the socket
        closes (4403) once the operation in hand, if any, has answered."""
        if self.session_over:
            return
        self.session_over = True
        for op_id, running in list(self.operations.items()):
            running.stop()
            self._refuse_ended(op_id)
        self.operations.clear()
        if not self.handling:
            self.socket.close_soon(_FORBIDDEN, _SESSION_ENDED)

    def _refuse_ended(self, op_id: str) -> None:
        # graphql-transport-ws clients learn it from the close code; the legacy protocol's only from a message.
        if self.legacy:
            self._error(op_id, [{"message": _SESSION_ENDED, "extensions": {"code": InvalidSessionTokenError.code}}])

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

    async def start(self, auth: Auth) -> None:
        from app.transport.graphql.view import RequestError, error_body, redacted_body

        connection = self.connection
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
        classes = {name: t.schema for name, t in live.classes.items()}
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
    """Keys and token from connection_init's payload (or its `headers`), else from the handshake's headers; the
    headers cloud code sees are the handshake's with the payload's string entries on top."""
    sources = [source for source in (payload, _get(payload, "headers")) if isinstance(source, Mapping)]
    given: dict[bytes, bytes] = {}
    for source in sources:
        for key, value in source.items():
            if isinstance(value, str):
                try:
                    given[str(key).lower().encode("latin-1")] = value.encode("latin-1")
                except UnicodeEncodeError:
                    continue  # what no header could carry is no header
    if given:
        headers = Headers(raw=[(key, value) for key, value in headers.raw if key not in given] + list(given.items()))
    credentials = header_credentials(headers)
    for source in sources:
        for key, value in source.items():
            attribute = _CREDENTIAL_KEYS.get(str(key).lower())
            if attribute is not None and isinstance(value, str):
                setattr(credentials, attribute, value)
    return credentials


def _get(value: Any, key: str) -> Any:
    return value.get(key) if isinstance(value, Mapping) else None
