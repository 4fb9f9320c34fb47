"""GraphQL operations past Parse's `graphQLDepth`/`graphQLFields` or past our cost are refused before they run,
over HTTP and websockets alike, with Parse Server's answer; the master key is exempt."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, running, serving
from tests.graphql.helpers import Gql
from tests.graphql.test_batching import LOG
from tests.realtime.clients import graphql_socket, user_init

pytestmark = pytest.mark.asyncio(loop_scope="session")

DEADLINE = 20.0  # seconds: generous on a loaded machine; before the limits, 1,000 counts ran far longer
A_THOUSAND_COUNTS = "{ " + " ".join(f"c{n}: games {{ count }}" for n in range(1000)) + " }"
NESTED = "{ games(first: 1000) { edges { node { teammates(first: 10) { count } } } } }"  # 1 + 1,000 x 2


@dataclass
class Server:
    api: Api
    gql: Gql
    address: str


async def _classes(api: Api) -> None:
    await api.post("/schemas/Player", {"fields": {"name": {"type": "String"}}}, master=True)
    fields = {
        "score": {"type": "Number"},
        "player": {"type": "Pointer", "targetClass": "Player"},
        "teammates": {"type": "Relation", "targetClass": "Player"},
        "next": {"type": "Pointer", "targetClass": "Game"},
    }
    await api.post("/schemas/Game", {"fields": fields}, master=True)
    for score in range(3):
        await api.post("/classes/Game", {"score": score})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(database_server, "gql_complexity", tmp_path_factory.mktemp("data"))
    async with serving(settings) as (_, client, address):
        api = Api(client)
        await _classes(api)
        yield Server(api, Gql(client), address)


def refused(response: httpx.Response, message: str) -> None:
    """Parse Server's answer: a 400 whose only error has Apollo's code for an error raised by a plugin."""
    assert response.status_code == 400, response.text
    assert response.json() == {"errors": [{"message": message, "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}


async def test_an_operation_past_the_graphql_depth_is_refused(server: Server) -> None:
    chain = "objectId"
    for _ in range(17):
        chain = "next { " + chain + " }"
    response = await server.gql.post("{ games { edges { node { " + chain + " } } } }")
    refused(response, "GraphQL query depth of 21 exceeds maximum allowed depth of 20")


async def test_fragments_count_where_they_are_spread_toward_the_depth(server: Server) -> None:
    fragment = "fragment Deep on Game { " + "next { " * 16 + "objectId" + " }" * 16 + " }"
    response = await server.gql.post(fragment + " { games { edges { node { next { ...Deep } } } } }")
    refused(response, "GraphQL query depth of 21 exceeds maximum allowed depth of 20")


async def test_an_operation_past_the_graphql_fields_is_refused(server: Server) -> None:
    def aliases(count: int) -> str:
        return "{ games { edges { node { " + " ".join(f"a{n}: score" for n in range(count)) + " } } } }"

    refused(await server.gql.post(aliases(198)), "Number of GraphQL fields (201) exceeds maximum allowed (200)")
    assert len((await server.gql.data(aliases(197)))["games"]["edges"]) == 3


async def test_a_thousand_aliased_counts_are_refused_before_the_database_counts_once(
    server: Server, database_server: str, tmp_path: Path
) -> None:
    with LOG.record() as commands:
        async with asyncio.timeout(DEADLINE):
            response = await server.gql.post(A_THOUSAND_COUNTS)
    # Parse stops counting fields once past the limit: 1,000 aliases and the counts below the first 100
    refused(response, "Number of GraphQL fields (1100) exceeds maximum allowed (200)")
    assert not commands, commands
    # Without a field limit, the cost refuses them
    settings = make_settings(database_server, "gql_no_fields", tmp_path, graphql_fields=-1)
    async with running(settings) as (_, client):
        await _classes(Api(client))
        with LOG.record() as commands:
            async with asyncio.timeout(DEADLINE):
                response = await Gql(client).post(A_THOUSAND_COUNTS)
    refused(response, "GraphQL query cost of 2000 exceeds maximum allowed cost of 1000")
    assert not commands, commands


async def test_a_connection_inside_a_connection_costs_per_row_and_the_master_key_is_exempt(server: Server) -> None:
    with LOG.record() as commands:
        refused(await server.gql.post(NESTED), "GraphQL query cost of 2001 exceeds maximum allowed cost of 1000")
    assert not commands, commands
    data = await server.gql.data(NESTED, master=True)
    assert [edge["node"]["teammates"]["count"] for edge in data["games"]["edges"]] == [0, 0, 0]
    assert await server.gql.data(NESTED.replace("1000", "400")) == data


async def test_only_the_operation_that_runs_is_measured(server: Server) -> None:
    document = "query Heavy " + NESTED + " query Light { games { count } }"
    assert await server.gql.data(document, operation_name="Light") == {"games": {"count": 3}}
    refused(
        await server.gql.post(document, operation_name="Heavy"),
        "GraphQL query cost of 2001 exceeds maximum allowed cost of 1000",
    )


@pytest.mark.parametrize(
    ("document", "cost"),
    [
        ("{ a: games { count } b: games { count } }", 4),
        ("{ games(first: 50) { edges { node { teammates(first: 10) { count edges { node { name } } } } } } }", 101),
        ("{ games(last: 5) { edges { node { teammates { edges { node { name } } } } } } }", 7),
        ("query($n: Int) { games(first: $n) { edges { node { teammates { count } } } } }", 201),
        ("fragment T on Game { teammates { count } } { games(first: 3) { edges { node { ...T } } } }", 7),
        ('{ games { pageInfo { hasNextPage } edges { node { player { name } } } } game(id: "x") { objectId } }', 3),
        (
            "mutation { a: createPlayer(input: {}) { player { id } } b: createPlayer(input: {}) { clientMutationId } }",
            2,
        ),
    ],
)
async def test_the_cost_counts_each_find_count_and_get_per_row_of_its_page(
    database_server: str, tmp_path: Path, document: str, cost: int
) -> None:
    settings = make_settings(database_server, "gql_cost", tmp_path, graphql_cost=1)
    async with running(settings) as (_, client):
        api = Api(client)
        await _classes(api)
        response = await Gql(client).post(document)
        refused(response, f"GraphQL query cost of {cost} exceeds maximum allowed cost of 1")
        assert (await api.get("/classes/Player")).json() == {"results": []}  # the mutation did not run


async def test_over_a_websocket_the_limits_answer_alike(server: Server) -> None:
    async with graphql_socket(server.address, user_init()) as socket:
        await socket.subscribe("1", NESTED)
        message = await socket.next()
        assert message == {
            "id": "1",
            "type": "error",
            "payload": [
                {
                    "message": "GraphQL query cost of 2001 exceeds maximum allowed cost of 1000",
                    "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                }
            ],
        }
        where: Any = "{score: {equalTo: 1}}"
        for _ in range(11):
            where = "{OR: [" + where + "]}"
        await socket.subscribe("2", "subscription { gameEvents(where: " + where + ") { event } }")
        message = await socket.next()
        assert message["type"] == "error" and message["payload"] == [
            {
                "message": "Query condition nesting depth exceeds maximum allowed depth of 10",
                "extensions": {"code": 102},
            }
        ]


async def test_the_playground_introspection_query_runs_where_introspection_is_open(
    database_server: str, tmp_path: Path
) -> None:
    from graphql import get_introspection_query

    # GraphiQL's query selects 220 fields, past the 200 of --graphql-fields: they read the schema, not the database.
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)
    settings = make_settings(database_server, "gql_open_introspection", tmp_path, graphql_public_introspection=True)
    async with running(settings) as (_, client):
        response = await Gql(client).post(query)
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()
    assert response.json()["data"]["__schema"]["queryType"]["name"] == "Query"
