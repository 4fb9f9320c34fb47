"""`/config`: Parse Config, read by any client and changed with the master key."""

from __future__ import annotations

from typing import Any

from app.transport.rest.router import RestCall, RestResponse


async def read_config(call: RestCall) -> RestResponse:
    params, master_key_only = await call.services.config.read(call.auth)
    body: dict[str, Any] = {"params": params}
    if master_key_only:
        body["masterKeyOnly"] = master_key_only
    return RestResponse(body)


async def update_config(call: RestCall) -> RestResponse:
    body = call.body if isinstance(call.body, dict) else {}
    await call.services.config.update(call.auth, body.get("params", {}), body.get("masterKeyOnly"))
    return RestResponse({"result": True})
