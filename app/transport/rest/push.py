"""`/push` (send a push; its `_PushStatus` id in `X-Parse-Push-Status-Id`) and `/push_audiences` (Parse
Dashboard's saved push queries)."""

from __future__ import annotations

from app.domain.encoding import decode_object
from app.transport.rest import answers
from app.transport.rest.classes import find_options, query_and_body
from app.transport.rest.router import RestCall, RestResponse


async def send_push(call: RestCall) -> RestResponse:
    push = call.services.push
    push.require_access(call.auth)  # before the body, as Parse refuses the key first
    status_id = await push.send(call.auth, call.json_body())
    return RestResponse({"result": True}, headers={"X-Parse-Push-Status-Id": status_id})


async def find_audiences(call: RestCall) -> RestResponse:
    push = call.services.push
    push.require_audiences(call.auth)
    where, options = find_options(query_and_body(call), call.services.settings.default_limit)
    found = await push.find_audiences(call.auth, where, options)
    return RestResponse({"results": [call.encoder.object(record) for record in found]})


async def get_audience(call: RestCall) -> RestResponse:
    record = await call.services.push.get_audience(call.auth, call.params["object_id"])
    return RestResponse(call.encoder.object(record))


async def create_audience(call: RestCall) -> RestResponse:
    push = call.services.push
    push.require_audiences(call.auth)
    saved = await push.create_audience(call.auth, decode_object(call.json_body()))
    location = f"{call.mount}/classes/_Audience/{saved.object['objectId']}"
    return RestResponse(call.encoder.object(answers.created(saved)), 201, {"Location": location})


async def update_audience(call: RestCall) -> RestResponse:
    push = call.services.push
    push.require_audiences(call.auth)
    saved = await push.update_audience(call.auth, call.params["object_id"], decode_object(call.json_body()))
    return RestResponse(call.encoder.object(answers.updated(saved)))


async def delete_audience(call: RestCall) -> RestResponse:
    await call.services.push.delete_audience(call.auth, call.params["object_id"])
    return RestResponse({})
