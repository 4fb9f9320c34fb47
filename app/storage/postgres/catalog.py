"""The `_SCHEMA` table: a row per class, `schema` holding Parse Server's JSON (`fields`, `classLevelPermissions`,
`indexes`), as Parse Server's PostgreSQL adapter writes it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from app.domain.classes import EMPTY_PERMISSIONS, PUBLIC_PERMISSIONS, ClassSchema, FieldType
from app.domain.encoding import Encoder, decode_default

SCHEMA_TABLE = "_SCHEMA"
CREATE_SCHEMA_TABLE = (
    'CREATE TABLE IF NOT EXISTS "_SCHEMA" '
    '("className" varChar(120), "schema" jsonb, "isParseClass" bool, PRIMARY KEY ("className"))'
)
# Parse Server keeps these in `_SCHEMA`'s fields for its own use; they are not fields of the class.
_NOT_FIELDS = frozenset({"_rperm", "_wperm", "_hashed_password", "ACL"})
_REST_JSON = Encoder(lambda name: "")
DEFAULT_INDEXES: dict[str, dict[str, Any]] = {"_id_": {"_id": 1}}
CREATED = "parseqlCreated"
"""When ParseQL created the class (nanoseconds): classes are listed in the order they were created."""
FIELD_ORDER = "parseqlFieldOrder"
"""The fields in the order they were added: jsonb keeps an object's keys in its own order, and answers list
fields as they were added (Parse Server ignores keys of the schema it does not know)."""


def field_json(field: FieldType) -> dict[str, Any]:
    """A field as `_SCHEMA` keeps it: its type, target class, `required` and `defaultValue` (in REST JSON)."""
    stored: dict[str, Any] = {"type": field.type}
    if field.target_class:
        stored["targetClass"] = field.target_class
    if field.required:
        stored["required"] = True
    if field.has_default:
        stored["defaultValue"] = _REST_JSON.value(field.default)
    return stored


def _field(stored: Any) -> FieldType | None:
    if not isinstance(stored, Mapping) or not isinstance(stored.get("type"), str):
        return None
    type_ = stored["type"]
    target = stored.get("targetClass") if type_ in ("Pointer", "Relation") else None
    required = stored.get("required") is True
    if "defaultValue" in stored:
        return FieldType(type_, target, required=required, default=decode_default(stored["defaultValue"]))
    return FieldType(type_, target, required=required)


def schema_from_json(class_name: str, stored: Mapping[str, Any]) -> ClassSchema:
    fields: dict[str, FieldType] = {}
    stored_fields = stored.get("fields") or {}
    order = [name for name in stored.get(FIELD_ORDER) or () if name in stored_fields]
    for name in [*order, *(name for name in stored_fields if name not in order)]:
        spec = stored_fields[name]
        field = _field(spec)
        if field is not None and name not in _NOT_FIELDS:
            fields[name] = field
    permissions = stored.get("classLevelPermissions")
    merged = PUBLIC_PERMISSIONS if permissions is None else {**EMPTY_PERMISSIONS, **permissions}
    return ClassSchema.build(class_name, fields, merged, stored.get("indexes") or {})


def schema_json(schema: ClassSchema, *, permissions: Mapping[str, Any] | None) -> dict[str, Any]:
    """A new `_SCHEMA` row's JSON, with the ACL columns and `_User`'s password hash as Parse Server adds them."""
    fields: dict[str, Any] = {}
    for name, field in schema.fields.items():
        if field.type == "ACL" or (schema.name == "_User" and name == "password"):
            continue
        fields[name] = field_json(field)
    fields["_rperm"] = {"type": "Array"}
    fields["_wperm"] = {"type": "Array"}
    if schema.name == "_User":
        fields["_hashed_password"] = {"type": "String"}
    stored: dict[str, Any] = {"className": schema.name, "fields": fields, FIELD_ORDER: list(fields)}
    stored[CREATED] = time.time_ns()
    if permissions is not None:
        stored["classLevelPermissions"] = dict(permissions)
    if schema.indexes:
        stored["indexes"] = dict(schema.indexes)
    return stored
