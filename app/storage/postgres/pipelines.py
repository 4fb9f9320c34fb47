"""`/aggregate` pipelines in SQL: the stages Parse Server's PostgreSQL adapter runs (`$match`, `$group` with its
accumulators, `$project`, `$sort`, `$limit`, `$skip`, `$unwind`, `$count`) over Parse field names.

Each stage is a query over the one before: its rows are `(doc, n)`, the object as jsonb in Parse's JSON (dates
as `{"__type": "Date"}`, pointers as `{"__type": "Pointer"}`) and its place in the order the stages made. The
first query builds the documents from the class's columns; the last answers them in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.domain.classes import ClassSchema
from app.domain.queries import parse_where
from app.domain.values import Record
from app.errors import InvalidQueryError
from app.storage.postgres.columns import field_type
from app.storage.postgres.connection import quote
from app.storage.postgres.rows import from_json
from app.storage.postgres.where import Compiler, json_path

STAGES = frozenset({"$match", "$group", "$project", "$sort", "$limit", "$skip", "$unwind", "$count"})
_ISO = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
_ACCUMULATORS = ("$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count")


def _as_json(schema: ClassSchema, column: str) -> str | None:
    """A column as the JSON a document holds it in; None for the ACL columns, which documents leave out."""
    reference = quote(column)
    match field_type(schema, column):
        case "Date":
            return f"jsonb_build_object('__type', 'Date', 'iso', {_ISO.format(reference)})"
        case "Pointer":
            target = schema.fields[column].target_class or ""
            return (
                f"CASE WHEN {reference} IS NULL THEN NULL ELSE jsonb_build_object('__type', 'Pointer', "
                f"'className', {_literal(target)}, 'objectId', {reference}) END"
            )
        case "GeoPoint":
            return (
                f"CASE WHEN {reference} IS NULL THEN NULL ELSE jsonb_build_object('__type', 'GeoPoint', "
                f"'latitude', ({reference})[1], 'longitude', ({reference})[0]) END"
            )
        case "File":
            return (
                f"CASE WHEN {reference} IS NULL THEN NULL ELSE "
                f"jsonb_build_object('__type', 'File', 'name', {reference}) END"
            )
        case "Permissions":
            return None
        case "Polygon":
            return f"to_jsonb({reference}::text)"
    return f"to_jsonb({reference})"


def _literal(text: str) -> str:
    from psycopg import sql

    return sql.Literal(text).as_string()


class _DocumentCompiler(Compiler):
    """`where` over the documents of a stage: every field is a path into `doc`."""

    def reference(self, key: str) -> tuple[str, str | None]:
        path = [_field(key), *key.split(".")[1:]]
        self.document = ("doc", path)
        return f"(doc #> {json_path(path)})", "Json"


def _field(key: str) -> str:
    name = key.split(".", 1)[0]
    return "objectId" if name == "_id" else name


def _dates(schema: ClassSchema, where: Any) -> Any:
    """MongoDB compares a Date field with an ISO string as a date (Parse hands dates to `$match` so)."""
    if isinstance(where, list):
        return [_dates(schema, item) for item in where]
    if not isinstance(where, dict):
        return where
    result: dict[str, Any] = {}
    for key, value in where.items():
        kind = field_type(schema, key)
        if kind == "Date":
            result[key] = _date_values(value)
        else:
            result[key] = _dates(schema, value) if key.startswith("$") else value
    return result


def _date_values(value: Any) -> Any:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return {"__type": "Date", "iso": moment.isoformat()}
    if isinstance(value, dict) and "__type" not in value:
        return {key: _date_values(item) for key, item in value.items()}
    return value


class Pipeline:
    """One pipeline compiled to one statement and its parameters."""

    def __init__(self, schema: ClassSchema, columns: Mapping[str, int]) -> None:
        self.schema = schema
        self.params: list[Any] = []
        parts = []
        for column in columns:
            value = _as_json(schema, column)
            if value is not None:
                parts += [_literal(column), value]
        self.query = (
            f"SELECT jsonb_strip_nulls(jsonb_build_object({', '.join(parts)})) AS doc, "
            f'row_number() OVER (ORDER BY "createdAt") AS n FROM {quote(schema.name)}'
        )
        self.grouped_by_pointer = False

    def add(self, name: str, body: Any) -> None:
        previous = f"({self.query}) AS s"
        match name:
            case "$match":
                condition_params: list[Any] = []
                compiler = _DocumentCompiler(self.schema, {}, condition_params)
                condition = compiler.where(parse_where(_dates(self.schema, body), None, master=True))
                self.query = f"SELECT doc, n FROM {previous} WHERE {condition}"
                self.params += condition_params
            case "$sort":
                if not isinstance(body, dict) or not body:
                    raise InvalidQueryError("$sort stage must be an object of fields")
                terms = [
                    f"(doc #> {json_path([_field(key), *key.split('.')[1:]])}) {'DESC' if value == -1 else 'ASC'}"
                    for key, value in body.items()
                ]
                self.query = f"SELECT doc, row_number() OVER (ORDER BY {', '.join(terms)}, n) AS n FROM {previous}"
            case "$limit" | "$skip":
                if not isinstance(body, int) or isinstance(body, bool) or body < 0:
                    raise InvalidQueryError(f"invalid argument to {name} stage: expected a non-negative integer")
                self.params.append(body)
                clause = "LIMIT" if name == "$limit" else "OFFSET"
                self.query = f"SELECT doc, n FROM {previous} ORDER BY n {clause} %s"
            case "$project":
                self.query = f"SELECT {self._project(body)} AS doc, n FROM {previous}"
            case "$count":
                if not isinstance(body, str) or not body:
                    raise InvalidQueryError("the count field must be a non-empty string")
                self.query = f"SELECT jsonb_build_object({_literal(body)}, count(*)) AS doc, 1 AS n FROM {previous}"
            case "$unwind":
                path = body.get("path") if isinstance(body, dict) else body
                if not isinstance(path, str) or not path.startswith("$"):
                    raise InvalidQueryError("$unwind needs a field path starting with $")
                keys = json_path(path[1:].split("."))
                self.query = (
                    f"SELECT jsonb_set(doc, {keys}, e.v), row_number() OVER (ORDER BY s.n, e.i) AS n FROM {previous}, "
                    f"jsonb_array_elements(CASE WHEN jsonb_typeof(doc #> {keys}) = 'array' THEN doc #> {keys} "
                    "ELSE '[]'::jsonb END) WITH ORDINALITY AS e(v, i)"
                )
            case "$group":
                self.query = self._group(body, previous)
            case _:
                raise InvalidQueryError(f"Unrecognized pipeline stage name: '{name}'")

    def _project(self, body: Any) -> str:
        if not isinstance(body, dict):
            raise InvalidQueryError("$project specification must be an object")
        kept = [key for key, value in body.items() if value in (1, True) and key != "_id"]
        dropped = [key for key, value in body.items() if value in (0, False)]
        if any(value not in (0, 1, True, False) for value in body.values()):
            raise InvalidQueryError("$project takes only inclusions and exclusions here")
        if not kept:
            return "doc" + "".join(f" - {_literal(_field(key))}" for key in dropped)
        parts = [] if "_id" in dropped else ["'objectId'", "doc -> 'objectId'"]
        for key in kept:
            parts += [_literal(key), f"doc -> {_literal(key)}"]
        return f"jsonb_strip_nulls(jsonb_build_object({', '.join(parts)}))"

    def _group(self, body: Any, previous: str) -> str:
        if not isinstance(body, dict) or "_id" not in body:
            raise InvalidQueryError("Invalid parameter for query: group. Missing key _id")
        # Parameters in the order their placeholders come: the accumulators', the key's, then the stages before.
        accumulated: list[Any] = []
        keyed: list[Any] = []
        key = self._expression(body["_id"], keyed, group_key=True)
        parts = []
        for name, accumulator in body.items():
            if name == "_id":
                continue
            if not isinstance(accumulator, dict) or len(accumulator) != 1:
                raise InvalidQueryError(f"The field '{name}' must be an accumulator object")
            [(operator, argument)] = accumulator.items()
            parts += [_literal(name), self._accumulate(operator, argument, accumulated)]
        parts += ["'objectId'", "key"]
        self.params = [*accumulated, *keyed, *self.params]
        return (
            f"SELECT jsonb_build_object({', '.join(parts)}) AS doc, row_number() OVER () AS n "
            f"FROM (SELECT {key} AS key, doc, n FROM {previous}) AS g GROUP BY key"
        )

    def _expression(self, value: Any, params: list[Any], group_key: bool = False) -> str:
        if isinstance(value, str) and value.startswith("$"):
            field = _field(value[1:])
            if group_key and field_type(self.schema, field) == "Pointer":
                self.grouped_by_pointer = True
                return f"(doc #> {json_path([field, 'objectId'])})"
            return f"(doc #> {json_path([field, *value[1:].split('.')[1:]])})"
        if isinstance(value, dict):
            parts = []
            for name, item in value.items():
                parts += [_literal(name), self._expression(item, params, group_key)]
            return f"jsonb_build_object({', '.join(parts)})" if parts else "'null'::jsonb"
        params.append(orjson_text(value))
        return "%s::jsonb"

    def _accumulate(self, operator: str, argument: Any, params: list[Any]) -> str:
        if operator not in _ACCUMULATORS:
            raise InvalidQueryError(f"unknown group operator '{operator}'")
        if operator == "$count":
            return "to_jsonb(count(*))"
        constant = not (isinstance(argument, str) and argument.startswith("$")) and not isinstance(argument, dict)
        if constant and operator != "$sum":
            raise InvalidQueryError(f'{operator} takes a field path here, such as "$score"')
        value = self._expression(argument, params)
        number = f"CASE WHEN jsonb_typeof({value}) = 'number' THEN ({value})::numeric END"
        match operator:
            case "$sum":
                if isinstance(argument, int | float) and not isinstance(argument, bool):
                    return f"to_jsonb(count(*) * ({value})::numeric)"
                return f"to_jsonb(COALESCE(sum({number}), 0))"
            case "$avg":
                return f"to_jsonb(avg({number}))"
            case "$min" | "$max":
                function = operator[1:]
                return f"COALESCE(to_jsonb({function}({number})), to_jsonb({function}({value} #>> '{{}}')))"
            case "$first":
                return f"(array_agg({value} ORDER BY n))[1]"
            case "$last":
                return f"(array_agg({value} ORDER BY n DESC))[1]"
            case "$push":
                return f"COALESCE(jsonb_agg({value} ORDER BY n) FILTER (WHERE {value} IS NOT NULL), '[]'::jsonb)"
        return f"COALESCE(jsonb_agg(DISTINCT {value}) FILTER (WHERE {value} IS NOT NULL), '[]'::jsonb)"

    def statement(self) -> str:
        return f"SELECT doc FROM ({self.query}) AS result ORDER BY n"

    def record(self, document: Mapping[str, Any]) -> Record:
        """A result as a record: the group's key (or the object's id) last as objectId, as Parse reports it."""
        record: Record = {key: from_json(value) for key, value in document.items() if key != "objectId"}
        if "objectId" in document:
            record["objectId"] = from_json(document["objectId"])
        return record


def orjson_text(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()
