"""ParseQL pointed at a Parse app's files folder: the files Parse Server 9.10 keeps there with its filesystem adapter
(`@parse/fs-files-adapter`) are served by ParseQL at the URLs of the objects holding them, and Parse Server serves
the files ParseQL stores there. Both servers on one database, the folder plain and encrypted with one key."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, running
from tests.interop.peer import parse_server, require_peer

pytestmark = pytest.mark.asyncio(loop_scope="session")
MASTER = {"X-Parse-Application-Id": "app", "X-Parse-Master-Key": "master"}
PICTURE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64  # not text: any re-encoding would show
REPORT = b"%PDF-1.4\n" + b"".join(b"%d 0 obj\n" % number for number in range(3000))
HEX_NAME = re.compile(r"[0-9a-f]{32}_")


@dataclass
class Servers:
    ours: Api
    client: httpx.AsyncClient
    peer: httpx.AsyncClient
    folder: Path  # Parse's files/, which is ParseQL's --files-dir
    key: str | None

    def on_disk(self) -> dict[str, bytes]:
        return {path.name: path.read_bytes() for path in self.folder.iterdir() if path.is_file()}


@pytest_asyncio.fixture(
    scope="module", loop_scope="session", params=[None, "our app's files key"], ids=["plain", "key"]
)
async def servers(
    request: pytest.FixtureRequest, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Servers]:
    require_peer()
    key: str | None = request.param
    app = tmp_path_factory.mktemp("parse-app")  # Parse's working directory: its adapter keeps files in app/files
    settings = make_settings(
        database_server,
        "interop_files",
        app / "parseql",
        allow_client_class_creation=True,
        files_adapter="filesystem",
        files_dir=str(app / "files"),
        files_encryption_key=key,
    )
    assert settings.database_uri
    async with running(settings) as (_, client):
        ours = Api(client)
        await ours.get("/classes/Warmup")  # schema bootstrap done before Parse starts on the same data
        async with parse_server(settings.database_uri, files_in=app, files_key=key) as peer:
            yield Servers(ours, client, peer, app / "files", key)


def path_of(url: str) -> str:
    return urlsplit(url).path


async def test_parseql_serves_a_file_parse_server_stored_at_the_url_of_the_object_holding_it(
    servers: Servers,
) -> None:
    uploaded = await servers.peer.post(
        "/parse/files/my photo@2x.png", headers={**MASTER, "Content-Type": "image/png"}, content=PICTURE
    )
    assert uploaded.status_code == 201, uploaded.text
    name = uploaded.json()["name"]
    assert HEX_NAME.match(name) and name.endswith("_my photo@2x.png")
    on_disk = servers.on_disk()[name.replace(" ", "%20").replace("@", "%40")]  # Parse's own layout
    assert (on_disk == PICTURE) is (servers.key is None)
    # With its URL, as the SDKs send a file: Parse's LiveQuery publisher throws on a file without one.
    created = await servers.peer.post(
        "/parse/classes/Album",
        headers=MASTER,
        json={"cover": {"__type": "File", "name": name, "url": uploaded.json()["url"]}},
    )
    assert created.status_code == 201, created.text
    album = (await servers.ours.get(f"/classes/Album/{created.json()['objectId']}")).json()
    assert album["cover"]["name"] == name
    served = await servers.client.get(path_of(album["cover"]["url"]))
    assert served.status_code == 200, served.text
    assert served.content == PICTURE
    assert served.headers["content-type"] == "image/png"
    ranged = await servers.client.get(path_of(album["cover"]["url"]), headers={"Range": "bytes=8-263"})
    assert ranged.status_code == 206 and ranged.content == bytes(range(256))
    deleted = await servers.client.delete(f"/parse/files/{name}", headers=MASTER)
    assert deleted.status_code == 200
    gone = await servers.peer.get(path_of(uploaded.json()["url"]))
    assert gone.status_code == 404  # deleted from where Parse keeps it


async def test_parse_server_serves_a_file_parseql_stored_at_the_url_of_the_object_holding_it(
    servers: Servers,
) -> None:
    uploaded = await servers.client.post(
        "/parse/files/Annual report@2024 v2.pdf", headers={**MASTER, "Content-Type": "application/pdf"}, content=REPORT
    )
    assert uploaded.status_code == 201, uploaded.text
    name = uploaded.json()["name"]
    created = await servers.ours.post("/classes/Filing", {"report": {"__type": "File", "name": name}}, master=True)
    assert created.status_code == 201, created.text
    filing = await servers.peer.get(f"/parse/classes/Filing/{created.json()['objectId']}", headers=MASTER)
    assert filing.status_code == 200, filing.text
    url = filing.json()["report"]["url"]
    assert url.endswith(name.replace(" ", "%20").replace("@", "%40"))
    served = await servers.peer.get(path_of(url))
    assert served.status_code == 200, served.text
    assert served.content == REPORT
    assert served.headers["content-type"] == "application/pdf"
    deleted = await servers.peer.delete(f"/parse/files/{name}", headers=MASTER)
    assert deleted.status_code == 200, deleted.text
    assert (await servers.client.get(path_of(uploaded.json()["url"]))).status_code == 404
