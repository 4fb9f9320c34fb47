"""`/aggregate` pipelines over Parse field names as MongoDB pipelines over stored names, and their results back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.domain.classes import ClassSchema
from app.domain.stored_values import stored_pointer
from app.domain.values import Record
from app.storage.mongo.documents import decode_stored, from_document

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
            result[f"_p_{field}"] = item if isinstance(item, dict) else stored_pointer(type_.target_class, item)
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
        record["objectId"] = decode_stored(group_id)
    return record
