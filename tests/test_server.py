"""The HTTP server's deadlines, through raw sockets on a real server: a client slow on purpose (slowloris)
is cut off, a slow but steady one is served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.conftest import APP_ID, Api, make_settings, serving

pytestmark = pytest.mark.asyncio(loop_scope="session")

HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5
SLACK = 10.0  # a loaded machine may be late to close; never early


@dataclass
class Served:
    api: Api
    host: str
    port: int


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    settings = make_settings(
        database_server,
        "server",
        tmp_path_factory.mktemp("data"),
        allow_client_class_creation=True,
        header_timeout=HEADER_TIMEOUT,
        body_timeout=BODY_TIMEOUT,
    )
    async with serving(settings) as (_, client, address):
        host, port = address.split(":")
        yield Served(Api(client), host, int(port))


async def connect(served: Served) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(served.host, served.port)


async def read_until_closed(reader: asyncio.StreamReader) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and how long that took."""
    started = time.monotonic()
    data = await asyncio.wait_for(reader.read(), HEADER_TIMEOUT + BODY_TIMEOUT + SLACK)
    return data, time.monotonic() - started


def create_request(body: bytes, length: int | None = None) -> bytes:
    length = len(body) if length is None else length
    return (
        b"POST /parse/classes/Slow HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + f"X-Parse-Application-Id: {APP_ID}\r\nContent-Length: {length}\r\n\r\n".encode()
        + body
    )


async def objects_in_slow(served: Served) -> int:
    response = await served.api.get("/classes/Slow", master=True, params={"count": 1, "limit": 0})
    return int(response.json().get("count", 0))


@pytest.mark.parametrize(
    "sent",
    [
        b"GET /parse/health HTTP/1.1\r\nHost: test\r\n",
        b"GET /parse/heal",
        b"GET /parse HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n",
    ],
    ids=["half the headers", "half the request line", "half a websocket handshake"],
)
async def test_a_request_whose_headers_stop_half_way_is_answered_408_and_closed(served: Served, sent: bytes) -> None:
    reader, writer = await connect(served)
    writer.write(sent)
    data, waited = await read_until_closed(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n") and b"connection: close" in data
    assert HEADER_TIMEOUT * 0.9 <= waited < HEADER_TIMEOUT + SLACK


async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(served: Served) -> None:
    reader, writer = await connect(served)
    data, waited = await read_until_closed(reader)
    writer.close()
    assert data == b""
    assert HEADER_TIMEOUT * 0.9 <= waited < HEADER_TIMEOUT + SLACK


async def test_the_next_request_on_a_kept_alive_connection_has_the_same_deadline(served: Served) -> None:
    reader, writer = await connect(served)
    writer.write(b"GET /parse/health HTTP/1.1\r\nHost: test\r\n\r\n")
    first = await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), SLACK)
    assert first.startswith(b"HTTP/1.1 200 OK")
    writer.write(b"GET /parse/health HTTP/1.1\r\nHost: te")  # each byte used to reset uvicorn's only timer
    data, _ = await read_until_closed(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


async def test_a_body_that_stops_half_way_is_answered_408_and_writes_nothing(served: Served) -> None:
    before = await objects_in_slow(served)
    reader, writer = await connect(served)
    writer.write(create_request(b'{"name": "half', length=100))
    data, waited = await read_until_closed(reader)
    writer.close()
    assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert BODY_TIMEOUT * 0.9 <= waited < BODY_TIMEOUT + SLACK
    assert await objects_in_slow(served) == before


async def test_a_slow_but_steady_client_is_served(served: Served) -> None:
    before = await objects_in_slow(served)
    body = b'{"name": "patient", "padding": "' + b"x" * 40 + b'"}'
    request = create_request(body)
    head, rest = request[: -len(body)], body
    reader, writer = await connect(served)
    for start in range(0, len(head), len(head) // 3 + 1):  # headers in three parts, well within the deadline
        writer.write(head[start : start + len(head) // 3 + 1])
        await asyncio.sleep(HEADER_TIMEOUT / 10)
    # The body takes longer than BODY_TIMEOUT in all, but never pauses that long.
    for start in range(0, len(rest), 8):
        writer.write(rest[start : start + 8])
        await asyncio.sleep(BODY_TIMEOUT / 6)
    answer = await asyncio.wait_for(reader.readuntil(b"\r\n"), SLACK)
    writer.close()
    assert answer == b"HTTP/1.1 201 Created\r\n"
    assert await objects_in_slow(served) == before + 1
