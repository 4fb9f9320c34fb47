"""APNs, Apple's push service: the sender for iOS, macOS and tvOS installations, over HTTP/2 with token auth.

Configuration is Parse's `push.ios` option: one app, or a list of apps, each `{"token": {"key", "keyId",
"teamId"}, "topic": <bundle id>, "production": bool}`. Token authentication only: certificates (`cert`, `key`,
`pfx`) are refused at start with a message saying so. Each app gets a `_Provider`: its endpoint, its provider
token and one HTTP/2 connection, on which the device requests run as concurrent streams, at most `concurrency`
at once (default 100, also httpx's own bound per connection), each answered within `requestTimeout` (ms,
node-apn's name). A request whose connection APNs closed (it closes idle ones with GOAWAY) is sent once more on a
new connection. `address`, `port` and `ca` (node-apn's names) point an app at another server, such as the tests'
local APNs.

Which app serves a device is chosen as Parse's push adapter chooses: the apps whose topic is the installation's
`appIdentifier`, else the apps without a topic; an installation without `appIdentifier` may also use the one
topic configured, where Parse finds no provider. The `apns-topic` header is the device's `appIdentifier`, else
the app's topic. Apps are tried production first: a token a sandbox build registered is `BadDeviceToken` for
production, and is then tried on the sandbox app of the same topic (Parse tries the next app after any failure,
so a production token that production merely throttled can be called bad by the sandbox, and be cleared).

The provider token is an ES256 JWT (`iss` the team, `iat`, header `kid`). APNs refuses one older than an hour and
throttles apps that mint them too often, so a token is reused for 50 minutes, and renewed early only when APNs
answers `ExpiredProviderToken`, after which the request is sent once more. Renewals carry a generation, so
concurrent requests that all hear "expired" renew the token once.

Parse's push `data` becomes the payload as @parse/push-adapter makes it: `alert` (a string, or a dictionary),
`title` (joined to the alert), `badge`, `sound`, `content-available`, `mutable-content`, `category`, `threadId`
(or `thread-id`), `targetContentIdentifier` and `interruptionLevel` go into `aps`; a given `aps` is the start;
`pushType`, `priority`, `collapseId`, `topic`, `expiry` and `id` are headers; every other key is passed through
beside `aps`. Where Parse differs from that and is wrong, we are right instead: `title` joins the alert whatever
the keys' order (Parse loses it when `alert` comes after), `content-available: true` counts as 1 (Parse drops it),
and a push with only `content-available` is sent as APNs requires a background push, type `background` and
priority 5 (Parse sends `alert` and 10 unless told).

An answer about one device is an outcome; `Unregistered` and `BadDeviceToken` mark the token unregistered, as
Parse clears those tokens (`DeviceTokenNotForTopic` does not: the token is good, the topic is wrong). When no
device's request got an answer about the device (APNs unreachable, timed out, or the credentials refused),
`send` raises `ApnsUnavailableError`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from app.domain.push_delivery import PushDevice, PushMessage, PushOutcome, is_number

PRODUCTION_HOST = "api.push.apple.com"
SANDBOX_HOST = "api.sandbox.push.apple.com"
DEVICE_TYPES = frozenset({"ios", "osx", "tvos"})

TOKEN_REUSE_SECONDS = 50 * 60
"""APNs refuses a provider token older than an hour, and answers TooManyProviderTokenUpdates to frequent ones."""

DEFAULT_CONCURRENCY = 100
DEFAULT_TIMEOUT_MS = 5000  # node-apn's requestTimeout

# Answers after which the token will never reach this app again (Parse clears these installations' tokens).
UNREGISTERED_REASONS = frozenset({"Unregistered", "BadDeviceToken"})
# Answers that say nothing of the device: the provider's credentials were refused.
CREDENTIAL_REASONS = frozenset({"InvalidProviderToken", "MissingProviderToken", "BadCertificate", "Forbidden"})

# Header information in Parse's data: read into headers, never passed through in the payload.
_HEADER_KEYS = frozenset(
    {"id", "collapseId", "collapse_id", "channelId", "requestId", "pushType", "push_type", "topic", "expiry"}
    | {"priority", "expiration_time"}
)

# Push types whose topic is the bundle id with a suffix, as Apple names them.
_TOPIC_SUFFIXES = {
    "location": ".location-query",
    "voip": ".voip",
    "complication": ".complication",
    "fileprovider": ".pushkit.fileprovider",
    "liveactivity": ".push-type.liveactivity",
    "pushtotalk": ".voip-ptt",
}


class ApnsConfigError(ValueError):
    """APNs settings (Parse's `push.ios`, `osx`, `tvos`, `watchos`) that cannot work; the message says which and why."""


class ApnsUnavailableError(Exception):
    """No device could be tried: APNs unreachable or too slow, or the provider's credentials refused."""


class ProviderToken:
    """The ES256 JWT APNs takes in place of a certificate, minted again after 50 minutes or when APNs says so."""

    def __init__(
        self, key: EllipticCurvePrivateKey, key_id: str, team_id: str, clock: Callable[[], float] = time.time
    ) -> None:
        self.key, self.key_id, self.team_id, self.clock = key, key_id, team_id, clock
        self.generation = 0
        self.issued_at = 0
        self.current = ""

    def bearer(self) -> tuple[str, int]:
        """The token to send now, and its generation (to renew exactly this one when APNs refuses it)."""
        if not self.current or self.clock() - self.issued_at >= TOKEN_REUSE_SECONDS:
            self._mint()
        return self.current, self.generation

    def renew(self, generation: int) -> None:
        """APNs called the token of `generation` expired; the first request to say so mints the next one."""
        if generation == self.generation:
            self._mint()

    def _mint(self) -> None:
        self.issued_at = int(self.clock())
        self.current = jwt.encode(
            {"iss": self.team_id, "iat": self.issued_at}, self.key, algorithm="ES256", headers={"kid": self.key_id}
        )
        self.generation += 1


@dataclass(frozen=True, slots=True)
class Notification:
    """One payload and its headers, shared by every device of a message on one topic."""

    payload: bytes
    push_type: str
    priority: int
    expiration: int | None = None
    collapse_id: str | None = None
    topic: str | None = None
    """A topic given in the data, which wins over the device's and the app's."""
    notification_id: str | None = None

    def headers(self, topic: str) -> dict[str, str]:
        headers = {
            "apns-topic": self.topic or topic + _TOPIC_SUFFIXES.get(self.push_type, ""),
            "apns-push-type": self.push_type,
            "apns-priority": str(self.priority),
        }
        if self.expiration is not None:
            headers["apns-expiration"] = str(self.expiration)
        if self.collapse_id:
            headers["apns-collapse-id"] = self.collapse_id
        if self.notification_id:
            headers["apns-id"] = self.notification_id
        return headers


def _is_set(value: Any) -> bool:
    return value is True or (is_number(value) and value == 1)


def notification_for(data: Mapping[str, Any], expiration_time: float | None = None) -> Notification:
    """Parse's push data as APNs' payload and headers (the mapping is described in the module docstring)."""
    aps: dict[str, Any] = dict(data["aps"]) if isinstance(data.get("aps"), Mapping) else {}
    payload: dict[str, Any] = {}
    for key, value in data.items():
        if key == "aps" or key in _HEADER_KEYS:
            continue
        if key == "alert":
            if isinstance(value, str | Mapping):
                title = aps.get("alert", {}).get("title") if isinstance(aps.get("alert"), Mapping) else None
                aps["alert"] = dict(value) if isinstance(value, Mapping) else value
                if title is not None:
                    _join_title(aps, title)
        elif key == "title":
            if isinstance(value, str):
                _join_title(aps, value)
        elif key == "badge":
            if is_number(value) and value == int(value):
                aps["badge"] = int(value)  # a badge counted up by the database may come back as 3.0
        elif key == "sound":
            if isinstance(value, str | Mapping):
                aps["sound"] = value
        elif key in ("content-available", "mutable-content"):
            if _is_set(value):
                aps[key] = 1
        elif key in ("category", "threadId", "thread-id", "targetContentIdentifier", "interruptionLevel"):
            if isinstance(value, str):
                aps[_APS_NAMES.get(key, key)] = value
        else:
            payload[key] = value
    payload["aps"] = aps

    silent = aps.get("content-available") == 1 and not any(k in aps for k in ("alert", "badge", "sound"))
    push_type = data.get("pushType") or data.get("push_type") or ("background" if silent else "alert")
    given_priority: Any = data.get("priority")
    # APNs refuses priority 10 for a background push: it is delivered when the device sees fit.
    priority = int(given_priority) if is_number(given_priority) else 5 if push_type == "background" else 10
    expiry: Any = data.get("expiry")
    if is_number(expiry):
        expiration: int | None = int(expiry)
    elif expiration_time is not None:
        expiration = round(expiration_time)
    else:
        expiration = None
    collapse_id = data.get("collapseId") or data.get("collapse_id")
    topic = data.get("topic")
    notification_id = data.get("id")
    return Notification(
        payload=orjson.dumps(payload),
        push_type=str(push_type),
        priority=priority,
        expiration=expiration,
        collapse_id=str(collapse_id) if collapse_id else None,
        topic=topic if isinstance(topic, str) and topic else None,
        notification_id=notification_id if isinstance(notification_id, str) and _is_uuid(notification_id) else None,
    )


_APS_NAMES = {
    "threadId": "thread-id",
    "targetContentIdentifier": "target-content-id",
    "interruptionLevel": "interruption-level",
}


def _join_title(aps: dict[str, Any], title: str) -> None:
    alert = aps.get("alert")
    if isinstance(alert, dict):
        alert["title"] = title
    elif alert is None:
        aps["alert"] = {"title": title}
    else:
        aps["alert"] = {"body": alert, "title": title}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _pem_or_file(value: Any, what: str) -> bytes:
    """Parse takes a key or a CA as the file's path or as its PEM text."""
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str) or not value:
        raise ApnsConfigError(f"{what} must be a file's path or PEM text")
    if "-----BEGIN" in value:
        return value.encode()
    try:
        return Path(value).read_bytes()
    except OSError as error:
        raise ApnsConfigError(f"{what}: cannot read {value}: {error.strerror}") from error


