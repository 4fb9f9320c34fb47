"""Files over REST: one contract, run against every files adapter (GridFS, a directory, an S3 server)."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient

from app.domain.files import FileStore
from tests.conftest import APP_ID, ENGINE, MASTER_KEY, Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIMIT = 256 * 1024  # a small max_upload_size, so the limit is cheap to pass
HEX_NAME = re.compile(r"[0-9a-f]{32}_(.+)")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible HTTP server (moto's), on a free loopback port of this process."""
    server_module = pytest.importorskip(
        "moto.server", reason="moto[server] is not installed: no local S3-compatible server to test against"
    )
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_client(endpoint: str) -> Any:
    import boto3  # type: ignore[import-untyped]

    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )


@dataclass
class Files:
    """A running server with one files adapter, and a way to list what its store holds."""

    api: Api
    client: httpx.AsyncClient
    store: FileStore
    adapter: str
    listing: Any

    async def stored(self) -> set[str]:
        return set(await self.listing())

    async def upload(
        self, name: str, data: bytes | Any, content_type: str | None = "text/plain", **headers: str
    ) -> httpx.Response:
        sent = {"X-Parse-Application-Id": APP_ID, **headers}
        if content_type is not None:
            sent["Content-Type"] = content_type
        return await self.client.post(f"/parse/files/{name}", content=data, headers=sent)

    async def upload_as_master(self, name: str, data: bytes, content_type: str | None = "text/plain") -> str:
        response = await self.upload(name, data, content_type, **{"X-Parse-Master-Key": MASTER_KEY})
        assert response.status_code == 201, response.text
        name = response.json()["name"]
        assert isinstance(name, str)
        return name

    async def download(self, name: str, **headers: str) -> httpx.Response:
        return await self.client.get(f"/parse/files/{APP_ID}/{name}", headers=headers)


@pytest_asyncio.fixture(scope="module", loop_scope="session", params=["gridfs", "filesystem", "s3"])
async def files(
    request: pytest.FixtureRequest, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Files]:
    adapter: str = request.param
    if adapter == "gridfs" and ENGINE != "mongodb":
        pytest.skip("MongoDB only: GridFS")
    data_dir = tmp_path_factory.mktemp(f"files-{adapter}")
    overrides: dict[str, Any] = {"files_adapter": adapter, "max_upload_size": LIMIT, "read_only_master_key": "ro"}
    if adapter == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = f"parse-{uuid.uuid4().hex[:12]}"
        s3_client(endpoint).create_bucket(Bucket=bucket)
        overrides.update(
            s3_bucket=bucket,
            s3_endpoint=endpoint,
            s3_region="us-east-1",
            s3_access_key_id="test",
            s3_secret_access_key="test",
            s3_prefix="files/",
        )
    settings = make_settings(database_server, f"files_{adapter}", data_dir, **overrides)
    async with running(settings) as (app, client):
        store = app.state.services.files.store

        async def listing() -> list[str]:
            if adapter == "gridfs":
                mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.database_uri)
                try:
                    return [d["filename"] async for d in mongo.get_default_database()["fs.files"].find()]
                finally:
                    await mongo.close()
            if adapter == "filesystem":
                root = data_dir / "files"
                # Named on disk as Parse's adapter names them (encodeURIComponent), listed by their names.
                return [unquote(p.name) for p in root.iterdir() if p.is_file()]
            listed = s3_client(overrides["s3_endpoint"]).list_objects_v2(Bucket=overrides["s3_bucket"])
            return [item["Key"].removeprefix("files/") for item in listed.get("Contents", [])]

        yield Files(Api(client), client, store, adapter, listing)


