"""GraphQL arguments to Parse's REST encoding (`where`, orders, mutation fields), which the domain decodes."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from app.domain.classes import ClassSchema
from app.errors import AppError, InvalidQueryError
from app.transport.graphql.ids import object_id_for

LOGICAL = {"OR": "$or", "AND": "$and", "NOR": "$nor"}
OPERATORS = {
    "equalTo": "$eq",
    "notEqualTo": "$ne",
    "lessThan": "$lt",
    "lessThanOrEqualTo": "$lte",
    "greaterThan": "$gt",
    "greaterThanOrEqualTo": "$gte",
    "in": "$in",
    "notIn": "$nin",
    "exists": "$exists",
    "inQueryKey": "$select",
    "notInQueryKey": "$dontSelect",
    "containedBy": "$containedBy",
    "contains": "$all",
    "matchesRegex": "$regex",
    "options": "$options",
    "nearSphere": "$nearSphere",
    "maxDistance": "$maxDistance",
    "maxDistanceInRadians": "$maxDistanceInRadians",
    "maxDistanceInMiles": "$maxDistanceInMiles",
    "maxDistanceInKilometers": "$maxDistanceInKilometers",
}
_CURSOR_PREFIX = "arrayconnection:"


def where_to_parse(
    where: Mapping[str, Any] | None, schema: ClassSchema, classes: Mapping[str, ClassSchema]
) -> dict[str, Any]:
    """A `<Class>WhereInput` value as a Parse `where` object."""
    result: dict[str, Any] = {}
    for key, value in (where or {}).items():
        if value is None:
            continue
        if key in LOGICAL:
            result[LOGICAL[key]] = [where_to_parse(item, schema, classes) for item in value]
            continue
        name = "objectId" if key == "id" else key
        field_type = schema.fields.get(name)
        kind = field_type.type if field_type else None
        if kind in ("Pointer", "Relation") and field_type is not None:
            _relation_constraint(result, name, kind, field_type.target_class or "", value, classes)
        elif key == "id":
            # Only `id` takes global ids (of this class); it replaces any `objectId` constraint, as in Parse.
            result[name] = {
                OPERATORS[op]: _ids(v, schema.name) for op, v in value.items() if op in OPERATORS and v is not None
            }
        else:
            _field_constraint(result, name, value)
    return result


def _ids(value: Any, class_name: str) -> Any:
    if isinstance(value, str):
        return object_id_for(value, class_name)
    if isinstance(value, list):
        return [object_id_for(item, class_name) if isinstance(item, str) else item for item in value]
    return value


def _field_constraint(result: dict[str, Any], name: str, value: Mapping[str, Any]) -> None:
    constraint: dict[str, Any] = {}
    for op, operand in value.items():
        if operand is None and op not in ("equalTo", "notEqualTo"):
            continue  # `equalTo: null` finds objects without the field; other nulls constrain nothing
        if isinstance(operand, Mapping) and "key" in operand and "value" in operand:
            # Object fields: {"key": "a.b", "value": v} constrains the value at that path.
            path = f"{name}.{operand['key']}"
            result.setdefault(path, {})[OPERATORS[op]] = operand["value"]
            continue
        if (
            op in ("in", "notIn")
            and isinstance(operand, list)
            and operand
            and all(isinstance(item, Mapping) and "key" in item for item in operand)
        ):
            for item in operand:
                result.setdefault(f"{name}.{item['key']}", {}).setdefault(OPERATORS[op], []).append(item["value"])
            continue
        match op:
            case "text":
                search = operand["search"]
                constraint["$text"] = {"$search": {f"${k}": v for k, v in search.items() if v is not None}}
            case "nearSphere":
                constraint["$nearSphere"] = {"__type": "GeoPoint", **operand}
            case "within":
                box = operand["box"]
                constraint["$within"] = {
                    "$box": [{"__type": "GeoPoint", **box["bottomLeft"]}, {"__type": "GeoPoint", **box["upperRight"]}]
                }
            case "geoWithin":
                if operand.get("polygon") is not None:
                    points = [{"__type": "GeoPoint", **point} for point in operand["polygon"]]
                    constraint["$geoWithin"] = {"$polygon": points}
                elif operand.get("centerSphere") is not None:
                    sphere = operand["centerSphere"]
                    constraint["$geoWithin"] = {
                        "$centerSphere": [{"__type": "GeoPoint", **sphere["center"]}, sphere["distance"]]
                    }
            case "geoIntersects":
                if operand.get("point") is not None:
                    constraint["$geoIntersects"] = {"$point": {"__type": "GeoPoint", **operand["point"]}}
            case _ if op in OPERATORS:
                constraint[OPERATORS[op]] = operand
    if constraint:
        result[name] = {**result.get(name, {}), **constraint}


def _relation_constraint(
    result: dict[str, Any],
    name: str,
    kind: str,
    target: str,
    value: Mapping[str, Any],
    classes: Mapping[str, ClassSchema],
) -> None:
    target_schema = classes.get(target)
    constraint: dict[str, Any] = {}
    for op, operand in value.items():
        if operand is None:
            continue
        if op in ("have", "haveNot") and target_schema is not None:
            key = "$inQuery" if op == "have" else "$notInQuery"
            constraint[key] = {"className": target, "where": where_to_parse(operand, target_schema, classes)}
        elif op == "exists":
            if kind == "Relation":
                key = "$inQuery" if operand else "$notInQuery"
                constraint[key] = {"className": target, "where": {"objectId": {"$exists": True}}}
            else:
                constraint["$exists"] = operand
    if constraint:
        result[name] = constraint


def order_to_parse(order: list[str] | None) -> tuple[str, ...]:
    return tuple(order or ())


_LARGEST_OFFSET = 2**62


def cursor(offset: int) -> str:
    return base64.b64encode(f"{_CURSOR_PREFIX}{offset}".encode()).decode("ascii")


def cursor_offset(value: str) -> int | None:
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not text.startswith(_CURSOR_PREFIX):
        return None
    digits = text[len(_CURSOR_PREFIX) :]
    # A huge offset is past the end of any class, as Parse reads it (an empty page); capped so that a skip
    # stays in 64 bits, and so that Python never reads thousands of digits.
    if len(digits) > 19:
        return _LARGEST_OFFSET if digits.isascii() and digits.isdigit() else None
    try:
        return min(int(digits), _LARGEST_OFFSET)
    except ValueError:
        return None


def skip_and_limit(
    skip: int | None, first: int | None, after: str | None, last: int | None, before: str | None, max_limit: int | None
) -> tuple[int | None, int | None, bool]:
    """Relay's first/after/last/before as skip and limit; True when the total must be counted first."""
    limit: int | None = None
    pre_count = False
    if skip is not None and skip < 0:
        raise InvalidQueryError("Skip should be a positive number")
    if after:
        offset = cursor_offset(after)
        if offset is None or offset < 0:
            raise InvalidQueryError("After is not a valid cursor")
        skip = (skip or 0) + offset + 1
    if first is not None:
        if first < 0:
            raise InvalidQueryError("First should be a positive number")
        limit = first
    if before:
        end = cursor_offset(before)
        if end is None or end < 0:
            raise InvalidQueryError("Before is not a valid cursor")
        if (skip or 0) >= end:
            limit = 0
        elif limit is None or (skip or 0) + limit > end:
            limit = end - (skip or 0)
    if last is not None:
        if last < 0:
            raise InvalidQueryError("Last should be a positive number")
        if max_limit is not None and last > max_limit:
            last = max_limit
        if limit is not None:
            if last < limit:
                skip = (skip or 0) + (limit - last)
                limit = last
        elif last == 0:
            limit = 0
        else:
            limit = last
            pre_count = True
    return skip, limit, pre_count


def acl_to_parse(value: Mapping[str, Any]) -> dict[str, Any]:
    """An `ACLInput` as Parse's ACL object; user ids may be global ids."""
    acl: dict[str, Any] = {}
    public = value.get("public")
    if public:
        acl["*"] = {"read": public["read"], "write": public["write"]}
    for rule in value.get("users") or []:
        acl[object_id_for(rule["userId"], "_User")] = {"read": rule["read"], "write": rule["write"]}
    for rule in value.get("roles") or []:
        acl[f"role:{rule['roleName']}"] = {"read": rule["read"], "write": rule["write"]}
    return acl


def relation_needs_an_operation(field: str) -> AppError:
    return AppError(f"You need to provide at least one operation on the relation mutation of field {field}", code=106)


def pointer_needs_one_operation(field: str) -> AppError:
    return AppError(f"You need to provide link OR createLink on the pointer mutation of field {field}", code=106)
