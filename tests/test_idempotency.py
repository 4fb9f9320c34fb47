"""Request idempotency (Parse's `idempotencyOptions`): a request sent again with the same `X-Parse-Request-Id` is
refused with 159 and runs nothing, on the routes and paths Parse Server deduplicates, on one instance or two."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import ENGINE, Api, make_settings, mongodb_only, running
from tests.seed import raw_documents

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLOUD = Path(__file__).with_name("idempotency_cloud.py")
DUPLICATE = (400, {"code": 159, "error": "Duplicate request"})  # Parse Server 9.10's answer, status and body


class Client(Api):
    """The tests' REST client, sending a request id with each call."""

    async def send(self, method: str, path: str, body: Any = None, *, request_id: str, master: bool = False) -> Any:
        headers = {**self.headers(master), "X-Parse-Request-Id": request_id}
        answer = await self.client.request(method, f"/parse{path}", json=body, headers=headers)
        return answer.status_code, answer.json()

    async def count(self, class_name: str, where: dict[str, Any] | None = None) -> int:
        params: dict[str, Any] = {"count": 1, "limit": 0, **({"where": where} if where else {})}
        return int((await self.get(f"/classes/{class_name}", params=params, master=True)).json()["count"])


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Client, str]]:
    """A server deduplicating every path (`.*`, as Parse's documentation suggests), and its database."""
    settings = make_settings(
        database_server,
        "idempotency",
        tmp_path_factory.mktemp("data"),
        cloud=str(CLOUD),
        allow_client_class_creation=True,
        idempotency_paths=[".*"],
    )
    async with running(settings) as (_, client):
        yield Client(client), str(settings.database_uri)


async def test_a_repeated_create_is_refused_and_the_object_stored_once(server: tuple[Client, str]) -> None:
    api, _ = server
    first = await api.send("POST", "/classes/Order", {"total": 3}, request_id="create-1")
    assert first[0] == 201
    assert await api.send("POST", "/classes/Order", {"total": 3}, request_id="create-1") == DUPLICATE
    assert await api.count("Order") == 1
    # Another id is another request; no id at all is never deduplicated.
    assert (await api.send("POST", "/classes/Order", {"total": 3}, request_id="create-2"))[0] == 201
    for _ in range(2):
        assert (await api.post("/classes/Order", {"total": 3})).status_code == 201
    assert await api.count("Order") == 4


async def test_a_repeated_function_call_runs_the_function_once(server: tuple[Client, str]) -> None:
    api, _ = server
    before = await api.count("Tally")
    assert await api.send("POST", "/functions/tally", {}, request_id="call-1") == (200, {"result": "counted"})
    assert await api.send("POST", "/functions/tally", {}, request_id="call-1") == DUPLICATE
    assert await api.count("Tally") == before + 1


async def test_updates_users_and_named_jobs_are_deduplicated_as_in_parse(server: tuple[Client, str]) -> None:
    api, _ = server
    order = (await api.post("/classes/Order", {"total": 1})).json()["objectId"]
    assert (await api.send("PUT", f"/classes/Order/{order}", {"total": 2}, request_id="update-1"))[0] == 200
    assert await api.send("PUT", f"/classes/Order/{order}", {"total": 9}, request_id="update-1") == DUPLICATE
    assert (await api.get(f"/classes/Order/{order}")).json()["total"] == 2
    signed = await api.send("POST", "/users", {"username": "once", "password": "p"}, request_id="signup-1")
    assert signed[0] == 201
    again = await api.send("POST", "/classes/_User", {"username": "twice", "password": "p"}, request_id="signup-1")
    assert again == DUPLICATE  # one id, whatever the route: Parse keeps one index of ids
    user = signed[1]["objectId"]
    changed = await api.send("PUT", f"/users/{user}", {"nickname": "x"}, request_id="user-1", master=True)
    assert changed[0] == 200
    assert await api.send("PUT", f"/users/{user}", {"nickname": "y"}, request_id="user-1", master=True) == DUPLICATE
    before = await api.count("Tally", {"by": "job"})
    assert (await api.send("POST", "/jobs/tally_job", {}, request_id="job-1", master=True))[0] == 200
    assert await api.send("POST", "/jobs/tally_job", {}, request_id="job-1", master=True) == DUPLICATE
    # Parse claims the id before it asks for the master key: a refused call spends its id.
    refused = await api.send("POST", "/jobs/tally_job", {}, request_id="job-2")
    assert refused == (403, {"error": "Permission denied"})  # Parse Server 9.10's answer
    assert await api.send("POST", "/jobs/tally_job", {}, request_id="job-2", master=True) == DUPLICATE
    for _ in range(50):  # the job runs in the background: wait for its object
        if await api.count("Tally", {"by": "job"}) > before:
            break
        await asyncio.sleep(0.05)
    assert await api.count("Tally", {"by": "job"}) == before + 1


