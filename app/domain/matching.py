"""Live-query matching: a decoded `where` compiled to a predicate that answers as the database would.

A write is matched against many subscriptions without a database round trip, so each `where` is
compiled once into closures. The semantics are the database's, not Python's: a record is seen in
its stored form, and constraints are translated, with the rules the MongoDB engine stores and queries by
(app/domain/stored_values.py: pointers as `Class$id`, points as `[lng, lat]`, files by name, nested values
in Parse's JSON form), and values compare as SecantusDB compares BSON: an array matches by containment, a
missing field equals null, `$ne`/`$nin` match missing fields, and `$lt`/`$gt` compare only within one type
bracket. A `$regex` runs on RE2, in time linear in the text, with the database's reading of the pattern
(app/domain/patterns.py).

What needs the database (sub-queries, relations, `$relatedTo`, `$text`) or has no exact in-memory
equivalent is refused when compiling, with UnsupportedInLiveQueryError (an InvalidQueryError, 102).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from typing import Any, Final

import re2

from app.domain.acl import ACL
from app.domain.classes import ClassSchema
from app.domain.geometry import great_circle, is_convex, point_of, polygon_side, ring_side, rings_of
from app.domain.patterns import MAX_PATTERN, PatternError, Untranslatable, parse, to_re2, unquote
from app.domain.stored_values import INT32, stored_field, stored_nested, stored_pointer
from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon, Relation
from app.errors import InvalidQueryError

Predicate = Callable[[Mapping[str, Any]], bool]
# A test over the values a path reaches in one record (several when the path crosses an array).
_Test = Callable[[list[Any]], bool]

_LOGICAL = ("$or", "$and", "$nor")
_NEEDS_DATABASE = {
    "$relatedTo": "it reads the relation's join table",
    "$select": "it runs a sub-query",
    "$dontSelect": "it runs a sub-query",
    "$inQuery": "it runs a sub-query",
    "$notInQuery": "it runs a sub-query",
    "$text": "full-text search needs the database's text index",
}
_RANGE = ("$lt", "$lte", "$gt", "$gte")
# SecantusDB's mean Earth radius: its distances are in metres, and comparing in the same unit keeps ties equal.
_EARTH_RADIUS_METERS = 6_378_100.0
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.never_capture = True  # only whether it finds something matters
_RE2_OPTIONS.log_errors = False  # a refused pattern is answered to its client, not written to stderr


class UnsupportedInLiveQueryError(InvalidQueryError):
    """A constraint a live query cannot evaluate in memory: it needs the database, or has no exact equivalent."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final[Any] = _Missing()


class _Positional(list[Any]):
    """An array reached by its index in a path: the database matches it whole, not by its elements."""


_DOMAIN_TYPES: Final = (Pointer, ParseObject, File, GeoPoint, Polygon, Relation)
# Scalars by their equality bracket: numbers share one, booleans keep theirs.
_TAGS: Final = {str: "s", bool: "b", int: "n", float: "n", type(None): "z", datetime: "d"}


def compile_where(where: Mapping[str, Any], schema: ClassSchema | None = None) -> Predicate:
    """The predicate for a `where` from `parse_where`: does the database return this record for it?

    `schema` gives the field types the storage layer translates by (pointer fields, Array fields,
    relations); without it every field is typed by its value, as storage does for unknown fields.
    """
    return _all_of([_clause(key, constraint, schema) for key, constraint in where.items()])


def equality_keys(where: Mapping[str, Any], schema: ClassSchema | None = None) -> dict[str, Hashable]:
    """Top-level `field = value` constraints every match has: `record.get(field) == value` for each.

    Only scalar equalities whose stored comparison is plain equality of the record's value are
    listed: a String, Number or Boolean field with a value of its type, a Pointer field with a
    Pointer, and objectId. Without a schema only objectId qualifies (a string may equal a File's name,
    a number an element of an array). A hub may index subscriptions by these and still run the predicate.
    """
    keys: dict[str, Hashable] = {}
    for key, constraint in where.items():
        if key == "$and":
            for sub in constraint:
                for name, value in equality_keys(sub, schema).items():
                    keys.setdefault(name, value)
            continue
        value = constraint
        if isinstance(constraint, dict) and constraint and all(op.startswith("$") for op in constraint):
            if "$eq" not in constraint or "$containedBy" in constraint:
                continue
            value = constraint["$eq"]
        if _is_exact_equality(key, value, schema):
            keys.setdefault(key, value)
    return keys


