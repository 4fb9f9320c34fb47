"""The class schemas in GraphQL: `class`, `classes`, `createClass`, `updateClass` and `deleteClass`, with Parse
Server's names and shapes (`Class`, `SchemaField` and its kinds, `SchemaFieldsInput`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from app.domain.classes import ClassSchema
from app.domain.schemas import KEEP
from app.errors import InvalidKeyNameError
from app.transport.graphql.inputs import string_input
from app.transport.graphql.relay import relay_mutation
from app.transport.graphql.request import Info

# Parse type → the name GraphQL gives it in `Schema<Name>Field` and `add<Name>s`.
_SCHEMA_FIELD_KINDS = ("String", "Number", "Boolean", "Array", "Object", "Date", "File", "GeoPoint", "Polygon", "Bytes")


def _name_field(description: str = "The field's name.") -> GraphQLField:
    return GraphQLField(GraphQLNonNull(GraphQLString), description=description)


def _name_input(description: str = "The field's name.") -> GraphQLInputField:
    return string_input(description)


def _schema_field_type(value: Mapping[str, Any], info: Info, abstract: Any) -> str:
    kind = value["type"]
    if kind in ("Pointer", "Relation"):
        return f"Schema{kind}Field"
    return f"Schema{kind}Field" if kind in _SCHEMA_FIELD_KINDS or kind == "ACL" else "SchemaStringField"


SCHEMA_FIELD = GraphQLInterfaceType(
    "SchemaField", {"name": _name_field()}, resolve_type=_schema_field_type, description="A field of a class schema."
)
SCHEMA_FIELD_INPUT = GraphQLInputObjectType(
    "SchemaFieldInput", {"name": _name_input()}, description="A field, by name."
)
_FIELD_TYPES: dict[str, GraphQLObjectType] = {}
_FIELD_INPUTS: dict[str, GraphQLInputObjectType] = {}
for _kind in _SCHEMA_FIELD_KINDS:
    _FIELD_INPUTS[_kind] = GraphQLInputObjectType(
        f"Schema{_kind}FieldInput", {"name": _name_input()}, description=f"A {_kind} field to add."
    )
    _FIELD_TYPES[_kind] = GraphQLObjectType(
        f"Schema{_kind}Field", {"name": _name_field()}, interfaces=[SCHEMA_FIELD], description=f"A {_kind} field."
    )
for _kind in ("Pointer", "Relation"):
    _FIELD_INPUTS[_kind] = GraphQLInputObjectType(
        f"{_kind}FieldInput",
        {
            "name": _name_input(),
            "targetClassName": _name_input("The class it points to."),
        },
        description=f"A {_kind} field to add.",
    )
    _FIELD_TYPES[_kind] = GraphQLObjectType(
        f"Schema{_kind}Field",
        {
            "name": _name_field(),
            "targetClassName": _name_field("The class it points to."),
        },
        interfaces=[SCHEMA_FIELD],
        description=f"A {_kind} field.",
    )
_FIELD_TYPES["ACL"] = GraphQLObjectType(
    "SchemaACLField", {"name": _name_field()}, interfaces=[SCHEMA_FIELD], description="The ACL field."
)

# (input field, Parse type, is a list): Parse takes one GeoPoint per class, so `addGeoPoint` is singular.
_ADDITIONS = [
    (f"add{kind}s", kind, True) for kind in ("String", "Number", "Boolean", "Array", "Object", "Date", "File")
]
_ADDITIONS += [
    ("addGeoPoint", "GeoPoint", False),
    ("addPolygons", "Polygon", True),
    ("addBytes", "Bytes", True),
    ("addPointers", "Pointer", True),
    ("addRelations", "Relation", True),
]

SCHEMA_FIELDS_INPUT = GraphQLInputObjectType(
    "SchemaFieldsInput",
    {
        **{
            name: GraphQLInputField(
                GraphQLList(GraphQLNonNull(_FIELD_INPUTS[kind])) if many else _FIELD_INPUTS[kind],
                description=f"{kind} fields to add.",
            )
            for name, kind, many in _ADDITIONS
        },
        "remove": GraphQLInputField(GraphQLList(GraphQLNonNull(SCHEMA_FIELD_INPUT)), description="Fields to remove."),
    },
    description="Fields to add to a class and fields to remove from it.",
)

CLASS = GraphQLObjectType(
    "Class",
    {
        "name": GraphQLField(GraphQLNonNull(GraphQLString), description="The class's name."),
        "schemaFields": GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(SCHEMA_FIELD))), description="Its fields."
        ),
    },
    description="A class and its fields.",
)

SCHEMA_TYPES = [SCHEMA_FIELD, *_FIELD_TYPES.values()]


def fields_to_parse(
    schema_fields: Mapping[str, Any] | None, existing: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`SchemaFieldsInput` as the `fields` of `/schemas`; a name given twice, or that exists, is refused."""
    result: dict[str, Any] = {}
    if not schema_fields:
        return result
    removed = {field["name"] for field in schema_fields.get("remove") or []}
    for input_name, kind, many in _ADDITIONS:
        given = schema_fields.get(input_name)
        if given is None:
            continue
        for field in given if many else [given]:
            name = field["name"]
            if name in removed:
                continue
            if name in result or (existing is not None and name in existing):
                raise InvalidKeyNameError(f"Duplicated field name: {name}")
            spec: dict[str, Any] = {"type": kind}
            if kind in ("Pointer", "Relation"):
                spec["targetClass"] = field["targetClassName"]
            result[name] = spec
    if existing is not None:
        for name in removed:
            if name in existing:
                result[name] = {"__op": "Delete"}
    return result


