"""Sessions hold the keys to accounts and carry no ACL: a client reaches only its own user's, through every
transport, and changes nothing that makes a session a session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from app.domain.values import utc_now
from tests.conftest import Api, make_settings, running
from tests.graphql.helpers import Gql

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clients(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Api, Gql]]:
    settings = make_settings(database_server, "sessions", tmp_path_factory.mktemp("data"))
    async with running(settings) as (_, client):
        yield Api(client), Gql(client)


async def _sign_up(api: Api, name: str) -> dict[str, Any]:
    answer = await api.post("/users", {"username": name, "password": "pw"})
    assert answer.status_code == 201
    return dict(answer.json())


async def test_a_client_sees_only_its_own_sessions(clients: tuple[Api, Gql]) -> None:
    api, gql = clients
    ann, bob = await _sign_up(api, "ann"), await _sign_up(api, "bob")
    assert (await api.get("/classes/_Session")).json() == {"code": 209, "error": "Permission denied"}
    assert (await gql.error("{ sessions { count } }"))["extensions"] == {"code": 209}

    mine = (await api.get("/classes/_Session", token=ann["sessionToken"])).json()["results"]
    assert [s["sessionToken"] for s in mine] == [ann["sessionToken"]]
    through_graphql = await gql.data(
        "{ sessions { edges { node { sessionToken user { objectId } } } } }", token=ann["sessionToken"]
    )
    assert [edge["node"]["sessionToken"] for edge in through_graphql["sessions"]["edges"]] == [ann["sessionToken"]]
    probe = await api.get(
        "/classes/_Session", token=ann["sessionToken"], params={"where": {"sessionToken": bob["sessionToken"]}}
    )
    assert probe.json() == {"results": []}
    everyone = await api.get("/classes/_Session", master=True)
    assert {s["sessionToken"] for s in everyone.json()["results"]} >= {ann["sessionToken"], bob["sessionToken"]}


async def test_another_users_session_cannot_be_read_changed_or_ended(clients: tuple[Api, Gql]) -> None:
    api, _ = clients
    eve, carol = await _sign_up(api, "eve"), await _sign_up(api, "carol")
    (carol_session,) = (await api.get("/classes/_Session", token=carol["sessionToken"])).json()["results"]
    path = f"/classes/_Session/{carol_session['objectId']}"
    assert (await api.get(path, token=eve["sessionToken"])).status_code == 404
    assert (await api.put(path, {"note": "x"}, token=eve["sessionToken"])).status_code == 404
    assert (await api.delete(path, token=eve["sessionToken"])).status_code == 404
    still = await api.get("/classes/_User", token=carol["sessionToken"])
    assert still.status_code == 200  # carol's token still works


async def test_a_client_cannot_forge_or_extend_a_session(clients: tuple[Api, Gql]) -> None:
    api, _ = clients
    dan = await _sign_up(api, "dan")
    token = dan["sessionToken"]
    (own,) = (await api.get("/classes/_Session", token=token)).json()["results"]
    path = f"/classes/_Session/{own['objectId']}"
    for change in (
        {"sessionToken": "r:mine"},
        {"expiresAt": {"__type": "Date", "iso": "2999-01-01T00:00:00.000Z"}},
        {"ACL": {"*": {"read": True}}},
    ):
        answer = await api.put(path, change, token=token)
        assert answer.status_code == 400 and answer.json()["code"] == 105, change
    assert (await api.get(path, token=token)).json()["expiresAt"] == own["expiresAt"]

    refused = await api.post("/classes/_Session", {"sessionToken": "r:chosen"})
    assert refused.json() == {"code": 209, "error": "Session token required."}
    made = await api.post("/classes/_Session", {"sessionToken": "r:chosen", "note": "phone"}, token=token)
    assert made.status_code == 201
    created = made.json()
    assert created["sessionToken"] != "r:chosen" and created["sessionToken"].startswith("r:")
    assert created["user"] == {"__type": "Pointer", "className": "_User", "objectId": dan["objectId"]}
    works = await api.get("/classes/_Session", token=created["sessionToken"])
    assert len(works.json()["results"]) == 2


async def test_a_change_to_roles_or_sessions_takes_effect_on_the_next_request(clients: tuple[Api, Gql]) -> None:
    """Callers are cached for a few seconds; a write that changes who they are clears what it makes stale."""
    api, gql = clients
    fay = await _sign_up(api, "fay")
    token = fay["sessionToken"]
    editors = await api.post("/roles", {"name": "Editors", "ACL": {"*": {"read": True}}}, master=True)
    await api.post("/classes/Memo", {"text": "for editors", "ACL": {"role:Editors": {"read": True}}}, master=True)
    assert (await api.get("/classes/Memo", token=token)).json()["results"] == []  # fay's roles are now cached
    member = {
        "users": {
            "__op": "AddRelation",
            "objects": [{"__type": "Pointer", "className": "_User", "objectId": fay["objectId"]}],
        }
    }
    await api.put(f"/roles/{editors.json()['objectId']}", member, master=True)
    assert [memo["text"] for memo in (await api.get("/classes/Memo", token=token)).json()["results"]] == ["for editors"]
    assert (await gql.data("{ memos { count } }", token=token)) == {"memos": {"count": 1}}

    (session,) = (await api.get("/classes/_Session", token=token)).json()["results"]
    await api.delete(f"/sessions/{session['objectId']}", master=True)
    assert (await api.get("/users/me", token=token)).json() == {"code": 209, "error": "Invalid session token"}

    gus = await _sign_up(api, "gus")
    assert (await api.get("/users/me", token=gus["sessionToken"])).status_code == 200
    await api.delete(f"/users/{gus['objectId']}", master=True)
    assert (await api.get("/users/me", token=gus["sessionToken"])).json()["code"] == 209


async def test_sessions_last_session_length_or_forever(database_server: str, tmp_path: Path) -> None:
    for expire, length in ((True, 3600), (False, 3600)):
        settings = make_settings(
            database_server,
            f"session_length_{expire}",
            tmp_path,
            session_length=length,
            expire_inactive_sessions=expire,
        )
        async with running(settings) as (_, client):
            api = Api(client)
            token = (await api.post("/users", {"username": "ola", "password": "pw"})).json()["sessionToken"]
            session = (await api.get("/sessions/me", token=token)).json()
            if expire:
                expires = datetime.fromisoformat(session["expiresAt"]["iso"].replace("Z", "+00:00"))
                assert abs((expires - datetime.now(UTC)).total_seconds() - length) < 60
            else:
                assert "expiresAt" not in session  # Parse's expireInactiveSessions: false
            assert (await api.get("/users/me", token=token)).status_code == 200


def _expiry(session: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(session["expiresAt"]["iso"].replace("Z", "+00:00"))


async def test_a_new_password_ends_every_session_and_answers_with_a_new_one(clients: tuple[Api, Gql]) -> None:
    api, _ = clients
    ivy = await _sign_up(api, "ivy")
    other = (await api.post("/login", {"username": "ivy", "password": "pw"})).json()["sessionToken"]
    path = f"/users/{ivy['objectId']}"
    changed = await api.put(path, {"password": "pw2"}, token=ivy["sessionToken"])
    assert set(changed.json()) == {"updatedAt", "sessionToken"}
    fresh = changed.json()["sessionToken"]
    for old in (ivy["sessionToken"], other):
        assert (await api.get("/users/me", token=old)).json() == {"code": 209, "error": "Invalid session token"}
    made = (await api.get("/sessions/me", token=fresh)).json()
    assert made["user"]["objectId"] == ivy["objectId"] and "createdWith" not in made  # as Parse Server writes it

    by_master = await api.put(path, {"password": "pw3"}, master=True)
    assert set(by_master.json()) == {"updatedAt"}  # the master key changes it without a session
    assert (await api.get("/users/me", token=fresh)).json()["code"] == 209


async def test_a_password_change_keeps_sessions_when_revocation_is_off(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "no_revoke", tmp_path, revoke_session_on_password_reset=False)
    async with running(settings) as (_, client):
        api = Api(client)
        jan = await _sign_up(api, "jan")
        changed = await api.put(f"/users/{jan['objectId']}", {"password": "pw2"}, token=jan["sessionToken"])
        assert changed.json()["sessionToken"] != jan["sessionToken"]
        assert (await api.get("/users/me", token=jan["sessionToken"])).status_code == 200


async def test_a_legacy_session_token_upgrades_to_a_revocable_session(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "upgrade", tmp_path)
    async with running(settings) as (app, client):
        api = Api(client)
        kim = await _sign_up(api, "kim")
        # A token as Parse.com kept them: on the user, not in _Session.
        services = app.state.services
        users = await services.schemas.require("_User")
        await services.storage.update(users, kim["objectId"], {}, {"sessionToken": "legacy0123456789"}, None)

        upgraded = await api.post("/upgradeToRevocableSession", token="legacy0123456789")
        assert upgraded.status_code == 200, upgraded.json()
        session = upgraded.json()
        assert session["sessionToken"].startswith("r:") and session["createdWith"] == {"action": "upgrade"}
        assert session["user"] == {"__type": "Pointer", "className": "_User", "objectId": kim["objectId"]}
        assert abs((_expiry(session) - datetime.now(UTC)).total_seconds() - 31536000) < 60
        me = await api.get("/users/me", token=session["sessionToken"])
        assert me.json()["objectId"] == kim["objectId"]

        again = await api.post("/upgradeToRevocableSession", token="legacy0123456789")
        assert (again.status_code, again.json()) == (400, {"code": 209, "error": "invalid legacy session token"})
        nobody = await api.post("/upgradeToRevocableSession")
        assert (nobody.status_code, nobody.json()) == (404, {"code": 101, "error": "invalid session"})
        # A revocable token upgrades too: the caller gets one more session, as from Parse Server.
        more = await api.post("/upgradeToRevocableSession", token=kim["sessionToken"])
        assert more.json()["sessionToken"] not in (kim["sessionToken"], session["sessionToken"])


@pytest.mark.parametrize("extend", [True, False])
async def test_a_session_used_after_half_its_length_is_extended_when_configured(
    database_server: str, tmp_path: Path, extend: bool
) -> None:
    settings = make_settings(
        database_server, f"extend_{extend}", tmp_path, session_length=3600, extend_session_on_use=extend
    )
    async with running(settings) as (app, client):
        api = Api(client)
        lea = await _sign_up(api, "lea")
        session = (await api.get("/sessions/me", token=lea["sessionToken"])).json()
        first_expiry = _expiry(session)
        assert session["updatedAt"] == session["createdAt"]  # a young session is not written on use
        # Pretend forty minutes went by since the session was written (more than half of its hour).
        services = app.state.services
        sessions = await services.schemas.require("_Session")
        then = utc_now() - timedelta(minutes=40)
        changes = {"updatedAt": then, "expiresAt": then + timedelta(hours=1)}
        await services.storage.update(sessions, session["objectId"], {}, changes, None)
        services.authenticator.forget()

        assert (await api.get("/users/me", token=lea["sessionToken"])).status_code == 200
        now = (await api.get(f"/sessions/{session['objectId']}", master=True)).json()
        if extend:
            assert _expiry(now) >= first_expiry
        else:
            assert abs((_expiry(now) - (then + timedelta(hours=1))).total_seconds()) < 1
