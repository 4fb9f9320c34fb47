"""`/aggregate/<Class>`: MongoDB pipelines and `distinct` over Parse field names (master key only)."""

from __future__ import annotations

from typing import Any

from app.errors import InvalidQueryError
from app.transport.rest.classes import query_and_body, where_from_json
from app.transport.rest.router import RestCall, RestResponse

_OPTIONS = ("distinct", "where", "hint", "explain", "comment", "readPreference", "rawValues", "rawFieldNames")


def pipeline_from(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The stages, given as `pipeline=[...]` or as one parameter per stage, validated as Parse does."""
    raw = params.get("pipeline", {k: v for k, v in params.items() if k not in _OPTIONS})
    if isinstance(raw, dict):
        raw = [{key: value} for key, value in raw.items() if value is not None]
    if not isinstance(raw, list):
        raise InvalidQueryError("pipeline must be an array of stages")
    stages = []
    for stage in raw:
        if not isinstance(stage, dict) or len(stage) != 1:
            keys = ", ".join(stage) if isinstance(stage, dict) else ""
            raise InvalidQueryError(f"Pipeline stages should only have one key but found {keys}.")
        name, body = next(iter(stage.items()))
        if not name.startswith("$"):
            raise InvalidQueryError(f"Invalid aggregate stage '{name}'.")
        if name == "$group":
            if not isinstance(body, dict) or "objectId" in body:
                raise InvalidQueryError("Cannot use 'objectId' in aggregation stage $group.")
            if "_id" not in body:
                raise InvalidQueryError("Invalid parameter for query: group. Missing key _id")
        stages.append({name: body})
    return stages


async def aggregate(call: RestCall) -> RestResponse:
    objects = call.services.objects
    objects.require_aggregation(call.auth)  # before the request is read, as Parse refuses the key first
    params = query_and_body(call)
    where = params.get("where")
    if isinstance(where, str):
        where = where_from_json(where)
    class_name = call.params["class_name"]
    if params.get("distinct"):
        values = await objects.distinct(call.auth, class_name, str(params["distinct"]), where)
        return RestResponse({"results": [call.encoder.value(value) for value in values]})
    results = await objects.aggregate(call.auth, class_name, pipeline_from(params))
    return RestResponse({"results": [call.encoder.object(result) for result in results]})
