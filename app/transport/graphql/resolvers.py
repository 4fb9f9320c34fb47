"""Resolvers: each GraphQL field calls the same object service as REST, with the caller's Auth.

No permission logic lives here: ACLs, class permissions and protected fields are the service's. What is
here is GraphQL's shape: selections become `keys` and `include` (so pointers in a page load in one
query per field), Relay paging becomes skip and limit, and inputs become Parse's encoding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import FieldNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode, SelectionSetNode

from app.domain.acl import Auth
from app.domain.encoding import Encoder, decode_object
from app.domain.queries import QueryOptions
from app.domain.values import File, GeoPoint, ParseObject, Pointer, Polygon, Record
from app.errors import AppError, IncorrectTypeError, ObjectNotFoundError
from app.transport.context import Credentials, Services
from app.transport.graphql import translate
from app.transport.graphql.ids import from_global_id, graphql_class_name, object_id_for, to_global_id
from app.transport.graphql.outputs import CLASS_KEY, PUBLIC_ACL_VALUE

if TYPE_CHECKING:
    from app.transport.graphql.builder import ClassTypes, SchemaBuilder


Resolver = Callable[..., Awaitable[Any]]


@dataclass(slots=True)
class Context:
    """One GraphQL request: who asks, the services, and a batch loader for pointers."""

    services: Services
    auth: Auth
    encoder: Encoder
    credentials: Credentials
    loader: PointerLoader = field(init=False)

    def __post_init__(self) -> None:
        self.loader = PointerLoader(self)


Info = GraphQLResolveInfo


class PointerLoader:
    """Loads pointed objects in batches: every pointer asked for in one tick costs one query per class."""

    def __init__(self, context: Context) -> None:
        self.context = context
        self.pending: dict[tuple[str, str], asyncio.Future[Record | None]] = {}
        self.scheduled = False

    def load(self, pointer: Pointer) -> asyncio.Future[Record | None]:
        key = (pointer.class_name, pointer.object_id)
        future = self.pending.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self.pending[key] = future
            if not self.scheduled:
                self.scheduled = True
                asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._dispatch()))
        return future

    async def _dispatch(self) -> None:
        batch, self.pending, self.scheduled = self.pending, {}, False
        by_class: dict[str, list[str]] = {}
        for class_name, object_id in batch:
            by_class.setdefault(class_name, []).append(object_id)
        for class_name, ids in by_class.items():
            try:
                found = await self.context.services.objects.find(
                    self.context.auth, class_name, {"objectId": {"$in": ids}}, QueryOptions(limit=len(ids)), op="get"
                )
                records = {record["objectId"]: record for record in found.results}
            except AppError:
                records = {}
            for object_id in ids:
                future = batch[(class_name, object_id)]
                if not future.done():
                    record = records.get(object_id)
                    future.set_result(node(record, class_name) if record is not None else None)


def node(record: Record, class_name: str) -> Record:
    record[CLASS_KEY] = class_name
    return record


# Selections -----------------------------------------------------------------------------------------


def selected_paths(info: Info, selection_set: SelectionSetNode | None = None, prefix: str = "") -> list[str]:
    """Every selected field below a node as dotted paths (fragments flattened), like graphql-list-fields."""
    paths: list[str] = []
    sets = (
        [selection_set]
        if selection_set is not None
        else [node_.selection_set for node_ in info.field_nodes if node_.selection_set is not None]
    )
    for selections in sets:
        if selections is None:
            continue
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name == "__typename":
                    continue
                path = f"{prefix}{name}"
                if selection.selection_set is None:
                    paths.append(path)
                else:
                    # A field with only `__typename` below it is still read (as `<field>.__typename`).
                    below = selected_paths(info, selection.selection_set, f"{path}.")
                    paths.extend(below or [f"{path}.__typename"])
            elif isinstance(selection, InlineFragmentNode):
                paths.extend(selected_paths(info, selection.selection_set, prefix))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = info.fragments.get(selection.name.value)
                if fragment is not None:
                    paths.extend(selected_paths(info, fragment.selection_set, prefix))
    return paths


def keys_and_include(paths: list[str]) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Parse's projection and include for selected paths (`id` is `objectId`); pointers are included."""
    keys: list[str] = []
    include: list[str] = []
    for path in paths:
        if path == "id":
            path = "objectId"
        elif path.endswith(".id"):
            path = path[:-3] + ".objectId"
        typename_only = path.endswith(".__typename")
        if typename_only:
            path = path[: -len(".__typename")]
        if path not in keys:
            keys.append(path)
        if not typename_only and path not in include:
            include.append(path)
    if not keys or any(key.split(".", 1)[0] == "authData" for key in keys):
        return None, tuple(include)
    return tuple(keys), tuple(include)