async def test_an_upload_gets_a_random_prefix_and_is_served_with_its_type(files: Files) -> None:
    response = await files.upload("hello.txt", b"hello world!!", **{"X-Parse-Master-Key": MASTER_KEY})
    assert response.status_code == 201
    body = response.json()
    assert HEX_NAME.fullmatch(body["name"]).group(1) == "hello.txt"  # type: ignore[union-attr]
    assert body == {"url": f"http://127.0.0.1:1337/parse/files/{APP_ID}/{body['name']}", "name": body["name"]}
    assert response.headers["location"] == body["url"]
    assert body["name"] in await files.stored()

    served = await files.download(body["name"])
    assert served.status_code == 200
    assert served.content == b"hello world!!"
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.headers["content-length"] == "13"
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_byte_ranges_answer_206_with_the_range_and_416_past_the_end(files: Files) -> None:
    name = await files.upload_as_master("range.txt", b"hello world!!")
    expected = {
        "bytes=0-4": (b"hello", "bytes 0-4/13"),
        "bytes=2-": (b"llo world!!", "bytes 2-12/13"),
        "bytes=-3": (b"d!!", "bytes 10-12/13"),
        "bytes=5-100": (b" world!!", "bytes 5-12/13"),
        "bytes=0-0": (b"h", "bytes 0-0/13"),
    }
    for header, (content, content_range) in expected.items():
        response = await files.download(name, Range=header)
        assert response.status_code == 206, header
        assert response.content == content, header
        assert response.headers["content-range"] == content_range
        assert response.headers["content-length"] == str(len(content))
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
    past = await files.download(name, Range="bytes=20-30")
    assert past.status_code == 416 and past.headers["content-range"] == "bytes */13" and past.content == b""
    for ignored in ("bytes=4-2", "bytes=abc", "bytes=0-1,3-4"):
        whole = await files.download(name, Range=ignored)
        assert whole.status_code == 200 and whole.content == b"hello world!!", ignored


async def test_only_the_master_key_deletes_and_a_deleted_file_is_not_found(files: Files) -> None:
    name = await files.upload_as_master("doomed.txt", b"bye")
    user = (await files.api.post("/users", {"username": f"del-{files.adapter}", "password": "p"})).json()
    for refused in (
        await files.api.delete(f"/files/{name}"),
        await files.api.delete(f"/files/{name}", token=user["sessionToken"]),
    ):
        assert refused.status_code == 403 and refused.json() == {"error": "Permission denied"}
    assert name in await files.stored()
    deleted = await files.api.delete(f"/files/{name}", master=True)
    assert deleted.status_code == 200 and deleted.content == b""
    assert name not in await files.stored()
    again = await files.api.delete(f"/files/{name}", master=True)
    assert again.status_code == 400 and again.json() == {"code": 153, "error": "FileNotFound"}
    gone = await files.download(name)
    assert gone.status_code == 404 and gone.text == "File not found."
    assert gone.headers["content-type"] == "text/plain; charset=utf-8"


async def test_upload_permissions_follow_parse_defaults_and_refusals_store_nothing(files: Files) -> None:
    before = await files.stored()
    public = await files.upload("public.txt", b"x")
    assert public.status_code == 400 and public.json() == {"code": 130, "error": "File upload by public is disabled."}
    anonymous = await files.api.post("/users", {"authData": {"anonymous": {"id": str(uuid.uuid4())}}})
    refused = await files.upload("anon.txt", b"x", **{"X-Parse-Session-Token": anonymous.json()["sessionToken"]})
    assert refused.json() == {"code": 130, "error": "File upload by anonymous user is disabled."}
    user = (await files.api.post("/users", {"username": f"up-{files.adapter}", "password": "p"})).json()
    token = {"X-Parse-Session-Token": user["sessionToken"]}
    for name, content_type, message in (
        ("page.html", "text/html", "File upload of extension html is disabled."),
        ("page.HTM", "text/plain", "File upload of extension HTM is disabled."),
        ("logo.svg", "image/svg+xml", "File upload of extension svg is disabled."),
        ("page", "text/html", "File upload of extension html is disabled."),
        ("data.zzq", "text/xml", "File upload of extension xml is disabled."),
        ("data.zzq", "nonsense", "Invalid Content-Type."),
    ):
        response = await files.upload(name, b"<x/>", content_type, **token)
        assert response.status_code == 400 and response.json() == {"code": 130, "error": message}, name
    assert await files.stored() == before
    allowed = await files.upload("notes.txt", b"mine", **token)
    assert allowed.status_code == 201
    # The master key may store what users may not.
    assert HEX_NAME.fullmatch(await files.upload_as_master("page.html", b"<p>", "text/html"))


