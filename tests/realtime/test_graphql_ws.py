"""GraphQL subscriptions over a real websocket at /graphql: graphql-transport-ws and the legacy graphql-ws."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, serving
from tests.realtime.clients import graphql_socket, master_init, open_socket, user_init

pytestmark = pytest.mark.asyncio(loop_scope="session")

EVENTS = """
subscription Events($where: TaskWhereInput, $on: [LiveEvent!], $watch: [String!]) {
  taskEvents(where: $where, on: $on, watch: $watch) {
    event node { objectId title done owner { name } } previous { done }
  }
}
"""
PAGE = """
subscription Page {
  tasks(where: {done: {equalTo: false}}, order: [rank_ASC], first: 2) { count edges { node { title } } }
}
"""


@dataclass
class Server:
    api: Api
    address: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(
        database_server, "graphql_ws", tmp_path_factory.mktemp("data"), live_query_max_subscriptions=3
    )
    async with serving(settings) as (_, client, address):
        api = Api(client)
        for name, fields in {
            "Person": {"name": {"type": "String"}},
            "Task": {
                "title": {"type": "String"},
                "done": {"type": "Boolean"},
                "rank": {"type": "Number"},
                "owner": {"type": "Pointer", "targetClass": "Person"},
            },
        }.items():
            assert (await api.post(f"/schemas/{name}", {"fields": fields}, master=True)).status_code == 200
        yield Server(api, address)


async def _task(server: Server, **fields: object) -> str:
    answer = await server.api.post("/classes/Task", fields, master=True)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["objectId"])


@pytest.mark.parametrize("legacy", [False, True], ids=["graphql-transport-ws", "graphql-ws"])
async def test_events_arrive_with_the_selection_and_the_previous_version(server: Server, legacy: bool) -> None:
    person = (await server.api.post("/classes/Person", {"name": "Ann"}, master=True)).json()["objectId"]
    async with graphql_socket(server.address, legacy=legacy) as socket:
        await socket.subscribe("s1", EVENTS, {"where": {"done": {"equalTo": False}}})
        await socket.drain()  # a legacy ka, nothing else
        owner = {"__type": "Pointer", "className": "Person", "objectId": person}
        task = await _task(server, title="write", done=False, owner=owner)
        op_id, data = await socket.data()
        assert op_id == "s1"
        assert data == {
            "taskEvents": {
                "event": "CREATE",
                "node": {"objectId": task, "title": "write", "done": False, "owner": {"name": "Ann"}},
                "previous": None,
            }
        }
        await server.api.put(f"/classes/Task/{task}", {"title": "rewrite"}, master=True)
        _, data = await socket.data()
        assert data["taskEvents"]["event"] == "UPDATE" and data["taskEvents"]["node"]["title"] == "rewrite"
        assert data["taskEvents"]["previous"] == {"done": False}
        await server.api.put(f"/classes/Task/{task}", {"done": True}, master=True)
        _, data = await socket.data()
        assert data["taskEvents"]["event"] == "LEAVE" and data["taskEvents"]["node"]["done"] is True
        await server.api.delete(f"/classes/Task/{task}", master=True)  # outside the where: nothing
        await socket.complete("s1")
        await _task(server, title="after", done=False)
        assert await socket.results() == []


async def test_on_and_watch_narrow_what_is_sent(server: Server) -> None:
    async with graphql_socket(server.address) as socket:
        await socket.subscribe("deletes", EVENTS, {"on": ["DELETE"]})
        await socket.subscribe("titles", EVENTS, {"watch": ["title"], "on": ["UPDATE"]})
        task = await _task(server, title="a", done=False, rank=1)
        await server.api.put(f"/classes/Task/{task}", {"rank": 2}, master=True)
        assert await socket.results() == []
        await server.api.put(f"/classes/Task/{task}", {"title": "b"}, master=True)
        ((op_id, data),) = await socket.results()
        assert op_id == "titles" and data["taskEvents"]["node"]["title"] == "b"
        await server.api.delete(f"/classes/Task/{task}", master=True)
        ((op_id, data),) = await socket.results()
        assert op_id == "deletes" and data["taskEvents"]["event"] == "DELETE"


async def test_a_live_page_is_sent_whole_then_again_only_when_it_changes(server: Server) -> None:
    for task in (await server.api.get("/classes/Task", master=True)).json()["results"]:
        await server.api.delete(f"/classes/Task/{task['objectId']}", master=True)
    first = await _task(server, title="first", done=False, rank=1)
    async with graphql_socket(server.address) as socket:
        await socket.subscribe("page", PAGE)
        _, data = await socket.data()
        assert data == {"tasks": {"count": 1, "edges": [{"node": {"title": "first"}}]}}

        second = await _task(server, title="second", done=False, rank=2)
        _, data = await socket.data()
        assert [edge["node"]["title"] for edge in data["tasks"]["edges"]] == ["first", "second"]

        await _task(server, title="third", done=False, rank=3)  # beyond `first: 2`: only the count changes
        _, data = await socket.data()
        assert data["tasks"]["count"] == 3 and len(data["tasks"]["edges"]) == 2

        await _task(server, title="finished", done=True, rank=0)  # outside the where: nothing is sent
        await server.api.put(f"/classes/Task/{first}", {"rank": 1}, master=True)  # no visible change
        assert await socket.results() == []

        await server.api.put(f"/classes/Task/{second}", {"rank": 0}, master=True)  # reorders the page
        _, data = await socket.data()
        assert [edge["node"]["title"] for edge in data["tasks"]["edges"]] == ["second", "first"]


async def test_queries_and_mutations_answer_once_and_complete(server: Server) -> None:
    async with graphql_socket(server.address) as socket:
        await socket.subscribe("q", "{ health }")
        assert await socket.drain() == [
            {"id": "q", "type": "next", "payload": {"data": {"health": True}}},
            {"id": "q", "type": "complete"},
        ]


async def test_errors_of_an_operation_are_error_messages(server: Server) -> None:
    async with graphql_socket(server.address, user_init()) as socket:
        await socket.subscribe("bad", "subscription { taskEvents(where: {nope: {equalTo: 1}}) { event } }")
        (answer,) = await socket.drain()
        assert answer["type"] == "error" and answer["id"] == "bad"
        assert answer["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "Did you mean" not in answer["payload"][0]["message"]  # no suggestions without the master key

        await socket.subscribe("schema", "{ __schema { types { name } } }")
        (answer,) = await socket.drain()
        assert answer["type"] == "error" and answer["payload"][0]["message"] == "Introspection is not allowed"

        await socket.subscribe("vars", EVENTS, {"on": ["SOMETIMES"]})
        (answer,) = await socket.drain()
        assert answer["type"] == "error" and answer["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"

        await socket.subscribe("http", 'subscription { taskEvents(where: {title: {matchesRegex: "("}}) { event } }')
        (answer,) = await socket.drain()
        assert answer["type"] == "error" and answer["payload"][0]["extensions"]["code"] == 102
        # After errors the ids are free again, and the socket still works.
        await socket.subscribe("bad", "{ health }")
        assert (await socket.data())[1] == {"health": True}


async def test_graphql_over_http_refuses_a_subscription(server: Server) -> None:
    answer = await server.api.client.post(
        "/graphql", json={"query": PAGE}, headers={"X-Parse-Application-Id": "app", "X-Parse-Master-Key": "master"}
    )
    assert answer.status_code == 400
    assert "websocket" in answer.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    ("steps", "code", "reason"),
    [
        ([{"type": "subscribe", "id": "1", "payload": {"query": "{ health }"}}], 4401, "Unauthorized"),
        (
            [{"type": "connection_init", "payload": master_init()}, {"type": "connection_init"}],
            4429,
            "Too many initialisation requests",
        ),
        (["{not json"], 4400, "Invalid message received"),
        (
            [{"type": "connection_init", "payload": master_init()}, {"type": "whatever"}],
            4400,
            "Unexpected message type whatever",
        ),
        ([{"type": "connection_init", "payload": {"X-Parse-Application-Id": "other"}}], 4403, "Forbidden"),
        (
            [
                {"type": "connection_init", "payload": {"X-Parse-Application-Id": "app", "sessionToken": "r:nope"}},
            ],
            4403,
            "Invalid session token",
        ),
        (
            [
                {"type": "connection_init", "payload": master_init()},
                {"type": "subscribe", "id": "x", "payload": {"query": PAGE}},
                {"type": "subscribe", "id": "x", "payload": {"query": PAGE}},
            ],
            4409,
            "Subscriber for x already exists",
        ),
    ],
)
async def test_protocol_violations_close_with_graphql_ws_codes(
    server: Server, steps: list[object], code: int, reason: str
) -> None:
    async with open_socket(f"ws://{server.address}/graphql", ["graphql-transport-ws"]) as socket:
        for step in steps:
            await socket.send(step if isinstance(step, str) else json.dumps(step))
        assert await socket.closed_with() == (code, reason)


async def test_an_unknown_subprotocol_is_refused_and_a_silent_client_times_out(server: Server) -> None:
    async with open_socket(f"ws://{server.address}/graphql", ["something-else"]) as socket:
        assert await socket.closed_with() == (4406, "Subprotocol not acceptable")
    async with open_socket(f"ws://{server.address}/graphql", ["graphql-transport-ws"]) as socket:
        assert await socket.closed_with() == (4408, "Connection initialisation timeout")


async def test_ping_is_answered_with_pong(server: Server) -> None:
    async with graphql_socket(server.address) as socket:
        await socket.send({"type": "ping", "payload": {"n": 1}})
        assert await socket.next() == {"type": "pong", "payload": {"n": 1}}


async def test_the_legacy_protocol_refuses_bad_keys_with_connection_error(server: Server) -> None:
    async with open_socket(f"ws://{server.address}/graphql", ["graphql-ws"]) as socket:
        await socket.send({"type": "connection_init", "payload": {"applicationId": "other"}})
        assert await socket.next() == {"type": "connection_error", "payload": {"message": "Forbidden"}}


async def test_a_connection_holds_a_limited_number_of_subscriptions(server: Server) -> None:
    async with graphql_socket(server.address) as socket:
        for op_id in ("1", "2", "3"):
            await socket.subscribe(op_id, PAGE)
        assert [op_id for op_id, _ in await socket.results()] == ["1", "2", "3"]
        await socket.subscribe("4", PAGE)
        (refused,) = await socket.drain()
        assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == 155
        await socket.complete("1")
        await socket.subscribe("4", PAGE)
        assert [op_id for op_id, _ in await socket.results()] == ["4"]


async def test_events_still_load_their_pointers_when_a_transaction_first_woke_the_hub(
    database_server: str, tmp_path: Path
) -> None:
    """The hub's task outlives the write that starts it: it must not keep that request's transaction."""
    settings = make_settings(database_server, "graphql_ws_transaction", tmp_path)
    async with serving(settings) as (_, client, address):
        api = Api(client)
        fields = {"title": {"type": "String"}, "owner": {"type": "Pointer", "targetClass": "Person"}}
        await api.post("/schemas/Person", {"fields": {"name": {"type": "String"}}}, master=True)
        await api.post("/schemas/Task", {"fields": fields}, master=True)
        person = (await api.post("/classes/Person", {"name": "Bo"}, master=True)).json()["objectId"]
        owner = {"__type": "Pointer", "className": "Person", "objectId": person}
        query = "subscription { taskEvents { event node { title owner { name } } } }"
        async with graphql_socket(address) as socket:
            await socket.subscribe("s", query)
            await socket.drain()
            create = {"method": "POST", "path": "/parse/classes/Task", "body": {"title": "in a batch", "owner": owner}}
            batch = await api.post("/batch", {"transaction": True, "requests": [create]}, master=True)
            assert "success" in batch.json()[0], batch.text
            assert await socket.data() == (
                "s",
                {"taskEvents": {"event": "CREATE", "node": {"title": "in a batch", "owner": {"name": "Bo"}}}},
            )
            await api.post("/classes/Task", {"title": "later", "owner": owner}, master=True)
            assert await socket.data() == (
                "s",
                {"taskEvents": {"event": "CREATE", "node": {"title": "later", "owner": {"name": "Bo"}}}},
            )
