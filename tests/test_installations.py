"""`/parse/installations` and `_Installation`'s rules, as Parse Server 9.10's `handleInstallation` keeps them: one
row per device, found again by its installation id or its push token. Each expected answer is the peer's to the
same requests (`tests/compat`'s peer, asked 2026-12-08); where Parse Server fails, the test says what we answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.asgi import installation_settings
from app.domain.object_settings import InstallationSettings
from app.settings import Settings, SettingsError
from tests.conftest import Api, make_settings, running
from tests.graphql.helpers import Gql

pytestmark = pytest.mark.asyncio(loop_scope="session")

APNS_TOKEN = "0123456789ABCDEF" * 4  # 64 hex characters, as APNs hands them out


class Devices:
    """Installation writes as apps make them: a client with its `X-Parse-Installation-Id`, or the master key."""

    def __init__(self, api: Api) -> None:
        self.api = api

    async def send(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        master: bool = False,
        header: str | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        extra = {"X-Parse-Installation-Id": header} if header else {}
        headers = self.api.headers(master, token, **extra)
        return await self.api.client.request(method, f"/parse{path}", json=body, headers=headers)

    async def create(self, body: dict[str, Any], **kwargs: Any) -> str:
        answer = await self.send("POST", "/installations", body, **kwargs)
        assert answer.status_code == 201, answer.json()
        return str(answer.json()["objectId"])

    async def rows(self, where: dict[str, Any]) -> list[dict[str, Any]]:
        """The stored rows `where` finds, oldest first, without their times."""
        answer = await self.api.get("/installations", master=True, params={"where": where, "order": "createdAt"})
        assert answer.status_code == 200, answer.json()
        return [
            {k: v for k, v in row.items() if k not in ("createdAt", "updatedAt")} for row in answer.json()["results"]
        ]


@pytest.fixture
def devices(api: Api) -> Devices:
    return Devices(api)


def _updated(answer: httpx.Response) -> bool:
    """Parse's answer to a create that found its row: an update's."""
    return answer.status_code == 200 and list(answer.json()) == ["updatedAt"]


async def test_a_new_installation_is_stored_with_its_installation_id_lower_cased(devices: Devices) -> None:
    answer = await devices.send("POST", "/installations", {"deviceType": "ios", "installationId": "New-AAA"})
    assert answer.status_code == 201 and sorted(answer.json()) == ["createdAt", "objectId"]
    object_id = answer.json()["objectId"]
    assert answer.headers["location"].endswith(f"/parse/classes/_Installation/{object_id}")
    assert await devices.rows({"objectId": object_id}) == [
        {"objectId": object_id, "deviceType": "ios", "installationId": "new-aaa"}
    ]


async def test_saving_an_installation_id_again_updates_its_row(devices: Devices) -> None:
    first = await devices.create({"deviceType": "ios", "installationId": "AGAIN-1", "channels": ["news"]})
    again = await devices.send("POST", "/installations", {"deviceType": "ios", "installationId": "again-1", "badge": 3})
    assert _updated(again)
    # Once its row exists, a create needs no deviceType, and may even bring another one.
    assert _updated(await devices.send("POST", "/installations", {"installationId": "Again-1", "appName": "x"}))
    assert _updated(
        await devices.send("POST", "/installations", {"deviceType": "android", "installationId": "AGAIN-1"})
    )
    assert await devices.rows({"installationId": "again-1"}) == [
        {
            "objectId": first,
            "deviceType": "android",
            "installationId": "again-1",
            "channels": ["news"],
            "badge": 3,
            "appName": "x",
        }
    ]


async def test_a_new_installation_needs_an_id_and_a_device_type(devices: Devices) -> None:
    no_type = await devices.send("POST", "/installations", {"installationId": "typeless"})
    assert no_type.status_code == 400
    assert no_type.json() == {"code": 135, "error": "deviceType must be specified in this operation"}
    no_id = await devices.send("POST", "/installations", {"deviceType": "ios"})
    assert no_id.json() == {
        "code": 135,
        "error": "at least one ID field (deviceToken, installationId) must be specified in this operation",
    }
    assert await devices.rows({"installationId": "typeless"}) == []


async def test_the_installation_id_header_finds_a_row_but_is_not_stored(devices: Devices) -> None:
    # Parse looks a client's row up by its header, but stores only the body's installation id.
    bare = await devices.create({"deviceType": "android"}, header="HEAD-1")
    twin = await devices.create({"deviceType": "android", "badge": 1}, header="HEAD-1")
    assert bare != twin
    assert await devices.rows({"objectId": {"$in": [bare, twin]}}) == [
        {"objectId": bare, "deviceType": "android"},
        {"objectId": twin, "deviceType": "android", "badge": 1},
    ]
    named = await devices.create({"deviceType": "android", "installationId": "head-2"}, header="HEAD-1")
    assert _updated(await devices.send("POST", "/installations", {"badge": 2}, header="HEAD-2"))
    assert (await devices.rows({"objectId": named}))[0]["badge"] == 2
    # The master key's header names no installation: with no id in the body, Parse writes a new row as given.
    loose = await devices.send("POST", "/installations", {"badge": 4}, header="HEAD-2", master=True)
    assert loose.status_code == 201
    assert await devices.rows({"objectId": loose.json()["objectId"]}) == [
        {"objectId": loose.json()["objectId"], "badge": 4}
    ]


async def test_an_update_may_not_change_what_identifies_a_device(devices: Devices) -> None:
    object_id = await devices.create({"deviceType": "ios", "installationId": "fixed-1"})
    path = f"/installations/{object_id}"
    changed_id = await devices.send("PUT", path, {"installationId": "other"})
    assert changed_id.status_code == 400
    assert changed_id.json() == {"code": 136, "error": "installationId may not be changed in this operation"}
    changed_type = await devices.send("PUT", path, {"deviceType": "android", "installationId": "FIXED-1"})
    assert changed_type.json() == {"code": 136, "error": "deviceType may not be changed in this operation"}
    same = await devices.send(
        "PUT", path, {"deviceType": "ios", "installationId": "FIXED-1", "badge": {"__op": "Increment", "amount": 2}}
    )
    assert same.status_code == 200 and same.json()["badge"] == 2

    missing = await devices.send("PUT", "/installations/nope123456", {"installationId": "x"})
    assert missing.status_code == 404 and missing.json() == {"code": 101, "error": "Object not found for update."}
    plain = await devices.send("PUT", "/installations/nope123456", {"badge": 1})
    assert plain.status_code == 404 and plain.json() == {"code": 101, "error": "Object not found."}

    # A row without an installation id may be given one.
    bare = await devices.create({"deviceType": "ios"}, header="late-0")
    assert (await devices.send("PUT", f"/installations/{bare}", {"installationId": "LATE-1"})).status_code == 200
    assert (await devices.rows({"objectId": bare}))[0]["installationId"] == "late-1"


async def test_the_token_of_a_row_without_installation_id_cannot_change(devices: Devices) -> None:
    object_id = await devices.create({"deviceType": "ios", "deviceToken": "fixed-token"}, master=True)
    for master in (False, True):
        answer = await devices.send("PUT", f"/installations/{object_id}", {"deviceToken": "new-token"}, master=master)
        assert answer.json() == {"code": 136, "error": "deviceToken may not be changed in this operation"}


async def test_an_update_carrying_another_installations_header_writes_that_installation(devices: Devices) -> None:
    named = await devices.create({"deviceType": "ios", "installationId": "named-x"})
    other = await devices.create({"deviceType": "ios", "installationId": "header-y"})
    answer = await devices.send("PUT", f"/installations/{named}", {"badge": 5}, header="HEADER-Y")
    assert _updated(answer)
    rows = await devices.rows({"objectId": {"$in": [named, other]}})
    assert {row["objectId"]: row.get("badge") for row in rows} == {named: None, other: 5}


async def test_apns_tokens_are_lower_cased_and_other_tokens_kept(devices: Devices) -> None:
    apns = await devices.create({"deviceType": "ios", "installationId": "apns-1", "deviceToken": APNS_TOKEN})
    fcm = await devices.create({"deviceType": "android", "installationId": "fcm-1", "deviceToken": "Fcm:Token"})
    rows = await devices.rows({"objectId": {"$in": [apns, fcm]}})
    assert [row["deviceToken"] for row in rows] == [APNS_TOKEN.lower(), "Fcm:Token"]


async def test_a_token_a_new_installation_takes_leaves_its_old_row(devices: Devices) -> None:
    await devices.create({"deviceType": "ios", "installationId": "old-phone", "deviceToken": "shared-1"})
    new = await devices.create({"deviceType": "ios", "installationId": "new-phone", "deviceToken": "shared-1"})
    assert await devices.rows({"deviceToken": "shared-1"}) == [
        {"objectId": new, "deviceType": "ios", "installationId": "new-phone", "deviceToken": "shared-1"}
    ]


async def test_a_row_loses_its_token_whatever_its_acl(devices: Devices) -> None:
    # Parse's clean-ups run as the master key unless told to enforce the caller's rights (see the settings below).
    await devices.create(
        {"deviceType": "ios", "installationId": "acl-old", "deviceToken": "acl-t", "ACL": {}}, master=True
    )
    new = await devices.create({"deviceType": "ios", "installationId": "acl-new", "deviceToken": "acl-t"})
    assert [row["objectId"] for row in await devices.rows({"deviceToken": "acl-t"})] == [new]


async def test_a_token_only_row_is_adopted_by_the_installation_that_sends_its_token(devices: Devices) -> None:
    row = await devices.create({"deviceType": "ios", "deviceToken": "orphan-1"}, master=True)
    adopted = await devices.send(
        "POST", "/installations", {"deviceType": "ios", "installationId": "adopter", "deviceToken": "orphan-1"}
    )
    assert _updated(adopted)
    assert await devices.rows({"deviceToken": "orphan-1"}) == [
        {"objectId": row, "deviceType": "ios", "installationId": "adopter", "deviceToken": "orphan-1"}
    ]
    # Without an installation id, a new create for a token-only row still needs a deviceType (Parse's order).
    await devices.create({"deviceType": "ios", "deviceToken": "orphan-2"}, master=True)
    untyped = await devices.send("POST", "/installations", {"deviceToken": "orphan-2", "badge": 5}, master=True)
    assert untyped.json() == {"code": 135, "error": "deviceType must be specified in this operation"}


async def test_an_installations_row_and_a_token_only_row_merge_into_the_tokens(devices: Devices) -> None:
    by_id = await devices.create({"deviceType": "ios", "installationId": "merge-d", "channels": ["d"]})
    by_token = await devices.create({"deviceType": "ios", "deviceToken": "merge-t", "channels": ["e"]}, master=True)
    merged = await devices.send(
        "POST",
        "/installations",
        {"deviceType": "ios", "installationId": "merge-d", "deviceToken": "merge-t", "badge": 7},
    )
    assert _updated(merged)
    assert await devices.rows({"$or": [{"installationId": "merge-d"}, {"deviceToken": "merge-t"}]}) == [
        {
            "objectId": by_token,
            "deviceType": "ios",
            "deviceToken": "merge-t",
            "channels": ["e"],
            "installationId": "merge-d",
            "badge": 7,
        }
    ]
    gone = await devices.send("GET", f"/installations/{by_id}", master=True)
    assert gone.status_code == 404 and gone.json() == {"code": 101, "error": "Object not found."}


async def test_an_update_merges_with_the_token_only_row_of_its_new_token(devices: Devices) -> None:
    by_token = await devices.create({"deviceType": "ios", "deviceToken": "merge-u"}, master=True)
    by_id = await devices.create({"deviceType": "ios", "installationId": "merge-z"})
    assert _updated(await devices.send("PUT", f"/installations/{by_id}", {"deviceToken": "merge-u", "badge": 8}))
    assert await devices.rows({"objectId": {"$in": [by_token, by_id]}}) == [
        {"objectId": by_token, "deviceType": "ios", "deviceToken": "merge-u", "badge": 8}
    ]


async def test_a_token_on_rows_of_two_apps_needs_an_installation_id(devices: Devices) -> None:
    for name, app in (("app-f", "a"), ("app-g", "b")):
        await devices.create(
            {"deviceType": "ios", "installationId": name, "deviceToken": "two-apps", "appIdentifier": app}
        )
    assert len(await devices.rows({"deviceToken": "two-apps"})) == 2
    ambiguous = await devices.send(
        "POST", "/installations", {"deviceType": "ios", "deviceToken": "two-apps"}, master=True
    )
    assert ambiguous.status_code == 400
    assert ambiguous.json() == {
        "code": 132,
        "error": "Must specify installationId when deviceToken matches multiple Installation objects",
    }
    # With one, the new installation takes the token from both (its body names no app to spare).
    new = await devices.create({"deviceType": "ios", "deviceToken": "two-apps", "installationId": "app-fg"})
    assert [row["objectId"] for row in await devices.rows({"deviceToken": "two-apps"})] == [new]


async def test_the_same_token_in_another_app_is_left_alone(devices: Devices) -> None:
    first = await devices.create(
        {"deviceType": "ios", "installationId": "app-one", "deviceToken": "per-app", "appIdentifier": "one"}
    )
    second = await devices.create(
        {"deviceType": "ios", "installationId": "app-two", "deviceToken": "per-app", "appIdentifier": "two"}
    )
    assert [row["objectId"] for row in await devices.rows({"deviceToken": "per-app"})] == [first, second]


async def test_an_update_takes_a_token_from_other_rows_only_when_it_names_its_installation(devices: Devices) -> None:
    holder = await devices.create({"deviceType": "ios", "installationId": "holder-1", "deviceToken": "taken-1"})
    taker = await devices.create({"deviceType": "ios", "installationId": "taker-1", "deviceToken": "mine-1"})
    # Without the installation id in the body (the header is not enough), Parse cannot say which row keeps the
    # token, and both keep it.
    assert _updated(await devices.send("PUT", f"/installations/{taker}", {"deviceToken": "taken-1"}, header="taker-1"))
    assert [row["objectId"] for row in await devices.rows({"deviceToken": "taken-1"})] == [holder, taker]

    holder = await devices.create({"deviceType": "ios", "installationId": "holder-2", "deviceToken": "taken-2"})
    taker = await devices.create({"deviceType": "ios", "installationId": "taker-2", "deviceToken": "mine-2"})
    named = await devices.send(
        "PUT", f"/installations/{taker}", {"deviceToken": "taken-2", "installationId": "taker-2"}
    )
    assert _updated(named)
    assert [row["objectId"] for row in await devices.rows({"deviceToken": "taken-2"})] == [taker]


async def test_clients_may_not_find_or_delete_installations(devices: Devices) -> None:
    object_id = await devices.create({"deviceType": "ios", "installationId": "private-1"})
    denied = {"code": 119, "error": "Permission denied"}
    for method, path in (
        ("GET", "/installations"),
        ("GET", "/classes/_Installation"),
        ("DELETE", f"/installations/{object_id}"),
        ("DELETE", f"/classes/_Installation/{object_id}"),
    ):
        answer = await devices.send(method, path)
        assert (answer.status_code, answer.json()) == (400, denied), (method, path)
    one = await devices.send("GET", f"/installations/{object_id}")
    assert one.status_code == 200 and one.json()["installationId"] == "private-1"
    assert (await devices.send("DELETE", f"/installations/{object_id}", master=True)).json() == {}
    again = await devices.send("DELETE", f"/installations/{object_id}", master=True)
    assert again.status_code == 404 and again.json() == {"code": 101, "error": "Object not found for delete."}


async def test_the_classes_route_keeps_the_same_rules(devices: Devices) -> None:
    body = {"deviceType": "ios", "installationId": "Via-Classes"}
    created = await devices.send("POST", "/classes/_Installation", body)
    assert created.status_code == 201
    assert _updated(await devices.send("POST", "/classes/_Installation", body))
    assert [row["installationId"] for row in await devices.rows({"installationId": "via-classes"})] == ["via-classes"]


async def test_a_batch_keeps_the_same_rules(devices: Devices) -> None:
    known = await devices.create({"deviceType": "ios", "installationId": "batch-1"})
    requests = [
        {"method": "POST", "path": "/parse/installations", "body": {"installationId": "BATCH-1", "badge": 1}},
        {"method": "POST", "path": "/parse/installations", "body": {"deviceType": "ios", "installationId": "batch-2"}},
        {"method": "GET", "path": "/parse/installations"},
    ]
    # A batch's requests run side by side, as in Parse: each of these stands alone.
    again, made, found = (await devices.send("POST", "/batch", {"requests": requests})).json()
    assert list(again["success"]) == ["updatedAt"]
    assert sorted(made["success"]) == ["createdAt", "objectId"]
    assert found == {"error": {"code": 119, "error": "Permission denied"}}
    assert (await devices.rows({"objectId": known}))[0]["badge"] == 1


async def test_an_installation_the_caller_may_not_write_is_not_updated(devices: Devices) -> None:
    await devices.create({"deviceType": "ios", "installationId": "locked-1", "ACL": {}})
    again = await devices.send(
        "POST", "/installations", {"deviceType": "ios", "installationId": "locked-1", "badge": 1}
    )
    assert again.status_code == 404 and again.json() == {"code": 101, "error": "Object not found."}


async def test_ids_of_the_wrong_type_are_refused(devices: Devices) -> None:
    number_type = await devices.send("POST", "/installations", {"deviceType": 5, "installationId": "typed-1"})
    assert number_type.json() == {
        "code": 111,
        "error": "schema mismatch for _Installation.deviceType; expected String but got Number",
    }
    # Parse Server answers 500 here (it lower-cases the number); the type is what is wrong.
    number_id = await devices.send("POST", "/installations", {"deviceType": "ios", "installationId": 5})
    assert number_id.json() == {
        "code": 111,
        "error": "schema mismatch for _Installation.installationId; expected String but got Number",
    }
    number_token = await devices.send(
        "POST", "/installations", {"deviceType": "ios", "installationId": "typed-3", "deviceToken": 7}
    )
    assert number_token.json() == {
        "code": 111,
        "error": "schema mismatch for _Installation.deviceToken; expected String but got Number",
    }
    object_id = await devices.create({"deviceType": "ios", "installationId": "typed-2", "deviceToken": "typed-t"})
    deleted = await devices.send("PUT", f"/installations/{object_id}", {"deviceToken": {"__op": "Delete"}})
    assert deleted.json() == {"code": 107, "error": "You cannot use [object Object] as a query parameter."}


async def test_the_fields_push_reads_are_stored_as_given(devices: Devices) -> None:
    fields = {
        "deviceType": "android",
        "installationId": "push-fields",
        "deviceToken": "fcm-token",
        "channels": ["news", "sport"],
        "badge": 2,
        "timeZone": "Europe/Paris",
        "localeIdentifier": "fr-FR",
        "appIdentifier": "com.example",
        "appName": "Example",
        "appVersion": "1.2",
        "parseVersion": "5.1.0",
        "pushType": "gcm",
        "GCMSenderId": "1234",
    }
    object_id = await devices.create(fields)
    assert await devices.rows({"channels": "sport"}) == [{"objectId": object_id, **fields}]
    schema = (await devices.api.get("/schemas/_Installation", master=True)).json()["fields"]
    assert {name: schema[name]["type"] for name in fields} == {
        **{name: "String" for name in fields},
        "channels": "Array",
        "badge": "Number",
    }


_INSTALLATION_HOOK = """
from app.cloud import Cloud

