"""A read whose HTTP client went away is cancelled (no more database commands for nobody), and a write
runs to its end whatever the client does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio
from pymongo import monitoring

from app.storage.postgres.connection import observers
from tests.conftest import APP_ID, ENGINE, Api, make_settings, serving

pytestmark = pytest.mark.asyncio(loop_scope="session")

STEPS = 1000
CLOUD = f"""
import tests.test_abandoned_requests as probe
from app.cloud import Cloud

cloud = Cloud()


async def steps(request, what):
    hook = probe.HOOKS[what]
    try:
        for _ in range({STEPS}):
            # One database command each: a handler with a long way to go.
            await request.data.master().find("Row", limit=1)
            hook.steps += 1
            hook.stepped.set()
    except BaseException as error:
        hook.end(type(error).__name__)
        raise
    hook.end("return")


@cloud.before_find("Slow")
async def slow_find(request):
    await steps(request, "find")


@cloud.before_save("Slow")
async def slow_save(request):
    await steps(request, "save")


@cloud.after_save("Slow")
async def saved(request):
    probe.HOOKS["save"].saved.set()
"""


@dataclass
class Hook:
    """What the test sees of a cloud hook running on the server, in this same process."""

    steps: int = 0
    stepped: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    ended_by: str | None = None
    saved: asyncio.Event = field(default_factory=asyncio.Event)

    def end(self, how: str) -> None:
        self.ended_by = how
        self.ended.set()

    async def end_seen(self) -> str | None:
        async with asyncio.timeout(20):
            await self.ended.wait()
        return self.ended_by


HOOKS: dict[str, Hook] = {}


class RowFinds(monitoring.CommandListener):
    """`find` commands on the class the hooks read, as they leave for the database."""

    def __init__(self) -> None:
        self.count = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == "Row":
            self.count += 1

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def statement(self, query: str) -> None:
        """The same on PostgreSQL: a SELECT from the class's table."""
        if query.startswith("SELECT ") and ' FROM "Row"' in query:
            self.count += 1


FINDS = RowFinds()
if ENGINE == "postgres":
    observers.append(FINDS.statement)
else:
    monitoring.register(FINDS)  # applies to the clients created from now on: the server's below


@dataclass
class Server:
    api: Api
    host: str
    port: int


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    tmp = tmp_path_factory.mktemp("abandoned")
    cloud = tmp / "cloud.py"
    cloud.write_text(CLOUD)
    settings = make_settings(database_server, "abandoned", tmp, cloud=str(cloud), allow_client_class_creation=True)
    async with serving(settings) as (_, client, address):
        api = Api(client)
        assert (await api.post("/classes/Row", {"n": 1}, master=True)).status_code == 201
        slow = await api.post("/schemas/Slow", {"fields": {"title": {"type": "String"}}}, master=True)
        assert slow.status_code == 200, slow.text
        host, port = address.split(":")
        yield Server(api, host, int(port))


async def send_and_leave(server: Server, method: str, path: str, body: Any, what: str) -> Hook:
    """Send a request on a raw socket, and close it once the hook has taken its first step."""
    hook = HOOKS[what] = Hook()
    data = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {server.host}\r\nX-Parse-Application-Id: {APP_ID}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    _, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(head.encode() + data)
    await writer.drain()
    async with asyncio.timeout(10):
        await hook.stepped.wait()
    writer.close()
    await writer.wait_closed()
    return hook


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/parse/classes/Slow", None),
        ("POST", "/parse/classes/Slow", {"_method": "GET", "where": {}}),  # how the JS SDK sends a find
        ("POST", "/graphql", {"query": "{ slows { count } }"}),
    ],
    ids=["REST GET", "REST POST _method GET", "GraphQL query"],
)
async def test_a_find_whose_client_went_away_stops_sending_database_commands(
    server: Server, method: str, path: str, body: Any
) -> None:
    before = FINDS.count
    hook = await send_and_leave(server, method, path, body, "find")
    assert await hook.end_seen() == "CancelledError"
    assert hook.steps < STEPS
    sent = FINDS.count - before
    # Another request, answered after the cancellation: the abandoned one sent nothing more meanwhile.
    assert (await server.api.get("/classes/Row", master=True)).status_code == 200
    assert FINDS.count - before - 1 == sent <= hook.steps + 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/parse/classes/Slow", {"title": "kept"}),
        (
            "POST",
            "/graphql",
            {"query": 'mutation { createSlow(input: {fields: {title: "kept"}}) { clientMutationId } }'},
        ),
    ],
    ids=["REST", "GraphQL mutation"],
)
async def test_a_write_whose_client_went_away_runs_to_its_end(
    server: Server, method: str, path: str, body: Any
) -> None:
    await server.api.delete("/purge/Slow", master=True)
    hook = await send_and_leave(server, method, path, body, "save")
    assert await hook.end_seen() == "return" and hook.steps == STEPS
    async with asyncio.timeout(20):
        await hook.saved.wait()
    (saved,) = (await server.api.get("/classes/Slow", master=True)).json()["results"]
    assert saved["title"] == "kept"