async def test_names_are_checked_and_completed_as_parse_does(files: Files) -> None:
    before = await files.stored()
    master = {"X-Parse-Master-Key": MASTER_KEY}
    for name, message in (
        ("a$b.txt", "Filename contains invalid characters."),
        ("%C3%A9t%C3%A9.txt", "Filename contains invalid characters."),  # Parse allows ASCII names only
        ("_" * 129, "Filename too long."),
    ):
        response = await files.upload(name, b"x", **master)
        assert response.status_code == 400 and response.json() == {"code": 122, "error": message}, name
    slashed = await files.upload("dir%2Fname.txt", b"x", **master)
    assert slashed.json() == {"code": 122, "error": "Filename contains invalid characters."}
    assert (await files.download("a%00b.txt")).status_code == 404
    assert (await files.api.delete("/files/a%00b.txt", master=True)).json() == {"code": 153, "error": "FileNotFound"}
    missing = await files.client.post(
        "/parse/files", content=b"x", headers={"X-Parse-Application-Id": APP_ID, **master}
    )
    assert missing.json() == {"code": 122, "error": "Filename not provided."}
    empty = await files.upload("empty.txt", b"", **master)
    assert empty.json() == {"code": 130, "error": "Invalid file upload."}
    assert await files.stored() == before

    photo = await files.upload_as_master("photo", b"\xff\xd8", "image/jpeg")
    assert HEX_NAME.fullmatch(photo).group(1) == "photo.jpg"  # type: ignore[union-attr]
    assert (await files.download(photo)).headers["content-type"] == "image/jpeg"
    spaced = await files.upload("my file.txt", b"x", **master)
    assert spaced.json()["url"].endswith("_my%20file.txt") and spaced.json()["name"].endswith("_my file.txt")
    assert (await files.download(spaced.json()["name"])).content == b"x"


async def test_the_stored_content_type_serves_a_name_that_says_none(files: Files) -> None:
    custom = await files.upload_as_master("blob", b"\x00\x01", "application/x-parseql-test")
    assert HEX_NAME.fullmatch(custom).group(1) == "blob"  # type: ignore[union-attr]
    assert (await files.download(custom)).headers["content-type"] == "application/x-parseql-test"
    untyped = await files.upload_as_master("raw", b"\x00", None)
    assert HEX_NAME.fullmatch(untyped).group(1) == "raw.txt"  # type: ignore[union-attr]  # as Parse: text/plain
    assert (await files.download(untyped)).headers["content-type"] == "text/plain; charset=utf-8"

    async def body() -> AsyncIterator[bytes]:
        yield b"\x00"

    await files.store.save("stored-untyped", body(), None, {})  # a file some other tool stored without a type
    assert (await files.download("stored-untyped")).headers["content-type"] == "application/octet-stream"
    # The extension decides over what the client said, as in Parse.
    named = await files.upload_as_master("data.json", b"{}", "text/plain")
    assert (await files.download(named)).headers["content-type"] == "application/json; charset=utf-8"


async def test_unicode_names_are_stored_and_served(files: Files) -> None:
    # Uploads refuse them (Parse's rule), but a store may hold them: files Parse Server or a tool wrote.
    async def body() -> AsyncIterator[bytes]:
        yield "grüße, 世界".encode()

    name = f"{uuid.uuid4().hex}_été 世界.txt"
    await files.store.save(name, body(), "text/plain", {})
    served = await files.client.get(f"/parse/files/{APP_ID}/{quote(name)}")
    assert served.status_code == 200 and served.text == "grüße, 世界"
    assert (await files.download("%C3%A9t%C3%A9.txt")).status_code == 404


