"""What both GraphQL websocket protocols share: a connection's caller, its operations and the end of its session.

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
after the answer to an operation in hand. An operation that arrives after the end is refused the same way and
runs nothing. How each protocol says so, and everything else it says in its own words, is its handler's
(`ws_transport.py`, `ws_legacy.py`).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLSchema, OperationDefinitionNode, OperationType
from starlette.datastructures import Headers
from starlette.websockets import WebSocket

from app.domain.access import exempt_from_limits, reveals_schema
from app.domain.acl import Auth
from app.domain.hooks import LiveHooks
from app.domain.live import Delivery, Subscription
from app.errors import AppError, InvalidSessionTokenError
from app.transport.callers import Credentials, authenticate, file_encoder
from app.transport.graphql import translate
from app.transport.graphql.execution import Executor, Operation, RequestError, operation_from
from app.transport.graphql.request import Resolving, keys_and_include, selected_paths
from app.transport.graphql.subscriptions import LiveField, event_payload
from app.transport.http import header_credentials, parse_mount_url
from app.transport.sockets import QueuedSocket
from app.transport.wire import parse_json

log = logging.getLogger("app.graphql")

_INIT_TIMEOUT = 3.0  # seconds a client has to send connection_init (graphql-ws's default)
FORBIDDEN = 4403
SESSION_ENDED = "Invalid session token"

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


class Close(Exception):
    """End the connection with a protocol close code."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class Connection(ABC):
    """One GraphQL websocket. Its protocol's handler (a subclass) reads the messages and names the answers."""

    result_type: str
    """The `type` of a message carrying a result."""

    def __init__(self, executor: Executor, websocket: WebSocket) -> None:
        self.executor = executor
        self.services = executor.services
        settings = self.services.settings
        self.websocket = websocket
        self.socket = QueuedSocket(websocket, max_queue=settings.live_query_queue_size)
        self.encoder = file_encoder(parse_mount_url(websocket, settings), settings.app_id)
        self.client_ip = websocket.client.host if websocket.client else None
        self.credentials: Credentials | None = None
        self.auth: Auth | None = None
        """The caller as last looked up (every operation looks again)."""
        self.init_received = False
        self.operations: dict[str, RunningSubscription] = {}
        self.handling = False
        self.session_over = False

    async def run(self) -> None:
        timers = [asyncio.get_running_loop().create_task(self._init_timeout()), *self.timers()]
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

    def timers(self) -> list[asyncio.Task[None]]:
        """Tasks the protocol runs while the connection lives (cancelled at its end)."""
        return []

    async def _init_timeout(self) -> None:
        await asyncio.sleep(_INIT_TIMEOUT)
        if not self.init_received:
            await self.socket.close(4408, "Connection initialisation timeout")

    # The protocol's part ------------------------------------------------------------------------------

    @abstractmethod
    async def handle(self, kind: str, message: dict[str, Any]) -> None:
        """One message of the protocol, by its `type`."""

    @abstractmethod
    async def refuse_init(self, error: AppError, message: str) -> None:
        """`connection_init` with keys that do not pass."""

    @abstractmethod
    def acknowledge(self) -> None:
        """`connection_init` accepted."""

    @abstractmethod
    def uninitialised(self, op_id: Any) -> None:
        """An operation before `connection_init` was accepted."""

    @abstractmethod
    def refuse_ended(self, op_id: str) -> None:
        """An operation stopped or refused because the connection's session ended."""

    @abstractmethod
    def error_payload(self, errors: list[dict[str, Any]]) -> Any:
        """The payload of an `error` message."""

    # Incoming -----------------------------------------------------------------------------------------

    async def receive(self, text: str | None) -> None:
        self.handling = True
        try:
            await self._receive(text)
        except Close as close:
            await self.socket.close(close.code, close.reason)
        finally:
            self.handling = False
        if self.session_over:
            self.socket.close_soon(FORBIDDEN, SESSION_ENDED)

    async def _receive(self, text: str | None) -> None:
        try:
            message = parse_json(text or "")
        except ValueError:
            raise Close(4400, "Invalid message received") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise Close(4400, "Invalid message received")
        await self.handle(message["type"], message)

    async def init(self, payload: Any) -> None:
        if self.init_received:
            raise Close(4429, "Too many initialisation requests")
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
            await self.refuse_init(error, "Forbidden" if error.code is None else error.message)
            return
        self.acknowledge()

    async def subscribe(self, message: dict[str, Any]) -> None:
        if self.credentials is None:
            self.uninitialised(message.get("id"))
            return
        op_id, payload = message.get("id"), message.get("payload")
        if not isinstance(op_id, str) or not op_id or not isinstance(payload, dict):
            raise Close(4400, "Invalid message received")
        if op_id in self.operations:
            raise Close(4409, f"Subscriber for {op_id} already exists")
        if self.session_over:
            self.refuse_ended(op_id)
            return
        try:
            # Looked up again for each operation: the session may have ended since the last one.
            auth = self.auth = await authenticate(self.services, self.credentials, self.client_ip)
        except InvalidSessionTokenError:
            self.session_ended(self.credentials.session_token or "")
            self.refuse_ended(op_id)
            return
        except AppError as error:
            self.send_error(op_id, [{"message": error.message, "extensions": {"code": error.code}}])
            return
        reveal = reveals_schema(auth, open_to_all=self.services.settings.graphql_public_introspection)
        context = Resolving(self.services, auth, self.encoder)
        executor = self.executor
        try:
            operation = operation_from(payload)
            graphql_schema, document, chosen = await executor.prepare(
                operation, reveal, exempt=exempt_from_limits(auth)
            )
            limit = self.services.settings.live_query_max_subscriptions
            if chosen.operation == OperationType.SUBSCRIPTION and len(self.operations) >= limit:
                raise AppError(f"A connection may hold at most {limit} subscriptions.", code=155)
            if chosen.operation != OperationType.SUBSCRIPTION:
                body = await executor.run(graphql_schema, document, operation, context, reveal)
                self.send_result(op_id, orjson.dumps(body).decode())
                self.complete(op_id)
                return
            running = RunningSubscription(self, op_id, graphql_schema, document, chosen, operation, reveal)
            self.operations[op_id] = running
            try:
                await running.start(auth)
            except BaseException:
                self.operations.pop(op_id, None)
                running.stop()
                raise
        except RequestError as error:
            self.send_error(op_id, error.errors)
        except AppError as error:
            self.send_error(op_id, [{"message": error.message, "extensions": {"code": error.code}}])

    def stop(self, op_id: Any) -> None:
        running = self.operations.pop(str(op_id), None)
        if running is not None:
            running.stop()

    # The end of the session ---------------------------------------------------------------------------

    def session_ended(self, token: str) -> None:
        """The authenticator's word that this connection's session ended: stop every subscription now; the socket
        closes (4403) once the operation in hand, if any, has answered."""
        if self.session_over:
            return
        self.session_over = True
        for op_id, running in list(self.operations.items()):
            running.stop()
            self.refuse_ended(op_id)
        self.operations.clear()
        if not self.handling:
            self.socket.close_soon(FORBIDDEN, SESSION_ENDED)

    # Outgoing -----------------------------------------------------------------------------------------

    def send_result(self, op_id: str, body: str) -> None:
        self.socket.send(self.envelope(op_id) + body + "}")

    def envelope(self, op_id: str) -> str:
        """The start of a result message; the body and a closing brace follow."""
        return '{"id":' + orjson.dumps(op_id).decode() + ',"type":"' + self.result_type + '","payload":'

    def complete(self, op_id: str) -> None:
        self.socket.send(orjson.dumps({"id": op_id, "type": "complete"}).decode())

    def send_error(self, op_id: Any, errors: list[dict[str, Any]]) -> None:
        payload = self.error_payload(errors)
        self.socket.send(orjson.dumps({"id": op_id, "type": "error", "payload": payload}).decode())
        self.operations.pop(str(op_id), None)


