"""Realtime beyond one socket: two instances sharing a Redis, or one PostgreSQL without Redis, a client too slow to
keep up, and shutdown."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import websockets

from tests.conftest import APP_ID, Api, make_settings, serving
from tests.realtime.clients import WAIT, graphql_socket, live_query

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server of this machine (Debian's `redis-server`; .ci/run installs it)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); .ci/run installs it")
    port = _free_port()
    directory = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert process.poll() is None and time.monotonic() < deadline, "redis-server did not start"
        time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(params=["redis", "postgres"])
def shared(request: pytest.FixtureRequest) -> tuple[str, dict[str, str]]:
    """What two instances share so that each hears the other's writes: a Redis (on the suite's database), or a
    PostgreSQL alone (its LISTEN/NOTIFY); the database server, and the settings that say so."""
    if request.param == "redis":
        return request.getfixturevalue("database_server"), {"redis_url": request.getfixturevalue("redis_url")}
    return request.getfixturevalue("postgres_server"), {}


async def check_writes_cross_instances(api_one: Api, api_other: Api, address_other: str, schema_ttl: float) -> None:
    """Two instances serving one database: a write on one reaches the other's LiveQuery and GraphQL subscribers, an
    instance tells its own subscribers once, and a write too large for a PostgreSQL notification arrives whole (also
    run on a PostgreSQL that takes TLS connections only, tests/interop/test_postgres_tls.py)."""
    await api_one.post("/schemas/Shared", {"fields": {"room": {"type": "String"}}}, master=True)
    await asyncio.sleep(schema_ttl)  # until the other instance's schema cache sees the class
    async with live_query(address_other) as live, graphql_socket(address_other) as socket:
        assert (await live.subscribe(1, "Shared", {"room": "a"}))["op"] == "subscribed"
        await socket.subscribe("e", "subscription { sharedEvents { event node { room } } }")
        await socket.drain()
        created = (await api_one.post("/classes/Shared", {"room": "a"}, master=True)).json()
        event = await live.next()
        assert event["op"] == "create" and event["object"]["objectId"] == created["objectId"]
        assert (await socket.data())[1] == {"sharedEvents": {"event": "CREATE", "node": {"room": "a"}}}
        await api_one.put(f"/classes/Shared/{created['objectId']}", {"room": "b"}, master=True)
        assert (await live.next())["op"] == "leave"
        # The instance that wrote tells its own subscribers once, not again through the bus.
        await api_other.put(f"/classes/Shared/{created['objectId']}", {"room": "a"}, master=True)
        assert [event["op"] for event in await live.drain()] == ["enter"]
        # A write too large for one PostgreSQL notification (8,000 bytes) arrives whole too.
        large = (await api_one.post("/classes/Shared", {"room": "a", "text": "x" * 20_000}, master=True)).json()
        event = await live.next()
        assert event["object"]["objectId"] == large["objectId"] and len(event["object"]["text"]) == 20_000


async def test_a_write_on_one_instance_reaches_subscribers_on_the_other(
    shared: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    server, bus = shared
    one = make_settings(server, "two_instances", tmp_path / "one", schema_cache_ttl=0.2, **bus)
    other = one.replace(data_dir=str(tmp_path / "other"))
    async with serving(one) as (_, client_one, _), serving(other) as (_, client_other, address_other):
        await check_writes_cross_instances(Api(client_one), Api(client_other), address_other, one.schema_cache_ttl)


async def test_a_session_ended_on_one_instance_ends_its_events_on_the_other(
    shared: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    server, bus = shared
    one = make_settings(server, "two_instances_sessions", tmp_path / "one", **bus)
    other = one.replace(data_dir=str(tmp_path / "other"))
    async with serving(one) as (_, client_one, _), serving(other) as (_, _, address_other):
        api_one = Api(client_one)
        user = (await api_one.post("/users", {"username": "dee", "password": "pw"})).json()
        private = {user["objectId"]: {"read": True}}
        created = (await api_one.post("/classes/Diary", {"n": 0, "ACL": private}, master=True)).json()
        async with live_query(address_other, token=user["sessionToken"]) as live:
            assert (await live.subscribe(1, "Diary"))["op"] == "subscribed"
            await api_one.put(f"/classes/Diary/{created['objectId']}", {"n": 1}, master=True)
            assert (await live.next())["op"] == "update"
            await api_one.post("/logout", {}, token=user["sessionToken"])
            await api_one.put(f"/classes/Diary/{created['objectId']}", {"n": 2}, master=True)
            assert await live.drain() == []


async def test_a_client_that_stops_reading_is_closed_and_the_others_keep_up(
    database_server: str, tmp_path: Path
) -> None:
    settings = make_settings(
        database_server, "slow_client", tmp_path, allow_client_class_creation=True, live_query_queue_size=4
    )
    async with serving(settings) as (_, client, address):
        api = Api(client)
        # The slow client's library stops reading after 2 messages; the socket buffers then fill up.
        async with (
            websockets.connect(f"ws://{address}/parse", max_queue=2, open_timeout=WAIT) as slow,
            live_query(address) as fast,
        ):
            await slow.send(f'{{"op":"connect","applicationId":"{APP_ID}"}}')
            await slow.send('{"op":"subscribe","requestId":1,"query":{"className":"Flood","where":{}}}')
            await fast.subscribe(1, "Flood")
            await asyncio.sleep(0.2)
            # Random text, so compression cannot shrink it below what the socket buffers hold.
            blob = base64.b64encode(os.urandom(300_000)).decode()
            received = 0
            for _ in range(100):
                await api.post("/classes/Flood", {"blob": blob}, master=True)
                received += len(await fast.drain(quiet=0.01))
            received += len(await fast.drain())
            assert received == 100  # every write reached the client that reads
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(slow.recv(), WAIT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013


@asynccontextmanager
async def cli_server(
    database_server: str, tmp_path: Path, *flags: str
) -> AsyncIterator[tuple[subprocess.Popen[bytes], int]]:
    """`parseql serve` in a child process, as `make run` starts it, on the test database server."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARSEQL_")}
    database_uri = make_settings(database_server, "cli", tmp_path).database_uri or ""
    command = [
        sys.executable,
        "-m",
        "app",
        "--port",
        str(port),
        "--database-uri",
        database_uri,
        "--master-key",
        "master",
    ]
    process = subprocess.Popen(
        [*command, *flags], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as client:
            while True:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                try:
                    if (await client.get(f"http://127.0.0.1:{port}/parse/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def test_stopping_the_server_closes_live_sockets_as_going_away(database_server: str, tmp_path: Path) -> None:
    async with cli_server(database_server, tmp_path) as (process, port):
        async with live_query(f"127.0.0.1:{port}") as live:
            process.send_signal(signal.SIGTERM)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(live.connection.recv(), WAIT)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        assert await asyncio.to_thread(process.wait, 20) == 0


async def test_a_client_that_stops_answering_pings_is_dropped(database_server: str, tmp_path: Path) -> None:
    async with cli_server(database_server, tmp_path, "--websocket-timeout", "1") as (_, port):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET /parse HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        first = await asyncio.wait_for(reader.readexactly(2), WAIT)
        assert first[0] & 0x0F == 0x9  # a ping, which this client never answers
        # Then the server gives up on it: the connection ends within the timeout, not later.
        started = time.monotonic()
        while await asyncio.wait_for(reader.read(1024), WAIT):
            pass
        assert time.monotonic() - started < WAIT
        writer.close()
