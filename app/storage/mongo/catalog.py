"""The `_SCHEMA` collection: class schemas in the document format Parse Server stores."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.classes import (
    CLASS_DEFAULT_FIELDS,
    EMPTY_PERMISSIONS,
    PUBLIC_PERMISSIONS,
    ClassSchema,
    FieldType,
)
from app.domain.encoding import Encoder, decode_default

_TYPES = {
    "number": "Number",
    "string": "String",
    "boolean": "Boolean",
    "date": "Date",
    "map": "Object",
    "object": "Object",
    "array": "Array",
    "geopoint": "GeoPoint",
    "file": "File",
    "bytes": "Bytes",
    "polygon": "Polygon",
}
_STORED_TYPES = {value: key for key, value in _TYPES.items() if key != "map"}
_NOT_FIELDS = frozenset({"_id", "_metadata", "_client_permissions"})
_REST_JSON = Encoder(lambda name: "")


def stored_type(field: FieldType) -> str:
    if field.type == "Pointer":
        return f"*{field.target_class}"
    if field.type == "Relation":
        return f"relation<{field.target_class}>"
    return _STORED_TYPES[field.type]


def field_options(field: FieldType) -> dict[str, Any]:
    """What `_metadata.fields_options` keeps for a field: `required` and `defaultValue` when set."""
    options: dict[str, Any] = {}
    if field.required:
        options["required"] = True
    if field.has_default:
        options["defaultValue"] = _stored_default(field.default)
    return options


def _stored_default(value: Any) -> Any:
    # Defaults are kept in their REST JSON form, as Parse Server stores the request body.
    return _REST_JSON.value(value)


def _field_type(stored: str, options: Mapping[str, Any] | None) -> FieldType | None:
    if stored.startswith("*"):
        type_, target = "Pointer", stored[1:]
    elif stored.startswith("relation<"):
        type_, target = "Relation", stored[len("relation<") : -1]
    elif stored in _TYPES:
        type_, target = _TYPES[stored], None
    else:
        return None
    if not options:
        return FieldType(type_, target)
    field = FieldType(type_, target, required=options.get("required") is True)
    if "defaultValue" in options:
        field = FieldType(type_, target, required=field.required, default=decode_default(options["defaultValue"]))
    return field


def schema_from_document(document: Mapping[str, Any]) -> ClassSchema:
    metadata = document.get("_metadata") or {}
    options = metadata.get("fields_options") or {}
    fields: dict[str, FieldType] = {}
    for name, stored in document.items():
        if name in _NOT_FIELDS or not isinstance(stored, str):
            continue
        field = _field_type(stored, options.get(name))
        if field is not None:
            fields[name] = field
    stored_permissions = metadata.get("class_permissions")
    permissions = PUBLIC_PERMISSIONS if stored_permissions is None else {**EMPTY_PERMISSIONS, **stored_permissions}
    return ClassSchema.build(document["_id"], fields, permissions, metadata.get("indexes") or {})


def document_from_schema(schema: ClassSchema, *, permissions: Mapping[str, Any] | None) -> dict[str, Any]:
    """A new `_SCHEMA` entry; without permissions, readers see Parse's public defaults."""
    document: dict[str, Any] = {
        "_id": schema.name,
        "objectId": "string",
        "updatedAt": "date",
        "createdAt": "date",
    }
    options: dict[str, Any] = {}
    defaults = CLASS_DEFAULT_FIELDS.get(schema.name, {})
    for name, field in schema.fields.items():
        if name in ("objectId", "createdAt", "updatedAt", "ACL") or field.type == "ACL":
            continue
        if schema.name == "_User" and name == "password":
            continue
        document[name] = stored_type(field)
        if name not in defaults and field_options(field):
            options[name] = field_options(field)
    metadata: dict[str, Any] = {}
    if permissions is not None:
        metadata["class_permissions"] = dict(permissions)
    if options:
        metadata["fields_options"] = options
    if schema.indexes:
        metadata["indexes"] = dict(schema.indexes)
    if metadata:
        document["_metadata"] = metadata
    return document
