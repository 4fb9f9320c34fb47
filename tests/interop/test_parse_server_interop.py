"""ParseQL and Parse Server 9.10 on one database: each reads what the other wrote, field for field.

Both on MongoDB (the suite's database server), and both on PostgreSQL: Debian's PostgreSQL 15 with PostGIS, which
Parse Server's adapter wants for geo (tests/interop/postgres15.py)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, running
from tests.interop.peer import parse_server, require_peer
from tests.interop.postgres15 import create_database, postgres15

pytestmark = pytest.mark.asyncio(loop_scope="session")
HEADERS = {
    "X-Parse-Application-Id": "app",
    "X-Parse-Master-Key": "master",
    "Content-Type": "application/json",
}

EVERY_TYPE: dict[str, Any] = {
    "name": "every type",
    "count": 42,
    "ratio": 1.5,
    "flag": True,
    "nothing": None,
    "when": {"__type": "Date", "iso": "2024-05-06T07:08:09.010Z"},
    "tags": [
        "x",
        2,
        {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"},
        {"__type": "Pointer", "className": "Other", "objectId": "abcdefghij"},
    ],
    "meta": {"nested": {"deep": [1, 2]}, "at": {"__type": "Date", "iso": "2021-02-03T04:05:06.007Z"}},
    "owner": {"__type": "Pointer", "className": "Other", "objectId": "abcdefghij"},
    "spot": {"__type": "GeoPoint", "latitude": 52.52, "longitude": 13.405},
    "area": {"__type": "Polygon", "coordinates": [[0, 0], [0, 2], [2, 2], [2, 0]]},
    "raw": {"__type": "Bytes", "base64": "aGVsbG8gd29ybGQ="},
    "doc": {"__type": "File", "name": "abc_report.pdf", "url": "http://ignored/abc_report.pdf"},
    "ACL": {"*": {"read": True}, "role:Staff": {"write": True}},
}


def comparable(body: Any) -> Any:
    """Both servers' answers with file URLs reduced to their path (each names its own host)."""
    if isinstance(body, dict):
        if body.get("__type") == "File" and isinstance(body.get("url"), str):
            return {**body, "url": re.sub(r"^https?://[^/]+", "", body["url"])}
        return {key: comparable(value) for key, value in body.items()}
    if isinstance(body, list):
        return [comparable(item) for item in body]
    return body


@pytest.fixture(scope="session")
def postgres15_server() -> Iterator[str]:
    with postgres15() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["suite", "postgres15"])
async def servers(
    request: pytest.FixtureRequest, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Api, httpx.AsyncClient]]:
    require_peer()
    settings = make_settings(
        database_server,
        "interop",
        Path(tmp_path_factory.mktemp("interop")),
        allow_client_class_creation=True,
        idempotency_paths=[".*"],
    )
    if request.param == "postgres15":
        server = request.getfixturevalue("postgres15_server")
        settings = settings.replace(database_uri=create_database(server, f"interop_{uuid.uuid4().hex[:8]}"))
    assert settings.database_uri
    async with running(settings) as (_, client):
        ours = Api(client)
        await ours.get("/classes/Warmup")  # schema bootstrap done before Parse starts on the same data
        async with parse_server(settings.database_uri, idempotency_paths=[".*"]) as peer:
            yield ours, peer


async def test_parse_server_reads_objects_parseql_wrote(servers: tuple[Api, httpx.AsyncClient]) -> None:
    ours, peer = servers
    created = await ours.post("/classes/Written", EVERY_TYPE)
    assert created.status_code == 201, created.text
    object_id = created.json()["objectId"]
    friend = (await ours.post("/classes/Other", {"n": 1})).json()["objectId"]
    updated = await ours.put(
        f"/classes/Written/{object_id}",
        {
            "friends": {
                "__op": "AddRelation",
                "objects": [{"__type": "Pointer", "className": "Other", "objectId": friend}],
            },
            "count": {"__op": "Increment", "amount": 1},
        },
        master=True,
    )  # the ACL lets only role:Staff write
    assert updated.json()["count"] == 43
    mine = (await ours.get(f"/classes/Written/{object_id}", master=True)).json()
    theirs = (await peer.get(f"/parse/classes/Written/{object_id}", headers=HEADERS)).json()
    assert comparable(theirs) == comparable(mine)
    assert list(theirs) == list(mine)  # the same key order too
    related = await peer.get(
        "/parse/classes/Other",
        headers=HEADERS,
        params={
            "where": json.dumps(
                {
                    "$relatedTo": {
                        "object": {"__type": "Pointer", "className": "Written", "objectId": object_id},
                        "key": "friends",
                    }
                }
            )
        },
    )
    assert [row["objectId"] for row in related.json()["results"]] == [friend]


async def test_parseql_reads_objects_parse_server_wrote(servers: tuple[Api, httpx.AsyncClient]) -> None:
    ours, peer = servers
    body = {key: value for key, value in EVERY_TYPE.items() if key != "doc"}  # Parse 9.10 rejects foreign file URLs
    created = await peer.post("/parse/classes/FromParse", headers=HEADERS, json=body)
    assert created.status_code == 201, created.text
    object_id = created.json()["objectId"]
    theirs = (await peer.get(f"/parse/classes/FromParse/{object_id}", headers=HEADERS)).json()
    mine = (await ours.get(f"/classes/FromParse/{object_id}", master=True)).json()
    assert comparable(mine) == comparable(theirs)
    assert list(mine) == list(theirs)
    public = await ours.get("/classes/FromParse", params={"where": {"spot": {"$exists": True}}})
    assert [row["objectId"] for row in public.json()["results"]] == [object_id]


