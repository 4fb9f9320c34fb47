"""Cloud code in Python: triggers in Parse's order for every transport, functions, validators, jobs, and the
example cloud/main.py answering as the Parse Server peer's cloud.js does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import websockets

from tests.conftest import EXAMPLE_CLOUD, Api, make_settings, running, serving
from tests.graphql.helpers import Gql
from tests.realtime.clients import WAIT, GraphQLSocket, graphql_socket, live_query, open_socket

pytestmark = pytest.mark.asyncio(loop_scope="session")

FIXTURE = Path(__file__).with_name("cloud_fixture.py")


@dataclass
class Server:
    api: Api
    gql: Gql
    address: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(
        database_server,
        "cloud",
        tmp_path_factory.mktemp("data"),
        cloud=str(FIXTURE),
        allow_client_class_creation=True,
        app_name="Cloud tests",  # password reset requests need email on (the mail goes to the log)
        file_upload_for_public=True,
    )
    async with serving(settings) as (_, client, address):
        api = Api(client)
        await api.post(
            "/schemas/Tracked",
            {
                "fields": {"name": {"type": "String"}, "secret": {"type": "String"}},
                "classLevelPermissions": {
                    **{op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete", "addField")},
                    "protectedFields": {"*": ["secret"]},
                },
            },
            master=True,
        )
        text, flag = {"type": "String"}, {"type": "Boolean"}
        marked = {
            "marker": text,
            "sawMarker": text,
            "sawInitMarker": text,
            "sawMasterKey": flag,
            "sawIp": text,
            "seenBy": text,
            "seenMasterKey": flag,
        }
        await api.post("/schemas/Marked", {"fields": marked}, master=True)
        yield Server(api, Gql(client), address)


async def hook_log(server: Server) -> list[dict[str, Any]]:
    found = await server.api.get("/classes/HookLog", master=True, params={"order": "createdAt", "limit": 1000})
    return [
        {k: v for k, v in row.items() if k not in ("objectId", "createdAt", "updatedAt")}
        for row in found.json()["results"]
    ]


async def clear_log(server: Server) -> None:
    await server.api.client.delete(
        "/parse/purge/HookLog", headers={"X-Parse-Application-Id": "app", "X-Parse-Master-Key": "master"}
    )


# Saves ------------------------------------------------------------------------------------------------------


async def test_a_write_from_each_transport_runs_before_and_after_save_once_in_order(server: Server) -> None:
    await clear_log(server)
    await server.api.post("/classes/Tracked", {"name": "rest"})
    await server.gql.post('mutation { createTracked(input: {fields: {name: "graphql"}}) { tracked { objectId } } }')
    batch = {"requests": [{"method": "POST", "path": "/parse/classes/Tracked", "body": {"name": "batch"}}]}
    assert (await server.api.post("/batch", batch)).status_code == 200
    assert [(row["what"], row.get("name")) for row in await hook_log(server)] == [
        ("beforeSave", None),
        ("afterSave", "rest"),
        ("beforeSave", None),
        ("afterSave", "graphql"),
        ("beforeSave", None),
        ("afterSave", "batch"),
    ]


async def test_before_save_changes_what_is_written_and_the_answer_says_so(server: Server) -> None:
    created = await server.api.post("/classes/Tracked", {"name": "n", "scratch": "x", "saves": 5})
    assert created.status_code == 201
    body = created.json()
    assert body["stamped"] is True and body["saves"] == 1  # the hook's increment replaced the client's 5
    stored = (await server.api.get(f"/classes/Tracked/{body['objectId']}", master=True)).json()
    assert stored["stamped"] is True and stored["saves"] == 1 and "scratch" not in stored

    updated = await server.api.put(f"/classes/Tracked/{body['objectId']}", {"name": "m"})
    assert updated.json()["saves"] == 2
    log = await hook_log(server)
    assert log[-2]["what"] == "beforeSave" and log[-2]["existed"] is True and log[-2]["dirty"] == ["name"]
    assert log[-1] == {"what": "afterSave", "name": "m", "original": "n"}


async def test_a_field_the_caller_may_not_read_is_not_echoed_even_when_a_hook_set_it(server: Server) -> None:
    created = await server.api.post("/classes/Tracked", {"name": "s", "secret": "psst"})
    assert "secret" not in created.json()
    stored = (await server.api.get(f"/classes/Tracked/{created.json()['objectId']}", master=True)).json()
    assert stored["secret"] == "PSST"


@pytest.mark.parametrize(
    ("name", "code", "error"),
    [("refuse", 142, "names like that are refused"), ("crash", 141, "the hook broke")],
)
async def test_a_refusing_or_failing_before_save_writes_nothing(
    server: Server, name: str, code: int, error: str
) -> None:
    before = (await server.api.get("/classes/Tracked", master=True, params={"count": 1, "limit": 0})).json()["count"]
    answer = await server.api.post("/classes/Tracked", {"name": name})
    assert answer.status_code == 400 and answer.json() == {"code": code, "error": error}
    graphql = await server.gql.post(
        f'mutation {{ createTracked(input: {{fields: {{name: "{name}"}}}}) {{ clientMutationId }} }}'
    )
    assert graphql.json()["errors"][0]["extensions"]["code"] == code
    after = (await server.api.get("/classes/Tracked", master=True, params={"count": 1, "limit": 0})).json()["count"]
    assert after == before


async def test_an_after_save_failure_is_logged_not_answered(server: Server) -> None:
    answer = await server.api.post("/classes/Tracked", {"name": "after fails"})
    assert answer.status_code == 201


async def test_before_delete_can_keep_an_object_and_after_delete_sees_it_go(server: Server) -> None:
    keep = (await server.api.post("/classes/Tracked", {"name": "keep"})).json()["objectId"]
    answer = await server.api.delete(f"/classes/Tracked/{keep}")
    assert answer.status_code == 400 and answer.json() == {"code": 141, "error": "this one stays"}
    assert (await server.api.get(f"/classes/Tracked/{keep}")).status_code == 200
    gone = (await server.api.post("/classes/Tracked", {"name": "gone"})).json()["objectId"]
    assert (await server.api.delete(f"/classes/Tracked/{gone}")).status_code == 200
    assert (await hook_log(server))[-1] == {"what": "afterDelete", "name": "gone"}


# Finds ------------------------------------------------------------------------------------------------------


async def test_before_find_narrows_a_query_and_after_find_changes_its_results(server: Server) -> None:
    for label, public in (("open", True), ("closed", False)):
        await server.api.post("/classes/Shelf", {"label": label, "public": public}, master=True)
    found = (await server.api.get("/classes/Shelf")).json()["results"]
    assert [(shelf["label"], shelf["seen"]) for shelf in found] == [("open", True)]
    graphql = await server.gql.post("{ shelves { edges { node { label } } } }")
    assert [edge["node"]["label"] for edge in graphql.json()["data"]["shelves"]["edges"]] == ["open"]


async def test_what_after_find_adds_passes_the_same_field_rules(server: Server) -> None:
    """A hook cannot hand a client a field its class protects from that client."""
    await server.api.post(
        "/schemas/Vault",
        {
            "fields": {"secret": {"type": "String"}},
            "classLevelPermissions": {"find": {"*": True}, "get": {"*": True}, "protectedFields": {"*": ["secret"]}},
        },
        master=True,
    )
    await server.api.post("/classes/Vault", {"secret": "stored"}, master=True)
    (public,) = (await server.api.get("/classes/Vault")).json()["results"]
    assert "secret" not in public
    (master,) = (await server.api.get("/classes/Vault", master=True)).json()["results"]
    assert master["secret"] == "from the hook"


# Accounts ---------------------------------------------------------------------------------------------------


async def test_before_login_can_refuse_and_the_log_in_and_out_hooks_run(server: Server) -> None:
    await server.api.post("/users", {"username": "cleo", "password": "pw"})
    banned = (await server.api.post("/users", {"username": "bart", "password": "pw"})).json()
    await server.api.put(f"/users/{banned['objectId']}", {"banned": True}, master=True)
    refused = await server.api.post("/login", {"username": "bart", "password": "pw"})
    assert refused.json() == {"code": 101, "error": "banned users may not log in"}
    sessions = await server.api.get("/sessions", master=True, params={"where": {"user": _user(banned["objectId"])}})
    assert len(sessions.json()["results"]) == 1  # only the one from signing up: the refused log-in made none

    logged_in = (await server.api.post("/login", {"username": "cleo", "password": "pw"})).json()
    assert (await hook_log(server))[-1] == {"what": "afterLogin", "username": "cleo"}
    await server.api.post("/logout", {}, token=logged_in["sessionToken"])
    last = (await hook_log(server))[-1]
    assert last["what"] == "afterLogout" and last["user"]["objectId"] == logged_in["objectId"]


async def test_before_password_reset_request_can_refuse(server: Server) -> None:
    frozen = (await server.api.post("/users", {"username": "ice", "password": "pw", "email": "ice@x.test"})).json()
    await server.api.put(f"/users/{frozen['objectId']}", {"frozen": True}, master=True)
    refused = await server.api.post("/requestPasswordReset", {"email": "ice@x.test"})
    assert refused.json() == {"code": 141, "error": "this account cannot reset its password"}
    await server.api.post("/users", {"username": "sun", "password": "pw", "email": "sun@x.test"})
    assert (await server.api.post("/requestPasswordReset", {"email": "sun@x.test"})).json() == {}
    stored = await server.api.get(
        "/users", master=True, params={"where": {"username": "ice"}, "keys": "_perishable_token"}
    )
    assert "_perishable_token" not in stored.json()["results"][0]


def _user(object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "_User", "objectId": object_id}


# Functions --------------------------------------------------------------------------------------------------


async def test_functions_get_decoded_params_the_caller_and_the_context(server: Server) -> None:
    user = (await server.api.post("/users", {"username": "fay", "password": "pw"})).json()
    params = {"n": 1, "when": {"__type": "Date", "iso": "2026-01-02T03:04:05.000Z"}}
    answer = await server.api.client.post(
        "/parse/functions/echo",
        json=params,
        headers={
            "X-Parse-Application-Id": "app",
            "X-Parse-Session-Token": user["sessionToken"],
            "X-Parse-Cloud-Context": '{"from": "test"}',
        },
    )
    assert answer.json() == {
        "result": {
            "params": {"n": 1},
            "when_is_a_date": True,
            "master": False,
            "user": user["objectId"],
            "context": {"from": "test"},
        }
    }


async def test_a_function_answering_with_an_object_sends_it_as_parse_does(server: Server) -> None:
    await server.api.post("/classes/Tracked", {"name": "newest"})
    result = (await server.api.post("/functions/newest_tracked", {})).json()["result"]
    assert result["__type"] == "Object" and result["className"] == "Tracked" and result["name"] == "newest"


async def test_a_function_that_returns_nothing_answers_as_parse_does_for_undefined(server: Server) -> None:
    # Parse Server 9.10: `{}` over REST, `{"success": {}}` in a batch, and a null result through GraphQL.
    assert (await server.api.post("/functions/nothing", {})).json() == {}
    batch = await server.api.post("/batch", {"requests": [{"method": "POST", "path": "/parse/functions/nothing"}]})
    assert batch.json() == [{"success": {}}]
    called = await server.gql.post("mutation { callCloudCode(input: {functionName: nothing}) { result } }")
    assert called.json() == {"data": {"callCloudCode": {"result": None}}}


async def test_unknown_functions_and_validators_answer_with_parse_codes(server: Server) -> None:
    assert (await server.api.post("/functions/nope", {})).json() == {"code": 141, "error": 'Invalid function: "nope"'}
    assert (await server.api.post("/functions/members_only", {})).json() == {
        "code": 142,
        "error": "Validation failed. Please login to continue.",
    }
    assert (await server.api.post("/functions/admins_only", {})).json()["code"] == 142
    assert (await server.api.post("/functions/admins_only", {}, master=True)).json() == {"result": "hello, admin"}
    assert (await server.api.post("/functions/order_pizza", {})).json() == {
        "code": 142,
        "error": "Validation failed. Please specify data for size.",
    }
    assert (await server.api.post("/functions/order_pizza", {"size": "huge"})).json()["error"] == (
        "Validation failed. Invalid option for size. Expected: small, large"
    )
    assert (await server.api.post("/functions/order_pizza", {"size": 3})).json()["error"] == (
        "Validation failed. Invalid type for size. Expected: string"
    )
    assert (await server.api.post("/functions/order_pizza", {"size": "large"})).json() == {"result": "1 large"}


async def test_a_rate_limited_function_refuses_the_call_past_its_limit(server: Server) -> None:
    answers = [await server.api.post("/functions/limited", {}) for _ in range(3)]
    assert [answer.json() for answer in answers[:2]] == [{"result": "ok"}, {"result": "ok"}]
    # Parse's answer past a validator's rate limit, as past any rate limit.
    assert (answers[2].status_code, answers[2].json()) == (429, {"code": 100, "error": "Too many requests."})


async def test_a_slow_plain_function_does_not_hold_up_other_requests(server: Server) -> None:
    slow = asyncio.ensure_future(server.api.post("/functions/slow", {}))
    quick = asyncio.ensure_future(server.api.get("/health"))
    done, _ = await asyncio.wait({slow, quick}, return_when=asyncio.FIRST_COMPLETED)
    assert done == {quick}
    assert (await slow).json() == {"result": "done"}


async def test_typed_functions_are_graphql_fields_of_their_own(server: Server) -> None:
    answer = await server.gql.post("{ add(a: 2) } ", master=True)
    assert answer.json() == {"data": {"add": 3}}
    answer = await server.gql.post('mutation { shout(words: ["hey", "you"], suffix: "!") }')
    assert answer.json() == {"data": {"shout": "HEY YOU!"}}
    refused = await server.gql.post('{ add(a: "two") }')
    assert refused.status_code == 400
    called = await server.gql.post(
        "mutation { callCloudCode(input: {functionName: add, params: {a: 5, b: 5}}) { result } }"
    )
    assert called.json() == {"data": {"callCloudCode": {"result": 10}}}


# Jobs -------------------------------------------------------------------------------------------------------


async def test_a_job_runs_in_the_background_and_its_status_is_kept(server: Server) -> None:
    assert (await server.api.post("/jobs/count_tracked", {})).status_code == 403
    assert (await server.api.post("/jobs/nope", {}, master=True)).json() == {"code": 141, "error": "Invalid job."}
    for job, status in (("count_tracked", "succeeded"), ("broken", "failed")):
        started = await server.api.post(f"/jobs/{job}", {"n": 1}, master=True)
        assert started.status_code == 200 and started.json() == {}
        job_id = started.headers["X-Parse-Job-Status-Id"]
        for _ in range(100):
            found = (await server.api.get(f"/classes/_JobStatus/{job_id}", master=True)).json()
            if found["status"] != "running":
                break
            await asyncio.sleep(0.05)
        assert found["status"] == status and found["jobName"] == job and found["params"] == {"n": 1}
        assert (
            found["message"].endswith("tracked objects")
            if status == "succeeded"
            else found["message"] == "nothing to do"
        )
        assert "finishedAt" in found


# Live queries -----------------------------------------------------------------------------------------------


async def test_live_query_hooks_refuse_connections_narrow_subscriptions_and_shape_events(server: Server) -> None:
    async with live_query(server.address) as client:
        refused = await client.connect(installationId="stranger")
        assert refused == {
            "op": "error",
            "error": "strangers may not connect",
            "code": 141,
            "reconnect": False,
            "requestId": None,
        }
        drafts = await client.subscribe(1, "Feed", {"draft": True})
        assert drafts["op"] == "error" and drafts["error"] == "drafts are private" and drafts["requestId"] == 1
        assert (await client.subscribe(2, "Feed", {}))["op"] == "subscribed"
        await server.api.post("/classes/Feed", {"title": "unpublished", "published": False}, master=True)
        await server.api.post("/classes/Feed", {"title": "quiet", "published": True, "muted": True}, master=True)
        await server.api.post("/classes/Feed", {"title": "news", "published": True}, master=True)
        (event,) = await client.drain()
        assert event["op"] == "create" and event["object"]["title"] == "news" and event["object"]["label"] == "create!"


# The example cloud code ---------------------------------------------------------------------------------------


async def test_the_example_cloud_code_answers_as_the_peers_cloud_js(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_server, "example_cloud", tmp_path, cloud=str(EXAMPLE_CLOUD), allow_client_class_creation=True
    )
    async with running(settings) as (_, client):
        api = Api(client)
        # Answers recorded from Parse Server 9.10 with its cloud.js.
        assert (await api.post("/functions/hello", {"name": "Ann"})).json() == {"result": "Hello, Ann!"}
        assert (await api.post("/functions/hello", {})).json() == {"result": "Hello, world!"}
        refused = await api.post("/classes/Order", {"total": -1})
        assert refused.status_code == 400 and refused.json() == {"code": 141, "error": "total cannot be negative"}
        assert (await api.get("/classes/Order", master=True)).json()["results"] == []
        created = (await api.post("/classes/Order", {"total": 5, "items": ["tea"]})).json()
        assert list(created) == ["objectId", "createdAt", "status"] and created["status"] == "pending"
        shipped = await api.put(f"/classes/Order/{created['objectId']}", {"status": "shipped"}, master=True)
        assert list(shipped.json()) == ["updatedAt"]
        updated = (await api.put(f"/classes/Order/{created['objectId']}", {"total": 6})).json()
        assert list(updated) == ["updatedAt", "status"] and updated["status"] == "shipped"
        assert (await api.get(f"/classes/Order/{created['objectId']}")).json()["status"] == "shipped"
        plain = (await api.post("/classes/Order", {"total": 1})).json()
        assert plain["status"] == "pending"  # cloud.js marks every new order pending


async def test_before_connect_refuses_a_graphql_socket_too(server: Server) -> None:
    async with open_socket(f"ws://{server.address}/graphql", ["graphql-transport-ws"]) as socket:
        init = {"X-Parse-Application-Id": "app", "X-Parse-Installation-Id": "stranger"}
        await socket.send({"type": "connection_init", "payload": init})
        assert await socket.closed_with() == (4403, "strangers may not connect")


async def test_file_hooks_can_refuse_an_upload_or_a_delete_and_see_what_was_stored(server: Server) -> None:
    headers = {"X-Parse-Application-Id": "app", "Content-Type": "text/plain"}
    refused = await server.api.client.post("/parse/files/forbidden.txt", content=b"no", headers=headers)
    assert refused.status_code == 400 and refused.json() == {"code": 130, "error": "no forbidden files"}

    saved = await server.api.client.post("/parse/files/kept.txt", content=b"hello", headers=headers)
    assert saved.status_code == 201, saved.text
    name = saved.json()["name"]
    assert (await hook_log(server))[-1] == {"what": "afterSaveFile", "size": 5, "type": "text/plain"}
    metadata = await server.api.client.get(f"/parse/files/app/metadata/{name}", headers=headers)
    assert metadata.json()["metadata"] == {"checked": "yes"}

    master = {**headers, "X-Parse-Master-Key": "master"}
    kept = await server.api.client.delete(f"/parse/files/{name}", headers=master)
    assert kept.status_code == 400 and kept.json() == {"code": 153, "error": "this file stays"}
    other = (await server.api.client.post("/parse/files/gone.txt", content=b"bye", headers=headers)).json()["name"]
    assert (await server.api.client.delete(f"/parse/files/{other}", headers=master)).status_code == 200
    assert (await hook_log(server))[-1] == {"what": "afterDeleteFile"}


async def test_a_file_hook_may_choose_the_directory_and_sees_the_one_asked_for(server: Server) -> None:
    headers = {"X-Parse-Application-Id": "app", "Content-Type": "text/plain"}
    filed = await server.api.client.post("/parse/files/filed.txt", content=b"x", headers=headers)
    assert filed.status_code == 201 and filed.json()["name"].startswith("by-hook/none/")  # no master key needed
    streamed = {**headers, "X-Parse-Master-Key": "master", "X-Parse-Upload-Mode": "stream"}
    asked = await server.api.client.post(
        "/parse/files/filed.txt", content=b"x", headers={**streamed, "X-Parse-File-Directory": "mine"}
    )
    assert asked.json()["name"].startswith("by-hook/mine/")
    assert (await server.api.client.get(asked.json()["url"].removeprefix("http://" + server.address))).text == "x"
    # Parse stores a hook's directory unchecked; here it is checked as a client's is.
    climbing = await server.api.client.post("/parse/files/misfiled.txt", content=b"x", headers=headers)
    assert (climbing.status_code, climbing.json()) == (400, {"code": 122, "error": 'Directory must not contain "..".'})


async def test_an_object_a_hook_sets_in_a_field_is_stored_as_a_pointer(server: Server) -> None:
    user = (await server.api.post("/users", {"username": "nia", "password": "pw"})).json()
    note = await server.api.post("/classes/Note", {"text": "mine"}, token=user["sessionToken"])
    assert note.json()["owner"] == {"__type": "Pointer", "className": "_User", "objectId": user["objectId"]}
    stored = (await server.api.get(f"/classes/Note/{note.json()['objectId']}", master=True)).json()
    assert stored["owner"]["objectId"] == user["objectId"]


async def test_job_schedules_are_kept_for_parse_dashboard_as_parse_server_keeps_them(server: Server) -> None:
    info = (await server.api.get("/serverInfo", master=True)).json()
    assert info["features"]["cloudCode"] == {"jobs": True}
    data = (await server.api.get("/cloud_code/jobs/data", master=True)).json()
    assert data == {"in_use": [], "jobs": ["count_tracked", "broken"]}
    refused = await server.api.post("/cloud_code/jobs", {"job_schedule": {"jobName": "nope"}}, master=True)
    assert refused.json() == {"code": 1, "error": "Cannot Schedule a job that is not deployed"}
    created = await server.api.post(
        "/cloud_code/jobs", {"job_schedule": {"jobName": "count_tracked", "description": "nightly"}}, master=True
    )
    assert created.status_code == 201 and list(created.json()) == ["objectId", "createdAt"]
    object_id = created.json()["objectId"]
    (listed,) = (await server.api.get("/cloud_code/jobs", master=True)).json()
    assert listed["jobName"] == "count_tracked" and listed["description"] == "nightly" and "startAfter" in listed
    edited = await server.api.put(
        f"/cloud_code/jobs/{object_id}", {"job_schedule": {"description": "daily"}}, master=True
    )
    assert list(edited.json()) == ["response"] and "updatedAt" in edited.json()["response"]
    assert (await server.api.get("/cloud_code/jobs/data", master=True)).json()["in_use"] == ["count_tracked"]
    assert (await server.api.delete(f"/cloud_code/jobs/{object_id}", master=True)).json() == {}
    assert (await server.api.get("/cloud_code/jobs", master=True)).json() == []
    assert (await server.api.get("/cloud_code/jobs")).status_code == 403
    by_body = await server.api.post("/jobs", {"jobName": "count_tracked"}, master=True)
    assert by_body.status_code == 200 and by_body.headers["X-Parse-Job-Status-Id"]


# Where a request came from ------------------------------------------------------------------------------------

MARKED_EVENTS = (
    'subscription { markedEvents(where: {marker: {equalTo: "event"}}) { event node { seenBy seenMasterKey } } }'
)


def _marked(marker: str, **extra: str) -> dict[str, str]:
    return {"X-Parse-Application-Id": "app", "X-Marker": marker, **extra}


async def test_concurrent_requests_through_every_http_entry_point_each_see_their_own_headers(server: Server) -> None:
    client = server.api.client
    create = "mutation Create($m: String) { createMarked(input: {fields: {marker: $m}}) { marked { objectId } } }"

    async def rest(marker: str) -> list[str]:
        answer = await client.post("/parse/classes/Marked", json={"marker": marker}, headers=_marked(marker))
        return [answer.json()["objectId"]]

    async def batch(marker: str) -> list[str]:
        request = {"method": "POST", "path": "/parse/classes/Marked", "body": {"marker": marker}}
        answer = await client.post("/parse/batch", json={"requests": [request, request]}, headers=_marked(marker))
        return [result["success"]["objectId"] for result in answer.json()]

    async def graphql(marker: str) -> list[str]:
        body = {"query": create, "variables": {"m": marker}}
        answer = await client.post("/graphql", json=body, headers=_marked(marker))
        return [answer.json()["data"]["createMarked"]["marked"]["objectId"]]

    async def function(marker: str) -> list[str]:
        headers = _marked(marker, **{"X-Parse-Cloud-Context": json.dumps({"marker": marker})})
        answer = await client.post("/parse/functions/whoami", json={}, headers=headers)
        assert answer.json()["result"] == {"marker": marker, "ip": "127.0.0.1", "context": {"marker": marker}}
        return []

    async def graphql_function(marker: str) -> list[str]:
        body = {"query": "mutation { callCloudCode(input: {functionName: whoami}) { result } }"}
        answer = await client.post("/graphql", json=body, headers=_marked(marker))
        assert answer.json()["data"]["callCloudCode"]["result"]["marker"] == marker
        return []

    async def upload(marker: str) -> list[str]:
        headers = _marked(marker, **{"Content-Type": "text/plain"})
        name = (await client.post(f"/parse/files/{marker}.txt", content=b"x", headers=headers)).json()["name"]
        metadata = (await client.get(f"/parse/files/app/metadata/{name}", headers=_marked("reader"))).json()
        assert metadata == {"metadata": {"checked": "yes", "marker": marker}}
        return []

    kinds = [rest, batch, graphql, function, graphql_function, upload]
    markers = [f"{kind.__name__}-{n}" for n in range(3) for kind in kinds]
    created = await asyncio.gather(*(kind(marker) for marker, kind in zip(markers, kinds * 3, strict=True)))
    for marker, object_ids in zip(markers, created, strict=True):
        for object_id in object_ids:
            stored = (await server.api.get(f"/classes/Marked/{object_id}", master=True)).json()
            seen = {key: stored.get(key) for key in ("sawMarker", "sawMasterKey", "sawIp")}
            assert seen == {"sawMarker": marker, "sawMasterKey": False, "sawIp": "127.0.0.1"}, (marker, stored)


async def test_an_after_event_hook_sees_each_subscribers_own_connection_never_the_writers_key(server: Server) -> None:
    public = {"X-Parse-Application-Id": "app"}
    async with (
        live_query(server.address, headers={"X-Marker": "sub-a"}) as a,
        live_query(server.address, headers={"X-Marker": "sub-b"}) as b,
        graphql_socket(server.address, {**public, "X-Marker": "sub-c"}) as c,
        graphql_socket(server.address, public, legacy=True, headers={"X-Marker": "sub-d"}) as d,
    ):
        for live in (a, b):  # one group: the same query by the same (public) caller
            assert (await live.subscribe(1, "Marked", {"marker": "event"}))["op"] == "subscribed"
        for socket in (c, d):
            await socket.subscribe("e", MARKED_EVENTS)
            await socket.drain()
        writer = _marked("writer", **{"X-Parse-Master-Key": "master"})
        await server.api.client.post("/parse/classes/Marked", json={"marker": "event"}, headers=writer)
        for live, marker in ((a, "sub-a"), (b, "sub-b")):
            event = await live.next()
            assert event["op"] == "create"
            assert (event["object"]["seenBy"], event["object"]["seenMasterKey"]) == (marker, False)
        for socket, marker in ((c, "sub-c"), (d, "sub-d")):
            _, data = await socket.data()
            node = {"seenBy": marker, "seenMasterKey": False}
            assert data == {"markedEvents": {"event": "CREATE", "node": node}}


@pytest.mark.parametrize("legacy", [False, True], ids=["graphql-transport-ws", "graphql-ws"])
async def test_a_mutation_over_a_graphql_socket_runs_its_hooks_with_the_sockets_headers(
    server: Server, legacy: bool
) -> None:
    init = {"X-Parse-Application-Id": "app", "headers": {"X-Init-Marker": "from init"}}
    async with graphql_socket(server.address, init, legacy=legacy, headers={"X-Marker": "from handshake"}) as socket:
        await socket.subscribe(
            "m",
            'mutation { createMarked(input: {fields: {marker: "ws"}}) { marked { objectId } } }',
        )
        _, data = await socket.data()
    object_id = data["createMarked"]["marked"]["objectId"]
    stored = (await server.api.get(f"/classes/Marked/{object_id}", master=True)).json()
    seen = {key: stored.get(key) for key in ("sawMarker", "sawInitMarker", "sawMasterKey", "sawIp")}
    assert seen == {
        "sawMarker": "from handshake",
        "sawInitMarker": "from init",
        "sawMasterKey": False,
        "sawIp": "127.0.0.1",
    }


async def test_connect_and_subscribe_hooks_see_the_connections_own_headers(server: Server) -> None:
    async with live_query(server.address, headers={"X-Marker": "refused"}) as refused:
        answer = await refused.subscribe(1, "Marked")
        assert answer["op"] == "error" and answer["error"] == "this marker may not subscribe"
    async with live_query(server.address, headers={"X-Marker": "welcome"}) as welcome:
        assert (await welcome.subscribe(1, "Marked"))["op"] == "subscribed"
    async with graphql_socket(server.address, {"X-Parse-Application-Id": "app", "X-Marker": "refused"}) as socket:
        await socket.subscribe("e", MARKED_EVENTS)
        refusal = await socket.next()
        assert refusal["type"] == "error" and refusal["payload"][0]["message"] == "this marker may not subscribe"
    async with websockets.connect(
        f"ws://{server.address}/graphql",
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        additional_headers={"X-Marker": "unwelcome"},
        open_timeout=WAIT,
    ) as connection:
        unwelcome = GraphQLSocket(connection)
        await unwelcome.send({"type": "connection_init", "payload": {"X-Parse-Application-Id": "app"}})
        assert await unwelcome.closed_with() == (4403, "unwelcome markers may not connect")


# Parse Config ---------------------------------------------------------------------------------------------------


async def test_config_triggers_see_the_new_and_stored_params_and_may_refuse_or_change_them(server: Server) -> None:
    api = server.api
    await clear_log(server)
    first = await api.put("/config", {"params": {"greeting": "  hi  ", "limit": 3}}, master=True)
    assert first.json() == {"result": True}
    assert (await api.get("/config")).json()["params"] == {"greeting": "hi", "limit": 3}
    assert await hook_log(server) == [
        {
            "what": "beforeSaveConfig",
            "changed": ["greeting", "limit"],
            "new": {"greeting": "  hi  ", "limit": 3},
            "master": True,  # and no original: the config was empty
        },
        {"what": "afterSaveConfig", "new": {"greeting": "hi", "limit": 3}},
    ]

    await clear_log(server)
    refused = await api.put("/config", {"params": {"maintenance": "forever", "limit": 4}}, master=True)
    assert (refused.status_code, refused.json()) == (400, {"code": 142, "error": "maintenance cannot last forever"})
    assert (await api.get("/config")).json()["params"] == {"greeting": "hi", "limit": 3}  # nothing written
    assert [row["what"] for row in await hook_log(server)] == ["beforeSaveConfig"]

    # An operation other than unset is refused: config parameters hold values.
    bad = await api.put("/config", {"params": {"bad": "op"}}, master=True)
    assert bad.json()["code"] == 141 and "operations are not stored" in bad.json()["error"]

    # GraphQL's updateCloudConfig runs the same triggers, and a removal is seen as the parameter going away.
    await clear_log(server)
    updated = await server.gql.post(
        'mutation { updateCloudConfig(input: {paramName: "greeting", value: " hey "}) { cloudConfig { value } } }',
        master=True,
    )
    assert "errors" not in updated.json(), updated.json()
    assert (await api.get("/config")).json()["params"]["greeting"] == "hey"
    removed = await api.put("/config", {"params": {"limit": {"__op": "Delete"}}}, master=True)
    assert removed.json() == {"result": True}
    log = await hook_log(server)
    assert [row["what"] for row in log] == ["beforeSaveConfig", "afterSaveConfig"] * 2
    assert log[2]["changed"] == ["limit"] and log[2]["new"] == {"greeting": "hey"}
    assert log[3] == {"what": "afterSaveConfig", "new": {"greeting": "hey"}, "old": {"greeting": "hey", "limit": 3}}

    # A failing after_save is logged; the update stands.
    crashed = await api.put("/config", {"params": {"greeting": "crash after"}}, master=True)
    assert crashed.json() == {"result": True}
    assert (await api.get("/config")).json()["params"] == {"greeting": "crash after"}
