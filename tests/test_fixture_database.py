"""A database written by Parse Server 9.10, served by ParseQL: what its README says a correct server shows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, mongodb_only, running
from tests.seed import load_fixture, make_session

ALICE, BOB = "cehnq34G1J", "yb9bLDhKU0"
ALICE_TOKEN = "r:dd4732be15175161a102137166acfb30"  # her login session, as Parse wrote it
PUBLIC_POST, PRIVATE_POST = "DBbd4XUV7W", "wIZEgKychm"

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    mongodb_only("loads the database Parse Server wrote on MongoDB (PostgreSQL gets it through a migration)"),
]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def served(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Api, str]]:
    # Default settings (no client class creation), as a production app would run.
    settings = make_settings(database_server, "fixture", Path(tmp_path_factory.mktemp("fixture")))
    assert settings.database_uri
    await load_fixture(settings.database_uri)
    bob_token = await make_session(settings.database_uri, BOB)
    async with running(settings) as (_, client):
        yield Api(client), bob_token


async def test_alice_sees_the_public_post_with_every_type_and_without_the_secret(
    served: tuple[Api, str],
) -> None:
    api, _ = served
    response = await api.get("/classes/Post", token=ALICE_TOKEN, params={"order": "createdAt"})
    assert response.status_code == 200
    [post] = response.json()["results"]
    assert post["objectId"] == PUBLIC_POST
    assert "secret" not in post
    assert post["title"] == "Hello"
    assert post["views"] == 4
    assert post["draft"] is False
    assert post["tags"] == ["a", "b"]
    assert post["meta"] == {"lang": "en", "score": {"x": 1}}
    assert post["publishedAt"] == {"__type": "Date", "iso": "2026-01-02T03:04:05.678Z"}
    assert post["author"] == {"__type": "Pointer", "className": "_User", "objectId": ALICE}
    assert post["likedBy"] == {"__type": "Relation", "className": "_User"}
    assert post["place"] == {"__type": "GeoPoint", "latitude": 52.5, "longitude": 13.4}
    assert post["area"] == {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [1, 0], [0, 0]]}
    assert post["blob"] == {"__type": "Bytes", "base64": "aGVsbG8="}
    assert post["attachment"] == {
        "__type": "File",
        "name": "c2f57cadc3443c8754f07a8ae5b7caa1_notes.txt",
        "url": "http://127.0.0.1:1337/parse/files/app/c2f57cadc3443c8754f07a8ae5b7caa1_notes.txt",
    }
    assert post["ACL"] == {"*": {"read": True}, ALICE: {"write": True}, "role:Editors": {"write": True}}
    assert post["createdAt"] == "2026-11-22T06:48:56.596Z"


async def test_bob_sees_both_posts(served: tuple[Api, str]) -> None:
    api, bob_token = served
    response = await api.get("/classes/Post", token=bob_token, params={"order": "createdAt", "keys": "title"})
    assert [post["title"] for post in response.json()["results"]] == ["Hello", "Private"]


async def test_the_private_post_is_not_found_for_alice_or_the_public(served: tuple[Api, str]) -> None:
    api, _ = served
    for token in (ALICE_TOKEN, None):
        response = await api.get(f"/classes/Post/{PRIVATE_POST}", token=token)
        assert response.status_code == 404
        assert response.json() == {"code": 101, "error": "Object not found."}


async def test_the_master_key_sees_the_protected_field(served: tuple[Api, str]) -> None:
    api, _ = served
    response = await api.get(f"/classes/Post/{PUBLIC_POST}", master=True)
    assert response.json()["secret"] == "s3cret"


async def test_querying_on_the_protected_field_is_refused(served: tuple[Api, str]) -> None:
    api, _ = served
    response = await api.get("/classes/Post", token=ALICE_TOKEN, params={"where": {"secret": "s3cret"}})
    assert response.status_code == 400
    assert response.json() == {"code": 119, "error": "Permission denied"}


async def test_creating_needs_a_login_and_the_required_title(served: tuple[Api, str]) -> None:
    api, _ = served
    anonymous = await api.post("/classes/Post", {"title": "x"})
    assert anonymous.status_code == 404
    assert anonymous.json() == {"code": 101, "error": "Permission denied"}
    untitled = await api.post("/classes/Post", {"draft": True}, token=ALICE_TOKEN)
    assert untitled.json() == {"code": 142, "error": "title is required"}
    created = await api.post("/classes/Post", {"title": "New"}, token=ALICE_TOKEN)
    assert created.status_code == 201
    assert created.json()["views"] == 0  # the field's default value


async def test_the_relation_lists_bob(served: tuple[Api, str]) -> None:
    api, _ = served
    where = {
        "$relatedTo": {
            "object": {"__type": "Pointer", "className": "Post", "objectId": PUBLIC_POST},
            "key": "likedBy",
        }
    }
    response = await api.get("/classes/_User", master=True, params={"where": where})
    assert [user["username"] for user in response.json()["results"]] == ["bob"]


async def test_only_the_admins_role_may_delete_and_bob_holds_it_through_editors(
    served: tuple[Api, str],
) -> None:
    api, bob_token = served
    created = await api.post(
        "/classes/Post", {"title": "Doomed", "ACL": {"*": {"read": True, "write": True}}}, token=ALICE_TOKEN
    )
    object_id = created.json()["objectId"]
    refused = await api.delete(f"/classes/Post/{object_id}", token=ALICE_TOKEN)
    assert refused.json() == {"code": 119, "error": "Permission denied"}
    deleted = await api.delete(f"/classes/Post/{object_id}", token=bob_token)
    assert deleted.status_code == 200


async def test_the_schema_reads_as_parse_wrote_it(served: tuple[Api, str]) -> None:
    api, _ = served
    schema = (await api.get("/schemas/Post", master=True)).json()
    assert schema["fields"]["title"] == {"type": "String", "required": True}
    assert schema["fields"]["views"] == {"type": "Number", "defaultValue": 0}
    assert schema["fields"]["author"] == {"type": "Pointer", "targetClass": "_User"}
    assert schema["classLevelPermissions"]["protectedFields"] == {"*": ["secret"]}
    assert schema["classLevelPermissions"]["delete"] == {"role:Admins": True}


async def test_a_user_reads_their_own_record_but_not_another(served: tuple[Api, str]) -> None:
    api, _ = served
    mine = await api.get(f"/classes/_User/{ALICE}", token=ALICE_TOKEN)
    assert mine.json()["username"] == "alice"
    assert mine.json()["email"] == "alice@example.com"
    assert "password" not in mine.json() and "_hashed_password" not in mine.json()
    other = await api.get(f"/classes/_User/{BOB}", token=ALICE_TOKEN)
    assert other.status_code == 404


async def test_alice_and_bob_log_in_with_the_passwords_parse_hashed(served: tuple[Api, str]) -> None:
    api, _ = served
    alice = await api.post("/login", {"username": "alice", "password": "alice-password"})
    assert alice.status_code == 200
    assert alice.json()["objectId"] == ALICE and alice.json()["sessionToken"].startswith("r:")
    bob = await api.get("/login", params={"username": "bob", "password": "bob-password"})
    assert bob.json()["objectId"] == BOB
    # Bob's new session sees what the README says bob sees.
    posts = await api.get("/classes/Post", token=bob.json()["sessionToken"])
    assert {PUBLIC_POST, PRIVATE_POST} <= {post["objectId"] for post in posts.json()["results"]}
    wrong = await api.post("/login", {"username": "alice", "password": "bob-password"})
    assert wrong.status_code == 404 and wrong.json() == {"code": 101, "error": "Invalid username/password."}


async def test_the_file_parse_wrote_to_gridfs_is_served(served: tuple[Api, str]) -> None:
    api, _ = served
    url = "/parse/files/app/c2f57cadc3443c8754f07a8ae5b7caa1_notes.txt"
    whole = await api.client.get(url)
    assert whole.status_code == 200
    assert whole.content == b"fixture file\n"
    assert whole.headers["content-type"] == "text/plain; charset=utf-8"
    part = await api.client.get(url, headers={"Range": "bytes=0-6"})
    assert part.status_code == 206 and part.content == b"fixture"
    assert part.headers["content-range"] == "bytes 0-6/13"
    metadata = await api.client.get("/parse/files/app/metadata/c2f57cadc3443c8754f07a8ae5b7caa1_notes.txt")
    assert metadata.json() == {"metadata": {}}
