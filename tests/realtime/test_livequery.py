"""Parse's LiveQuery protocol at ws://…/parse, through a real websocket, as the Parse SDKs speak it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, serving
from tests.realtime.clients import live_query, open_socket

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Server:
    api: Api
    address: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(
        database_server,
        "livequery",
        tmp_path_factory.mktemp("data"),
        allow_client_class_creation=True,
        live_query_max_subscriptions=3,
    )
    async with serving(settings) as (_, client, address):
        yield Server(Api(client), address)


def pointer(class_name: str, object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


async def test_an_object_entering_changing_leaving_and_deleted_is_told_in_parse_messages(server: Server) -> None:
    async with live_query(server.address, installationId="inst-1") as client:
        subscribed = await client.subscribe(1, "Score", {"points": {"$gt": 10}})
        client_id = subscribed["clientId"]
        assert subscribed == {"op": "subscribed", "clientId": client_id, "installationId": "inst-1", "requestId": 1}

        created = (await server.api.post("/classes/Score", {"points": 20, "player": "ann"}, master=True)).json()
        object_id = created["objectId"]
        event = await client.next()
        assert list(event) == ["op", "clientId", "installationId", "requestId", "object"]
        assert event["op"] == "create" and event["requestId"] == 1 and event["clientId"] == client_id
        assert event["object"] == {
            "points": 20,
            "player": "ann",
            "createdAt": created["createdAt"],
            "updatedAt": created["createdAt"],
            "className": "Score",
            "objectId": object_id,
        }

        await server.api.put(f"/classes/Score/{object_id}", {"points": 30}, master=True)
        update = await client.next()
        assert update["op"] == "update"
        assert (update["object"]["points"], update["original"]["points"]) == (30, 20)

        await server.api.put(f"/classes/Score/{object_id}", {"points": 5}, master=True)
        leave = await client.next()
        assert leave["op"] == "leave" and leave["object"]["points"] == 5 and leave["original"]["points"] == 30

        await server.api.put(f"/classes/Score/{object_id}", {"points": 6}, master=True)  # outside, stays outside
        await server.api.put(f"/classes/Score/{object_id}", {"points": 11}, master=True)
        enter = await client.next()
        assert enter["op"] == "enter" and enter["object"]["points"] == 11 and enter["original"]["points"] == 6

        await server.api.delete(f"/classes/Score/{object_id}", master=True)
        deleted = await client.next()
        assert deleted["op"] == "delete" and deleted["object"]["objectId"] == object_id
        assert "original" not in deleted
        assert await client.drain() == []


async def test_keys_limit_the_fields_and_watch_limits_the_updates(server: Server) -> None:
    async with live_query(server.address) as client:
        await client.subscribe(1, "Watched", {}, keys=["title"], watch=["title"])
        created = (await server.api.post("/classes/Watched", {"title": "a", "body": "x"}, master=True)).json()
        event = await client.next()
        assert event["op"] == "create"
        assert event["object"] == {
            "className": "Watched",
            "objectId": created["objectId"],
            "updatedAt": created["createdAt"],
            "createdAt": created["createdAt"],
            "title": "a",
        }
        await server.api.put(f"/classes/Watched/{created['objectId']}", {"body": "y"}, master=True)
        assert await client.drain() == []  # `body` is not watched
        await server.api.put(f"/classes/Watched/{created['objectId']}", {"title": "b"}, master=True)
        update = await client.next()
        assert update["op"] == "update" and update["object"]["title"] == "b" and "body" not in update["object"]


async def test_update_replaces_a_query_and_unsubscribe_stops_it(server: Server) -> None:
    async with live_query(server.address) as client:
        await client.subscribe(7, "Swap", {"kind": "a"})
        await client.send({"op": "update", "requestId": 7, "query": {"className": "Swap", "where": {"kind": "b"}}})
        assert (await client.next())["op"] == "subscribed"
        await server.api.post("/classes/Swap", {"kind": "a"}, master=True)
        await server.api.post("/classes/Swap", {"kind": "b"}, master=True)
        (event,) = await client.drain()
        assert event["op"] == "create" and event["object"]["kind"] == "b"

        await client.send({"op": "unsubscribe", "requestId": 7})
        assert (await client.next())["op"] == "unsubscribed"
        await server.api.post("/classes/Swap", {"kind": "b"}, master=True)
        assert await client.drain() == []


async def test_many_subscribers_of_one_query_each_get_each_event_once(server: Server) -> None:
    async with live_query(server.address) as first, live_query(server.address) as second:
        for client in (first, second):
            await client.subscribe(1, "Crowd", {"room": "r1"})
            await client.subscribe(2, "Crowd", {"room": "r1"})  # the same query twice on one socket
            await client.subscribe(3, "Crowd", {"room": "r2"})
        await server.api.post("/classes/Crowd", {"room": "r1"}, master=True)
        for client in (first, second):
            events = await client.drain()
            assert sorted(event["requestId"] for event in events) == [1, 2]


@pytest.mark.parametrize(
    ("message", "code", "error"),
    [
        ("not json", 1, "Invalid JSON: the message must be a JSON object"),
        ({"nothing": 1}, 1, "Missing required property: op"),
        ({"op": "bogus"}, 1, 'No enum match for: "bogus"'),
        ({"op": "connect"}, 1, "Missing required property: applicationId"),
        ({"op": "connect", "applicationId": "app", "extra": 1}, 1, "Additional properties not allowed"),
        ({"op": "connect", "applicationId": "another app"}, 4, "Key in request is not valid"),
        (
            {"op": "subscribe", "requestId": 1, "query": {"className": "X", "where": {}}},
            2,
            "Can not find this client, make sure you connect to server before subscribing",
        ),
    ],
)
async def test_bad_messages_get_parse_protocol_errors_and_the_socket_stays_open(
    server: Server, message: object, code: int, error: str
) -> None:
    async with open_socket(f"ws://{server.address}/parse") as client:
        await client.send(message if isinstance(message, str) else json.dumps(message))
        answer = await client.next()
        assert answer == {"op": "error", "error": error, "code": code, "reconnect": True, "requestId": None}
        await client.send({"op": "connect", "applicationId": "app"})
        assert (await client.next())["op"] == "connected"


@pytest.mark.parametrize(
    ("where", "code", "error"),
    [
        ({"a": {"$inQuery": {"className": "B", "where": {}}}}, 102, "$inQuery is not supported in live queries"),
        ({"$relatedTo": {"object": pointer("B", "x"), "key": "r"}}, 102, "$relatedTo is not supported"),
        ({"a": {"$regex": "("}}, 102, "cannot be matched in live queries"),
        ({"ACL": {"$exists": True}}, 102, "Cannot query on ACL."),
        ({"bad key": 1}, 105, "Invalid key name: bad key"),
    ],
)
async def test_a_query_that_cannot_be_matched_in_memory_is_refused_not_ignored(
    server: Server, where: dict[str, object], code: int, error: str
) -> None:
    async with live_query(server.address) as client:
        answer = await client.subscribe(5, "Refused", where)
        assert answer["op"] == "error" and answer["code"] == code and answer["requestId"] == 5
        assert error in answer["error"] and answer["reconnect"] is False
        await client.send({"op": "unsubscribe", "requestId": 5})  # nothing was registered
        assert (await client.next())["code"] == 2


async def test_a_connection_holds_a_limited_number_of_subscriptions(server: Server) -> None:
    async with live_query(server.address) as client:
        for request_id in (1, 2, 3):
            assert (await client.subscribe(request_id, "Limited"))["op"] == "subscribed"
        refused = await client.subscribe(4, "Limited")
        assert refused["op"] == "error" and refused["code"] == 155 and refused["requestId"] == 4
        assert (await client.subscribe(3, "Limited", {"n": 1}))["op"] == "subscribed"  # replacing is fine


async def test_unsubscribing_what_was_never_subscribed_is_error_2(server: Server) -> None:
    async with live_query(server.address) as client:
        await client.send({"op": "unsubscribe", "requestId": 9})
        answer = await client.next()
        assert answer["code"] == 2 and "subscriptionId 9" in answer["error"]


async def test_a_client_that_reconnects_and_resubscribes_gets_each_event_once(server: Server) -> None:
    async with live_query(server.address, installationId="phone") as first:
        await first.subscribe(1, "Again", {"n": {"$gte": 0}})
    # The first socket is gone (as when a phone loses its network); the SDK reconnects and subscribes again.
    async with live_query(server.address, installationId="phone") as second:
        await second.subscribe(1, "Again", {"n": {"$gte": 0}})
        await server.api.post("/classes/Again", {"n": 1}, master=True)
        events = await second.drain()
        assert [(event["op"], event["requestId"], event["installationId"]) for event in events] == [
            ("create", 1, "phone")
        ]


@pytest.mark.parametrize("path", ["", "/", "/parse/", "/live/anywhere"])
async def test_live_query_answers_on_any_path_of_the_port_as_parse_server_does(server: Server, path: str) -> None:
    # Several clients connect to ws://host:port with no path; Parse Server 9.10 answers LiveQuery on every path.
    async with live_query(server.address, path=path) as client:
        assert (await client.subscribe(1, "Anywhere"))["op"] == "subscribed"
        await server.api.post("/classes/Anywhere", {"path": path}, master=True)
        event = await client.next()
        assert (event["op"], event["object"]["path"]) == ("create", path)


async def test_the_graphql_websocket_keeps_its_own_path(server: Server) -> None:
    async with open_socket(f"ws://{server.address}/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        await socket.send({"type": "connection_init", "payload": {"X-Parse-Application-Id": "app"}})
        assert (await socket.next())["type"] == "connection_ack"