async def test_reads_deletes_batches_and_graphql_are_never_deduplicated(server: tuple[Client, str]) -> None:
    # As in Parse Server 9.10: only the routes above carry its idempotency check.
    api, _ = server
    for _ in range(2):
        assert (await api.send("GET", "/classes/Order", request_id="read-1"))[0] == 200
    order = (await api.post("/classes/Order", {"total": 5})).json()["objectId"]
    assert await api.send("DELETE", f"/classes/Order/{order}", request_id="delete-1") == (200, {})
    missing = await api.send("DELETE", f"/classes/Order/{order}", request_id="delete-1")
    assert missing == (404, {"code": 101, "error": "Object not found for delete."})
    batch = {"requests": [{"method": "POST", "path": "/parse/classes/Batched", "body": {"n": 1}}]}
    for _ in range(2):
        status, body = await api.send("POST", "/batch", batch, request_id="batch-1")
        assert status == 200 and "success" in body[0]
    assert await api.count("Batched") == 2
    before = await api.count("Tally")
    headers = {**api.headers(), "X-Parse-Request-Id": "graphql-1"}
    for mutation in (
        "mutation { createBatched(input: {fields: {n: 2}}) { batched { objectId } } }",
        "mutation { createBatched(input: {fields: {n: 2}}) { batched { objectId } } }",
        "mutation { callCloudCode(input: {functionName: tally}) { result } }",
        "mutation { callCloudCode(input: {functionName: tally}) { result } }",
    ):
        answer = await api.client.post("/graphql", json={"query": mutation}, headers=headers)
        assert "errors" not in answer.json(), answer.json()
    assert (await api.count("Batched"), await api.count("Tally")) == (4, before + 2)


async def test_an_id_is_forgotten_once_its_ttl_has_passed(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_server,
        "idempotency_ttl",
        tmp_path,
        cloud=str(CLOUD),
        idempotency_paths=["functions/"],
        idempotency_ttl=1.0,
    )
    async with running(settings) as (_, client):
        api = Client(client)
        assert (await api.send("POST", "/functions/tally", {}, request_id="retry"))[0] == 200
        started = time.monotonic()
        assert await api.send("POST", "/functions/tally", {}, request_id="retry") == DUPLICATE
        # Within the ttl the id is refused; after it the same id runs again (a refusal claims nothing).
        while (answer := await api.send("POST", "/functions/tally", {}, request_id="retry")) == DUPLICATE:
            assert time.monotonic() - started < 10, "the id was never forgotten"
            await asyncio.sleep(0.1)
        assert answer == (200, {"result": "counted"})
        assert time.monotonic() - started > 0.5
        assert await api.count("Tally") == 2


