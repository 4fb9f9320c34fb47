"""Objects through REST with real users: ACLs, class permissions, pointer permissions, and Parse's storage."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import Api, mongodb_only
from tests.seed import make_user, raw_documents

pytestmark = pytest.mark.asyncio(loop_scope="session")


def database_uri(api: Api) -> str:
    return str(api.client._transport.app.state.services.settings.database_uri)  # type: ignore[attr-defined]


async def test_a_private_object_is_invisible_to_others_and_looks_missing(api: Api) -> None:
    uri = database_uri(api)
    alice, alice_token = await make_user(uri, "alice")
    _, bob_token = await make_user(uri, "bob")
    created = await api.post(
        "/classes/Diary", {"text": "mine", "ACL": {alice: {"read": True, "write": True}}}, token=alice_token
    )
    object_id = created.json()["objectId"]
    assert (await api.get(f"/classes/Diary/{object_id}", token=alice_token)).json()["text"] == "mine"
    for token in (bob_token, None):
        seen = await api.get(f"/classes/Diary/{object_id}", token=token)
        assert (seen.status_code, seen.json()) == (404, {"code": 101, "error": "Object not found."})
        changed = await api.put(f"/classes/Diary/{object_id}", {"text": "theirs"}, token=token)
        assert changed.json() == {"code": 101, "error": "Object not found."}
        assert (await api.get("/classes/Diary", token=token)).json() == {"results": []}
    assert (await api.get(f"/classes/Diary/{object_id}", master=True)).json()["text"] == "mine"


async def test_read_user_fields_limit_a_class_to_the_users_an_object_points_to(api: Api) -> None:
    uri = database_uri(api)
    owner, owner_token = await make_user(uri, "owner")
    _, stranger_token = await make_user(uri, "stranger")
    await api.post(
        "/schemas/Ticket",
        {
            "className": "Ticket",
            "fields": {"owner": {"type": "Pointer", "targetClass": "_User"}, "subject": {"type": "String"}},
            "classLevelPermissions": {
                "find": {},
                "get": {},
                "count": {},
                "create": {"*": True},
                "update": {},
                "delete": {},
                "addField": {},
                "readUserFields": ["owner"],
                "protectedFields": {},
            },
        },
        master=True,
    )
    await api.post(
        "/classes/Ticket",
        {"subject": "help", "owner": {"__type": "Pointer", "className": "_User", "objectId": owner}},
    )
    mine = await api.get("/classes/Ticket", token=owner_token, params={"count": 1})
    assert [t["subject"] for t in mine.json()["results"]] == ["help"] and mine.json()["count"] == 1
    assert (await api.get("/classes/Ticket", token=stranger_token)).json() == {"results": []}
    assert (await api.get("/classes/Ticket")).json() == {"results": []}


@mongodb_only("reads the stored documents with pymongo")
async def test_objects_are_stored_in_parse_servers_format(api: Api) -> None:
    created = await api.post(
        "/classes/Stored",
        {
            "title": "x",
            "when": {"__type": "Date", "iso": "2024-01-02T03:04:05.006Z"},
            "who": {"__type": "Pointer", "className": "_User", "objectId": "u1"},
            "where": {"__type": "GeoPoint", "latitude": 1.5, "longitude": 2.5},
            "file": {"__type": "File", "name": "f.txt", "url": "http://x/f.txt"},
            "raw": {"__type": "Bytes", "base64": "AAE="},
            "ACL": {"*": {"read": True}, "u1": {"write": True}},
        },
    )
    [document] = await raw_documents(database_uri(api), "Stored")
    assert document["_id"] == created.json()["objectId"]
    assert document["_p_who"] == "_User$u1"
    assert document["where"] == [2.5, 1.5]
    assert document["file"] == "f.txt"
    assert document["raw"] == b"\x00\x01"
    assert document["when"].isoformat() == "2024-01-02T03:04:05.006000+00:00"
    assert (document["_rperm"], document["_wperm"]) == (["*"], ["u1"])
    assert document["_acl"] == {"u1": {"w": True}, "*": {"r": True}}
    assert list(document)[-2:] == ["_created_at", "_updated_at"]
    [schema] = [s for s in await raw_documents(database_uri(api), "_SCHEMA") if s["_id"] == "Stored"]
    assert {k: v for k, v in schema.items() if k != "_id"} == {
        "objectId": "string",
        "updatedAt": "date",
        "createdAt": "date",
        "title": "string",
        "when": "date",
        "who": "*_User",
        "where": "geopoint",
        "file": "file",
        "raw": "bytes",
    }


async def test_quoted_prefixes_from_the_sdks_work_on_the_embedded_database(api: Api) -> None:
    # The JS SDK sends startsWith as PCRE \\Q…\\E quoting, which SecantusDB refuses; it is rewritten.
    await api.post("/classes/Quoted", {"name": "a.b (c)"})
    await api.post("/classes/Quoted", {"name": "axb (c)"})
    found = await api.get("/classes/Quoted", params={"where": {"name": {"$regex": "^\\Qa.b (\\E"}}})
    assert [row["name"] for row in found.json()["results"]] == ["a.b (c)"]


async def test_near_queries_answer_nearest_first_on_every_database(api: Api) -> None:
    # SecantusDB answers $nearSphere in a find unsorted; ParseQL asks for a $geoNear stage instead.
    cities = {"Stockholm": (59.33, 18.07), "Pune": (18.52, 73.86), "Lyon": (45.76, 4.84), "Paris": (48.86, 2.35)}
    cities |= {"St. Louis": (38.63, -90.2), "Berlin": (52.52, 13.4), "Portland": (45.52, -122.68)}
    for name, (latitude, longitude) in cities.items():
        point = {"__type": "GeoPoint", "latitude": latitude, "longitude": longitude}
        await api.post("/classes/Place", {"name": name, "at": point, "big": name in ("Paris", "Berlin", "Pune")})
    paris = {"__type": "GeoPoint", "latitude": 48.86, "longitude": 2.35}

    async def names(where: dict[str, object], **params: object) -> list[str]:
        found = await api.get("/classes/Place", params={"where": where, "keys": "name", **params})
        return [row["name"] for row in found.json()["results"]]

    everywhere = ["Paris", "Lyon", "Berlin", "Stockholm", "St. Louis", "Pune", "Portland"]
    assert await names({"at": {"$nearSphere": paris}}) == everywhere
    assert await names({"at": {"$nearSphere": paris}}, skip=1, limit=2) == ["Lyon", "Berlin"]
    assert await names({"at": {"$nearSphere": paris, "$maxDistanceInKilometers": 1000}}) == ["Paris", "Lyon", "Berlin"]
    assert await names({"at": {"$nearSphere": paris}, "big": True}) == ["Paris", "Berlin", "Pune"]
    assert await names({"at": {"$nearSphere": paris}, "big": False}, order="-name", limit=2) == [
        "Stockholm",
        "St. Louis",
    ]
    assert await names({"$and": [{"at": {"$nearSphere": paris}}, {"name": {"$ne": "Paris"}}]}, limit=1) == ["Lyon"]


async def test_batch_runs_each_request_with_the_callers_rights(api: Api) -> None:
    # The class first: sub-requests run concurrently, and two racing to add `n` would make either one the mismatch.
    await api.post("/schemas/Batched", {"fields": {"n": {"type": "Number"}}}, master=True)
    response = await api.post(
        "/batch",
        {
            "requests": [
                {"method": "POST", "path": "/parse/classes/Batched", "body": {"n": 1}},
                {"method": "POST", "path": "/parse/classes/Batched", "body": {"n": "two"}},
                {"method": "GET", "path": "/parse/classes/Batched/nope"},
            ]
        },
    )
    assert response.status_code == 200
    first, second, third = response.json()
    assert set(first["success"]) == {"objectId", "createdAt"}
    assert second["error"]["code"] == 111
    assert third == {"error": {"code": 101, "error": "Object not found."}}


@mongodb_only("reads the stored documents with pymongo")
async def test_a_user_written_through_classes_has_a_hashed_password_and_a_private_acl(api: Api) -> None:
    created = await api.post("/classes/_User", {"username": "carol", "password": "s3cret!", "email": "c@x.io"})
    assert created.status_code == 201, created.text
    assert "password" not in created.json()
    user_id = created.json()["objectId"]
    assert created.headers["location"].endswith(f"/parse/users/{user_id}")
    [document] = [d for d in await raw_documents(database_uri(api), "_User") if d["_id"] == user_id]
    assert "password" not in document
    assert document["_hashed_password"].startswith("$2b$10$")
    assert (document["_rperm"], document["_wperm"]) == ([user_id], [user_id])
    seen = await api.get(f"/classes/_User/{user_id}", master=True)
    assert "password" not in seen.json() and "_hashed_password" not in seen.json()
    taken = await api.post("/classes/_User", {"username": "carol", "password": "x"})
    assert taken.json() == {"code": 202, "error": "Account already exists for this username."}
    missing = await api.post("/classes/_User", {"username": "dave"})
    assert missing.json() == {"code": 201, "error": "password is required"}
    anonymous = await api.put(f"/classes/_User/{user_id}", {"username": "mallory"})
    assert anonymous.json() == {"code": 206, "error": "Permission denied"}


async def test_a_batch_transaction_writes_everything_or_nothing(api: Api) -> None:
    def create(n: object) -> dict[str, object]:
        return {"method": "POST", "path": "/parse/classes/Ledger", "body": {"n": n}}

    done = await api.post("/batch", {"transaction": True, "requests": [create(1), create(2)]})
    assert done.status_code == 200 and all("success" in result for result in done.json())
    failed = await api.post("/batch", {"transaction": True, "requests": [create(3), create("three")]})
    assert failed.status_code == 400
    assert failed.json() == {"code": 111, "error": "schema mismatch for Ledger.n; expected Number but got String"}
    found = await api.get("/classes/Ledger", params={"order": "n", "keys": "n"})
    assert [row["n"] for row in found.json()["results"]] == [1, 2]


@mongodb_only("hint, comment, readPreference and explain are MongoDB's")
async def test_query_hints_pass_through_and_explain_needs_the_master_key(api: Api) -> None:
    await api.post("/classes/Planned", {"n": 1})
    hinted = await api.get(
        "/classes/Planned", params={"hint": "_id_", "comment": "from a test", "readPreference": "secondary_preferred"}
    )
    assert [row["n"] for row in hinted.json()["results"]] == [1]
    assert (await api.get("/classes/Planned", params={"readPreference": "sideways"})).json() == {
        "code": 102,
        "error": "Not supported read preference.",
    }
    refused = await api.get("/classes/Planned", params={"explain": True})
    assert refused.json() == {"code": 102, "error": "Using the explain query parameter requires the master key"}
    plan = await api.get("/classes/Planned", params={"explain": True}, master=True)
    assert "queryPlanner" in plan.json()["results"]


async def test_writers_racing_to_create_a_class_with_a_polygon_both_succeed(api: Api) -> None:
    # Both create the class and its 2dsphere index; the embedded database refuses a second identical index.
    import asyncio

    def square(x: int) -> dict[str, object]:
        return {"area": {"__type": "Polygon", "coordinates": [[x, x], [x, x + 1], [x + 1, x + 1], [x + 1, x]]}}

    results = await asyncio.gather(*(api.post("/classes/Racing", square(x)) for x in range(4)))
    assert [r.status_code for r in results] == [201] * 4


async def test_by_default_clients_cannot_create_classes_but_can_use_existing_ones(
    database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.conftest import make_settings, running

    settings = make_settings(database_server, "noclasses", tmp_path_factory.mktemp("noclasses"))
    async with running(settings) as (_, client):
        api = Api(client)
        refused = await api.post("/classes/Fresh", {"n": 1})
        assert (refused.status_code, refused.json()) == (400, {"code": 119, "error": "Permission denied"})
        assert (await api.get("/classes/Fresh")).json() == {"code": 119, "error": "Permission denied"}
        assert (await api.post("/classes/Fresh", {"n": 1}, master=True)).status_code == 201
        assert (await api.post("/classes/Fresh", {"n": 2})).status_code == 201
        assert (await api.post("/classes/_User", {"username": "u", "password": "p"})).status_code == 201


async def test_a_relation_of_an_unreadable_object_reveals_nothing(api: Api) -> None:
    uri = database_uri(api)
    owner, owner_token = await make_user(uri, "relation-owner")
    _, other_token = await make_user(uri, "relation-other")
    member = (await api.post("/classes/Member", {"n": 1})).json()["objectId"]
    group = (
        await api.post(
            "/classes/Group",
            {
                "ACL": {owner: {"read": True, "write": True}},
                "members": {
                    "__op": "AddRelation",
                    "objects": [{"__type": "Pointer", "className": "Member", "objectId": member}],
                },
            },
        )
    ).json()["objectId"]
    where = {"$relatedTo": {"object": {"__type": "Pointer", "className": "Group", "objectId": group}, "key": "members"}}
    mine = await api.get("/classes/Member", token=owner_token, params={"where": where})
    assert [row["objectId"] for row in mine.json()["results"]] == [member]
    theirs = await api.get("/classes/Member", token=other_token, params={"where": where})
    assert theirs.json() == {"results": []}


async def test_order_takes_the_stored_date_names_as_parse_does(api: Api) -> None:
    # Parse Server 9.10 sorts by `_created_at` and `_updated_at`, the names its MongoDB documents use.
    for n in range(3):
        await api.post("/classes/Dated", {"n": n})
        await asyncio.sleep(0.005)  # dates are kept to the millisecond: two creates in one would tie
    orders = {}
    for order in ("_created_at", "-_created_at", "_updated_at", "-_updated_at", "n,-_created_at"):
        answer = await api.get("/classes/Dated", params={"order": order, "keys": "n"})
        orders[order] = [row["n"] for row in answer.json()["results"]]
    assert orders == {
        "_created_at": [0, 1, 2],
        "-_created_at": [2, 1, 0],
        "_updated_at": [0, 1, 2],
        "-_updated_at": [2, 1, 0],
        "n,-_created_at": [0, 1, 2],
    }


async def test_related_to_an_object_without_an_id_matches_nothing(api: Api) -> None:
    # Parse Server 9.10 answers every one of these with no results (the SDKs send such a pointer for a new object).
    await api.post("/classes/Pet", {"name": "rex"})
    for owner in (
        {"__type": "Pointer", "className": "Household"},
        {"__type": "Pointer", "className": "Household", "objectId": None},
        {"__type": "Pointer", "className": "Household", "objectId": ""},
        {"__type": "Pointer"},
    ):
        where = {"$relatedTo": {"object": owner, "key": "pets"}}
        answer = await api.get("/classes/Pet", params={"where": where})
        assert (answer.status_code, answer.json()) == (200, {"results": []}), owner
        counted = await api.get("/classes/Pet", params={"where": where, "count": 1, "limit": 0})
        assert counted.json() == {"results": [], "count": 0}


async def test_a_polygon_default_is_shown_as_given_and_objects_get_it_closed(api: Api) -> None:
    open_ring = {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1]]}
    closed_ring = {"__type": "Polygon", "coordinates": [[0, 0], [0, 1], [1, 1], [0, 0]]}
    created = await api.post(
        "/schemas/Zone", {"fields": {"area": {"type": "Polygon", "defaultValue": open_ring}}}, master=True
    )
    assert created.json()["fields"]["area"] == {"type": "Polygon", "defaultValue": open_ring}
    added = await api.put(
        "/schemas/Zone", {"fields": {"spare": {"type": "Polygon", "defaultValue": open_ring}}}, master=True
    )
    assert added.json()["fields"]["spare"] == {"type": "Polygon", "defaultValue": open_ring}
    shown = (await api.get("/schemas/Zone", master=True)).json()["fields"]
    assert (shown["area"]["defaultValue"], shown["spare"]["defaultValue"]) == (open_ring, open_ring)
    zone = (await api.post("/classes/Zone", {})).json()["objectId"]
    stored = (await api.get(f"/classes/Zone/{zone}")).json()
    assert (stored["area"], stored["spare"]) == (closed_ring, closed_ring)
