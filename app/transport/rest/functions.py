"""Cloud code over REST: `/functions/<name>`, jobs started at `/jobs/<name>` (or `/jobs` with `jobName`), and
their schedules at `/cloud_code/jobs`, which Parse Dashboard's Jobs page reads and writes."""

from __future__ import annotations

from typing import Any

from app.domain.encoding import decode_object, decode_value
from app.domain.hooks import plain
from app.errors import InvalidJSONError, ScriptFailedError
from app.transport.rest import answers
from app.transport.rest.router import RestCall, RestResponse


async def call_function(call: RestCall) -> RestResponse:
    hooks = call.services.hooks
    name = call.params["name"]
    if hooks is None:
        raise ScriptFailedError(f'Invalid function: "{name}"')
    params = {key: decode_value(value) for key, value in call.json_body().items()}
    result = await hooks.call_function(call.auth, name, params)
    if result is None:
        return RestResponse({})  # Parse's answer for a function that returns nothing: no `result` at all
    try:
        return RestResponse({"result": call.encoder.value(plain(result))})
    except TypeError as error:
        raise ScriptFailedError(f"The function {name} returned a value that is not JSON: {error}") from None


async def start_job(call: RestCall) -> RestResponse:
    jobs = call.services.jobs
    jobs.require_access(call.auth, run=True)  # before the body, as Parse refuses the key first
    # Parse passes the body and the query string as the job's parameters.
    params: dict[str, Any] = {**call.json_body(), **call.query}
    job_id = await jobs.start(call.auth, call.params.get("name") or params.get("jobName"), params)
    return RestResponse({}, headers={"X-Parse-Job-Status-Id": job_id})


async def list_job_schedules(call: RestCall) -> RestResponse:
    schedules = await call.services.jobs.schedules(call.auth)
    return RestResponse([call.encoder.object(record) for record in schedules])


async def job_data(call: RestCall) -> RestResponse:
    """The jobs cloud code defines, and those a schedule already uses."""
    in_use, defined = await call.services.jobs.job_data(call.auth)
    return RestResponse({"in_use": in_use, "jobs": defined})


async def create_job_schedule(call: RestCall) -> RestResponse:
    jobs = call.services.jobs
    jobs.require_access(call.auth)  # before the body, as Parse refuses the key first
    saved = await jobs.create_schedule(call.auth, _job_schedule(call))
    return RestResponse(call.encoder.object(answers.created(saved)), 201)


async def edit_job_schedule(call: RestCall) -> RestResponse:
    jobs = call.services.jobs
    jobs.require_access(call.auth)  # before the body, as Parse refuses the key first
    saved = await jobs.edit_schedule(call.auth, call.params["object_id"], _job_schedule(call))
    # Parse Server answers an edit wrapped once more in `response`; Dashboard reads it so.
    return RestResponse({"response": call.encoder.object(answers.updated(saved))})


async def delete_job_schedule(call: RestCall) -> RestResponse:
    await call.services.jobs.delete_schedule(call.auth, call.params["object_id"])
    return RestResponse({})


def _job_schedule(call: RestCall) -> dict[str, Any]:
    schedule = call.json_body().get("job_schedule")
    if not isinstance(schedule, dict):
        raise InvalidJSONError("job_schedule must be an object.")
    return decode_object(schedule)
