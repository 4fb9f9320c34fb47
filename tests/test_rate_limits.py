"""Parse's `rateLimit` option through the server: paths, methods, zones, windows, who is spared, batches, GraphQL,
the rules checked at start, and two instances sharing their counts through a real Redis."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.asgi import create_app
from tests.conftest import APP_ID, MASTER_KEY, fresh_uri, make_settings, serving
from tests.realtime.test_instances import redis_url  # noqa: F401 - the real redis-server fixture

pytestmark = pytest.mark.asyncio(loop_scope="session")

OUTSIDE = "203.0.113.10"  # a client that is not the server's own machine
HEADERS = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
MINUTE = 60_000


@pytest.fixture(scope="module")
def database_uri(database_server: str) -> str:
    return fresh_uri(database_server, __name__)


@asynccontextmanager
async def limited(database_uri: str, tmp_path: Path, rules: Any, **overrides: Any) -> AsyncIterator[Starlette]:
    overrides.setdefault("allow_client_class_creation", True)
    settings = make_settings("", "rate_limits", tmp_path, database_uri=database_uri, rate_limit=rules, **overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client(app: Starlette, ip: str = OUTSIDE) -> httpx.AsyncClient:
    """A client of the app from this address."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://test")


async def statuses(http: httpx.AsyncClient, method: str, path: str, times: int, **kwargs: Any) -> list[int]:
    headers = {**HEADERS, **kwargs.pop("headers", {})}
    return [(await http.request(method, f"/parse{path}", headers=headers, **kwargs)).status_code for _ in range(times)]


async def sign_up(http: httpx.AsyncClient, name: str) -> tuple[str, str]:
    answer = await http.post("/parse/users", headers=HEADERS, json={"username": name, "password": "pw"})
    assert answer.status_code == 201, answer.text
    return answer.json()["objectId"], answer.json()["sessionToken"]


async def test_requests_past_the_count_are_refused_as_parse_refuses_them(database_uri: str, tmp_path: Path) -> None:
    rules = [{"requestPath": "/classes/:className", "requestTimeWindow": MINUTE, "requestCount": 2}]
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        first = await http.get("/parse/classes/Note", headers=HEADERS)
        assert first.status_code == 200, first.text
        assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("2", "1")
        assert (await http.get("/parse/classes/note/", headers=HEADERS)).status_code == 200  # any case, a last /
        refused = await http.get("/parse/classes/Note", headers=HEADERS)
        assert refused.status_code == 429
        assert refused.json() == {"code": 100, "error": "Too many requests."}
        assert 0 < int(refused.headers["Retry-After"]) <= 60
        assert refused.headers["X-RateLimit-Remaining"] == "0"
        # Another path, and another client, are not counted with these.
        assert await statuses(http, "GET", "/users/me", 1) == [400]  # 209: no session
        async with client(app, "203.0.113.11") as other:
            assert await statuses(other, "GET", "/classes/Note", 2) == [200, 200]


async def test_a_rule_counts_only_its_methods_and_answers_its_message(database_uri: str, tmp_path: Path) -> None:
    rules = [
        {
            "requestPath": "/classes/*rest",
            "requestTimeWindow": MINUTE,
            "requestCount": 1,
            "requestMethods": ["POST"],
            "errorResponseMessage": "Slow down.",
        }
    ]
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        assert await statuses(http, "GET", "/classes/Note", 3) == [200, 200, 200]
        # The JS SDK's GET sent as a POST with `_method` is a GET, as Parse routes it.
        assert await statuses(http, "POST", "/classes/Note", 2, json={"_method": "GET"}) == [200, 200]
        assert await statuses(http, "POST", "/classes/Note", 1, json={"a": 1}) == [201]
        refused = await http.post("/parse/classes/Note", headers=HEADERS, json={"a": 2})
        assert (refused.status_code, refused.json()) == (429, {"code": 100, "error": "Slow down."})


async def test_the_master_key_is_spared_unless_the_rule_includes_it(database_uri: str, tmp_path: Path) -> None:
    master = {"X-Parse-Master-Key": MASTER_KEY}
    rules = [
        {"requestPath": "/classes/Spared", "requestTimeWindow": MINUTE, "requestCount": 1},
        {"requestPath": "/classes/Counted", "requestTimeWindow": MINUTE, "requestCount": 1, "includeMasterKey": True},
    ]
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        assert await statuses(http, "GET", "/classes/Spared", 3, headers=master) == [200, 200, 200]
        assert await statuses(http, "GET", "/classes/Counted", 2, headers=master) == [200, 429]


