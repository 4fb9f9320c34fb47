"""The playground at /playground: its built assets are current, served with the right types and headers, and it
learns the application id from the server without ever being given a key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from app.transport.playground import DIST
from tests.conftest import MASTER_KEY, make_settings, running

SOURCE = DIST.parent


def source_hash(root: Path) -> str:
    """The hash `playground/build.mjs` records in dist/build.json: every source file's path and bytes, in order."""
    paths = ["package.json", "package-lock.json", "build.mjs"]
    paths += [path.relative_to(root).as_posix() for path in (root / "src").rglob("*") if path.is_file()]
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.encode() + b"\0" + (root / path).read_bytes() + b"\0")
    return digest.hexdigest()


def test_built_assets_are_not_older_than_their_source() -> None:
    recorded = json.loads((DIST / "build.json").read_text())["source_sha256"]
    assert recorded == source_hash(SOURCE), (
        "playground/dist was built from other sources than playground/src and its package files: "
        "run `make playground` and commit playground/dist"
    )


def test_built_page_loads_only_its_own_files_by_relative_urls() -> None:
    page = (DIST / "index.html").read_text()
    assert 'src="./playground.js"' in page and 'href="./playground.css"' in page
    for name in ("index.html", "playground.js", "playground.css"):
        text = (DIST / name).read_text()
        assert "cdn." not in text and "unpkg.com" not in text and "fonts.googleapis" not in text, name


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with running(make_settings(database_server, "playground", tmp_path_factory.mktemp("data"))) as (_, client):
        yield client


async def test_playground_redirects_to_its_page(client: httpx.AsyncClient) -> None:
    answer = await client.get("/playground")
    assert answer.status_code in (307, 308)
    assert answer.headers["location"].endswith("/playground/")


async def test_page_and_assets_are_served_with_their_types_and_a_strict_policy(client: httpx.AsyncClient) -> None:
    page = await client.get("/playground/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "ParseQL playground" in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    script = await client.get("/playground/playground.js")
    assert script.status_code == 200
    assert script.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    style = await client.get("/playground/playground.css")
    assert style.headers["content-type"].startswith("text/css")
    assert (await client.get("/playground/missing.js")).status_code == 404


async def test_config_gives_the_application_id_and_never_a_key(client: httpx.AsyncClient) -> None:
    answer = await client.get("/playground/config.json")
    assert answer.json() == {"appId": "app", "publicIntrospection": False}
    assert MASTER_KEY not in answer.text


async def test_introspection_from_the_page_still_needs_the_master_key(client: httpx.AsyncClient) -> None:
    query = {"query": "{ __schema { queryType { name } } }"}
    headers = {"X-Parse-Application-Id": "app", "Origin": "http://127.0.0.1:1337", "Referer": "/playground/"}
    refused = await client.post("/graphql", json=query, headers=headers)
    assert refused.status_code == 403
    allowed = await client.post("/graphql", json=query, headers={**headers, "X-Parse-Master-Key": MASTER_KEY})
    assert allowed.json() == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_playground_setting_off_serves_nothing(database_server: str, tmp_path: Path) -> None:
    async with running(make_settings(database_server, "playground_off", tmp_path, playground=False)) as (_, client):
        assert (await client.get("/playground/")).status_code == 404


async def test_an_unbuilt_playground_says_how_to_build_it(database_server: str, tmp_path: Path) -> None:
    from app.transport.playground import playground_app

    settings = make_settings(database_server, "playground_unbuilt", tmp_path)
    transport = httpx.ASGITransport(app=playground_app(settings, tmp_path / "dist"))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.get("/")
        assert answer.status_code == 404 and "make playground" in answer.text
        assert (await client.get("/config.json")).json()["appId"] == "app"
