"""Create, update and delete mutations: GraphQL inputs to Parse's encoding, nested creates first, and the
payload read back with the caller's rights when more than ids is selected."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.encoding import decode_object
from app.domain.queries import QueryOptions
from app.domain.values import Record
from app.errors import AppError, IncorrectTypeError
from app.transport.graphql import translate
from app.transport.graphql.class_types import ClassTypes, TypesByClass
from app.transport.graphql.files import store_upload
from app.transport.graphql.ids import object_id_for
from app.transport.graphql.naming import lower_first
from app.transport.graphql.request import Info, Resolver, Resolving, keys_and_include, node, selected_paths


async def fields_to_parse(
    context: Resolving, types: ClassTypes, classes: TypesByClass, fields: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Mutation fields in Parse's encoding; nested `createAndLink`/`createAndAdd` objects are created first."""
    result: dict[str, Any] = {}
    for key, value in (fields or {}).items():
        if key == "ACL":
            if value is not None:
                result["ACL"] = translate.acl_to_parse(value)
            continue
        field_type = types.fields.get(key)
        kind = field_type.type if field_type else None
        target = (field_type.target_class if field_type else None) or ""
        if value is None:
            if kind == "Relation":
                raise IncorrectTypeError(f"The relation {key} cannot be set to null: remove its objects instead.")
            result[key] = {"__op": "Delete"}
        elif kind == "GeoPoint":
            result[key] = {"__type": "GeoPoint", **value}
        elif kind == "Polygon":
            result[key] = {"__type": "Polygon", "coordinates": [[p["latitude"], p["longitude"]] for p in value]}
        elif kind == "File":
            result[key] = await _file_input(context, value)
        elif kind in ("Pointer", "Relation") and isinstance(value, Mapping) and target in classes:
            to_parse = _pointer_input if kind == "Pointer" else _relation_input
            result[key] = await to_parse(context, classes, key, target, value)
        else:
            result[key] = value
    return result


async def _file_input(context: Resolving, value: Mapping[str, Any]) -> dict[str, Any]:
    if value.get("upload") is not None:
        name = await store_upload(context, value["upload"])
        return {"__type": "File", "name": name, "url": context.encoder.file_url(name)}
    file_value = value.get("file")
    if isinstance(file_value, Mapping) and file_value.get("name"):
        return {"__type": "File", "name": file_value["name"], "url": file_value.get("url")}
    raise AppError("Invalid file upload.", code=130)


async def _pointer_input(
    context: Resolving, classes: TypesByClass, key: str, target: str, value: Mapping[str, Any]
) -> dict[str, Any]:
    operations = {op: v for op, v in value.items() if v is not None}
    if not operations and "link" in value:
        return {"__op": "Delete"}  # `link: null` unsets the pointer
    if len(operations) != 1:
        raise translate.pointer_needs_one_operation(key)
    if "createAndLink" in operations:
        created = await _create(context, classes[target], classes, operations["createAndLink"])
        return {"__type": "Pointer", "className": target, "objectId": created["objectId"]}
    return {"__type": "Pointer", "className": target, "objectId": object_id_for(operations["link"], target)}


async def _relation_input(
    context: Resolving, classes: TypesByClass, key: str, target: str, value: Mapping[str, Any]
) -> dict[str, Any]:
    operations = {op: v for op, v in value.items() if v is not None}
    if not operations:
        raise translate.relation_needs_an_operation(key)
    ops: list[dict[str, Any]] = []
    added = [
        {"__type": "Pointer", "className": target, "objectId": object_id_for(item, target)}
        for item in operations.get("add") or []
    ]
    for fields in operations.get("createAndAdd") or []:
        created = await _create(context, classes[target], classes, fields)
        added.append({"__type": "Pointer", "className": target, "objectId": created["objectId"]})
    if added:
        ops.append({"__op": "AddRelation", "objects": added})
    if operations.get("remove"):
        ops.append(
            {
                "__op": "RemoveRelation",
                "objects": [
                    {"__type": "Pointer", "className": target, "objectId": object_id_for(item, target)}
                    for item in operations["remove"]
                ],
            }
        )
    if not ops:
        raise translate.relation_needs_an_operation(key)
    return {"__op": "Batch", "ops": ops}


async def _create(
    context: Resolving, types: ClassTypes, classes: TypesByClass, fields: Mapping[str, Any] | None
) -> Record:
    body = decode_object(await fields_to_parse(context, types, classes, fields))
    # A user made here is signed up, with a session, as through REST: the account service decides.
    return (await context.services.accounts.create(context.auth, types.schema.name, body)).object


def _visible(record: Record) -> Record:
    return {key: value for key, value in record.items() if not key.startswith("_")}


async def _payload_object(
    context: Resolving, info: Info, types: ClassTypes, record: Record, natives: tuple[str, ...]
) -> Record:
    """The object a mutation answers with: read back with the caller's rights when more than ids is selected."""
    payload_key = _payload_key(types)
    paths = [path[len(payload_key) + 1 :] for path in selected_paths(info) if path.startswith(f"{payload_key}.")]
    wanted = [path for path in paths if path.split(".", 1)[0] not in natives]
    if not wanted:
        return node(_visible(record), types.schema.name)
    keys, include = keys_and_include(paths, types.fields)
    read = await context.services.objects.get(
        context.auth, types.schema.name, record["objectId"], QueryOptions(keys=keys, include=include)
    )
    return node(read, types.schema.name)


def create(types: ClassTypes, classes: TypesByClass) -> Resolver:
    async def resolve(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context = info.context
        record = await _create(context, types, classes, input.get("fields"))
        result = await _payload_object(context, info, types, record, ("id", "objectId", "createdAt", "updatedAt"))
        return {_payload_key(types): result}

    return resolve


def update(types: ClassTypes, classes: TypesByClass) -> Resolver:
    async def resolve(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context = info.context
        object_id = object_id_for(input["id"], types.schema.name)
        body = await fields_to_parse(context, types, classes, input.get("fields"))
        saved = await context.services.objects.update(context.auth, types.schema.name, object_id, decode_object(body))
        result = await _payload_object(context, info, types, saved.object, ("id", "objectId", "updatedAt"))
        return {_payload_key(types): result}

    return resolve


def delete(types: ClassTypes, classes: TypesByClass) -> Resolver:
    async def resolve(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context = info.context
        class_name = types.schema.name
        object_id = object_id_for(input["id"], class_name)
        result = await _payload_object(context, info, types, {"objectId": object_id}, ("id", "objectId"))
        await context.services.objects.delete(context.auth, class_name, object_id)
        return {_payload_key(types): result}

    return resolve


def _payload_key(types: ClassTypes) -> str:
    return lower_first(types.name)