class RunningSubscription:
    """One subscription operation of a connection, following the hub."""

    def __init__(
        self,
        connection: Connection,
        op_id: str,
        graphql_schema: GraphQLSchema,
        document: DocumentNode,
        chosen: OperationDefinitionNode,
        operation: Operation,
        reveal: bool,
    ) -> None:
        self.connection = connection
        self.op_id = op_id
        self.graphql_schema, self.document, self.chosen = graphql_schema, document, chosen
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
        connection = self.connection
        root = connection.executor.root_field(
            self.graphql_schema, self.document, self.chosen, self.operation, self.reveal
        )
        args = root.args
        live: LiveField = root.definition.extensions["live"]
        self.live = live
        classes = {name: t.schema for name, t in live.classes.items()}
        where = translate.where_to_parse(args.get("where"), live.types.schema, classes)
        hub = connection.services.live
        if live.kind == "events":
            self.on = frozenset(args["on"]) if args.get("on") else None
            info = SimpleNamespace(fragments=root.fragments, field_nodes=root.nodes)
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
            connection.send_result(self.op_id, first)
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
        context = Resolving(connection.services, connection.auth, connection.encoder)
        try:
            body = await connection.executor.run(
                self.graphql_schema, self.document, self.operation, context, self.reveal, root_value=root
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
