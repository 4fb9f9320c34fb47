"""`/classes/<Class>[/<id>]`: find, get, create, update and delete objects."""

from __future__ import annotations

from typing import Any

from app.domain.accounts import SignedIn
from app.domain.encoding import decode_object
from app.domain.queries import QueryOptions, read_preference
from app.errors import InvalidJSONError, InvalidQueryError
from app.transport.rest import answers
from app.transport.rest.router import RestCall, RestResponse
from app.transport.wire import JSONTooDeepError, parse_json

FIND_PARAMETERS = frozenset(
    {
        "skip",
        "limit",
        "order",
        "count",
        "keys",
        "excludeKeys",
        "include",
        "includeAll",
        "redirectClassNameForKey",
        "where",
        "readPreference",
        "includeReadPreference",
        "subqueryReadPreference",
        "hint",
        "explain",
        "comment",
    }
)
GET_PARAMETERS = frozenset(
    {"keys", "include", "excludeKeys", "readPreference", "includeReadPreference", "subqueryReadPreference"}
)


def _text(value: Any) -> str:
    """JavaScript's String(value) for the values query options carry."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, list):
        return ",".join(_text(item) for item in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


# The largest skip or limit a database takes (a signed 64-bit integer); Parse passes larger ones on, and they
# mean the same: everything, or nothing left.
_LARGEST_COUNT = 2**63 - 1


def _number(name: str, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidQueryError(f"{name} must be a number") from None
    if number != number or number < 0:
        raise InvalidQueryError(f"{name} must be a non-negative number")
    if number == float("inf"):
        raise InvalidQueryError(f"{name} must be a finite number")
    return min(int(number), _LARGEST_COUNT)


def where_from_json(text: str) -> Any:
    """A `where` sent as a JSON string (a query parameter), with Parse's message when it does not parse."""
    try:
        return parse_json(text)
    except JSONTooDeepError as error:
        raise InvalidJSONError(f"where parameter is {error}") from None
    except ValueError:
        raise InvalidJSONError("where parameter is not valid JSON") from None


def _truthy(value: Any) -> bool:
    """JavaScript's truthiness, which Parse applies to flags: `{}` and `[]` are true, 0 and "" false."""
    return isinstance(value, dict | list) or bool(value)


def _split(value: Any) -> tuple[str, ...]:
    return tuple(part for part in _text(value).split(",") if part)


def find_options(params: dict[str, Any], default_limit: int) -> tuple[Any, QueryOptions]:
    """The where clause and options of a find, validated as Parse's ClassesRouter does."""
    for key in params:
        if key not in FIND_PARAMETERS:
            raise InvalidQueryError(f"Invalid parameter for query: {key}")
    where = params.get("where")
    if isinstance(where, str):
        where = where_from_json(where)
    limit = params.get("limit")
    options = QueryOptions(
        order=_split(params["order"]) if _truthy(params.get("order")) else (),
        skip=_number("skip", params["skip"]) if params.get("skip") else 0,
        limit=_number("limit", limit) if limit or limit == 0 else default_limit,
        count=_truthy(params.get("count")),
        keys=_split(params["keys"]) if params.get("keys") is not None else None,
        exclude_keys=_split(params["excludeKeys"]) if params.get("excludeKeys") is not None else None,
        include=_split(params["include"]) if params.get("include") is not None else (),
        include_all=_truthy(params.get("includeAll")),
        redirect_key=_text(params["redirectClassNameForKey"]) if params.get("redirectClassNameForKey") else None,
        hint=params["hint"] if isinstance(params.get("hint"), str | dict) and params["hint"] else None,
        comment=params["comment"] if isinstance(params.get("comment"), str) and params["comment"] else None,
        read_preference=read_preference(params.get("readPreference")),
        explain=_explain(params.get("explain")),
    )
    return where, options


def _explain(value: Any) -> bool:
    """Parse accepts `explain=true` or a MongoDB verbosity name; anything else is a bad query."""
    if not value:
        return False
    if value is True or value in ("queryPlanner", "queryPlannerExtended", "executionStats", "allPlansExecution"):
        return True
    raise InvalidQueryError("Invalid value for explain")


def query_and_body(call: RestCall) -> dict[str, Any]:
    """Query-string parameters over the body: the JS SDK sends finds as POST bodies."""
    merged = dict(call.body) if isinstance(call.body, dict) else {}
    merged.update(call.query)
    return merged


async def find_objects(call: RestCall) -> RestResponse:
    where, options = find_options(query_and_body(call), call.services.settings.default_limit)
    found = await call.services.objects.find(call.auth, call.params["class_name"], where, options)
    if found.plan is not None:
        return RestResponse({"results": found.plan})
    body: dict[str, Any] = {"results": [call.encoder.object(record) for record in found.results]}
    if found.count is not None:
        body["count"] = found.count
    return RestResponse(body)


async def get_object(call: RestCall) -> RestResponse:
    params = query_and_body(call)
    for key in params:
        if key not in GET_PARAMETERS:
            raise InvalidQueryError("Improper encode of parameter")
    options = QueryOptions(
        read_preference=read_preference(params.get("readPreference")),
        keys=_split(params["keys"]) if params.get("keys") is not None else None,
        include=_split(params["include"]) if params.get("include") is not None else (),
        exclude_keys=_split(params["excludeKeys"]) if params.get("excludeKeys") is not None else None,
    )
    record = await call.services.objects.get(call.auth, call.params["class_name"], call.params["object_id"], options)
    return RestResponse(call.encoder.object(record))


async def create_object(call: RestCall) -> RestResponse:
    class_name = call.params["class_name"]
    saved = await call.services.accounts.create(call.auth, class_name, decode_object(call.json_body()))
    if isinstance(saved, SignedIn):  # a sign-up: the answer carries its session token
        if not saved.created:  # authData of a user who exists: a log-in
            return RestResponse(call.encoder.object(answers.signed_in(saved)))
        location = f"{call.mount}/users/{saved.user_id}"
        return RestResponse(call.encoder.object(answers.signed_in(saved)), 201, {"Location": location})
    if saved.existing:  # the object it describes was stored already (an installation seen again): updated
        return RestResponse(call.encoder.object(answers.updated(saved)))
    location = f"{call.mount}/classes/{class_name}/{saved.object['objectId']}"
    return RestResponse(call.encoder.object(answers.created(saved)), 201, {"Location": location})


async def update_object(call: RestCall) -> RestResponse:
    saved = await call.services.objects.update(
        call.auth, call.params["class_name"], call.params["object_id"], decode_object(call.json_body())
    )
    return RestResponse(call.encoder.object(answers.updated(saved)))


async def delete_object(call: RestCall) -> RestResponse:
    await call.services.objects.delete(call.auth, call.params["class_name"], call.params["object_id"])
    return RestResponse({})
