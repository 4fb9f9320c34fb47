"""`/schemas`: list, read, create, change and drop classes (master key only)."""

from __future__ import annotations

from typing import Any

from app.domain.classes import ClassSchema, FieldType, invalid_class_name_message, require_valid_class_name
from app.domain.encoding import Encoder
from app.domain.schemas import KEEP
from app.errors import AppError, InvalidClassNameError
from app.transport.rest.router import RestCall, RestResponse


def encode_field(field: FieldType, encoder: Encoder) -> dict[str, Any]:
    result: dict[str, Any] = {"type": field.type}
    if field.target_class:
        result["targetClass"] = field.target_class
    if field.required:
        result["required"] = True
    if field.has_default:
        result["defaultValue"] = encoder.value(field.default)
    return result


def encode_schema(schema: ClassSchema, encoder: Encoder) -> dict[str, Any]:
    body: dict[str, Any] = {
        "className": schema.name,
        "fields": {name: encode_field(field, encoder) for name, field in schema.fields.items()},
        "classLevelPermissions": dict(schema.permissions),
    }
    if schema.indexes:
        body["indexes"] = dict(schema.indexes)
    return body


def encode_created_schema(schema: ClassSchema, encoder: Encoder) -> dict[str, Any]:
    """The answer to a create, in the order Parse builds it from the stored document (ACL last)."""
    body = encode_schema(schema, encoder)
    body["fields"] = {name: body["fields"][name] for name in schema.fields_as_created}
    return body


async def list_schemas(call: RestCall) -> RestResponse:
    schemas = await call.services.schema_admin.list(call.auth)
    return RestResponse({"results": [encode_schema(schema, call.encoder) for schema in schemas]})


async def get_schema(call: RestCall) -> RestResponse:
    schema = await call.services.schema_admin.read(call.auth, call.params["class_name"])
    return RestResponse(encode_schema(schema, call.encoder))


async def create_schema(call: RestCall) -> RestResponse:
    admin = call.services.schema_admin
    admin.require_access(call.auth, "create")  # before the body, as Parse refuses the key first
    body = call.json_body()
    path_name = call.params.get("class_name")
    body_name = body.get("className")
    if path_name and body_name and path_name != body_name:
        raise InvalidClassNameError(f"Class name mismatch between {body_name} and {path_name}.")
    name = path_name or body_name
    if not name:
        raise AppError(f"POST /{call.path.strip('/')} needs a class name.", code=135)
    if not isinstance(name, str):  # a body's className may be any JSON
        raise InvalidClassNameError(invalid_class_name_message(str(name)))
    schema = await admin.create(
        call.auth, name, body.get("fields"), body.get("classLevelPermissions"), body.get("indexes")
    )
    return RestResponse(encode_created_schema(schema, call.encoder))


async def update_schema(call: RestCall) -> RestResponse:
    admin = call.services.schema_admin
    admin.require_access(call.auth, "update")  # before the body, as Parse refuses the key first
    body = call.json_body()
    name = call.params["class_name"]
    if body.get("className") and body["className"] != name:
        raise InvalidClassNameError(f"Class name mismatch between {body['className']} and {name}.")
    schema = await admin.update(
        call.auth, name, body.get("fields"), body.get("classLevelPermissions", KEEP), body.get("indexes")
    )
    return RestResponse(encode_schema(schema, call.encoder))


async def purge_class(call: RestCall) -> RestResponse:
    await call.services.schema_admin.purge(call.auth, call.params["class_name"])
    return RestResponse({})


async def delete_schema(call: RestCall) -> RestResponse:
    admin = call.services.schema_admin
    admin.require_access(call.auth, "delete")  # before the name, as Parse refuses the key first
    name = call.params["class_name"]
    require_valid_class_name(name)
    await admin.delete(call.auth, name)
    return RestResponse({})
