"""Webhooks: declared over `/parse/hooks` with the master key and kept in `_Hooks` as Parse Server keeps them, then
called by the server at a real HTTP server in this process, which records what it received and answers as told."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from starlette.types import Receive, Scope, Send

from tests.conftest import ENGINE, Api, make_settings, on_a_free_port, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

WEBHOOK_KEY = "hook-secret"
CLOUD = """
from app.cloud import Cloud

cloud = Cloud()


@cloud.define("shared_name")
def shared_name(request):
    return "from cloud code"
"""


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """The webhooks' far end: answers each path as `answers` says (JSON, or (status, content type, text)), and holds
    a call to `/hang` until the test ends."""

    calls: list[Call] = field(default_factory=list)
    answers: dict[str, Any] = field(default_factory=dict)
    address: str = ""
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str) -> str:
        return f"http://{self.address}{path}"

    def last(self, path: str) -> Call:
        return [call for call in self.calls if call.path == path][-1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
        self.calls.append(Call(scope["path"], headers, json.loads(b"".join(chunks))))
        if scope["path"] == "/hang":
            await self.released.wait()
        answer = self.answers.get(scope["path"], {"success": None})
        if answer == "echo":  # the object it was sent, as a webhook that changes nothing answers
            answer = {"success": self.calls[-1].body["object"]}
        plain = (200, "application/json", json.dumps(answer))
        status, content_type, text = answer if isinstance(answer, tuple) else plain
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type.encode())]}
        )
        await send({"type": "http.response.body", "body": text.encode()})


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def receiver() -> AsyncIterator[Receiver]:
    far_end = Receiver()
    config = uvicorn.Config(far_end, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    async with on_a_free_port(uvicorn.Server(config)) as address:
        far_end.address = address
        try:
            yield far_end
        finally:
            far_end.released.set()


@dataclass
class Server:
    api: Api
    database_uri: str
    settings: Any


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    data = tmp_path_factory.mktemp("webhooks")
    (data / "cloud.py").write_text(CLOUD)
    settings = make_settings(
        database_server,
        __name__,
        data,
        allow_client_class_creation=True,
        cloud=str(data / "cloud.py"),
        webhook_key=WEBHOOK_KEY,
        webhook_timeout=1.0,
    )
    async with running(settings) as (_, client):
        yield Server(Api(client), settings.database_uri or "", settings)


async def stored_hooks(database_uri: str) -> list[dict[str, Any]]:
    """`_Hooks` as the database holds it (the row's id aside)."""
    if ENGINE == "postgres":
        import psycopg
        from psycopg.rows import dict_row

        async with await psycopg.AsyncConnection.connect(database_uri, row_factory=dict_row) as connection:
            cursor = await connection.execute(
                'SELECT "functionName", "className", "triggerName", "url" FROM "_Hooks" ORDER BY "url"'
            )
            return [{k: v for k, v in row.items() if v is not None} for row in await cursor.fetchall()]
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(database_uri)
    try:
        documents = await client.get_default_database()["_Hooks"].find({}, {"_id": 0}).sort("url").to_list()
    finally:
        await client.close()
    return documents


# Declaring them ------------------------------------------------------------------------------------------------


async def test_only_the_master_key_sees_or_declares_hooks(server: Server) -> None:
    assert (await server.api.get("/hooks/functions")).status_code == 403
    refused = await server.api.post("/hooks/functions", {"functionName": "f", "url": "http://127.0.0.1:9/f"})
    assert refused.status_code == 403
    assert (await server.api.get("/hooks/triggers", master=True)).json() == []


async def test_a_function_hook_is_declared_read_changed_and_deleted_as_in_parse(server: Server) -> None:
    api = server.api
    created = await api.post("/hooks/functions", {"functionName": "crud", "url": "http://127.0.0.1:9/a"}, master=True)
    assert created.status_code == 200 and created.json() == {"functionName": "crud", "url": "http://127.0.0.1:9/a"}
    again = await api.post("/hooks/functions", {"functionName": "crud", "url": "http://127.0.0.1:9/b"}, master=True)
    assert again.json() == {"code": 143, "error": "function name: crud already exists"}
    assert (await api.get("/hooks/functions/crud", master=True)).json()["url"] == "http://127.0.0.1:9/a"
    assert {"functionName": "crud", "url": "http://127.0.0.1:9/a"} in (
        await api.get("/hooks/functions", master=True)
    ).json()

    changed = await api.put("/hooks/functions/crud", {"url": "http://127.0.0.1:9/c"}, master=True)
    assert changed.json() == {"functionName": "crud", "url": "http://127.0.0.1:9/c"}
    assert (await api.put("/hooks/functions/crud", {}, master=True)).json() == {
        "code": 143,
        "error": "invalid hook declaration",
    }
    missing = await api.put("/hooks/functions/nothing", {"url": "http://127.0.0.1:9/d"}, master=True)
    assert missing.json() == {"code": 143, "error": "no function named: nothing is defined"}

    assert (await api.put("/hooks/functions/crud", {"__op": "Delete"}, master=True)).json() == {}
    gone = await api.get("/hooks/functions/crud", master=True)
    assert gone.status_code == 400 and gone.json() == {"code": 143, "error": "no function named: crud is defined"}
    assert (await api.put("/hooks/functions/crud", {"__op": "Delete"}, master=True)).json() == {
        "code": 101,
        "error": "Object not found.",
    }


async def test_a_trigger_hook_is_declared_for_a_trigger_parse_knows(server: Server) -> None:
    api = server.api
    hook = {"className": "Crud", "triggerName": "afterDelete", "url": "http://127.0.0.1:9/t"}
    created = await api.post("/hooks/triggers", hook, master=True)
    assert list(created.json().items()) == [("className", "Crud"), ("url", hook["url"]), ("triggerName", "afterDelete")]
    assert (await api.post("/hooks/triggers", hook, master=True)).json() == {
        "code": 143,
        "error": "class Crud already has trigger afterDelete",
    }
    unknown = {**hook, "triggerName": "beforeDinner"}
    assert (await api.post("/hooks/triggers", unknown, master=True)).json() == {
        "code": 143,
        "error": "invalid hook declaration",
    }
    read = await api.get("/hooks/triggers/Crud/afterDelete", master=True)
    assert list(read.json()) == ["className", "triggerName", "url"]
    assert (await api.get("/hooks/triggers/Nope/afterDelete", master=True)).json() == {
        "code": 143,
        "error": "class Nope does not exist",
    }
    moved = await api.put("/hooks/triggers/Crud/afterDelete", {"url": "http://127.0.0.1:9/u"}, master=True)
    assert moved.json()["url"] == "http://127.0.0.1:9/u"
    assert (await api.delete("/hooks/triggers/Crud/afterDelete", master=True)).json() == {}
    assert hook not in (await api.get("/hooks/triggers", master=True)).json()


async def test_a_declaration_without_a_web_address_is_refused_at_once(server: Server) -> None:
    # Parse Server keeps any text as the URL and fails every call to it; a typo is better caught here.
    refused = await server.api.post("/hooks/functions", {"functionName": "typo", "url": "htp:/x"}, master=True)
    assert refused.json() == {
        "code": 143,
        "error": "invalid hook declaration: the url must be an http:// or https:// address",
    }
    incomplete = await server.api.post("/hooks/functions", {"functionName": "no_url"}, master=True)
    assert incomplete.json() == {"code": 143, "error": "invalid hook declaration"}


async def test_hooks_are_stored_in_hooks_as_parse_server_stores_them(server: Server) -> None:
    api = server.api
    await api.post("/hooks/functions", {"functionName": "kept", "url": "http://127.0.0.1:9/kept-f"}, master=True)
    trigger = {"className": "Kept", "triggerName": "beforeSave", "url": "http://127.0.0.1:9/kept-t"}
    await api.post("/hooks/triggers", trigger, master=True)
    stored = [hook for hook in await stored_hooks(server.database_uri) if "/kept-" in hook["url"]]
    assert stored == [{"functionName": "kept", "url": "http://127.0.0.1:9/kept-f"}, trigger]
    await api.delete("/hooks/functions/kept", master=True)
    await api.delete("/hooks/triggers/Kept/beforeSave", master=True)
    assert [hook for hook in await stored_hooks(server.database_uri) if "/kept-" in hook["url"]] == []


# Calling them --------------------------------------------------------------------------------------------------


async def test_a_function_webhook_answers_a_rest_call_with_parse_request_and_the_key(
    server: Server, receiver: Receiver
) -> None:
    api = server.api
    receiver.answers["/greet"] = {"success": {"hello": "from the webhook"}}
    await api.post("/hooks/functions", {"functionName": "greet", "url": receiver.url("/greet")}, master=True)
    user = (await api.post("/users", {"username": "wanda", "password": "pw"})).json()
    response = await api.client.post(
        "/parse/functions/greet",
        json={"n": 1, "when": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}},
        headers={**api.headers(token=user["sessionToken"]), "X-Parse-Installation-Id": "inst-1"},
    )
    assert response.json() == {"result": {"hello": "from the webhook"}}
    call = receiver.last("/greet")
    assert call.headers["x-parse-webhook-key"] == WEBHOOK_KEY
    assert call.headers["content-type"] == "application/json"
    body = call.body
    assert body["functionName"] == "greet"
    assert body["params"] == {"n": 1, "when": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}}
    assert body["master"] is False and body["isReadOnly"] is False
    assert body["installationId"] == "inst-1"
    assert body["user"]["objectId"] == user["objectId"] and body["user"]["username"] == "wanda"
    assert "password" not in body["user"] and "_hashed_password" not in body["user"]
    assert body["headers"]["x-parse-installation-id"] == "inst-1" and body["ip"] == "127.0.0.1"
    assert body["context"] == {}


