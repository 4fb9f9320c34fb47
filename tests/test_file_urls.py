"""Parse's `fileUpload.allowedFileUrlDomains` (`--file-upload-allowed-url-domains`): a File value whose `url` names
another host is refused when an object is saved, in its fields, arrays and update operations, whoever saves it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")


def file(url: str | None) -> dict[str, str]:
    return {"__type": "File", "name": "cover.png", **({"url": url} if url is not None else {})}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    settings = make_settings(
        database_server,
        "file_urls",
        tmp_path_factory.mktemp("data"),
        file_upload_allowed_url_domains=["cdn.example.com", "*.files.example.org"],
        allow_client_class_creation=True,
    )
    async with running(settings) as (_, client):
        yield Api(client)


async def test_files_on_listed_hosts_or_without_a_url_are_saved(api: Api) -> None:
    for url in ("https://cdn.example.com/cover.png", "https://eu.files.example.org/cover.png", None):
        saved = await api.post("/classes/Book", {"cover": file(url)})
        assert saved.status_code == 201, (url, saved.text)


async def test_a_file_on_another_host_is_refused_and_nothing_is_written(api: Api) -> None:
    for body, message in (
        ({"cover": file("https://evil.example.net/cover.png")}, "File URL domain 'evil.example.net' is not allowed."),
        ({"pages": [file("https://files.example.org/p1.png")]}, "File URL domain 'files.example.org' is not allowed."),
        ({"nested": {"cover": file("not a url")}}, "Invalid file URL."),
    ):
        for master in (False, True):
            refused = await api.post("/classes/Shelf", body, master=master)
            assert (refused.status_code, refused.json()) == (400, {"code": 130, "error": message})
    assert (await api.get("/classes/Shelf", master=True)).json()["results"] == []


async def test_an_update_operation_is_checked_too(api: Api) -> None:
    book = (await api.post("/classes/Album", {"title": "x"})).json()["objectId"]
    added = {"photos": {"__op": "AddUnique", "objects": [file("https://evil.example.net/p.png")]}}
    refused = await api.put(f"/classes/Album/{book}", added)
    assert refused.json() == {"code": 130, "error": "File URL domain 'evil.example.net' is not allowed."}
    assert "photos" not in (await api.get(f"/classes/Album/{book}")).json()
