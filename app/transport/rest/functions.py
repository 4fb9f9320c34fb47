"""Cloud code over REST: `/functions/<name>`, jobs started at `/jobs/<name>` (or `/jobs` with `jobName`), and
their schedules at `/cloud_code/jobs`, which Parse Dashboard's Jobs page reads and writes."""

from __future__ import annotations

from typing import Any

from app.domain.encoding import decode_object, decode_value
from app.domain.hooks import plain
from app.domain.queries import QueryOptions
from app.domain.values import iso, utc_now
from app.errors import AppError, InvalidJSONError, OperationForbiddenError, ScriptFailedError, denied
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
    if call.auth.read_only:
        raise denied(OperationForbiddenError, "read-only masterKey isn't allowed to run a job.")
    jobs = call.services.jobs
    # Parse passes the body and the query string as the job's parameters.
    params: dict[str, Any] = {**call.json_body(), **call.query}
    name = call.params.get("name") or params.get("jobName")
    if jobs is None or not isinstance(name, str):
        raise ScriptFailedError("Invalid job.")
    job_id = await jobs.start(call.auth, name, params)
    return RestResponse({}, headers={"X-Parse-Job-Status-Id": job_id})


async def list_job_schedules(call: RestCall) -> RestResponse:
    require_master(call)
    found = await call.services.objects.find(call.auth, "_JobSchedule", {}, QueryOptions())
    return RestResponse([call.encoder.object(record) for record in found.results])


async def job_data(call: RestCall) -> RestResponse:
    """The jobs cloud code defines, and those a schedule already uses."""
    require_master(call)
    found = await call.services.objects.find(call.auth, "_JobSchedule", {}, QueryOptions(keys=("jobName",)))
    jobs = call.services.jobs
    return RestResponse(
        {
            "in_use": [record.get("jobName") for record in found.results],
            "jobs": list(jobs.registry.jobs) if jobs is not None else [],
        }
    )


async def create_job_schedule(call: RestCall) -> RestResponse:
    require_master(call)
    schedule = _job_schedule(call)
    schedule.setdefault("startAfter", iso(utc_now()))
    saved = await call.services.objects.create(call.auth, "_JobSchedule", decode_object(schedule))
    return RestResponse(call.encoder.object(saved.response), 201)


async def edit_job_schedule(call: RestCall) -> RestResponse:
    require_master(call)
    schedule = _job_schedule(call)
    schedule.setdefault("startAfter", iso(utc_now()))
    saved = await call.services.objects.update(
        call.auth, "_JobSchedule", call.params["object_id"], decode_object(schedule)
    )
    # Parse Server answers an edit wrapped once more in `response`; Dashboard reads it so.
    return RestResponse({"response": call.encoder.object(saved.response)})


async def delete_job_schedule(call: RestCall) -> RestResponse:
    require_master(call)
    await call.services.objects.delete(call.auth, "_JobSchedule", call.params["object_id"])
    return RestResponse({})


def _job_schedule(call: RestCall) -> dict[str, Any]:
    schedule = call.json_body().get("job_schedule")
    if not isinstance(schedule, dict):
        raise InvalidJSONError("job_schedule must be an object.")
    jobs = call.services.jobs
    name = schedule.get("jobName")
    if name and (jobs is None or name not in jobs.registry.jobs):
        raise AppError("Cannot Schedule a job that is not deployed", code=1)
    return dict(schedule)
