"""A small GraphQL client for tests, over the same in-process HTTP as the REST tests."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from graphql import DocumentNode, GraphQLSchema, Visitor, build_ast_schema, parse, print_type, visit

from tests.conftest import APP_ID, MASTER_KEY


class Gql:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        master: bool | str = False,
        token: str | None = None,
        operation_name: str | None = None,
    ) -> httpx.Response:
        """`master` is True for the master key, or another key to send as one (a read-only master key)."""
        headers = {"X-Parse-Application-Id": APP_ID}
        if master:
            headers["X-Parse-Master-Key"] = MASTER_KEY if master is True else master
        if token:
            headers["X-Parse-Session-Token"] = token
        body: dict[str, Any] = {"query": query}
        if variables is not None:
            body["variables"] = variables
        if operation_name is not None:
            body["operationName"] = operation_name
        return await self.client.post("/graphql", json=body, headers=headers)

    async def data(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """The `data` of a request that must succeed."""
        response = await self.post(query, variables, **kwargs)
        body = response.json()
        assert response.status_code == 200 and "errors" not in body, body
        return body["data"]

    async def error(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """The single error of a request that must fail while running (HTTP 200)."""
        response = await self.post(query, variables, **kwargs)
        body = response.json()
        assert response.status_code == 200 and len(body.get("errors", [])) == 1, body
        error: dict[str, Any] = body["errors"][0]
        return error


class _NoDescriptions(Visitor):
    def enter(self, node: Any, *_: Any) -> Any:
        if getattr(node, "description", None) is not None:
            bare = copy.copy(node)
            bare.description = None
            return bare
        return None


def without_descriptions(sdl: str) -> GraphQLSchema:
    """A schema from SDL with every description removed (descriptions are each server's own words)."""
    document: DocumentNode = visit(parse(sdl), _NoDescriptions())
    return build_ast_schema(document)


def type_definitions(schema: GraphQLSchema) -> dict[str, str]:
    """Every named type as SDL, field order kept (what a client generator sees), keyed by name."""
    return {name: print_type(type_) for name, type_ in schema.type_map.items() if not name.startswith("__")}