def class_value(schema: ClassSchema, *, created: bool = False) -> dict[str, Any]:
    fields = schema.fields_as_created if created else schema.fields
    return {
        "name": schema.name,
        "schemaFields": [
            {"name": name, "type": field.type, "targetClassName": field.target_class} for name, field in fields.items()
        ],
    }


async def _class(root: Any, info: Info, name: str) -> dict[str, Any]:
    context = info.context
    return class_value(await context.services.schema_admin.read(context.auth, name))


async def _classes(root: Any, info: Info) -> list[dict[str, Any]]:
    context = info.context
    return [class_value(schema) for schema in await context.services.schema_admin.list(context.auth)]


async def _create_class(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    admin = context.services.schema_admin
    admin.require_access(context.auth, "create")  # before the fields are read, as Parse refuses the key first
    schema = await admin.create(context.auth, input["name"], fields_to_parse(input.get("schemaFields")), None, None)
    return {"class": class_value(schema, created=True)}


async def _update_class(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    admin = context.services.schema_admin
    admin.require_access(context.auth, "update")  # before the class is read, as Parse refuses the key first
    existing = await admin.read(context.auth, input["name"])
    schema = await admin.update(
        context.auth, input["name"], fields_to_parse(input.get("schemaFields"), existing.fields), KEEP, None
    )
    return {"class": class_value(schema)}


async def _delete_class(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    admin = context.services.schema_admin
    admin.require_access(context.auth, "delete")  # before the class is read, as Parse refuses the key first
    existing = await admin.read(context.auth, input["name"])
    await admin.delete(context.auth, input["name"])
    return {"class": class_value(existing)}


# The fields -------------------------------------------------------------------------------------------------


def queries() -> dict[str, GraphQLField]:
    return {
        "class": GraphQLField(
            GraphQLNonNull(CLASS),
            args={
                "name": GraphQLArgument(GraphQLNonNull(GraphQLString), description="The class's name."),
            },
            description="A class schema (master key).",
            resolve=_class,
        ),
        "classes": GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(CLASS))),
            description="Every class schema (master key).",
            resolve=_classes,
        ),
    }


def mutations() -> dict[str, GraphQLField]:
    class_payload = {"class": GraphQLField(GraphQLNonNull(CLASS), description="The class.")}
    name_input = {"name": _name_input("The class's name.")}
    fields_input = {"schemaFields": GraphQLInputField(SCHEMA_FIELDS_INPUT, description="Fields to add or remove.")}
    return {
        "createClass": relay_mutation(
            "CreateClass", {**name_input, **fields_input}, class_payload, _create_class, "Creates a class (master key)."
        ),
        "updateClass": relay_mutation(
            "UpdateClass",
            {**name_input, **fields_input},
            class_payload,
            _update_class,
            "Adds and removes fields of a class (master key).",
        ),
        "deleteClass": relay_mutation(
            "DeleteClass", name_input, class_payload, _delete_class, "Drops an empty class (master key)."
        ),
    }
