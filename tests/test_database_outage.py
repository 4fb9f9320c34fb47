"""While the database cannot be reached every transport answers Parse's code 1 with a clear message (HTTP 503),
the outage is logged once, and what runs in the background (jobs, live queries) carries on once it is back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from app.embedded import EmbeddedDatabase
from tests.conftest import Api, make_settings, serving
from tests.realtime.clients import graphql_socket, live_query, open_socket, user_init

MESSAGE = "The database is unavailable; try again shortly."
UNAVAILABLE = {"code": 1, "error": MESSAGE}
QUICK = 8.0
"""Seconds the refusals may take: what a request already waiting may wait (`database_timeout`, 3 s), then a
probe of about one second; generous, the machine is shared."""

CLOUD = """
import asyncio
from pathlib import Path

from app.cloud import Cloud

cloud = Cloud()


@cloud.job()
async def wait_for_release(request):
    release = Path(request.params["release"])
    while not release.exists():
        await asyncio.sleep(0.05)
    return "released"
"""
EVENTS = "subscription { noteEvents { event node { text } } }"


async def _eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + 60
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _subscribe(address: str, token: str) -> dict[str, Any]:
    """A LiveQuery client's answer to a subscription with a session token."""
    async with live_query(address) as client:
        return await client.subscribe(1, "Note", session_token=token)


async def _init_graphql_socket(address: str, token: str) -> tuple[int | None, str]:
    """How a graphql-transport-ws socket initialised with a session token is closed."""
    async with open_socket(f"ws://{address}/graphql", ["graphql-transport-ws"]) as socket:
        await socket.send({"type": "connection_init", "payload": user_init(token)})
        return await socket.closed_with()


async def test_every_transport_answers_code_1_while_the_database_is_down_and_work_resumes_when_it_is_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = EmbeddedDatabase(tmp_path / "db")
    uri = database.start()
    (tmp_path / "cloud.py").write_text(CLOUD)
    settings = make_settings(uri.rsplit("/", 1)[0], "outage", tmp_path, cloud=str(tmp_path / "cloud.py"))
    release = tmp_path / "release"
    try:
        async with serving(settings) as (_, client, address):
            api = Api(client)
            assert (await api.post("/classes/Note", {"text": "before"}, master=True)).status_code == 201
            signed_up = await api.post("/users", {"username": "ann", "password": "secret"})
            token = signed_up.json()["sessionToken"]  # never used before the outage: not in any cache
            job = (await api.post("/jobs/wait_for_release", {"release": str(release)}, master=True)).headers[
                "X-Parse-Job-Status-Id"
            ]
            async with live_query(address, master=True) as watcher, graphql_socket(address) as subscriber:
                assert (await watcher.subscribe(1, "Note"))["op"] == "subscribed"
                await subscriber.subscribe("notes", EVENTS)
                await subscriber.drain()

                assert database.process is not None
                database.process.kill()
                database.process.wait()
                caplog.clear()
                with caplog.at_level(logging.WARNING):
                    started = time.monotonic()
                    # All at once, as clients would: they share the probes of the database.
                    answers: list[Any] = await asyncio.gather(
                        api.get("/classes/Note", master=True),
                        api.get("/users/me", token=token),
                        api.post(
                            "/batch", {"requests": [{"method": "POST", "path": "/parse/classes/Note"}]}, master=True
                        ),
                        client.post(
                            "/parse/files/a.txt",
                            content=b"hello",
                            headers={**api.headers(token=token), "Content-Type": "text/plain"},
                        ),
                        client.post(
                            "/graphql", json={"query": "{ notes { count } }"}, headers=api.headers(master=True)
                        ),
                        client.get("/parse/health"),
                        _subscribe(address, token),
                        _init_graphql_socket(address, token),
                    )
                    refused, with_token, batch, upload, graphql, health, live, init = answers
                    assert time.monotonic() - started < QUICK
                    assert (refused.status_code, refused.json()) == (503, UNAVAILABLE)
                    assert refused.headers["Retry-After"] == "1"
                    # A session that cannot be looked up is not an invalid one (a 209 would sign the user out).
                    assert (with_token.status_code, with_token.json()) == (503, UNAVAILABLE)
                    assert batch.status_code == 200 and batch.json() == [{"error": UNAVAILABLE}]
                    assert (upload.status_code, upload.json()) == (503, UNAVAILABLE)
                    assert graphql.status_code in (200, 503)
                    [error] = graphql.json()["errors"]
                    assert error["message"] == MESSAGE and error["extensions"] == {"code": 1}
                    assert (health.status_code, health.json()) == (503, {"status": "error"})
                    assert live == {"op": "error", "requestId": 1, "code": 1, "error": MESSAGE, "reconnect": True}
                    assert init == (1013, MESSAGE)
                    release.touch()  # the job ends now, with no database to record it in

                    problems = [record for record in caplog.records if record.levelno >= logging.ERROR]
                    assert [record.getMessage().split(" (")[0] for record in problems] == [
                        "the database is unreachable"
                    ]
                    assert not any(record.exc_info for record in caplog.records)

                database.start()  # the same port and data: the server's client reconnects by itself

                async def healthy() -> bool:
                    return (await client.get("/parse/health")).status_code == 200

                await _eventually(healthy, "/parse/health to answer 200 again")
                assert (await api.get("/users/me", token=token)).json()["username"] == "ann"
                assert (await api.post("/classes/Note", {"text": "after"}, master=True)).status_code == 201
                event = await watcher.next()
                assert event["op"] == "create" and event["object"]["text"] == "after"
                assert await subscriber.data() == (
                    "notes",
                    {"noteEvents": {"event": "CREATE", "node": {"text": "after"}}},
                )

            async def recorded() -> bool:
                status = (await api.get(f"/classes/_JobStatus/{job}", master=True)).json()
                return bool(status.get("status") == "succeeded" and status.get("message") == "released")

            await _eventually(recorded, "the job's end to be recorded")
    finally:
        database.stop()
