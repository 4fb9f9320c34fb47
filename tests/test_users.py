"""Signing in and out over REST, as the Parse SDKs do it: `/login`, `/logout`, `/users/me`, `/sessions/me`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    settings = make_settings(database_server, "users", tmp_path_factory.mktemp("data"), read_only_master_key="reader")
    async with running(settings) as (_, client):
        yield Api(client)


async def test_log_in_log_out_and_the_current_user(api: Api) -> None:
    signed = (await api.post("/users", {"username": "grace", "password": "123", "email": "g@example.com"})).json()
    login = await api.get("/login", params={"username": "grace", "password": "123"})  # a password of digits
    assert login.status_code == 200
    body = login.json()
    assert list(body)[-1] == "sessionToken" and body["sessionToken"] != signed["sessionToken"]
    assert body["username"] == "grace" and "password" not in body and "_hashed_password" not in body
    by_email = await api.post("/login", {"email": "g@example.com", "password": "123"})
    assert by_email.json()["objectId"] == signed["objectId"]

    me = await api.get("/users/me", token=body["sessionToken"])
    assert me.json()["username"] == "grace" and me.json()["sessionToken"] == body["sessionToken"]
    session = await api.get("/sessions/me", token=body["sessionToken"])
    assert session.json()["createdWith"] == {"action": "login", "authProvider": "password"}

    assert (await api.post("/logout", token=body["sessionToken"])).json() == {}
    again = await api.get("/users/me", token=body["sessionToken"])
    assert again.status_code == 400 and again.json() == {"code": 209, "error": "Invalid session token"}
    # The sign-up session is still valid.
    assert (await api.get("/users/me", token=signed["sessionToken"])).status_code == 200


async def test_bad_logins_get_parses_codes(api: Api) -> None:
    await api.post("/users", {"username": "hopper", "password": "pw"})
    cases = [
        ({}, 400, 200, "username/email is required."),
        ({"username": "hopper"}, 400, 201, "password is required."),
        ({"username": "hopper", "password": "nope"}, 404, 101, "Invalid username/password."),
        ({"username": "nobody", "password": "pw"}, 404, 101, "Invalid username/password."),
        ({"username": "hopper", "password": 5}, 404, 101, "Invalid username/password."),
    ]
    for body, status, code, message in cases:
        answer = await api.post("/login", body)
        assert (answer.status_code, answer.json()) == (status, {"code": code, "error": message}), body
    assert (await api.get("/users/me")).json() == {"code": 209, "error": "Permission denied"}
    assert (await api.get("/sessions/me")).json() == {"code": 209, "error": "Session token required."}
    assert (await api.post("/logout")).json() == {}


async def test_anonymous_users_sign_up_once_and_log_in_after(api: Api) -> None:
    device = {"authData": {"anonymous": {"id": "9c5b94b1-35ad-49bb-b118-8e8fc24abf80"}}}
    first = await api.post("/users", device)
    assert first.status_code == 201
    body = first.json()
    assert list(body) == ["objectId", "createdAt", "username", "sessionToken", "authDataResponse"]
    assert len(body["username"]) == 25 and body["authDataResponse"] == {}
    again = await api.post("/users", device)
    assert again.status_code == 200 and "location" not in again.headers
    assert again.json()["objectId"] == body["objectId"] and again.json()["sessionToken"] != body["sessionToken"]
    assert again.json()["authData"] == device["authData"]  # the user reads their own auth data
    session = await api.get("/sessions/me", token=again.json()["sessionToken"])
    assert session.json()["createdWith"] == {"action": "login", "authProvider": "anonymous"}

    unknown = await api.post("/users", {"authData": {"myspace": {"id": "1"}}})
    assert unknown.json() == {"code": 252, "error": "This authentication method is unsupported."}
    empty = await api.post("/users", {"authData": {"anonymous": {}}})
    assert empty.json() == {"code": 200, "error": "bad or missing username"}


async def test_graphql_log_in_with_an_anonymous_id(api: Api) -> None:
    from tests.graphql.helpers import Gql

    gql = Gql(api.client)
    query = """mutation($data: Object!) { logInWith(input: {authData: $data}) {
      viewer { sessionToken user { objectId username } } } }"""
    data = {"anonymous": {"id": "4f0e1f3a-2b9a-4d8e-9a57-0c0f4c0a1d11"}}
    first = (await gql.data(query, {"data": data}))["logInWith"]["viewer"]
    second = (await gql.data(query, {"data": data}))["logInWith"]["viewer"]
    assert first["user"]["objectId"] == second["user"]["objectId"]
    assert first["sessionToken"] != second["sessionToken"]


async def test_a_new_log_in_from_an_installation_ends_its_previous_session(api: Api) -> None:
    await api.post("/users", {"username": "ivy", "password": "pw"})

    async def log_in(installation: str) -> str:
        answer = await api.client.post(
            "/parse/login",
            json={"username": "ivy", "password": "pw"},
            headers={**api.headers(), "X-Parse-Installation-Id": installation},
        )
        return str(answer.json()["sessionToken"])

    phone, tablet = await log_in("phone-1"), await log_in("tablet-1")
    phone_again = await log_in("phone-1")
    assert (await api.get("/users/me", token=phone)).json()["code"] == 209
    for token in (tablet, phone_again):
        assert (await api.get("/users/me", token=token)).status_code == 200
    mine = (await api.get("/sessions", token=tablet)).json()["results"]
    assert sorted(s.get("installationId", "") for s in mine) == ["", "phone-1", "tablet-1"]  # sign-up's has none


async def test_an_account_locks_after_the_threshold_of_failed_log_ins(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_server, "lockout", tmp_path, account_lockout_threshold=2, account_lockout_duration=0.05
    )  # 3 seconds
    locked = {
        "code": 101,
        "error": "Your account is locked due to multiple failed login attempts. Please try again after 0.05 minute(s)",
    }
    async with running(settings) as (_, client):
        api = Api(client)
        await api.post("/users", {"username": "jo", "password": "right"})
        wrong = {"username": "jo", "password": "wrong"}
        assert (await api.post("/login", wrong)).json()["error"] == "Invalid username/password."
        assert (await api.post("/login", {"username": "jo", "password": "right"})).status_code == 200  # resets
        for _ in range(2):
            assert (await api.post("/login", wrong)).json()["error"] == "Invalid username/password."
        assert (await api.post("/login", wrong)).json() == locked
        assert (await api.post("/login", {"username": "jo", "password": "right"})).json() == locked
        expired = False
        for _ in range(150):  # wait for the lock to pass, polling rather than sleeping a fixed time
            answer = await api.post("/login", {"username": "jo", "password": "right"})
            if answer.status_code == 200:
                expired = True
                break
            await asyncio.sleep(0.05)
        assert expired


async def test_a_password_policy_checks_every_new_password(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_server,
        "password_policy",
        tmp_path,
        password_pattern=r"^(?=.*\d).{6,}$",
        password_pattern_error="Use six characters or more, with a digit.",
        password_disallow_username=True,
        password_history=2,
    )
    async with running(settings) as (_, client):
        api = Api(client)
        weak = await api.post("/users", {"username": "kim", "password": "short"})
        assert weak.json() == {"code": 142, "error": "Use six characters or more, with a digit."}
        named = await api.post("/users", {"username": "kim", "password": "kim12345"})
        assert named.json() == {"code": 142, "error": "Password cannot contain your username."}
        kim = (await api.post("/users", {"username": "kim", "password": "first111"})).json()
        token, path = kim["sessionToken"], f"/users/{kim['objectId']}"

        # Each new password ends the old sessions and answers with a new token (Parse's revokeSessionOnPasswordReset).
        token = (await api.put(path, {"password": "second22"}, token=token)).json()["sessionToken"]
        for repeated in ("second22", "first111"):  # the last two passwords
            answer = await api.put(path, {"password": repeated}, token=token)
            assert answer.json() == {"code": 142, "error": "New password should not be the same as last 2 passwords."}
        token = (await api.put(path, {"password": "third333"}, token=token)).json()["sessionToken"]
        assert (await api.put(path, {"password": "first111"}, token=token)).status_code == 200  # old enough now
        assert (await api.post("/login", {"username": "kim", "password": "first111"})).status_code == 200
        nothing_written = await api.post("/login", {"username": "kim", "password": "second22"})
        assert nothing_written.status_code == 404


async def test_an_expired_password_must_be_reset_before_logging_in(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "password_age", tmp_path, password_max_age=0.00003)  # 2.6 s
    async with running(settings) as (_, client):
        api = Api(client)
        await api.post("/users", {"username": "lee", "password": "pw"})
        assert (await api.post("/login", {"username": "lee", "password": "pw"})).status_code == 200
        expired = None
        for _ in range(150):  # polling until the password is older than its maximum age
            answer = await api.post("/login", {"username": "lee", "password": "pw"})
            if answer.status_code != 200:
                expired = answer.json()
                break
            await asyncio.sleep(0.05)
        assert expired == {"code": 101, "error": "Your password has expired. Please reset your password."}


async def test_a_password_past_bcrypts_72_bytes_works_as_in_parse_server(api: Api) -> None:
    long = "€" * 30 + "!"  # 91 bytes of UTF-8: bcryptjs, Parse Server's, reads the first 72
    assert (await api.post("/users", {"username": "long", "password": long})).status_code == 201
    assert (await api.post("/login", {"username": "long", "password": long})).status_code == 200
    wrong = await api.post("/login", {"username": "long", "password": "x" * 5000})
    assert (wrong.status_code, wrong.json()["code"]) == (404, 101)


async def test_a_username_or_email_is_taken_whatever_its_case(api: Api) -> None:
    first = await api.post("/users", {"username": "CaseAlice", "password": "pw", "email": "Case.Alice@Example.com"})
    assert first.status_code == 201, first.text
    taken = await api.post("/users", {"username": "casealice", "password": "pw"})
    assert taken.json() == {"code": 202, "error": "Account already exists for this username."}
    taken = await api.post("/users", {"username": "other", "password": "pw", "email": "case.alice@example.COM"})
    assert taken.json() == {"code": 203, "error": "Account already exists for this email address."}
    bob = await api.post("/users", {"username": "CaseBob", "password": "pw"})
    renamed = await api.put(
        f"/users/{bob.json()['objectId']}", {"username": "CASEALICE"}, token=bob.json()["sessionToken"]
    )
    assert renamed.json() == {"code": 202, "error": "Account already exists for this username."}
    # A user may change the case of its own name: only other users' names are taken.
    alice = first.json()
    own = await api.put(f"/users/{alice['objectId']}", {"username": "casealice"}, token=alice["sessionToken"])
    assert own.status_code == 200, own.text
    users = await api.get("/users", master=True, params={"where": {"username": {"$regex": "^case", "$options": "i"}}})
    assert sorted(user["username"] for user in users.json()["results"]) == ["CaseBob", "casealice"]


async def sessions_of(api: Api, user_id: str) -> list[dict[str, object]]:
    pointer = {"__type": "Pointer", "className": "_User", "objectId": user_id}
    return list((await api.get("/sessions", master=True, params={"where": {"user": pointer}})).json()["results"])


async def test_the_master_key_logs_in_as_any_user_without_a_password(api: Api) -> None:
    user = (await api.post("/users", {"username": "lovelace", "password": "pw", "note": "mine"})).json()["objectId"]
    signed = await api.post("/loginAs", {"userId": user}, master=True)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert (body["objectId"], body["username"], body["note"]) == (user, "lovelace", "mine")
    assert "_hashed_password" not in body and "password" not in body
    me = (await api.get("/users/me", token=body["sessionToken"])).json()
    assert me["objectId"] == user
    made = [session for session in await sessions_of(api, user) if session["sessionToken"] == body["sessionToken"]]
    assert made[0]["createdWith"] == {"action": "login", "authProvider": "masterkey"}
    in_query = await api.client.post(f"/parse/loginAs?userId={user}", headers=api.headers(master=True))
    assert in_query.status_code == 200 and in_query.json()["sessionToken"] != body["sessionToken"]


async def test_log_in_as_is_refused_as_parse_refuses_it(api: Api) -> None:
    user = (await api.post("/users", {"username": "babbage", "password": "pw"})).json()["objectId"]
    before = len(await sessions_of(api, user))
    cases = [
        (await api.post("/loginAs", {"userId": user}), 400, 119, "Permission denied"),
        (await api.post("/loginAs", {}, master=True), 400, 162, "userId must not be empty, null, or undefined"),
        (await api.post("/loginAs", {"userId": "missing"}, master=True), 404, 101, "user not found"),
        (await api.post("/loginAs", {"userId": ["x"]}, master=True), 404, 101, "user not found"),
    ]
    for answer, status, code, message in cases:
        assert (answer.status_code, answer.json()) == (status, {"code": code, "error": message})
    reader = await api.client.post(
        "/parse/loginAs", json={"userId": user}, headers={**api.headers(), "X-Parse-Master-Key": "reader"}
    )
    assert reader.status_code == 400 and reader.json()["code"] == 119  # a session is a write
    assert len(await sessions_of(api, user)) == before


async def test_verify_password_answers_the_user_and_opens_no_session(api: Api) -> None:
    signed = (await api.post("/users", {"username": "noether", "password": "ring", "email": "e@example.com"})).json()
    before = await sessions_of(api, signed["objectId"])
    by_query = await api.get("/verifyPassword", params={"username": "noether", "password": "ring"})
    by_email = await api.post("/verifyPassword", {"email": "e@example.com", "password": "ring"})
    for answer in (by_query, by_email):
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["objectId"] == signed["objectId"] and body["email"] == "e@example.com"
        assert "sessionToken" not in body and "_hashed_password" not in body
    assert await sessions_of(api, signed["objectId"]) == before
    cases = [
        ({}, 400, 200, "username/email is required."),
        ({"username": "noether"}, 400, 201, "password is required."),
        ({"username": "noether", "password": "wrong"}, 404, 101, "Invalid username/password."),
    ]
    for body, status, code, message in cases:
        answer = await api.post("/verifyPassword", body)
        assert (answer.status_code, answer.json()) == (status, {"code": code, "error": message}), body


async def test_emails_and_usernames_are_stored_lower_cased_when_asked(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_server, "users_lower", tmp_path, convert_email_to_lowercase=True, convert_username_to_lowercase=True
    )
    async with running(settings) as (_, client):
        api = Api(client)
        grace = await api.post("/users", {"username": "Grace.Hopper", "password": "pw", "email": "Grace@Navy.MIL"})
        assert grace.status_code == 201, grace.text
        user_id, token = grace.json()["objectId"], grace.json()["sessionToken"]
        assert (await api.put(f"/users/{user_id}", {"email": "Admiral@Navy.MIL"}, token=token)).status_code == 200
        stored = (await api.get(f"/users/{user_id}", master=True)).json()
        assert (stored["username"], stored["email"]) == ("grace.hopper", "admiral@navy.mil")
        # As on Parse Server, log-in matches the stored name: the lower-cased one.
        assert (await api.post("/login", {"username": "grace.hopper", "password": "pw"})).status_code == 200


async def test_deleting_another_user_is_refused_as_parse_refuses_it(api: Api) -> None:
    # Parse Server 9.10: 206 for a signed-in user deleting a user not theirs (or no user at all), whichever route.
    mine = (await api.post("/users", {"username": "deleter", "password": "p"})).json()
    theirs = (await api.post("/users", {"username": "deleted", "password": "p"})).json()
    for path in (f"/users/{theirs['objectId']}", f"/classes/_User/{theirs['objectId']}", "/users/nosuchuser"):
        refused = await api.delete(path, token=mine["sessionToken"])
        assert (refused.status_code, refused.json()) == (400, {"code": 206, "error": "Permission denied"}), path
    anonymous = await api.delete(f"/users/{theirs['objectId']}")
    assert anonymous.json() == {"code": 206, "error": "Insufficient auth to delete user"}
    from tests.graphql.helpers import Gql

    deleting = f'mutation {{ deleteUser(input: {{id: "{theirs["objectId"]}"}}) {{ user {{ objectId }} }} }}'
    refused_in_graphql = (await Gql(api.client).post(deleting, token=mine["sessionToken"])).json()
    assert refused_in_graphql["errors"][0]["message"] == "Permission denied"
    assert refused_in_graphql["errors"][0]["extensions"] == {"code": 206}
    assert (await api.get(f"/users/{theirs['objectId']}", master=True)).status_code == 200
    assert (await api.delete(f"/users/{mine['objectId']}", token=mine["sessionToken"])).json() == {}


async def test_a_users_email_is_hidden_from_everyone_but_the_user_and_the_master_key(api: Api) -> None:
    # Parse Server's default protectedFields, {"_User": {"*": ["email"]}}: the peer answers exactly this.
    open_user = {"username": "ada_pf", "password": "pw", "email": "ada.pf@example.com", "ACL": {"*": {"read": True}}}
    ada = (await api.post("/users", open_user)).json()
    bob = (await api.post("/users", {"username": "bob_pf", "password": "pw"})).json()
    path = f"/users/{ada['objectId']}"
    for token in (bob["sessionToken"], None):
        seen = (await api.get(path, token=token)).json()
        assert seen["username"] == "ada_pf" and "email" not in seen
        by_email = await api.get("/users", params={"where": {"email": "ada.pf@example.com"}}, token=token)
        assert (by_email.status_code, by_email.json()) == (400, {"code": 119, "error": "Permission denied"})
    assert (await api.get(path, token=ada["sessionToken"])).json()["email"] == "ada.pf@example.com"
    assert (await api.get(path, master=True)).json()["email"] == "ada.pf@example.com"


async def test_the_protected_fields_option_replaces_parses_default(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_server, "users_protected", tmp_path, protected_fields={"_User": {"*": ["nickname"]}}
    )
    async with running(settings) as (_, client):
        api = Api(client)
        body = {
            "username": "c",
            "password": "pw",
            "email": "c@example.com",
            "nickname": "cc",
            "ACL": {"*": {"read": True}},
        }
        user = (await api.post("/users", body)).json()
        seen = (await api.get(f"/users/{user['objectId']}")).json()
        assert (seen.get("email"), "nickname" in seen) == ("c@example.com", False)
