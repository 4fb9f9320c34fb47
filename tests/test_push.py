"""Push notifications through the real server to a local Firebase Cloud Messaging server (`tests/push_servers.py`):
who receives a push and what, what `_PushStatus` records, scheduled pushes, refused tokens, bad requests, and push
audiences."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from app.asgi import StartupError, create_app
from app.domain.push import PushLimits
from tests.conftest import Api, fresh_uri, make_settings, running
from tests.push_servers import FcmServer, fcm_server

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fcm() -> AsyncIterator[FcmServer]:
    async with fcm_server() as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(fcm: FcmServer, database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """A server whose push option sends Android pushes, and macOS ones (as Parse can), through the local FCM server."""
    account = fcm.service_account()
    settings = make_settings(
        database_server,
        "push",
        tmp_path_factory.mktemp("data"),
        push={"android": {"firebaseServiceAccount": account}, "osx": {"firebaseServiceAccount": account}},
        push_fcm_url=fcm.url,
    )
    async with running(settings) as (_, client):
        yield Api(client)


@pytest.fixture(autouse=True)
def fresh_fcm(fcm: FcmServer) -> None:
    fcm.messages.clear()
    fcm.refused.clear()
    fcm.unregistered.clear()
    fcm.invalid.clear()
    fcm.unavailable.clear()
    fcm.refuse_grants = False


async def install(api: Api, token: str | None, device_type: str = "android", **fields: Any) -> str:
    body = {"installationId": f"id-{token or time.time_ns()}", "deviceType": device_type, **fields}
    if token is not None:
        body["deviceToken"] = token
    created = await api.post("/classes/_Installation", body, master=True)
    assert created.status_code == 201, created.text
    return str(created.json()["objectId"])


async def push(api: Api, body: dict[str, Any]) -> str:
    sent = await api.post("/push", body, master=True)
    assert (sent.status_code, sent.json()) == (200, {"result": True}), sent.text
    return sent.headers["X-Parse-Push-Status-Id"]


async def settled(api: Api, status_id: str) -> dict[str, Any]:
    """The push's status once it is no longer waiting or being sent (or after 15 seconds)."""
    deadline = time.monotonic() + 15.0
    while True:
        status: dict[str, Any] = (await api.get(f"/classes/_PushStatus/{status_id}", master=True)).json()
        if status["status"] in ("succeeded", "failed") or time.monotonic() > deadline:
            return status
        await asyncio.sleep(0.05)


def delivered(fcm: FcmServer) -> dict[str, dict[str, Any]]:
    """What each device received, by token: the push data the Parse Android SDK reads, and the message."""
    return {message["token"]: json.loads(message["android"]["data"]["data"]) for message in fcm.messages}


async def test_a_push_to_a_channel_reaches_its_devices_localized_with_their_badges_incremented(
    api: Api, fcm: FcmServer
) -> None:
    french = await install(api, "tok-fr", channels=["news"], localeIdentifier="fr_FR", badge=3)
    english = await install(api, "tok-en", channels=["news"], localeIdentifier="en_US")
    await install(api, "tok-sports", channels=["sports"])
    await install(api, None, channels=["news"])  # no token: nothing to send to
    iphone = await install(api, "tok-ios", "ios", channels=["news"], badge=7)  # no APNs sender here
    data = {"alert": "Hello", "alert-fr": "Bonjour", "badge": "Increment", "sound": "ding.caf", "custom": {"a": 1}}

    status_id = await push(api, {"channels": ["news"], "data": data})
    status = await settled(api, status_id)

    assert delivered(fcm) == {
        "tok-fr": {"alert": "Bonjour", "sound": "ding.caf", "custom": {"a": 1}},
        "tok-en": {"alert": "Hello", "sound": "ding.caf", "custom": {"a": 1}},
    }
    message = fcm.messages[0]["android"]
    assert message["priority"] == "high" and set(message["data"]) == {"push_id", "time", "data"}
    badges = {
        object_id: (await api.get(f"/classes/_Installation/{object_id}", master=True)).json()["badge"]
        for object_id in (french, english, iphone)
    }
    assert badges == {french: 4, english: 1, iphone: 8}
    assert {key: status[key] for key in ("status", "numSent", "numFailed", "sentPerType", "failedPerType")} == {
        "status": "succeeded",
        "numSent": 2,
        "numFailed": 1,
        "sentPerType": {"android": 2},
        "failedPerType": {"ios": 1},
    }
    assert status["source"] == "rest" and status["ACL"] == {} and "count" not in status
    assert json.loads(status["query"]) == {"channels": {"$in": ["news"]}}
    assert json.loads(status["payload"]) == data
    assert status["pushHash"] == hashlib.md5(b"Hello").hexdigest()
    assert datetime.fromisoformat(status["pushTime"]) <= datetime.now(UTC)