async def test_requests_from_the_servers_own_machine_are_internal(database_uri: str, tmp_path: Path) -> None:
    rules = [
        {"requestPath": "/classes/Outside", "requestTimeWindow": MINUTE, "requestCount": 1},
        {
            "requestPath": "/classes/Inside",
            "requestTimeWindow": MINUTE,
            "requestCount": 1,
            "includeInternalRequests": True,
        },
    ]
    async with limited(database_uri, tmp_path, rules) as app:
        for loopback in ("127.0.0.1", "::1", "::ffff:127.0.0.1"):
            async with client(app, loopback) as http:
                assert await statuses(http, "GET", "/classes/Outside", 2) == [200, 200]
        async with client(app, "127.0.0.1") as http:
            assert await statuses(http, "GET", "/classes/Inside", 2) == [200, 429]


async def test_zones_count_by_session_by_user_or_for_everyone(database_uri: str, tmp_path: Path) -> None:
    rules = [
        {"requestPath": "/classes/BySession", "requestTimeWindow": MINUTE, "requestCount": 1, "zone": "session"},
        {"requestPath": "/classes/ByUser", "requestTimeWindow": MINUTE, "requestCount": 1, "zone": "user"},
        {"requestPath": "/classes/ForAll", "requestTimeWindow": MINUTE, "requestCount": 1, "zone": "global"},
    ]
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        ann_id, ann = await sign_up(http, "zone-ann")
        _, bob = await sign_up(http, "zone-bob")
        again = await http.get("/parse/login", headers=HEADERS, params={"username": "zone-ann", "password": "pw"})
        ann_again = again.json()["sessionToken"]
        as_ann, as_ann_again, as_bob = ({"X-Parse-Session-Token": token} for token in (ann, ann_again, bob))
        # By session: two sessions of one address are counted apart; without a token, by address.
        assert await statuses(http, "GET", "/classes/BySession", 2, headers=as_ann) == [200, 429]
        assert await statuses(http, "GET", "/classes/BySession", 1, headers=as_ann_again) == [200]
        assert await statuses(http, "GET", "/classes/BySession", 2) == [200, 429]
        # By user: the user's two sessions share one count, another user has their own.
        assert await statuses(http, "GET", "/classes/ByUser", 1, headers=as_ann) == [200]
        assert await statuses(http, "GET", "/classes/ByUser", 1, headers=as_ann_again) == [429]
        assert await statuses(http, "GET", "/classes/ByUser", 1, headers=as_bob) == [200]
        # For everyone: one count whatever the address.
        assert await statuses(http, "GET", "/classes/ForAll", 1) == [200]
        async with client(app, "198.51.100.20") as other:
            assert await statuses(other, "GET", "/classes/ForAll", 1) == [429]
        assert ann_id


async def test_a_request_with_a_bad_session_token_is_counted_before_its_token_is_refused(
    database_uri: str, tmp_path: Path
) -> None:
    rules = [{"requestPath": "/classes/Note", "requestTimeWindow": MINUTE, "requestCount": 1}]
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        bad = {"X-Parse-Session-Token": "r:not-a-session"}
        refused = [(await http.get("/parse/classes/Note", headers={**HEADERS, **bad})).json() for _ in range(2)]
        assert [answer["code"] for answer in refused] == [209, 100]


async def test_a_window_closes_and_the_caller_starts_afresh(database_uri: str, tmp_path: Path) -> None:
    rules = [{"requestPath": "/classes/Note", "requestTimeWindow": 300, "requestCount": 1}]
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        opened = time.monotonic()
        assert await statuses(http, "GET", "/classes/Note", 2) == [200, 429]
        while (await statuses(http, "GET", "/classes/Note", 1)) == [429]:
            assert time.monotonic() - opened < 5, "the window never closed"
            await asyncio.sleep(0.05)
        assert time.monotonic() - opened >= 0.25


async def test_closed_windows_are_dropped_from_memory(database_uri: str, tmp_path: Path) -> None:
    rules = [{"requestPath": "/classes/Note", "requestTimeWindow": 200, "requestCount": 5}]
    async with limited(database_uri, tmp_path, rules) as app:
        counter = app.state.services.rate_limits.counters[None]
        for last in range(30):
            async with client(app, f"198.51.100.{last}") as http:
                assert await statuses(http, "GET", "/classes/Note", 1) == [200]
        assert counter.size() == 30
        deadline = time.monotonic() + 5
        async with client(app, "198.51.100.200") as http:
            while True:
                assert await statuses(http, "GET", "/classes/Note", 1) == [200]
                if counter.size() == 1 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
        assert counter.size() == 1


