"""The GraphQL types generated for one class, which its resolvers read (the class's fields, its types by name).

The builder (`builder.py`) makes them; resolvers receive them, and the map of every class's types, as values,
so that nothing but the executor needs the builder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from graphql import GraphQLArgument, GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

from app.domain.classes import ClassSchema, FieldType


@dataclass(slots=True)
class ClassTypes:
    """Every GraphQL type generated for one class."""

    schema: ClassSchema
    name: str
    fields: dict[str, FieldType]
    output: GraphQLObjectType
    connection: GraphQLObjectType
    where: GraphQLInputObjectType
    relation_where: GraphQLInputObjectType
    order: GraphQLEnumType
    create_fields: GraphQLInputObjectType
    update_fields: GraphQLInputObjectType
    pointer_input: GraphQLInputObjectType
    relation_input: GraphQLInputObjectType
    find_args: dict[str, GraphQLArgument] = field(default_factory=dict)


TypesByClass = Mapping[str, ClassTypes]
"""Every class in the schema, by Parse class name: filled by the builder before any resolver runs."""