async def test_a_function_webhook_answers_graphql_call_cloud_code(server: Server, receiver: Receiver) -> None:
    receiver.answers["/quote"] = {"success": {"price": 12}}
    await server.api.post("/hooks/functions", {"functionName": "quote", "url": receiver.url("/quote")}, master=True)
    query = "mutation { callCloudCode(input: {functionName: quote, params: {size: 2}}) { result } }"
    response = await server.api.client.post("/graphql", json={"query": query}, headers=server.api.headers())
    assert response.json() == {"data": {"callCloudCode": {"result": {"price": 12}}}}
    assert receiver.last("/quote").body["params"] == {"size": 2}


async def test_a_function_webhook_error_fails_the_call_with_141(server: Server, receiver: Receiver) -> None:
    receiver.answers["/refuse"] = {"error": "not today"}
    receiver.answers["/refuse-coded"] = {"error": {"code": 142, "message": "coded"}}
    await server.api.post("/hooks/functions", {"functionName": "refuse", "url": receiver.url("/refuse")}, master=True)
    await server.api.post(
        "/hooks/functions", {"functionName": "refuse_coded", "url": receiver.url("/refuse-coded")}, master=True
    )
    refused = await server.api.post("/functions/refuse", {})
    assert refused.status_code == 400 and refused.json() == {"code": 141, "error": "not today"}
    # Parse keeps the message and answers every webhook error with 141.
    assert (await server.api.post("/functions/refuse_coded", {})).json() == {"code": 141, "error": "coded"}