async def test_an_apple_device_sent_through_fcm_gets_an_apns_payload(api: Api, fcm: FcmServer) -> None:
    await install(api, "tok-mac", "osx", channels=["mac"], badge=1)
    data = {"title": "Hi", "alert": "Hello", "badge": "Increment", "sound": "a.caf", "content-available": 1, "x": 2}

    status = await settled(api, await push(api, {"channels": ["mac"], "data": data, "expiration_interval": 60}))

    assert (status["numSent"], status["sentPerType"]) == (1, {"osx": 1})
    [message] = fcm.messages
    assert message["apns"]["payload"] == {
        "aps": {"alert": {"title": "Hi", "body": "Hello"}, "badge": 2, "sound": "a.caf", "content-available": 1},
        "x": 2,
    }
    headers = message["apns"]["headers"]
    assert headers["apns-push-type"] == "alert" and 50 < int(headers["apns-expiration"]) - time.time() < 61


async def test_a_push_to_a_query_reaches_the_devices_it_matches(api: Api, fcm: FcmServer) -> None:
    await install(api, "tok-v2-a", appVersion="2.0")
    await install(api, "tok-v2-b", appVersion="2.0")
    await install(api, "tok-v1", appVersion="1.0")

    status = await settled(api, await push(api, {"where": {"appVersion": "2.0"}, "data": {"alert": "New!"}}))

    assert sorted(delivered(fcm)) == ["tok-v2-a", "tok-v2-b"]
    assert (status["status"], status["numSent"], json.loads(status["query"])) == (
        "succeeded",
        2,
        {"appVersion": "2.0"},
    )


async def test_a_token_fcm_refuses_counts_as_failed_and_an_unregistered_one_is_cleared(
    api: Api, fcm: FcmServer
) -> None:
    kept = await install(api, "tok-good", channels=["refusals"])
    gone = await install(api, "tok-gone", channels=["refusals"])
    garbled = await install(api, "tok-garbled", channels=["refusals"])
    fcm.unregistered.add("tok-gone")
    fcm.invalid.add("tok-garbled")

    status = await settled(api, await push(api, {"channels": ["refusals"], "data": {"alert": "x"}}))

    assert (status["status"], status["numSent"], status["numFailed"]) == ("succeeded", 1, 2)
    assert status["failedPerType"] == {"android": 2}
    tokens = {
        object_id: (await api.get(f"/classes/_Installation/{object_id}", master=True)).json().get("deviceToken")
        for object_id in (kept, gone, garbled)
    }
    assert tokens == {kept: "tok-good", gone: None, garbled: None}


async def test_a_message_fcm_asks_to_retry_is_sent_again(api: Api, fcm: FcmServer) -> None:
    await install(api, "tok-busy", channels=["busy"])
    await install(api, "tok-down", channels=["busy"])
    fcm.unavailable.update({"tok-busy": 2, "tok-down": 3})  # two retries at most

    status = await settled(api, await push(api, {"channels": ["busy"], "data": {"alert": "x"}}))

    assert sorted(delivered(fcm)) == ["tok-busy"]
    assert (status["numSent"], status["numFailed"]) == (1, 1)


