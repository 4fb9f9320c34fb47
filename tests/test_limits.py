"""Request complexity: Parse's `requestComplexity` limits and the size of a list in a `where`, at their defaults,
refused with Parse's code and message through REST, GraphQL and LiveQuery alike, before the database sees a
command; the master key is exempt."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, running, serving
from tests.graphql.helpers import Gql
from tests.graphql.test_batching import LOG
from tests.realtime.clients import live_query

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIELDS = [f"n{index}" for index in range(101)]
DEPTH_ERROR = "Query condition nesting depth exceeds maximum allowed depth of 10"
DEADLINE = 20.0  # seconds: generous on a loaded machine; before the limits, the 100,000 values ran far longer


@dataclass
class Server:
    api: Api
    gql: Gql
    address: str
    ids: list[str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(database_server, "limits", tmp_path_factory.mktemp("data"), read_only_master_key="reader")
    async with serving(settings) as (_, client, address):
        api = Api(client)
        fields: dict[str, Any] = {name: {"type": "Number"} for name in FIELDS}
        fields["parent"] = {"type": "Pointer", "targetClass": "Thing"}
        assert (await api.post("/schemas/Thing", {"fields": fields}, master=True)).status_code == 200
        ids = []
        for index in range(5):
            created = await api.post("/classes/Thing", {"n0": index})
            ids.append(created.json()["objectId"])
        yield Server(api, Gql(client), address, ids)


def nested_or(levels: int) -> dict[str, Any]:
    where: dict[str, Any] = {"n0": 1}
    for _ in range(levels):
        where = {"$or": [where]}
    return where


def nested_or_graphql(levels: int) -> str:
    where = "{n0: {equalTo: 1}}"
    for _ in range(levels):
        where = "{OR: [" + where + "]}"
    return where


def nested_subquery(levels: int) -> dict[str, Any]:
    where: dict[str, Any] = {"n0": 1}
    for _ in range(levels):
        where = {"parent": {"$inQuery": {"className": "Thing", "where": where}}}
    return where


def refused(response: Any, message: str) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {"code": 102, "error": message}


def refused_graphql(error: dict[str, Any], message: str) -> None:
    assert error["message"] == message and error["extensions"] == {"code": 102}, error


# Query depth ------------------------------------------------------------------------------------------


async def test_or_nested_past_the_query_depth_is_refused_with_parses_message(server: Server) -> None:
    refused(await server.api.get("/classes/Thing", params={"where": nested_or(11)}), DEPTH_ERROR)
    # $or inside a field operator counts too, as Parse counts it
    below = {"n0": {"$in": [1]}, "$and": [nested_or(10)]}
    refused(await server.api.get("/classes/Thing", params={"where": below}), DEPTH_ERROR)
    assert (await server.api.get("/classes/Thing", params={"where": nested_or(10)})).status_code == 200


async def test_graphql_or_nested_past_the_query_depth_is_refused(server: Server) -> None:
    error = await server.gql.error("{ things(where: " + nested_or_graphql(11) + ") { count } }")
    refused_graphql(error, DEPTH_ERROR)
    assert await server.gql.data("{ things(where: " + nested_or_graphql(10) + ") { count } }") == {
        "things": {"count": 1}
    }


async def test_a_live_query_nested_past_the_query_depth_is_refused(server: Server) -> None:
    async with live_query(server.address) as client:
        answer = await client.subscribe(1, "Thing", nested_or(11))
        assert answer == {"op": "error", "error": DEPTH_ERROR, "code": 102, "reconnect": False, "requestId": 1}
        assert (await client.subscribe(2, "Thing", nested_or(10)))["op"] == "subscribed"


async def test_the_master_key_and_the_read_only_master_key_are_exempt(server: Server) -> None:
    where = {"where": nested_or(11)}
    refused(await server.api.get("/classes/Thing", params=where), DEPTH_ERROR)
    assert (await server.api.get("/classes/Thing", params=where, master=True)).status_code == 200
    reader = await server.api.client.get(
        "/parse/classes/Thing",
        params={"where": json.dumps(nested_or(11))},
        headers={**server.api.headers(), "X-Parse-Master-Key": "reader"},
    )
    assert reader.status_code == 200, reader.text
    document = "{ things(where: " + nested_or_graphql(11) + ") { count } }"
    assert await server.gql.data(document, master=True) == {"things": {"count": 1}}
    async with live_query(server.address, master=True) as client:
        assert (await client.subscribe(1, "Thing", nested_or(11)))["op"] == "subscribed"


# Sub-queries ----------------------------------------------------------------------------------------------


async def test_sub_queries_nested_past_the_subquery_depth_are_refused(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "subquery_depth", tmp_path, subquery_depth=2)
    async with running(settings) as (_, client):
        api, gql = Api(client), Gql(client)
        await api.post(
            "/schemas/Thing",
            {"fields": {"n0": {"type": "Number"}, "parent": {"type": "Pointer", "targetClass": "Thing"}}},
            master=True,
        )
        message = "Subquery nesting depth exceeds maximum allowed depth of 2"
        refused(await api.get("/classes/Thing", params={"where": nested_subquery(3)}), message)
        select = {"n0": {"$select": {"key": "n0", "query": {"className": "Thing", "where": nested_subquery(2)}}}}
        refused(await api.get("/classes/Thing", params={"where": select}), message)
        assert (await api.get("/classes/Thing", params={"where": nested_subquery(2)})).status_code == 200
        where = "{n0: {equalTo: 1}}"
        for _ in range(3):
            where = "{parent: {have: " + where + "}}"
        refused_graphql(await gql.error("{ things(where: " + where + ") { count } }"), message)
        assert (await api.get("/classes/Thing", params={"where": nested_subquery(3)}, master=True)).status_code == 200


async def test_a_sub_query_reads_more_than_a_page(database_server: str, tmp_path: Path) -> None:
    async with running(make_settings(database_server, "subquery_reads", tmp_path)) as (_, client):
        api = Api(client)
        await api.post("/schemas/Many", {"fields": {"n": {"type": "Number"}}}, master=True)
        for start in (0, 75):
            requests = [{"method": "POST", "path": "/parse/classes/Many", "body": {"n": start + n}} for n in range(75)]
            assert (await api.post("/batch", {"requests": requests})).status_code == 200
        select = {"objectId": {"$select": {"key": "objectId", "query": {"className": "Many", "where": {}}}}}
        found = await api.get("/classes/Many", params={"where": select, "count": 1, "limit": 0})
        assert found.json() == {"results": [], "count": 150}


async def test_a_sub_query_reads_at_most_the_subquery_limit_and_the_master_key_every_match(
    database_server: str, tmp_path: Path
) -> None:
    async with running(make_settings(database_server, "subquery_limit", tmp_path, subquery_limit=3)) as (_, client):
        api, gql = Api(client), Gql(client)
        await api.post("/schemas/Few", {"fields": {"n": {"type": "Number"}}}, master=True)
        for n in range(5):
            await api.post("/classes/Few", {"n": n})
        select = {"n": {"$select": {"key": "n", "query": {"className": "Few", "where": {}}}}}
        params = {"where": select, "count": 1, "limit": 0}
        assert (await api.get("/classes/Few", params=params)).json()["count"] == 3
        assert (await api.get("/classes/Few", params=params, master=True)).json()["count"] == 5
        document = '{ fews(where: {n: {inQueryKey: {key: "n", query: {className: "Few", where: {}}}}}) { count } }'
        assert await gql.data(document) == {"fews": {"count": 3}}
        assert await gql.data(document, master=True) == {"fews": {"count": 5}}


# Includes -----------------------------------------------------------------------------------------------


async def test_includes_past_the_include_depth_or_count_are_refused(server: Server) -> None:
    deep = ".".join(["parent"] * 11)
    refused(
        await server.api.get("/classes/Thing", params={"include": deep}),
        "Include depth of 11 exceeds maximum allowed depth of 10",
    )
    refused(
        await server.api.get(f"/classes/Thing/{server.ids[0]}", params={"include": deep}),
        "Include depth of 11 exceeds maximum allowed depth of 10",
    )
    # `parent.n0` includes parent and parent.n0: 99 such paths are 100 includes, one more is past the limit
    many = ",".join(f"parent.n{index}" for index in range(99))
    assert (await server.api.get("/classes/Thing", params={"include": many})).status_code == 200
    refused(
        await server.api.get("/classes/Thing", params={"include": many + ",parent.n99"}),
        "Number of include fields (101) exceeds maximum allowed (100)",
    )
    # a dotted key includes the pointers on its way, as Parse reads `keys`
    refused(
        await server.api.get("/classes/Thing", params={"keys": deep + ".n0"}),
        "Include depth of 11 exceeds maximum allowed depth of 10",
    )
    assert (await server.api.get("/classes/Thing", params={"include": deep}, master=True)).status_code == 200


async def test_graphql_selections_past_the_include_depth_or_count_are_refused(server: Server) -> None:
    deep = "objectId"
    for _ in range(11):
        deep = "parent { " + deep + " }"
    error = await server.gql.error("{ things { edges { node { " + deep + " } } } }")
    refused_graphql(error, "Include depth of 12 exceeds maximum allowed depth of 10")
    many = "parent { " + " ".join(FIELDS) + " }"
    error = await server.gql.error("{ things { edges { node { " + many + " } } } }")
    refused_graphql(error, "Number of include fields (102) exceeds maximum allowed (100)")


# Lists --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("operator", ["$in", "$nin", "$all", "$containedBy"])
async def test_a_list_past_the_query_list_size_is_refused(server: Server, operator: str) -> None:
    field = "n0" if operator in ("$in", "$nin") else "tags"
    too_long = {field: {operator: list(range(1001))}}
    refused(
        await server.api.get("/classes/Thing", params={"where": too_long}),
        f"Number of values in {operator} ({1001}) exceeds maximum allowed (1000)",
    )
    within = {field: {operator: list(range(1000))}}
    assert (await server.api.get("/classes/Thing", params={"where": within})).status_code == 200


async def test_or_branches_past_the_query_list_size_are_refused(server: Server) -> None:
    where = {"$or": [{"n0": n} for n in range(1001)]}
    refused(
        await server.api.post("/classes/Thing", {"_method": "GET", "where": where}),
        "Number of branches in $or (1001) exceeds maximum allowed (1000)",
    )


@pytest.mark.parametrize(("graphql", "parse"), [("in", "$in"), ("notIn", "$nin")])
async def test_a_graphql_list_past_the_query_list_size_is_refused(server: Server, graphql: str, parse: str) -> None:
    document = "query($values: [Float]) { things(where: {n0: {" + graphql + ": $values}}) { count } }"
    error = await server.gql.error(document, {"values": list(range(1001))})
    refused_graphql(error, f"Number of values in {parse} (1001) exceeds maximum allowed (1000)")


async def test_a_live_query_with_a_list_past_the_query_list_size_is_refused(server: Server) -> None:
    async with live_query(server.address) as client:
        answer = await client.subscribe(1, "Thing", {"n0": {"$in": list(range(1001))}})
        assert answer["op"] == "error" and answer["code"] == 102
        assert answer["error"] == "Number of values in $in (1001) exceeds maximum allowed (1000)"


async def test_a_hundred_thousand_values_are_refused_quickly_and_the_database_is_not_asked(server: Server) -> None:
    values = list(range(100_000))
    with LOG.record() as commands:
        async with asyncio.timeout(DEADLINE):
            rest = await server.api.post("/classes/Thing", {"_method": "GET", "where": {"n0": {"$in": values}}})
            document = "query($values: [Float]) { things(where: {n0: {in: $values}}) { count } }"
            graphql = await server.gql.error(document, {"values": values})
            literal = await server.gql.post("{ things(where: {n0: {in: " + json.dumps(values) + "}}) { count } }")
    refused(rest, "Number of values in $in (100000) exceeds maximum allowed (1000)")
    refused_graphql(graphql, "Number of values in $in (100000) exceeds maximum allowed (1000)")
    # Written into the document, the values stop the parser before they are read
    assert literal.status_code == 400
    assert literal.json()["errors"][0]["message"] == (
        "Syntax Error: Document contains more than 20000 tokens. Parsing aborted."
    )
    assert not commands, commands


# Batches, regular expressions, settings --------------------------------------------------------------------


async def test_a_batch_past_the_batch_request_limit_is_refused_and_writes_nothing(server: Server) -> None:
    requests = [{"method": "POST", "path": "/parse/classes/Thing", "body": {"n1": n}} for n in range(101)]
    batched = {"where": {"n1": {"$exists": True}}, "count": 1, "limit": 0}
    response = await server.api.post("/batch", {"requests": requests})
    assert response.status_code == 400
    assert response.json() == {
        "code": 107,
        "error": "Batch request contains 101 sub-requests, which exceeds the limit of 100.",
    }
    assert (await server.api.get("/classes/Thing", params=batched)).json()["count"] == 0
    assert (await server.api.post("/batch", {"requests": requests[:100]})).status_code == 200
    assert (await server.api.post("/batch", {"requests": requests}, master=True)).status_code == 200
    assert (await server.api.get("/classes/Thing", params=batched)).json()["count"] == 201


async def test_without_allow_regex_a_regex_is_refused_except_to_the_master_key(
    database_server: str, tmp_path: Path
) -> None:
    settings = make_settings(database_server, "no_regex", tmp_path, allow_regex=False)
    async with serving(settings) as (_, client, address):
        api, gql = Api(client), Gql(client)
        await api.post("/schemas/Text", {"fields": {"title": {"type": "String"}}}, master=True)
        where = {"$or": [{"title": {"$regex": "^a"}}]}
        refused(await api.get("/classes/Text", params={"where": where}), "$regex operator is not allowed")
        error = await gql.error('{ texts(where: {title: {matchesRegex: "^a"}}) { count } }')
        refused_graphql(error, "$regex operator is not allowed")
        async with live_query(address) as live:
            answer = await live.subscribe(1, "Text", {"title": {"$regex": "^a"}})
            assert answer["code"] == 102 and answer["error"] == "$regex operator is not allowed"
        assert (await api.get("/classes/Text", params={"where": where}, master=True)).status_code == 200


async def test_minus_one_turns_a_limit_off(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "no_limits", tmp_path, query_depth=-1, query_list_size=-1)
    async with running(settings) as (_, client):
        api = Api(client)
        await api.post("/schemas/Free", {"fields": {"n": {"type": "Number"}}}, master=True)
        assert (await api.get("/classes/Free", params={"where": nested_or(12)})).status_code == 200
        where = {"n": {"$in": list(range(2000))}}
        assert (await api.post("/classes/Free", {"_method": "GET", "where": where})).status_code == 200