async def test_cloud_code_runs_when_it_defines_the_webhook_function_name(server: Server, receiver: Receiver) -> None:
    url = receiver.url("/shared")
    await server.api.post("/hooks/functions", {"functionName": "shared_name", "url": url}, master=True)
    assert (await server.api.post("/functions/shared_name", {})).json() == {"result": "from cloud code"}
    assert [call for call in receiver.calls if call.path == "/shared"] == []


async def test_a_before_save_webhook_changes_the_object_as_parse_applies_it(server: Server, receiver: Receiver) -> None:
    api = server.api
    receiver.answers["/before-save"] = {"success": {"title": "changed by the hook", "extra": 5}}
    hook = {"className": "Letter", "triggerName": "beforeSave", "url": receiver.url("/before-save")}
    await api.post("/hooks/triggers", hook, master=True)

    created = await api.post("/classes/Letter", {"title": "as sent", "n": 1})
    assert created.status_code == 201
    assert created.json()["title"] == "changed by the hook" and created.json()["extra"] == 5
    sent = receiver.last("/before-save").body
    assert sent["triggerName"] == "beforeSave"
    assert sent["object"] == {"title": "as sent", "n": 1, "className": "Letter"}
    assert "original" not in sent
    assert sent["master"] is False and sent["headers"]["x-parse-application-id"] == "app"
    object_id = created.json()["objectId"]
    stored = (await api.get(f"/classes/Letter/{object_id}")).json()
    # The hook's object replaces the write's fields: `n`, which it left out, is not written.
    assert stored["title"] == "changed by the hook" and stored["extra"] == 5 and "n" not in stored

    updated = await api.put(f"/classes/Letter/{object_id}", {"title": "second"})
    assert updated.json()["title"] == "changed by the hook"
    sent = receiver.last("/before-save").body
    assert sent["object"]["objectId"] == object_id and sent["object"]["title"] == "second"
    assert sent["original"]["title"] == "changed by the hook" and sent["original"]["className"] == "Letter"


