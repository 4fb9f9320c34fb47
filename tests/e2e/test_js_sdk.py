"""The Parse JavaScript SDK (npm `parse`, unchanged) against a running ParseQL: what an app built on it sees."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import EXAMPLE_CLOUD, MASTER_KEY, Api, make_settings, serving
from tests.e2e.conftest import require_node_clients, run_client

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def address(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """ParseQL as an app would run it: the shipped cloud code, classes created by the first save."""
    require_node_clients()
    settings = make_settings(
        database_server,
        "e2e_js_sdk",
        tmp_path_factory.mktemp("data"),
        cloud=str(EXAMPLE_CLOUD),
        allow_client_class_creation=True,
        idempotency_paths=[".*"],  # what Parse's documentation suggests with the SDK's `Parse.idempotency`
    )
    async with serving(settings) as (_, _, address):
        yield address


async def test_users_sign_up_log_in_and_keep_private_objects_private(address: str) -> None:
    seen = await run_client("sdk_accounts.js", address)
    assert seen["signUp"]["username"] == "ada" and seen["signUp"]["hasSession"]
    assert seen["currentAfterSignUp"] == "ada"
    assert seen["currentAfterLogOut"] is None
    assert seen["graceSees"] == ["ada public"]
    assert seen["graceGetsPrivate"] == {"code": 101, "message": "Object not found."}
    assert seen["graceEdits"]["code"] == 101
    assert seen["anonymousSees"] == ["ada public"]
    assert seen["wrongPassword"] == {"code": 101, "message": "Invalid username/password."}
    assert seen["logIn"] == {"id": seen["signUp"]["id"], "email": "ada@example.com", "current": seen["signUp"]["id"]}
    assert seen["adaSees"] == ["ada private", "ada public"]
    assert seen["me"] == "ada"


async def test_relations_and_files_round_trip(address: str) -> None:
    seen = await run_client("sdk_relations_files.js", address)
    assert seen["anonymousUpload"] == {"code": 130, "message": "File upload by public is disabled."}
    assert seen["authors"] == ["Alice", "Bob", "Carol"]
    assert seen["afterRemove"] == ["Alice", "Carol"]
    assert seen["booksOfCarol"] == 1
    assert seen["file"]["name"].endswith("_cover.bin")
    assert seen["file"]["url"].startswith(f"http://{address}/parse/files/app/")
    assert seen["file"]["status"] == 200
    assert base64.b64decode(seen["downloaded"]) == bytes(range(256))


async def test_query_constraints_answer_as_on_parse_server(address: str) -> None:
    seen = await run_client("sdk_queries.js", address)
    assert seen["startsWithSt"] == ["St. Louis", "Stockholm"]
    assert seen["startsWithStDot"] == ["St. Louis"]
    assert seen["containedIn"] == ["Paris", "Pune"]
    assert seen["inEurope"] == ["Berlin", "Lyon", "Paris", "Stockholm"]
    assert seen["notInEurope"] == ["Portland", "Pune", "St. Louis"]
    assert seen["included"] == "France"
    assert seen["notIncluded"] is None
    assert seen["nearParis"] == ["Paris", "Lyon", "Berlin"]
    assert seen["within500km"] == ["Paris", "Lyon"]
    assert seen["bigCities"] == 3
    assert seen["mostPopulous"] == ["Berlin", "Pune"]
    assert seen["leastPopulous"] == ["St. Louis", "Lyon"]
    assert seen["endsWith"] == ["Portland"]
    assert seen["either"] == ["Lyon", "St. Louis"]
    assert seen["batched"] == 7
    assert seen["selected"] == ["createdAt", "name", "updatedAt"]
    assert seen["newestCountries"] == ["India", "USA", "Sweden", "Germany", "France"]
    assert seen["oldestChanged"] == ["France", "Germany"]


async def test_cloud_functions_and_triggers_answer_the_sdk(address: str) -> None:
    seen = await run_client("sdk_cloud.js", address)
    assert seen["hello"] == "Hello, Ada!"
    assert seen["helloWorld"] == "Hello, world!"
    assert seen["missing"]["code"] == 141
    assert seen["negativeOrder"] == {"code": 141, "message": "total cannot be negative"}
    assert seen["savedOrder"] == {"status": "pending", "total": 12}
    assert seen["negativeOrders"] == 0


async def test_live_query_delivers_each_kind_of_event_the_user_may_see(address: str) -> None:
    seen = await run_client("sdk_livequery.js", address)
    assert seen["events"] == [
        "create:linus:150",
        "update:linus:200<-150",
        "leave:linus:50<-200",
        "enter:linus:300<-50",
        "create:bob:120",
        "delete:linus:300",
    ]


async def test_a_password_is_verified_without_a_session_and_the_master_key_logs_in_as_a_user(address: str) -> None:
    seen = await run_client("sdk_login_as.js", address, MASTER_KEY)
    assert seen["verified"]["username"] == "turing" and seen["verified"]["token"] is None
    assert seen["currentAfterVerify"] is None  # verifying opens no session and signs no one in
    assert seen["wrong"] == {"code": 101, "message": "Invalid username/password."}
    assert seen["actingAs"] == {"id": seen["verified"]["id"], "hasSession": True, "current": seen["verified"]["id"]}
    assert seen["me"] == "turing"


async def test_the_current_installation_is_saved_found_again_and_carried_by_the_session(address: str) -> None:
    seen = await run_client("sdk_installations.js", address, MASTER_KEY)
    installation_id = seen["installationId"]
    assert seen["saved"] == {"hasId": True, "deviceType": "web", "channels": ["news"]}
    assert seen["timeZone"] == "Europe/Paris"
    # As on Parse Server: the row is updated, and the new object learns no id from the answer.
    assert seen["again"] == {"hasId": False, "badge": 2, "sameRow": True}
    assert seen["signUpSession"] == installation_id
    assert seen["session"] == {"installationId": installation_id, "user": True}
    assert seen["endedSignUp"] == {"code": 209, "message": "Invalid session token"}
    assert seen["clientFind"] == {"code": 119, "message": "Permission denied"}
    assert seen["inNews"] == [installation_id]


async def test_a_file_saved_in_a_directory_with_the_master_key(address: str) -> None:
    seen = await run_client("sdk_file_directory.js", address, MASTER_KEY)
    assert seen["name"].startswith("books/2026/") and seen["name"].endswith("_cover.txt")
    assert seen["url"] == f"http://{address}/parse/files/app/{seen['name']}"
    assert (seen["status"], seen["text"]) == (200, "in a folder")
    assert seen["refused"] == {"code": 119, "message": "Directory can only be set using the Master Key."}


ANALYTICS_CLOUD = """
from app.cloud import Cloud