async def test_only_the_configured_paths_are_deduplicated(database_server: str, tmp_path: Path) -> None:
    # Parse reads each path as a regular expression anchored at the start only: `functions/tal` covers `tally`.
    settings = make_settings(
        database_server,
        "idempotency_paths",
        tmp_path,
        cloud=str(CLOUD),
        allow_client_class_creation=True,
        idempotency_paths=["functions/tal", "^classes/Kept$"],
    )
    async with running(settings) as (_, client):
        api = Client(client)
        assert (await api.send("POST", "/functions/tally", {}, request_id="f"))[0] == 200
        assert await api.send("POST", "/functions/tally", {}, request_id="f") == DUPLICATE
        for _ in range(2):
            assert (await api.send("POST", "/classes/Loose", {}, request_id="loose"))[0] == 201
        assert await api.count("Loose") == 2
        assert (await api.send("POST", "/classes/Kept", {}, request_id="kept"))[0] == 201
        assert await api.send("POST", "/classes/Kept", {}, request_id="kept") == DUPLICATE
        kept = (await api.get("/classes/Kept")).json()["results"][0]["objectId"]
        # `classes/Kept/<id>` does not match `^classes/Kept$`: updates there are not deduplicated.
        for total in (1, 2):
            assert (await api.send("PUT", f"/classes/Kept/{kept}", {"n": total}, request_id="put"))[0] == 200


async def test_without_paths_nothing_is_deduplicated(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "idempotency_off", tmp_path, cloud=str(CLOUD))
    assert settings.idempotency_paths == []  # Parse's default: the feature is off
    async with running(settings) as (_, client):
        api = Client(client)
        for _ in range(2):
            assert await api.send("POST", "/functions/tally", {}, request_id="same") == (200, {"result": "counted"})
        assert await api.count("Tally") == 2


async def test_identical_requests_to_two_instances_at_once_run_exactly_once(
    server: tuple[Client, str], tmp_path: Path
) -> None:
    api, database_uri = server
    other = make_settings("", "unused", tmp_path, database_uri=database_uri, cloud=str(CLOUD), idempotency_paths=[".*"])
    before = await api.count("Tally")
    async with running(other) as (_, other_client):
        second = Client(other_client)
        calls = [
            (api if n % 2 else second).send("POST", "/functions/tally", {}, request_id="at-once") for n in range(12)
        ]
        answers = await asyncio.gather(*calls)
    assert sorted(answers, key=str) == sorted([(200, {"result": "counted"})] + [DUPLICATE] * 11, key=str)
    assert await api.count("Tally") == before + 1


@mongodb_only("reads the stored documents with pymongo")
async def test_request_ids_are_stored_as_parse_server_stores_them(server: tuple[Client, str]) -> None:
    api, database_uri = server
    await api.send("POST", "/functions/tally", {}, request_id="stored-1")
    stored = [doc for doc in await raw_documents(database_uri, "_Idempotency") if doc["reqId"] == "stored-1"]
    assert len(stored) == 1
    document = stored[0]
    assert list(document) == ["_id", "reqId", "expire", "_created_at", "_updated_at"]  # as Parse Server's
    assert isinstance(document["_id"], str) and len(document["_id"]) == 10
    assert 299 <= (document["expire"] - document["_created_at"]).total_seconds() <= 301


@pytest.mark.skipif(ENGINE != "postgres", reason="PostgreSQL only: MongoDB purges with its TTL index")
async def test_expired_ids_are_purged_on_postgres(server: tuple[Client, str]) -> None:
    import psycopg

    api, database_uri = server
    with psycopg.connect(database_uri, autocommit=True) as connection:
        connection.execute(
            'INSERT INTO "_Idempotency" ("objectId", "reqId", "expire") '
            "SELECT 'old' || n, 'old-' || n, now() - interval '1 hour' FROM generate_series(1, 40) AS n"
        )
    for n in range(2):
        await api.send("POST", "/functions/tally", {}, request_id=f"purging-{n}")
    with psycopg.connect(database_uri) as connection:
        left = connection.execute('SELECT count(*) FROM "_Idempotency" WHERE "reqId" LIKE %s', ("old-%",)).fetchone()
    assert left is not None and left[0] == 40 - 2 * 16  # each claim deletes at most 16, never blocking on more
