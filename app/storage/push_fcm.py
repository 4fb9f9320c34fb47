"""Firebase Cloud Messaging (HTTP v1): a `PushSender` for Android installations, signed in with a service account.

The service account (`firebaseServiceAccount` in Parse's push option: the JSON Google gives, or the path of its
file) signs a JWT (RS256, its private key) that its `token_uri` trades for an OAuth2 access token (the JWT bearer
grant); the token is kept until a minute before it expires. Each device is then one
`POST {base_url}/v1/projects/{project_id}/messages:send`, a few at a time. The message is the one Parse's FCM
adapter (@parse/push-adapter) builds for Android, which the Parse Android SDK reads: `android.data` holds `push_id`,
`time` and the whole push `data` as a JSON string, at high priority, with a time to live from `expiration_time`;
for Apple devices sent through FCM, an `apns` payload (`aps` and the custom keys) with APNs headers.

An answer FCM asks to be tried again (429, 5xx) is, twice at most, after its `Retry-After` (or half a second,
doubling). FCM's UNREGISTERED, and its INVALID_ARGUMENT when it says the token itself is not valid, mark a device
unregistered; an INVALID_ARGUMENT about the message would be the same for every device, so it does not.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import string
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt

from app.domain.push_delivery import PushDevice, PushMessage, PushOutcome, json_text
from app.domain.values import iso

log = logging.getLogger("app.push")

FCM_URL = "https://fcm.googleapis.com"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
MAX_TTL = 4 * 7 * 24 * 3600
"""FCM keeps a message four weeks at most."""
APNS_INTEGER_KEYS = ("badge", "content-available", "mutable-content", "priority", "expiration_time")
"""Keys Parse leaves out of an Android message's data (FCM refused them as numbers in its older API)."""
TRANSIENT = frozenset({429, 500, 502, 503, 504})
"""FCM's answers worth trying again (QUOTA_EXCEEDED, INTERNAL, UNAVAILABLE), after a pause."""
RETRIES = 2
MAX_RETRY_DELAY = 10.0
TOKEN_MARGIN = 60.0
"""Seconds before an access token's expiry when a new one is fetched instead."""


class FcmConfigError(ValueError):
    """The FCM part of the push option cannot be used; the message says why."""


def service_account(value: Any) -> dict[str, Any]:
    """The service account a push option names: the object itself, or the path of its JSON file."""
    if isinstance(value, str):
        try:
            value = json.loads(Path(value).expanduser().read_text())
        except (OSError, ValueError) as error:
            raise FcmConfigError(f"firebaseServiceAccount: cannot read {value}: {error}") from None
    if not isinstance(value, Mapping):
        raise FcmConfigError("firebaseServiceAccount must be a service account object or the path of its file")
    missing = [key for key in ("project_id", "private_key", "client_email") if not value.get(key)]
    if missing:
        raise FcmConfigError(f"firebaseServiceAccount lacks {', '.join(missing)}")
    return dict(value)


class FcmSender:
    """Sends Parse pushes to the devices FCM serves: `android` and `fcm` as Parse's adapter does, and Apple devices
    when the push option gives them a service account too (`apple`: the message carries an APNs payload)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        device_types: frozenset[str] = frozenset({"android"}),
        *,
        apple: bool = False,
        base_url: str | None = None,
        concurrency: int = 16,
        timeout: float = 30.0,
    ) -> None:
        account = service_account(config.get("firebaseServiceAccount"))
        self.device_types = device_types
        self.apple = apple
        self.project_id = str(account["project_id"])
        self._email = str(account["client_email"])
        self._key = str(account["private_key"])
        self._key_id = account.get("private_key_id")
        self.token_uri = str(account.get("token_uri") or GOOGLE_TOKEN_URI)
        self.base_url = (base_url or FCM_URL).rstrip("/")
        self.send_url = f"{self.base_url}/v1/projects/{self.project_id}/messages:send"
        self._slots = asyncio.Semaphore(concurrency)
        self._client = httpx.AsyncClient(timeout=timeout)
        self._token: str | None = None
        self._token_expires = 0.0
        self._token_lock = asyncio.Lock()

    async def send(self, message: PushMessage) -> list[PushOutcome]:
        """One request per device; raises only when no access token can be had (then nothing was tried)."""
        await self._access_token()
        payload = apple_message(message) if self.apple else android_message(message)
        return list(await asyncio.gather(*(self._send_one(device, payload) for device in message.devices)))

    async def close(self) -> None:
        await self._client.aclose()

    async def _send_one(self, device: PushDevice, payload: Mapping[str, Any]) -> PushOutcome:
        url = self.send_url
        body = {"message": {"token": device.device_token, **payload}}
        async with self._slots:
            try:
                response = await self._post(url, body)
                if response.status_code == 401:
                    # The token was revoked or expired early: one more try with a new one.
                    await self._access_token(renew=True)
                    response = await self._post(url, body)
                for attempt in range(RETRIES):
                    if response.status_code not in TRANSIENT:
                        break
                    await asyncio.sleep(_retry_delay(response, attempt))
                    response = await self._post(url, body)
            except httpx.HTTPError as error:
                return PushOutcome(device, sent=False, error=f"FCM unreachable: {error!r}")
        if response.is_success:
            return PushOutcome(device, sent=True)
        code, text = fcm_error(response)
        log.info("FCM refused a message for %s: %s %s", device.device_token[:12], code, text)
        return PushOutcome(device, sent=False, error=f"{code}: {text}", unregistered=unregistered(code, text))

    async def _post(self, url: str, body: Mapping[str, Any]) -> httpx.Response:
        return await self._client.post(url, json=body, headers={"Authorization": f"Bearer {self._token}"})

    async def _access_token(self, *, renew: bool = False) -> str:
        async with self._token_lock:
            if self._token and not renew and time.time() < self._token_expires - TOKEN_MARGIN:
                return self._token
            now = int(time.time())
            claims = {"iss": self._email, "scope": SCOPE, "aud": self.token_uri, "iat": now, "exp": now + 3600}
            headers = {"kid": self._key_id} if self._key_id else None
            assertion = jwt.encode(claims, self._key, algorithm="RS256", headers=headers)
            try:
                response = await self._client.post(
                    self.token_uri, data={"grant_type": JWT_BEARER, "assertion": assertion}
                )
            except httpx.HTTPError as error:
                raise RuntimeError(f"FCM: the token endpoint {self.token_uri} cannot be reached: {error!r}") from None
            if not response.is_success:
                raise RuntimeError(f"FCM: the token endpoint refused the service account: {response.text[:300]}")
            answer = response.json()
            self._token = str(answer["access_token"])
            self._token_expires = time.time() + float(answer.get("expires_in", 3600))
            return self._token


def android_message(message: PushMessage, now: float | None = None) -> dict[str, Any]:
    """The FCM message fields (beside `token`) for Android, as Parse's FCM adapter maps a push."""
    now = time.time() if now is None else now
    data = {key: value for key, value in message.data.items() if key not in APNS_INTEGER_KEYS}
    android: dict[str, Any] = {
        "priority": "high",
        "data": {
            "push_id": message.push_id or _random_id(),
            "time": iso(datetime.fromtimestamp(now, UTC)),
            "data": json_text(data),
        },
    }
    if message.expiration_time is not None:
        # Parse hands firebase-admin seconds where it reads milliseconds (a TTL a thousand times too short);
        # FCM's v1 API takes seconds, written "<n>s".
        ttl = min(max(int(message.expiration_time - now), 0), MAX_TTL)
        android["ttl"] = f"{ttl}s"
    return {"android": android}


