"""Where each key may be used from (`master_key_ips`, `read_only_master_key_ips`, `maintenance_key_ips`), matched as
Parse Server 9.10 matches them, and what the maintenance key may do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.asgi import create_app
from app.domain.acl import Auth
from app.errors import AppError
from tests.conftest import APP_ID, MASTER_KEY, fresh_uri, make_settings

pytestmark = pytest.mark.asyncio(loop_scope="session")

READ_ONLY_KEY = "read-only"
MAINTENANCE_KEY = "maintenance"
HEADERS = {"X-Parse-Application-Id": APP_ID, "Content-Type": "application/json"}
MASTER = {**HEADERS, "X-Parse-Master-Key": MASTER_KEY}
MAINTENANCE = {**HEADERS, "X-Parse-Maintenance-Key": MAINTENANCE_KEY}


@pytest.fixture(scope="module")
def database_uri(database_server: str) -> str:
    return fresh_uri(database_server, __name__)


@asynccontextmanager
async def server(database_uri: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Starlette]:
    settings = make_settings(
        "",
        "keys",
        tmp_path,
        database_uri=database_uri,
        read_only_master_key=READ_ONLY_KEY,
        maintenance_key=MAINTENANCE_KEY,
        allow_client_class_creation=True,
        **overrides,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def client(app: Starlette, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 40000)), base_url="http://test")


# (allowed addresses, client address, whether the master key works from there), each as Parse 9.10 answers.
MASTER_KEY_CASES = [
    (["127.0.0.1", "::1"], "127.0.0.1", True),  # the default: this machine only
    (["127.0.0.1", "::1"], "::1", True),
    (["127.0.0.1", "::1"], "::ffff:127.0.0.1", True),  # an IPv4 client seen by a dual-stack socket
    (["127.0.0.1", "::1"], "10.0.0.1", False),
    (["10.0.0.0/8"], "10.2.3.4", True),
    (["10.0.0.0/8"], "::ffff:10.2.3.4", True),
    (["10.0.0.0/8"], "11.0.0.1", False),
    (["10.0.0.5/24"], "10.0.0.200", True),  # a range written from any of its addresses
    (["::ffff:10.0.0.1"], "10.0.0.1", True),
    (["2001:db8::/32"], "2001:db8::5", True),
    (["2001:db8::/32"], "2001:db9::5", False),
    (["2001:db8::/32"], "10.0.0.1", False),
    (["0.0.0.0/0"], "198.51.100.1", True),
    (["0.0.0.0/0"], "2001:db8::1", False),  # every IPv4 address, no IPv6 one
    (["0.0.0.0"], "198.51.100.1", True),  # Parse's other spelling of every IPv4 address
    (["::"], "2001:db8::1", True),  # and of every IPv6 one
    (["::0"], "2001:db8::1", True),
    (["::/0"], "198.51.100.1", False),
    (["::1"], "127.0.0.1", False),  # versions are not compared with each other
    ([], "127.0.0.1", False),  # nobody, cloud code's machine included
]


@pytest.mark.parametrize(("allowed", "address", "works"), MASTER_KEY_CASES)
async def test_the_master_key_works_only_from_its_addresses(
    database_uri: str, tmp_path: Path, allowed: list[str], address: str, works: bool
) -> None:
    async with server(database_uri, tmp_path, master_key_ips=allowed) as app, client(app, address) as http:
        answer = await http.get("/parse/schemas", headers=MASTER)
        graphql = await http.post("/graphql", headers=MASTER, json={"query": "{ health }"})
    if works:
        assert (answer.status_code, graphql.status_code) == (200, 200)
    else:
        assert (answer.status_code, answer.json()) == (403, {"error": "unauthorized"})
        assert (graphql.status_code, graphql.json()) == (403, {"error": "unauthorized"})


async def test_the_read_only_master_key_has_addresses_of_its_own(database_uri: str, tmp_path: Path) -> None:
    read_only = {**HEADERS, "X-Parse-Master-Key": READ_ONLY_KEY}
    # Parse's default: from anywhere, whatever the master key's addresses.
    async with server(database_uri, tmp_path, master_key_ips=["127.0.0.1"]) as app, client(app, "192.0.2.9") as http:
        assert (await http.get("/parse/schemas", headers=read_only)).status_code == 200
    async with (
        server(database_uri, tmp_path, read_only_master_key_ips=["10.0.0.0/8"]) as app,
        client(app, "192.0.2.9") as http,
    ):
        assert (await http.get("/parse/schemas", headers=read_only)).status_code == 403


async def test_the_maintenance_key_works_only_from_its_addresses(database_uri: str, tmp_path: Path) -> None:
    async with server(database_uri, tmp_path) as app:
        async with client(app, "192.0.2.9") as http:
            answer = await http.get("/parse/classes/Note", headers=MAINTENANCE)
            assert (answer.status_code, answer.json()) == (403, {"error": "unauthorized"})
        async with client(app, "127.0.0.1") as http:
            assert (await http.get("/parse/classes/Note", headers=MAINTENANCE)).status_code == 200


async def test_the_maintenance_key_reaches_every_object_but_not_the_master_keys_routes(
    database_uri: str, tmp_path: Path
) -> None:
    async with server(database_uri, tmp_path) as app, client(app, "127.0.0.1") as http:
        user = await http.post("/parse/users", headers=HEADERS, json={"username": "kept", "password": "pw"})
        assert user.status_code == 201
        private = await http.post(
            "/parse/classes/Secret", headers=MASTER, json={"text": "hidden", "ACL": {user.json()["objectId"]: {}}}
        )
        found = await http.get(f"/parse/classes/Secret/{private.json()['objectId']}", headers=MAINTENANCE)
        assert found.json()["text"] == "hidden"
        public = await http.get(f"/parse/classes/Secret/{private.json()['objectId']}", headers=HEADERS)
        assert public.status_code == 404
        for method, path in (("GET", "/schemas"), ("PUT", "/config"), ("GET", "/cloud_code/jobs/data")):
            refused = await http.request(method, f"/parse{path}", headers=MAINTENANCE, json={"params": {"a": 1}})
            assert (refused.status_code, refused.json()) == (403, {"error": "Permission denied"}), path


async def test_the_maintenance_key_may_give_a_new_object_its_dates(database_uri: str, tmp_path: Path) -> None:
    created = {"__type": "Date", "iso": "2001-02-03T04:05:06.789Z"}
    updated = {"__type": "Date", "iso": "2002-02-03T04:05:06.789Z"}
    async with server(database_uri, tmp_path) as app, client(app, "127.0.0.1") as http:
        restored = await http.post("/parse/classes/Dated", headers=MAINTENANCE, json={"a": 1, "createdAt": created})
        assert restored.json()["createdAt"] == created["iso"]
        read = await http.get(f"/parse/classes/Dated/{restored.json()['objectId']}", headers=HEADERS)
        assert (read.json()["createdAt"], read.json()["updatedAt"]) == (created["iso"], created["iso"])
        both = await http.post(
            "/parse/classes/Dated", headers=MAINTENANCE, json={"createdAt": created, "updatedAt": updated}
        )
        read = await http.get(f"/parse/classes/Dated/{both.json()['objectId']}", headers=HEADERS)
        assert (read.json()["createdAt"], read.json()["updatedAt"]) == (created["iso"], updated["iso"])
        backwards = await http.post(
            "/parse/classes/Dated", headers=MAINTENANCE, json={"createdAt": updated, "updatedAt": created}
        )
        assert backwards.json() == {"code": 142, "error": "updatedAt cannot occur before createdAt"}
        # The master key's dates are the server's, as in Parse.
        mastered = await http.post("/parse/classes/Dated", headers=MASTER, json={"createdAt": created})
        assert mastered.json()["createdAt"] != created["iso"]


async def test_rate_limits_count_the_maintenance_key(database_uri: str, tmp_path: Path) -> None:
    rules = [{"requestPath": "/classes/Note", "requestTimeWindow": 60_000, "requestCount": 1}]
    allowed = {"maintenance_key_ips": ["192.0.2.0/24"]}
    async with server(database_uri, tmp_path, rate_limit=rules, **allowed) as app, client(app, "192.0.2.9") as http:
        answers = [(await http.get("/parse/classes/Note", headers=MAINTENANCE)).status_code for _ in range(2)]
        assert answers == [200, 429]


async def test_the_maintenance_key_reads_writes_and_queries_a_users_internal_fields(
    database_uri: str, tmp_path: Path
) -> None:
    async with server(database_uri, tmp_path) as app, client(app, "127.0.0.1") as http:
        user = await http.post("/parse/users", headers=HEADERS, json={"username": "fixed", "password": "pw"})
        path = f"/parse/classes/_User/{user.json()['objectId']}"
        fix = {"_email_verify_token": "token-1", "_failed_login_count": 2, "emailVerified": False}
        assert (await http.put(path, headers=MAINTENANCE, json=fix)).status_code == 200
        read = (await http.get(path, headers=MAINTENANCE)).json()
        assert (read["_email_verify_token"], read["_failed_login_count"]) == ("token-1", 2)
        assert "password" not in read and "_hashed_password" not in read
        where = {"where": '{"_email_verify_token": "token-1"}'}
        found = await http.get("/parse/classes/_User", headers=MAINTENANCE, params=where)
        assert [result["username"] for result in found.json()["results"]] == ["fixed"], found.text
        # The master key may neither see them nor probe for them, nor write them (Parse's 105).
        assert "_email_verify_token" not in (await http.get(path, headers=MASTER)).json()
        probe = await http.get("/parse/classes/_User", headers=MASTER, params=where)
        assert probe.json() == {"code": 105, "error": "Invalid key name: _email_verify_token"}
        refused = await http.put(path, headers=MASTER, json={"_email_verify_token": "token-2"})
        assert refused.json() == {"code": 105, "error": "Invalid field name: _email_verify_token."}


# The maintenance key's outcome for each service method of `test_service_checks.py`: refused wherever only the
# master key may go (as Parse's `isMaster` checks refuse it), the master key's reach over objects elsewhere.
MAINTENANCE_OUTCOMES = {
    "schema_admin.list": "master",
    "schema_admin.read": "master",
    "schema_admin.create": "master",
    "schema_admin.update": "master",
    "schema_admin.delete": "master",
    "schema_admin.purge": "master",
    "config.read": "ok",
    "config.parameter": "master",
    "config.update": "master",
    "jobs.start": "master",
    "jobs.schedules": "master",
    "jobs.job_data": "master",
    "jobs.create_schedule": "master",
    "jobs.edit_schedule": "master",
    "jobs.delete_schedule": "master",
    "objects.aggregate": "master",
    "objects.distinct": "master",
    "files.delete": "master",
    "server_info": "master",
    "accounts.current_user": "session",
    "accounts.current_session": "session",
    "objects.delete _User": "ok",
    "objects.update _User": "ok",
    "accounts.log_in_as": "forbidden",
    "objects.find": "ok",
}


async def test_each_service_method_answers_the_maintenance_key_as_parse_does(database_uri: str, tmp_path: Path) -> None:
    from tests.test_service_checks import CHECKS, outcome

    seen = {}
    async with server(database_uri, tmp_path) as app:
        for name in MAINTENANCE_OUTCOMES:
            call, _ = CHECKS[name]
            try:
                await call(app.state.services, Auth(master=True, maintenance=True))
                seen[name] = outcome(None)
            except AppError as error:
                seen[name] = outcome(error)
    assert seen == MAINTENANCE_OUTCOMES