def _is_exact_equality(key: str, value: Any, schema: ClassSchema | None) -> bool:
    if key == "objectId":
        return type(value) is str
    field = schema.fields.get(key) if schema is not None and key not in ("createdAt", "updatedAt") else None
    if field is None:
        return False
    match field.type:
        case "String":
            return type(value) is str
        case "Number":
            # Integers beyond 32 bits are stored as doubles, so the record may hold a different number.
            return type(value) is float or (type(value) is int and -INT32 <= value < INT32)
        case "Boolean":
            return type(value) is bool
        case "Pointer":
            return type(value) is Pointer
    return False


# Clauses ------------------------------------------------------------------------------------------


def _all_of(predicates: list[Predicate]) -> Predicate:
    if not predicates:
        return lambda record: True
    if len(predicates) == 1:
        return predicates[0]

    if len(predicates) == 2:
        first, second = predicates
        return lambda record: first(record) and second(record)

    def every(record: Mapping[str, Any]) -> bool:
        return all(predicate(record) for predicate in predicates)

    return every


def _clause(key: str, constraint: Any, schema: ClassSchema | None) -> Predicate:
    if key in _LOGICAL:
        branches = [compile_where(sub, schema) for sub in constraint]
        if key == "$and":
            return _all_of(branches)
        if key == "$or":
            return lambda record: any(branch(record) for branch in branches)
        return lambda record: not any(branch(record) for branch in branches)
    if key in _NEEDS_DATABASE:
        raise _unsupported(key, _NEEDS_DATABASE[key])
    if schema is not None and key in schema.relation_fields:
        raise UnsupportedInLiveQueryError(
            f"Live queries cannot constrain the relation {key}: its members live in a join table."
        )
    access = _accessor(key, schema)
    test = _condition(key, constraint, schema)
    return lambda record: test(access(record))


def _unsupported(op: str, why: str) -> UnsupportedInLiveQueryError:
    return UnsupportedInLiveQueryError(f"{op} is not supported in live queries: {why}.")


# Records in their stored form ---------------------------------------------------------------------


def _accessor(key: str, schema: ClassSchema | None) -> Callable[[Mapping[str, Any]], list[Any]]:
    """The values `key` reaches in a record's stored form, as the database resolves a path."""
    if key in ("_rperm", "_wperm"):
        read = key == "_rperm"

        def permissions(record: Mapping[str, Any]) -> list[Any]:
            acl = record.get("ACL")
            if not isinstance(acl, ACL):
                return [MISSING]
            return [list(acl.read if read else acl.write)]

        return permissions
    head, _, rest = key.partition(".")
    if schema is not None and schema.name == "_User" and key == "authData":
        # A user's auth data is stored split into `_auth_data_<provider>` columns: `authData` is never there.
        return lambda record: [MISSING]
    if not rest:

        def field(record: Mapping[str, Any]) -> list[Any]:
            value = record.get(key, MISSING)
            return [value if value is MISSING else _stored_top(value)]

        return field
    parts = [(part, int(part) if part.isdigit() else None) for part in rest.split(".")]

    def path(record: Mapping[str, Any]) -> list[Any]:
        value = record.get(head, MISSING)
        if not isinstance(value, dict | list):
            value = _stored_top(value)
        return _walk([value], parts)

    return path


def _walk(current: list[Any], parts: list[tuple[str, int | None]]) -> list[Any]:
    """MongoDB's path resolution: a step over an array reads each element's field, and an index.

    Only what the path reaches is put in stored form, so a long Object costs nothing it does not use.
    """
    for part, index in parts:
        reached: list[Any] = []
        for value in current:
            if isinstance(value, _DOMAIN_TYPES):
                value = stored_nested(value)
            if isinstance(value, dict):
                reached.append(value.get(part, MISSING))
            elif isinstance(value, list):
                if index is not None:
                    if index < len(value):
                        element = value[index]
                        reached.append(_Positional(element) if type(element) is list else element)
                    else:
                        reached.append(MISSING)
                for element in value:
                    if isinstance(element, _DOMAIN_TYPES):
                        element = stored_nested(element)
                    if isinstance(element, dict):
                        reached.append(element.get(part, MISSING))
            else:
                reached.append(MISSING)
        current = reached
    stored: list[Any] = []
    for value in current:
        if value is not MISSING:
            value = _Positional(stored_nested(value)) if type(value) is _Positional else stored_nested(value)
        stored.append(value)
    return stored


