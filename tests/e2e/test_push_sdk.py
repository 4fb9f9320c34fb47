"""The Parse JavaScript SDK sends pushes with the master key (`Parse.Push.send`) through a ParseQL whose push option
points at the local Firebase Cloud Messaging server (Android) and the local APNs (iPhones), and reads their
`_PushStatus` back."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.apns_server import ApnsServer
from tests.conftest import MASTER_KEY, make_settings, serving
from tests.e2e.conftest import require_node_clients, run_client
from tests.interop.certificates import throwaway_certificates
from tests.push_servers import FcmServer, fcm_server

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fcm() -> AsyncIterator[FcmServer]:
    async with fcm_server() as server:
        yield server


TEAM, KEY_ID, TOPIC, IPHONE = "TEAM123456", "KEY1234567", "com.example.sdk", "b" * 64


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def apns(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[ApnsServer, Path]]:
    folder = tmp_path_factory.mktemp("apns")
    team_key = ec.generate_private_key(ec.SECP256R1())
    key_file = folder / f"AuthKey_{KEY_ID}.p8"
    pem = team_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    key_file.write_bytes(pem)
    server = ApnsServer(TEAM, KEY_ID, team_key.public_key(), {TOPIC}, throwaway_certificates(folder))
    await server.start()
    try:
        yield server, key_file
    finally:
        await server.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def address(
    fcm: FcmServer,
    apns: tuple[ApnsServer, Path],
    database_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[str]:
    require_node_clients()
    apple, key_file = apns
    settings = make_settings(
        database_server,
        "e2e_push",
        tmp_path_factory.mktemp("data"),
        push={
            "android": {"firebaseServiceAccount": fcm.service_account()},
            "ios": apple.app(token={"key": str(key_file), "keyId": KEY_ID, "teamId": TEAM}, topic=TOPIC),
        },
        push_fcm_url=fcm.url,
    )
    async with serving(settings) as (_, _, address):
        yield address


async def test_the_sdk_pushes_by_channel_and_by_query_to_the_devices_they_name(
    address: str, fcm: FcmServer, apns: tuple[ApnsServer, Path]
) -> None:
    statuses = await run_client("sdk_push.js", address, MASTER_KEY, IPHONE, TOPIC)

    assert statuses == [
        {"status": "succeeded", "numSent": 2, "query": {"channels": {"$in": ["giants"]}}},
        {"status": "succeeded", "numSent": 1, "query": {"appVersion": "3.1"}},
    ]
    received = {message["token"]: json.loads(message["android"]["data"]["data"]) for message in fcm.messages}
    assert received == {
        "sdk-tok-1": {"alert": "Gol!", "title": "Giants"},
        "sdk-tok-2": {"alert": "Update"},
    }
    [iphone] = apns[0].requests
    assert (iphone.device_token, iphone.status, iphone.headers["apns-topic"]) == (IPHONE, 200, TOPIC)
    assert iphone.payload["aps"]["alert"] == {"title": "Giants", "body": "Score!"}
