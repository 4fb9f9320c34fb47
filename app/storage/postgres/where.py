"""Parse `where` constraints over decoded values as a SQL condition, and `order` and `keys` as SQL, in Parse
Server's PostgreSQL layout.

Conditions follow MongoDB's meanings, which the rest of ParseQL (and Parse's recorded answers) expect: a missing
field equals null and differs from everything else, an Array field equals a value it contains, comparisons only
match values of the same type, a missing field sorts first. Geo without PostGIS: distances on the sphere in
plain SQL (haversine, in radians as Parse measures them), boxes and polygons with PostgreSQL's own geometry.
Every value is a parameter; the compiler writes only quoted identifiers and fixed SQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from app.domain.classes import ClassSchema
from app.domain.patterns import unquote
from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon
from app.errors import InvalidJSONError, InvalidQueryError
from app.storage.postgres.columns import field_type
from app.storage.postgres.connection import quote
from app.storage.postgres.documents import Documents
from app.storage.postgres.rows import json_form, point_text, polygon_text

_AUTH_DATA = re.compile(r"^authData\.([a-zA-Z0-9_]+)(?:\.(.+))?$")
_COMPARE = {"$lt": "<", "$lte": "<=", "$gt": ">", "$gte": ">="}
_CASTS = {"Number": "double precision", "Date": "timestamptz", "Boolean": "boolean", "String": "text"}
# MongoDB's $text languages by their codes too, as PostgreSQL's text search configurations name them.
_LANGUAGES = {
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "hu": "hungarian",
    "it": "italian",
    "nb": "norwegian",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "es": "spanish",
    "sv": "swedish",
    "tr": "turkish",
    "none": "simple",
}


def json_path(path: Sequence[str]) -> str:
    """A path into a jsonb column, its keys (field names, never values) quoted by the driver as literals."""
    return "ARRAY[" + ", ".join(sql.Literal(key).as_string() for key in path) + "]::text[]"


def distance(column: str, point: GeoPoint, params: list[Any]) -> str:
    """The great-circle distance in radians between a point column and a point (haversine)."""
    params.extend([point.latitude, point.latitude, point.longitude])
    return (
        f"(2 * asin(least(1.0, sqrt(power(sin(radians(({column})[1] - %s) / 2), 2) + cos(radians(%s)) * "
        f"cos(radians(({column})[1])) * power(sin(radians(({column})[0] - %s) / 2), 2)))))"
    )


class Compiler:
    """One statement's conditions over one class's table; `params` collects the values in placeholder order."""

    def __init__(
        self, schema: ClassSchema, columns: Mapping[str, int], params: list[Any], *, case_insensitive: bool = False
    ) -> None:
        self.schema = schema
        self.case_insensitive = case_insensitive
        """Strings equal regardless of case (Parse's check that a username or email is taken): `lower()` on both
        sides, which the `case_insensitive_*` indexes hold."""
        self.columns = columns
        self.params = params
        self.rank: tuple[str, list[Any]] | None = None
        """The text search rank of a `$text` constraint, for `order=$score`."""
        self.document: tuple[str, list[str]] | None = None
        """The jsonb value and path the field just referred to lives at (Object and Array fields, paths)."""
        self.target: str | None = None
        """The class the pointer field being compiled points to."""
        self.near: tuple[str, GeoPoint] | None = None
        """The column and point of a `$nearSphere`, whose distance orders the results."""

    def where(self, where: Mapping[str, Any]) -> str:
        conditions = [self._key(key, constraint) for key, constraint in where.items()]
        conditions = [condition for condition in conditions if condition != "TRUE"]
        if not conditions:
            return "TRUE"
        return conditions[0] if len(conditions) == 1 else "(" + " AND ".join(conditions) + ")"

    def _key(self, key: str, constraint: Any) -> str:
        if key in ("$or", "$and", "$nor"):
            parts = [self.where(sub) for sub in constraint]
            if key == "$and":
                return "(" + " AND ".join(parts) + ")"
            joined = "(" + " OR ".join(parts) + ")"
            # `IS NOT TRUE`, not NOT: a comparison with a missing value is unknown in SQL, false in Parse.
            return f"({joined} IS NOT TRUE)" if key == "$nor" else joined
        reference, kind = self.reference(key)
        field = self.schema.fields.get(key)
        self.target = field.target_class if field is not None else None
        operators = isinstance(constraint, dict) and constraint and all(op.startswith("$") for op in constraint)
        if kind in ("Json", "Array") and self.document is not None:
            values = Documents(*self.document, self.params, are_pattern, self._geo)
            if not operators:
                return values.equals(constraint)
            parts = [values.condition(op, value, constraint) for op, value in constraint.items()]
            parts = [part for part in parts if part != "TRUE"]
            return "(" + " AND ".join(parts) + ")" if parts else "TRUE"
        if operators:
            parts = [self._operator(reference, kind, op, value, constraint) for op, value in constraint.items()]
            parts = [part for part in parts if part != "TRUE"]
            if not parts:
                return "TRUE"
            return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"
        if kind == "Pointer" and isinstance(constraint, str):
            return "FALSE"  # a bare objectId names a pointer only inside an operator, as Parse reads it
        return self._equals(reference, kind, constraint)

    def reference(self, key: str) -> tuple[str, str | None]:
        """The SQL for a field (a column, or a jsonb path into one) and how it is stored ("Json": a path)."""
        column, path = key, None
        auth = _AUTH_DATA.match(key) if self.schema.name == "_User" else None
        if auth is not None:
            column, path = "authData", [auth.group(1), *(auth.group(2).split(".") if auth.group(2) else [])]
        elif "." in key:
            column, *path = key.split(".")
        self.document = None
        if column not in self.columns:
            return "NULL", None
        kind = field_type(self.schema, column) or ("Object" if column == "authData" else "String")
        if path is not None:
            if kind not in ("Object", "Array"):
                return "NULL", None  # a path into a value that has no keys
            self.document = (quote(column), path)
            return f"({quote(column)} #> {json_path(path)})", "Json"
        if kind == "Array":
            self.document = (quote(column), [])
        return quote(column), kind

    def _param(self, value: Any, cast: str = "") -> str:
        self.params.append(value)
        return f"%s{cast}"

    # Columns of their own type (values inside jsonb are `documents`' business) ----------------------------

    def _equals(self, reference: str, kind: str | None, value: Any) -> str:
        if value is None:
            return f"{reference} IS NULL"
        if kind is None:
            return "FALSE"
        if kind in ("Object", "Bytes"):
            return f"{reference} = {self._param(Jsonb(json_form(value)), '::jsonb')}"
        if kind == "Permissions":
            return f"{self._param(value)} = ANY({reference})" if isinstance(value, str) else "FALSE"
        if kind == "GeoPoint":
            if not isinstance(value, GeoPoint):
                return "FALSE"
            return f"{reference} ~= {self._param(point_text(value), '::point')}"
        if kind == "Polygon":
            if not isinstance(value, Polygon):
                return "FALSE"
            return f"{reference} ~= {self._param(polygon_text(value), '::polygon')}"
        scalar = self._scalar(kind, value)
        if scalar is None:
            return "FALSE"
        if self.case_insensitive and kind == "String":
            return f"lower({reference}) = lower({self._param(scalar, '::text')})"
        return f"{reference} = {self._param(scalar, _cast(kind))}"

    def _scalar(self, kind: str, value: Any) -> Any:
        """A value as a scalar column of `kind` holds it, or None when no value of the column can equal it."""
        match kind:
            case "Number":
                if isinstance(value, int | float) and not isinstance(value, bool):
                    return float(value)
            case "Boolean":
                if isinstance(value, bool):
                    return value
            case "Date":
                if isinstance(value, datetime):
                    return value
            case "Pointer":
                if isinstance(value, Pointer):
                    # The column keeps the objectId; the schema, the class: a pointer to another class is unequal.
                    return value.object_id if value.class_name == self.target else None
                if isinstance(value, ParseObject):
                    return value.data.get("objectId")
                if isinstance(value, str):
                    return value
            case "File":
                if isinstance(value, File):
                    return value.name
                if isinstance(value, str):
                    return value
            case _:
                if isinstance(value, str):
                    return value
        return None

    # Operators ----------------------------------------------------------------------------------------

    def _operator(self, reference: str, kind: str | None, op: str, value: Any, siblings: Mapping[str, Any]) -> str:
        match op:
            case "$eq":
                return self._equals(reference, kind, value)
            case "$ne":
                if value is None:
                    return f"{reference} IS NOT NULL"
                return f"({self._equals(reference, kind, value)} IS NOT TRUE)"
            case "$lt" | "$lte" | "$gt" | "$gte":
                return self._compare(reference, kind, _COMPARE[op], value)
            case "$exists":
                return f"{reference} IS NOT NULL" if value else f"{reference} IS NULL"
            case "$in":
                return self._in(reference, kind, value)
            case "$nin":
                found = self._in(reference, kind, [item for item in value if item is not None])
                if None in value:
                    return f"({reference} IS NOT NULL AND {found} IS NOT TRUE)"
                return f"({found} IS NOT TRUE)"
            case "$all":
                if not value or kind is None:
                    return "FALSE"
                return "(" + " AND ".join(self._equals(reference, kind, item) for item in value) + ")"
            case "$containedBy":
                if kind != "Permissions":
                    return "TRUE"  # MongoDB's $elemMatch under a $nor: a value that is no array passes
                return f"({reference} IS NULL OR {reference} <@ {self._param(list(value), '::text[]')})"
            case "$regex":
                return self._regex(reference, kind, value, siblings.get("$options") or "")
            case "$options":
                return "TRUE"
            case "$text":
                return self._text(reference, kind, value)
            case "$nearSphere":
                if kind is None:
                    return "FALSE"
                self.near = (reference, value)
                limit = siblings.get("$maxDistance")
                if limit is None:
                    return f"{reference} IS NOT NULL"
                return f"{distance(reference, value, self.params)} <= {self._param(float(limit))}"
            case "$maxDistance":
                return "TRUE"
            case "$geoWithin" | "$within":
                return self._within(reference, kind, value)
            case "$geoIntersects":
                if kind != "Polygon":
                    return "FALSE"
                return f"{reference} @> {self._param(point_text(value), '::point')}"
        raise InvalidJSONError(f"bad constraint: {op}")

    def _compare(self, reference: str, kind: str | None, operator: str, value: Any) -> str:
        if value is None:  # null is only equal to null (and missing): `$gte: null` finds them, `$gt: null` nothing
            return f"{reference} IS NULL" if operator in ("<=", ">=") else "FALSE"
        if kind is None:
            return "FALSE"
        scalar = self._scalar(kind, value)
        if scalar is None:
            return "FALSE"
        return f"{reference} {operator} {self._param(scalar, _cast(kind))}"

    def _in(self, reference: str, kind: str | None, values: Sequence[Any]) -> str:
        nulls = any(item is None for item in values)
        values = [item for item in values if item is not None]
        null_test = f" OR {reference} IS NULL" if nulls else ""
        if kind is None:
            return "TRUE" if nulls else "FALSE"
        if kind == "Permissions":
            return f"({reference} && {self._param([str(item) for item in values], '::text[]')}{null_test})"
        if kind in ("Object", "Bytes", "GeoPoint", "Polygon"):
            parts = [self._equals(reference, kind, item) for item in values]
            if nulls:
                parts.append(f"{reference} IS NULL")
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        scalars = [scalar for scalar in (self._scalar(kind, item) for item in values) if scalar is not None]
        if not scalars:
            return f"({reference} IS NULL)" if nulls else "FALSE"
        return f"({reference} = ANY({self._param(scalars, _cast(kind) + '[]')}){null_test})"

    def _regex(self, reference: str, kind: str | None, pattern: str, options: str) -> str:
        if kind in ("String", "Pointer", "File"):
            return f"{reference} ~ {self._param(are_pattern(pattern, options))}"
        return "FALSE"

    def _geo(self, point: str, op: str, value: Any, siblings: Mapping[str, Any]) -> str:
        """A geo condition on a point expression inside a document (no ordering by distance there)."""
        if op == "$nearSphere":
            limit = siblings.get("$maxDistance")
            if limit is None:
                return "TRUE"
            return f"{distance(point, value, self.params)} <= {self._param(float(limit))}"
        return self._within(point, "GeoPoint", value)

    def _text(self, reference: str, kind: str | None, value: Mapping[str, Any]) -> str:
        if kind is None:
            return "FALSE"
        if value.get("$caseSensitive"):
            raise InvalidQueryError(
                "bad $text: $caseSensitive not supported, please use $regex or create a separate lower case column."
            )
        language = str(value.get("$language") or "english").lower()
        language = _LANGUAGES.get(language, language)
        query, query_params = _tsquery(str(value["$search"]), language)
        vector = f"to_tsvector(%s::regconfig, {reference}::text)"
        self.params.extend([language, *query_params])
        self.rank = (f"ts_rank({vector}, {query})", [language, *query_params])
        return f"{vector} @@ {query}"

    def _within(self, reference: str, kind: str | None, value: Mapping[str, Any]) -> str:
        if kind == "Polygon" and "$box" in value:
            corner, opposite = value["$box"]
            return (
                f"{reference} <@ polygon(box({self._param(point_text(corner), '::point')}, "
                f"{self._param(point_text(opposite), '::point')}))"
            )
        if kind != "GeoPoint":
            return "FALSE"
        if "$box" in value:
            corner, opposite = value["$box"]
            if corner.latitude > opposite.latitude or corner.longitude > opposite.longitude:
                return "FALSE"  # MongoDB reads a box as [south-west, north-east]: reversed, it holds nothing
            # Strictly inside, as MongoDB decides: a point on the edge is not within.
            return (
                f"(({reference})[0] > {self._param(corner.longitude)} AND ({reference})[0] < "
                f"{self._param(opposite.longitude)} AND ({reference})[1] > {self._param(corner.latitude)} AND "
                f"({reference})[1] < {self._param(opposite.latitude)})"
            )
        if "$polygon" in value:
            points = value["$polygon"]
            text = "(" + ",".join(point_text(point) for point in points) + ")"
            return f"{reference} <@ {self._param(text, '::polygon')}"
        center, radius = value["$centerSphere"]
        return f"{distance(reference, center, self.params)} <= {self._param(float(radius))}"


def are_pattern(pattern: str, options: str) -> str:
    """A `$regex` and its `$options` as a PostgreSQL regular expression (ARE) with embedded options."""
    leading, pattern = _leading_flags(pattern)
    options += leading
    flags = ""
    if "i" in options:
        flags += "i"
    if "x" in options:
        flags += "x"
    # MongoDB: `.` stops at newlines unless `s`; `^`/`$` match at them with `m`. PostgreSQL's embedded
    # options: `p` (partial newline-sensitive), `w` (inverse partial), `n` (both).
    multiline, dotall = "m" in options, "s" in options
    flags += ("w" if dotall else "n") if multiline else ("" if dotall else "p")
    translated = _anchors(unquote(pattern), multiline)
    return f"(?{flags}){translated}" if flags else translated


def _leading_flags(pattern: str) -> tuple[str, str]:
    """PCRE's flags written at a pattern's start (`(?ms)…`), which PostgreSQL takes only as its own options."""
    found = re.match(r"\(\?([imsx]+)\)", pattern)
    if found is None:
        return "", pattern
    return found.group(1), pattern[found.end() :]


def _anchors(pattern: str, multiline: bool) -> str:
    """PCRE's `$` (without `m`) and `\\Z` also match before a final newline, PostgreSQL's only at the end; `\\z`
    is PostgreSQL's `\\Z`. Rewritten outside character classes, escapes left as they are."""
    out: list[str] = []
    index, in_class = 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            pair = pattern[index : index + 2]
            if not in_class and pair == "\\Z":
                out.append("(?=\\n?\\Z)")
            elif not in_class and pair == "\\z":
                out.append("\\Z")
            else:
                out.append(pair)
            index += 2
            continue
        if in_class:
            in_class = char != "]" or out[-1] == "["
        elif char == "[":
            in_class = True
        elif char == "$" and not multiline:
            out.append("(?=\\n?\\Z)")
            index += 1
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _tsquery(search: str, language: str) -> tuple[str, list[Any]]:
    """MongoDB's `$search`: words any of which matches, "phrases" all of which must, `-word` none."""
    phrases = re.findall(r'"([^"]*)"', search)
    rest = re.sub(r'"[^"]*"', " ", search).split()
    words = [word for word in rest if not word.startswith("-")]
    excluded = [word[1:] for word in rest if word.startswith("-") and len(word) > 1]
    parts: list[str] = []
    params: list[Any] = []
    if words:
        parts.append("(" + " || ".join("plainto_tsquery(%s::regconfig, %s)" for _ in words) + ")")
        for word in words:
            params.extend([language, word])
    for phrase in phrases:
        parts.append("phraseto_tsquery(%s::regconfig, %s)")
        params.extend([language, phrase])
    for word in excluded:
        parts.append("(!! plainto_tsquery(%s::regconfig, %s))")
        params.extend([language, word])
    if not parts:
        parts.append("plainto_tsquery(%s::regconfig, %s)")
        params.extend([language, search])
    return "(" + " && ".join(parts) + ")", params


def _cast(kind: str) -> str:
    cast = _CASTS.get(kind)
    return f"::{cast}" if cast else "::text"