async def test_parse_server_reads_a_class_schema_parseql_created(
    servers: tuple[Api, httpx.AsyncClient],
) -> None:
    ours, peer = servers
    definition = {
        "className": "Defined",
        "fields": {
            "title": {"type": "String", "required": True},
            "score": {"type": "Number", "defaultValue": 10},
            "owner": {"type": "Pointer", "targetClass": "_User"},
        },
        "classLevelPermissions": {
            "find": {"*": True},
            "get": {"*": True},
            "count": {},
            "create": {"*": True},
            "update": {"requiresAuthentication": True},
            "delete": {},
            "addField": {},
            "protectedFields": {"*": ["owner"]},
        },
        "indexes": {"title_1": {"title": 1}},
    }
    assert (await ours.post("/schemas", definition, master=True)).status_code == 200
    mine = (await ours.get("/schemas/Defined", master=True)).json()
    theirs = (await peer.get("/parse/schemas/Defined", headers=HEADERS)).json()
    assert theirs == mine
    refused = await peer.post("/parse/classes/Defined", headers={"X-Parse-Application-Id": "app"}, json={})
    assert refused.json() == {"code": 142, "error": "title is required"}


async def test_users_signed_up_on_one_log_in_on_the_other(servers: tuple[Api, httpx.AsyncClient]) -> None:
    ours, peer = servers
    app_only = {"X-Parse-Application-Id": "app"}
    theirs = await peer.post(
        "/parse/users", headers=app_only, json={"username": "FromParse", "password": "p1", "email": "Fp@Example.com"}
    )
    assert theirs.status_code == 201, theirs.text
    mine = await ours.post("/users", {"username": "FromParseQL", "password": "p2", "email": "fq@example.com"})
    assert mine.status_code == 201, mine.text
    logged_in = await ours.get("/login", params={"username": "FromParse", "password": "p1"})
    assert logged_in.status_code == 200 and logged_in.json()["objectId"] == theirs.json()["objectId"]
    logged_in = await peer.get("/parse/login", headers=app_only, params={"username": "FromParseQL", "password": "p2"})
    assert logged_in.status_code == 200 and logged_in.json()["objectId"] == mine.json()["objectId"]
    me = await peer.get("/parse/users/me", headers={**app_only, "X-Parse-Session-Token": mine.json()["sessionToken"]})
    assert me.json()["username"] == "FromParseQL"  # a session ParseQL made is one Parse Server knows
    taken = await ours.post("/users", {"username": "fromparse", "password": "x"})
    assert taken.json() == {"code": 202, "error": "Account already exists for this username."}
    taken = await peer.post(
        "/parse/users", headers=app_only, json={"username": "x2", "password": "x", "email": "FQ@example.com"}
    )
    assert taken.json() == {"code": 203, "error": "Account already exists for this email address."}


async def test_webhooks_declared_on_one_are_read_changed_and_removed_on_the_other(
    servers: tuple[Api, httpx.AsyncClient],
) -> None:
    ours, peer = servers
    theirs_hook = {"functionName": "fromParse", "url": "http://127.0.0.1:9/parse"}
    created = await peer.post("/parse/hooks/functions", headers=HEADERS, json=theirs_hook)
    assert created.status_code == 200, created.text
    mine_hook = {"className": "Hooked", "triggerName": "afterSave", "url": "http://127.0.0.1:9/parseql"}
    assert (await ours.post("/hooks/triggers", mine_hook, master=True)).status_code == 200

    assert (await ours.get("/hooks/functions/fromParse", master=True)).json() == theirs_hook
    listed = (await peer.get("/parse/hooks/triggers/Hooked/afterSave", headers=HEADERS)).json()
    assert listed == {"className": "Hooked", "triggerName": "afterSave", "url": "http://127.0.0.1:9/parseql"}

    moved = await ours.put("/hooks/functions/fromParse", {"url": "http://127.0.0.1:9/moved"}, master=True)
    assert moved.status_code == 200, moved.text
    assert (await peer.get("/parse/hooks/functions/fromParse", headers=HEADERS)).json()["url"].endswith("/moved")
    assert (await ours.put("/hooks/functions/fromParse", {"__op": "Delete"}, master=True)).json() == {}
    assert (await peer.get("/parse/hooks/functions", headers=HEADERS)).json() == []
    removed = await peer.put("/parse/hooks/triggers/Hooked/afterSave", headers=HEADERS, json={"__op": "Delete"})
    assert removed.json() == {}
    assert (await ours.get("/hooks/triggers", master=True)).json() == []


async def test_a_request_id_used_on_one_server_is_refused_by_the_other(servers: tuple[Api, httpx.AsyncClient]) -> None:
    # One `_Idempotency` for both: a retry that reaches the other server still runs nothing.
    ours, peer = servers
    duplicate = {"code": 159, "error": "Duplicate request"}
    for first, second, request_id in ((ours.client, peer, "from-parseql"), (peer, ours.client, "from-parse-server")):
        headers = {**ours.headers(), "X-Parse-Request-Id": request_id}
        created = await first.post("/parse/classes/Retried", json={"tag": request_id}, headers=headers)
        assert created.status_code == 201, created.text
        retried = await second.post("/parse/classes/Retried", json={"tag": request_id}, headers=headers)
        assert (retried.status_code, retried.json()) == (400, duplicate)
        count = await ours.get("/classes/Retried", params={"where": {"tag": request_id}, "count": 1, "limit": 0})
        assert count.json()["count"] == 1