async def test_uploads_past_the_size_limit_are_refused_and_store_nothing(files: Files) -> None:
    before = await files.stored()
    master = {"X-Parse-Master-Key": MASTER_KEY}
    over = b"x" * (LIMIT + 1)
    declared = await files.upload("big.bin", over, "application/octet-stream", **master)
    assert declared.status_code == 413 and declared.json() == {"error": "request entity too large"}
    streamed = await files.upload(
        "big.bin", over, "application/octet-stream", **master, **{"X-Parse-Upload-Mode": "stream"}
    )
    assert streamed.status_code == 400
    assert streamed.json() == {"code": 130, "error": f"File size exceeds maximum allowed: {LIMIT} bytes."}

    async def chunked() -> AsyncIterator[bytes]:  # no Content-Length: the limit is found while storing
        for _ in range(LIMIT // 1024 + 1):
            yield b"y" * 1024

    undeclared = await files.upload("big.bin", chunked(), "application/octet-stream", **master)
    assert undeclared.status_code == 413
    assert await files.stored() == before
    exactly = await files.upload_as_master("max.bin", b"z" * LIMIT, "application/octet-stream")
    assert len((await files.download(exactly)).content) == LIMIT


async def test_the_js_sdk_json_upload_and_its_metadata(files: Files) -> None:
    body = {
        "_ApplicationId": APP_ID,
        "_MasterKey": MASTER_KEY,
        "_ContentType": "text/plain",
        "base64": base64.b64encode(b"from the sdk").decode(),
        "fileData": {"metadata": {"owner": "sdk"}, "tags": {}},
    }
    response = await files.client.post(
        "/parse/files/sdk.txt",
        content=httpx.Request("POST", "/", json=body).content,
        headers={"Content-Type": "text/plain"},
    )
    assert response.status_code == 201, response.text
    name = response.json()["name"]
    assert (await files.download(name)).text == "from the sdk"
    metadata = await files.client.get(f"/parse/files/{APP_ID}/metadata/{name}")
    assert metadata.json() == {"metadata": {"owner": "sdk"}}
    streamed = await files.upload(
        "streamed.txt",
        b"s",
        **{"X-Parse-Master-Key": MASTER_KEY, "X-Parse-Upload-Mode": "stream", "X-Parse-File-Metadata": '{"k": "v"}'},
    )
    streamed_metadata = await files.client.get(f"/parse/files/{APP_ID}/metadata/{streamed.json()['name']}")
    assert streamed_metadata.json() == {"metadata": {"k": "v"}}  # S3 keeps strings only
    bad = await files.upload(
        "bad.txt",
        b"s",
        **{"X-Parse-Master-Key": MASTER_KEY, "X-Parse-Upload-Mode": "stream", "X-Parse-File-Metadata": "[1]"},
    )
    assert bad.json() == {"code": 107, "error": "Invalid JSON in X-Parse-File-Metadata header."}
    assert (await files.client.get(f"/parse/files/{APP_ID}/metadata/nothing.txt")).json() == {}
    keyless = await files.client.post(
        "/parse/files/sdk.txt", content=b"not json", headers={"Content-Type": "text/plain"}
    )
    assert keyless.status_code == 403 and keyless.json() == {"error": "unauthorized"}


async def test_a_download_under_another_app_id_is_refused(files: Files) -> None:
    name = await files.upload_as_master("mine.txt", b"x")
    response = await files.client.get(f"/parse/files/other/{name}")
    assert response.status_code == 403 and response.json() == {"error": "Permission denied"}


async def test_an_object_holds_a_file_and_answers_its_url(files: Files) -> None:
    name = await files.upload_as_master("attached.txt", b"attached")
    created = await files.api.post("/classes/Note", {"file": {"__type": "File", "name": name}}, master=True)
    assert created.status_code == 201, created.text
    read = await files.api.get(f"/classes/Note/{created.json()['objectId']}", master=True)
    assert read.json()["file"] == {
        "__type": "File",
        "name": name,
        "url": f"http://127.0.0.1:1337/parse/files/{APP_ID}/{name}",
    }


async def test_the_read_only_master_key_may_neither_upload_nor_delete(files: Files) -> None:
    name = await files.upload_as_master("kept.txt", b"kept")
    upload = await files.upload("new.txt", b"x", **{"X-Parse-Master-Key": "ro"})
    assert upload.status_code == 403
    assert upload.json() == {"error": "read-only masterKey isn't allowed to create a file."}
    delete = await files.client.delete(
        f"/parse/files/{name}", headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": "ro"}
    )
    assert delete.status_code == 403
    assert delete.json() == {"error": "read-only masterKey isn't allowed to delete a file."}
    assert (await files.download(name)).content == b"kept"


async def test_downloads_may_be_closed_to_the_public(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "files_private", tmp_path, file_download_for_public=False)
    async with running(settings) as (_, client):
        api = Api(client)
        upload = await client.post(
            "/parse/files/private.txt",
            content=b"members only",
            headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY, "Content-Type": "text/plain"},
        )
        name = upload.json()["name"]
        refused = await client.get(f"/parse/files/{APP_ID}/{name}")
        assert refused.status_code == 400
        assert refused.json() == {"code": 119, "error": "File download by public is disabled."}
        metadata = await client.get(f"/parse/files/{APP_ID}/metadata/{name}")
        assert metadata.status_code == 403 and metadata.json()["code"] == 119
        user = (await api.post("/users", {"username": "member", "password": "p"})).json()
        allowed = await client.get(
            f"/parse/files/{APP_ID}/{name}", headers={"X-Parse-Session-Token": user["sessionToken"]}
        )
        assert allowed.status_code == 200 and allowed.content == b"members only"


DIRECTED = re.compile(r"photos/2026/[0-9a-f]{32}_(.+)")