def _stored_top(value: Any) -> Any:
    """A field's own value as stored (`stored_values`); MISSING where the document holds none (a relation's
    members live in a join table, the ACL in _rperm/_wperm)."""
    kind = type(value)
    if kind is Relation or kind is ACL or value is MISSING:
        return MISSING
    return stored_field(value)


# Constraints, translated as storage translates them -----------------------------------------------


def _condition(key: str, constraint: Any, schema: ClassSchema | None) -> _Test:
    field = schema.fields.get(key) if schema is not None else None
    pointer_target = field.target_class if field is not None and field.type == "Pointer" else None
    interior = "." in key or (field is not None and field.type == "Array") or key in ("_rperm", "_wperm")

    def atom(value: Any) -> Any:
        if pointer_target is not None and isinstance(value, str):
            return stored_pointer(pointer_target, value)
        return stored_nested(value) if interior else _stored_top(value)

    if not (isinstance(constraint, dict) and constraint and all(op.startswith("$") for op in constraint)):
        return _equals(stored_nested(constraint) if interior and pointer_target is None else _stored_top(constraint))
    for op in constraint:
        if op in _NEEDS_DATABASE:
            raise _unsupported(op, _NEEDS_DATABASE[op])
    tests = [
        _operator(key, op, value, constraint, atom, field.type if field else None) for op, value in constraint.items()
    ]
    test = _every([t for t in tests if t is not None])
    if "$containedBy" in constraint:
        # Storage sends the whole constraint to `$nor` with `$containedBy` as `$elemMatch: {$nin}`, as Parse does.
        return lambda values: not test(values)
    return test


def _every(tests: list[_Test]) -> _Test:
    if len(tests) == 1:
        return tests[0]

    if len(tests) == 2:
        first, second = tests
        return lambda values: first(values) and second(values)

    def every(values: list[Any]) -> bool:
        return all(test(values) for test in tests)

    return every


def _operator(
    key: str, op: str, value: Any, siblings: Mapping[str, Any], atom: Callable[[Any], Any], field_type: str | None
) -> _Test | None:
    match op:
        case "$eq":
            return _equals(atom(value))
        case "$ne":
            equal = _equals(atom(value))
            return lambda values: not equal(values)
        case "$lt" | "$lte" | "$gt" | "$gte":
            return _range(key, op, atom(value))
        case "$in":
            return _member([atom(item) for item in value])
        case "$nin":
            member = _member([atom(item) for item in value])
            return lambda values: not member(values)
        case "$exists":
            wanted = bool(value)
            return lambda values: any(v is not MISSING for v in values) == wanted
        case "$all":
            return _contains_all([stored_nested(item) for item in value])
        case "$containedBy":
            return _has_element_outside([atom(item) for item in value])
        case "$regex":
            return _regex(value, siblings.get("$options") or "")
        case "$options":
            return None
        case "$nearSphere":
            return _near_sphere(value, siblings.get("$maxDistance"))
        case "$maxDistance":
            if "$nearSphere" not in siblings:
                raise UnsupportedInLiveQueryError("$maxDistance without $nearSphere is not supported in live queries.")
            return None
        case "$geoWithin":
            return _geo_within(key, value, field_type)
        case "$geoIntersects":
            return _geo_intersects(value)
    raise UnsupportedInLiveQueryError(f"{op} is not supported in live queries.")


# Operators, as the database evaluates them --------------------------------------------------------


def _equal(a: Any, b: Any) -> bool:
    """BSON equality: numbers across int and float, booleans apart, documents field-order sensitive."""
    kind = type(a)
    if kind is type(b) and (kind is str or kind is int or kind is bool or kind is datetime):
        return bool(a == b)
    if isinstance(a, dict) or isinstance(b, dict):
        if not (isinstance(a, dict) and isinstance(b, dict)) or len(a) != len(b):
            return False
        return all(ka == kb and _equal(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=True))
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list)) or len(a) != len(b):
            return False
        return all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) != isinstance(b, bool) or a is MISSING or b is MISSING:
        return False
    if a == b:
        return True
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