APS_KEYS = {
    "badge": "badge",
    "sound": "sound",
    "content-available": "content-available",
    "mutable-content": "mutable-content",
    "category": "category",
    "targetContentIdentifier": "target-content-id",
    "interruptionLevel": "interruption-level",
    "threadId": "thread-id",
}
"""Push keys that go into `aps` for an Apple device (by the name APNs gives them)."""
HEADER_KEYS = ("expiration_time", "collapse_id", "push_type", "priority")


def apple_message(message: PushMessage) -> dict[str, Any]:
    """The FCM message fields (beside `token`) for an Apple device, as Parse's FCM adapter maps a push: `aps`
    from Parse's keys, every other key beside it, and APNs headers (as text, which FCM requires)."""
    data = message.data
    headers = {"apns-push-type": str(data.get("push_type") or "alert")}
    if message.expiration_time is not None:
        headers["apns-expiration"] = str(round(message.expiration_time))
    if data.get("collapse_id"):
        headers["apns-collapse-id"] = str(data["collapse_id"])
    if data.get("priority"):
        headers["apns-priority"] = str(data["priority"])
    aps: dict[str, Any] = dict(data["aps"]) if isinstance(data.get("aps"), Mapping) else {}
    payload: dict[str, Any] = {}
    for key, value in data.items():
        if key == "alert":
            # Merged, where Parse replaces a title seen before the alert.
            alert = dict(value) if isinstance(value, Mapping) else {"body": value}
            aps["alert"] = {**aps.get("alert", {}), **alert}
        elif key == "title":
            aps["alert"] = {**aps.get("alert", {}), "title": value}
        elif key in APS_KEYS:
            aps[APS_KEYS[key]] = value
        elif key not in ("aps", *HEADER_KEYS):
            payload[key] = value
    return {"apns": {"headers": headers, "payload": {"aps": aps, **payload}}}


def fcm_error(response: httpx.Response) -> tuple[str, str]:
    """FCM's error code (`UNREGISTERED`, `INVALID_ARGUMENT`, …) and message from a refusal."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return str(response.status_code), response.text[:200]
    code = str(error.get("status") or response.status_code)
    for detail in error.get("details") or ():
        if isinstance(detail, Mapping) and detail.get("errorCode"):
            code = str(detail["errorCode"])
    return code, str(error.get("message", ""))


def unregistered(code: str, message: str) -> bool:
    """Whether FCM says the token will never work again."""
    if code == "UNREGISTERED":
        return True
    return code == "INVALID_ARGUMENT" and "registration token" in message.lower()


def _retry_delay(response: httpx.Response, attempt: int) -> float:
    """FCM's `Retry-After` when it gives one, else half a second doubling; never more than MAX_RETRY_DELAY."""
    try:
        delay = float(response.headers["retry-after"])
    except (KeyError, ValueError):
        delay = 0.5 * 2**attempt
    return min(max(delay, 0.0), MAX_RETRY_DELAY)


def _random_id() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10))
