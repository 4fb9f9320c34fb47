"""/graphql over HTTP beyond what the recorded transcripts show: multipart requests, limits, methods, and the
setting that opens introspection (for the playground in development)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.conftest import APP_ID, MASTER_KEY, make_settings, running
from tests.graphql.helpers import Gql

pytestmark = pytest.mark.asyncio(loop_scope="session")
HEADERS = {"X-Parse-Application-Id": APP_ID}


async def test_a_multipart_request_puts_each_file_where_its_map_says(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "gql_multipart", tmp_path)
    upload = {
        "query": "mutation($f: Upload!) { createFile(input: {upload: $f}) { fileInfo { name } } }",
        "variables": {"f": None},
    }
    file = {"0": ("a.txt", b"hello", "text/plain")}
    async with running(settings) as (_, client):

        async def send(mapping: dict[str, list[str]]) -> httpx.Response:
            form = {"operations": json.dumps(upload), "map": json.dumps(mapping)}
            return await client.post("/graphql", headers=HEADERS, data=form, files=file)

        # The file took the place of the null: createFile ran, and refused the public as Parse's REST route does.
        stored = await send({"0": ["variables.f"]})
        assert stored.status_code == 200
        assert stored.json()["errors"][0]["extensions"] == {"code": 130}
        assert stored.json()["errors"][0]["message"] == "File upload by public is disabled."
        # Without the map, the required upload is null and nothing runs.
        assert (await send({})).json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT"}
        lost = await send({"0": ["variables.nowhere"]})
        assert lost.status_code == 400
        assert lost.json()["errors"][0]["message"] == (
            "The map names a path that is not in the operation: variables.nowhere"
        )


async def test_requests_outside_the_protocol_are_refused_with_a_reason(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "gql_refused", tmp_path, max_upload_size=2048)
    async with running(settings) as (_, client):
        too_big = await client.post("/graphql", headers=HEADERS, json={"query": "{ health }", "pad": "x" * 4096})
        assert too_big.status_code == 413
        put = await client.put("/graphql", headers=HEADERS, json={"query": "{ health }"})
        assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
        bad_variables = await client.get("/graphql", headers=HEADERS, params={"query": "{ health }", "variables": "{"})
        assert bad_variables.status_code == 400
        assert bad_variables.json()["errors"][0]["message"] == "The variables search parameter contains invalid JSON."
        preflight = await client.options("/graphql", headers={"Origin": "http://example.com"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
        no_app = await client.post("/graphql", json={"query": "{ health }"})
        assert no_app.status_code == 403 and no_app.json() == {"error": "unauthorized"}


async def test_introspection_and_hints_need_the_master_key_unless_the_setting_opens_them(
    database_server: str, tmp_path: Path
) -> None:
    closed = make_settings(database_server, "gql_introspection", tmp_path)
    async with running(closed) as (_, client):
        gql = Gql(client)
        refused = await gql.post("{ __schema { queryType { name } } }")
        assert refused.status_code == 403
        assert refused.json() == {
            "errors": [{"message": "Introspection is not allowed", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
        }
        hidden = await gql.post("{ helth }")
        assert hidden.json()["errors"][0]["message"] == 'Cannot query field "helth".'
        assert (await gql.post("{ __schema { queryType { name } } }", master=True)).status_code == 200
    opened = closed.replace(graphql_public_introspection=True)
    async with running(opened) as (_, client):
        gql = Gql(client)
        assert await gql.data("{ __schema { queryType { name } } }") == {"__schema": {"queryType": {"name": "Query"}}}
        hint = await gql.post("{ helth }")
        assert (
            hint.json()["errors"][0]["message"] == 'Cannot query field "helth" on type "Query". Did you mean "health"?'
        )


async def test_documents_are_validated_once_per_schema_version(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "gql_documents", tmp_path)
    async with running(settings) as (app, client):
        gql = Gql(client)
        endpoint = next(route.endpoint for route in app.routes if getattr(route, "path", "") == "/graphql")  # type: ignore[attr-defined]
        cache = endpoint.executor.cache
        await gql.data("{ health }")
        first = cache.documents["{ health }"]
        await gql.data("{ health }")
        assert cache.documents["{ health }"] is first  # parsed and validated once
        schema = cache.schema
        await client.post("/parse/schemas/Thing", json={}, headers={**HEADERS, "X-Parse-Master-Key": MASTER_KEY})
        await gql.data("{ health }")
        assert cache.schema is not schema and cache.documents["{ health }"] is not first
