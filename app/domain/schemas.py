"""SchemaRegistry: the cached class schemas, and every change to them (explicit or by a first write)."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from app.domain.classes import (
    CLASS_DEFAULT_FIELDS,
    DEFAULT_FIELDS,
    PUBLIC_PERMISSIONS,
    VOLATILE_CLASSES,
    ClassSchema,
    FieldType,
    field_type_from_json,
    invalid_class_name_message,
    is_default_field,
    is_valid_class_name,
    is_valid_field_name,
    require_one_geopoint,
    type_of,
    validate_permissions,
)
from app.domain.encoding import decode_default
from app.domain.operations import Add, AddUnique, Delete, Increment, RelationChange, Remove
from app.domain.store import Find, Storage
from app.errors import (
    AppError,
    IncorrectTypeError,
    InvalidClassNameError,
    InvalidJSONError,
    InvalidKeyNameError,
    InvalidQueryError,
    InvalidSchemaOperationError,
)

KEEP: Any = object()
"""Leave a class's permissions as they are (a request that does not mention them)."""


class SchemaRegistry:
    """All class schemas, read from `_SCHEMA` and refreshed when stale or changed."""

    def __init__(
        self, storage: Storage, *, ttl: float = 5.0, protected_fields: Mapping[str, Mapping[str, Sequence[str]]] = {}
    ) -> None:
        self.storage = storage
        self.ttl = ttl
        self.protected_fields = protected_fields
        """The server's `protectedFields` option, by class (see `ClassSchema.server_protected`)."""
        self.version = 0
        self._classes: dict[str, ClassSchema] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever a class or field is added, changed or removed."""
        self._listeners.append(listener)

    async def reload(self) -> None:
        async with self._lock:
            classes = {
                schema.name: self.with_server_fields(schema) for schema in await self.storage.classes.load_classes()
            }
            for name in VOLATILE_CLASSES:
                classes.setdefault(name, ClassSchema.build(name, {}, {}))
            changed = classes != self._classes
            self._classes = classes
            self._loaded_at = time.monotonic()
        if changed:
            self.version += 1
            for listener in self._listeners:
                listener()

    def with_server_fields(self, schema: ClassSchema) -> ClassSchema:
        """The schema with the server's protected fields for its class, as every read of this server sees it."""
        protected = self.protected_fields.get(schema.name)
        if not protected or schema.server_protected == protected:
            return schema
        return dataclasses.replace(schema, server_protected=protected)

    async def fresh(self) -> None:
        """Reload the schemas if they are older than the TTL (another instance may have changed them)."""
        if time.monotonic() - self._loaded_at > self.ttl:
            await self.reload()

    async def all(self) -> list[ClassSchema]:
        await self.fresh()
        return [schema for name, schema in self._classes.items() if name not in VOLATILE_CLASSES]

    def cached(self) -> list[ClassSchema]:
        return [schema for name, schema in self._classes.items() if name not in VOLATILE_CLASSES]

    async def get(self, name: str) -> ClassSchema | None:
        await self.fresh()
        schema = self._classes.get(name)
        if schema is None and self.ttl > 0:
            # Another instance may have created it since the last load.
            await self.reload()
            schema = self._classes.get(name)
        return schema

    async def require(self, name: str) -> ClassSchema:
        schema = await self.get(name)
        if schema is None:
            raise InvalidClassNameError(f"Class {name} does not exist.")
        return schema

    # Changes made by writes ------------------------------------------------------------------------

    def new_fields(
        self, schema: ClassSchema | None, class_name: str, values: Mapping[str, Any]
    ) -> dict[str, FieldType]:
        """Check written values against the schema; return the fields they add (Parse's type inference)."""
        fields = schema.fields if schema else {**DEFAULT_FIELDS, **CLASS_DEFAULT_FIELDS.get(class_name, {})}
        added: dict[str, FieldType] = {}
        geo_points = [name for name, value in values.items() if (t := type_of(value)) and t.type == "GeoPoint"]
        if len(geo_points) > 1:
            raise IncorrectTypeError("there can only be one geopoint field in a class")
        for name, value in values.items():
            if name == "ACL":
                continue
            root = name.split(".", 1)[0]
            inferred: FieldType | None
            if root != name:
                # A dotted key writes inside an Object (or Array) field.
                nested = FieldType("Array" if name.split(".", 1)[1].isdigit() else "Object")
                name, inferred = root, nested
            else:
                inferred = _op_type(value)
            if not is_valid_field_name(name, class_name):
                raise InvalidKeyNameError(f"Invalid field name: {name}.")
            if inferred is None:
                continue
            expected = fields.get(name) or added.get(name)
            if expected is None:
                if inferred.type == "GeoPoint" and any(f.type == "GeoPoint" for f in fields.values()):
                    raise IncorrectTypeError("MongoDB only supports one GeoPoint field in a class.")
                added[name] = inferred
            elif not expected.same_type(inferred):
                raise IncorrectTypeError(
                    f"schema mismatch for {class_name}.{name}; expected {expected} but got {inferred}"
                )
        return added

    async def add_fields(self, class_name: str, fields: Mapping[str, FieldType]) -> ClassSchema:
        """Create the class (on a first write) or add fields; safe when instances race to do the same."""
        await self.storage.classes.add_fields(class_name, fields)
        await self.reload()
        schema = await self.require(class_name)
        for name, field in fields.items():
            if name in schema.fields and not schema.fields[name].same_type(field):
                raise IncorrectTypeError(
                    f"schema mismatch for {class_name}.{name}; expected {schema.fields[name]} but got {field}"
                )
        return schema

    # Changes made through /schemas -----------------------------------------------------------------

    async def create_class(self, name: str, fields: Any, permissions: Any, indexes: Any) -> ClassSchema:
        await self.reload()
        if name in self._classes:
            raise InvalidClassNameError(f"Class {name} already exists.")
        if not is_valid_class_name(name):
            raise InvalidClassNameError(invalid_class_name_message(name))
        new = self._validate_new_fields(name, _object(fields, "fields"), {})
        all_fields = {**DEFAULT_FIELDS, **CLASS_DEFAULT_FIELDS.get(name, {}), **new}
        require_one_geopoint(name, all_fields)
        validate_permissions(permissions, all_fields)
        index_specs = _validate_new_indexes(_object(indexes, "indexes"), {}, all_fields)
        schema = ClassSchema.build(
            name,
            new,
            PUBLIC_PERMISSIONS if permissions is None else permissions,
            index_specs,
        )
        try:
            await self.storage.classes.create_class(schema, stored_permissions=permissions)
        except AppError as error:
            if error.code == 137:
                raise InvalidClassNameError(f"Class {name} already exists.") from None
            raise
        await self.reload()
        return await self.require(name)

    async def update_class(self, name: str, fields: Any, permissions: Any, indexes: Any) -> ClassSchema:
        await self.reload()
        schema = self._classes.get(name)
        if schema is None or name in VOLATILE_CLASSES:
            raise InvalidClassNameError(f"Class {name} does not exist.")
        submitted = _object(fields, "fields")
        deleted: list[str] = []
        for field_name, spec in submitted.items():
            is_delete = isinstance(spec, Mapping) and spec.get("__op") == "Delete"
            existing = schema.fields.get(field_name)
            if existing and not is_delete and (not isinstance(spec, Mapping) or existing.type != spec.get("type")):
                raise InvalidSchemaOperationError(f"Field {field_name} exists, cannot update.")
            if not existing and is_delete:
                raise InvalidSchemaOperationError(f"Field {field_name} does not exist, cannot delete.")
            if is_delete:
                deleted.append(field_name)
        for field_name in deleted:
            if not is_valid_field_name(field_name, name):
                raise InvalidKeyNameError(f"invalid field name: {field_name}")
            if is_default_field(field_name, name):
                raise AppError(f"field {field_name} cannot be changed", code=136)
        additions = {k: v for k, v in submitted.items() if k not in deleted}
        changed_options = {k: v for k, v in additions.items() if k in schema.fields}
        new = self._validate_new_fields(
            name, {k: v for k, v in additions.items() if k not in schema.fields}, schema.fields
        )
        for field_name, spec in changed_options.items():
            new[field_name] = field_type_from_json(spec)
        remaining = {k: v for k, v in schema.fields.items() if k not in deleted}
        merged = {**remaining, **new}
        require_one_geopoint(name, merged)
        if permissions is not KEEP:
            validate_permissions(permissions, merged)
        index_changes = _object(indexes, "indexes")
        drop = [k for k, v in index_changes.items() if isinstance(v, Mapping) and v.get("__op") == "Delete"]
        existing_indexes = schema.indexes or {"_id_": {"_id": 1}}
        for index_name in drop:
            if index_name == "_id_":
                raise InvalidQueryError("Index _id_ cannot be dropped.")
            if index_name not in existing_indexes:
                raise InvalidQueryError(f"Index {index_name} does not exist, cannot delete.")
        add = _validate_new_indexes({k: v for k, v in index_changes.items() if k not in drop}, existing_indexes, merged)
        if deleted:
            await self.storage.classes.delete_fields(schema, deleted)
        if new:
            await self.storage.classes.add_fields(name, new)
            await self._update_field_options(name, changed_options, schema)
        if permissions is not KEEP:
            # null puts back Parse's defaults; any other value replaces the whole set.
            await self.storage.classes.set_permissions(name, permissions)
        if indexes is not None:
            await self.storage.classes.update_indexes(schema, add, drop)
        await self.reload()
        return await self.require(name)

    async def ensure_system_classes(self) -> None:
        """The classes Parse Server creates at start, so a fresh database looks like Parse's."""
        await self.reload()
        # Like Parse Server: _Idempotency is a volatile class, never listed in _SCHEMA (its indexes are made below).
        for name in ("_User", "_Role"):
            if name not in self._classes:
                await self.storage.classes.add_fields(name, {})
        await self.storage.classes.ensure_system_indexes()
        await self.reload()
        for schema in self.cached():
            # As Parse Server does at start: record the indexes the database really has.
            await self.storage.classes.sync_indexes(schema.name)
        await self.reload()

    async def apply_definition(
        self, definition: Any, *, delete_extra_fields: bool = False, recreate_modified_fields: bool = False
    ) -> None:
        """Bring a class up to a definition (as `/schemas` takes it): create it or add what is missing.

        Fields and indexes are only added, unless asked as Parse's schema options ask: `delete_extra_fields` drops
        the fields the definition does not name, `recreate_modified_fields` drops and adds again, empty, a field
        whose type (or target class) differs. Permissions are replaced when given.
        """
        if not isinstance(definition, Mapping) or not isinstance(definition.get("className"), str):
            raise InvalidJSONError("a class definition needs a className")
        name = definition["className"]
        await self.reload()
        schema = self._classes.get(name)
        fields = _object(definition.get("fields"), "fields")
        permissions = definition.get("classLevelPermissions")
        indexes = _object(definition.get("indexes"), "indexes")
        if schema is None or name in VOLATILE_CLASSES:
            await self.create_class(name, fields, permissions, indexes or None)
            return
        dropped = [
            field_name
            for field_name, stored in schema.fields.items()
            if not is_default_field(field_name, name)
            and (
                (delete_extra_fields and field_name not in fields)
                or (
                    recreate_modified_fields
                    and field_name in fields
                    and not stored.same_type(field_type_from_json(fields[field_name]))
                )
            )
        ]
        if dropped:
            schema = await self.update_class(
                name, {field_name: {"__op": "Delete"} for field_name in dropped}, KEEP, None
            )
        missing_fields = {k: v for k, v in fields.items() if k not in schema.fields}
        missing_indexes = {k: v for k, v in indexes.items() if k not in (schema.indexes or {})}
        if permissions is None:
            permissions = KEEP
        if missing_fields or missing_indexes or (permissions is not KEEP and permissions != schema.permissions):
            await self.update_class(name, missing_fields, permissions, missing_indexes or None)

    async def _update_field_options(self, name: str, changed: Mapping[str, Any], schema: ClassSchema) -> None:
        if changed:
            await self.storage.classes.update_field_options(
                name, {k: field_type_from_json(v) for k, v in changed.items()}
            )

    async def delete_class(self, name: str) -> None:
        await self.reload()
        schema = self._classes.get(name) or ClassSchema.build(name, {})
        count = await self.storage.count(schema, Find({}))
        if count > 0:
            raise InvalidSchemaOperationError(
                f"Class {name} is not empty, contains {count} objects, cannot drop schema."
            )
        await self.storage.classes.delete_class(schema)
        await self.reload()

    def _validate_new_fields(
        self, class_name: str, fields: Mapping[str, Any], existing: Mapping[str, FieldType]
    ) -> dict[str, FieldType]:
        result: dict[str, FieldType] = {}
        for field_name, spec in fields.items():
            if field_name in existing:
                continue
            if not is_valid_field_name(field_name, class_name):
                raise InvalidKeyNameError(f"invalid field name: {field_name}")
            if is_default_field(field_name, class_name):
                raise AppError(f"field {field_name} cannot be added", code=136)
            field = field_type_from_json(spec)
            if field.has_default:
                if field.type == "Relation":
                    raise IncorrectTypeError(f"The 'default value' option is not applicable for {field}")
                default = decode_default(field.default)
                default_type = type_of(default)
                if default_type is None or not field.same_type(default_type):
                    raise IncorrectTypeError(
                        f"schema mismatch for {class_name}.{field_name} default value; expected {field} "
                        f"but got {default_type or 'null'}"
                    )
                field = FieldType(field.type, field.target_class, field.required, default)
            elif field.required and field.type == "Relation":
                raise IncorrectTypeError(f"The 'required' option is not applicable for {field}")
            result[field_name] = field
        return result


def _op_type(value: Any) -> FieldType | None:
    match value:
        case Increment():
            return FieldType("Number")
        case Add() | AddUnique() | Remove():
            return FieldType("Array")
        case RelationChange(target_class=target):
            return FieldType("Relation", target)
        case Delete():
            return None
    return type_of(value)


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidJSONError(f"{what} must be an object")
    return dict(value)


def _validate_new_indexes(
    indexes: Mapping[str, Any], existing: Mapping[str, Any], fields: Mapping[str, FieldType]
) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = {}
    for name, spec in indexes.items():
        if name in existing:
            raise InvalidQueryError(f"Index {name} exists, cannot update.")
        if not isinstance(spec, Mapping) or not spec:
            raise InvalidQueryError(f'Index {name} must map field names to 1, -1, "text" or "2dsphere".')
        stored: dict[str, Any] = {}
        for key, direction in spec.items():
            field = key[3:] if key.startswith("_p_") else key
            if field not in fields:
                raise InvalidQueryError(f"Field {key} does not exist, cannot add index.")
            pointer = fields[field].type == "Pointer" and not key.startswith("_p_")
            stored[f"_p_{key}" if pointer else key] = direction
        result[name] = stored
    return result