# Object fields --------------------------------------------------------------------------------------


def global_id(class_name: str) -> Resolver:
    async def resolve(source: Record, info: Info) -> str:
        return to_global_id(class_name, source["objectId"])

    return resolve


async def acl(source: Record, info: Info) -> Any:
    return source.get("ACL") or PUBLIC_ACL_VALUE


def pointer(key: str) -> Resolver:
    async def resolve(source: Record, info: Info) -> Record | None:
        value = source.get(key)
        if isinstance(value, ParseObject):
            return node(value.data, value.class_name)
        if isinstance(value, Pointer):
            loader: PointerLoader = info.context.loader
            return await loader.load(value)
        return None

    return resolve


def array(key: str) -> Resolver:
    async def resolve(source: Record, info: Info) -> list[Any] | None:
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


def file(key: str) -> Resolver:
    async def resolve(source: Record, info: Info) -> dict[str, str] | None:
        value = source.get(key)
        if not isinstance(value, File):
            return None
        context = info.context
        return {"name": value.name, "url": value.url or context.encoder.file_url(value.name)}

    return resolve


def polygon(key: str) -> Resolver:
    async def resolve(source: Record, info: Info) -> list[GeoPoint] | None:
        value = source.get(key)
        if not isinstance(value, Polygon):
            return None
        return [GeoPoint(latitude, longitude) for latitude, longitude in value.coordinates]

    return resolve


def relation(class_name: str, key: str, target: ClassTypes | None, builder: SchemaBuilder) -> Resolver:
    async def resolve(source: Record, info: Info, **args: Any) -> Any:
        if target is None:
            return None
        owner = {"__type": "Pointer", "className": class_name, "objectId": source["objectId"]}
        return await _find_page(info, target, builder, args, {"$relatedTo": {"object": owner, "key": key}})

    return resolve


# Queries ----------------------------------------------------------------------------------------------


def _read_preference(args: Mapping[str, Any]) -> str | None:
    options = args.get("options") or {}
    return options.get("readPreference")


def get(types: ClassTypes) -> Resolver:
    async def resolve(root: Any, info: Info, **args: Any) -> Record:
        context = info.context
        keys, include = keys_and_include(selected_paths(info))
        record = await context.services.objects.get(
            context.auth,
            types.schema.name,
            object_id_for(args["id"], types.schema.name),
            QueryOptions(keys=keys, include=include, read_preference=_read_preference(args)),
        )
        return node(record, types.schema.name)

    return resolve


def find(types: ClassTypes, builder: SchemaBuilder) -> Resolver:
    async def resolve(root: Any, info: Info, **args: Any) -> Any:
        return await _find_page(info, types, builder, args, {})

    return resolve


