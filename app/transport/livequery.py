"""Parse's LiveQuery protocol on the websocket at `/parse`, so the Parse SDKs' live queries work unchanged.

A client `connect`s (application id, keys, session token, installation id), then `subscribe`s,
`update`s and `unsubscribe`s queries by `requestId`. Events come back as `create`, `enter`, `update`,
`leave` and `delete` with the object (and `original`) as the subscriber may see it. Errors are
`{"op": "error", "code", "error", "reconnect", "requestId"}` with Parse's protocol codes: 1 bad
message, 2 not connected or no such subscription, 3 unknown op, 4 bad keys; Parse's error codes
otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from app.domain.encoding import Encoder
from app.domain.hooks import LiveHooks
from app.domain.live import EVENT_NAMES, Delivery, LiveHub, Subscription
from app.domain.values import Record
from app.errors import AppError, DatabaseUnavailableError
from app.transport.callers import Credentials, Services, authenticate, file_encoder
from app.transport.http import parse_mount_url
from app.transport.sockets import QueuedSocket
from app.transport.wire import JSONTooDeepError, parse_json

log = logging.getLogger("app.livequery")

_DEFAULT_FIELDS = ("className", "objectId", "updatedAt", "createdAt", "ACL")
_STRING, _NUMBER, _OBJECT, _STRINGS = "string", "number", "object", "strings"
_QUERY = {"className": _STRING, "where": _OBJECT, "keys": _STRINGS, "watch": _STRINGS}
_SCHEMAS: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "connect": (
        {
            key: _STRING
            for key in (
                "applicationId",
                "javascriptKey",
                "masterKey",
                "clientKey",
                "windowsKey",
                "restAPIKey",
                "sessionToken",
                "installationId",
            )
        },
        ("applicationId",),
    ),
    "subscribe": ({"requestId": _NUMBER, "query": _QUERY, "sessionToken": _STRING}, ("requestId", "query")),
    "update": ({"requestId": _NUMBER, "query": _QUERY, "sessionToken": _STRING}, ("requestId", "query")),
    "unsubscribe": ({"requestId": _NUMBER}, ("requestId",)),
}


class ProtocolError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class LiveQueryEndpoint:
    """The ASGI app for websockets at `/parse`: one `_Client` per connection."""

    def __init__(self, services: Services, hub: LiveHub) -> None:
        self.services = services
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        client = _Client(self, websocket)
        try:
            await client.socket.serve(client.receive)
        finally:
            client.unsubscribe_all()


class _Client:
    def __init__(self, endpoint: LiveQueryEndpoint, websocket: WebSocket) -> None:
        self.services = endpoint.services
        self.hub = endpoint.hub
        settings = self.services.settings
        self.socket = QueuedSocket(websocket, max_queue=settings.live_query_queue_size)
        self.encoder: Encoder = file_encoder(parse_mount_url(websocket, settings), settings.app_id)
        self.client_ip = websocket.client.host if websocket.client else None
        self.headers = websocket.headers
        self.id: str | None = None
        self.installation_id: str | None = None
        self.credentials = Credentials()
        self.subscriptions: dict[int | float, tuple[Subscription, tuple[str, ...] | None]] = {}
        self._prefixes: dict[tuple[str, int | float], str] = {}

    # Incoming -----------------------------------------------------------------------------------------

    async def receive(self, text: str | None) -> None:
        request_id = None
        try:
            try:
                message = parse_json(text or "")
            except JSONTooDeepError as error:
                raise ProtocolError(1, f"Invalid JSON: the message is {error}") from None
            except ValueError:
                raise ProtocolError(1, "Invalid JSON: the message must be a JSON object") from None
            op = _validate(message)
            if op != "connect":
                request_id = message["requestId"]
            match op:
                case "connect":
                    await self.connect(message)
                case "subscribe":
                    await self.subscribe(message)
                case "update":
                    await self.subscribe(message, replace=True)
                case "unsubscribe":
                    self.unsubscribe(message["requestId"])
        except ProtocolError as error:
            self.error(error.code, error.message, reconnect=True)
        except AppError as error:
            # Without a database the SDKs' clients should come back later: they reconnect and subscribe again.
            unavailable = isinstance(error, DatabaseUnavailableError)
            self.error(error.code or 1, error.message, reconnect=unavailable, request_id=request_id)
        except Exception:
            log.exception("LiveQuery message failed")
            self.error(1, "Internal server error.", reconnect=False, request_id=request_id)

    async def connect(self, message: dict[str, Any]) -> None:
        settings = self.services.settings
        if message["applicationId"] != settings.app_id:
            raise ProtocolError(4, "Key in request is not valid")
        self.credentials = Credentials(
            app_id=message["applicationId"],
            master_key=message.get("masterKey"),
            session_token=message.get("sessionToken"),
            installation_id=message.get("installationId"),
            headers=self.headers,  # the handshake's: what cloud code sees of this connection
        )
        # A wrong key or token fails here, not at the first subscription.
        try:
            auth = await authenticate(self.services, self.credentials, self.client_ip)
        except AppError as error:
            raise ProtocolError(4, "Key in request is not valid") if error.code is None else error from None
        if self.services.hooks is not None:
            await LiveHooks(self.services.hooks).before_connect(auth)
        self.id = str(uuid.uuid4())
        self.installation_id = message.get("installationId")
        self._prefixes.clear()
        self.socket.send(self._envelope("connected"))

    async def subscribe(self, message: dict[str, Any], *, replace: bool = False) -> None:
        if self.id is None:
            raise ProtocolError(2, "Can not find this client, make sure you connect to server before subscribing")
        request_id = message["requestId"]
        query = message["query"]
        limit = self.services.settings.live_query_max_subscriptions
        if request_id not in self.subscriptions and len(self.subscriptions) >= limit:
            raise AppError(f"A connection may hold at most {limit} subscriptions.", code=155)
        credentials = self.credentials
        if "sessionToken" in message:
            credentials = dataclasses.replace(credentials, session_token=message["sessionToken"])
        auth = await authenticate(self.services, credentials, self.client_ip)
        subscription = await self.hub.subscribe(
            auth,
            query["className"],
            query["where"],
            self,
            tag=request_id,
            watch=tuple(query.get("watch") or ()),
            keys=tuple(query["keys"]) if query.get("keys") else None,
        )
        previous = self.subscriptions.pop(request_id, None)
        if previous is not None:
            self.hub.unsubscribe(previous[0])
        self.subscriptions[request_id] = (subscription, subscription.keys)
        self.socket.send(self._envelope("subscribed", request_id))

    def unsubscribe(self, request_id: int | float) -> None:
        if self.id is None:
            raise ProtocolError(2, "Can not find this client, make sure you connect to server before unsubscribing")
        found = self.subscriptions.pop(request_id, None)
        if found is None:
            raise ProtocolError(
                2,
                f"Cannot find subscription with clientId {self.id} subscriptionId {_js_number(request_id)}. "
                "Make sure you subscribe to live query server before unsubscribing.",
            )
        self.hub.unsubscribe(found[0])
        for op in EVENT_NAMES:
            self._prefixes.pop((op, request_id), None)
        self.socket.send(self._envelope("unsubscribed", request_id))

    def unsubscribe_all(self) -> None:
        for subscription, _ in self.subscriptions.values():
            self.hub.unsubscribe(subscription)
        self.subscriptions.clear()

    # Outgoing -----------------------------------------------------------------------------------------

    def deliver(self, subscription: Subscription, delivery: Delivery) -> None:
        entry = self.subscriptions.get(subscription.tag)
        if entry is None or entry[0] is not subscription:
            return
        keys = entry[1]
        # The object's JSON is made once per group and key list, however many clients share it; each client
        # gets one string, so a write fanned out to thousands allocates nothing else per client.
        memo_key = ("livequery", keys)
        body = delivery.memo.get(memo_key)
        if body is None:
            body = delivery.memo[memo_key] = self._event_body(delivery, keys)
        self.socket.send(self._prefix(delivery.event, subscription.tag) + body)

    def _prefix(self, op: str, request_id: int | float) -> str:
        """`{"op":…,"clientId":…,"installationId":…,"requestId":…` for an event, made once per kind."""
        key = (op, request_id)
        prefix = self._prefixes.get(key)
        if prefix is None:
            prefix = self._prefixes[key] = self._envelope(op, request_id)[:-1]
        return prefix

    def _event_body(self, delivery: Delivery, keys: tuple[str, ...] | None) -> str:
        class_name = delivery.schema.name
        body = ',"object":' + self._object_json(class_name, delivery.object, keys)
        if delivery.original is not None:
            body += ',"original":' + self._object_json(class_name, delivery.original, keys)
        return body + "}"

    def _object_json(self, class_name: str, record: Record, keys: tuple[str, ...] | None) -> str:
        encoded = self.encoder.object(record)
        if keys is None:
            # Fields first, then the ACL and times, then the class and id, as Parse's events read.
            head = {key: value for key, value in encoded.items() if key not in _DEFAULT_FIELDS}
            for key in ("ACL", "createdAt", "updatedAt"):
                if key in encoded:
                    head[key] = encoded[key]
            head["className"] = class_name
            head["objectId"] = encoded.get("objectId")
            return orjson.dumps(head).decode()
        limited: dict[str, Any] = {"className": class_name}
        for key in _DEFAULT_FIELDS[1:]:
            if key in encoded:
                limited[key] = encoded[key]
        for key in keys:
            if key in encoded:
                limited[key] = encoded[key]
        return orjson.dumps(limited).decode()

    def _envelope(self, op: str, request_id: int | float | None = None) -> str:
        message: dict[str, Any] = {"op": op, "clientId": self.id}
        if self.installation_id is not None:
            message["installationId"] = self.installation_id
        if request_id is not None:
            message["requestId"] = request_id
        return orjson.dumps(message).decode()

    def error(self, code: int, message: str, *, reconnect: bool, request_id: Any = None) -> None:
        payload = {"op": "error", "error": message, "code": code, "reconnect": reconnect, "requestId": request_id}
        self.socket.send(orjson.dumps(payload).decode())


def _validate(message: Any) -> str:
    """Check a message as Parse's request schemas do, with the same messages; its op."""
    if not isinstance(message, dict):
        raise ProtocolError(1, f"Invalid type: {_json_type(message)} (expected object)")
    if "op" not in message:
        raise ProtocolError(1, "Missing required property: op")
    op = message["op"]
    if not isinstance(op, str):
        raise ProtocolError(1, f"Invalid type: {_json_type(op)} (expected string)")
    if op not in _SCHEMAS:
        raise ProtocolError(1, f"No enum match for: {orjson.dumps(op).decode()}")
    properties, required = _SCHEMAS[op]
    _validate_object(message, {"op": "op", **properties}, ("op", *required))
    return op


