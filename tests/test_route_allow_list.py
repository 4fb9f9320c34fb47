"""Parse's `routeAllowList` (`--route-allow-list`): callers without the master key reach only the REST routes the
patterns name, batch sub-requests included; what Parse Server 9.10 answers otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from app.settings import Settings, SettingsError
from tests.conftest import Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

REFUSED = (400, {"code": 119, "error": "Permission denied"})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    settings = make_settings(
        database_server,
        "route_allow_list",
        tmp_path_factory.mktemp("data"),
        route_allow_list=["classes/Chat.*", "users", "login", "batch"],
        allow_client_class_creation=True,
    )
    async with running(settings) as (_, client):
        yield Api(client)


async def test_listed_routes_answer_and_others_are_refused_without_the_master_key(api: Api) -> None:
    assert (await api.post("/classes/ChatMessage", {"text": "hi"})).status_code == 201
    assert (await api.get("/classes/ChatRoom")).status_code == 200
    assert (await api.post("/users", {"username": "ada", "password": "pw"})).status_code == 201
    assert (await api.post("/login", {"username": "ada", "password": "pw"})).status_code == 200
    for method, path in (("GET", "/classes/Secret"), ("POST", "/functions/hello"), ("GET", "/config")):
        refused = await api.request(method, path)
        assert (refused.status_code, refused.json()) == REFUSED, path
    # `classes/Chat.*` must match the whole route: a longer path is another route.
    assert (await api.get("/classes/Secret/ChatMessage")).json() == REFUSED[1]
    # The master key goes everywhere, and the health check is never refused.
    assert (await api.get("/classes/Secret", master=True)).status_code == 200
    assert (await api.get("/health")).status_code == 200


async def test_a_batch_with_one_route_not_listed_runs_nothing(api: Api) -> None:
    requests = [
        {"method": "POST", "path": "/parse/classes/ChatMessage", "body": {"text": "batched"}},
        {"method": "POST", "path": "/parse/classes/Secret", "body": {"text": "smuggled"}},
    ]
    refused = await api.post("/batch", {"requests": requests})
    assert (refused.status_code, refused.json()) == REFUSED
    written = await api.get("/classes/ChatMessage", params={"where": {"text": "batched"}}, master=True)
    assert written.json()["results"] == []


async def test_an_empty_list_closes_every_route_to_clients(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "route_allow_none", tmp_path, route_allow_list=[])
    async with running(settings) as (_, client):
        api = Api(client)
        assert (await api.get("/classes/Anything")).json() == REFUSED[1]
        assert (await api.get("/classes/Anything", master=True)).status_code == 200


async def test_the_patterns_are_checked_when_the_settings_load() -> None:
    assert Settings.load({}, env={}).route_allow_list is None
    loaded = Settings.load({}, env={"PARSEQL_ROUTE_ALLOW_LIST": "classes/ChatMessage,users,functions/.*"})
    assert loaded.route_allow_list == ["classes/ChatMessage", "users", "functions/.*"]
    with pytest.raises(SettingsError, match="--route-allow-list"):
        Settings.load({"route_allow_list": "classes/(unclosed"}, env={})
