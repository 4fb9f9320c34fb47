"""HTTP under `/parse` to REST calls: bodies, the JS SDK's body overrides, CORS, and Parse's error bodies."""

from __future__ import annotations

import base64
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.errors import AppError, InvalidJSONError, PayloadTooLargeError
from app.transport.context import Credentials, Services, authenticate, file_encoder
from app.transport.rest.router import RestCall, RouteNotFound, Router
from app.transport.wire import dump_json, parse_json

log = logging.getLogger("app.rest")

MOUNT = "/parse"
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
# Routes that ignore a session token (a stale token must not stop a login).
_TOKENLESS = ("/login",)
_EXPRESS_404 = (
    '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>Error</title>\n</head>\n'
    "<body>\n<pre>Cannot {method} {path}</pre>\n</body>\n</html>\n"
)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dump_json(body), status, {**CORS_HEADERS, **(headers or {})}, JSON_TYPE)


def error_response(error: AppError) -> Response:
    if error.detail:
        log.info("refused: %s", error.detail)
    if error.code is None:
        return json_response({"error": error.message}, error.status)
    return json_response({"code": error.code, "error": error.message}, error.status)


def _query(request: Request) -> dict[str, Any]:
    """Query-string values, each read as JSON when it parses (`limit=10` is a number, `where` an object)."""
    result: dict[str, Any] = {}
    for key, value in request.query_params.items():
        try:
            result[key] = parse_json(value)
        except ValueError:
            result[key] = value
    return result


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


def _credentials(request: Request, body: Any) -> Credentials:
    headers = request.headers
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
    if not isinstance(body, dict):
        return credentials
    body.pop("_noBody", None)
    if credentials.app_id is None:
        body.pop("_RevocableSession", None)
        if "_ApplicationId" in body:
            # The JS SDK sends its keys in the body to avoid CORS preflights.
            credentials.app_id = body.pop("_ApplicationId")
            body.pop("_JavaScriptKey", None)
            body.pop("_ClientVersion", None)
            for field, attribute in (
                ("_InstallationId", "installation_id"),
                ("_SessionToken", "session_token"),
                ("_MasterKey", "master_key"),
            ):
                value = body.pop(field, None)
                if value is not None:
                    if not isinstance(value, str):
                        credentials.app_id = None
                    setattr(credentials, attribute, value)
            if "_context" in body:
                context_value = body.pop("_context")
                if isinstance(context_value, str):
                    try:
                        context_value = parse_json(context_value)
                    except ValueError:
                        context_value = None
                if not isinstance(context_value, dict):
                    raise InvalidJSONError("Invalid object for context.")
                credentials.context = context_value
            body.pop("_ContentType", None)
    return credentials


class RestEndpoint:
    """The ASGI app mounted at /parse."""

    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    def mount_url(self, request: Request) -> str:
        if self.services.settings.server_url:
            return self.services.settings.public_url
        return f"{request.url.scheme}://{request.url.netloc}{MOUNT}"

    async def _read_body(self, request: Request) -> bytes:
        limit = self.services.settings.max_upload_size
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

    async def handle(self, request: Request) -> Response:
        path = request.url.path[len(MOUNT) :] or "/"
        method = request.method
        if method == "OPTIONS":
            return Response(b"OK", 200, CORS_HEADERS, "text/plain; charset=utf-8")
        if path.rstrip("/") == "/health":
            return json_response(
                {"status": "ok"} if self.services.started else {"status": "starting"},
                200 if self.services.started else 503,
            )
        try:
            raw = await self._read_body(request)
            body: Any = None
            if raw.strip():
                try:
                    body = parse_json(raw)
                except ValueError as error:
                    raise InvalidJSONError(f"Invalid JSON: {error}") from None
                if not isinstance(body, dict | list):
                    raise InvalidJSONError("The request body must be a JSON object.")
            if method == "POST" and isinstance(body, dict) and "_method" in body:
                override = body.pop("_method")
                if isinstance(override, str):
                    method = override.upper()
            credentials = _credentials(request, body)
            client = request.client.host if request.client else None
            auth = await authenticate(
                self.services, credentials, client, use_session=path.rstrip("/") not in _TOKENLESS
            )
            try:
                handler, params = self.router.match(method, path.rstrip("/") or "/")
            except RouteNotFound:
                return Response(
                    _EXPRESS_404.format(method=method, path=request.url.path),
                    404,
                    {**CORS_HEADERS, "Content-Security-Policy": "default-src 'none'"},
                    "text/html; charset=utf-8",
                )
            mount = self.mount_url(request)
            encoder = file_encoder(mount, self.services.settings.app_id)
            call = RestCall(
                method, path, params, _query(request), body, auth, self.services, credentials, mount, encoder
            )
            result = await handler(call)
            return json_response(result.body, result.status, result.headers)
        except AppError as error:
            if error.code == 1:
                log.error("internal error on %s %s: %s", method, path, error.detail or error.message)
            return error_response(error)
        except Exception:
            log.exception("unexpected error on %s %s", method, path)
            return json_response({"code": 1, "message": "Internal server error."}, 500)