cloud = Cloud()


@cloud.before_save("_Installation")
async def note_what_it_saw(request):
    original = request.original
    request.object.set("seen", "update of " + original.get("installationId") if original else "create")
"""


async def test_a_save_hook_sees_a_create_that_finds_its_row_as_an_update(database_server: str, tmp_path: Path) -> None:
    # Parse's hook gets an original holding only the id here; ours gets the stored row, as for any update.
    cloud = tmp_path / "installation_hooks.py"
    cloud.write_text(_INSTALLATION_HOOK)
    settings = make_settings(database_server, "installations_hooked", tmp_path, cloud=str(cloud))
    async with running(settings) as (_, client):
        devices = Devices(Api(client))
        object_id = await devices.create({"deviceType": "ios", "installationId": "hooked-1"})
        again = await devices.send("POST", "/installations", {"installationId": "HOOKED-1", "badge": 1})
        assert again.status_code == 200 and again.json()["seen"] == "update of hooked-1"
        (row,) = await devices.rows({"installationId": "hooked-1"})
        assert row == {
            "objectId": object_id,
            "deviceType": "ios",
            "installationId": "hooked-1",
            "seen": "update of hooked-1",
            "badge": 1,
        }


# Sessions ----------------------------------------------------------------------------------------------------


async def _sessions_of(api: Api, user_id: str) -> list[dict[str, Any]]:
    where = {"user": {"__type": "Pointer", "className": "_User", "objectId": user_id}}
    answer = await api.get("/sessions", master=True, params={"where": where, "order": "createdAt"})
    return [
        {k: row[k] for k in ("sessionToken", "installationId", "createdWith") if k in row}
        for row in answer.json()["results"]
    ]


async def test_a_session_records_its_installation_and_a_new_one_there_ends_it(devices: Devices) -> None:
    signed_up = await devices.send("POST", "/users", {"username": "sam", "password": "pw"}, header="Phone-1")
    user_id, first = signed_up.json()["objectId"], signed_up.json()["sessionToken"]
    assert await _sessions_of(devices.api, user_id) == [
        {
            "sessionToken": first,
            "installationId": "Phone-1",
            "createdWith": {"action": "signup", "authProvider": "password"},
        }
    ]  # the header as sent: sessions keep its case

    async def log_in(header: str | None) -> str:
        body = {"username": "sam", "password": "pw"}
        return str((await devices.send("POST", "/login", body, header=header)).json()["sessionToken"])

    phone = await log_in("Phone-1")
    tablet = await log_in("tablet-1")
    anywhere = [await log_in(None), await log_in(None)]
    sessions = await _sessions_of(devices.api, user_id)
    assert [s["sessionToken"] for s in sessions] == [phone, tablet, *anywhere]
    assert [s.get("installationId") for s in sessions] == ["Phone-1", "tablet-1", None, None]
    # The ended session is refused at once (Parse Server serves it from its cache for a few seconds more, then
    # answers 209 too).
    ended = await devices.send("GET", "/sessions/me", token=first)
    assert ended.status_code == 400 and ended.json()["code"] == 209

    # A session a client makes on an installation, or the master key makes, ends the one there too.
    made = await devices.send("POST", "/sessions", {"installationId": "tablet-1"}, token=phone, header="other")
    assert made.status_code == 201 and made.json()["installationId"] == "tablet-1"
    pointer = {"__type": "Pointer", "className": "_User", "objectId": user_id}
    by_master = await devices.send("POST", "/sessions", {"installationId": "Phone-1", "user": pointer}, master=True)
    assert by_master.status_code == 201
    assert [s.get("installationId") for s in await _sessions_of(devices.api, user_id)] == [
        None,
        None,
        "tablet-1",
        "Phone-1",
    ]


# GraphQL ------------------------------------------------------------------------------------------------------


async def test_graphql_installations_follow_the_same_rules(api: Api) -> None:
    gql = Gql(api.client)
    # As on Parse Server, the class (and so its GraphQL types) exists once an installation is stored.
    await Devices(api).create({"deviceType": "ios", "installationId": "gq-0"})
    mutation = """mutation Make($fields: CreateInstallationFieldsInput) {
        createInstallation(input: {fields: $fields}) { installation { objectId installationId deviceType badge } }
    }"""
    first = await gql.data(mutation, {"fields": {"deviceType": "ios", "installationId": "GQ-1"}})
    made = first["createInstallation"]["installation"]
    assert made["installationId"] == "gq-1"
    # Parse Server answers 101 "Object not found." here, having updated the row; we answer the row it updated.
    again = await gql.data(mutation, {"fields": {"installationId": "gq-1", "badge": 4}})
    assert again["createInstallation"]["installation"] == {**made, "badge": 4}
    untyped = await gql.error(mutation, {"fields": {"installationId": "gq-2"}})
    assert untyped["message"] == "deviceType must be specified in this operation"
    assert untyped["extensions"] == {"code": 135}
    refused = await gql.error("{ installations { count } }")
    assert refused["message"] == "Permission denied" and refused["extensions"] == {"code": 119}


async def test_a_graphql_sign_up_records_the_installation_of_its_session(api: Api) -> None:
    headers = {**api.headers(), "X-Parse-Installation-Id": "GQ-Device-1"}
    query = 'mutation { signUp(input: {fields: {username: "gwen", password: "pw"}}) { viewer { sessionToken } } }'
    answer = await api.client.post("/graphql", json={"query": query}, headers=headers)
    token = answer.json()["data"]["signUp"]["viewer"]["sessionToken"]
    session = (await api.get("/sessions/me", token=token)).json()
    assert session["installationId"] == "GQ-Device-1"
    assert session["createdWith"] == {"action": "signup", "authProvider": "password"}


# Settings -----------------------------------------------------------------------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def keeping(database_server: str, tmp_path: Path) -> AsyncIterator[Devices]:
    """A server whose clean-ups clear the id a row loses instead of deleting it, and whose merges keep the
    installation's row: Parse's `installation: {duplicateDeviceTokenAction: 'update',
    duplicateDeviceTokenMergePriority: 'installationId'}`."""
    settings = make_settings(
        database_server,
        "installations_keeping",
        tmp_path,
        installation_duplicate_device_token_action="update",
        installation_duplicate_device_token_merge_priority="installationId",
    )
    async with running(settings) as (_, client):
        yield Devices(Api(client))


async def test_rows_losing_their_token_can_be_kept_without_it(keeping: Devices) -> None:
    old = await keeping.create({"deviceType": "ios", "installationId": "keep-old", "deviceToken": "keep-t", "badge": 1})
    new = await keeping.create({"deviceType": "ios", "installationId": "keep-new", "deviceToken": "keep-t"})
    rows = await keeping.rows({"objectId": {"$in": [old, new]}})
    assert rows == [
        {"objectId": old, "deviceType": "ios", "installationId": "keep-old", "badge": 1},
        {"objectId": new, "deviceType": "ios", "installationId": "keep-new", "deviceToken": "keep-t"},
    ]


async def test_a_merge_can_keep_the_installations_row(keeping: Devices) -> None:
    by_id = await keeping.create({"deviceType": "ios", "installationId": "keep-d"})
    by_token = await keeping.create({"deviceType": "ios", "deviceToken": "keep-m"}, master=True)
    merged = await keeping.send(
        "POST", "/installations", {"deviceType": "ios", "installationId": "keep-d", "deviceToken": "keep-m"}
    )
    assert _updated(merged)
    assert await keeping.rows({"objectId": {"$in": [by_id, by_token]}}) == [
        {"objectId": by_id, "deviceType": "ios", "installationId": "keep-d", "deviceToken": "keep-m"},
        {"objectId": by_token, "deviceType": "ios"},
    ]


async def test_the_settings_take_parse_servers_spellings_and_defaults() -> None:
    assert installation_settings(Settings.load({}, env={})) == InstallationSettings("delete", "deviceToken", False)
    env = {
        "PARSEQL_INSTALLATION_DUPLICATE_DEVICE_TOKEN_ACTION": "update",
        "PARSEQL_INSTALLATION_DUPLICATE_DEVICE_TOKEN_MERGE_PRIORITY": "installationId",
        "PARSEQL_INSTALLATION_DUPLICATE_DEVICE_TOKEN_ACTION_ENFORCE_AUTH": "true",
    }
    assert installation_settings(Settings.load({}, env=env)) == InstallationSettings("update", "installationId", True)
    with pytest.raises(SettingsError, match="must be one of delete, update"):
        Settings.load({}, env={"PARSEQL_INSTALLATION_DUPLICATE_DEVICE_TOKEN_ACTION": "drop"})


async def test_clean_ups_can_be_held_to_the_callers_rights(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(
        database_server,
        "installations_enforcing",
        tmp_path,
        installation_duplicate_device_token_action_enforce_auth=True,
    )
    async with running(settings) as (_, client):
        devices = Devices(Api(client))
        locked = await devices.create(
            {"deviceType": "ios", "installationId": "own-old", "deviceToken": "own-t", "ACL": {}}, master=True
        )
        open_ = await devices.create({"deviceType": "ios", "installationId": "own-open", "deviceToken": "own-t"})
        new = await devices.create({"deviceType": "ios", "installationId": "own-new", "deviceToken": "own-t"})
        # The row the client may write is cleaned up; the locked one keeps its token.
        assert [row["objectId"] for row in await devices.rows({"deviceToken": "own-t"})] == [locked, new]
        assert open_ not in [row["objectId"] for row in await devices.rows({})]
