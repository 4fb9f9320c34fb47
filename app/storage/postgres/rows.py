"""Records as rows in Parse Server's PostgreSQL layout, and back; changes as `SET` assignments.

A column holds a field's own value in its Parse type: pointers as the bare objectId (the schema names the
class), points as `point(longitude, latitude)`, polygons as `polygon` of (longitude, latitude), files by name,
Object/Array/Bytes as jsonb in Parse's JSON (`{"__type": "Date", "iso": …}` inside). Every value reaches SQL as a
parameter; only quoted identifiers and fixed SQL are written into statements.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from psycopg.types.json import Jsonb

from app.domain.acl import ACL
from app.domain.classes import ClassSchema
from app.domain.operations import Add, AddUnique, Delete, Increment, Remove
from app.domain.stored_values import NOT_TYPED, stored_number, typed_object, typed_value
from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon, Record, Relation
from app.errors import InvalidQueryError
from app.storage.postgres.columns import INTERNAL_TYPES, field_type, inferred_type
from app.storage.postgres.connection import quote

_SAFE_INTEGER = 2**53


def iso(moment: datetime) -> str:
    """A date as Parse writes it in JSON: UTC, milliseconds, `Z`."""
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def json_form(value: Any) -> Any:
    """A value nested in an Object or Array field (or a Bytes field) as Parse's JSON."""
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int):
        return stored_number(value)
    if isinstance(value, float):
        return value
    if isinstance(value, datetime):
        return {"__type": "Date", "iso": iso(value)}
    if isinstance(value, list | tuple):
        return [json_form(item) for item in value]
    if isinstance(value, Mapping):
        return {key: json_form(item) for key, item in value.items()}
    if isinstance(value, bytes):
        return {"__type": "Bytes", "base64": base64.b64encode(value).decode()}
    typed = typed_object(value)
    if typed is None:
        raise InvalidQueryError(f"cannot store a value of type {type(value).__name__}")
    return typed


def from_json(value: Any) -> Any:
    """Parse's JSON read from a jsonb column as domain values (lenient: data other software wrote)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() and abs(value) < _SAFE_INTEGER else value
    if isinstance(value, list):
        return [from_json(item) for item in value]
    if isinstance(value, dict):
        kind = value.get("__type")
        if kind == "Date" and isinstance(value.get("iso"), str):
            try:
                moment = datetime.fromisoformat(value["iso"].replace("Z", "+00:00"))
            except ValueError:
                return value
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        if kind is not None and (typed := typed_value(kind, value)) is not NOT_TYPED:
            return typed
        return {key: from_json(item) for key, item in value.items()}
    return value


def point_text(point: GeoPoint) -> str:
    return f"({point.longitude!r},{point.latitude!r})"


def polygon_text(polygon: Polygon) -> str:
    return "(" + ",".join(f"({lng!r},{lat!r})" for lat, lng in polygon.coordinates) + ")"


def _point(text: str) -> GeoPoint:
    longitude, latitude = text.strip("()").split(",")
    return GeoPoint(float(latitude), float(longitude))


def _polygon(text: str) -> Polygon:
    pairs = text.strip("()").split("),(")
    points = []
    for pair in pairs:
        longitude, latitude = pair.split(",")
        points.append((float(latitude), float(longitude)))
    return Polygon(tuple(points))


def column_value(kind: str, value: Any) -> tuple[str, Any]:
    """A field's own value for a column of Parse type `kind`: the placeholder (with its cast) and the parameter."""
    if value is None:
        return "%s", None
    match kind:
        case "Pointer":
            if isinstance(value, Pointer):
                return "%s", value.object_id
            if isinstance(value, ParseObject):
                return "%s", value.data.get("objectId")
            return "%s", str(value)
        case "GeoPoint":
            return "%s::point", point_text(value)
        case "Polygon":
            return "%s::polygon", polygon_text(value)
        case "File":
            return "%s", value.name if isinstance(value, File) else str(value)
        case "Number":
            return "%s::double precision", float(value) if not isinstance(value, bool) else value
        case "Object" | "Array" | "Bytes":
            return "%s::jsonb", Jsonb(json_form(value))
        case "Permissions":
            return "%s::text[]", list(value)
        case "Date":
            return "%s::timestamptz", value
        case "Boolean":
            return "%s::boolean", value
    return "%s", value


