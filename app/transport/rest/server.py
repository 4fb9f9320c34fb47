"""`/health` and `/serverInfo`: whether the server is up, and what it offers Parse Dashboard."""

from __future__ import annotations

from app.domain.server_info import server_info as offered
from app.transport.rest.router import RestCall, RestResponse


async def health(call: RestCall) -> RestResponse:
    return RestResponse({"status": "ok"})


async def server_info(call: RestCall) -> RestResponse:
    features, version = offered(call.auth)
    return RestResponse({"features": features, "parseServerVersion": version})
