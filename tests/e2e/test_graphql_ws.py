"""A GraphQL websocket client (npm `graphql-ws`, the client Apollo and urql use) against a running ParseQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Api, make_settings, serving
from tests.e2e.conftest import require_node_clients, run_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def sign_up(api: Api, username: str) -> str:
    created = await api.post("/users", {"username": username, "password": f"{username}-secret"})
    return str(created.json()["sessionToken"])


async def test_graphql_ws_client_receives_events_and_live_pages_the_user_may_see(
    database_server: str, tmp_path: Path
) -> None:
    require_node_clients()
    async with serving(make_settings(database_server, "e2e_graphql_ws", tmp_path)) as (_, client, address):
        api = Api(client)
        fields = {"playerName": {"type": "String"}, "score": {"type": "Number"}}
        assert (await api.post("/schemas/GameScore", {"fields": fields}, master=True)).status_code == 200
        seen = await run_client("graphql_ws.js", address, await sign_up(api, "ada"), await sign_up(api, "eve"))
    assert seen["hiddenStatus"] == 201
    assert [
        (e["gameScoreEvents"]["event"], e["gameScoreEvents"]["node"], e["gameScoreEvents"]["previous"])
        for e in seen["events"]
    ] == [
        ("CREATE", {"playerName": "Ada", "score": 1500}, None),
        ("UPDATE", {"playerName": "Ada", "score": 2000}, {"score": 1500}),
        ("LEAVE", {"playerName": "Ada", "score": 500}, {"score": 2000}),
        ("ENTER", {"playerName": "Ada", "score": 3000}, {"score": 500}),
        ("DELETE", {"playerName": "Ada", "score": 3000}, None),
    ]
    # A live page may skip states that changed again before it was re-sent, never show one that was not.
    pages = [[edge["node"]["score"] for edge in page["gameScores"]["edges"]] for page in seen["pages"]]
    states = [[], [1500], [2000], [], [3000], []]
    assert pages[0] == [] and pages[-1] == [] and [3000] in pages
    position = 0
    for page in pages:
        position = states.index(page, position)
    assert all(page["gameScores"]["count"] == len(scores) for page, scores in zip(seen["pages"], pages, strict=True))
    assert seen["refused"] == {"code": 4403, "reason": "Invalid session token"}
