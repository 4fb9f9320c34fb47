"""The PostgreSQL engine itself, on every run: the embedded server's start and stop, Parse Server's PostgreSQL
layout as the engine writes it (tables, column types, `_SCHEMA`, `_Join` tables, index names), and the time limit.

On a MongoDB run they use an embedded PostgreSQL started beside it (`postgres_server`); with
PARSEQL_TEST_ENGINE=postgres, the suite's.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio

from app.embedded_postgres import EmbeddedPostgres
from app.errors import RequestTimeoutError
from app.storage.postgres.connection import Database
from tests.conftest import Api, fresh_uri, make_settings, running


@pytest.fixture(scope="module")
def server(postgres_server: str) -> str:
    return postgres_server


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def app(server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Api, str]]:
    settings = make_settings(server, "pg_layout", tmp_path_factory.mktemp("pg"), allow_client_class_creation=True)
    async with running(settings) as (_, client):
        yield Api(client), settings.database_uri or ""


def rows(uri: str, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(uri) as connection:
        return connection.execute(query.encode(), params).fetchall()


def test_the_embedded_server_starts_on_a_free_port_and_stops(tmp_path: Path) -> None:
    import tempfile

    database = EmbeddedPostgres(tempfile.mkdtemp(prefix="parseql-test-pg-"), durable=False)
    uri = database.start()
    try:
        with psycopg.connect(uri) as connection:
            assert connection.execute("SHOW server_version_num").fetchone()[0] >= "180000"  # type: ignore[index]
    finally:
        database.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", database.port), timeout=1):
        pass


@pytest.mark.asyncio(loop_scope="session")
async def test_objects_are_stored_in_parse_servers_postgresql_layout(app: tuple[Api, str]) -> None:
    api, uri = app
    other = (await api.post("/classes/Other", {"n": 1})).json()["objectId"]
    created = await api.post(
        "/classes/Written",
        {
            "title": "x",
            "count": 2,
            "when": {"__type": "Date", "iso": "2024-01-02T03:04:05.678Z"},
            "meta": {"a": [1, 2]},
            "tags": ["a"],
            "spot": {"__type": "GeoPoint", "latitude": 10, "longitude": 20},
            "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1]]},
            "other": {"__type": "Pointer", "className": "Other", "objectId": other},
            "friends": {
                "__op": "AddRelation",
                "objects": [{"__type": "Pointer", "className": "Other", "objectId": other}],
            },
            "ACL": {"*": {"read": True}},
        },
    )
    assert created.status_code == 201, created.text
    object_id = created.json()["objectId"]
    types = dict(
        rows(uri, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", ("Written",))
    )
    assert types == {
        "objectId": "text",
        "createdAt": "timestamp with time zone",
        "updatedAt": "timestamp with time zone",
        "title": "text",
        "count": "double precision",
        "when": "timestamp with time zone",
        "meta": "jsonb",
        "tags": "jsonb",
        "spot": "point",
        "area": "polygon",
        "other": "text",
        "_rperm": "ARRAY",
        "_wperm": "ARRAY",
    }
    [(pointer, rperm, spot)] = rows(uri, 'SELECT "other", "_rperm", "spot"::text FROM "Written"')
    assert (pointer, rperm, spot) == (other, ["*"], "(20,10)")  # a pointer is the bare objectId; x is longitude
    assert rows(uri, 'SELECT "relatedId", "owningId" FROM "_Join:friends:Written"') == [(other, object_id)]
    [(schema, is_parse)] = rows(
        uri, 'SELECT "schema", "isParseClass" FROM "_SCHEMA" WHERE "className" = %s', ("Written",)
    )
    assert is_parse is True and schema["className"] == "Written"
    assert schema["fields"]["other"] == {"type": "Pointer", "targetClass": "Other"}
    assert schema["fields"]["friends"] == {"type": "Relation", "targetClass": "Other"}
    assert schema["fields"]["_rperm"] == {"type": "Array"}


@pytest.mark.asyncio(loop_scope="session")
async def test_users_have_parses_indexes_and_unique_names_regardless_of_case(app: tuple[Api, str]) -> None:
    api, uri = app
    assert (await api.post("/users", {"username": "Ada", "password": "p", "email": "ada@x.org"})).status_code == 201
    again = await api.post("/users", {"username": "ada", "password": "p"})
    assert again.json().get("code") == 202, again.text
    mail = await api.post("/users", {"username": "bob", "password": "p", "email": "ADA@x.org"})
    assert mail.json()["code"] == 203
    names = {name for (name,) in rows(uri, "SELECT indexname FROM pg_indexes WHERE tablename = '_User'")}
    assert {"_User_unique_username", "_User_unique_email", "case_insensitive_username"} <= names
    [(hashed,)] = rows(uri, 'SELECT "_hashed_password" FROM "_User" WHERE "username" = %s', ("Ada",))
    assert hashed.startswith("$2")


@pytest.mark.asyncio(loop_scope="session")
async def test_a_statement_past_the_time_limit_answers_124(server: str) -> None:
    database = Database(fresh_uri(server, "pg_timeout"), max_query_time=0.1)
    try:
        assert await database.fetch("SHOW statement_timeout") == [{"statement_timeout": "100ms"}]
        async with asyncio.timeout(5):
            with pytest.raises(RequestTimeoutError) as stopped:
                await database.fetch("SELECT pg_sleep(2)")
        assert stopped.value.code == 124
    finally:
        await database.close()


@pytest.mark.asyncio(loop_scope="session")
async def test_concurrent_first_writes_create_the_class_and_its_columns_once(app: tuple[Api, str]) -> None:
    api, uri = app
    answers = await asyncio.gather(
        *(api.post("/classes/Raced", {f"field{n % 4}": n, "shared": "x"}) for n in range(16))
    )
    assert [answer.status_code for answer in answers] == [201] * 16, [answer.text for answer in answers]
    columns = {
        name for (name,) in rows(uri, "SELECT column_name FROM information_schema.columns WHERE table_name = 'Raced'")
    }
    assert {"field0", "field1", "field2", "field3", "shared"} <= columns
    assert (await api.get("/classes/Raced", params={"count": "1", "limit": "0"})).json()["count"] == 16


@pytest.mark.asyncio(loop_scope="session")
async def test_a_uris_own_connection_options_are_kept_beside_the_time_limit(server: str, tmp_path: Path) -> None:
    # A managed PostgreSQL often puts an app in a schema of its own, named in the URI: `options=-c search_path=…`.
    uri = fresh_uri(server, "pg_uri_options")
    with psycopg.connect(uri, autocommit=True) as connection:
        connection.execute("CREATE SCHEMA app")
    own = f"{uri}?options=-c%20search_path%3Dapp&application_name=shop"
    settings = make_settings(server, "unused", tmp_path, max_query_time=5.0).replace(database_uri=own)
    async with running(settings) as (_, client):
        created = await Api(client).post("/classes/Note", {"text": "in the app schema"}, master=True)
        assert created.status_code == 201, created.text
        sessions = rows(uri, "SELECT application_name FROM pg_stat_activity WHERE datname = current_database()")
    assert rows(uri, "SELECT schemaname FROM pg_tables WHERE tablename = 'Note'") == [("app",)]
    assert ("shop",) in sessions and ("parseql",) not in sessions
    database = Database(own, max_query_time=0.25)
    try:
        assert await database.fetch("SHOW statement_timeout") == [{"statement_timeout": "250ms"}]
        assert await database.fetch("SHOW search_path") == [{"search_path": "app"}]
    finally:
        await database.close()
