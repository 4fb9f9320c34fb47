"""The query language: Parse `where` constraints validated and decoded, and the options of a find."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain.acl import Auth
from app.domain.classes import MAINTAINED_FIELDS, ClassSchema
from app.domain.encoding import (
    MAX_NESTING,
    TOO_DEEP,
    decode_polygon,
    decode_typed,
    decode_value,
    nests_deeper_than,
    validate_geopoint,
)
from app.domain.limits import UNLIMITED, RequestLimits
from app.domain.values import GeoPoint, utc_now
from app.errors import InvalidJSONError, InvalidKeyNameError, InvalidQueryError, denied

_KEY = re.compile(r"^[a-zA-Z][a-zA-Z0-9_.]*$")
_OPTIONS = re.compile(r"^[imxsu]+$")
_COMPARISONS = ("$lt", "$lte", "$gt", "$gte")
LOGICAL = ("$or", "$and", "$nor")
SUBQUERY_OPERATORS = ("$select", "$dontSelect", "$inQuery", "$notInQuery")
LIST_OPERATORS = ("$in", "$nin", "$all", "$containedBy")
ALWAYS_SELECTED = ("objectId", "createdAt", "updatedAt", "ACL")
_EARTH_RADIUS_MILES = 3958.8
_EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True, slots=True)
class QueryOptions:
    """Everything about a find except its constraints."""

    order: tuple[str, ...] = ()
    skip: int = 0
    limit: int | None = None
    count: bool = False
    keys: tuple[str, ...] | None = None
    exclude_keys: tuple[str, ...] | None = None
    include: tuple[str, ...] = ()
    include_all: bool = False
    redirect_key: str | None = None
    hint: str | dict[str, Any] | None = None
    comment: str | None = None
    read_preference: str | None = None
    explain: bool = False


READ_PREFERENCES = ("PRIMARY", "PRIMARY_PREFERRED", "SECONDARY", "SECONDARY_PREFERRED", "NEAREST")


def read_preference(value: Any) -> str | None:
    """A read preference as Parse takes it (any case), or 102."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or value.upper() not in READ_PREFERENCES:
        raise InvalidQueryError("Not supported read preference.")
    return value.upper()


def parse_where(
    where: Any, schema: ClassSchema | None = None, *, master: bool = False, internal: bool = False
) -> dict[str, Any]:
    """Validate a `where` object and decode its values; sub-queries stay for the object service."""
    if not is_flat(where) and nests_deeper_than(where, MAX_NESTING):
        # Before any recursion over it (here, in storage, in the matcher), for every caller.
        raise InvalidJSONError(f"Queries cannot be {TOO_DEEP}.")
    return _where(where, schema, master, internal)


_SCALARS = frozenset({str, int, float, bool, type(None)})


def is_flat(where: Any) -> bool:
    """Whether `where` is an object of plain values (`{"objectId": "…"}`): nothing in it to nest, list, sub-query
    or match a pattern, so the walks that look for those can be skipped (a get by id is the commonest read)."""
    return isinstance(where, dict) and all(type(value) in _SCALARS for value in where.values())


def _where(where: Any, schema: ClassSchema | None, master: bool, internal: bool = False) -> dict[str, Any]:
    if where is None:
        return {}
    if isinstance(where, list):
        # JavaScript walks an array's indexes as keys, so Parse names the first one as a bad key.
        where = {str(index): item for index, item in enumerate(where)}
    if not isinstance(where, Mapping):
        raise InvalidQueryError("where must be a JSON object")
    result: dict[str, Any] = {}
    for key, constraint in where.items():
        if key in LOGICAL:
            if not isinstance(constraint, list):
                raise denied(InvalidQueryError, f"{key} must be an array")
            if not constraint:
                raise InvalidQueryError(f"Bad {key} format - use an array of at least 1 value.")
            result[key] = [_where(sub, schema, master, internal) for sub in constraint]
        elif key == "$relatedTo":
            result[key] = _related_to(constraint)
        elif key == "ACL":
            raise InvalidQueryError("Cannot query on ACL.")
        elif not _KEY.match(key) and key not in ("_rperm", "_wperm") and not (internal and key in MAINTAINED_FIELDS):
            raise InvalidKeyNameError(f"Invalid key name: {key}")
        else:
            result[key] = _constraint(key, constraint, schema)
    return result