def record_columns(schema: ClassSchema, record: Record) -> dict[str, tuple[str, Any, str]]:
    """A new object's columns: name to (placeholder, parameter, Parse type)."""
    columns: dict[str, tuple[str, Any, str]] = {}
    for name, value in record.items():
        if isinstance(value, Relation) or value is None:
            continue
        if name == "ACL":
            columns["_rperm"] = ("%s::text[]", list(value.read), "Permissions")
            columns["_wperm"] = ("%s::text[]", list(value.write), "Permissions")
            continue
        if name == "authData" and schema.name == "_User":
            providers = {provider: data for provider, data in (value or {}).items() if data is not None}
            if providers:
                columns[name] = ("%s::jsonb", Jsonb(json_form(providers)), "Object")
            continue
        kind = field_type(schema, name) or inferred_type(value)
        placeholder, parameter = column_value(kind, value)
        columns[name] = (placeholder, parameter, kind)
    return columns


def record_from_row(schema: ClassSchema, row: Mapping[str, Any]) -> Record:
    """A row as a record: fields in the table's order (as Parse Server on PostgreSQL answers them), then relation
    markers and the ACL."""
    record: Record = {}
    fields = schema.fields
    rperm = wperm = None
    for key, value in row.items():
        if value is None:
            continue
        if key == "_rperm":
            rperm = value
            continue
        if key == "_wperm":
            wperm = value
            continue
        field = fields.get(key)
        kind = field.type if field is not None else INTERNAL_TYPES.get(key)
        if kind is None:
            if key == "sessionToken" or key == "objectId":
                record[key] = value
            continue
        match kind:
            case "Pointer":
                target = field.target_class if field is not None else None
                record[key] = Pointer(target or "", str(value))
            case "Number":
                record[key] = int(value) if value.is_integer() and abs(value) < _SAFE_INTEGER else value
            case "GeoPoint":
                record[key] = _point(value)
            case "Polygon":
                record[key] = _polygon(value)
            case "File":
                record[key] = File(value)
            case "Object" | "Array" | "Bytes":
                record[key] = from_json(value)
            case _:
                record[key] = value
    for name in schema.relation_fields:
        record[name] = Relation(fields[name].target_class or "")
    if rperm is not None or wperm is not None:
        record["ACL"] = ACL(tuple(rperm or ()), tuple(wperm or ()))
    return record


# Updates --------------------------------------------------------------------------------------------

Expression = tuple[str, list[Any]]
"""SQL text and its parameters, in the order of its placeholders (expressions nest: each keeps its own)."""


