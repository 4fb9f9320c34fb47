"""`/functions/<name>` and `/jobs/<name>`: cloud code functions, and jobs started with the master key."""

from __future__ import annotations

from typing import Any

from app.domain.encoding import decode_value
from app.domain.hooks import plain
from app.errors import ScriptFailedError
from app.transport.rest.router import RestCall, RestResponse
from app.transport.rest.schemas import require_master


async def call_function(call: RestCall) -> RestResponse:
    hooks = call.services.hooks
    name = call.params["name"]
    if hooks is None:
        raise ScriptFailedError(f'Invalid function: "{name}"')
    params = {key: decode_value(value) for key, value in call.json_body().items()}
    result = await hooks.call_function(call.auth, name, params)
    try:
        return RestResponse({"result": call.encoder.value(plain(result))})
    except TypeError as error:
        raise ScriptFailedError(f"The function {name} returned a value that is not JSON: {error}") from None


async def start_job(call: RestCall) -> RestResponse:
    require_master(call)
    jobs = call.services.jobs
    if jobs is None:
        raise ScriptFailedError("Invalid job.")
    params: dict[str, Any] = call.json_body()
    job_id = await jobs.start(call.auth, call.params["name"], params)
    return RestResponse({}, headers={"X-Parse-Job-Status-Id": job_id})