async def _find_page(
    info: Info,
    types: ClassTypes,
    builder: SchemaBuilder,
    args: Mapping[str, Any],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    """A Relay connection: edges and pageInfo only when selected, count only when it is needed."""
    context = info.context
    classes = {name: t.schema for name, t in builder.types.items()}
    where = translate.where_to_parse(args.get("where"), types.schema, classes)
    if extra:
        where = {**where, **extra} if not where.keys() & extra.keys() else {"$and": [where, dict(extra)]}
    settings = context.services.settings
    skip, limit, pre_count = translate.skip_and_limit(
        args.get("skip"), args.get("first"), args.get("after"), args.get("last"), args.get("before"), settings.max_limit
    )
    paths = selected_paths(info)
    objects = context.services.objects
    class_name = types.schema.name
    total: int | None = None
    if pre_count:
        counted = await objects.find(context.auth, class_name, where, QueryOptions(limit=0, count=True))
        total = counted.count or 0
        if (skip or 0) + (limit or 0) < total:
            skip = total - (limit or 0)
    wants_page = any(path.startswith(("edges.", "pageInfo.")) for path in paths)
    wants_count = not pre_count and any(
        path in ("count", "pageInfo.hasNextPage", "pageInfo.hasPreviousPage") for path in paths
    )
    node_paths = [path[len("edges.node.") :] for path in paths if path.startswith("edges.node.")]
    keys, include = keys_and_include(node_paths)
    page_limit = (limit if limit is not None else 100) if wants_page else 0
    if settings.max_limit is not None and page_limit > settings.max_limit:
        page_limit = settings.max_limit
    found = await objects.find(
        context.auth,
        class_name,
        where,
        QueryOptions(
            order=translate.order_to_parse(args.get("order")),
            skip=skip or 0,
            limit=page_limit,
            count=wants_count,
            keys=keys if page_limit else None,
            include=include if page_limit else (),
            read_preference=_read_preference(args),
        ),
    )
    count = total if pre_count else found.count
    results = found.results
    start = skip or 0
    edges = [
        {"cursor": translate.cursor(start + index), "node": node(record, class_name)}
        for index, record in enumerate(results)
    ]
    page_info = {
        "hasPreviousPage": bool(count) and start > 0,
        "startCursor": translate.cursor(start),
        "endCursor": translate.cursor(start + max(len(results), 1) - 1),
        "hasNextPage": (count or 0) > start + len(results),
    }
    return {"edges": edges, "pageInfo": page_info, "count": count}


def node_query(builder: SchemaBuilder) -> Resolver:
    async def resolve(root: Any, info: Info, id: str) -> Record | None:
        decoded = from_global_id(id)
        if decoded is None or decoded[0] not in builder.types:
            raise ObjectNotFoundError("Object not found.")
        class_name, object_id = decoded
        context = info.context
        keys, include = keys_and_include(selected_paths(info))
        record = await context.services.objects.get(
            context.auth, class_name, object_id, QueryOptions(keys=keys, include=include)
        )
        return node(record, class_name)

    return resolve


# Mutations --------------------------------------------------------------------------------------------


async def fields_to_parse(
    context: Context, types: ClassTypes, builder: SchemaBuilder, fields: Mapping[str, Any] | None
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
        if value is None:
            if kind == "Relation":
                raise IncorrectTypeError(f"The relation {key} cannot be set to null: remove its objects instead.")
            result[key] = {"__op": "Delete"}
        elif kind == "GeoPoint":
            result[key] = {"__type": "GeoPoint", **value}
        elif kind == "Polygon":
            result[key] = {"__type": "Polygon", "coordinates": [[p["latitude"], p["longitude"]] for p in value]}
        elif kind == "File":
            result[key] = _file_input(value)
        elif (
            kind == "Pointer"
            and field_type is not None
            and isinstance(value, Mapping)
            and field_type.target_class in builder.types
        ):
            result[key] = await _pointer_input(context, builder, key, field_type.target_class or "", value)
        elif (
            kind == "Relation"
            and field_type is not None
            and isinstance(value, Mapping)
            and field_type.target_class in builder.types
        ):
            result[key] = await _relation_input(context, builder, key, field_type.target_class or "", value)
        else:
            result[key] = value
    return result


def _file_input(value: Mapping[str, Any]) -> dict[str, Any]:
    if value.get("upload") is not None:
        raise AppError("Uploading a file needs the files feature, which this server does not have yet.", code=130)
    file_value = value.get("file")
    if isinstance(file_value, Mapping) and file_value.get("name"):
        return {"__type": "File", "name": file_value["name"], "url": file_value.get("url")}
    raise AppError("Invalid file upload.", code=130)


async def _pointer_input(
    context: Context, builder: SchemaBuilder, key: str, target: str, value: Mapping[str, Any]
) -> dict[str, Any]:
    operations = {op: v for op, v in value.items() if v is not None}
    if not operations and "link" in value:
        return {"__op": "Delete"}  # `link: null` unsets the pointer
    if len(operations) != 1:
        raise translate.pointer_needs_one_operation(key)
    if "createAndLink" in operations:
        created = await _create(context, builder.types[target], builder, operations["createAndLink"])
        return {"__type": "Pointer", "className": target, "objectId": created["objectId"]}
    return {"__type": "Pointer", "className": target, "objectId": object_id_for(operations["link"], target)}


async def _relation_input(
    context: Context, builder: SchemaBuilder, key: str, target: str, value: Mapping[str, Any]
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
        created = await _create(context, builder.types[target], builder, fields)
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
    context: Context, types: ClassTypes, builder: SchemaBuilder, fields: Mapping[str, Any] | None
) -> Record:
    body = decode_object(await fields_to_parse(context, types, builder, fields))
    if types.schema.name == "_User":
        # A user made here is signed up, with a session, as through REST.
        return (await context.services.accounts.sign_up(context.auth, body)).user
    saved = await context.services.objects.create(context.auth, types.schema.name, body)
    return saved.object


def _visible(record: Record) -> Record:
    return {key: value for key, value in record.items() if not key.startswith("_")}


async def _payload_object(
    context: Context, info: Info, types: ClassTypes, record: Record, natives: tuple[str, ...]
) -> Record:
    """The object a mutation answers with: read back with the caller's rights when more than ids is selected."""
    payload_key = _payload_key(types)
    paths = [path[len(payload_key) + 1 :] for path in selected_paths(info) if path.startswith(f"{payload_key}.")]
    wanted = [path for path in paths if path.split(".", 1)[0] not in natives]
    if not wanted:
        return node(_visible(record), types.schema.name)
    keys, include = keys_and_include(paths)
    read = await context.services.objects.get(
        context.auth, types.schema.name, record["objectId"], QueryOptions(keys=keys, include=include)
    )
    return node(read, types.schema.name)


def create(types: ClassTypes, builder: SchemaBuilder) -> Resolver:
    async def resolve(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context = info.context
        record = await _create(context, types, builder, input.get("fields"))
        result = await _payload_object(context, info, types, record, ("id", "objectId", "createdAt", "updatedAt"))
        return {_payload_key(types): result}

    return resolve


def update(types: ClassTypes, builder: SchemaBuilder) -> Resolver:
    async def resolve(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context = info.context
        object_id = object_id_for(input["id"], types.schema.name)
        body = await fields_to_parse(context, types, builder, input.get("fields"))
        saved = await context.services.objects.update(context.auth, types.schema.name, object_id, decode_object(body))
        result = await _payload_object(context, info, types, saved.object, ("id", "objectId", "updatedAt"))
        return {_payload_key(types): result}

    return resolve


def delete(types: ClassTypes, builder: SchemaBuilder) -> Resolver:
    async def resolve(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        context = info.context
        class_name = types.schema.name
        object_id = object_id_for(input["id"], class_name)
        result = await _payload_object(context, info, types, {"objectId": object_id}, ("id", "objectId"))
        await context.services.objects.delete(context.auth, class_name, object_id)
        return {_payload_key(types): result}

    return resolve


def _payload_key(types: ClassTypes) -> str:
    return types.name[:1].lower() + types.name[1:]
