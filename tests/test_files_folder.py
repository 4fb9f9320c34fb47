"""The filesystem files adapter's folder: Parse's layout (names as encodeURIComponent writes them), the files an
earlier ParseQL wrote under raw names, and Parse's encryption with a key.

That Parse Server itself reads and writes this folder is tests/interop/test_parse_files_folder.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import APP_ID, MASTER_KEY, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

MASTER = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
PICTURE = bytes(range(256)) * 40  # 10 KiB of every byte value


def folder_settings(database_server: str, tmp_path: Path, label: str, **overrides: Any) -> Any:
    return make_settings(database_server, label, tmp_path, files_adapter="filesystem", **overrides)


def stored(folder: Path) -> dict[str, bytes]:
    """The files in the folder, by their name on disk, without ParseQL's own hidden folders."""
    return {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}


async def test_a_file_is_stored_under_the_name_parse_gives_it_and_served_from_there(
    database_server: str, tmp_path: Path
) -> None:
    async with running(folder_settings(database_server, tmp_path, "folder_layout")) as (_, client):
        uploaded = await client.post(
            "/parse/files/my photo@2x.png", content=PICTURE, headers={**MASTER, "Content-Type": "image/png"}
        )
        assert uploaded.status_code == 201, uploaded.text
        name = uploaded.json()["name"]
        prefix, _, rest = name.partition("_")
        assert rest == "my photo@2x.png"
        assert uploaded.json()["url"].endswith(f"/files/{APP_ID}/{prefix}_my%20photo%402x.png")
        assert stored(tmp_path / "files") == {f"{prefix}_my%20photo%402x.png": PICTURE}
        served = await client.get(f"/parse/files/{APP_ID}/{prefix}_my%20photo%402x.png")
        assert served.status_code == 200 and served.content == PICTURE
        assert served.headers["content-type"] == "image/png"
        deleted = await client.delete(f"/parse/files/{prefix}_my%20photo%402x.png", headers=MASTER)
        assert deleted.status_code == 200
        assert stored(tmp_path / "files") == {}


async def test_a_file_put_in_the_folder_under_its_encoded_name_is_served_by_its_extension(
    database_server: str, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "0123abcd_price%20list%40shop.json").write_bytes(b'{"tea": 3}')  # as Parse's adapter writes it
    async with running(folder_settings(database_server, tmp_path, "folder_by_hand")) as (_, client):
        served = await client.get(f"/parse/files/{APP_ID}/0123abcd_price%20list%40shop.json")
        assert served.status_code == 200 and served.content == b'{"tea": 3}'
        assert served.headers["content-type"] == "application/json; charset=utf-8"
        # The file's name is `0123abcd_price list@shop.json`: asked for by its name on disk, it is not there.
        literal = await client.get(f"/parse/files/{APP_ID}/0123abcd_price%2520list%2540shop.json")
        assert literal.status_code == 404


async def test_files_an_earlier_parseql_wrote_under_their_raw_name_are_still_served_and_deleted(
    database_server: str, tmp_path: Path
) -> None:
    folder = tmp_path / "files"
    (folder / ".meta").mkdir(parents=True)
    (folder / "0123abcd_old notes.txt").write_bytes(b"written before")
    (folder / ".meta" / "0123abcd_old notes.txt.json").write_text(
        json.dumps({"contentType": "text/plain", "metadata": {"kept": "yes"}})
    )
    async with running(folder_settings(database_server, tmp_path, "folder_earlier")) as (_, client):
        served = await client.get(f"/parse/files/{APP_ID}/0123abcd_old%20notes.txt")
        assert served.status_code == 200 and served.content == b"written before"
        metadata = await client.get(f"/parse/files/{APP_ID}/metadata/0123abcd_old%20notes.txt")
        assert metadata.json() == {"metadata": {"kept": "yes"}}
        deleted = await client.delete("/parse/files/0123abcd_old%20notes.txt", headers=MASTER)
        assert deleted.status_code == 200
        assert stored(folder) == {} and not (folder / ".meta" / "0123abcd_old notes.txt.json").exists()
        gone = await client.get(f"/parse/files/{APP_ID}/0123abcd_old%20notes.txt")
        assert gone.status_code == 404


async def test_with_a_key_files_are_encrypted_on_disk_and_served_whole_and_by_range(
    database_server: str, tmp_path: Path
) -> None:
    settings = folder_settings(database_server, tmp_path, "folder_key", files_encryption_key="s3cret")
    text = b"".join(b"line %05d of a private report\n" % number for number in range(20000))  # 600 KB, 3 chunks
    async with running(settings) as (_, client):
        uploaded = await client.post(
            "/parse/files/report 2024.txt", content=text, headers={**MASTER, "Content-Type": "text/plain"}
        )
        name = uploaded.json()["name"]
        url = f"/parse/files/{APP_ID}/{uploaded.json()['url'].rsplit('/', 1)[1]}"
        [(on_disk, content)] = stored(tmp_path / "files").items()
        assert on_disk.endswith("_report%202024.txt")
        assert len(content) == len(text) + 32 and b"private report" not in content  # IV and tag appended
        served = await client.get(url)
        assert served.status_code == 200 and served.content == text
        assert served.headers["content-length"] == str(len(text))
        start = 300_000  # inside the second chunk read from disk
        ranged = await client.get(url, headers={"Range": f"bytes={start}-{start + 299_999}"})
        assert ranged.status_code == 206 and ranged.content == text[start : start + 300_000]
        tail = await client.get(url, headers={"Range": "bytes=-31"})
        assert tail.status_code == 206 and tail.content == text[-31:]
        assert (await client.delete(f"/parse/files/{name}", headers=MASTER)).status_code == 200
        assert stored(tmp_path / "files") == {}


async def test_a_file_that_does_not_decrypt_with_the_key_is_not_found(database_server: str, tmp_path: Path) -> None:
    first = folder_settings(database_server, tmp_path, "folder_keys", files_encryption_key="one key")
    async with running(first) as (_, client):
        uploaded = await client.post("/parse/files/a.txt", content=b"for key one", headers=MASTER)
        url = f"/parse/files/{APP_ID}/{uploaded.json()['name']}"
        assert (await client.get(url)).content == b"for key one"
    async with running(first.replace(files_encryption_key="another key")) as (_, client):
        assert (await client.get(url)).status_code == 404
        assert (await client.head(url)).status_code == 404
    [path] = (tmp_path / "files").glob("*_a.txt")
    changed = bytearray(path.read_bytes())
    changed[3] ^= 1
    path.write_bytes(bytes(changed))
    async with running(first) as (_, client):
        assert (await client.get(url)).status_code == 404  # one byte changed fails the tag as a wrong key does
