"""Class schemas to a GraphQL schema with Parse Server's names and shapes (types first, fields in thunks)."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLFloat,
    GraphQLID,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    GraphQLUnionType,
)

from app.domain.classes import ClassSchema, FieldType
from app.domain.hooks import Registration
from app.transport.graphql import (
    classes,
    config,
    connections,
    files,
    functions,
    health,
    inputs,
    mutations,
    outputs,
    resolvers,
    subscriptions,
    users,
)
from app.transport.graphql.class_types import ClassTypes
from app.transport.graphql.naming import class_type_names, graphql_class_name, lower_first, plural
from app.transport.graphql.relay import relay_mutation
from app.transport.graphql.scalars import BYTES, DATE, OBJECT, SCALARS

log = logging.getLogger("app.graphql")
PARSE_OBJECT_FIELD_NAMES = ("objectId", "createdAt", "updatedAt", "ACL")
RESERVED_QUERIES = frozenset({"health", "viewer", "class", "classes", "cloudConfig"})
RESERVED_MUTATIONS = frozenset(
    {
        "signUp",
        "logIn",
        "logOut",
        "createFile",
        "callCloudCode",
        "createClass",
        "updateClass",
        "deleteClass",
        "updateCloudConfig",
    }
)


def class_order(schema: ClassSchema) -> tuple[int, str]:
    """System classes first, then the others by name, as Parse Server generates them."""
    return (0 if schema.name.startswith("_") else 1, schema.name)


class SchemaBuilder:
    """Builds one immutable GraphQL schema from the class schemas of the moment."""

    def __init__(
        self,
        classes: list[ClassSchema],
        functions: Mapping[str, Registration] | None = None,
        webhook_functions: Sequence[str] = (),
    ) -> None:
        self.functions: Mapping[str, Registration] = functions or {}
        self.webhook_functions = webhook_functions
        self.classes = sorted(
            (c for c in classes if c.name != "_Join" and not c.name.startswith("_Join:")), key=class_order
        )
        self.types: dict[str, ClassTypes] = {}
        self.array_result: GraphQLUnionType | None = None

    # Field types by Parse type -------------------------------------------------------------------

    def output_type(self, field_type: FieldType) -> GraphQLOutputType | None:
        match field_type.type:
            case "String":
                return GraphQLString
            case "Number":
                return GraphQLFloat
            case "Boolean":
                return GraphQLBoolean
            case "Array":
                assert self.array_result is not None
                return GraphQLList(self.array_result)
            case "Object":
                return OBJECT
            case "Date":
                return DATE
            case "Pointer":
                target = self.types.get(field_type.target_class or "")
                return target.output if target else OBJECT
            case "Relation":
                target = self.types.get(field_type.target_class or "")
                return GraphQLNonNull(target.connection if target else OBJECT)
            case "File":
                return outputs.FILE_INFO
            case "GeoPoint":
                return outputs.GEO_POINT
            case "Polygon":
                return outputs.POLYGON
            case "Bytes":
                return BYTES
            case "ACL":
                return GraphQLNonNull(outputs.ACL_TYPE)
        return None

    def input_type(self, field_type: FieldType) -> inputs.NullableInput | None:
        if field_type.type in ("Pointer", "Relation"):
            target = self.types.get(field_type.target_class or "")
            if target is None:
                return OBJECT
            return target.pointer_input if field_type.type == "Pointer" else target.relation_input
        return inputs.VALUE_INPUTS.get(field_type.type)

    def constraint_type(self, name: str, field_type: FieldType) -> GraphQLInputType | None:
        if name in ("id", "objectId"):
            return inputs.ID_WHERE_INPUT
        if field_type.type in ("Pointer", "Relation"):
            target = self.types.get(field_type.target_class or "")
            return target.relation_where if target else OBJECT
        return inputs.WHERE_INPUTS.get(field_type.type)

    # Per-class types -----------------------------------------------------------------------------

    def _declare(self, schema: ClassSchema) -> ClassTypes:
        """The class's named types with their fields left as thunks, so classes may refer to each other."""
        name = graphql_class_name(schema.name)
        # Parse sorts a class's fields by name; _User's auth data columns never show.
        fields = {
            key: schema.fields[key]
            for key in sorted(schema.fields)
            if not (schema.name == "_User" and key.startswith("_auth_data_"))
        }
        custom = [key for key in fields if key not in PARSE_OBJECT_FIELD_NAMES]
        types: ClassTypes

        def value_fields(create: bool) -> Callable[[], dict[str, GraphQLInputField]]:
            def thunk() -> dict[str, GraphQLInputField]:
                result = {"ACL": GraphQLInputField(inputs.ACL_INPUT)}
                for key in custom:
                    type_ = self.input_type(fields[key])
                    if type_ is not None:
                        required = create and fields[key].required
                        result[key] = GraphQLInputField(
                            GraphQLNonNull(type_) if required else type_, description=f"The object's {key}."
                        )
                return result

            return thunk

        create_fields = GraphQLInputObjectType(
            f"Create{name}FieldsInput", value_fields(True), description=f"The fields of a new {name}."
        )
        update_fields = GraphQLInputObjectType(
            f"Update{name}FieldsInput", value_fields(False), description=f"The fields to change in a {name}."
        )
        pointer_input = GraphQLInputObjectType(
            f"{name}PointerInput",
            lambda: {
                "link": GraphQLInputField(GraphQLID, description=f"An existing {name}: a global id or an objectId."),
                "createAndLink": GraphQLInputField(create_fields, description=f"A new {name}, created and linked."),
            },
            description=f"Links a pointer to a {name}.",
        )
        relation_input = GraphQLInputObjectType(
            f"{name}RelationInput",
            lambda: {
                "add": GraphQLInputField(
                    GraphQLList(GraphQLNonNull(GraphQLID)),
                    description=f"Existing {name} objects to add (global ids or objectIds).",
                ),
                "remove": GraphQLInputField(
                    GraphQLList(GraphQLNonNull(GraphQLID)), description=f"{name} objects to remove from the relation."
                ),
                "createAndAdd": GraphQLInputField(
                    GraphQLList(GraphQLNonNull(create_fields)), description=f"New {name} objects, created and added."
                ),
            },
            description=f"Changes the members of a relation to {name}.",
        )

        def where_fields() -> dict[str, GraphQLInputField]:
            result: dict[str, GraphQLInputField] = {}
            for key in [*fields, "id"]:
                if key in ("OR", "AND", "NOR"):
                    continue
                type_ = self.constraint_type(key, fields.get(key, fields["objectId"]))
                if type_ is not None:
                    result[key] = GraphQLInputField(type_, description=f"Constraints on {key}.")
            for operator, meaning in (("OR", "any"), ("AND", "all"), ("NOR", "none")):
                result[operator] = GraphQLInputField(
                    GraphQLList(GraphQLNonNull(types.where)), description=f"Matches {meaning} of these."
                )
            return result

        where = GraphQLInputObjectType(f"{name}WhereInput", where_fields, description=f"Constraints on {name} objects.")
        relation_where = GraphQLInputObjectType(
            f"{name}RelationWhereInput",
            lambda: {
                "have": GraphQLInputField(where, description="At least one related object matches."),
                "haveNot": GraphQLInputField(where, description="No related object matches."),
                "exists": GraphQLInputField(GraphQLBoolean, description="Whether the field has any object."),
            },
            description=f"Constraints on a pointer or relation to {name}.",
        )
        order_values: dict[str, GraphQLEnumValue] = {}
        for key in [*fields, "id"]:
            value = "objectId" if key == "id" else key
            order_values[f"{key}_ASC"] = GraphQLEnumValue(value)
            order_values[f"{key}_DESC"] = GraphQLEnumValue(f"-{value}")
        order = GraphQLEnumType(f"{name}Order", order_values, description=f"How to sort {name} objects.")
        output = GraphQLObjectType(
            name,
            lambda: self._output_fields(types),
            interfaces=lambda: [outputs.PARSE_OBJECT, outputs.NODE],
            description=f"An object of the {schema.name} class.",
        )
        edge = GraphQLObjectType(
            f"{name}Edge",
            {
                "node": GraphQLField(output, description="The object."),
                "cursor": GraphQLField(GraphQLNonNull(GraphQLString), description="Its position, for paging."),
            },
            description=f"A {name} in a page.",
        )
        connection = GraphQLObjectType(
            f"{name}Connection",
            {
                "pageInfo": GraphQLField(GraphQLNonNull(outputs.PAGE_INFO), description="Where the page lies."),
                "edges": GraphQLField(GraphQLList(edge), description="The page's objects."),
                "count": GraphQLField(GraphQLNonNull(GraphQLInt), description="How many objects match in all."),
            },
            description=f"A page of {name} objects (Relay).",
        )
        types = ClassTypes(
            schema,
            name,
            fields,
            output,
            connection,
            where,
            relation_where,
            order,
            create_fields,
            update_fields,
            pointer_input,
            relation_input,
        )
        types.find_args = {
            "where": GraphQLArgument(where, description="The constraints objects must meet."),
            "order": GraphQLArgument(GraphQLList(GraphQLNonNull(order)), description="How to sort them."),
            "skip": GraphQLArgument(GraphQLInt, description="How many objects to skip."),
            "after": GraphQLArgument(GraphQLString, description="Objects after this cursor."),
            "first": GraphQLArgument(GraphQLInt, description="At most this many objects, from the start."),
            "before": GraphQLArgument(GraphQLString, description="Objects before this cursor."),
            "last": GraphQLArgument(GraphQLInt, description="At most this many objects, from the end."),
            "options": inputs.READ_OPTIONS_ARGUMENT,
        }
        return types

    def _output_fields(self, types: ClassTypes) -> dict[str, GraphQLField]:
        class_name = types.schema.name
        result: dict[str, GraphQLField] = {
            "id": GraphQLField(
                GraphQLNonNull(GraphQLID),
                description="A global id, unique across classes.",
                resolve=resolvers.global_id(class_name),
            ),
            "objectId": GraphQLField(GraphQLNonNull(GraphQLID), description="The object's id in its class."),
            "createdAt": GraphQLField(GraphQLNonNull(DATE), description="When the object was created."),
            "updatedAt": GraphQLField(GraphQLNonNull(DATE), description="When the object last changed."),
            "ACL": GraphQLField(
                GraphQLNonNull(outputs.ACL_TYPE), description="Who may read and change it.", resolve=resolvers.acl
            ),
        }
        if class_name == "_User":
            result["authDataResponse"] = GraphQLField(OBJECT, description="What an auth provider answered.")
        for key, field_type in types.fields.items():
            if key in PARSE_OBJECT_FIELD_NAMES or (class_name == "_User" and key == "password"):
                continue
            type_ = self.output_type(field_type)
            if type_ is None:
                continue
            if field_type.required and not isinstance(type_, GraphQLNonNull):
                type_ = GraphQLNonNull(type_)
            match field_type.type:
                case "Relation":
                    target = self.types.get(field_type.target_class or "")
                    result[key] = GraphQLField(
                        type_,
                        args=target.find_args if target else None,
                        description=f"The objects in the {key} relation.",
                        resolve=connections.relation(class_name, key, target, self.types),
                    )
                case "Pointer":
                    result[key] = GraphQLField(
                        type_, description=f"The object {key} points to.", resolve=resolvers.pointer(key)
                    )
                case "Array":
                    result[key] = GraphQLField(
                        type_, description=f"The elements of {key}.", resolve=resolvers.array(key)
                    )
                case "File":
                    result[key] = GraphQLField(type_, description=f"The file in {key}.", resolve=resolvers.file(key))
                case "Polygon":
                    result[key] = GraphQLField(
                        type_, description=f"The points of {key}.", resolve=resolvers.polygon(key)
                    )
                case _:
                    result[key] = GraphQLField(type_, description=f"The object's {key}.")
        return result

    # The schema ----------------------------------------------------------------------------------

    def build(self) -> GraphQLSchema:
        taken = set(static_type_names()) if self.classes else set()
        for schema in self.classes:
            names = class_type_names(graphql_class_name(schema.name))
            if taken & names:
                # As Parse Server does, a class whose types would collide with others stays out of GraphQL.
                log.warning(
                    "class %s is left out of GraphQL: its type names collide with %s",
                    schema.name,
                    ", ".join(sorted(taken & names)),
                )
                continue
            taken |= names
            self.types[schema.name] = self._declare(schema)
        self.array_result = GraphQLUnionType(
            "ArrayResult",
            lambda: [outputs.ELEMENT, *(t.output for t in self.types.values())],
            resolve_type=resolvers.array_element_type,
            description="An element of an Array field: a value, or an object.",
        )
        queries: dict[str, GraphQLField] = {
            "node": GraphQLField(
                outputs.NODE,
                args={"id": GraphQLArgument(GraphQLNonNull(GraphQLID), description="A global id.")},
                description="Any object by its global id.",
                resolve=resolvers.node_query(self.types),
            )
        }
        writes: dict[str, GraphQLField] = {}
        for types in self.types.values():
            self._class_operations(types, queries, writes)
        # The operations every schema has, in Parse Server's order.
        user = self.types.get("_User")
        viewer = users.viewer_type(user) if user is not None else None
        queries.update(health.queries())
        if viewer is not None:
            queries.update(users.queries(viewer))
        queries.update(classes.queries())
        queries.update(config.queries())
        writes.update(files.mutations())
        if user is not None and viewer is not None:
            writes.update(users.mutations(user, viewer, self.types))
        writes.update(functions.call_cloud_code(self.functions, self.webhook_functions))
        writes.update(classes.mutations())
        writes.update(config.mutations())
        queries.update(functions.typed_fields(self.functions, "query", set(queries)))
        writes.update(functions.typed_fields(self.functions, "mutation", set(writes)))
        query = GraphQLObjectType("Query", queries, description="Reads.")
        mutation = GraphQLObjectType("Mutation", writes, description="Writes.")
        live = subscriptions.fields(self.types, taken)
        subscription = (
            GraphQLObjectType("Subscription", live, description="Events and live pages, over a websocket.")
            if live
            else None
        )
        # Every class's types are in the schema even when nothing refers to them, as in Parse Server's.
        per_class = [
            type_
            for t in self.types.values()
            for type_ in (
                t.create_fields,
                t.update_fields,
                t.pointer_input,
                t.relation_input,
                t.where,
                t.relation_where,
                t.order,
                t.output,
                t.connection,
            )
        ]
        extra: list[GraphQLNamedType] = [
            *SCALARS.values(),
            *per_class,
            outputs.ELEMENT,
            self.array_result,
            *classes.SCHEMA_TYPES,
        ]
        return GraphQLSchema(query=query, mutation=mutation, subscription=subscription, types=extra)

    def _class_operations(
        self, types: ClassTypes, queries: dict[str, GraphQLField], writes: dict[str, GraphQLField]
    ) -> None:
        lower = lower_first(types.name)
        name = types.name
        get_name, find_name = lower, plural(lower)
        if get_name not in RESERVED_QUERIES and get_name not in queries:
            queries[get_name] = GraphQLField(
                GraphQLNonNull(types.output),
                args={
                    "id": GraphQLArgument(GraphQLNonNull(GraphQLID), description="A global id or an objectId."),
                    "options": inputs.READ_OPTIONS_ARGUMENT,
                },
                description=f"One {name} by its id.",
                resolve=resolvers.get(types),
            )
        if find_name not in RESERVED_QUERIES and find_name not in queries:
            queries[find_name] = GraphQLField(
                GraphQLNonNull(types.connection),
                args=types.find_args,
                description=f"A page of {name} objects.",
                resolve=connections.find(types, self.types),
            )
        payload_field = {lower: GraphQLField(GraphQLNonNull(types.output), description="The object.")}
        operations: list[tuple[str, str, dict[str, GraphQLInputField], Any]] = [
            (
                "create",
                "Creates",
                {"fields": GraphQLInputField(types.create_fields, description="The new object's fields.")},
                mutations.create(types, self.types),
            ),
            (
                "update",
                "Changes",
                {
                    "id": GraphQLInputField(GraphQLNonNull(GraphQLID), description="A global id or an objectId."),
                    "fields": GraphQLInputField(types.update_fields, description="The fields to change."),
                },
                mutations.update(types, self.types),
            ),
            (
                "delete",
                "Deletes",
                {"id": GraphQLInputField(GraphQLNonNull(GraphQLID), description="A global id or an objectId.")},
                mutations.delete(types, self.types),
            ),
        ]
        for verb, description, input_fields, resolve in operations:
            mutation_name = f"{verb}{name}"
            if mutation_name in RESERVED_MUTATIONS or mutation_name in writes:
                continue
            writes[mutation_name] = relay_mutation(
                f"{verb.capitalize()}{name}", input_fields, payload_field, resolve, f"{description} a {name}."
            )


@functools.cache
def static_type_names() -> frozenset[str]:
    """The names every schema has whatever its classes (and those that come with `_User`), which no class may
    take."""
    names = set(SchemaBuilder([]).build().type_map)
    names |= {"Subscription", "Viewer", "UserLoginWithInput"}
    for operation in (
        "SignUp",
        "LogInWith",
        "LogIn",
        "LogOut",
        "ResetPassword",
        "ConfirmResetPassword",
        "SendVerificationEmail",
        "Challenge",
        "CallCloudCode",
    ):
        names |= {f"{operation}Input", f"{operation}Payload"}
    return frozenset(names | {"CloudCodeFunction"})
