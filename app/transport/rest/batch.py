"""`/batch`: many REST calls in one request, run through the same route table with the same caller."""

from __future__ import annotations

import asyncio
import logging
import posixpath
from dataclasses import replace
from typing import Any

from app.errors import AppError, InvalidJSONError
from app.transport.rest.router import RestCall, RestResponse, RouteNotFound, Router

log = logging.getLogger(__name__)


def make_batch(router_of: Any) -> Any:
    """The batch handler for a router (built after the table, which contains the handler itself)."""

    async def batch(call: RestCall) -> RestResponse:
        router: Router = router_of()
        body = call.json_body()
        requests = body.get("requests")
        if not isinstance(requests, list):
            raise InvalidJSONError("requests must be an array")
        prefix = call.path[: -len("/batch")] if call.path.endswith("/batch") else ""
        prefix = f"/parse{prefix}"
        planned = []
        for request in requests:
            if not isinstance(request, dict) or not isinstance(request.get("path"), str):
                raise InvalidJSONError("batch request path must be a string")
            path: str = request["path"]
            if not path.startswith(prefix):
                raise InvalidJSONError(f"cannot route batch path {path}")
            routable = posixpath.join("/", path[len(prefix) :])
            method = str(request.get("method") or "GET").upper()
            if method == "POST" and routable == "/batch":
                raise InvalidJSONError("nested batch requests are not allowed")
            planned.append((method, routable, request.get("body")))
        results = await asyncio.gather(*(_run(router, call, m, p, b) for m, p, b in planned))
        return RestResponse(list(results))

    return batch


async def _run(router: Router, call: RestCall, method: str, path: str, body: Any) -> dict[str, Any]:
    try:
        handler, params = router.match(method, path)
        response = await handler(replace(call, method=method, path=path, params=params, query={}, body=body))
        return {"success": response.body}
    except RouteNotFound:
        return {"error": {"code": 107, "error": f"cannot route {method} {path}"}}
    except AppError as error:
        if error.code == 1:
            log.error("batch %s %s failed: %s", method, path, error.detail or error.message)
            return {"error": {"code": 1, "error": "Internal server error."}}
        return {"error": {"code": error.code, "error": error.message}}
    except Exception:
        log.exception("batch %s %s failed", method, path)
        return {"error": {"code": 1, "error": "Internal server error."}}
