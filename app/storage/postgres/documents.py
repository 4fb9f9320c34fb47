"""Conditions on values inside jsonb (Object and Array fields, dotted paths, aggregate documents) with MongoDB's
meanings: a path goes through arrays on its way, a value matches an array that holds it, comparisons only
match values of the same type, null matches a missing value.

SQL/JSON paths in lax mode do the walking: `$."items"."k"` visits `k` in every element of `items`, and `[*]` at
the end gives an array's elements (or a lone value itself). A condition is `EXISTS` over those candidates. The
path is a parameter like any value; its keys are field names, quoted as JSON strings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from app.domain.values import GeoPoint
from app.errors import InvalidJSONError
from app.storage.postgres.rows import iso, json_form

_COMPARE = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_POINT = "point((e.v ->> 'longitude')::float8, (e.v ->> 'latitude')::float8)"
_IS_POINT = "(jsonb_typeof(e.v) = 'object' AND e.v ->> '__type' = 'GeoPoint')"


def jsonpath(path: Sequence[str], *, elements: bool) -> str:
    """The lax SQL/JSON path to a value (`elements`: to its elements when it is an array)."""
    # A number is an array index too (MongoDB's `tags.0`); lax mode reads `[0]` of a lone value as the value.
    steps = "".join(f"[{key}]" if key.isdigit() else f".{json.dumps(key)}" for key in path)
    return f"lax ${steps}{'[*]' if elements else ''}"


class Documents:
    """Conditions on one jsonb value (`column`, an SQL expression) at `path`; values go to `params` in order."""

    def __init__(
        self,
        column: str,
        path: Sequence[str],
        params: list[Any],
        regex: Callable[[str, str], str],
        geo: Callable[[str, str, Any, Mapping[str, Any]], str],
    ) -> None:
        self.column = column
        self.path = path
        self.params = params
        self.regex = regex
        """The ARE pattern (with its embedded options) for a `$regex` and its `$options`."""
        self.geo = geo
        """A geo condition (operator, value, siblings) on a point expression."""

    def _exists(self, condition: Callable[[], str] | None, *, elements: bool = True) -> str:
        """EXISTS over the candidates; `condition` is built after the path's placeholder, in text order."""
        self.params.append(jsonpath(self.path, elements=elements))
        where = f" WHERE {condition()}" if condition else ""
        return f"EXISTS (SELECT 1 FROM jsonb_path_query({self.column}, %s::jsonpath) AS e(v){where})"

    def _value(self, value: Any) -> str:
        self.params.append(Jsonb(json_form(value)))
        return "%s::jsonb"

    def equals(self, value: Any) -> str:
        if value is None:
            missing = f"NOT {self._exists(None, elements=False)}"
            null = self._exists(lambda: "e.v = 'null'::jsonb")
            return f"({missing} OR {null})"
        if isinstance(value, list | dict):
            whole = self._exists(lambda: f"e.v = {self._value(value)}", elements=False)
            each = self._exists(lambda: f"e.v = {self._value(value)}")
            return f"({whole} OR {each})"
        return self._exists(lambda: f"e.v = {self._value(value)}")

    def condition(self, op: str, value: Any, siblings: Mapping[str, Any]) -> str:
        match op:
            case "$eq":
                return self.equals(value)
            case "$ne":
                return f"({self.equals(value)} IS NOT TRUE)"
            case "$lt" | "$lte" | "$gt" | "$gte":
                return self._compare(_COMPARE[op], value)
            case "$exists":
                found = self._exists(None, elements=False)
                return found if value else f"NOT {found}"
            case "$in":
                parts = [self.equals(item) for item in value]
                return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
            case "$nin":
                parts = [self.equals(item) for item in value]
                return "((" + " OR ".join(parts) + ") IS NOT TRUE)" if parts else "TRUE"
            case "$all":
                parts = [self.equals(item) for item in value]
                return "(" + " AND ".join(parts) + ")" if parts else "FALSE"
            case "$containedBy":
                # MongoDB's $elemMatch/$nin under a $nor: only an array with an element outside the list fails.
                self.params.append(jsonpath(self.path, elements=False))
                self.params.append([Jsonb(json_form(item)) for item in value])
                return (
                    f"NOT EXISTS (SELECT 1 FROM jsonb_path_query({self.column}, %s::jsonpath) AS w(v) "
                    "WHERE jsonb_typeof(w.v) = 'array' AND EXISTS (SELECT 1 FROM jsonb_array_elements(w.v) AS x(v) "
                    "WHERE x.v <> ALL(%s::jsonb[])))"
                )
            case "$regex":
                pattern = self.regex(value, siblings.get("$options") or "")
                self.params.append(jsonpath(self.path, elements=True))
                self.params.append(pattern)
                return (
                    f"EXISTS (SELECT 1 FROM jsonb_path_query({self.column}, %s::jsonpath) AS e(v) "
                    "WHERE jsonb_typeof(e.v) = 'string' AND (e.v #>> '{}') ~ %s)"
                )
            case "$options" | "$maxDistance":
                return "TRUE"
            case "$nearSphere" | "$geoWithin" | "$within":
                self.params.append(jsonpath(self.path, elements=True))
                condition = self.geo(_POINT, op, value, siblings)
                return (
                    f"EXISTS (SELECT 1 FROM jsonb_path_query({self.column}, %s::jsonpath) AS e(v) "
                    f"WHERE {_IS_POINT} AND {condition})"
                )
            case "$geoIntersects" | "$text":
                return "FALSE"  # only on columns of their own type
        raise InvalidJSONError(f"bad constraint: {op}")

    def _compare(self, operator: str, value: Any) -> str:
        if value is None:
            return self.equals(None) if operator in ("<=", ">=") else "FALSE"
        if isinstance(value, datetime):
            self.params.append(jsonpath(self.path, elements=True))
            self.params.append(iso(value))
            return (
                f"EXISTS (SELECT 1 FROM jsonb_path_query({self.column}, %s::jsonpath) AS e(v) WHERE "
                f"jsonb_typeof(e.v) = 'object' AND e.v ->> '__type' = 'Date' AND (e.v ->> 'iso') {operator} %s)"
            )
        if isinstance(value, bool):
            kind, cast = "boolean", "(e.v)::boolean"
        elif isinstance(value, int | float):
            kind, cast = "number", "(e.v)::numeric"
        elif isinstance(value, str):
            kind, cast = "string", "(e.v #>> '{}')"
        elif isinstance(value, GeoPoint):
            return "FALSE"
        else:
            stored = json_form(value)
            kind = "array" if isinstance(stored, list) else "object"
            self.params.append(jsonpath(self.path, elements=False))
            self.params.append(Jsonb(stored))
            return (
                f"EXISTS (SELECT 1 FROM jsonb_path_query({self.column}, %s::jsonpath) AS e(v) WHERE "
                f"jsonb_typeof(e.v) = '{kind}' AND e.v {operator} %s::jsonb)"
            )
        self.params.append(jsonpath(self.path, elements=True))
        self.params.append(value if not isinstance(value, int | float) or isinstance(value, bool) else float(value))
        typed = "%s::numeric" if kind == "number" else "%s"
        # CASE, not AND: SQL may cast before it tests the type, and a string is no number.
        return (
            f"EXISTS (SELECT 1 FROM jsonb_path_query({self.column}, %s::jsonpath) AS e(v) WHERE "
            f"(CASE WHEN jsonb_typeof(e.v) = '{kind}' THEN {cast} END) {operator} {typed})"
        )