async def test_a_scheduled_push_waits_for_its_time_then_is_sent(api: Api, fcm: FcmServer) -> None:
    await install(api, "tok-later", channels=["later"])
    at = datetime.now(UTC) + timedelta(seconds=2)
    push_time = at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    status_id = await push(api, {"channels": ["later"], "data": {"alert": "Later"}, "push_time": push_time})
    waiting = (await api.get(f"/classes/_PushStatus/{status_id}", master=True)).json()
    assert (waiting["status"], waiting["pushTime"], waiting["numSent"]) == ("scheduled", push_time, 0)
    assert fcm.messages == []

    await fcm.wait_for(1)
    assert datetime.now(UTC) >= at
    assert delivered(fcm) == {"tok-later": {"alert": "Later"}}
    assert (await settled(api, status_id))["status"] == "succeeded"


async def test_a_scheduled_push_is_sent_once_by_one_of_several_instances_after_its_own_stopped(
    fcm: FcmServer, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    uri = fresh_uri(database_server, "push_instances")
    settings = make_settings(
        database_server,
        "push_instances",
        tmp_path_factory.mktemp("data"),
        database_uri=uri,
        push={"android": {"firebaseServiceAccount": fcm.service_account()}},
        push_fcm_url=fcm.url,
    )
    async with running(settings) as (_, client):
        first = Api(client)
        await install(first, "tok-once", channels=["once"])
        due = (datetime.now(UTC) + timedelta(seconds=1.5)).isoformat()
        status_id = await push(first, {"channels": ["once"], "data": {"alert": "Once"}, "push_time": due})
    assert fcm.messages == []  # the instance that took it stopped before it was due

    async with running(settings) as (_, one), running(settings) as (_, other):
        status = await settled(Api(one), status_id)
        assert (status["status"], status["numSent"]) == ("succeeded", 1)
        assert (await Api(other).get(f"/classes/_PushStatus/{status_id}", master=True)).json() == status
    assert delivered(fcm) == {"tok-once": {"alert": "Once"}} and len(fcm.messages) == 1


async def test_a_push_whose_instance_stopped_before_sending_it_is_sent_by_another(
    api: Api, fcm: FcmServer, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    uri = fresh_uri(database_server, "push_orphans")
    settings = make_settings(
        database_server,
        "push_orphans",
        tmp_path_factory.mktemp("data"),
        database_uri=uri,
        push={"android": {"firebaseServiceAccount": fcm.service_account()}},
        push_fcm_url=fcm.url,
    )
    async with running(settings) as (_, client):
        crashed = Api(client)
        await install(crashed, "tok-orphan", channels=["orphan"])
        # What an instance leaves when it stops between recording a push and starting to send it.
        orphan = {"status": "pending", "query": '{"channels":{"$in":["orphan"]}}', "payload": '{"alert":"Still"}'}
        status_id = (await crashed.post("/classes/_PushStatus", orphan, master=True)).json()["objectId"]

    app = create_app(settings)
    app.state.services.push.limits = PushLimits(poll_interval=0.1, orphan_after=0.5)
    async with app.router.lifespan_context(app):
        await fcm.wait_for(1)
    assert delivered(fcm) == {"tok-orphan": {"alert": "Still"}}
    async with running(settings) as (_, client):
        assert (await settled(Api(client), status_id))["status"] == "succeeded"


async def test_an_instance_without_a_push_worker_records_pushes_that_a_worker_instance_sends(
    fcm: FcmServer, database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    uri, data = fresh_uri(database_server, "push_workers"), tmp_path_factory.mktemp("data")
    account = fcm.service_account()
    options = {"android": {"firebaseServiceAccount": account}, "queueOptions": {"batchSize": 1}}
    worker = make_settings(database_server, "", data, database_uri=uri, push=options, push_fcm_url=fcm.url)
    front = worker.replace(push={**options, "queueOptions": {"disablePushWorker": True}})
    async with running(front) as (_, client):
        api = Api(client)
        for token in ("tok-w1", "tok-w2", "tok-w3"):
            await install(api, token, channels=["workers"])
        status_id = await push(api, {"channels": ["workers"], "data": {"alert": "From the worker"}})
        await asyncio.sleep(0.5)  # an absence can only be waited for: an instance that sends would have by now
        assert (await api.get(f"/classes/_PushStatus/{status_id}", master=True)).json()["status"] == "pending"
        assert fcm.messages == []

        app = create_app(worker)
        app.state.services.push.limits = PushLimits(page_size=1, poll_interval=0.1, orphan_after=0.2)
        async with app.router.lifespan_context(app):
            status = await settled(api, status_id)
    assert (status["status"], status["numSent"]) == ("succeeded", 3)
    assert sorted(delivered(fcm)) == ["tok-w1", "tok-w2", "tok-w3"]


async def test_a_push_option_parse_would_refuse_stops_the_start(
    database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("data")
    for option, reason in [
        ({"winphone": {}}, "push: push to winphone is not supported"),
        ({"android": {}}, "push: android needs firebaseServiceAccount (Firebase Cloud Messaging)"),
        ({"android": {"firebaseServiceAccount": {"project_id": "p"}}}, "lacks private_key, client_email"),
        ({"adapter": "my-adapter"}, "push: adapter names a JavaScript module"),
    ]:
        with pytest.raises(StartupError, match=re.escape(reason)):
            # Refused while the app is built, before any database is reached.
            create_app(make_settings("", "", data, database_uri="mongodb://127.0.0.1:9/unused", push=option))


async def test_a_push_time_without_a_time_zone_is_kept_without_one_as_parse_keeps_it(api: Api) -> None:
    status_id = await push(
        api,
        {"channels": ["nobody"], "data": {"alert": "x"}, "push_time": "2099-01-01T10:00:00", "expiration_interval": 60},
    )
    status = (await api.get(f"/classes/_PushStatus/{status_id}", master=True)).json()
    assert (status["status"], status["pushTime"], status["expiration_interval"]) == (
        "scheduled",
        "2099-01-01T10:00:00.000",
        60,
    )
    assert "expiry" not in status  # a scheduled push's interval counts from when it is sent


async def test_an_expiration_becomes_the_messages_time_to_live(api: Api, fcm: FcmServer) -> None:
    await install(api, "tok-ttl", channels=["ttl"])
    status_id = await push(api, {"channels": ["ttl"], "data": {"alert": "soon"}, "expiration_interval": 600})
    status = await settled(api, status_id)

    ttl = int(fcm.messages[0]["android"]["ttl"].removesuffix("s"))
    assert 590 <= ttl <= 600
    assert status["expiration_interval"] == 600 and isinstance(status["expiry"], int)


async def test_a_provider_that_refuses_the_service_account_fails_the_push_with_its_reason(
    api: Api, fcm: FcmServer
) -> None:
    await install(api, "tok-denied", channels=["denied"])
    fcm.refuse_grants = True
    fcm.forget_tokens()

    status = await settled(api, await push(api, {"channels": ["denied"], "data": {"alert": "x"}}))

    assert (status["status"], status["numFailed"]) == ("failed", 1)
    assert "refused the service account" in status["errorMessage"]["message"]
    assert (await api.get("/health")).json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": {"alert": "x"}}, 'Sending a push requires either "channels" or a "where" query.'),
        ({"channels": ["a"], "where": {}, "data": {}}, "Channels and query can not be set at the same time."),
        ({"channels": ["a"], "push_time": "nope"}, "nope is not valid time."),
        ({"channels": ["a"], "push_time": True}, "true is not valid time."),
        ({"channels": ["a"], "expiration_time": {}}, "[object Object] is not valid time."),
        ({"channels": ["a"], "expiration_interval": 0}, "expiration_interval must be a number greater than 0"),
        ({"channels": ["a"], "expiration_interval": "5"}, "expiration_interval must be a number greater than 0"),
        (
            {"channels": ["a"], "expiration_interval": 5, "expiration_time": 1900000000},
            "Both expiration_time and expiration_interval cannot be set",
        ),
        # Parse Server throws this one bare and answers code 1, "Internal server error."; it is the caller's error.
        (
            {"channels": ["a"], "data": {"badge": "bogus"}},
            "Invalid value for badge, expected number or 'Increment' or {increment: number}",
        ),
    ],
)
async def test_bad_push_requests_are_refused_with_parses_errors(api: Api, body: dict[str, Any], message: str) -> None:
    refused = await api.post("/push", body, master=True)
    assert (refused.status_code, refused.json()) == (400, {"code": 115, "error": message})


async def test_a_query_that_cannot_run_is_refused_before_anything_is_recorded(api: Api) -> None:
    # Parse Server answers `true` here, then fails the push in the background with an empty errorMessage.
    before = (await api.get("/classes/_PushStatus", master=True, params={"count": 1, "limit": 0})).json()["count"]
    refused = await api.post("/push", {"where": {"channels": {"$in": "news"}}, "data": {"alert": "x"}}, master=True)
    assert (refused.status_code, refused.json()) == (400, {"code": 107, "error": "bad $in value"})
    after = (await api.get("/classes/_PushStatus", master=True, params={"count": 1, "limit": 0})).json()["count"]
    assert after == before


async def test_the_access_token_is_kept_until_it_expires(api: Api, fcm: FcmServer) -> None:
    await install(api, "tok-token", channels=["token"])
    await settled(api, await push(api, {"channels": ["token"], "data": {"alert": "one"}}))
    issued = fcm.tokens_issued
    await settled(api, await push(api, {"channels": ["token"], "data": {"alert": "two"}}))
    assert fcm.tokens_issued == issued and len(fcm.messages) == 2


async def test_only_the_master_key_sends_pushes(api: Api) -> None:
    refused = await api.post("/push", {"channels": ["a"], "data": {"alert": "x"}})
    assert (refused.status_code, refused.json()) == (403, {"error": "Permission denied"})


async def test_dashboard_is_offered_push_when_it_is_configured(api: Api) -> None:
    features = (await api.get("/serverInfo", master=True)).json()["features"]
    assert features["push"] == {
        "immediatePush": True,
        "scheduledPush": True,
        "storedPushData": True,
        "pushAudiences": True,
        "localization": True,
    }


async def test_without_push_configuration_a_push_is_refused_and_dashboard_offers_none(
    database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = make_settings(database_server, "no_push", tmp_path_factory.mktemp("data"))
    async with running(settings) as (_, client):
        api = Api(client)
        refused = await api.post("/push", {"channels": ["a"], "data": {"alert": "x"}}, master=True)
        assert (refused.status_code, refused.json()) == (400, {"code": 115, "error": "Missing push configuration"})
        features = (await api.get("/serverInfo", master=True)).json()["features"]
        assert not any(features["push"].values())


async def test_push_audiences_are_saved_queries_the_master_key_manages(api: Api) -> None:
    query = {"localeIdentifier": "fr_FR"}
    created = await api.post("/push_audiences", {"name": "French", "query": json.dumps(query)}, master=True)
    assert created.status_code == 201 and set(created.json()) == {"objectId", "createdAt"}
    audience_id = created.json()["objectId"]

    listed = (await api.get("/push_audiences", master=True)).json()["results"]
    assert [(a["objectId"], a["name"], a["query"]) for a in listed] == [(audience_id, "French", query)]
    assert (await api.put(f"/push_audiences/{audience_id}", {"name": "Français"}, master=True)).status_code == 200

    await push(api, {"where": query, "audience_id": audience_id, "data": {"alert": "Salut"}})
    used = (await api.get(f"/push_audiences/{audience_id}", master=True)).json()
    assert (used["name"], used["query"], used["timesUsed"]) == ("Français", query, 1)
    assert used["lastUsed"]["__type"] == "Date"

    assert (await api.get("/push_audiences")).status_code == 403
    assert (await api.delete(f"/push_audiences/{audience_id}", master=True)).json() == {}
    missing = await api.get(f"/push_audiences/{audience_id}", master=True)
    assert missing.json() == {"code": 101, "error": "Object not found."}
