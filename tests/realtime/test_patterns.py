"""A live query's `$regex` never stalls the server: every write is matched in time linear in the text, over
Parse LiveQuery and GraphQL subscriptions alike, and what cannot be matched so is refused when subscribing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, serving
from tests.realtime.clients import graphql_socket, live_query, user_init

pytestmark = pytest.mark.asyncio(loop_scope="session")

CATASTROPHIC = "^(a+)+$"
EVENTS = (
    "subscription Watch($pattern: String!) "
    "{ noteEvents(where: {title: {matchesRegex: $pattern}}) { event node { title } } }"
)


@dataclass
class Server:
    api: Api
    address: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(database_server, "live_patterns", tmp_path_factory.mktemp("data"))
    async with serving(settings) as (_, client, address):
        api = Api(client)
        created = await api.post("/schemas/Note", {"fields": {"title": {"type": "String"}}}, master=True)
        assert created.status_code == 200, created.text
        yield Server(api, address)


async def test_a_catastrophic_pattern_over_both_protocols_leaves_the_server_answering(server: Server) -> None:
    async with live_query(server.address) as parse_client, graphql_socket(server.address, user_init()) as graphql:
        subscribed = await parse_client.subscribe(1, "Note", {"title": {"$regex": CATASTROPHIC}})
        assert subscribed["op"] == "subscribed", subscribed
        await graphql.subscribe("s1", EVENTS, {"pattern": CATASTROPHIC})
        # 40 `a`s and a `!`: about 2^40 steps for a backtracking engine, a few hundred for RE2.
        refused = await server.api.post("/classes/Note", {"title": "a" * 40 + "!"}, master=True)
        assert refused.status_code == 201
        started = time.monotonic()
        async with asyncio.timeout(10):
            health = await server.api.client.get("/parse/health")
        assert health.json() == {"status": "ok"}
        assert time.monotonic() - started < 5  # generous: the point is seconds against hours
        matching = await server.api.post("/classes/Note", {"title": "a" * 40}, master=True)
        assert matching.status_code == 201
        event = await parse_client.next()
        assert event["op"] == "create" and event["object"]["title"] == "a" * 40
        assert await graphql.data() == ("s1", {"noteEvents": {"event": "CREATE", "node": {"title": "a" * 40}}})
        assert await parse_client.drain() == [] and await graphql.results() == []


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(a)\\1", "backreference"),
        ("a(?=b)", "lookahead"),
        ("\\bword", "word boundaries"),
        ("a++", "possessive"),
    ],
)
async def test_a_pattern_only_a_backtracking_engine_runs_is_refused_when_subscribing(
    server: Server, pattern: str, reason: str
) -> None:
    async with live_query(server.address) as parse_client, graphql_socket(server.address, user_init()) as graphql:
        refused = await parse_client.subscribe(1, "Note", {"title": {"$regex": pattern}})
        assert refused["op"] == "error" and refused["code"] == 102, refused
        assert "cannot be matched in live queries" in refused["error"] and reason in refused["error"]
        await graphql.subscribe("s1", EVENTS, {"pattern": pattern})
        (answer,) = await graphql.drain()
        assert answer["type"] == "error" and answer["payload"][0]["extensions"]["code"] == 102
        assert reason in answer["payload"][0]["message"]
