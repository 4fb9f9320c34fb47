"""Every database query is bounded: patterns that would backtrack for ages never reach an engine that cannot
stop them, and a query that runs past `--max-query-time` answers code 124, in REST and GraphQL alike."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.embedded import EmbeddedDatabase
from tests.conftest import APP_ID, Api, make_settings, mongodb_only, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

PUBLIC = {"X-Parse-Application-Id": APP_ID}
UNBOUNDED = mongodb_only("patterns are refused only on an engine that cannot bound a match (SecantusDB)")
CATASTROPHIC = "^(a+)+$"
# Python's `re` needs about 2^28 steps to give up on this title with the pattern above: tens of seconds.
LONG_TITLE = "a" * 28 + "!"
# Patterns a backtracking engine runs in reasonable time, as the SDKs and apps send them.
EVERYDAY = [
    "^\\Qa+b (c)\\E",  # startsWith
    "\\Qa+b (c)\\E",  # contains
    "\\Qa+b (c)\\E$",  # endsWith
    "^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$",
    "[\\w.+-]+@[\\w-]+\\.[\\w.-]+",
    "^[a-z0-9_]+$",
    "(foo|bar)",
    "\\d{3}-\\d{4}",
    "^\\+?[0-9 ()-]{7,20}$",
    "colou?r",
    ".*foo.*",
    "a.*b",
    "^(?:[a-z]+,)*[a-z]+$",
    "(\\w+\\s)*end",
    "^\\d+(\\.\\d+)?$",
]
RUNAWAY = [
    CATASTROPHIC,
    "(a+)+",
    "(\\w+\\s?)*$",
    "(.*a){20}",
    "(a|aa)+$",
    "(a|a)*$",
    "^\\w+([\\.-]?\\w+)*@\\w+([\\.-]?\\w+)*(\\.\\w{2,3})+$",
    "(a?){25}a{25}",
    ".*a.*a.*b",
    "(?=(a+)+$)",
]


def where(pattern: str) -> dict[str, str]:
    return {"where": json.dumps({"title": {"$regex": pattern}})}


def notes_query(pattern: str) -> dict[str, Any]:
    return {
        "query": "query Find($pattern: String!) "
        "{ notes(where: {title: {matchesRegex: $pattern}}) { count edges { node { title } } } }",
        "variables": {"pattern": pattern},
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(
    request: pytest.FixtureRequest, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    settings = make_settings(database_server, request.module.__name__, tmp_path_factory.mktemp("data"))
    async with running(settings) as (_, client):
        api = Api(client)
        created = await api.post("/schemas/Note", {"fields": {"title": {"type": "String"}}}, master=True)
        assert created.status_code == 200, created.text
        for title in (LONG_TITLE, "a+b (c) and foo", "ann@example.com"):
            assert (await api.post("/classes/Note", {"title": title}, master=True)).status_code == 201
        yield api


@UNBOUNDED
async def test_a_runaway_pattern_is_refused_quickly_in_rest_and_graphql_while_the_server_answers(api: Api) -> None:
    async def find() -> httpx.Response:
        return await api.client.get("/parse/classes/Note", params=where(CATASTROPHIC), headers=PUBLIC)

    async def graphql() -> httpx.Response:
        return await api.client.post("/graphql", json=notes_query(CATASTROPHIC), headers=PUBLIC)

    async with asyncio.timeout(10):
        refused, graphql_refused, health, other = await asyncio.gather(
            find(),
            graphql(),
            api.client.get("/parse/health"),
            api.client.get("/parse/classes/Note", params=where("^a\\+b"), headers=PUBLIC),
        )
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == 102
    assert "^(a+)+$" in refused.json()["error"] and "exponentially many ways" in refused.json()["error"]
    error = graphql_refused.json()["errors"][0]
    assert error["extensions"]["code"] == 102 and "exponentially" in error["message"]
    assert health.json() == {"status": "ok"}
    assert [row["title"] for row in other.json()["results"]] == ["a+b (c) and foo"]


@pytest.mark.parametrize("pattern", EVERYDAY)
async def test_everyday_patterns_are_run(api: Api, pattern: str) -> None:
    answer = await api.client.get("/parse/classes/Note", params=where(pattern), headers=PUBLIC)
    assert answer.status_code == 200, answer.text


@UNBOUNDED
@pytest.mark.parametrize("pattern", RUNAWAY)
async def test_patterns_that_backtrack_for_ages_are_refused(api: Api, pattern: str) -> None:
    answer = await api.client.get("/parse/classes/Note", params=where(pattern), headers=PUBLIC)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 102 and "is refused" in answer.json()["error"]


@UNBOUNDED
async def test_the_master_key_and_sub_queries_are_checked_as_they_should(api: Api) -> None:
    """The master key is trusted with its own patterns (here a harmless title); a sub-query of a public
    caller is checked like any find."""
    master = await api.get("/classes/Note", master=True, params=where("(a|b)+$"))
    assert master.status_code == 200, master.text
    sub_query = {"objectId": {"$inQuery": {"className": "Note", "where": {"title": {"$regex": CATASTROPHIC}}}}}
    answer = await api.client.get("/parse/classes/Note", params={"where": json.dumps(sub_query)}, headers=PUBLIC)
    assert answer.status_code == 400 and answer.json()["code"] == 102


SLOW_ROWS = 640
# Safe (quadratic) but slow on long titles: about 2 ms a document for Python's `re`.
SLOW = "\\w+\\d"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def slow_database(request: pytest.FixtureRequest, database_server: str, tmp_path: Path) -> str:
    """A database with a class a slow-but-safe pattern takes a second or more to scan."""
    settings = make_settings(database_server, request.module.__name__ + "_slow", tmp_path)
    async with running(settings) as (_, client):
        api = Api(client)
        for start in range(0, SLOW_ROWS, 40):
            body = {"method": "POST", "path": "/parse/classes/Row", "body": {"title": "a" * 500, "n": start}}
            batch = await api.post("/batch", {"requests": [body] * 40}, master=True)
            assert batch.status_code == 200, batch.text
    return settings.database_uri or ""


@pytest.fixture(scope="module")
def tmp_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("slow")


@mongodb_only("the slow pattern is slow on SecantusDB's backtracking engine; PostgreSQL's answers in milliseconds")
async def test_a_query_past_the_time_limit_answers_124_and_runs_without_the_limit(
    slow_database: str, tmp_path: Path
) -> None:
    limited = make_settings("", "", tmp_path, database_uri=slow_database, max_query_time=0.05)
    async with running(limited) as (_, client):
        answer = await client.get("/parse/classes/Row", params=where(SLOW), headers=PUBLIC)
        assert answer.status_code == 400, answer.text
        assert answer.json() == {
            "code": 124,
            "error": "Request timed out: the query ran longer than this server allows (0.05 s).",
        }
        counted = await client.get(
            "/parse/classes/Row", params={**where(SLOW), "count": "1", "limit": "0"}, headers=PUBLIC
        )
        assert counted.json()["code"] == 124
        graphql = await client.post(
            "/graphql",
            json={"query": '{ rows(where: {title: {matchesRegex: "\\\\w+\\\\d"}}) { count } }'},
            headers=PUBLIC,
        )
        assert graphql.status_code == 200
        assert graphql.json()["errors"][0]["extensions"]["code"] == 124
    unlimited = make_settings("", "", tmp_path, database_uri=slow_database)
    async with running(unlimited) as (_, client):
        answer = await client.get("/parse/classes/Row", params={**where(SLOW), "count": "1"}, headers=PUBLIC)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"results": [], "count": 0}


@mongodb_only("SecantusDB, which checks its time limit only between documents")
async def test_a_database_that_does_not_stop_is_given_up_on_soon_after_the_limit(tmp_path: Path) -> None:
    """SecantusDB checks its time limit between documents, so one pattern match (sent here with the master
    key, which is not checked) holds it past the limit: this side gives up a second later, answers 124, and
    the database, private to this test, is killed."""
    database = EmbeddedDatabase(tmp_path / "frozen")
    uri = await asyncio.to_thread(database.start)
    try:
        settings = make_settings("", "", tmp_path, database_uri=uri, max_query_time=0.2)
        async with running(settings) as (_, client):
            api = Api(client)
            assert (await api.post("/classes/Note", {"title": "a" * 34 + "!"}, master=True)).status_code == 201
            async with asyncio.timeout(20):
                answer = await api.get("/classes/Note", master=True, params=where(CATASTROPHIC))
            assert answer.status_code == 400, answer.text
            assert answer.json()["code"] == 124
            # Before the server closes its client, which would wait on the frozen database.
            await asyncio.to_thread(database.stop, 2.0)
    finally:
        await asyncio.to_thread(database.stop, 2.0)
