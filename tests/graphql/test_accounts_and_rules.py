"""Users, sessions, Parse Config, and the same permission rules through GraphQL as through REST."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, running
from tests.graphql.helpers import Gql

pytestmark = pytest.mark.asyncio(loop_scope="session")


@dataclass
class Server:
    api: Api
    gql: Gql


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(
        database_server, "gql_accounts", tmp_path_factory.mktemp("data"), read_only_master_key="reader"
    )
    async with running(settings) as (_, client):
        yield Server(Api(client), Gql(client))


SIGN_UP = """mutation($fields: CreateUserFieldsInput) { signUp(input: {fields: $fields}) {
  viewer { sessionToken user { id username email } } } }"""
LOG_IN = """mutation($u: String!, $p: String!) { logIn(input: {username: $u, password: $p}) {
  viewer { sessionToken user { username } } } }"""


async def test_sign_up_log_in_and_log_out_through_graphql(server: Server) -> None:
    gql, api = server.gql, server.api
    signed = await gql.data(SIGN_UP, {"fields": {"username": "ada", "password": "pw", "email": "ada@example.com"}})
    viewer = signed["signUp"]["viewer"]
    assert viewer["sessionToken"].startswith("r:") and viewer["user"]["username"] == "ada"
    me = await gql.data("{ viewer { user { email } } }", token=viewer["sessionToken"])
    assert me == {"viewer": {"user": {"email": "ada@example.com"}}}

    taken = await gql.error(SIGN_UP, {"fields": {"username": "ada", "password": "x"}})
    assert taken["extensions"] == {"code": 202} and taken["message"] == "Account already exists for this username."
    wrong = await gql.error(LOG_IN, {"u": "ada", "p": "nope"})
    assert wrong["message"] == "Invalid username/password." and wrong["extensions"] == {"code": 101}
    by_email = await gql.data(LOG_IN, {"u": "ada@example.com", "p": "pw"})  # a username may be an email
    token = by_email["logIn"]["viewer"]["sessionToken"]
    assert token != viewer["sessionToken"]

    assert await gql.data("mutation { logOut(input: {}) { ok } }", token=token) == {"logOut": {"ok": True}}
    after = await api.get("/classes/_User", token=token)
    assert after.status_code == 400 and after.json()["code"] == 209
    # The first session is untouched.
    assert (await gql.data("{ viewer { user { username } } }", token=viewer["sessionToken"]))["viewer"]


async def test_rest_sign_up_answers_with_a_session_as_parse_does(server: Server) -> None:
    answer = await server.api.post("/users", {"username": "rest-user", "password": "pw"})
    assert answer.status_code == 201
    assert list(answer.json()) == ["objectId", "createdAt", "sessionToken"]
    assert answer.headers["location"].endswith(f"/parse/users/{answer.json()['objectId']}")
    token = answer.json()["sessionToken"]
    me = await server.gql.data("{ viewer { user { username } } }", token=token)
    assert me == {"viewer": {"user": {"username": "rest-user"}}}
    again = await server.api.post("/classes/_User", {"username": "rest-user-2", "password": "pw"})
    assert again.status_code == 201 and again.json()["sessionToken"].startswith("r:")


async def test_parse_config_through_rest_and_graphql(server: Server) -> None:
    api, gql = server.api, server.gql
    assert (await api.get("/config")).json() == {"params": {}}
    body = {"params": {"motd": "hi", "secret": "s3"}, "masterKeyOnly": {"secret": True}}
    assert (await api.put("/config", body, master=True)).json() == {"result": True}
    assert (await api.get("/config")).json() == {"params": {"motd": "hi"}, "masterKeyOnly": {"motd": False}}
    read = await gql.data('{ cloudConfig(paramName: "secret") { value isMasterKeyOnly } }', master=True)
    assert read == {"cloudConfig": {"value": "s3", "isMasterKeyOnly": True}}
    refused = await gql.error('{ cloudConfig(paramName: "motd") { value } }')
    assert refused["extensions"] == {"code": 119}

    update = 'mutation { updateCloudConfig(input: {paramName: "motd", value: "bye"}) { cloudConfig { value } } }'
    assert (await gql.error(update))["extensions"] == {"code": 119}
    assert (await api.put("/config", {"params": {"motd": "x"}})).status_code == 403
    assert (await gql.data(update, master=True)) == {"updateCloudConfig": {"cloudConfig": {"value": "bye"}}}

    for bad in ({"params": 5}, {"params": {"a.b": 1}}, {"params": {"ok": 1}, "masterKeyOnly": []}):
        answer = await api.put("/config", bad, master=True)
        assert answer.status_code == 400 and answer.json()["code"] in (105, 107), answer.json()
    removed = await api.put("/config", {"params": {"secret": {"__op": "Delete"}}}, master=True)
    assert removed.status_code == 200
    config = (await api.get("/config", master=True)).json()
    assert config["params"] == {"motd": "bye"}  # nothing of the refused writes was stored


async def test_the_same_rules_hold_through_graphql(server: Server) -> None:
    api, gql = server.api, server.gql
    await api.post(
        "/schemas/Diary",
        {
            "fields": {"text": {"type": "String"}, "mood": {"type": "String"}},
            "classLevelPermissions": {
                "find": {"*": True},
                "get": {"*": True},
                "count": {"*": True},
                "create": {"*": True},
                "update": {"*": True},
                "delete": {"*": True},
                "addField": {},
                "protectedFields": {"*": ["mood"]},
            },
        },
        master=True,
    )
    owner = (await api.post("/users", {"username": "writer", "password": "pw"})).json()
    await api.post("/classes/Diary", {"text": "public", "mood": "calm"}, master=True)
    private_acl = {owner["objectId"]: {"read": True, "write": True}}
    await api.post("/classes/Diary", {"text": "private", "mood": "sad", "ACL": private_acl}, master=True)

    page = "{ diaries(order: [text_ASC]) { count edges { node { text mood } } } }"
    public = await gql.data(page)
    assert public == {"diaries": {"count": 1, "edges": [{"node": {"text": "public", "mood": None}}]}}
    mine = await gql.data(page, token=owner["sessionToken"])
    assert [edge["node"]["text"] for edge in mine["diaries"]["edges"]] == ["private", "public"]
    everything = await gql.data(page, master=True)
    assert [edge["node"]["mood"] for edge in everything["diaries"]["edges"]] == ["sad", "calm"]

    probe = await gql.error('{ diaries(where: {mood: {equalTo: "sad"}}) { count } }')
    assert probe["extensions"] == {"code": 119}  # querying a protected field, as through REST

    await api.put("/schemas/Diary", {"classLevelPermissions": {"find": {}, "get": {}}}, master=True)
    closed = await gql.error("{ diaries { count } }")
    assert closed["extensions"] == {"code": 119} and closed["message"] == "Permission denied"
    assert (await api.get("/classes/Diary")).json() == {"code": 119, "error": "Permission denied"}

    # The read-only master key reads everything and changes nothing.
    assert (await gql.data("{ diaries { count } }", master="reader")) == {"diaries": {"count": 2}}
    write = await gql.error('mutation { createDiary(input: {fields: {text: "x"}}) { diary { id } } }', master="reader")
    assert write["extensions"] == {"code": 119}
    drop = await gql.error('mutation { deleteClass(input: {name: "Diary"}) { class { name } } }', master="reader")
    assert drop["extensions"] == {"code": 119}
    assert (await gql.data("{ diaries { count } }", master=True)) == {"diaries": {"count": 2}}
