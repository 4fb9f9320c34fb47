"""What every HTTP transport shares: Parse's CORS headers, JSON and error bodies, credentials from headers,
bounded request bodies, and the public address of `/parse`."""

from __future__ import annotations

import base64
import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.errors import AppError, InvalidJSONError, PayloadTooLargeError
from app.settings import Settings
from app.transport.context import Credentials
from app.transport.wire import dump_json, parse_json

log = logging.getLogger("app.http")

PARSE_MOUNT = "/parse"
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET,PUT,POST,DELETE,OPTIONS",
    "Access-Control-Allow-Headers": (
        "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
        "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
        "X-Parse-Request-Id, Content-Type, Pragma, Cache-Control"
    ),
    "Access-Control-Expose-Headers": "X-Parse-Job-Status-Id, X-Parse-Push-Status-Id",
}
JSON_TYPE = "application/json; charset=utf-8"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump_json(body), status, {**CORS_HEADERS, **(headers or {})}, JSON_TYPE)


def error_response(error: AppError) -> Response:
    if error.detail:
        log.info("refused: %s", error.detail)
    if error.code is None:
        return json_response({"error": error.message}, error.status)
    return json_response({"code": error.code, "error": error.message}, error.status)


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    """`Authorization: Basic base64(appId:masterKey)`, which Parse accepts instead of the key headers."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    app_id, separator, key = decoded.partition(":")
    return (app_id, key) if separator else None


def header_credentials(headers: Headers) -> Credentials:
    """The keys and token a client sent in headers (or as HTTP basic auth, which Parse also reads)."""
    credentials = Credentials(
        app_id=headers.get("x-parse-application-id"),
        master_key=headers.get("x-parse-master-key"),
        session_token=headers.get("x-parse-session-token"),
        installation_id=headers.get("x-parse-installation-id"),
        client_version=headers.get("x-parse-client-version"),
    )
    basic = _basic_auth(headers.get("authorization"))
    if basic is not None:
        credentials.app_id = basic[0]
        if not basic[1].startswith("javascript-key="):
            credentials.master_key = basic[1] or credentials.master_key
    context = headers.get("x-parse-cloud-context")
    if context is not None:
        try:
            credentials.context = parse_json(context)
        except ValueError:
            credentials.context = None  # type: ignore[assignment]
        if not isinstance(credentials.context, dict):
            raise InvalidJSONError("Invalid object for context.")
    return credentials


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLargeError("request entity too large")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError("request entity too large")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_mount_url(request: HTTPConnection, settings: Settings) -> str:
    """Where clients reach `/parse`: the configured public URL, or the address this request (or
    websocket) came to."""
    if settings.server_url:
        return settings.public_url
    scheme = {"ws": "http", "wss": "https"}.get(request.url.scheme, request.url.scheme)
    return f"{scheme}://{request.url.netloc}{PARSE_MOUNT}"


class HttpEndpoint:
    """An ASGI app that answers each HTTP request with `handle`: the shape of every endpoint under /parse."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.handle(Request(scope, receive))
        except ClientDisconnect:
            return  # the client left (or was too slow) before its body was read: no one to answer
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        raise NotImplementedError
