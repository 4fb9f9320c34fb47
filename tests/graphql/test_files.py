"""Files through GraphQL: `createFile` and `FileInput {file, upload}` on create and update mutations."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from tests.conftest import APP_ID, ENGINE, MASTER_KEY, Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIMIT = 64 * 1024
CREATE_FILE = "mutation($f: Upload!) { createFile(input: {upload: $f}) { fileInfo { name url } } }"
CREATE_NOTE = (
    'mutation($f: Upload!) { createNote(input: {fields: {title: "t", attachment: {upload: $f}}}) '
    "{ note { objectId attachment { name url } } } }"
)


class Client:
    def __init__(self, client: httpx.AsyncClient, database_uri: str, files_dir: Path) -> None:
        self.client = client
        self.api = Api(client)
        self.database_uri = database_uri
        self.files_dir = files_dir

    async def multipart(
        self,
        query: str,
        file: tuple[str, bytes, str],
        *,
        master: bool = False,
        token: str | None = None,
        **variables: Any,
    ) -> httpx.Response:
        headers = {"X-Parse-Application-Id": APP_ID}
        if master:
            headers["X-Parse-Master-Key"] = MASTER_KEY
        if token:
            headers["X-Parse-Session-Token"] = token
        operations = {"query": query, "variables": {"f": None, **variables}}
        form = {"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})}
        return await self.client.post("/graphql", headers=headers, data=form, files={"0": file})

    async def stored(self) -> list[str]:
        if ENGINE != "mongodb":  # files on PostgreSQL go to the filesystem store
            return sorted(str(path) for path in self.files_dir.rglob("*") if path.is_file())
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(self.database_uri)
        try:
            return [doc["filename"] async for doc in mongo.get_default_database()["fs.files"].find()]
        finally:
            await mongo.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gql(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Client]:
    data_dir = tmp_path_factory.mktemp("gql-files")
    settings = make_settings(database_server, "gql_files", data_dir, max_upload_size=LIMIT)
    assert settings.database_uri
    async with running(settings) as (_, client):
        api = Api(client)
        schema = {"className": "Note", "fields": {"title": {"type": "String"}, "attachment": {"type": "File"}}}
        assert (await api.post("/schemas/Note", schema, master=True)).status_code == 200
        yield Client(client, settings.database_uri, data_dir / "files")


async def test_create_file_stores_the_upload_and_answers_where_it_is(gql: Client) -> None:
    response = await gql.multipart(CREATE_FILE, ("report.txt", b"quarterly", "text/plain"), master=True)
    info = response.json()["data"]["createFile"]["fileInfo"]
    assert re.fullmatch(r"[0-9a-f]{32}_report\.txt", info["name"])
    assert info["url"] == f"http://127.0.0.1:1337/parse/files/{APP_ID}/{info['name']}"
    served = await gql.client.get(f"/parse/files/{APP_ID}/{info['name']}")
    assert served.content == b"quarterly" and served.headers["content-type"] == "text/plain; charset=utf-8"


async def test_a_signed_in_user_may_create_files_and_the_public_may_not(gql: Client) -> None:
    user = (await gql.api.post("/users", {"username": "filer", "password": "p"})).json()
    mine = await gql.multipart(CREATE_FILE, ("mine.txt", b"mine", "text/plain"), token=user["sessionToken"])
    assert mine.json()["data"]["createFile"]["fileInfo"]["name"].endswith("_mine.txt")
    public = (await gql.multipart(CREATE_FILE, ("p.txt", b"p", "text/plain"))).json()
    assert public["data"] == {"createFile": None}
    assert public["errors"][0]["message"] == "File upload by public is disabled."
    assert public["errors"][0]["extensions"] == {"code": 130}


async def test_an_upload_in_a_file_input_is_stored_and_linked(gql: Client) -> None:
    created = (await gql.multipart(CREATE_NOTE, ("inline.txt", b"inline", "text/plain"), master=True)).json()
    note = created["data"]["createNote"]["note"]
    assert note["attachment"]["name"].endswith("_inline.txt")
    read = await gql.api.get(f"/classes/Note/{note['objectId']}", master=True)
    assert read.json()["attachment"] == {"__type": "File", **note["attachment"]}

    update = (
        "mutation($f: Upload!, $id: ID!) { updateNote(input: {id: $id, fields: {attachment: {upload: $f}}}) "
        "{ note { attachment { name } } } }"
    )
    updated = await gql.multipart(update, ("second.txt", b"second", "text/plain"), master=True, id=note["objectId"])
    name = updated.json()["data"]["updateNote"]["note"]["attachment"]["name"]
    assert name.endswith("_second.txt")
    assert (await gql.client.get(f"/parse/files/{APP_ID}/{name}")).content == b"second"


async def test_a_file_input_links_a_stored_file_by_name(gql: Client) -> None:
    info = (await gql.multipart(CREATE_FILE, ("linked.txt", b"l", "text/plain"), master=True)).json()
    file = info["data"]["createFile"]["fileInfo"]
    query = (
        "mutation($file: File!) { createNote(input: {fields: {attachment: {file: $file}}}) "
        "{ note { attachment { name url } } } }"
    )
    response = await gql.client.post(
        "/graphql",
        json={"query": query, "variables": {"file": {"__type": "File", **file}}},
        headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY},
    )
    assert response.json()["data"]["createNote"]["note"]["attachment"] == file


async def test_refused_uploads_store_neither_the_file_nor_the_object(gql: Client) -> None:
    files_before = await gql.stored()
    notes_before = (await gql.api.get("/classes/Note", master=True, params={"count": 1, "limit": 0})).json()["count"]
    bad_name = (await gql.multipart(CREATE_FILE, ("a$b.txt", b"x", "text/plain"), master=True)).json()
    assert bad_name["errors"][0]["message"] == "Filename contains invalid characters."
    assert bad_name["errors"][0]["extensions"] == {"code": 122}
    user = (await gql.api.post("/users", {"username": "html", "password": "p"})).json()
    blocked = (await gql.multipart(CREATE_NOTE, ("page.html", b"<p>", "text/html"), token=user["sessionToken"])).json()
    assert blocked["data"] == {"createNote": None}
    assert blocked["errors"][0]["message"] == "File upload of extension html is disabled."
    empty = (await gql.multipart(CREATE_FILE, ("empty.txt", b"", "text/plain"), master=True)).json()
    assert empty["errors"][0]["message"] == "Invalid file upload."
    too_big = await gql.multipart(CREATE_FILE, ("big.bin", b"x" * (LIMIT + 1), "application/octet-stream"), master=True)
    assert too_big.status_code == 413
    assert await gql.stored() == files_before
    notes = (await gql.api.get("/classes/Note", master=True, params={"count": 1, "limit": 0})).json()["count"]
    assert notes == notes_before


async def test_an_upload_is_named_as_through_rest(gql: Client) -> None:
    # Parse's GraphQL appends the type's extension again (photo.jpeg.jpg) or `.null`; REST's naming reads better.
    for filename, content_type, stored in (
        ("photo.jpeg", "image/jpeg", "photo.jpeg"),
        ("blob", "application/x-unknown", "blob"),
        ("noext", "image/png", "noext.png"),
    ):
        response = await gql.multipart(CREATE_FILE, (filename, b"abc", content_type), master=True)
        assert response.json()["data"]["createFile"]["fileInfo"]["name"].split("_", 1)[1] == stored
