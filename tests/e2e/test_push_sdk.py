"""The Parse JavaScript SDK sends pushes with the master key (`Parse.Push.send`) through a ParseQL whose push option
points at the local Firebase Cloud Messaging server, and reads their `_PushStatus` back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conftest import MASTER_KEY, make_settings, serving
from tests.e2e.conftest import require_node_clients, run_client
from tests.push_servers import FcmServer, fcm_server

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fcm() -> AsyncIterator[FcmServer]:
    async with fcm_server() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def address(fcm: FcmServer, database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    require_node_clients()
    settings = make_settings(
        database_server,
        "e2e_push",
        tmp_path_factory.mktemp("data"),
        push={"android": {"firebaseServiceAccount": fcm.service_account()}},
        push_fcm_url=fcm.url,
    )
    async with serving(settings) as (_, _, address):
        yield address


async def test_the_sdk_pushes_by_channel_and_by_query_to_the_devices_they_name(address: str, fcm: FcmServer) -> None:
    statuses = await run_client("sdk_push.js", address, MASTER_KEY)

    assert statuses == [
        {"status": "succeeded", "numSent": 1, "query": {"channels": {"$in": ["giants"]}}},
        {"status": "succeeded", "numSent": 1, "query": {"appVersion": "3.1"}},
    ]
    received = {message["token"]: json.loads(message["android"]["data"]["data"]) for message in fcm.messages}
    assert received == {
        "sdk-tok-1": {"alert": "Gol!", "title": "Giants"},
        "sdk-tok-2": {"alert": "Update"},
    }