async def test_each_sub_request_of_a_batch_counts_toward_its_own_path(database_uri: str, tmp_path: Path) -> None:
    rules = [
        {"requestPath": "/classes/Note", "requestTimeWindow": MINUTE, "requestCount": 2, "errorResponseMessage": "No."}
    ]
    note = {"method": "GET", "path": "/parse/classes/Note"}
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        over = await http.post("/parse/batch", headers=HEADERS, json={"requests": [note, note, note]})
        assert (over.status_code, over.json()) == (400, {"code": 100, "error": "No."})
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        within = await http.post("/parse/batch", headers=HEADERS, json={"requests": [note, note]})
        assert within.status_code == 200
        assert [list(result) for result in within.json()] == [["success"], ["success"]]
        assert await statuses(http, "GET", "/classes/Note", 1) == [429]  # the batch used the window up


async def test_graphql_is_limited_by_its_path(database_uri: str, tmp_path: Path) -> None:
    rules = [{"requestPath": "/graphql", "requestTimeWindow": MINUTE, "requestCount": 1}]
    query = {"query": "{ health }"}
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        assert (await http.post("/graphql", headers=HEADERS, json=query)).json() == {"data": {"health": True}}
        refused = await http.post("/graphql", headers=HEADERS, json=query)
        assert (refused.status_code, refused.json()) == (429, {"code": 100, "error": "Too many requests."})
        assert await statuses(http, "GET", "/classes/Note", 2) == [200, 200]


async def test_rules_written_for_earlier_parse_versions_keep_their_meaning(database_uri: str, tmp_path: Path) -> None:
    rules = [
        {"requestPath": "/functions/*", "requestTimeWindow": MINUTE, "requestCount": 1},
        {"requestPath": "*", "requestTimeWindow": MINUTE, "requestCount": 3},
    ]
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        assert await statuses(http, "POST", "/functions/missing", 2) == [400, 429]
        assert await statuses(http, "GET", "/classes/Note", 2) == [200, 429]  # `*`: its third and fourth


async def test_two_instances_share_their_counts_through_redis(
    database_uri: str,
    tmp_path: Path,
    redis_url: str,  # noqa: F811 - the fixture imported above
) -> None:
    rules = [{"requestPath": "/classes/Shared", "requestTimeWindow": MINUTE, "requestCount": 3}]
    settings = make_settings(
        "",
        "rate_limits",
        tmp_path,
        database_uri=database_uri,
        rate_limit=rules,
        redis_url=redis_url,
        allow_client_class_creation=True,
    )
    # Over the wire, behind a proxy on this machine: the client's address is the one it forwards.
    forwarded = {**HEADERS, "X-Forwarded-For": "192.0.2.44"}
    async with serving(settings) as (_, first, _), serving(settings) as (_, second, _):
        answers = []
        for http in (first, second, first, second):
            answers.append((await http.get("/parse/classes/Shared", headers=forwarded)).status_code)
        assert answers == [200, 200, 200, 429]
        other = {**HEADERS, "X-Forwarded-For": "192.0.2.45"}
        assert (await second.get("/parse/classes/Shared", headers=other)).status_code == 200


CLOUD = """
from app.cloud import Cloud

cloud = Cloud()


@cloud.define("capped", rate_limit={"requestTimeWindow": 60000, "requestCount": 1})
def capped(request):
    return "ok"
"""


async def test_a_cloud_validators_limit_holds_however_its_function_is_called(database_uri: str, tmp_path: Path) -> None:
    (tmp_path / "cloud.py").write_text(CLOUD)
    call = "mutation { callCloudCode(input: {functionName: capped}) { result } }"
    async with limited(database_uri, tmp_path, [], cloud=str(tmp_path / "cloud.py")) as app, client(app) as http:
        assert (await http.post("/parse/functions/capped", headers=HEADERS)).json() == {"result": "ok"}
        refused = await http.post("/parse/functions/capped", headers=HEADERS)
        assert (refused.status_code, refused.json()) == (429, {"code": 100, "error": "Too many requests."})
        through_graphql = (await http.post("/graphql", headers=HEADERS, json={"query": call})).json()
        assert through_graphql["errors"][0]["extensions"]["code"] == 100
        master = {**HEADERS, "X-Parse-Master-Key": MASTER_KEY}
        assert (await http.post("/parse/functions/capped", headers=master)).json() == {"result": "ok"}
        async with client(app, "127.0.0.1") as local:  # the server's own machine: internal, as in Parse
            for _ in range(2):
                assert (await local.post("/parse/functions/capped", headers=HEADERS)).json() == {"result": "ok"}


async def test_a_redis_that_does_not_answer_lets_requests_through(database_uri: str, tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"  # nothing listens there once closed
    rules = [{"requestPath": "/classes/Note", "requestTimeWindow": MINUTE, "requestCount": 1, "redisUrl": nowhere}]
    async with limited(database_uri, tmp_path, rules) as app, client(app) as http:
        assert await statuses(http, "GET", "/classes/Note", 3) == [200, 200, 200]