async def sdk_upload(files: Files, name: str, data: bytes, **fields: Any) -> httpx.Response:
    """An upload as the JS SDK sends it: JSON with its keys and `fileData` in the body."""
    body = {"_ApplicationId": APP_ID, "_ContentType": "text/plain", "base64": base64.b64encode(data).decode(), **fields}
    content = httpx.Request("POST", "/", json=body).content
    return await files.client.post(f"/parse/files/{name}", content=content, headers={"Content-Type": "text/plain"})


async def test_a_directory_named_with_the_master_key_is_where_the_file_is_stored(files: Files) -> None:
    given = {"_MasterKey": MASTER_KEY, "fileData": {"directory": "photos/2026", "metadata": {"k": "v"}}}
    response = await sdk_upload(files, "my pic.txt", b"in a folder", **given)
    assert response.status_code == 201, response.text
    name = response.json()["name"]
    assert DIRECTED.fullmatch(name).group(1) == "my pic.txt"  # type: ignore[union-attr]
    # The URL keeps the directory's slashes and encodes each segment, as Parse's GridFS and S3 adapters write it.
    url = f"http://127.0.0.1:1337/parse/files/{APP_ID}/{name.replace(' ', '%20')}"
    assert response.json() == {"url": url, "name": name} and response.headers["location"] == url
    assert name in await files.stored()
    assert (await files.client.get(url)).content == b"in a folder"
    encoded = f"/parse/files/{APP_ID}/{quote(name, safe='')}"  # the slashes encoded, as Parse's folder adapter does
    assert (await files.client.get(encoded)).content == b"in a folder"
    metadata = await files.client.get(f"/parse/files/{APP_ID}/metadata/{name}")
    assert metadata.json() == {"metadata": {"k": "v"}}
    note = await files.api.post("/classes/Note", {"file": {"__type": "File", "name": name}}, master=True)
    read = await files.api.get(f"/classes/Note/{note.json()['objectId']}", master=True)
    assert read.json()["file"]["url"] == url

    streamed = await files.upload(
        "streamed.txt",
        b"s",
        **{"X-Parse-Master-Key": MASTER_KEY, "X-Parse-Upload-Mode": "stream", "X-Parse-File-Directory": "s/t-1"},
    )
    assert streamed.status_code == 201 and streamed.json()["name"].startswith("s/t-1/")
    # Parse reads the header only in stream mode.
    plain = await files.upload("plain.txt", b"p", **{"X-Parse-Master-Key": MASTER_KEY, "X-Parse-File-Directory": "x"})
    assert HEX_NAME.fullmatch(plain.json()["name"])

    deleted = await files.client.delete(
        f"/parse/files/{name}", headers={"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
    )
    assert deleted.status_code == 200
    assert (await files.client.get(url)).status_code == 404 and name not in await files.stored()


@pytest.mark.parametrize(
    ("directory", "message"),
    [
        ("", "Directory must not be empty."),
        (None, "Directory must be a string."),
        (5, "Directory must be a string."),
        ("a" * 257, "Directory path is too long."),
        ("../up", 'Directory must not contain "..".'),
        ("/a", 'Directory must not start or end with "/".'),
        ("a/", 'Directory must not start or end with "/".'),
        ("a//b", "Directory must not contain consecutive slashes."),
        ("metadata/x", 'Directory must not start with reserved segment "metadata".'),
        ("a b", "Directory contains invalid characters."),
        ("_a", "Directory contains invalid characters."),
    ],
)
async def test_a_directory_is_checked_as_parse_checks_it(files: Files, directory: Any, message: str) -> None:
    before = await files.stored()
    refused = await sdk_upload(files, "x.txt", b"x", _MasterKey=MASTER_KEY, fileData={"directory": directory})
    assert (refused.status_code, refused.json()) == (400, {"code": 122, "error": message})
    assert await files.stored() == before


async def test_only_the_master_key_names_a_directory(files: Files) -> None:
    user = (await files.api.post("/users", {"username": f"dir-{files.adapter}", "password": "p"})).json()
    refused = await sdk_upload(files, "x.txt", b"x", _SessionToken=user["sessionToken"], fileData={"directory": "a"})
    assert (refused.status_code, refused.json()) == (
        400,
        {"code": 119, "error": "Directory can only be set using the Master Key."},
    )
    streamed = await files.upload(
        "x.txt",
        b"x",
        **{
            "X-Parse-Session-Token": user["sessionToken"],
            "X-Parse-Upload-Mode": "stream",
            "X-Parse-File-Directory": "a",
        },
    )
    assert streamed.json()["code"] == 119
