"""The end of a session reaches every open socket that was opened with it: GraphQL websockets (both protocols)
close with 4403 and run nothing more, Parse LiveQuery sockets see what the public sees; on one instance or two."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import websockets

from tests.conftest import Api, make_settings, serving
from tests.graphql.helpers import Gql
from tests.realtime.clients import WAIT, GraphQLSocket, graphql_socket, live_query, user_init
from tests.realtime.test_instances import redis_url  # noqa: F401  (the fixture: a real redis-server)

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROTOCOLS = pytest.mark.parametrize("legacy", [False, True], ids=["graphql-transport-ws", "graphql-ws"])
READ = "query Read($id: ID!) { diary(id: $id) { n } }"
WRITE = "mutation Write($id: ID!) { updateDiary(input: {id: $id, fields: {n: 99}}) { diary { n } } }"
EVENTS = "subscription { diaryEvents { event node { n } } }"


@dataclass
class Server:
    api: Api
    gql: Gql
    address: str


@dataclass
class Diary:
    token: str
    user_id: str
    object_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(database_server, "session_end", tmp_path_factory.mktemp("data"))
    async with serving(settings) as (_, client, address):
        api = Api(client)
        assert (await api.post("/schemas/Diary", {"fields": {"n": {"type": "Number"}}}, master=True)).is_success
        yield Server(api, Gql(client), address)


async def _diary(api: Api, username: str) -> Diary:
    """A user, logged in, with a diary only they may read and write."""
    user = (await api.post("/users", {"username": username, "password": "pw"})).json()
    acl = {user["objectId"]: {"read": True, "write": True}}
    created = (await api.post("/classes/Diary", {"n": 0, "ACL": acl}, master=True)).json()
    return Diary(user["sessionToken"], user["objectId"], created["objectId"])


async def _stored_n(api: Api, diary: Diary) -> int:
    return int((await api.get(f"/classes/Diary/{diary.object_id}", master=True)).json()["n"])


async def _working(socket: GraphQLSocket, diary: Diary) -> None:
    """The socket reads the private diary and follows its events: the session is alive."""
    await socket.subscribe("read", READ, {"id": diary.object_id})
    assert await socket.data() == ("read", {"diary": {"n": 0}})
    await socket.next()  # its `complete`
    await socket.subscribe("events", EVENTS)
    await socket.drain()


async def _log_out(server: Server, how: str, token: str) -> None:
    if how == "rest":
        assert (await server.api.post("/logout", {}, token=token)).json() == {}
    else:
        assert await server.gql.data("mutation { logOut(input: {}) { ok } }", token=token) == {"logOut": {"ok": True}}


async def _after_the_end(socket: GraphQLSocket, diary: Diary) -> tuple[list[dict[str, Any]], int | None]:
    """Ask the socket to read, write and subscribe again; what it answered before closing, and its close code."""
    with contextlib.suppress(websockets.ConnectionClosed):
        await socket.subscribe("again", READ, {"id": diary.object_id})
        await socket.subscribe("write", WRITE, {"id": diary.object_id})
        await socket.subscribe("more", EVENTS)
    answered = []
    try:
        while True:
            message = await asyncio.wait_for(socket.connection.recv(), WAIT)
            answered.append(json.loads(message))
    except websockets.ConnectionClosed as closed:
        return [m for m in answered if m["type"] != "ka"], closed.rcvd.code if closed.rcvd else None


@PROTOCOLS
@pytest.mark.parametrize("how", ["rest", "graphql"], ids=["REST logout", "GraphQL logOut"])
async def test_a_graphql_socket_whose_session_is_logged_out_closes_and_runs_nothing_more(
    server: Server, legacy: bool, how: str
) -> None:
    diary = await _diary(server.api, f"writer-{how}-{legacy}")
    async with graphql_socket(server.address, user_init(diary.token), legacy=legacy) as socket:
        await _working(socket, diary)
        await _log_out(server, how, diary.token)
        await server.api.put(f"/classes/Diary/{diary.object_id}", {"n": 1}, master=True)
        answered, code = await _after_the_end(socket, diary)
    assert code == 4403
    ended = {"message": "Invalid session token", "extensions": {"code": 209}}
    if legacy:
        # The legacy protocol has no close code for it: each operation hears the end as an error first.
        assert all(m["type"] == "error" and m["payload"] == ended for m in answered), answered
        assert "events" in [m["id"] for m in answered]
    else:
        assert answered == []
    assert await _stored_n(server.api, diary) == 1  # the socket's mutation wrote nothing


@PROTOCOLS
async def test_a_socket_that_logs_itself_out_gets_its_answer_then_closes(server: Server, legacy: bool) -> None:
    diary = await _diary(server.api, f"leaver-{legacy}")
    async with graphql_socket(server.address, user_init(diary.token), legacy=legacy) as socket:
        await _working(socket, diary)
        await socket.subscribe("bye", "mutation { logOut(input: {}) { ok } }")
        answered, code = await _after_the_end(socket, diary)
    assert code == 4403
    results = [(m["id"], m["payload"]) for m in answered if m["type"] in ("next", "data")]
    assert results == [("bye", {"data": {"logOut": {"ok": True}}})]
    assert await _stored_n(server.api, diary) == 0


@PROTOCOLS
async def test_a_graphql_socket_closes_when_its_session_is_deleted_or_expires(server: Server, legacy: bool) -> None:
    deleted = await _diary(server.api, f"deleted-{legacy}")
    session = (await server.api.get("/sessions/me", token=deleted.token)).json()
    async with graphql_socket(server.address, user_init(deleted.token), legacy=legacy) as socket:
        await _working(socket, deleted)
        await server.api.delete(f"/sessions/{session['objectId']}", master=True)
        assert (await socket.closed_with())[0] == 4403

    expiring = await _diary(server.api, f"expiring-{legacy}")
    session = (await server.api.get("/sessions/me", token=expiring.token)).json()
    async with graphql_socket(server.address, user_init(expiring.token), legacy=legacy) as socket:
        await _working(socket, expiring)
        soon = datetime.now(UTC) + timedelta(seconds=1)
        expires = {"__type": "Date", "iso": soon.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
        changed = await server.api.put(f"/sessions/{session['objectId']}", {"expiresAt": expires}, master=True)
        assert changed.is_success, changed.text
        # Nothing happens on the socket's side: the session simply runs out, and the socket with it.
        assert (await socket.closed_with())[0] == 4403


async def test_a_change_to_a_session_that_does_not_end_it_leaves_the_socket_open(server: Server) -> None:
    diary = await _diary(server.api, "kept")
    session = (await server.api.get("/sessions/me", token=diary.token)).json()
    async with graphql_socket(server.address, user_init(diary.token)) as socket:
        await _working(socket, diary)
        await server.api.put(f"/sessions/{session['objectId']}", {"note": "renamed"}, master=True)
        await server.api.put(f"/classes/Diary/{diary.object_id}", {"n": 2}, master=True)
        assert await socket.data() == ("events", {"diaryEvents": {"event": "UPDATE", "node": {"n": 2}}})


async def test_a_password_change_that_revokes_sessions_closes_their_sockets(server: Server) -> None:
    diary = await _diary(server.api, "changer")
    async with graphql_socket(server.address, user_init(diary.token)) as socket:
        await _working(socket, diary)
        await server.api.put(f"/users/{diary.user_id}", {"password": "new"}, master=True)
        assert (await socket.closed_with())[0] == 4403


async def test_a_live_query_socket_whose_session_ended_sees_only_what_the_public_sees(server: Server) -> None:
    """Parse LiveQuery's own behaviour, kept: the socket stays, its session's rights do not."""
    diary = await _diary(server.api, "listener")
    async with live_query(server.address, token=diary.token) as live:
        assert (await live.subscribe(1, "Diary"))["op"] == "subscribed"
        await server.api.post("/logout", {}, token=diary.token)
        await server.api.put(f"/classes/Diary/{diary.object_id}", {"n": 3}, master=True)
        assert await live.drain() == []
        refused = await live.subscribe(2, "Diary")
        assert refused["op"] == "error" and refused["code"] == 209


@PROTOCOLS
async def test_a_logout_on_one_instance_closes_the_graphql_socket_on_the_other(
    database_server: str,
    tmp_path: Path,
    redis_url: str,  # noqa: F811
    legacy: bool,
) -> None:
    one = make_settings(database_server, f"session_end_two_{legacy}", tmp_path / "one", redis_url=redis_url)
    other = one.replace(data_dir=str(tmp_path / "other"))
    async with serving(one) as (_, client_one, _), serving(other) as (_, client_other, address_other):
        api_one = Api(client_one)
        await api_one.post("/schemas/Diary", {"fields": {"n": {"type": "Number"}}}, master=True)
        diary = await _diary(api_one, "traveller")
        async with graphql_socket(address_other, user_init(diary.token), legacy=legacy) as socket:
            await _working(socket, diary)
            await api_one.post("/logout", {}, token=diary.token)
            await api_one.put(f"/classes/Diary/{diary.object_id}", {"n": 4}, master=True)
            answered, code = await _after_the_end(socket, diary)
        assert code == 4403
        assert all(m["type"] == "error" for m in answered), answered
        assert await _stored_n(Api(client_other), diary) == 4
