"""A local APNs for tests: HTTP/2 over TLS (ALPN h2 only, as Apple's), with the `h2` package on asyncio.

It checks what APNs checks and answers as APNs answers (`{"reason": ...}` bodies, an `apns-id` on every answer):
the provider token (ES256 with the team's public key, `iss`, `kid`, `iat` no older than an hour, no new token
within 20 minutes of the last unless the old one was refused), `POST /3/device/<token>`, `apns-topic` among the
team's topics, `apns-push-type`, `apns-priority`, `apns-expiration`, `apns-collapse-id`, and the payload (JSON,
at most 4 KB). Like APNs, it allows one stream per connection until a request carries the team's token, then
1000. Tests tell it which tokens are bad (400 BadDeviceToken) or unregistered (410 with the timestamp),
to call the current provider token expired once (403 ExpiredProviderToken), and to hold requests until enough are
in flight; it records every request and the most streams it saw in flight at once.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from h2.config import H2Configuration
from h2.connection import H2Connection
from h2.events import ConnectionTerminated, DataReceived, RequestReceived, StreamEnded, StreamReset
from h2.exceptions import H2Error
from h2.settings import SettingCodes, Settings

from tests.interop.certificates import Certificates

PUSH_TYPES = {"alert", "background", "location", "voip", "complication", "fileprovider", "mdm", "liveactivity"}


@dataclass(frozen=True, slots=True)
class ApnsRequest:
    """One request APNs accepted or refused, as it came."""

    device_token: str
    headers: dict[str, str]
    payload: Any
    provider_token: str
    status: int
    reason: str | None

    @property
    def claims(self) -> dict[str, Any]:
        return dict(jwt.decode(self.provider_token, options={"verify_signature": False}))


@dataclass
class ApnsServer:
    """APNs for one team: its key id and public key, the topics (bundle ids) its tokens may be sent to."""

    team_id: str
    key_id: str
    public_key: EllipticCurvePublicKey
    topics: set[str]
    certificates: Certificates
    clock: Callable[[], float] = time.time
    bad_tokens: set[str] = field(default_factory=set)
    unregistered: dict[str, int] = field(default_factory=dict)
    """Device tokens APNs no longer delivers to, with when (milliseconds) it learned so."""
    requests: list[ApnsRequest] = field(default_factory=list)
    connections: int = 0
    open_connections: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    _expire_next: bool = False
    _expired: set[str] = field(default_factory=set)
    _seen: dict[str, int] = field(default_factory=dict)
    _hold: int = 0
    _grace: float = 0
    _handlers: set[asyncio.Task[None]] = field(default_factory=set)
    _released: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: asyncio.Event = field(default_factory=asyncio.Event)
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _connections: dict[H2Connection, asyncio.StreamWriter] = field(default_factory=dict)
    port: int = 0

    def expire_token_once(self) -> None:
        """The next request's provider token is answered ExpiredProviderToken, and so is that token from then on."""
        self._expire_next = True

    def hold_until_in_flight(self, count: int, grace: float = 0.2) -> None:
        """Answer nothing until `count` requests are in flight at once, and for `grace` seconds more (the time a
        client that ignores its bound would take to send more); from then on answer at once."""
        self._hold, self._grace = count, grace
        self._released.clear()

    def go_away(self) -> None:
        """Close every connection with GOAWAY, as APNs does to idle ones and when it restarts."""
        for connection, writer in list(self._connections.items()):
            try:
                connection.close_connection()
                writer.write(connection.data_to_send())
            except H2Error:
                pass
            writer.close()

    async def wait_until_disconnected(self) -> None:
        """Every connection closed (by the client); at most 5 seconds."""
        await asyncio.wait_for(self._closed.wait(), 5)

    def app(self, **settings: Any) -> dict[str, Any]:
        """A `push.ios` app pointing at this server (`settings` add to or replace its keys)."""
        return {"address": "127.0.0.1", "port": self.port, "ca": str(self.certificates.ca)} | settings

    async def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certificates.certificate, self.certificates.key)
        context.set_alpn_protocols(["h2"])
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=context)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.transport.abort()  # a client still connected would hold a TLS close for 30 s
            await self._server.wait_closed()
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = writer.get_extra_info("ssl_object")
        if tls is None or tls.selected_alpn_protocol() != "h2":
            writer.close()  # APNs speaks HTTP/2 only
            return
        handler = asyncio.current_task()
        assert handler is not None
        self._handlers.add(handler)
        self.connections += 1
        self.open_connections += 1
        self._closed.clear()
        self._writers.add(writer)
        connection = H2Connection(H2Configuration(client_side=False, header_encoding="utf-8"))
        # As APNs: one stream at a time until a request shows a valid provider token, then 1000.
        connection.local_settings = Settings(client=False, initial_values={SettingCodes.MAX_CONCURRENT_STREAMS: 1})
        opened = False
        connection.initiate_connection()
        writer.write(connection.data_to_send())
        self._connections[connection] = writer
        streams: dict[int, tuple[dict[str, str], bytearray]] = {}
        answers: set[asyncio.Task[None]] = set()
        try:
            while data := await reader.read(65536):
                for event in connection.receive_data(data):
                    if isinstance(event, RequestReceived):
                        received: dict[str, str] = dict(event.headers)  # type: ignore[arg-type]
                        streams[event.stream_id] = (received, bytearray())
                        if not opened and self._signed_by_team(received.get("authorization", "")):
                            connection.update_settings({SettingCodes.MAX_CONCURRENT_STREAMS: 1000})
                            opened = True
                    elif isinstance(event, DataReceived):
                        streams[event.stream_id][1].extend(event.data)
                        connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, StreamEnded):
                        headers, body = streams.pop(event.stream_id)
                        answer = asyncio.create_task(
                            self._answer(connection, writer, event.stream_id, headers, bytes(body))
                        )
                        answers.add(answer)
                        answer.add_done_callback(answers.discard)
                    elif isinstance(event, StreamReset):
                        streams.pop(event.stream_id, None)
                    elif isinstance(event, ConnectionTerminated):
                        return
                writer.write(connection.data_to_send())
        except (ConnectionError, H2Error, ssl.SSLError):
            pass
        finally:
            for answer in answers:
                answer.cancel()
            self._writers.discard(writer)
            self._connections.pop(connection, None)
            self._handlers.discard(handler)
            writer.close()
            self.open_connections -= 1
            if not self.open_connections:
                self._closed.set()

    async def _answer(
        self,
        connection: H2Connection,
        writer: asyncio.StreamWriter,
        stream_id: int,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self._hold and not self._released.is_set():
                if self.in_flight == self._hold:
                    asyncio.get_running_loop().call_later(self._grace, self._released.set)
                await self._released.wait()
            status, reason, extra = self._judge(headers, body)
        finally:
            self.in_flight -= 1
        apns_id = headers.get("apns-id") or str(uuid.uuid4())
        answer = json.dumps({"reason": reason, **extra}).encode() if reason else b""
        try:
            connection.send_headers(stream_id, [(":status", str(status)), ("apns-id", apns_id)], end_stream=not answer)
            if answer:
                connection.send_data(stream_id, answer, end_stream=True)
            writer.write(connection.data_to_send())
        except (H2Error, ConnectionError):
            pass  # the client went away, or reset the stream

    def _judge(self, headers: dict[str, str], body: bytes) -> tuple[int, str | None, dict[str, Any]]:
        """APNs' answer to one request, recorded."""
        path = headers.get(":path", "")
        device_token = path.removeprefix("/3/device/") if path.startswith("/3/device/") else ""
        authorization = headers.get("authorization", "")
        provider_token = authorization.removeprefix("bearer ") if authorization.startswith("bearer ") else ""
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = body.decode(errors="replace")
        status, reason, extra = self._verdict(headers, body, device_token, provider_token, payload)
        self.requests.append(ApnsRequest(device_token, headers, payload, provider_token, status, reason))
        return status, reason, extra

    def _verdict(
        self, headers: dict[str, str], body: bytes, device_token: str, provider_token: str, payload: Any
    ) -> tuple[int, str | None, dict[str, Any]]:
        if headers.get(":method") != "POST":
            return 405, "MethodNotAllowed", {}
        if not device_token:
            return 404, "BadPath", {}
        refused = self._check_provider_token(provider_token)
        if refused:
            return refused
        topic = headers.get("apns-topic")
        if not topic:
            return 400, "MissingTopic", {}
        if headers.get("apns-push-type") not in PUSH_TYPES:
            return 400, "InvalidPushType", {}
        if headers.get("apns-priority", "10") not in ("1", "5", "10"):
            return 400, "BadPriority", {}
        if not headers.get("apns-expiration", "0").isdigit():
            return 400, "BadExpirationDate", {}
        if len(headers.get("apns-collapse-id", "").encode()) > 64:
            return 400, "BadCollapseId", {}
        if not body:
            return 400, "PayloadEmpty", {}
        if len(body) > 4096:
            return 413, "PayloadTooLarge", {}
        if not isinstance(payload, dict):
            return 400, "BadPayload", {}
        if device_token in self.bad_tokens or len(device_token) != 64:
            return 400, "BadDeviceToken", {}
        if not any(topic == known or topic.startswith(known + ".") for known in self.topics):
            return 400, "DeviceTokenNotForTopic", {}
        if device_token in self.unregistered:
            return 410, "Unregistered", {"timestamp": self.unregistered[device_token]}
        return 200, None, {}

    def _signed_by_team(self, authorization: str) -> bool:
        try:
            token = authorization.removeprefix("bearer ")
            jwt.decode(token, self.public_key, algorithms=["ES256"], options={"verify_iat": False})
        except jwt.InvalidTokenError:
            return False
        return bool(jwt.get_unverified_header(token).get("kid") == self.key_id)

    def _check_provider_token(self, token: str) -> tuple[int, str, dict[str, Any]] | None:
        if not token:
            return 403, "MissingProviderToken", {}
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(
                token, self.public_key, algorithms=["ES256"], options={"require": ["iss", "iat"], "verify_iat": False}
            )
        except jwt.InvalidTokenError:
            return 403, "InvalidProviderToken", {}
        if header.get("kid") != self.key_id or claims["iss"] != self.team_id or not isinstance(claims["iat"], int):
            return 403, "InvalidProviderToken", {}
        if token in self._expired or self.clock() - claims["iat"] > 3600:
            return 403, "ExpiredProviderToken", {}
        if self._expire_next:
            self._expire_next = False
            self._expired.add(token)
            return 403, "ExpiredProviderToken", {}
        if token not in self._seen:
            # A new token within 20 minutes of the last, while that one still works, is throttled.
            working = [iat for seen, iat in self._seen.items() if seen not in self._expired]
            if working and claims["iat"] - max(working) < 20 * 60:
                return 429, "TooManyProviderTokenUpdates", {}
            self._seen[token] = claims["iat"]
        return None
