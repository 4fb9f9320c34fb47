"""Domain values, queries and updates to Parse Server's MongoDB document format, and back."""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bson import json_util

from app.domain.acl import ACL
from app.domain.classes import ClassSchema
from app.domain.operations import Add, AddUnique, Delete, Increment, Remove
from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon, Record, Relation
from app.errors import InvalidJSONError, InvalidQueryError

_SAFE_INTEGER = 2**53
_INT32 = 2**31
_SCALARS = (str, int, float, bool)
_SPECIAL_KEYS = {
    "objectId": "_id",
    "createdAt": "_created_at",
    "updatedAt": "_updated_at",
    "sessionToken": "_session_token",
}
# Internal fields the domain may read and write by their stored names.
INTERNAL_FIELDS = frozenset(
    {
        "_rperm",
        "_wperm",
        "_hashed_password",
        "_email_verify_token",
        "_perishable_token",
        "_perishable_token_expires_at",
        "_email_verify_token_expires_at",
        "_failed_login_count",
        "_account_lockout_expires_at",
        "_password_changed_at",
        "_password_history",
        "_tombstone",
    }
)
_AUTH_DATA_QUERY = re.compile(r"^authData\.([a-zA-Z0-9_]+)(\.(.+))?$")
_QUOTED = re.compile(r"\\Q(.*?)(?:\\E|$)", re.DOTALL)
_REGEX_SPECIAL = re.compile(r"([\\^$.|?*+()\[\]{}/-])")


# Values ---------------------------------------------------------------------------------------------


def _number(value: int | float) -> int | float:
    # Stored as JavaScript would: integers beyond 32 bits are doubles.
    if isinstance(value, int) and not isinstance(value, bool) and not -_INT32 <= value < _INT32:
        return float(value)
    return value


def interior_value(value: Any) -> Any:
    """A value nested inside an Object or Array field: Parse keeps most types in their JSON form."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, datetime | bytes):
        return value
    if isinstance(value, dict):
        return {key: interior_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [interior_value(item) for item in value]
    if isinstance(value, Pointer):
        return {"__type": "Pointer", "className": value.class_name, "objectId": value.object_id}
    if isinstance(value, ParseObject):
        return {"__type": "Pointer", "className": value.class_name, "objectId": value.data.get("objectId")}
    if isinstance(value, File):
        stored = {"__type": "File", "name": value.name}
        if value.url:
            stored["url"] = value.url
        return stored
    if isinstance(value, GeoPoint):
        return {"__type": "GeoPoint", "latitude": value.latitude, "longitude": value.longitude}
    if isinstance(value, Polygon):
        return {"__type": "Polygon", "coordinates": [list(point) for point in value.coordinates]}
    if isinstance(value, Relation):
        return {"__type": "Relation", "className": value.target_class}
    raise InvalidJSONError(f"cannot store a value of type {type(value).__name__}")


def top_level_value(value: Any) -> Any:
    """A field's own value in Parse's column format: pointers as `Class$id`, points as `[lng, lat]`."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        return _number(value)
    if isinstance(value, Pointer):
        return f"{value.class_name}${value.object_id}"
    if isinstance(value, ParseObject):
        return f"{value.class_name}${value.data.get('objectId')}"
    if isinstance(value, File):
        return value.name
    if isinstance(value, GeoPoint):
        return [value.longitude, value.latitude]
    if isinstance(value, Polygon):
        return {"type": "Polygon", "coordinates": [[[lng, lat] for lat, lng in value.coordinates]]}
    return interior_value(value)


def acl_columns(acl: ACL) -> dict[str, Any]:
    """`_wperm`, `_rperm` and the legacy `_acl` map, as Parse Server writes them."""
    legacy: dict[str, dict[str, bool]] = {}
    for principal in acl.write:
        legacy[principal] = {"w": True}
    for principal in acl.read:
        legacy.setdefault(principal, {})["r"] = True
    return {"_wperm": list(acl.write), "_rperm": list(acl.read), "_acl": legacy}


def to_document(schema: ClassSchema, record: Record) -> dict[str, Any]:
    """A new object as the document Parse Server would insert."""
    document: dict[str, Any] = {"_id": record["objectId"]}
    tail: dict[str, Any] = {}
    for name, value in record.items():
        if name == "objectId" or isinstance(value, Relation):
            continue
        if name == "ACL":
            tail.update(acl_columns(value))
        elif name == "createdAt":
            tail["_created_at"] = value
        elif name == "updatedAt":
            tail["_updated_at"] = value
        elif name in INTERNAL_FIELDS:
            document[name] = value
        elif name == "authData" and schema.name == "_User":
            for provider, data in (value or {}).items():
                if data is not None:
                    document[f"_auth_data_{provider}"] = interior_value(data)
        else:
            key = stored_key(schema, name, value)
            document[key] = top_level_value(value)
    # ACL and timestamps come last, where Parse Server puts them.
    for key in ("_wperm", "_rperm", "_acl", "_created_at", "_updated_at"):
        if key in tail:
            document[key] = tail[key]
    return document