def require_within_limits(where: Any, limits: RequestLimits, auth: Auth) -> None:
    """Refuse (102) a `where` that asks for more than the limits allow, before it is decoded or run.

    One walk over the `where` as the client wrote it, sub-queries included: how deep `$or`/`$and`/`$nor` nest
    (Parse counts them wherever they appear, below field operators and inside sub-queries too), how deep
    sub-queries nest, whether `$regex` appears, and how long each list is. A list too long is refused at once,
    before its values are walked; the others are answered in the order Parse Server checks them.
    """
    if not limits.apply_to(auth) or is_flat(where):
        return
    deepest = deepest_subquery = 0
    regex = False
    pending: list[tuple[Any, int, int]] = [(where, 0, 0)]
    while pending:
        node, depth, subquery = pending.pop()
        deepest, deepest_subquery = max(deepest, depth), max(deepest_subquery, subquery)
        if isinstance(node, list):
            pending.extend((item, depth, subquery) for item in node)
            continue
        # Most nodes are plain values or dicts: tested first, as an ABC check costs ten times as much.
        if type(node) in _SCALARS or not isinstance(node, dict | Mapping):
            continue
        for key, value in node.items():
            if (key in LIST_OPERATORS or key in LOGICAL) and isinstance(value, list):
                _require_list_size(key, value, limits)
            regex = regex or key == "$regex"
            pending.append((value, depth + (key in LOGICAL), subquery + (key in SUBQUERY_OPERATORS)))
    if limits.query_depth != UNLIMITED and deepest > limits.query_depth:
        raise InvalidQueryError(f"Query condition nesting depth exceeds maximum allowed depth of {limits.query_depth}")
    if limits.subquery_depth != UNLIMITED and deepest_subquery > limits.subquery_depth:
        raise InvalidQueryError(f"Subquery nesting depth exceeds maximum allowed depth of {limits.subquery_depth}")
    if regex and not limits.allow_regex:
        raise InvalidQueryError("$regex operator is not allowed")


def _require_list_size(key: str, values: list[Any], limits: RequestLimits) -> None:
    if limits.query_list_size != UNLIMITED and len(values) > limits.query_list_size:
        what = "branches" if key in LOGICAL else "values"
        raise InvalidQueryError(
            f"Number of {what} in {key} ({len(values)}) exceeds maximum allowed ({limits.query_list_size})"
        )


def _constraint(key: str, constraint: Any, schema: ClassSchema | None) -> Any:
    field_type = schema.fields[key].type if schema and key in schema.fields else None
    # Arrays and objects are values only inside Array fields and dotted paths (Parse's interior atoms).
    interior = "." in key or field_type == "Array"
    if not isinstance(constraint, Mapping):
        if isinstance(constraint, list) and "." not in key:
            raise InvalidJSONError(f"You cannot use {_js(constraint)} as a query parameter.")
        return decode_value(constraint)
    if "__type" in constraint:
        return decode_typed(constraint)
    operators = {k: v for k, v in constraint.items() if k.startswith("$")}
    if not operators:
        if not interior:
            raise InvalidJSONError("You cannot use [object Object] as a query parameter.")
        return decode_value(constraint)
    if len(operators) != len(constraint):
        # `{"a": 1, "$exists": true}` means: equal to {"a": 1}, and exists (Parse's replaceEquality).
        operators["$eq"] = {k: v for k, v in constraint.items() if not k.startswith("$")}
    decoded: dict[str, Any] = {}
    for op, value in operators.items():
        decoded.update(_operator(op, value, operators, field_type, interior))
    return decoded


def _operator(
    op: str, value: Any, siblings: Mapping[str, Any], field_type: str | None, interior: bool
) -> dict[str, Any]:
    match op:
        case "$lt" | "$lte" | "$gt" | "$gte" | "$eq" | "$ne" | "$exists":
            if isinstance(value, Mapping) and "$relativeTime" in value:
                if field_type and field_type != "Date":
                    raise InvalidJSONError("$relativeTime can only be used with Date field")
                if op not in _COMPARISONS:
                    raise InvalidJSONError("$relativeTime can only be used with the $lt, $lte, $gt, and $gte operators")
                return {op: relative_time(value["$relativeTime"], op=op)}
            if op == "$exists":
                return {op: bool(value)}
            return {op: _atom(value, interior)}
        case "$in" | "$nin" | "$all" | "$containedBy":
            if not isinstance(value, list):
                if op == "$containedBy":
                    raise InvalidJSONError("bad $containedBy: should be an array")
                raise InvalidJSONError(f"bad {op} value")
            return {op: [_atom(item, interior or op == "$all") for item in value]}
        case "$regex":
            if not isinstance(value, str):
                raise InvalidQueryError("$regex value must be a string")
            options = siblings.get("$options")
            if options is None:
                return {op: value}
            if not isinstance(options, str):
                raise InvalidQueryError("$options value must be a string")
            if not _OPTIONS.match(options):
                raise InvalidQueryError(f"Bad $options value for query: {options}")
            return {op: value, "$options": options}
        case "$options":
            if "$regex" not in siblings:
                raise InvalidQueryError("$options is only valid with $regex")
            return {}
        case "$text":
            return {op: _text(value)}
        case "$nearSphere":
            return {op: _geo_point(value, "bad $nearSphere value")}
        case "$maxDistance" | "$maxDistanceInRadians" | "$maxDistanceInMiles" | "$maxDistanceInKilometers":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidJSONError(f"bad {op} value")
            divisor = {
                "$maxDistanceInMiles": _EARTH_RADIUS_MILES,
                "$maxDistanceInKilometers": _EARTH_RADIUS_KM,
            }
            return {"$maxDistance": value / divisor.get(op, 1.0)}
        case "$within":
            box = value.get("$box") if isinstance(value, Mapping) else None
            if not isinstance(box, list) or len(box) != 2:
                raise InvalidJSONError("malformatted $within arg")
            return {"$geoWithin": {"$box": [_geo_point(point, "malformatted $within arg") for point in box]}}
        case "$geoWithin":
            return {op: _geo_within(value)}
        case "$geoIntersects":
            point = value.get("$point") if isinstance(value, Mapping) else None
            if not (isinstance(point, Mapping) and point.get("__type") == "GeoPoint"):
                raise InvalidJSONError("bad $geoIntersect value; $point should be GeoPoint")
            return {op: _geo_point(point, "bad $geoIntersect value; $point should be GeoPoint")}
        case "$select" | "$dontSelect":
            return {op: _select(op, value)}
        case "$inQuery" | "$notInQuery":
            if not isinstance(value, Mapping) or value.get("where") is None or not value.get("className"):
                raise InvalidQueryError(f"improper usage of {op}")
            return {op: {"className": value["className"], "where": value["where"]}}
    raise InvalidJSONError(f"bad constraint: {op}")


