"""`/scriptlog`: the server's recent log lines, which Parse Dashboard's Logs page reads (master key)."""

from __future__ import annotations

from app.domain.recent_logs import LogQuery
from app.transport.rest.router import RestCall, RestResponse


async def script_log(call: RestCall) -> RestResponse:
    return RestResponse(call.services.logs.query(call.auth, LogQuery.of(call.query)))
