"""The APNs sender against a local APNs (`tests/apns_server.py`): HTTP/2 over TLS on a real socket, real tokens.

What a user of Parse's `push.ios` option would check: the payload and headers a device gets from Parse's push
data, the provider token (signed, reused, renewed before the hour and when APNs calls it expired), bad and
unregistered device tokens reported per device, the app chosen by the installation's `appIdentifier`, a dead or
refusing APNs raising, at most `concurrency` requests in flight on one connection, and a connection APNs closed
opened again.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.domain.push_delivery import PushDevice, PushMessage, PushOutcome
from app.storage.push_apns import (
    PRODUCTION_HOST,
    SANDBOX_HOST,
    ApnsConfigError,
    ApnsSender,
    ApnsUnavailableError,
)
from tests.apns_server import ApnsServer
from tests.interop.certificates import Certificates, throwaway_certificates

TEAM, KEY_ID, TOPIC = "TEAM123456", "KEY1234567", "com.example.app"
GOOD, BAD, GONE = "a" * 64, "b" * 64, "c" * 64


class Clock:
    """Time that tests move forward, shared by the sender and the server."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return throwaway_certificates(tmp_path_factory.mktemp("apns-tls"))


def _key_file(folder: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    """The key as Apple hands it out: AuthKey_<keyId>.p8, PKCS#8 PEM."""
    path = folder / f"AuthKey_{KEY_ID}.p8"
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return path


@pytest.fixture(scope="module")
def team_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture(loop_scope="session")
async def apns(
    certificates: Certificates, team_key: ec.EllipticCurvePrivateKey, clock: Clock
) -> AsyncIterator[ApnsServer]:
    server = ApnsServer(TEAM, KEY_ID, team_key.public_key(), {TOPIC}, certificates, clock=clock)
    server.bad_tokens.add(BAD)
    server.unregistered[GONE] = 1_765_000_000_000
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def key_file(tmp_path: Path, team_key: ec.EllipticCurvePrivateKey) -> Path:
    return _key_file(tmp_path, team_key)


def _app(server: ApnsServer, key: Path | str, **settings: Any) -> dict[str, Any]:
    return server.app(token={"key": str(key), "keyId": KEY_ID, "teamId": TEAM}, topic=TOPIC) | settings


@pytest_asyncio.fixture(loop_scope="session")
async def sender(apns: ApnsServer, key_file: Path, clock: Clock) -> AsyncIterator[ApnsSender]:
    sender = ApnsSender(_app(apns, key_file), clock=clock)
    try:
        yield sender
    finally:
        await sender.close()


def _devices(*tokens: str, app: str | None = TOPIC) -> list[PushDevice]:
    return [PushDevice("ios", token, f"installation-{n}", app_identifier=app) for n, token in enumerate(tokens)]


async def _push(sender: ApnsSender, data: dict[str, Any], *tokens: str, **message: Any) -> list[PushOutcome]:
    return await sender.send(PushMessage(data=data, devices=_devices(*(tokens or (GOOD,))), **message))


# The payload and the headers


async def test_parse_push_data_becomes_the_aps_dictionary_and_custom_keys(sender: ApnsSender, apns: ApnsServer) -> None:
    data = {
        "alert": "Your order shipped",
        "badge": 3,
        "sound": "chime.caf",
        "category": "ORDER",
        "threadId": "orders",
        "mutable-content": 1,
        "orderId": "o-17",
        "uri": "app://orders/17",
    }
    [outcome] = await _push(sender, data)
    assert outcome == PushOutcome(_devices(GOOD)[0], sent=True)
    [request] = apns.requests
    assert request.device_token == GOOD
    assert request.payload == {
        "aps": {
            "alert": "Your order shipped",
            "badge": 3,
            "sound": "chime.caf",
            "category": "ORDER",
            "thread-id": "orders",
            "mutable-content": 1,
        },
        "orderId": "o-17",
        "uri": "app://orders/17",
    }
    assert (request.headers["apns-topic"], request.headers["apns-push-type"], request.headers["apns-priority"]) == (
        TOPIC,
        "alert",
        "10",
    )
    assert "apns-expiration" not in request.headers and "apns-collapse-id" not in request.headers


@pytest.mark.parametrize(
    ("data", "alert"),
    [
        ({"alert": "Body", "title": "Title"}, {"body": "Body", "title": "Title"}),
        ({"title": "Title", "alert": "Body"}, {"body": "Body", "title": "Title"}),  # Parse loses the title here
        ({"alert": {"title": "T", "body": "B", "loc-key": "K"}}, {"title": "T", "body": "B", "loc-key": "K"}),
        ({"title": "Only a title"}, {"title": "Only a title"}),
    ],
)
async def test_a_title_joins_the_alert(
    sender: ApnsSender, apns: ApnsServer, data: dict[str, Any], alert: dict[str, str]
) -> None:
    await _push(sender, data)
    assert apns.requests[-1].payload["aps"]["alert"] == alert


async def test_a_push_with_only_content_available_is_a_background_push(sender: ApnsSender, apns: ApnsServer) -> None:
    [outcome] = await _push(sender, {"content-available": 1, "refresh": "inbox"})
    assert outcome.sent
    request = apns.requests[-1]
    assert request.payload == {"aps": {"content-available": 1}, "refresh": "inbox"}
    assert (request.headers["apns-push-type"], request.headers["apns-priority"]) == ("background", "5")
    await _push(sender, {"content-available": True, "alert": "New mail"})
    request = apns.requests[-1]
    assert request.payload == {"aps": {"content-available": 1, "alert": "New mail"}}
    assert (request.headers["apns-push-type"], request.headers["apns-priority"]) == ("alert", "10")


async def test_values_apns_cannot_take_are_left_out_of_aps(sender: ApnsSender, apns: ApnsServer) -> None:
    await _push(sender, {"alert": "Hi", "badge": "Increment", "content-available": 0, "category": 7})
    assert apns.requests[-1].payload == {"aps": {"alert": "Hi"}}
    await _push(sender, {"badge": 4.0, "sound": 5})
    assert apns.requests[-1].payload == {"aps": {"badge": 4}}


async def test_expiration_collapse_id_push_type_and_priority_become_headers(
    sender: ApnsSender, apns: ApnsServer
) -> None:
    expires = time.time() + 3600
    data = {"alert": "Score", "collapseId": "match-9", "pushType": "alert", "priority": 5, "topic": TOPIC}
    [outcome] = await _push(sender, data, expiration_time=expires)
    assert outcome.sent
    request = apns.requests[-1]
    assert request.headers["apns-expiration"] == str(round(expires))
    assert request.headers["apns-collapse-id"] == "match-9"
    assert (request.headers["apns-push-type"], request.headers["apns-priority"]) == ("alert", "5")
    assert request.payload == {"aps": {"alert": "Score"}}  # header information stays out of the payload


async def test_a_given_aps_dictionary_is_the_start_of_aps(sender: ApnsSender, apns: ApnsServer) -> None:
    await _push(sender, {"aps": {"alert": {"body": "B"}, "relevance-score": 0.5}, "badge": 1})
    assert apns.requests[-1].payload == {"aps": {"alert": {"body": "B"}, "relevance-score": 0.5, "badge": 1}}


# The provider token


async def test_the_provider_token_is_signed_for_the_team_and_reused(
    sender: ApnsSender, apns: ApnsServer, clock: Clock
) -> None:
    await _push(sender, {"alert": "one"})
    clock.now += 49 * 60
    await _push(sender, {"alert": "two"})
    first, second = apns.requests
    assert (first.status, second.status) == (200, 200)
    assert first.provider_token == second.provider_token
    assert first.claims == {"iss": TEAM, "iat": int(clock.now - 49 * 60)}


async def test_the_provider_token_is_renewed_before_apns_would_call_it_expired(
    sender: ApnsSender, apns: ApnsServer, clock: Clock
) -> None:
    await _push(sender, {"alert": "one"})
    clock.now += 51 * 60
    [outcome] = await _push(sender, {"alert": "two"})
    assert outcome.sent
    first, second = apns.requests
    assert second.provider_token != first.provider_token
    assert second.claims["iat"] == int(clock.now)


async def test_a_token_apns_calls_expired_is_renewed_and_the_request_sent_again(
    sender: ApnsSender, apns: ApnsServer
) -> None:
    await _push(sender, {"alert": "one"})
    apns.expire_token_once()
    outcomes = await _push(sender, {"alert": "two"}, GOOD, "d" * 64, "e" * 64)
    assert [outcome.sent for outcome in outcomes] == [True, True, True]
    refused = [request for request in apns.requests if request.reason == "ExpiredProviderToken"]
    assert len(refused) >= 1
    tokens = {request.provider_token for request in apns.requests}
    assert len(tokens) == 2  # renewed once, although several requests heard "expired"
    [outcome] = await _push(sender, {"alert": "three"})
    assert outcome.sent and apns.requests[-1].provider_token != apns.requests[0].provider_token


async def test_the_key_may_be_given_as_its_pem_text(apns: ApnsServer, team_key: ec.EllipticCurvePrivateKey) -> None:
    pem = team_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    sender = ApnsSender(_app(apns, pem.decode()))
    try:
        [outcome] = await _push(sender, {"alert": "hi"})
    finally:
        await sender.close()
    assert outcome.sent


async def test_credentials_apns_refuses_raise(apns: ApnsServer, tmp_path: Path) -> None:
    stranger = _key_file(tmp_path, ec.generate_private_key(ec.SECP256R1()))
    sender = ApnsSender(_app(apns, stranger))
    try:
        with pytest.raises(ApnsUnavailableError, match="InvalidProviderToken"):
            await _push(sender, {"alert": "hi"}, GOOD, "d" * 64)
    finally:
        await sender.close()


# What APNs says of each device


async def test_bad_and_unregistered_tokens_are_outcomes_of_their_own_devices(
    sender: ApnsSender, apns: ApnsServer
) -> None:
    devices = _devices(GOOD, BAD, GONE, "short")
    outcomes = await sender.send(PushMessage(data={"alert": "hi"}, devices=devices))
    assert outcomes == [
        PushOutcome(devices[0], sent=True),
        PushOutcome(devices[1], sent=False, error="BadDeviceToken", unregistered=True),
        PushOutcome(devices[2], sent=False, error="Unregistered", unregistered=True),
        PushOutcome(devices[3], sent=False, error="BadDeviceToken", unregistered=True),
    ]
    assert sorted(request.status for request in apns.requests) == [200, 400, 400, 410]


async def test_an_app_identifier_no_app_serves_finds_no_provider(sender: ApnsSender) -> None:
    [device] = _devices(GOOD, app="com.example.other")
    [outcome] = await sender.send(PushMessage(data={"alert": "hi"}, devices=[device]))
    # No app has that topic, so the one without a topic would serve it; here there is none.
    assert outcome == PushOutcome(device, sent=False, error="No Provider found")


async def test_a_topic_apns_does_not_know_for_the_token_is_reported(
    apns: ApnsServer, key_file: Path, clock: Clock
) -> None:
    sender = ApnsSender(_app(apns, key_file, topic=None), clock=clock)  # no topic: serves every appIdentifier
    try:
        [device] = _devices(GOOD, app="com.example.other")
        [outcome] = await sender.send(PushMessage(data={"alert": "hi"}, devices=[device]))
    finally:
        await sender.close()
    assert outcome == PushOutcome(device, sent=False, error="DeviceTokenNotForTopic", unregistered=False)
    assert apns.requests[-1].headers["apns-topic"] == "com.example.other"


# Apps, topics and environments


async def test_the_installations_app_identifier_chooses_the_app(
    apns: ApnsServer, certificates: Certificates, tmp_path: Path, key_file: Path
) -> None:
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = ApnsServer("TEAM999999", KEY_ID, other_key.public_key(), {"com.example.widget"}, certificates)
    await other.start()
    (tmp_path / "other").mkdir()
    widget_app = other.app(
        token={"key": str(_key_file(tmp_path / "other", other_key)), "keyId": KEY_ID, "teamId": "TEAM999999"},
        topic="com.example.widget",
    )
    sender = ApnsSender([_app(apns, key_file), widget_app])
    try:
        devices = [*_devices(GOOD), *_devices("d" * 64, app="com.example.widget"), *_devices("e" * 64, app=None)]
        outcomes = await sender.send(PushMessage(data={"alert": "hi"}, devices=devices))
    finally:
        await sender.close()
        await other.stop()
    assert [outcome.error for outcome in outcomes] == [None, None, "No Provider found"]
    assert [(r.device_token, r.headers["apns-topic"]) for r in apns.requests] == [(GOOD, TOPIC)]
    assert [(r.device_token, r.headers["apns-topic"]) for r in other.requests] == [("d" * 64, "com.example.widget")]


async def test_an_installation_without_app_identifier_uses_the_one_topic(sender: ApnsSender, apns: ApnsServer) -> None:
    [outcome] = await sender.send(PushMessage(data={"alert": "hi"}, devices=_devices(GOOD, app=None)))
    assert outcome.sent
    assert apns.requests[-1].headers["apns-topic"] == TOPIC


async def test_a_token_bad_for_production_is_tried_on_the_sandbox(
    apns: ApnsServer, certificates: Certificates, team_key: ec.EllipticCurvePrivateKey, key_file: Path
) -> None:
    production = ApnsServer(TEAM, KEY_ID, team_key.public_key(), {TOPIC}, certificates)
    production.bad_tokens.add(GOOD)  # a development build's token
    production.unregistered["d" * 64] = 1_765_000_000_000  # a production token, uninstalled
    await production.start()
    sender = ApnsSender([_app(apns, key_file, production=False), _app(production, key_file, production=True)])
    try:
        outcomes = await sender.send(PushMessage(data={"alert": "hi"}, devices=_devices(GOOD, "d" * 64, "e" * 64)))
    finally:
        await sender.close()
        await production.stop()
    assert [(outcome.sent, outcome.error) for outcome in outcomes] == [
        (True, None),
        (False, "Unregistered"),
        (True, None),
    ]
    assert sorted((r.device_token[0], r.status) for r in production.requests) == [("a", 400), ("d", 410), ("e", 200)]
    assert [(r.device_token, r.status) for r in apns.requests] == [
        (GOOD, 200)
    ]  # only the token production did not know


def test_apple_hosts_are_chosen_by_production(key_file: Path) -> None:
    token = {"key": str(key_file), "keyId": KEY_ID, "teamId": TEAM}
    assert ApnsSender({"token": token, "topic": TOPIC, "production": True}).endpoints == [
        f"https://{PRODUCTION_HOST}:443"
    ]
    assert ApnsSender({"token": token, "topic": TOPIC}).endpoints == [f"https://{SANDBOX_HOST}:443"]
    assert ApnsSender({"token": token, "bundleId": TOPIC}).device_types == frozenset({"ios", "osx", "tvos"})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"cert": "cert.pem", "key": "key.pem", "topic": TOPIC}, "certificate authentication is not supported"),
        ({"token": {"key": "KEY", "teamId": TEAM}, "topic": TOPIC}, "token.keyId is missing"),
        ({"token": {"key": "/nowhere/AuthKey.p8", "keyId": KEY_ID, "teamId": TEAM}}, "cannot read /nowhere"),
        ([], "the list of apps is empty"),
    ],
)
def test_settings_that_cannot_work_are_refused_at_start(config: Any, message: str) -> None:
    with pytest.raises(ApnsConfigError, match=message):
        ApnsSender(config)


