"""One push through the real server to both providers at once: Android devices through the local FCM server, iPhones
through the local APNs, with one `_PushStatus` counting both, and a token APNs no longer knows cleared."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.apns_server import ApnsServer
from tests.conftest import Api, make_settings, running
from tests.interop.certificates import throwaway_certificates
from tests.push_servers import FcmServer, fcm_server
from tests.test_push import install, push, settled

pytestmark = pytest.mark.asyncio(loop_scope="session")

TEAM, KEY_ID, TOPIC = "TEAM123456", "KEY1234567", "com.example.app"
IPHONE, OLD_IPHONE = "a" * 64, "c" * 64


@pytest_asyncio.fixture(loop_scope="session")
async def providers(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[FcmServer, ApnsServer, dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("apns")
    team_key = ec.generate_private_key(ec.SECP256R1())
    key_file = folder / f"AuthKey_{KEY_ID}.p8"
    key_file.write_bytes(
        team_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    apns = ApnsServer(TEAM, KEY_ID, team_key.public_key(), {TOPIC}, throwaway_certificates(Path(folder)))
    apns.unregistered[OLD_IPHONE] = 1_765_000_000_000
    await apns.start()
    try:
        async with fcm_server() as fcm:
            option = {
                "android": {"firebaseServiceAccount": fcm.service_account()},
                "ios": apns.app(token={"key": str(key_file), "keyId": KEY_ID, "teamId": TEAM}, topic=TOPIC),
            }
            yield fcm, apns, option
    finally:
        await apns.stop()


async def test_one_push_reaches_android_through_fcm_and_iphones_through_apns(
    providers: tuple[FcmServer, ApnsServer, dict[str, Any]],
    database_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    fcm, apns, option = providers
    settings = make_settings(
        database_server, "push_providers", tmp_path_factory.mktemp("data"), push=option, push_fcm_url=fcm.url
    )
    async with running(settings) as (_, client):
        api = Api(client)
        await install(api, "tok-pixel", channels=["all"], localeIdentifier="fr_FR")
        await install(api, IPHONE, "ios", channels=["all"], badge=4, appIdentifier=TOPIC, localeIdentifier="en_GB")
        old = await install(api, OLD_IPHONE, "ios", channels=["all"], appIdentifier=TOPIC)
        data = {"alert": "Hello", "alert-fr": "Bonjour", "badge": "Increment", "sound": "default"}

        status = await settled(api, await push(api, {"channels": ["all"], "data": data}))

        assert (status["status"], status["numSent"], status["numFailed"]) == ("succeeded", 2, 1)
        assert (status["sentPerType"], status["failedPerType"]) == ({"android": 1, "ios": 1}, {"ios": 1})
        assert json.loads(fcm.messages[0]["android"]["data"]["data"]) == {"alert": "Bonjour", "sound": "default"}
        [delivered] = [request for request in apns.requests if request.status == 200]
        assert delivered.device_token == IPHONE and delivered.headers["apns-topic"] == TOPIC
        assert delivered.payload["aps"] == {"alert": "Hello", "badge": 5, "sound": "default"}
        gone = (await api.get(f"/classes/_Installation/{old}", master=True)).json()
        assert "deviceToken" not in gone
