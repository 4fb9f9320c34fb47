"""`/batch`: many REST calls in one request, run through the same route table with the same caller."""

from __future__ import annotations

import asyncio
import logging
import posixpath
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from app.domain.rate_limits import LimitedRequest
from app.errors import AppError, DatabaseUnavailableError, InvalidJSONError
from app.transport.rest.router import Handler, RestCall, RestResponse, RouteNotFound, Router

log = logging.getLogger(__name__)


def make_batch(router_of: Callable[[], Router]) -> Handler:
    """The batch handler for a router (built after the table, which contains the handler itself)."""

    async def batch(call: RestCall) -> RestResponse:
        router = router_of()
        requests = call.json_body().get("requests")
        if not isinstance(requests, list):
            raise InvalidJSONError("requests must be an array")
        call.services.objects.settings.limits.require_batch_size(call.auth, len(requests))
        prefix = "/parse" + (call.path[: -len("/batch")] if call.path.endswith("/batch") else "")
        planned = []
        for request in requests:
            if not isinstance(request, dict) or not isinstance(request.get("path"), str):
                raise InvalidJSONError("batch request path must be a string")
            path: str = request["path"]
            if not path.startswith(prefix):
                raise InvalidJSONError(f"cannot route batch path {path}")
            routable = posixpath.join("/", path[len(prefix) :])
            method = request.get("method")
            method = method.upper() if isinstance(method, str) else "undefined"
            if method == "POST" and routable == "/batch":
                raise InvalidJSONError("nested batch requests are not allowed")
            # Allowed routes hold for each sub-request, or allowing `batch` would open every route.
            call.services.allowed_routes.require_allowed(call.auth, method, routable)
            if call.services.rate_limits.rules:
                # Each sub-request counts toward the rate limits of its own path, as Parse counts them.
                token = None if routable.rstrip("/") == "/login" else call.credentials.session_token
                limited = LimitedRequest((routable,), method, call.auth.origin.ip, token, in_batch=True)
                await call.services.rate_limits.require_allowed(call.auth, limited, _user_id(call))
            # Every sub-request must route before any runs: Parse fails the whole batch otherwise.
            try:
                route, params = router.match(method, routable.rstrip("/") or "/")
            except RouteNotFound:
                raise InvalidJSONError(f"cannot route {method} {routable}") from None
            sub = replace(call, method=method, path=routable, params=params, query={}, body=request.get("body"))
            planned.append((route.handler, sub))
        if call.json_body().get("transaction") is True:
            return RestResponse(await _in_transaction(call, planned))
        # Parse runs the sub-requests concurrently and answers in request order.
        results = await asyncio.gather(*(_run(handler, sub) for handler, sub in planned))
        return RestResponse(list(results))

    return batch


def _user_id(call: RestCall) -> Callable[[], Awaitable[str | None]]:
    async def user_id() -> str | None:
        return call.auth.user_id

    return user_id


class _RolledBack(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        self.error = error


async def _in_transaction(call: RestCall, planned: list[tuple[Handler, RestCall]]) -> list[dict[str, Any]]:
    """All sub-requests or none: one after another in a database transaction (a session is not shared by
    concurrent operations); the first failure rolls everything back and is the batch's answer."""
    try:
        async with call.services.storage.transaction():
            results = []
            for handler, sub in planned:
                result = await _run(handler, sub)
                if "error" in result:
                    raise _RolledBack(result["error"])
                results.append(result)
            return results
    except _RolledBack as rolled_back:
        raise AppError(rolled_back.error["error"], code=rolled_back.error["code"]) from None


async def _run(handler: Handler, call: RestCall) -> dict[str, Any]:
    try:
        response = await handler(call)
        return {"success": response.body}
    except AppError as error:
        if error.code == 1 and not isinstance(error, DatabaseUnavailableError):
            log.error("batch %s %s failed: %s", call.method, call.path, error.detail or error.message)
            return {"error": {"code": 1, "error": "Internal server error."}}
        return {"error": {"code": error.code, "error": error.message}}
    except Exception:
        log.exception("batch %s %s failed", call.method, call.path)
        return {"error": {"code": 1, "error": "Internal server error."}}