cloud = Cloud()


@cloud.track_event("Search")
def search(request):
    request.log.info("search by %s: %s", request.user.id, sorted(request.dimensions.items()))
"""


async def test_analytics_events_reach_cloud_code(database_server: str, tmp_path: Path) -> None:
    require_node_clients()
    (tmp_path / "cloud.py").write_text(ANALYTICS_CLOUD)
    settings = make_settings(
        database_server, "e2e_analytics", tmp_path, cloud=str(tmp_path / "cloud.py"), allow_client_class_creation=True
    )
    async with serving(settings) as (_, client, address):
        seen = await run_client("sdk_analytics.js", address)
        assert seen["tracked"] == {}
        lines = (await Api(client).get("/scriptlog", master=True, params={"size": "100"})).json()
    expected = f"search by {seen['user']}: [('category', 'poems'), ('dayType', 'weekday')]"
    assert [line["message"] for line in lines].count(expected) == 1


async def test_idempotent_requests_work_and_a_replayed_one_is_refused(address: str) -> None:
    seen = await run_client("sdk_idempotency.js", address)
    assert (seen["saved"], seen["hello"], seen["replayedOnce"]) == ("edited", "Hello, Ada!", True)
    assert seen["replayedTwice"] == {"code": 159, "message": "Duplicate request"}
    assert seen["replayedStored"] == 1


async def test_live_query_at_the_bare_address_delivers_a_create(address: str) -> None:
    seen = await run_client("sdk_livequery_bare.js", address)
    assert seen == {"url": f"ws://{address}", "created": "hello"}