def _validate_object(value: dict[str, Any], properties: dict[str, Any], required: tuple[str, ...]) -> None:
    for key in required:
        if key not in value:
            raise ProtocolError(1, f"Missing required property: {key}")
    for key, item in value.items():
        expected = properties.get(key)
        if expected is None:
            raise ProtocolError(1, "Additional properties not allowed")
        if isinstance(expected, dict):
            if not isinstance(item, dict):
                raise ProtocolError(1, f"Invalid type: {_json_type(item)} (expected object)")
            _validate_object(item, expected, ("where", "className"))
        elif expected == _STRINGS:
            _validate_strings(item)
        elif expected in (_STRING, _NUMBER, _OBJECT) and _json_type(item) != expected:
            raise ProtocolError(1, f"Invalid type: {_json_type(item)} (expected {expected})")


def _validate_strings(value: Any) -> None:
    if not isinstance(value, list):
        raise ProtocolError(1, f"Invalid type: {_json_type(value)} (expected array)")
    if not value:
        raise ProtocolError(1, "Array is too short (0), minimum 1")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise ProtocolError(1, f"Invalid type: {_json_type(item)} (expected string)")
        if item in value[:index]:
            raise ProtocolError(1, f"Array items are not unique (indices {value.index(item)} and {index})")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _js_number(value: int | float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
