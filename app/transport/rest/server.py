"""`/health` and `/serverInfo`: whether the server is up, and what it offers Parse Dashboard."""

from __future__ import annotations

from app.domain.server_info import server_info as offered
from app.transport.rest.router import RestCall, RestResponse


async def health(call: RestCall) -> RestResponse:
    return RestResponse({"status": "ok"})


async def server_info(call: RestCall) -> RestResponse:
    features, version = offered(call.auth, push=call.services.push.configured)
    # Beyond Parse's answer: which database engine serves (Dashboard ignores keys it does not know).
    engine = (await call.services.storage.capabilities()).engine
    return RestResponse({"features": features, "parseServerVersion": version, "database": {"engine": engine}})