def _expands(value: Any) -> bool:
    return isinstance(value, list) and not isinstance(value, _Positional)


def _equals(expected: Any) -> _Test:
    """`{field: value}` and `$eq`: equal, an array holding it, or (for null) a missing field."""
    null = expected is None

    def test(values: list[Any]) -> bool:
        for value in values:
            if value is MISSING:
                if null:
                    return True
                continue
            if _equal(value, expected):
                return True
            if _expands(value):
                for element in value:
                    if _equal(element, expected):
                        return True
        return False

    return test


def _scalar_key(value: Any) -> Hashable | None:
    """A hashable stand-in for a scalar, equal exactly when the database finds the two values equal."""
    tag = _TAGS.get(type(value))
    if tag is None or value != value:  # NaN equals only itself in the database: compare it the slow way
        return None
    return (tag, value)


def _member(candidates: list[Any]) -> _Test:
    """`$in`: equal to one candidate, as `{field: candidate}` would be; scalars by hash."""
    keys = {key for key in map(_scalar_key, candidates) if key is not None}
    others = [candidate for candidate in candidates if _scalar_key(candidate) is None]
    null = None in candidates

    def one(value: Any) -> bool:
        tag = _TAGS.get(type(value))
        if tag is not None and value == value:
            return (tag, value) in keys
        return any(_equal(value, candidate) for candidate in others)

    def test(values: list[Any]) -> bool:
        for value in values:
            if value is MISSING:
                if null:
                    return True
                continue
            if one(value):
                return True
            if _expands(value):
                for element in value:
                    if one(element):
                        return True
        return False

    return test


def _bracket(value: Any) -> int:
    """MongoDB's type order: range operators compare only values of one rank (documents are 5)."""
    return _RANKS.get(type(value), 5)


_RANKS: Final = {
    type(None): 2,
    int: 3,
    float: 3,
    str: 4,
    list: 6,
    _Positional: 6,
    bytes: 7,
    bool: 9,
    datetime: 10,
}


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "$lt": lambda a, b: bool(a < b),
    "$lte": lambda a, b: bool(a <= b),
    "$gt": lambda a, b: bool(a > b),
    "$gte": lambda a, b: bool(a >= b),
}


def _range(key: str, op: str, bound: Any) -> _Test:
    if bound is None:
        # Null orders equal only to null: `$gte`/`$lte` null mean `= null`, `$gt`/`$lt` null match nothing.
        return _equals(None) if op in ("$gte", "$lte") else (lambda values: False)
    if isinstance(bound, dict | list | bytes):
        # BSON orders documents, arrays and binary data in ways that differ between database engines.
        raise UnsupportedInLiveQueryError(
            f"{op} on {key} compares a {type(bound).__name__} value, which live queries cannot order."
        )
    rank = _bracket(bound)
    compare = _COMPARE[op]

    def test(values: list[Any]) -> bool:
        for value in values:
            if value is not MISSING and _bracket(value) == rank and compare(value, bound):
                return True
            if _expands(value):
                for element in value:
                    if _bracket(element) == rank and compare(element, bound):
                        return True
        return False

    return test


def _contains_all(required: list[Any]) -> _Test:
    """`$all`, as SecantusDB answers it: one value the path reaches must hold every item."""
    if not required:
        return lambda values: False

    def holds(value: Any, item: Any) -> bool:
        if _expands(value):
            return any(_equal(element, item) for element in value)
        return _equal(value, item)

    return lambda values: any(all(holds(value, item) for item in required) for value in values)


def _has_element_outside(allowed: list[Any]) -> _Test:
    """`$elemMatch: {$nin: allowed}`: an array with an element not among `allowed` (what `$containedBy` negates)."""

    def test(values: list[Any]) -> bool:
        for value in values:
            if isinstance(value, list):
                for element in value:
                    if not any(_equal(element, item) for item in allowed):
                        return True
        return False

    return test


