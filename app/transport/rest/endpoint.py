"""HTTP under `/parse` to REST calls: bodies, the JS SDK's body overrides, CORS, and Parse's error bodies."""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from app.domain.rate_limits import LimitedRequest
from app.errors import AppError, DatabaseUnavailableError, InvalidJSONError
from app.transport.callers import Credentials, RateCheck, Services, authenticate, file_encoder
from app.transport.http import (
    CLIENT_GONE_STATUS,
    CORS_HEADERS,
    AbandonedReads,
    ClientGone,
    HttpEndpoint,
    error_response,
    header_credentials,
    json_response,
    parse_mount_url,
    read_body,
    route_not_found,
)
from app.transport.rest.router import RestCall, RouteNotFound, Router
from app.transport.wire import JSONTooDeepError, parse_json

log = logging.getLogger("app.rest")

MOUNT = "/parse"
# Routes that ignore a session token (a stale token must not stop a login).
_TOKENLESS = ("/login",)


def _query(request: Request) -> dict[str, Any]:
    """Query-string values, each read as JSON when it parses (`limit=10` is a number, `where` an object)."""
    result: dict[str, Any] = {}
    for key, value in request.query_params.items():
        try:
            result[key] = parse_json(value)
        except JSONTooDeepError as error:
            raise InvalidJSONError(f"{key} parameter is {error}") from None
        except ValueError:
            result[key] = value
    return result


def _credentials(request: Request, body: Any) -> Credentials:
    credentials = header_credentials(request.headers)
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


def _only_reads(method: str, route: str) -> bool:
    """Whether a request only reads, and so is cancelled when its client goes away: every GET (after the JS
    SDK's `_method` override) but a log-in, which creates a session. Authenticating, which may extend a
    session, is done before."""
    return method == "GET" and route != "/login"


class RestEndpoint(HttpEndpoint):
    """The ASGI app mounted at /parse."""

    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router
        self.abandoned = AbandonedReads()

    async def handle(self, request: Request) -> Response:
        path = request.url.path[len(MOUNT) :] or "/"
        method = request.method
        if method == "OPTIONS":
            return Response(b"OK", 200, CORS_HEADERS, "text/plain; charset=utf-8")
        if path.rstrip("/") == "/health":
            return await self.health()
        try:
            raw = await read_body(request, self.services.settings.max_upload_size)
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
            route = path.rstrip("/")
            use_session = route not in _TOKENLESS
            token = credentials.session_token if use_session else None
            # Counted only when there are rules: no objects on the hot path otherwise.
            rate_check = (
                RateCheck(LimitedRequest((path,), method, client, token)) if self.services.rate_limits.rules else None
            )
            auth = await authenticate(
                self.services,
                credentials,
                client,
                use_session=use_session,
                legacy_session=route == "/upgradeToRevocableSession",
                rate_check=rate_check,
            )
            self.services.allowed_routes.require_allowed(auth, method, path)
            try:
                matched, params = self.router.match(method, path.rstrip("/") or "/")
            except RouteNotFound:
                return route_not_found(method, request.url.path)
            mount = parse_mount_url(request, self.services.settings)
            encoder = file_encoder(mount, self.services.settings.app_id)
            call = RestCall(
                method, path, params, _query(request), body, auth, self.services, credentials, mount, encoder
            )
            if matched.idempotent:
                await self.services.idempotency.require_new(request.headers.get("x-parse-request-id"), path)
            if _only_reads(method, route):
                async with self.abandoned.watch(request.receive):
                    result = await matched.handler(call)
            else:
                result = await matched.handler(call)
            quota = rate_check.quota if rate_check is not None else None
            headers = {**result.headers, **quota.headers()} if quota else result.headers
            return json_response(result.body, result.status, headers)
        except ClientGone:
            log.info("%s %s cancelled: its client went away", method, path)
            return Response(status_code=CLIENT_GONE_STATUS)
        except AppError as error:
            if error.code == 1 and not isinstance(error, DatabaseUnavailableError):  # the storage logs outages
                log.error("internal error on %s %s: %s", method, path, error.detail or error.message)
            return error_response(error)
        except ClientDisconnect:
            raise  # not an error of ours: HttpEndpoint answers no one
        except Exception:
            log.exception("unexpected error on %s %s", method, path)
            return json_response({"code": 1, "message": "Internal server error."}, 500)

    async def health(self) -> Response:
        """Parse's `{"status": …}`: 503 `starting` until the server is ready, and (beyond Parse, which keeps
        answering ok) 503 `error`, Parse's word for a server without its database, while the database does not
        answer a ping within a second."""
        if not self.services.started:
            return json_response({"status": "starting"}, 503)
        try:
            await self.services.storage.ping()
        except DatabaseUnavailableError:
            return json_response({"status": "error"}, 503)
        return json_response({"status": "ok"})