# The connection


async def test_an_unreachable_apns_raises(key_file: Path, certificates: Certificates) -> None:
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = {"token": {"key": str(key_file), "keyId": KEY_ID, "teamId": TEAM}, "topic": TOPIC}
    sender = ApnsSender(app | {"address": "127.0.0.1", "port": port, "ca": str(certificates.ca)})
    try:
        with pytest.raises(ApnsUnavailableError, match="unreachable"):
            await _push(sender, {"alert": "hi"}, GOOD, "d" * 64)
    finally:
        await sender.close()


async def test_an_apns_that_does_not_answer_in_time_raises(apns: ApnsServer, key_file: Path) -> None:
    sender = ApnsSender(_app(apns, key_file, requestTimeout=500))
    try:
        await _push(sender, {"alert": "connects"})  # so that only the answer can be late, not the connection
        apns.hold_until_in_flight(1000)
        with pytest.raises(ApnsUnavailableError, match="in time"):
            await _push(sender, {"alert": "hi"})
    finally:
        await sender.close()


async def test_requests_share_one_connection_at_most_concurrency_at_once(apns: ApnsServer, key_file: Path) -> None:
    apns.hold_until_in_flight(3)
    sender = ApnsSender(_app(apns, key_file, concurrency=3))
    tokens = [f"{n:064x}" for n in range(10)]
    try:
        outcomes = await _push(sender, {"alert": "hi"}, *tokens)
    finally:
        await sender.close()
    assert all(outcome.sent for outcome in outcomes)
    assert (apns.connections, apns.most_in_flight, len(apns.requests)) == (1, 3, 10)


async def test_a_connection_apns_closed_is_opened_again(sender: ApnsSender, apns: ApnsServer) -> None:
    await _push(sender, {"alert": "one"})
    apns.go_away()
    [outcome] = await _push(sender, {"alert": "two"})
    assert outcome.sent
    assert apns.connections == 2


async def test_close_closes_the_connection(apns: ApnsServer, key_file: Path) -> None:
    sender = ApnsSender(_app(apns, key_file))
    await _push(sender, {"alert": "hi"})
    assert apns.open_connections == 1
    await sender.close()
    await apns.wait_until_disconnected()
    assert apns.open_connections == 0
