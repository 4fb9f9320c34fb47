"""`parseql migrate`: the database Parse Server wrote, copied to another database, shows everyone what it showed."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Api, fresh_uri, make_settings, mongodb_only, running
from tests.seed import load_fixture

pytestmark = pytest.mark.asyncio(loop_scope="session")

ALICE_TOKEN = "r:dd4732be15175161a102137166acfb30"
PUBLIC_POST = "DBbd4XUV7W"


async def parseql(*arguments: str) -> tuple[int, str]:
    """`parseql …` as a user runs it; its exit code and everything it printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode is not None
    return process.returncode, output.decode()


FROM_MONGODB = mongodb_only("the source is the database Parse Server wrote on MongoDB (tests/fixtures)")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def copied(database_server: str) -> AsyncIterator[tuple[str, str, str]]:
    """The fixture database, and a copy of it made by `parseql migrate`; with what the command printed."""
    source, target = fresh_uri(database_server, "migrate_from"), fresh_uri(database_server, "migrate_to")
    await load_fixture(source)
    code, output = await parseql("migrate", "--from", source, "--to", target)
    assert code == 0, output
    yield source, target, output


async def views(uri: str, tmp: Path, **settings: Any) -> dict[str, Any]:
    """What alice, bob and the master key are shown by a server on `uri` (with these settings)."""
    async with running(make_settings(uri.rsplit("/", 1)[0], "unused", tmp).replace(database_uri=uri, **settings)) as (
        _,
        client,
    ):
        api = Api(client)
        sessions = (await api.get("/sessions", master=True, params={"order": "createdAt"})).json()  # before logins
        login = await api.post("/login", {"username": "bob", "password": "bob-password"})
        assert login.status_code == 200, login.text
        bob = login.json()["sessionToken"]
        alice_login = await api.get("/login", params={"username": "alice", "password": "alice-password"})
        assert alice_login.status_code == 200, alice_login.text
        post = (await api.get(f"/classes/Post/{PUBLIC_POST}", token=ALICE_TOKEN)).json()
        download = await client.get(post["attachment"]["url"])
        post_pointer = {"__type": "Pointer", "className": "Post", "objectId": PUBLIC_POST}
        liked = {"$relatedTo": {"object": post_pointer, "key": "likedBy"}}
        return {
            "alice": (await api.get("/classes/Post", token=ALICE_TOKEN, params={"order": "createdAt"})).json(),
            "bob": (await api.get("/classes/Post", token=bob, params={"order": "createdAt"})).json(),
            "public": (await api.get("/classes/Post")).json(),
            "users": (await api.get("/users", master=True, params={"order": "username"})).json(),
            "sessions": sessions,
            "roles": (await api.get("/roles", master=True, params={"order": "name", "include": "roles"})).json(),
            "editors": (
                await api.get(
                    "/users",
                    master=True,
                    params={
                        "where": {
                            "$relatedTo": {
                                "object": {"__type": "Pointer", "className": "_Role", "objectId": await role(api)},
                                "key": "users",
                            }
                        }
                    },
                )
            ).json(),
            "liked": (await api.get("/users", master=True, params={"where": liked})).json(),
            "schemas": (await api.get("/schemas", master=True)).json(),
            "config": (await api.get("/config", master=True)).json(),
            "file": (download.status_code, download.content),
        }


async def role(api: Api) -> str:
    found = (await api.get("/roles", master=True, params={"where": {"name": "Editors"}})).json()["results"]
    return str(found[0]["objectId"])


@FROM_MONGODB
async def test_everyone_sees_on_the_copy_what_they_saw_on_the_original(
    copied: tuple[str, str, str], tmp_path: Path
) -> None:
    source, target, output = copied
    before, after = await views(source, tmp_path / "a"), await views(target, tmp_path / "b")
    assert [post["title"] for post in after["bob"]["results"]] == ["Hello", "Private"]
    assert after["file"][0] == 200 and after["file"][1]
    # The copy has every index of the original, and may have more: the geo indexes its engine makes for itself.
    indexes = [{**c.pop("indexes"), "className": c["className"]} for c in before["schemas"]["results"]]
    copied_indexes = [{**c.pop("indexes"), "className": c["className"]} for c in after["schemas"]["results"]]
    assert all(index.items() <= copy.items() for index, copy in zip(indexes, copied_indexes, strict=True))
    for key in before:
        assert after[key] == before[key], key
    assert "every object, relation and file arrived" in output


@FROM_MONGODB
async def test_running_it_again_copies_nothing_twice_and_fills_what_is_missing(
    database_server: str, tmp_path: Path
) -> None:
    source, target = fresh_uri(database_server, "again_from"), fresh_uri(database_server, "again_to")
    await load_fixture(source)
    code, output = await parseql("migrate", "--from", source, "--to", target)
    assert code == 0, output
    async with running(make_settings(target.rsplit("/", 1)[0], "unused", tmp_path).replace(database_uri=target)) as (
        _,
        client,
    ):
        gone = await Api(client).delete(f"/classes/Post/{PUBLIC_POST}", master=True)
        assert gone.status_code == 200
    code, output = await parseql("migrate", "--from", source, "--to", target)
    assert code == 0, output
    lines = output.splitlines()
    summary = lines[next(i for i, line in enumerate(lines) if line.startswith("class ")) :]
    post_line = next(line for line in summary if line.startswith("Post "))
    assert post_line.split()[1:] == ["2", "2", "1"]  # source, target, copied now: only the deleted one
    user_line = next(line for line in summary if line.startswith("_User "))
    assert user_line.split()[1:] == ["2", "2", "0"]


async def test_a_uri_it_cannot_open_is_refused_with_the_reason() -> None:
    code, output = await parseql("migrate", "--from", "mysql://somewhere/db", "--to", "mongodb://127.0.0.1:1/x")
    assert code == 2
    assert "mysql" in output and "not a database" in output


@FROM_MONGODB
async def test_a_copy_on_postgresql_shows_everyone_what_they_saw_on_mongodb(
    database_server: str, postgres_server: str, tmp_path: Path
) -> None:
    source, target = fresh_uri(database_server, "to_pg_from"), fresh_uri(postgres_server, "to_pg")
    await load_fixture(source)
    files = tmp_path / "b" / "files"  # where a server on the copy keeps its files (data_dir/files)
    arguments = ["--to-files", str(files), "--to-files-key", "k3y"]  # encrypted on the way, as Parse's adapter does
    code, output = await parseql("migrate", "--from", source, "--to", target, *arguments)
    assert code == 0, output
    before = await views(source, tmp_path / "a")
    after = await views(target, tmp_path / "b", files_encryption_key="k3y")
    assert after["file"][0] == 200 and after["file"][1] == before["file"][1]
    stored = [path.read_bytes() for path in files.iterdir() if path.is_file()]
    assert len(stored) == 1 and before["file"][1] not in stored[0]  # the folder holds no readable copy
    # Each engine names its own indexes (Parse Server's names on each).
    for view in (before, after):
        for schema in view["schemas"]["results"]:
            schema.pop("indexes", None)
    for key in before:
        assert after[key] == before[key], key
    assert "every object, relation and file arrived" in output
