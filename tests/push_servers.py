"""Local servers that speak the push providers' protocols, for tests that cannot reach the real services.

`FcmServer` is Firebase Cloud Messaging's HTTP v1 API as a service account sees it: an OAuth2 token endpoint that
checks the signed JWT assertion (RS256, with the account's public key) and hands out access tokens, and
`messages:send`, which checks the bearer token and the message and answers FCM's own success and error bodies.
Tokens it is told to refuse answer as FCM answers an unregistered or malformed registration token.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import on_a_free_port

PROJECT_ID = "parseql-test"
CLIENT_EMAIL = "firebase-adminsdk@parseql-test.iam.gserviceaccount.com"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
UNAUTHENTICATED = {
    "error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
        "other valid authentication credential.",
        "status": "UNAUTHENTICATED",
    }
}


def _fcm_error(code: int, status: str, message: str, error_code: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": error_code}],
        }
    }


@dataclass
class FcmServer:
    """The FCM v1 API on a free local port; `messages` holds every message it accepted, in order."""

    unregistered: set[str] = field(default_factory=set)
    """Tokens answered 404 UNREGISTERED (an app uninstalled)."""
    invalid: set[str] = field(default_factory=set)
    """Tokens answered 400 INVALID_ARGUMENT (not a registration token at all)."""
    unavailable: dict[str, int] = field(default_factory=dict)
    """Tokens answered 503 UNAVAILABLE (with `Retry-After: 0`) this many more times before they are accepted."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    refuse_grants: bool = False
    """Refuse every service account at the token endpoint (a key revoked in Google's console)."""
    tokens_issued: int = 0
    url: str = ""
    _key: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    _access_tokens: dict[str, float] = field(default_factory=dict)
    _arrived: asyncio.Condition | None = None

    def service_account(self) -> dict[str, Any]:
        """A service account JSON as Google issues one, its token endpoint here."""
        pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        return {
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": "test-key-1",
            "private_key": pem,
            "client_email": CLIENT_EMAIL,
            "client_id": "1234567890",
            "token_uri": f"{self.url}/token",
        }

    async def wait_for(self, count: int, seconds: float = 10.0) -> list[dict[str, Any]]:
        """The messages once `count` of them (accepted or refused) have arrived."""
        assert self._arrived is not None
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.messages) + len(self.refused) >= count), seconds
            )
        return self.messages

    def forget_tokens(self) -> None:
        """Revoke every access token issued so far."""
        self._access_tokens.clear()

    async def message_to(self, token: str, seconds: float = 10.0) -> dict[str, Any]:
        """The first message accepted for `token`, once it has arrived."""
        assert self._arrived is not None

        def found() -> dict[str, Any] | None:
            return next((m for m in self.messages if m.get("token") == token), None)

        async with self._arrived:
            await asyncio.wait_for(self._arrived.wait_for(lambda: found() is not None), seconds)
        message = found()
        assert message is not None
        return message

    async def _token(self, request: Request) -> JSONResponse:
        form = await request.form()
        if self.refuse_grants:
            return JSONResponse({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        try:
            claims = jwt.decode(
                str(form.get("assertion")),
                self._key.public_key(),
                algorithms=["RS256"],
                audience=f"{self.url}/token",
                issuer=CLIENT_EMAIL,
            )
        except jwt.PyJWTError as error:
            return JSONResponse({"error": "invalid_grant", "error_description": f"Invalid JWT: {error}"}, 400)
        if claims.get("scope") != SCOPE:
            return JSONResponse({"error": "invalid_scope", "error_description": "Invalid OAuth scope."}, 400)
        token = f"ya29.{secrets.token_urlsafe(32)}"
        self._access_tokens[token] = time.time() + 3600
        self.tokens_issued += 1
        return JSONResponse({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})

    async def _send(self, request: Request) -> JSONResponse:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self._access_tokens.get(bearer, 0) < time.time():
            return JSONResponse(UNAUTHENTICATED, 401)
        if request.path_params["project"] != PROJECT_ID:
            return JSONResponse(_fcm_error(403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH"), 403)
        message = (await request.json()).get("message") or {}
        token = message.get("token")
        android = message.get("android") or {}
        if not token or any(not isinstance(value, str) for value in (android.get("data") or {}).values()):
            invalid = _fcm_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.", "INVALID_ARGUMENT")
            return await self._answer(token, invalid, 400)
        if self.unavailable.get(token, 0) > 0:
            self.unavailable[token] -= 1
            busy = _fcm_error(503, "UNAVAILABLE", "The service is currently unavailable.", "UNAVAILABLE")
            return JSONResponse(busy, 503, headers={"Retry-After": "0"})
        if token in self.unregistered:
            return await self._answer(
                token, _fcm_error(404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED"), 404
            )
        if token in self.invalid:
            message_text = "The registration token is not a valid FCM registration token"
            return await self._answer(token, _fcm_error(400, "INVALID_ARGUMENT", message_text, "INVALID_ARGUMENT"), 400)
        assert self._arrived is not None
        async with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()
        return JSONResponse({"name": f"projects/{PROJECT_ID}/messages/0:{secrets.token_hex(8)}"})

    async def _answer(self, token: Any, body: dict[str, Any], status: int) -> JSONResponse:
        assert self._arrived is not None
        async with self._arrived:
            self.refused.append(str(token))
            self._arrived.notify_all()
        return JSONResponse(body, status)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/token", self._token, methods=["POST"]),
                Route("/v1/projects/{project}/messages:send", self._send, methods=["POST"]),
            ]
        )


@contextlib.asynccontextmanager
async def fcm_server() -> AsyncIterator[FcmServer]:
    """An `FcmServer` listening on a free port of this machine while the block runs."""
    fcm = FcmServer()
    fcm._arrived = asyncio.Condition()
    config = uvicorn.Config(fcm.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    async with on_a_free_port(uvicorn.Server(config)) as address:
        fcm.url = f"http://{address}"
        yield fcm