def assignments(
    schema: ClassSchema, changes: Mapping[str, Any], existing: Mapping[str, int]
) -> tuple[Expression, dict[str, str]]:
    """The `SET` list for values and operations on fields (the target table is `t`), and the columns it needs
    that the table lacks (name to Parse type)."""
    expressions: dict[str, Expression] = {}
    missing: dict[str, str] = {}

    def current(column: str) -> Expression:
        return expressions.get(column, (f"t.{quote(column)}", []))

    for name, change in changes.items():
        if name == "ACL":
            if change is None or isinstance(change, Delete):
                expressions["_rperm"] = expressions["_wperm"] = ("NULL", [])
            else:
                expressions["_rperm"] = ("%s::text[]", [list(change.read)])
                expressions["_wperm"] = ("%s::text[]", [list(change.write)])
            continue
        if name == "authData" and schema.name == "_User":
            if name not in existing:
                missing[name] = "Object"
            text, values = current(name)
            text, values = f"COALESCE({text}, '{{}}'::jsonb)", list(values)
            for provider, data in (change or {}).items():
                if data is None:
                    text, values = f"({text} - %s::text)", [*values, provider]
                else:
                    text = f"jsonb_set({text}, ARRAY[%s::text], %s::jsonb, true)"
                    values = [*values, provider, Jsonb(json_form(data))]
            expressions[name] = (f"NULLIF({text}, '{{}}'::jsonb)", values)
            continue
        if "." in name:
            column, *path = name.split(".")
            if column not in existing:
                missing[column] = field_type(schema, column) or "Object"
            expressions[column] = _nested(current(column), path, change)
            continue
        kind = field_type(schema, name) or _change_type(change)
        if kind is None:
            if name in existing:
                expressions[name] = ("NULL", [])  # a Delete of a column no schema names (a legacy token)
            continue  # a Delete of a field that has no column: nothing to remove
        if name not in existing:
            if isinstance(change, Delete):
                continue
            missing[name] = kind
        expressions[name] = _column_change(current(name), kind, change)
    if not changes:
        raise InvalidQueryError("nothing to update")
    if not expressions:
        expressions["objectId"] = ('t."objectId"', [])  # only removals of columns never made: nothing changes
    texts: list[str] = []
    params: list[Any] = []
    for column, (text, values) in expressions.items():
        texts.append(f"{quote(column)} = {text}")
        params.extend(values)
    return (", ".join(texts), params), missing


def _change_type(change: Any) -> str | None:
    match change:
        case Delete():
            return None
        case Increment():
            return "Number"
        case Add() | AddUnique() | Remove():
            return "Array"
    return inferred_type(change)


def _column_change(column: Expression, kind: str, change: Any) -> Expression:
    text, params = column
    match change:
        case Delete():
            return "NULL", []
        case Increment(amount=amount):
            return f"COALESCE({text}, 0) + %s::double precision", [*params, float(amount)]
        case Add(objects=objects):
            return f"COALESCE({text}, '[]'::jsonb) || %s::jsonb", [*params, Jsonb(json_form(list(objects)))]
        case AddUnique(objects=objects):
            # The new items in their order, once each, unless the array holds them already.
            return (
                f"COALESCE({text}, '[]'::jsonb) || COALESCE((SELECT jsonb_agg(item ORDER BY position) FROM "
                "(SELECT item, min(position) AS position FROM jsonb_array_elements(%s::jsonb) "
                "WITH ORDINALITY AS added(item, position) "
                f"WHERE NOT COALESCE({text}, '[]'::jsonb) @> jsonb_build_array(item) GROUP BY item) AS fresh), "
                "'[]'::jsonb)",
                [*params, Jsonb(json_form(list(objects))), *params],
            )
        case Remove(objects=objects):
            # Removing from a field never set leaves it unset, as MongoDB's $pullAll does.
            return (
                f"CASE WHEN {text} IS NULL THEN NULL ELSE "
                "(SELECT COALESCE(jsonb_agg(item ORDER BY position), '[]'::jsonb) FROM jsonb_array_elements("
                f"{text}) WITH ORDINALITY AS kept(item, position) "
                "WHERE item NOT IN (SELECT jsonb_array_elements(%s::jsonb))) END",
                [*params, *params, Jsonb(json_form(list(objects)))],
            )
    placeholder, parameter = column_value(kind, change)
    return placeholder, [parameter]


def _nested(column: Expression, path: list[str], change: Any) -> Expression:
    text, params = column
    base = f"COALESCE({text}, '{{}}'::jsonb)"
    match change:
        case Delete():
            return f"({base} #- %s::text[])", [*params, path]
        case Increment(amount=amount):
            return (
                f"jsonb_set({base}, %s::text[], to_jsonb(COALESCE(({base} #>> %s::text[])::numeric, 0) + %s), true)",
                [*params, path, *params, path, amount],
            )
    return f"jsonb_set({base}, %s::text[], %s::jsonb, true)", [*params, path, Jsonb(json_form(change))]
