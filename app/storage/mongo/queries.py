"""Parse queries over decoded values as MongoDB filters, sorts and projections, in Parse Server's layout."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from app.domain.classes import ClassSchema
from app.domain.patterns import unquote
from app.domain.stored_values import stored_field, stored_nested, stored_pointer
from app.errors import InvalidJSONError
from app.storage.mongo.documents import INTERNAL_FIELDS, SPECIAL_KEYS, stored_key

_AUTH_DATA_QUERY = re.compile(r"^authData\.([a-zA-Z0-9_]+)(\.(.+))?$")


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
        atom = stored_nested if (nested or is_array) else stored_field
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
            result[mongo_key] = stored_field(constraint) if key in schema.pointer_fields else atom(constraint)
    return result


def _pointer_atom(target: str | None) -> Any:
    def atom(value: Any) -> Any:
        if isinstance(value, str):
            return stored_pointer(target, value)
        return stored_field(value)

    return atom


def _query_key(schema: ClassSchema, key: str) -> tuple[str, bool]:
    special = SPECIAL_KEYS.get(key)
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
                answer[op] = [stored_nested(item) for item in value]
            case "$containedBy":
                answer["$elemMatch"] = {"$nin": [atom(item) for item in value]}
            case "$regex":
                answer[op] = unquote(value)  # same meaning everywhere, and SecantusDB refuses `\Q`
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
