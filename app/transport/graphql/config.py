"""Parse Config: `cloudConfig` reads a parameter, `updateCloudConfig` sets one (the config service decides who
may)."""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLField,
    GraphQLInputField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from app.transport.graphql.inputs import string_input
from app.transport.graphql.relay import relay_mutation
from app.transport.graphql.request import Info

CONFIG_VALUE = GraphQLObjectType(
    "ConfigValue",
    {
        "value": GraphQLField(GraphQLString, description="The parameter's value."),
        "isMasterKeyOnly": GraphQLField(GraphQLBoolean, description="Whether only the master key may read it."),
    },
    description="A Parse Config parameter.",
)


async def _cloud_config(root: Any, info: Info, paramName: str) -> dict[str, Any]:
    context = info.context
    parameter = await context.services.config.parameter(context.auth, paramName)
    return {"value": parameter.value, "isMasterKeyOnly": parameter.master_key_only}


async def _update_cloud_config(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    name, value, master_only = input["paramName"], input["value"], input.get("isMasterKeyOnly", False)
    await context.services.config.update(context.auth, {name: value}, {name: master_only})
    return {"cloudConfig": {"value": value, "isMasterKeyOnly": master_only}}


def queries() -> dict[str, GraphQLField]:
    return {
        "cloudConfig": GraphQLField(
            GraphQLNonNull(CONFIG_VALUE),
            args={
                "paramName": GraphQLArgument(GraphQLNonNull(GraphQLString), description="The parameter's name."),
            },
            description="A Parse Config parameter (master key).",
            resolve=_cloud_config,
        )
    }


def mutations() -> dict[str, GraphQLField]:
    return {
        "updateCloudConfig": relay_mutation(
            "UpdateCloudConfig",
            {
                "paramName": string_input("The parameter's name."),
                "value": string_input("Its new value."),
                "isMasterKeyOnly": GraphQLInputField(
                    GraphQLBoolean, default_value=False, description="Whether only the master key may read it."
                ),
            },
            {"cloudConfig": GraphQLField(GraphQLNonNull(CONFIG_VALUE), description="The parameter.")},
            _update_cloud_config,
            "Sets a Parse Config parameter (master key).",
        )
    }