def _atom(value: Any, interior: bool) -> Any:
    if isinstance(value, Mapping) and "__type" in value:
        return decode_typed(value)
    if not interior and isinstance(value, Mapping | list):
        raise InvalidJSONError(f"bad atom: {json.dumps(value, separators=(',', ':'))}")
    return decode_value(value)


def _geo_point(value: Any, message: str) -> GeoPoint:
    if isinstance(value, Mapping) and "latitude" in value and "longitude" in value:
        return validate_geopoint(value.get("latitude"), value.get("longitude"))
    if isinstance(value, list) and len(value) == 2:
        return validate_geopoint(value[1], value[0])
    raise InvalidJSONError(message)


def _geo_within(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidJSONError("bad $geoWithin value")
    if "$polygon" in value:
        polygon = value["$polygon"]
        if isinstance(polygon, Mapping) and polygon.get("__type") == "Polygon":
            coordinates = decode_polygon(polygon.get("coordinates")).coordinates
            points = [GeoPoint(lat, lng) for lat, lng in coordinates]
        elif isinstance(polygon, list):
            if len(polygon) < 3:
                raise InvalidJSONError("bad $geoWithin value; $polygon should contain at least 3 GeoPoints")
            points = [_geo_point(point, "bad $geoWithin value") for point in polygon]
        else:
            raise InvalidJSONError(
                "bad $geoWithin value; $polygon should be Polygon object or Array of Parse.GeoPoint's"
            )
        return {"$polygon": points}
    if "$centerSphere" in value:
        sphere = value["$centerSphere"]
        if not isinstance(sphere, list) or len(sphere) < 2:
            raise InvalidJSONError(
                "bad $geoWithin value; $centerSphere should be an array of Parse.GeoPoint and distance"
            )
        center = _geo_point(sphere[0], "bad $geoWithin value; $centerSphere geo point invalid")
        distance = sphere[1]
        if not isinstance(distance, int | float) or isinstance(distance, bool) or distance < 0:
            raise InvalidJSONError("bad $geoWithin value; $centerSphere distance invalid")
        return {"$centerSphere": (center, distance)}
    if "$box" in value:
        box = value["$box"]
        if not isinstance(box, list) or len(box) != 2:
            raise InvalidJSONError("bad $geoWithin value; $box should be two GeoPoints")
        return {"$box": [_geo_point(point, "bad $geoWithin value; $box should be two GeoPoints") for point in box]}
    raise InvalidJSONError("bad $geoWithin value")


def _text(value: Any) -> dict[str, Any]:
    search = value.get("$search") if isinstance(value, Mapping) else None
    if not isinstance(search, Mapping):
        raise InvalidJSONError("bad $text: $search, should be object")
    term = search.get("$term")
    if not term or not isinstance(term, str):
        raise InvalidJSONError("bad $text: $term, should be string")
    text: dict[str, Any] = {"$search": term}
    language = search.get("$language")
    if language:
        if not isinstance(language, str):
            raise InvalidJSONError("bad $text: $language, should be string")
        text["$language"] = language
    for option in ("$caseSensitive", "$diacriticSensitive"):
        flag = search.get(option)
        if flag:
            if not isinstance(flag, bool):
                raise InvalidJSONError(f"bad $text: {option}, should be boolean")
            text[option] = True
    return text


def _select(op: str, value: Any) -> dict[str, Any]:
    query = value.get("query") if isinstance(value, Mapping) else None
    if not isinstance(query, Mapping) or not value.get("key") or not query.get("className") or len(value) != 2:
        raise InvalidQueryError(f"improper usage of {op}")
    if not isinstance(value["key"], str) or not isinstance(query["className"], str):
        # Parse matches nothing with such a key; naming the mistake helps more.
        raise InvalidQueryError(f"improper usage of {op}: key and className must be strings")
    return {"key": value["key"], "className": query["className"], "where": query.get("where") or {}}


def _related_to(value: Any) -> dict[str, Any] | None:
    """`{"object": <Pointer>, "key": <relation>}`; anything else matches nothing, as in Parse."""
    target = value.get("object") if isinstance(value, Mapping) else None
    key = value.get("key") if isinstance(value, Mapping) else None
    if not (isinstance(target, Mapping) and target.get("__type") == "Pointer") or not isinstance(key, str):
        return None
    if not (
        isinstance(target.get("className"), str) and isinstance(target.get("objectId"), str) and target["objectId"]
    ):
        return None  # a pointer to no saved object (the SDKs send one for a new object) relates to nothing
    pointer = decode_typed(target)
    return {"object": pointer, "key": key}


def _js(value: Any) -> str:
    """How JavaScript prints a value in a template string (arrays joined by commas)."""
    if isinstance(value, list):
        return ",".join(_js(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_UNITS = {
    "yr": 365 * 86400,
    "yrs": 365 * 86400,
    "year": 365 * 86400,
    "years": 365 * 86400,
    "wk": 7 * 86400,
    "wks": 7 * 86400,
    "week": 7 * 86400,
    "weeks": 7 * 86400,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
}


def relative_time(text: Any, now: datetime | None = None, op: str = "$lt") -> datetime:
    """Parse's `$relativeTime`: "now", "in 2 hours", "3 days ago", "1 day 4 hrs ago"."""
    now = now or utc_now()
    prefix = f"bad $relativeTime ({op}) value."
    if not isinstance(text, str):
        raise InvalidJSONError(f"{prefix} $relativeTime should be a string")
    parts = text.lower().split()
    if parts == ["now"]:
        return now
    future, past = parts[:1] == ["in"], parts[-1:] == ["ago"]
    if future == past:
        message = (
            "Time cannot have both 'in' and 'ago'" if future else "Time should either start with 'in' or end with 'ago'"
        )
        raise InvalidJSONError(f"{prefix} {message}")
    pairs = parts[1:] if future else parts[:-1]
    if not pairs or len(pairs) % 2:
        raise InvalidJSONError(f"{prefix} Invalid time string. Dangling unit or number.")
    seconds = 0.0
    for amount, unit in zip(pairs[::2], pairs[1::2], strict=True):
        try:
            number = float(amount)
        except ValueError:
            raise InvalidJSONError(f"{prefix} '{amount}' is not an integer.") from None
        if unit not in _UNITS:
            raise InvalidJSONError(f"{prefix} Invalid interval: '{unit}'")
        seconds += number * _UNITS[unit]
    delta = timedelta(seconds=seconds)
    return now + delta if future else now - delta


def parse_order(order: tuple[str, ...]) -> list[tuple[str, int]]:
    sort: list[tuple[str, int]] = []
    for item in order:
        name = item.strip()
        if not name:
            continue
        if name in ("$score", "-$score"):
            sort.append(("$score", -1))
        elif name.startswith("-"):
            sort.append((name[1:], -1))
        else:
            sort.append((name, 1))
    return sort


def constrained_keys(where: Mapping[str, Any]) -> list[str]:
    """Every field a where clause looks at, through `$or`/`$and`/`$nor` (for protected-field checks)."""
    keys: list[str] = []
    for key, value in where.items():
        if key in LOGICAL:
            for sub in value:
                keys.extend(constrained_keys(sub))
        elif key != "$relatedTo":
            keys.append(key)
    return keys


def regex_constraints(where: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every `$regex` of a decoded where clause with its `$options`, through `$or`/`$and`/`$nor`."""
    found: list[tuple[str, str]] = []
    for key, value in where.items():
        if key in LOGICAL:
            for sub in value:
                found.extend(regex_constraints(sub))
        elif isinstance(value, dict) and isinstance(value.get("$regex"), str):
            found.append((value["$regex"], value.get("$options") or ""))
    return found


def and_(where: Mapping[str, Any], constraint: Mapping[str, Any]) -> dict[str, Any]:
    """Both constraints, as one (either alone when the other is empty)."""
    if not constraint:
        return dict(where)
    if not where:
        return dict(constraint)
    return {"$and": [dict(where), dict(constraint)]}