async def test_a_before_save_webhook_that_answers_the_object_it_was_sent_saves_the_write_as_asked(
    server: Server, receiver: Receiver
) -> None:
    api = server.api
    receiver.answers["/echo"] = "echo"
    for class_name in ("Shelf", "_User"):
        hook = {"className": class_name, "triggerName": "beforeSave", "url": receiver.url("/echo")}
        await api.post("/hooks/triggers", hook, master=True)
    book = (await api.post("/classes/Book", {"title": "Dune"})).json()
    shelf = (
        await api.post(
            "/classes/Shelf", {"name": "sf", "count": 1, "when": {"__type": "Date", "iso": "2020-01-01T00:00:00.000Z"}}
        )
    ).json()
    relation = {
        "__op": "AddRelation",
        "objects": [{"__type": "Pointer", "className": "Book", "objectId": book["objectId"]}],
    }
    changed = await api.put(
        f"/classes/Shelf/{shelf['objectId']}", {"count": {"__op": "Increment", "amount": 2}, "books": relation}
    )
    assert changed.status_code == 200, changed.json()
    stored = (await api.get(f"/classes/Shelf/{shelf['objectId']}")).json()
    # Operations travel as Parse sends them, so the answer applies them.
    assert receiver.last("/echo").body["object"]["count"] == {"__op": "Increment", "amount": 2}
    assert stored["count"] == 3 and stored["when"]["iso"] == "2020-01-01T00:00:00.000Z"
    # Once the relation exists, the object sent holds it (as `{"__type": "Relation"}`), and so does the answer.
    await api.put(f"/classes/Shelf/{shelf['objectId']}", {"books": relation}, master=True)
    again = await api.put(f"/classes/Shelf/{shelf['objectId']}", {"name": "science fiction"})
    assert again.status_code == 200, again.json()
    assert receiver.last("/echo").body["object"]["books"] == {"__type": "Relation", "className": "Book"}
    assert (await api.get(f"/classes/Shelf/{shelf['objectId']}")).json()["name"] == "science fiction"
    owner = {"object": {"__type": "Pointer", "className": "Shelf", "objectId": shelf["objectId"]}, "key": "books"}
    related = await api.get("/classes/Book", params={"where": {"$relatedTo": owner}})
    assert [found["title"] for found in related.json()["results"]] == ["Dune"]

    user = (await api.post("/users", {"username": "echo", "password": "pw", "email": "echo@example.com"})).json()
    assert "sessionToken" in user, user
    renamed = await api.put(f"/users/{user['objectId']}", {"username": "echoed"}, token=user["sessionToken"])
    assert renamed.status_code == 200, renamed.json()
    logged_in = await api.post("/login", {"username": "echoed", "password": "pw"})
    assert logged_in.status_code == 200, logged_in.json()


async def test_an_after_save_webhook_hears_the_saved_object(server: Server, receiver: Receiver) -> None:
    receiver.answers["/after-save"] = {"success": True}
    hook = {"className": "Parcel", "triggerName": "afterSave", "url": receiver.url("/after-save")}
    await server.api.post("/hooks/triggers", hook, master=True)
    created = (await server.api.post("/classes/Parcel", {"weight": 3}, master=True)).json()
    sent = receiver.last("/after-save").body
    assert sent["triggerName"] == "afterSave" and sent["master"] is True
    assert sent["object"]["objectId"] == created["objectId"] and sent["object"]["weight"] == 3
    assert sent["object"]["className"] == "Parcel" and sent["object"]["createdAt"] == created["createdAt"]


