"""Relay mutations: one `input` argument, a payload, and `clientMutationId` passed through (graphql-relay's shape,
which Parse Server uses for every mutation)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLString,
)

MutationResolver = Callable[[Any, GraphQLResolveInfo, dict[str, Any]], Awaitable[dict[str, Any]]]


def relay_mutation(
    name: str,
    input_fields: dict[str, GraphQLInputField],
    output_fields: dict[str, GraphQLField],
    resolve: MutationResolver,
    description: str,
) -> GraphQLField:
    input_type = GraphQLInputObjectType(
        f"{name}Input",
        {
            **input_fields,
            "clientMutationId": GraphQLInputField(GraphQLString, description="Echoed in the payload."),
        },
    )
    payload = GraphQLObjectType(
        f"{name}Payload",
        {
            **output_fields,
            "clientMutationId": GraphQLField(GraphQLString, description="The input's clientMutationId."),
        },
    )

    async def resolve_with_id(root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        result = await resolve(root, info, input)
        result["clientMutationId"] = input.get("clientMutationId")
        return result

    return GraphQLField(
        payload,
        args={"input": GraphQLArgument(GraphQLNonNull(input_type))},
        description=description,
        resolve=resolve_with_id,
    )