@dataclass(slots=True)
class _Provider:
    """One configured app: where it sends, as whom, and its connection."""

    topic: str | None
    production: bool
    base_url: str
    token: ProviderToken
    client: httpx.AsyncClient
    streams: asyncio.Semaphore


@dataclass(frozen=True, slots=True)
class _Attempt:
    """What one request told of one device: an outcome, or that the provider itself failed (`failure`)."""

    outcome: PushOutcome | None = None
    failure: str | None = None


class ApnsSender:
    """The `PushSender` for Apple's devices, built from one Apple key of Parse's `push` option (one app or a list),
    serving `device_types` (Parse gives each key its own: `ApnsSender(push["osx"], frozenset({"osx"}))`)."""

    def __init__(
        self,
        config: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        device_types: frozenset[str] = DEVICE_TYPES,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        apps = [config] if isinstance(config, Mapping) else list(config)
        if not apps:
            raise ApnsConfigError("the list of apps is empty")
        self.device_types = device_types
        # Production first, as Parse orders its providers (a stable sort keeps the given order otherwise).
        self._providers = sorted((self._provider(app, clock) for app in apps), key=lambda p: not p.production)
        self._one_topic = len({p.topic for p in self._providers}) == 1
        """Every app has the same topic: a device that names none is sent through them all."""

    @staticmethod
    def _provider(app: Mapping[str, Any], clock: Callable[[], float]) -> _Provider:
        if not isinstance(app, Mapping):
            raise ApnsConfigError("must be an object or a list of objects")
        token = app.get("token")
        if not isinstance(token, Mapping):
            if any(app.get(key) for key in ("cert", "key", "pfx")):
                raise ApnsConfigError(
                    "certificate authentication is not supported; use token authentication "
                    '({"token": {"key": <.p8 file>, "keyId", "teamId"}, "topic"})'
                )
            raise ApnsConfigError('needs "token": {"key": <.p8 file or its text>, "keyId", "teamId"}')
        for name in ("keyId", "teamId"):
            if not isinstance(token.get(name), str) or not token[name]:
                raise ApnsConfigError(f"token.{name} is missing")
        try:
            key = load_pem_private_key(_pem_or_file(token.get("key"), "token.key"), password=None)
        except ValueError as error:
            raise ApnsConfigError(f"token.key is not a PEM private key: {error}") from error
        if not isinstance(key, EllipticCurvePrivateKey):
            raise ApnsConfigError("token.key must be an elliptic-curve key (Apple's .p8)")
        topic = app.get("topic") or app.get("bundleId")  # bundleId: Parse's older name for topic
        production = app.get("production") is True
        address = app.get("address") or (PRODUCTION_HOST if production else SANDBOX_HOST)
        port = int(app.get("port", 443))
        verify: ssl.SSLContext | bool = True
        if app.get("ca"):
            verify = ssl.create_default_context(cadata=_pem_or_file(app["ca"], "ca").decode())
        timeout = float(app.get("requestTimeout", DEFAULT_TIMEOUT_MS)) / 1000
        client = httpx.AsyncClient(
            http2=True,
            verify=verify,
            timeout=timeout,
            # One connection per app: requests are streams on it, as Apple asks providers to keep them.
            limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
        )
        return _Provider(
            topic=str(topic) if topic else None,
            production=production,
            base_url=f"https://{address}:{port}",
            token=ProviderToken(key, token["keyId"], token["teamId"], clock),
            client=client,
            streams=asyncio.Semaphore(int(app.get("concurrency", DEFAULT_CONCURRENCY))),
        )

    @property
    def endpoints(self) -> list[str]:
        """Where each app sends, production first."""
        return [provider.base_url for provider in self._providers]

    def _providers_for(self, app_identifier: str | None) -> list[_Provider]:
        chosen = [p for p in self._providers if p.topic == app_identifier]
        if not chosen:
            chosen = [p for p in self._providers if not p.topic]
        if not chosen and app_identifier is None and self._one_topic:
            chosen = list(self._providers)
        return chosen

    async def send(self, message: PushMessage) -> list[PushOutcome]:
        notification = notification_for(message.data, message.expiration_time)
        down: dict[int, str] = {}  # providers found unreachable during this send are not tried again
        attempts = await asyncio.gather(*(self._deliver(device, notification, down) for device in message.devices))
        if attempts and all(attempt.failure is not None for attempt in attempts):
            raise ApnsUnavailableError(f"APNs: {attempts[0].failure}")
        return [
            attempt.outcome or PushOutcome(device, sent=False, error=attempt.failure)
            for device, attempt in zip(message.devices, attempts, strict=True)
        ]

    async def _deliver(self, device: PushDevice, notification: Notification, down: dict[int, str]) -> _Attempt:
        app_identifier = device.app_identifier
        providers = self._providers_for(app_identifier)
        if not providers:
            return _Attempt(PushOutcome(device, sent=False, error="No Provider found"))
        attempt = _Attempt(failure="no provider tried")
        for provider in providers:
            topic = app_identifier or provider.topic
            if topic is None:
                return _Attempt(PushOutcome(device, sent=False, error="MissingTopic"))
            attempt = await self._request(provider, device, notification, topic, down)
            # Only a token this environment does not know may belong to the next (sandbox) app: any other
            # answer stands, lest the sandbox call a production token bad and Parse clear it.
            if attempt.outcome is None or attempt.outcome.error != "BadDeviceToken":
                break
        return attempt

    async def _request(
        self, provider: _Provider, device: PushDevice, notification: Notification, topic: str, down: dict[int, str]
    ) -> _Attempt:
        url = f"{provider.base_url}/3/device/{device.device_token}"
        headers = notification.headers(topic)
        renewed = reconnected = False
        while id(provider) not in down:
            bearer, generation = provider.token.bearer()
            try:
                async with provider.streams:
                    response = await provider.client.post(
                        url, content=notification.payload, headers={**headers, "authorization": f"bearer {bearer}"}
                    )
            except (httpx.ReadTimeout, httpx.WriteTimeout) as error:
                return _Attempt(failure=f"no answer from {provider.base_url} in time ({type(error).__name__})")
            except httpx.TransportError as error:
                # APNs closes idle connections (GOAWAY): the pool opens a new one, tried once.
                if reconnected or isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout):
                    down[id(provider)] = f"{provider.base_url} unreachable: {type(error).__name__} {error}"
                reconnected = True
                continue
            if response.status_code == 200:
                return _Attempt(PushOutcome(device, sent=True))
            reason = _reason(response)
            if response.status_code == 403 and reason == "ExpiredProviderToken" and not renewed:
                provider.token.renew(generation)
                renewed = True
                continue
            if reason in CREDENTIAL_REASONS or (response.status_code == 403 and reason == "ExpiredProviderToken"):
                return _Attempt(failure=f"credentials refused by {provider.base_url}: {reason}")
            return _Attempt(PushOutcome(device, sent=False, error=reason, unregistered=reason in UNREGISTERED_REASONS))
        return _Attempt(failure=down[id(provider)])

    async def close(self) -> None:
        for provider in self._providers:
            await provider.client.aclose()


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("reason"), str):
        return str(body["reason"])
    return f"HTTP {response.status_code}"
