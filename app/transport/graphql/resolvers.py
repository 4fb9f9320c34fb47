"""Resolvers of objects: their fields, and one object by id. Each calls the same object service as REST, with
the caller's Auth: no permission logic lives here (ACLs, class permissions and protected fields are the
service's). Selections become `keys` and `include`, so the pointers of a page load in one query per field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.queries import QueryOptions
from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon, Record
from app.errors import ObjectNotFoundError
from app.transport.graphql.class_types import ClassTypes, TypesByClass
from app.transport.graphql.ids import from_global_id, object_id_for, to_global_id
from app.transport.graphql.naming import graphql_class_name
from app.transport.graphql.outputs import CLASS_KEY, PUBLIC_ACL_VALUE
from app.transport.graphql.request import FieldResolver, Info, Resolver, keys_and_include, node, selected_paths

# Object fields --------------------------------------------------------------------------------------


def global_id(class_name: str) -> FieldResolver:
    def resolve(source: Record, info: Info) -> str:
        return to_global_id(class_name, source["objectId"])

    return resolve


def acl(source: Record, info: Info) -> Any:
    return source.get("ACL") or PUBLIC_ACL_VALUE


def pointer(key: str) -> FieldResolver:
    def resolve(source: Record, info: Info) -> Record | None:
        value = source.get(key)
        if isinstance(value, ParseObject):
            return node(value.data, value.class_name)
        if isinstance(value, Pointer) and value.class_name:
            # Not included: only `__typename` was asked of it (an included pointer that could not be read is null).
            return node({"objectId": value.object_id}, value.class_name)
        return None

    return resolve


def array(key: str) -> FieldResolver:
    def resolve(source: Record, info: Info) -> list[Any] | None:
        value = source.get(key)
        if not isinstance(value, list):
            return None
        return [_element(item) for item in value]

    return resolve


def _element(item: Any) -> Any:
    if isinstance(item, ParseObject):
        return node(item.data, item.class_name)
    # A null element is a null item: Element.value cannot be null.
    return None if item is None else {"value": item}


def array_element_type(value: Any, info: Info, abstract: Any) -> str:
    if isinstance(value, dict) and CLASS_KEY in value:
        return graphql_class_name(value[CLASS_KEY])
    return "Element"


def file(key: str) -> FieldResolver:
    def resolve(source: Record, info: Info) -> dict[str, str] | None:
        value = source.get(key)
        if not isinstance(value, File):
            return None
        context = info.context
        return {"name": value.name, "url": value.url or context.encoder.file_url(value.name)}

    return resolve


def polygon(key: str) -> FieldResolver:
    def resolve(source: Record, info: Info) -> list[GeoPoint] | None:
        value = source.get(key)
        if not isinstance(value, Polygon):
            return None
        return [GeoPoint(latitude, longitude) for latitude, longitude in value.coordinates]

    return resolve


def _read_preference(args: Mapping[str, Any]) -> str | None:
    options = args.get("options") or {}
    return options.get("readPreference")


def get(types: ClassTypes) -> Resolver:
    async def resolve(root: Any, info: Info, **args: Any) -> Record:
        context = info.context
        keys, include = keys_and_include(selected_paths(info), types.fields)
        record = await context.services.objects.get(
            context.auth,
            types.schema.name,
            object_id_for(args["id"], types.schema.name),
            QueryOptions(keys=keys, include=include, read_preference=_read_preference(args)),
        )
        return node(record, types.schema.name)

    return resolve


def node_query(classes: TypesByClass) -> Resolver:
    async def resolve(root: Any, info: Info, id: str) -> Record | None:
        decoded = from_global_id(id)
        if decoded is None or decoded[0] not in classes:
            raise ObjectNotFoundError("Object not found.")
        class_name, object_id = decoded
        context = info.context
        keys, include = keys_and_include(selected_paths(info), classes[class_name].fields)
        record = await context.services.objects.get(
            context.auth, class_name, object_id, QueryOptions(keys=keys, include=include)
        )
        return node(record, class_name)

    return resolve
