"""Cloud functions in GraphQL: Parse's `callCloudCode`, and a field of its own for each typed function.

    @cloud.define("add", graphql="query")
    def add(request, a: int, b: int = 1) -> int: ...

is `add(a: Int!, b: Int): Int!` on `Query`: parameters after `request` become arguments (a default makes
one optional), Python types become GraphQL types (`str`, `int`, `float`, `bool`, `datetime`, lists,
`X | None`; anything else is `Object` in and `Any` out).
"""

from __future__ import annotations

import inspect
import logging
import re
import types
import typing
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLFloat,
    GraphQLInputField,
    GraphQLInputType,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLOutputType,
    GraphQLString,
)

from app.domain.encoding import decode_value
from app.domain.hooks import Registration, plain
from app.transport.graphql.relay import relay_mutation
from app.transport.graphql.request import Info, Resolving
from app.transport.graphql.scalars import ANY, DATE, OBJECT

log = logging.getLogger("app.graphql")
_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")
_SCALARS: dict[Any, Any] = {
    str: GraphQLString,
    int: GraphQLInt,
    float: GraphQLFloat,
    bool: GraphQLBoolean,
    datetime: DATE,
}


def call_cloud_code(
    functions: Mapping[str, Registration], webhook_functions: Sequence[str] = ()
) -> dict[str, GraphQLField]:
    """`callCloudCode`, with an enum of the functions whose names GraphQL can spell (as Parse Server), cloud code's
    and the webhooks'."""
    every = list(dict.fromkeys([*functions, *webhook_functions]))
    names = [name for name in every if _NAME.match(name)]
    for name in every:
        if name not in names:
            log.warning("cloud function %s is left out of CloudCodeFunction: not a GraphQL name", name)
    if not names:
        return {}
    enum = GraphQLEnumType(
        "CloudCodeFunction",
        {name: GraphQLEnumValue(name) for name in names},
        description="The cloud code functions.",
    )
    return {
        "callCloudCode": relay_mutation(
            "CallCloudCode",
            {
                "functionName": GraphQLInputField(GraphQLNonNull(enum), description="The function to call."),
                "params": GraphQLInputField(OBJECT, description="Its parameters."),
            },
            {"result": GraphQLField(ANY, description="What it answered.")},
            _call_cloud_code,
            "Calls a cloud code function.",
        )
    }


async def _call_cloud_code(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context: Resolving = info.context
    hooks = context.services.hooks
    assert hooks is not None
    params = {key: decode_value(value) for key, value in (input.get("params") or {}).items()}
    return {"result": plain(await hooks.call_function(context.auth, input["functionName"], params))}


def typed_fields(functions: Mapping[str, Registration], kind: str, taken: set[str]) -> dict[str, GraphQLField]:
    """The fields of the functions declared with `graphql=kind` ("query" or "mutation")."""
    result: dict[str, GraphQLField] = {}
    for name, registration in functions.items():
        if registration.graphql != kind:
            continue
        if not _NAME.match(name) or name in taken:
            log.warning("cloud function %s has no %s field: its name is taken or not a GraphQL name", name, kind)
            continue
        try:
            result[name] = _field(name, registration)
        except TypeError as error:
            log.warning("cloud function %s has no %s field: %s", name, kind, error)
    return result


def _field(name: str, registration: Registration) -> GraphQLField:
    handler = registration.handler
    hints = typing.get_type_hints(handler)
    parameters = list(inspect.signature(handler).parameters.values())[1:]
    args = {}
    for parameter in parameters:
        if parameter.kind not in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
            raise TypeError(f"parameter {parameter.name} must be a plain or keyword parameter")
        type_ = _input_type(hints.get(parameter.name, Any))
        if parameter.default is inspect.Parameter.empty:
            args[parameter.name] = GraphQLArgument(type_)
        else:
            nullable = type_.of_type if isinstance(type_, GraphQLNonNull) else type_
            args[parameter.name] = GraphQLArgument(nullable, default_value=parameter.default)

    async def resolve(root: Any, info: Info, **arguments: Any) -> Any:
        context: Resolving = info.context
        assert context.services.hooks is not None
        return plain(await context.services.hooks.call_function(context.auth, name, dict(arguments)))

    description = inspect.getdoc(handler) or f"The cloud function {name}."
    return GraphQLField(_output_type(hints.get("return", Any)), args=args, resolve=resolve, description=description)


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The type inside an optional, and whether it was optional."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [member for member in typing.get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            return members[0], True
        return Any, True
    return annotation, False


def _input_type(annotation: Any) -> GraphQLInputType:
    inner, optional = _unwrap(annotation)
    if typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner) or (Any,)
        type_: Any = GraphQLList(_input_type(item))
    else:
        type_ = _SCALARS.get(inner, OBJECT)
    return type_ if optional or type_ is OBJECT else GraphQLNonNull(type_)


def _output_type(annotation: Any) -> GraphQLOutputType:
    if annotation is None or annotation is type(None):
        return GraphQLBoolean
    inner, optional = _unwrap(annotation)
    if typing.get_origin(inner) is list:
        (item,) = typing.get_args(inner) or (Any,)
        type_: Any = GraphQLList(_output_type(item))
    else:
        type_ = _SCALARS.get(inner, ANY)
    return type_ if optional or type_ is ANY else GraphQLNonNull(type_)