def stored_key(schema: ClassSchema, name: str, value: Any = None) -> str:
    """The column a field lives in: `_p_<name>` for pointers, a few renamed system fields."""
    special = _SPECIAL_KEYS.get(name)
    if special:
        return special
    if name in schema.pointer_fields or (isinstance(value, Pointer) and name not in schema.fields):
        return f"_p_{name}"
    return name


def _decode_interior(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _SAFE_INTEGER else value
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, list):
        return [_decode_interior(item) for item in value]
    if isinstance(value, dict):
        kind = value.get("__type")
        if kind == "Pointer" and isinstance(value.get("className"), str):
            return Pointer(value["className"], str(value.get("objectId")))
        if kind == "Date" and isinstance(value.get("iso"), datetime | str):
            moment = value["iso"]
            if isinstance(moment, str):
                moment = datetime.fromisoformat(moment)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if kind == "File" and isinstance(value.get("name"), str):
            return File(value["name"], value.get("url"))
        if kind == "GeoPoint":
            return GeoPoint(value.get("latitude", 0.0), value.get("longitude", 0.0))
        if kind == "Polygon" and isinstance(value.get("coordinates"), list):
            return Polygon(tuple((p[0], p[1]) for p in value["coordinates"]))
        if kind == "Bytes" and isinstance(value.get("base64"), str):
            return base64.b64decode(value["base64"])
        return {key: _decode_interior(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return value
    try:
        # A BSON value Parse has no type for (ObjectId, Decimal128, Timestamp…, written by other software or
        # made by a pipeline): its relaxed Extended JSON, which every client can read.
        return json_util.default(value, json_util.RELAXED_JSON_OPTIONS)
    except TypeError:
        return str(value)


def from_document(schema: ClassSchema, document: Mapping[str, Any]) -> Record:
    """A stored document as a record, field order kept; relation markers then the ACL go last."""
    record: Record = {}
    fields = schema.fields
    rperm = wperm = None
    for key, value in document.items():
        if key == "_id":
            record["objectId"] = str(value)
        elif key == "_created_at":
            record["createdAt"] = _decode_interior(value)
        elif key == "_updated_at":
            record["updatedAt"] = _decode_interior(value)
        elif key == "_rperm":
            rperm = value or []
        elif key == "_wperm":
            wperm = value or []
        elif key == "_acl":
            continue
        elif key == "_session_token":
            record["sessionToken"] = value
        elif key.startswith("_p_"):
            name = key[3:]
            type_ = fields.get(name)
            if type_ is None or type_.type != "Pointer" or not isinstance(value, str):
                continue
            class_name, _, object_id = value.partition("$")
            record[name] = Pointer(class_name, object_id)
        elif key.startswith("_auth_data_") and schema.name == "_User":
            record.setdefault("authData", {})[key[len("_auth_data_") :]] = _decode_interior(value)
        elif key[0] == "_":
            record[key] = _decode_interior(value)
        elif key == "authData" and schema.name == "_User":
            continue
        else:
            type_ = fields.get(key)
            kind = type_.type if type_ else None
            if kind == "File" and isinstance(value, str):
                record[key] = File(value)
            elif kind == "GeoPoint" and isinstance(value, list) and len(value) == 2:
                record[key] = GeoPoint(value[1], value[0])
            elif kind == "Polygon" and isinstance(value, dict) and value.get("type") == "Polygon":
                record[key] = Polygon(tuple((lat, lng) for lng, lat in value["coordinates"][0]))
            else:
                record[key] = _decode_interior(value)
    for name in schema.relation_fields:
        record[name] = Relation(fields[name].target_class or "")
    if rperm is not None or wperm is not None:
        record["ACL"] = ACL(tuple(rperm or ()), tuple(wperm or ()))
    return record


# Queries --------------------------------------------------------------------------------------------


def translate_where(schema: ClassSchema, where: Mapping[str, Any], *, count: bool = False) -> dict[str, Any]:
    """Parse constraints over decoded values as a MongoDB filter."""
    result: dict[str, Any] = {}
    for key, constraint in where.items():
        if key in ("$or", "$and", "$nor"):
            # Extend: a `$containedBy` may already have put a clause under `$nor`.
            result.setdefault(key, []).extend(translate_where(schema, sub, count=count) for sub in constraint)
            continue
        if key in ("_rperm", "_wperm") or key in INTERNAL_FIELDS:
            result[key] = constraint
            continue
        mongo_key, nested = _query_key(schema, key)
        is_array = not nested and key in schema.fields and schema.fields[key].type == "Array"
        atom = interior_value if (nested or is_array) else top_level_value
        if key in schema.pointer_fields:
            # Inside operators, Parse takes a bare objectId string for a pointer of the field's class.
            target = schema.fields[key].target_class
            atom = _pointer_atom(target)
        if isinstance(constraint, dict) and constraint and all(k.startswith("$") for k in constraint):
            translated = _translate_constraint(constraint, atom, count)
            if "$text" in translated:
                result["$text"] = translated["$text"]
            elif "$elemMatch" in translated:
                result.setdefault("$nor", []).append({mongo_key: translated})
            else:
                result[mongo_key] = translated
        else:
            result[mongo_key] = top_level_value(constraint) if key in schema.pointer_fields else atom(constraint)
    return result


def _pointer_atom(target: str | None) -> Any:
    def atom(value: Any) -> Any:
        if isinstance(value, str):
            return f"{target}${value}"
        return top_level_value(value)

    return atom


def _query_key(schema: ClassSchema, key: str) -> tuple[str, bool]:
    special = _SPECIAL_KEYS.get(key)
    if special:
        return special, False
    match = _AUTH_DATA_QUERY.match(key)
    if match and schema.name == "_User":
        provider, _, sub = match.groups()
        return f"_auth_data_{provider}" + (f".{sub}" if sub else ""), True
    if "." in key:
        return key, True
    if key in schema.pointer_fields:
        return f"_p_{key}", False
    return key, False


def _translate_constraint(constraint: Mapping[str, Any], atom: Any, count: bool) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for op, value in constraint.items():
        match op:
            case "$lt" | "$lte" | "$gt" | "$gte" | "$ne" | "$eq":
                answer[op] = atom(value)
            case "$exists":
                answer[op] = bool(value)
            case "$in" | "$nin":
                answer[op] = [atom(item) for item in value]
            case "$all":
                answer[op] = [interior_value(item) for item in value]
            case "$containedBy":
                answer["$elemMatch"] = {"$nin": [atom(item) for item in value]}
            case "$regex":
                answer[op] = unquote_regex(value)
            case "$options":
                answer[op] = value
            case "$text":
                answer[op] = value
            case "$nearSphere":
                point = [value.longitude, value.latitude]
                if count:
                    distance = constraint.get("$maxDistance", math.pi)
                    answer["$geoWithin"] = {"$centerSphere": [point, distance]}
                else:
                    answer[op] = point
            case "$maxDistance":
                if not count:
                    answer[op] = value
            case "$within":
                answer[op] = {"$box": [[p.longitude, p.latitude] for p in value]}
            case "$geoWithin":
                if "$box" in value:
                    answer[op] = {"$box": [[p.longitude, p.latitude] for p in value["$box"]]}
                elif "$polygon" in value:
                    answer[op] = {"$polygon": [[p.longitude, p.latitude] for p in value["$polygon"]]}
                else:
                    center, distance = value["$centerSphere"]
                    answer[op] = {"$centerSphere": [[center.longitude, center.latitude], distance]}
            case "$geoIntersects":
                point = value
                answer[op] = {"$geometry": {"type": "Point", "coordinates": [point.longitude, point.latitude]}}
            case _:
                raise InvalidJSONError(f"bad constraint: {op}")
    return answer


def unquote_regex(pattern: str) -> str:
    r"""Rewrite PCRE `\Q…\E` quoting as escapes: same meaning everywhere, and SecantusDB refuses `\Q`."""
    if "\\Q" not in pattern:
        return pattern
    return _QUOTED.sub(lambda m: _REGEX_SPECIAL.sub(r"\\\1", m.group(1)), pattern)


def translate_sort(schema: ClassSchema, order: tuple[tuple[str, int], ...]) -> list[tuple[str, Any]]:
    sort: list[tuple[str, Any]] = []
    for name, direction in order:
        if name == "$score":
            sort.append(("score", {"$meta": "textScore"}))
        else:
            sort.append((_query_key(schema, name)[0], direction))
    return sort


def translate_keys(schema: ClassSchema, keys: frozenset[str]) -> dict[str, Any]:
    projection: dict[str, Any] = {"_id": 1 if "objectId" in keys else 0}
    for name in keys:
        if name == "ACL":
            projection["_rperm"] = projection["_wperm"] = 1
        elif name == "authData" and schema.name == "_User":
            continue
        else:
            projection[stored_key(schema, name)] = 1
    return projection


# Updates --------------------------------------------------------------------------------------------


def translate_update(schema: ClassSchema, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Values and operations on fields as a MongoDB update document."""
    update: dict[str, dict[str, Any]] = {}

    def put(operator: str, key: str, value: Any) -> None:
        update.setdefault(operator, {})[key] = value

    for name, change in changes.items():
        if name == "ACL":
            if change is None or isinstance(change, Delete):
                for key in ("_rperm", "_wperm", "_acl"):
                    put("$unset", key, "")
            else:
                for key, value in acl_columns(change).items():
                    put("$set", key, value)
            continue
        if name == "authData" and schema.name == "_User":
            for provider, data in (change or {}).items():
                if data is None:
                    put("$unset", f"_auth_data_{provider}", "")
                else:
                    put("$set", f"_auth_data_{provider}", interior_value(data))
            continue
        if name in INTERNAL_FIELDS or "." in name:
            key = name
        else:
            key = stored_key(schema, name, change)
        nested = "." in name
        match change:
            case Delete():
                put("$unset", key, "")
            case Increment(amount=amount):
                put("$inc", key, amount)
            case Add(objects=objects):
                put("$push", key, {"$each": [interior_value(item) for item in objects]})
            case AddUnique(objects=objects):
                put("$addToSet", key, {"$each": [interior_value(item) for item in objects]})
            case Remove(objects=objects):
                put("$pullAll", key, [interior_value(item) for item in objects])
            case _:
                put("$set", key, interior_value(change) if nested else top_level_value(change))
    if not update:
        raise InvalidQueryError("nothing to update")
    return update


# Aggregation --------------------------------------------------------------------------------------

_RENAMED = {"objectId": "_id", "createdAt": "_created_at", "updatedAt": "_updated_at"}


def translate_pipeline(schema: ClassSchema, pipeline: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parse field names in `$match`, `$project` and `$group` to stored names (pointers, dates, ids)."""
    stages = []
    for stage in pipeline:
        name, body = next(iter(stage.items()))
        if name == "$group":
            body = _group_args(schema, body)
        elif name == "$match":
            body = _match_args(schema, body)
        elif name == "$project":
            body = _project_args(schema, body)
        stages.append({name: body})
    return stages


def _rename(field: str) -> str:
    return _RENAMED.get(field, field)


def _match_args(schema: ClassSchema, value: Any) -> Any:
    if isinstance(value, list):
        return [_match_args(schema, item) for item in value]
    if not isinstance(value, dict):
        return value
    result: dict[str, Any] = {}
    for field, item in value.items():
        type_ = schema.fields.get(field)
        if type_ is not None and type_.type == "Pointer":
            result[f"_p_{field}"] = item if isinstance(item, dict) else f"{type_.target_class}${item}"
            continue
        if (type_ is not None and type_.type == "Date") or field in ("createdAt", "updatedAt"):
            result[_rename(field)] = _as_date(item)
            continue
        result[_rename(field)] = _match_args(schema, item)
    return result


def _as_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if isinstance(value, dict):
        return {key: _as_date(item) for key, item in value.items()}
    return value


def _project_args(schema: ClassSchema, value: Any) -> Any:
    if not isinstance(value, dict):
        return value  # the database says what is wrong with it
    result: dict[str, Any] = {}
    for field, item in value.items():
        type_ = schema.fields.get(field)
        if type_ is not None and type_.type == "Pointer":
            result[f"_p_{field}"] = item
        else:
            result[_rename(field)] = _match_args(schema, item)
    return result


def _group_args(schema: ClassSchema, value: Any) -> Any:
    if isinstance(value, list):
        return [_group_args(schema, item) for item in value]
    if isinstance(value, dict):
        return {field: _group_args(schema, item) for field, item in value.items()}
    if isinstance(value, str) and value.startswith("$"):
        field = value[1:]
        type_ = schema.fields.get(field)
        if type_ is not None and type_.type == "Pointer":
            return f"$_p_{field}"
        if field in ("createdAt", "updatedAt"):
            return f"${_RENAMED[field]}"
    return value


def from_aggregate_result(schema: ClassSchema, result: dict[str, Any], pointer_group: bool) -> Record:
    """A pipeline result as a record: `_id` becomes objectId, last and null when empty, as Parse reports it."""
    record = from_document(schema, {key: value for key, value in result.items() if key != "_id"})
    if "_id" in result:
        group_id = result["_id"]
        if pointer_group and isinstance(group_id, str):
            group_id = group_id.split("$", 1)[-1]
        if isinstance(group_id, dict | str) and not group_id:
            group_id = None
        record["objectId"] = _decode_interior(group_id)
    return record
