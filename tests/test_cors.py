"""CORS as Parse's `allowOrigin` and `allowHeaders` set it: what a browser on another origin is told, on every
kind of response (REST, GraphQL, files, a preflight, an error)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

APP, ADMIN = "https://app.example.com", "https://admin.example.com"
PARSE_HEADERS = (
    "X-Parse-Master-Key, X-Parse-REST-API-Key, X-Parse-Javascript-Key, X-Parse-Application-Id, "
    "X-Parse-Client-Version, X-Parse-Session-Token, X-Requested-With, X-Parse-Revocable-Session, "
    "X-Parse-Request-Id, Content-Type, Pragma, Cache-Control"
)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    settings = make_settings(
        database_server,
        "cors",
        tmp_path_factory.mktemp("data"),
        allow_origin=[APP, ADMIN],
        allow_headers=["X-Tenant", "X-Trace-Id"],
        allow_client_class_creation=True,
    )
    async with running(settings) as (_, client):
        yield Api(client)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("OPTIONS", "/parse/classes/Note"),
        ("GET", "/parse/classes/Note"),
        ("POST", "/graphql"),
        ("OPTIONS", "/parse/files/note.txt"),
        ("GET", "/parse/no-such-route"),
    ],
)
async def test_a_listed_origin_is_echoed_and_the_extra_headers_allowed(api: Api, method: str, path: str) -> None:
    answer = await api.client.request(
        method, path, headers={**api.headers(), "Origin": ADMIN}, json={"query": "{ health }"}
    )
    assert answer.headers["access-control-allow-origin"] == ADMIN
    assert answer.headers["access-control-allow-headers"] == f"{PARSE_HEADERS}, X-Tenant, X-Trace-Id"
    assert answer.headers["vary"] == "Origin"


async def test_another_origin_is_told_the_first_listed_one(api: Api) -> None:
    for origin in ("https://evil.example.net", None):
        headers = {**api.headers(), **({"Origin": origin} if origin else {})}
        answer = await api.client.get("/parse/classes/Note", headers=headers)
        assert answer.headers["access-control-allow-origin"] == APP


async def test_by_default_any_origin_and_parses_headers(database_server: str, tmp_path: Path) -> None:
    async with running(make_settings(database_server, "cors_default", tmp_path)) as (_, client):
        answer = await client.options("/parse/classes/Note", headers={"Origin": ADMIN})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    assert answer.headers["access-control-allow-headers"] == PARSE_HEADERS