def _regex(pattern: str, options: str) -> _Test:
    """`$regex`: strings (or array elements) the pattern finds as the database finds them, in time linear in
    the text (RE2, never a backtracking engine: a write must not hold the event loop); what RE2 cannot run
    with the database's meaning is refused (app/domain/patterns.py)."""
    if len(unquote(pattern)) > MAX_PATTERN:
        raise UnsupportedInLiveQueryError(f"$regex patterns are limited to {MAX_PATTERN} characters.")
    try:
        compiled = re2.compile(to_re2(parse(pattern, options)), _RE2_OPTIONS)
    except PatternError as error:
        raise UnsupportedInLiveQueryError(
            f"$regex {pattern!r} cannot be matched in live queries: {error.message}"
        ) from None
    except Untranslatable as error:
        raise UnsupportedInLiveQueryError(
            f"$regex {pattern!r} cannot be matched in live queries, which match in time linear in the text: {error}."
        ) from None
    except re2.error as error:
        raise UnsupportedInLiveQueryError(f"$regex {pattern!r} cannot be matched in live queries: {error}.") from None
    search = compiled.search

    def finds(text: str) -> bool:
        try:
            return search(text) is not None
        except UnicodeEncodeError:
            return False  # a lone surrogate: no database stores such a string

    def test(values: list[Any]) -> bool:
        for value in values:
            if type(value) is str:
                if finds(value):
                    return True
            elif _expands(value):
                for element in value:
                    if type(element) is str and finds(element):
                        return True
        return False

    return test


# Geometry ----------------------------------------------------------------------------------------


def _near_sphere(center: GeoPoint, max_distance: float | None) -> _Test:
    """`$nearSphere` membership (order is the database's business): points within `max_distance` radians."""
    limit = None if max_distance is None else max_distance * _EARTH_RADIUS_METERS

    def test(values: list[Any]) -> bool:
        for value in values:
            point = point_of(value)
            if point is None:
                continue
            if limit is None:
                return True
            distance = great_circle(center.longitude, center.latitude, *point) * _EARTH_RADIUS_METERS
            if distance <= limit:
                return True
        return False

    return test


def _geo_within(key: str, shape: Mapping[str, Any], field_type: str | None) -> _Test:
    """`$geoWithin` as the database evaluates it: `$box` and `$polygon` planar, points strictly inside."""
    if "$centerSphere" in shape:
        center, radius = shape["$centerSphere"]

        def in_cap(x: float, y: float) -> bool:
            return bool(great_circle(center.longitude, center.latitude, x, y) <= radius)

        return _within(in_cap, lambda x, y: in_cap(x, y))
    if "$box" in shape:
        corners = shape["$box"]
        low_x, high_x = sorted(corner.longitude for corner in corners)
        low_y, high_y = sorted(corner.latitude for corner in corners)
        return _within(
            lambda x, y: low_x < x < high_x and low_y < y < high_y,
            lambda x, y: low_x <= x <= high_x and low_y <= y <= high_y,
        )
    ring = [(point.longitude, point.latitude) for point in shape["$polygon"]]
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    convex = is_convex(ring)
    if not convex and field_type == "Polygon":
        raise UnsupportedInLiveQueryError(
            f"$geoWithin with a concave $polygon on the Polygon field {key} is not supported in live queries."
        )
    return _within(lambda x, y: ring_side(x, y, ring) == 1, lambda x, y: ring_side(x, y, ring) >= 0)


def _within(strictly_inside: Callable[[float, float], bool], in_closure: Callable[[float, float], bool]) -> _Test:
    """A point must lie strictly inside; a polygon within a convex shape has all its vertices in its closure."""

    def test(values: list[Any]) -> bool:
        for value in values:
            point = point_of(value)
            if point is not None:
                if strictly_inside(*point):
                    return True
                continue
            rings = rings_of(value)
            if rings is not None and all(in_closure(x, y) for x, y in rings[0]):
                return True
        return False

    return test


def _geo_intersects(point: GeoPoint) -> _Test:
    """`$geoIntersects` with a point: polygons holding it (boundary included), or the same point."""
    x, y = point.longitude, point.latitude

    def test(values: list[Any]) -> bool:
        for value in values:
            rings = rings_of(value)
            if rings is not None:
                if polygon_side(x, y, rings) >= 0:
                    return True
                continue
            if point_of(value) == (x, y):
                return True
        return False

    return test