async def test_an_erroring_before_save_webhook_refuses_the_write(server: Server, receiver: Receiver) -> None:
    receiver.answers["/no-save"] = {"error": "parcels are closed"}
    hook = {"className": "Closed", "triggerName": "beforeSave", "url": receiver.url("/no-save")}
    await server.api.post("/hooks/triggers", hook, master=True)
    refused = await server.api.post("/classes/Closed", {"weight": 1})
    assert refused.json() == {"code": 141, "error": "parcels are closed"}
    assert (await server.api.get("/classes/Closed", master=True)).json() == {"results": []}


async def test_a_before_delete_webhook_error_keeps_the_object(server: Server, receiver: Receiver) -> None:
    receiver.answers["/keep"] = {"error": "kept"}
    hook = {"className": "Keepsake", "triggerName": "beforeDelete", "url": receiver.url("/keep")}
    created = (await server.api.post("/classes/Keepsake", {"what": "ring"})).json()
    await server.api.post("/hooks/triggers", hook, master=True)
    assert (await server.api.delete(f"/classes/Keepsake/{created['objectId']}")).json() == {
        "code": 141,
        "error": "kept",
    }
    assert receiver.last("/keep").body["object"]["what"] == "ring"
    assert (await server.api.get(f"/classes/Keepsake/{created['objectId']}")).status_code == 200


async def test_an_after_delete_webhook_hears_the_deleted_object_and_its_failure_is_only_logged(
    server: Server, receiver: Receiver
) -> None:
    receiver.answers["/gone"] = {"error": "too late to refuse"}
    hook = {"className": "Leaf", "triggerName": "afterDelete", "url": receiver.url("/gone")}
    await server.api.post("/hooks/triggers", hook, master=True)
    leaf = (await server.api.post("/classes/Leaf", {"colour": "red"})).json()
    assert (await server.api.delete(f"/classes/Leaf/{leaf['objectId']}")).json() == {}
    sent = receiver.last("/gone").body
    assert sent["triggerName"] == "afterDelete" and sent["object"]["objectId"] == leaf["objectId"]
    assert sent["object"]["colour"] == "red" and "original" not in sent


async def test_a_webhook_that_cannot_answer_fails_with_a_message_that_says_why(
    server: Server, receiver: Receiver
) -> None:
    api = server.api
    receiver.answers["/html"] = (502, "text/html", "<html><body>Bad gateway</body></html>")
    for name, url in [
        ("unreachable", "http://127.0.0.1:9/nobody"),
        ("html", receiver.url("/html")),
        ("slow", receiver.url("/hang")),
    ]:
        await api.post("/hooks/functions", {"functionName": name, "url": url}, master=True)
    unreachable = (await api.post("/functions/unreachable", {})).json()
    assert unreachable["code"] == 141
    assert unreachable["error"].startswith("Webhook unreachable at http://127.0.0.1:9/nobody: could not connect")
    assert (await api.post("/functions/html", {})).json() == {
        "code": 141,
        "error": f"Webhook html at {receiver.url('/html')} answered HTTP 502 with something that is not JSON"
        " (text/html): <html><body>Bad gateway</body></html>",
    }
    # Parse Server waits for ever; here the request fails after webhook_timeout (1 s in this module).
    assert (await api.post("/functions/slow", {})).json() == {
        "code": 141,
        "error": f"Webhook slow at {receiver.url('/hang')}: no answer within 1 s",
    }


async def test_another_instance_runs_hooks_declared_through_this_one(
    server: Server, receiver: Receiver, tmp_path: Path
) -> None:
    receiver.answers["/elsewhere"] = {"success": "answered"}
    other_settings = server.settings.replace(data_dir=str(tmp_path), webhook_cache_ttl=0.2)
    async with running(other_settings) as (_, other_client):
        other = Api(other_client)
        assert (await other.post("/functions/elsewhere", {})).json()["code"] == 141  # read now, before it exists
        await server.api.post(
            "/hooks/functions", {"functionName": "elsewhere", "url": receiver.url("/elsewhere")}, master=True
        )
        # Seen once the other instance's list is older than its webhook_cache_ttl (0.2 s here).
        for _ in range(100):
            answer = (await other.post("/functions/elsewhere", {})).json()
            if answer == {"result": "answered"}:
                break
            await asyncio.sleep(0.05)
        assert answer == {"result": "answered"}
        assert (await other.get("/serverInfo", master=True)).json()["features"]["hooks"] == {
            "create": True,
            "read": True,
            "update": True,
            "delete": True,
        }
