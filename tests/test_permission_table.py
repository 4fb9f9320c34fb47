"""One table of who sees what: callers, class permissions, object ACLs and a protected field, asked through
REST, GraphQL, and both realtime protocols (Parse LiveQuery and GraphQL subscriptions), which must agree with
the table and with each other. No path may tell a caller what a permission hides: not a result, not a field,
not a match on it, not an order by it, not an event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio

from app.transport.graphql.naming import lower_first, plural
from tests.conftest import Api, make_settings, serving
from tests.graphql.helpers import Gql
from tests.realtime.clients import graphql_socket, live_query, master_init, user_init

pytestmark = pytest.mark.asyncio(loop_scope="session")

PUBLIC, ANN, BEN, MASTER = "public", "ann", "ben (an Editor)", "master"

# Class permissions over public ones (a class given only some operations gets none of the others, as in
# Parse); every class keeps `secret` from everyone but Editors (and the master key).
PUBLIC_CLP = {op: {"*": True} for op in ("find", "get", "count", "create", "update", "delete", "addField")}
PROTECTED = {"*": ["secret"], "role:Editors": []}
CLASSES: dict[str, dict[str, Any]] = {
    "Open": {},
    "Club": {
        "find": {"requiresAuthentication": True},
        "get": {"requiresAuthentication": True},
        "count": {"requiresAuthentication": True},
    },
    "Editorial": {"find": {"role:Editors": True}, "get": {"role:Editors": True}, "count": {"role:Editors": True}},
    "Owned": {"find": {}, "get": {}, "count": {}, "readUserFields": ["owner"]},
}
# Objects in every class: label -> (ACL, owner)
OBJECTS = {"pub": ("public", ANN), "own": ("ann only", ANN), "role": ("Editors only", BEN)}

# (class, caller) -> the labels the caller finds, or the Parse error code that refuses the query
VISIBLE: dict[tuple[str, str], set[str] | int] = {
    ("Open", PUBLIC): {"pub"},
    ("Open", ANN): {"pub", "own"},
    ("Open", BEN): {"pub", "role"},
    ("Open", MASTER): {"pub", "own", "role"},
    ("Club", PUBLIC): 101,  # Parse's code when a class requires authentication
    ("Club", ANN): {"pub", "own"},
    ("Club", BEN): {"pub", "role"},
    ("Club", MASTER): {"pub", "own", "role"},
    ("Editorial", PUBLIC): 119,
    ("Editorial", ANN): 119,
    ("Editorial", BEN): {"pub", "role"},
    ("Editorial", MASTER): {"pub", "own", "role"},
    ("Owned", PUBLIC): set(),  # pointer permissions match no one without a user
    ("Owned", ANN): {"pub", "own"},
    ("Owned", BEN): {"role"},
    ("Owned", MASTER): {"pub", "own", "role"},
}
SEES_SECRET = {BEN, MASTER}


@dataclass
class World:
    api: Api
    gql: Gql
    tokens: dict[str, str | None]
    address: str
    users: dict[str, str]

    async def rest(self, caller: str, path: str, **params: Any) -> Any:
        answer = await self.api.get(path, master=caller == MASTER, token=self.tokens.get(caller), params=params)
        return answer.json()

    async def graphql(self, caller: str, query: str) -> dict[str, Any]:
        answer = await self.gql.post(query, master=caller == MASTER, token=self.tokens.get(caller))
        return dict(answer.json())


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def world(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    settings = make_settings(database_server, "permission_table", tmp_path_factory.mktemp("data"))
    async with serving(settings) as (_, client, address):
        api = Api(client)
        ann = (await api.post("/users", {"username": "ann", "password": "pw"})).json()
        ben = (await api.post("/users", {"username": "ben", "password": "pw"})).json()
        users = {ANN: ann["objectId"], BEN: ben["objectId"]}
        await api.post(
            "/roles",
            {
                "name": "Editors",
                "ACL": {"*": {"read": True}},
                "users": {
                    "__op": "AddRelation",
                    "objects": [{"__type": "Pointer", "className": "_User", "objectId": users[BEN]}],
                },
            },
            master=True,
        )
        acls = {
            "public": {"*": {"read": True}},
            "ann only": {users[ANN]: {"read": True, "write": True}},
            "Editors only": {"role:Editors": {"read": True}},
        }
        for name, permissions in CLASSES.items():
            definition = {
                "fields": {
                    "label": {"type": "String"},
                    "secret": {"type": "String"},
                    "owner": {"type": "Pointer", "targetClass": "_User"},
                },
                "classLevelPermissions": {**PUBLIC_CLP, **permissions, "protectedFields": PROTECTED},
            }
            assert (await api.post(f"/schemas/{name}", definition, master=True)).status_code == 200
            for label, (acl, owner) in OBJECTS.items():
                await api.post(
                    f"/classes/{name}",
                    {
                        "label": label,
                        "secret": f"{name}-{label}-secret",
                        "ACL": acls[acl],
                        "owner": {"__type": "Pointer", "className": "_User", "objectId": users[owner]},
                    },
                    master=True,
                )
        tokens = {PUBLIC: None, ANN: ann["sessionToken"], BEN: ben["sessionToken"]}
        yield World(api, Gql(client), tokens, address, users)


def _plural(name: str) -> str:
    return plural(lower_first(name))


@pytest.mark.parametrize(("class_name", "caller"), sorted(VISIBLE))
async def test_rest_and_graphql_show_what_the_table_says(world: World, class_name: str, caller: str) -> None:
    expected = VISIBLE[(class_name, caller)]
    rest = await world.rest(caller, f"/classes/{class_name}", order="label")
    graphql = await world.graphql(
        caller, f"{{ {_plural(class_name)}(order: [label_ASC]) {{ edges {{ node {{ label secret }} }} }} }}"
    )
    if isinstance(expected, int):
        assert rest["code"] == expected
        assert graphql["errors"][0]["extensions"]["code"] == expected and graphql["data"] is None
        return
    found = {item["label"]: item.get("secret") for item in rest["results"]}
    assert set(found) == expected
    nodes = {edge["node"]["label"]: edge["node"]["secret"] for edge in graphql["data"][_plural(class_name)]["edges"]}
    assert nodes == found  # the same objects, and the same secrets (None where hidden)
    assert all((secret is not None) == (caller in SEES_SECRET) for secret in found.values())

    for label, (_, _) in OBJECTS.items():
        object_id = await _object_id(world, class_name, label)
        one = await world.api.get(
            f"/classes/{class_name}/{object_id}", master=caller == MASTER, token=world.tokens.get(caller)
        )
        got = await world.graphql(caller, f'{{ {lower_first(class_name)}(id: "{object_id}") {{ label secret }} }}')
        if label in expected:
            assert one.status_code == 200 and got["data"][lower_first(class_name)]["label"] == label
            assert got["data"][lower_first(class_name)]["secret"] == one.json().get("secret")
        else:
            assert one.status_code == 404 and got["errors"][0]["extensions"]["code"] == 101


@pytest.mark.parametrize("caller", [PUBLIC, ANN])
async def test_a_hidden_field_cannot_be_probed_through_where_order_or_another_query(world: World, caller: str) -> None:
    probes_rest: list[dict[str, Any]] = [
        {"where": {"secret": "Open-pub-secret"}},
        {"where": {"secret": {"$regex": "^Open"}}},
        {"order": "secret"},
        {"where": {"$or": [{"label": "x"}, {"secret": {"$exists": True}}]}},
    ]
    for params in probes_rest:
        answer = await world.rest(caller, "/classes/Open", **params)
        assert answer.get("code") == 119, (params, answer)
    probes_graphql = [
        '{ opens(where: {secret: {equalTo: "Open-pub-secret"}}) { count } }',
        '{ opens(where: {secret: {matchesRegex: "^Open"}}) { count } }',
        "{ opens(order: [secret_ASC]) { count } }",
        '{ opens(where: {OR: [{label: {equalTo: "x"}}, {secret: {exists: true}}]}) { count } }',
    ]
    for query in probes_graphql:
        answer = await world.graphql(caller, query)
        assert answer["errors"][0]["extensions"]["code"] == 119, (query, answer)
    # A sub-query selecting the hidden field matches nothing: its values never leave the server.
    select = {"label": {"$select": {"query": {"className": "Open", "where": {}}, "key": "secret"}}}
    assert (await world.rest(caller, "/classes/Open", where=select))["results"] == []
    by_graphql = await world.graphql(
        caller,
        '{ opens(where: {label: {inQueryKey: {query: {className: "Open", where: {}}, key: "secret"}}}) { count } }',
    )
    assert by_graphql["data"]["opens"]["count"] == 0


async def _object_id(world: World, class_name: str, label: str) -> str:
    found = await world.rest(MASTER, f"/classes/{class_name}", where={"label": label})
    return str(found["results"][0]["objectId"])


@pytest.mark.parametrize("caller", [PUBLIC, ANN, BEN])
async def test_an_included_object_hides_the_same_field(world: World, caller: str) -> None:
    """Reaching an object through a pointer (`include`, a GraphQL sub-selection) shows no more of it."""
    if not await _object_id_or_none(world, "Holder"):
        await world.api.post(
            "/schemas/Holder", {"fields": {"doc": {"type": "Pointer", "targetClass": "Open"}}}, master=True
        )
        pub = await _object_id(world, "Open", "pub")
        await world.api.post(
            "/classes/Holder", {"doc": {"__type": "Pointer", "className": "Open", "objectId": pub}}, master=True
        )
    rest = await world.rest(caller, "/classes/Holder", include="doc")
    (holder,) = rest["results"]
    assert holder["doc"]["label"] == "pub"
    assert ("secret" in holder["doc"]) == (caller in SEES_SECRET)
    graphql = await world.graphql(caller, "{ holders { edges { node { doc { label secret } } } } }")
    (edge,) = graphql["data"]["holders"]["edges"]
    assert edge["node"]["doc"]["label"] == "pub"
    assert edge["node"]["doc"]["secret"] == holder["doc"].get("secret")


async def _object_id_or_none(world: World, class_name: str) -> str | None:
    found = await world.rest(MASTER, f"/classes/{class_name}")
    results = found.get("results") or []
    return str(results[0]["objectId"]) if results else None


# Realtime ---------------------------------------------------------------------------------------------------


def _connect(world: World, caller: str) -> dict[str, Any]:
    return {"master": True} if caller == MASTER else {"token": world.tokens.get(caller)}


def _init(world: World, caller: str) -> dict[str, Any]:
    return master_init() if caller == MASTER else user_init(world.tokens.get(caller))


async def _touch_every_object(world: World, class_name: str) -> None:
    for label in OBJECTS:
        object_id = await _object_id(world, class_name, label)
        await world.api.put(
            f"/classes/{class_name}/{object_id}", {"touched": {"__op": "Increment", "amount": 1}}, master=True
        )


@pytest.mark.parametrize(("class_name", "caller"), sorted(VISIBLE))
async def test_live_queries_and_subscriptions_show_what_the_table_says(
    world: World, class_name: str, caller: str
) -> None:
    expected = VISIBLE[(class_name, caller)]
    lower = lower_first(class_name)
    async with (
        live_query(world.address, **_connect(world, caller)) as live,
        graphql_socket(world.address, _init(world, caller)) as socket,
    ):
        subscribed = await live.subscribe(1, class_name)
        await socket.subscribe("events", f"subscription {{ {lower}Events {{ event node {{ label secret }} }} }}")
        if isinstance(expected, int):
            assert subscribed["op"] == "error" and subscribed["code"] == expected
            (refused,) = await socket.drain()
            assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == expected
            return
        assert subscribed["op"] == "subscribed"
        await _touch_every_object(world, class_name)
        events = await live.drain()
        assert {event["op"] for event in events} <= {"update"}
        seen = {event["object"]["label"]: event["object"].get("secret") for event in events}
        assert set(seen) == expected
        assert all((secret is not None) == (caller in SEES_SECRET) for secret in seen.values())
        assert all((event["original"].get("secret") is not None) == (caller in SEES_SECRET) for event in events)
        nodes = {
            data[f"{lower}Events"]["node"]["label"]: data[f"{lower}Events"]["node"]["secret"]
            for _, data in await socket.results()
        }
        assert nodes == seen


@pytest.mark.parametrize("caller", [PUBLIC, ANN])
async def test_a_hidden_field_cannot_be_probed_through_a_subscription(world: World, caller: str) -> None:
    async with (
        live_query(world.address, **_connect(world, caller)) as live,
        graphql_socket(world.address, _init(world, caller)) as socket,
    ):
        queries: list[dict[str, Any]] = [
            {"where": {"secret": "Open-pub-secret"}},
            {"where": {"$or": [{"label": "x"}, {"secret": {"$exists": True}}]}},
            {"where": {}, "watch": ["secret"]},
        ]
        for request_id, query in enumerate(queries):
            answer = await live.subscribe(
                request_id, "Open", query["where"], **({"watch": query["watch"]} if "watch" in query else {})
            )
            assert answer["op"] == "error" and answer["code"] == 119, (query, answer)
        for op_id, arguments in enumerate(['where: {secret: {equalTo: "Open-pub-secret"}}', 'watch: ["secret"]']):
            await socket.subscribe(str(op_id), f"subscription {{ openEvents({arguments}) {{ event }} }}")
            (refused,) = await socket.drain()
            assert refused["type"] == "error" and refused["payload"][0]["extensions"]["code"] == 119


async def test_losing_read_access_is_a_leave_that_shows_only_what_was_readable(world: World) -> None:
    """An ACL change between two events: the write that takes access away may not show its new values."""
    ann = world.users[ANN]
    created = await world.api.post(
        "/classes/Open", {"label": "shared", "ACL": {ann: {"read": True}, "*": {}}}, master=True
    )
    object_id = created.json()["objectId"]
    async with (
        live_query(world.address, token=world.tokens[ANN]) as live,
        graphql_socket(world.address, user_init(world.tokens[ANN])) as socket,
    ):
        await live.subscribe(1, "Open", {"objectId": object_id})
        where = f'{{id: {{equalTo: "{object_id}"}}}}'
        await socket.subscribe(
            "one", f"subscription {{ openEvents(where: {where}) {{ event node {{ label }} previous {{ label }} }} }}"
        )
        await world.api.put(
            f"/classes/Open/{object_id}",
            {"label": "renamed in secret", "ACL": {"role:Editors": {"read": True}}},
            master=True,
        )
        (leave,) = await live.drain()
        assert leave["op"] == "leave" and leave["object"]["label"] == "shared"
        ((_, data),) = await socket.results()
        assert data["openEvents"] == {"event": "LEAVE", "node": {"label": "shared"}, "previous": {"label": "shared"}}

        await world.api.put(f"/classes/Open/{object_id}", {"label": "still secret"}, master=True)
        assert await live.drain() == [] and await socket.results() == []

        await world.api.put(
            f"/classes/Open/{object_id}", {"label": "public now", "ACL": {"*": {"read": True}}}, master=True
        )
        (enter,) = await live.drain()
        assert enter["op"] == "enter" and enter["object"]["label"] == "public now" and "original" not in enter
        ((_, data),) = await socket.results()
        assert data["openEvents"] == {"event": "ENTER", "node": {"label": "public now"}, "previous": None}


async def test_a_role_granted_or_a_session_ended_changes_what_a_live_socket_receives(world: World) -> None:
    """Roles count for events (Parse's LiveQuery leaves them out), and are looked up again when they change."""
    signed_up = (await world.api.post("/users", {"username": "cara", "password": "pw"})).json()
    cara, token = signed_up["objectId"], signed_up["sessionToken"]
    role_only = (
        await world.api.post(
            "/classes/Open", {"label": "for editors", "ACL": {"role:Editors": {"read": True}}}, master=True
        )
    ).json()["objectId"]
    editors = (await world.api.get("/roles", master=True, params={"where": {"name": "Editors"}})).json()["results"][0]
    member = [{"__type": "Pointer", "className": "_User", "objectId": cara}]
    async with live_query(world.address, token=token) as live:
        await live.subscribe(1, "Open", {"objectId": role_only})
        await world.api.put(f"/classes/Open/{role_only}", {"touched": 1}, master=True)
        assert await live.drain() == []

        await world.api.put(
            f"/roles/{editors['objectId']}", {"users": {"__op": "AddRelation", "objects": member}}, master=True
        )
        await world.api.put(f"/classes/Open/{role_only}", {"touched": 2}, master=True)
        (event,) = await live.drain()
        # Both versions are judged with the caller's rights at the time of the event, as Parse does.
        assert event["op"] == "update" and event["object"]["touched"] == 2

        await world.api.put(
            f"/roles/{editors['objectId']}", {"users": {"__op": "RemoveRelation", "objects": member}}, master=True
        )
        await world.api.put(f"/classes/Open/{role_only}", {"touched": 3}, master=True)
        assert await live.drain() == []

        await world.api.put(
            f"/roles/{editors['objectId']}", {"users": {"__op": "AddRelation", "objects": member}}, master=True
        )
        await world.api.post("/logout", {}, token=token)
        await world.api.put(f"/classes/Open/{role_only}", {"touched": 4}, master=True)
        assert await live.drain() == []  # the session is gone: what the public sees, and the public sees nothing


async def test_sessions_are_followed_only_by_their_own_user(world: World) -> None:
    async with live_query(world.address) as anonymous:
        refused = await anonymous.subscribe(1, "_Session")
        assert refused["op"] == "error" and refused["code"] == 209
    async with live_query(world.address, token=world.tokens[ANN]) as live:
        assert (await live.subscribe(1, "_Session"))["op"] == "subscribed"
        await world.api.post("/login", {"username": "ben", "password": "pw"})
        assert await live.drain() == []
        await world.api.post("/login", {"username": "ann", "password": "pw"})
        (event,) = await live.drain()
        assert event["op"] == "create" and event["object"]["user"]["objectId"] == world.users[ANN]
