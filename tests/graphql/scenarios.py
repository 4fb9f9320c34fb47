"""The GraphQL compatibility scenarios: documents whose Parse Server 9.10 answers are recorded as goldens.

Same shape as ``tests/compat/scenarios.py``: each scenario is ``{"name": str, "steps": [step, ...]}`` and a
step is a plain dict (``method``, ``path`` from the server root, optionally ``body``/``raw_body``,
``query``, ``headers``, ``master``, ``no_app_id``, ``save``, ``unordered``, ``response_headers``, and here
``multipart`` for GraphQL uploads). Every scenario starts on a fresh database (``runner.reset_database``)
and first creates the sample classes it uses through ``POST /parse/schemas`` with the master key.

GraphQL steps ``POST /graphql`` a ``{"query", "variables", "operationName"}`` body, or ``GET /graphql``
with the same as query-string parameters. ``{name}`` placeholders (saved values) work inside documents
and variables; documents therefore never write a bare ``{word}``: selections are spaced (``{ id }``).
This module is long because it is data: one block per scenario, grouped by topic as in the Parse
GraphQL guide (https://docs.parseplatform.org/graphql/guide/).
"""

# ruff: noqa: E501  -- GraphQL documents stay whole on one line where they fit, so they read as sent

from __future__ import annotations

import base64
import json
from typing import Any

from tests.graphql.sample_classes import with_dependencies

Step = dict[str, Any]
Scenario = dict[str, Any]

G = "/graphql"
C = "/parse/classes"
SCHEMAS = "/parse/schemas"

D2000 = "2000-01-01T00:00:00.000Z"
D2020 = "2020-01-01T00:00:00.000Z"
D2021 = "2021-06-15T12:30:00.000Z"
D2040 = "2040-01-01T00:00:00.000Z"

MISSING_ID = "AAAAAAAAAA"  # an objectId no object has


# --- step constructors --------------------------------------------------------------------------


def step(method: str, path: str, body: Any = None, **options: Any) -> Step:
    made: Step = {"method": method, "path": path}
    if body is not None:
        made["body"] = body
    made.update({key: value for key, value in options.items() if value is not None})
    return made


def gql(query: str, variables: dict[str, Any] | None = None, operation_name: str | None = None, **options: Any) -> Step:
    """POST /graphql with a JSON body."""
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = variables
    if operation_name is not None:
        body["operationName"] = operation_name
    return step("POST", G, body, **options)


def gql_get(query: str, variables: dict[str, Any] | None = None, **options: Any) -> Step:
    """GET /graphql?query=…&variables=… (variables JSON-encoded)."""
    params: dict[str, Any] = {"query": query}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return step("GET", G, query=params, **options)


def master(query: str, variables: dict[str, Any] | None = None, **options: Any) -> Step:
    return gql(query, variables, master=True, **options)


def as_user(token_name: str, query: str, variables: dict[str, Any] | None = None, **options: Any) -> Step:
    """A GraphQL step sent with the session token saved under ``token_name``."""
    return gql(query, variables, headers={"X-Parse-Session-Token": f"{{{token_name}}}"}, **options)


def rest(method: str, path: str, body: Any = None, **options: Any) -> Step:
    return step(method, path, body, **options)


def create_schemas(*class_names: str) -> list[Step]:
    """POST /parse/schemas/<name> (master) for the named sample classes and every class they point at."""
    return [
        step("POST", f"{SCHEMAS}/{definition['className']}", definition, master=True)
        for definition in with_dependencies(*class_names)
    ]


def seed(class_name: str, body: dict[str, Any], save_as: str, **options: Any) -> Step:
    """Create one object through REST and save its objectId."""
    return step("POST", f"{C}/{class_name}", body, save={save_as: "objectId"}, **options)


def sign_up_rest(username: str, save_id: str, save_token: str) -> Step:
    return step(
        "POST",
        "/parse/users",
        {"username": username, "password": "secret"},
        save={save_id: "objectId", save_token: "sessionToken"},
    )


def gid(class_name: str, object_id: str) -> str:
    """A literal Relay global id (for ids the scenario makes up, not ones the server returned)."""
    return base64.b64encode(f"{class_name}:{object_id}".encode()).decode()


def date(iso: str) -> dict[str, str]:
    return {"__type": "Date", "iso": iso}


def geo(latitude: float, longitude: float) -> dict[str, Any]:
    return {"__type": "GeoPoint", "latitude": latitude, "longitude": longitude}


def pointer(class_name: str, object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": class_name, "objectId": object_id}


def polygon(*points: tuple[float, float]) -> dict[str, Any]:
    return {"__type": "Polygon", "coordinates": [list(point) for point in points]}


def find_scores(where: str, fields: str = "score playerName") -> Step:
    """gameScores(where: <where>, order: [score_ASC]) with count and the listed node fields."""
    return gql(f"{{ gameScores(where: {where}, order: [score_ASC]) {{ count edges {{ node {{ {fields} }} }} }} }}")


def find_scores_var(where: dict[str, Any], fields: str = "score playerName") -> Step:
    """Same, with the where input passed as a variable (the form clients use)."""
    return gql(
        "query Find($where: GameScoreWhereInput) { gameScores(where: $where, order: [score_ASC]) "
        f"{{ count edges {{ node {{ {fields} }} }} }} }}",
        {"where": where},
    )


def geo_find(where: str, fields: str = "score") -> Step:
    """A $nearSphere find: ordered by score and without count (see README, peer defects)."""
    return gql(f"{{ gameScores(where: {where}, order: [score_ASC]) {{ edges {{ node {{ {fields} }} }} }} }}")


# --- basics: serving, health, ids -------------------------------------------------------------

BASICS: list[Scenario] = [
    {
        "name": "health_and_transport",
        "steps": [
            gql("{ health }"),
            gql("query Health { health __typename }", operation_name="Health"),
            gql("{ health }", master=True),
            gql_get("{ health }"),
            gql_get("query Check($x: Boolean!) { health @include(if: $x) }", {"x": True}),
            gql("{ health }", no_app_id=True),
            gql("{ health }", headers={"X-Parse-Application-Id": "wrong"}),
            gql("{ health }", headers={"X-Parse-Master-Key": "wrong-master"}),
            gql("{ health }", headers={"X-Parse-Session-Token": "r:00000000000000000000000000000000"}),
            step("GET", G),
            gql_get("mutation { logOut(input: {}) { ok } }"),
            step("POST", G, {}),
            step("POST", G, {"query": ""}),
            step("POST", G, raw_body="{not json"),
            step("POST", G, [{"query": "{ health }"}, {"query": "{ health }"}]),
            gql("query A { health } query B { health }"),
            gql("query A { health } query B { __typename }", operation_name="B"),
            gql("query A { health }", operation_name="Nope"),
            gql("subscription { health }"),
            gql("{ a: health b: health __typename }"),
        ],
    },
    {
        "name": "get_by_global_or_object_id",
        "steps": [
            *create_schemas("GameScore", "fan_entry"),
            gql(
                'mutation { createGameScore(input: { fields: { score: 10, playerName: "Ann" } }) '
                "{ gameScore { id objectId score } } }",
                save={"gid": "data.createGameScore.gameScore.id", "oid": "data.createGameScore.gameScore.objectId"},
            ),
            gql('{ gameScore(id: "{gid}") { id objectId score playerName cheatMode createdAt updatedAt } }'),
            gql('{ gameScore(id: "{oid}") { id objectId score } }'),
            gql("query Get($id: ID!) { gameScore(id: $id) { id score } }", {"id": "{gid}"}),
            gql('{ gameScore(id: "{gid}", options: { readPreference: PRIMARY }) { objectId } }'),
            gql('{ a: gameScore(id: "{gid}") { score } b: gameScore(id: "{oid}") { playerName } }'),
            gql('{ gameScore(id: "' + MISSING_ID + '") { id } }'),
            gql('{ gameScore(id: "' + gid("GameScore", MISSING_ID) + '") { id } }'),
            gql('{ gameScore(id: "' + "{gid:Player:oid}" + '") { id } }'),
            gql('{ a: gameScore(id: "{oid}") { score } b: gameScore(id: "' + MISSING_ID + '") { score } }'),
            seed("fan_entry", {"text": "hi"}, "fan"),
            gql('{ fan_entry(id: "{fan}") { id objectId text } }'),
            gql("{ fan_entries { count edges { node { id text } } } }"),
            sign_up_rest("ann", "uid", "tok"),
            gql('{ user(id: "{uid}") { id objectId username } }'),
            gql("{ users { count edges { node { id username email } } } }"),
        ],
    },
    {
        "name": "relay_node",
        "steps": [
            *create_schemas("GameScore", "fan_entry"),
            seed("GameScore", {"score": 3, "playerName": "Bo"}, "oid"),
            gql(
                '{ gameScore(id: "{oid}") { id } }',
                save={"gid": "data.gameScore.id"},
            ),
            gql('{ node(id: "{gid}") { id __typename ... on GameScore { objectId score playerName } } }'),
            gql('{ node(id: "{gid}") { id } }'),
            gql("query N($id: ID!) { node(id: $id) { ... on ParseObject { objectId createdAt } } }", {"id": "{gid}"}),
            gql('{ node(id: "{oid}") { id } }'),
            gql('{ node(id: "' + gid("GameScore", MISSING_ID) + '") { id } }'),
            gql('{ node(id: "' + gid("Unknown", MISSING_ID) + '") { id } }'),
            gql('{ node(id: "' + gid("_User", MISSING_ID) + '") { id } }'),
            gql('{ node(id: "") { id } }'),
            seed("fan_entry", {"text": "hi"}, "fan"),
            gql('{ fan_entry(id: "{fan}") { id } }', save={"fangid": "data.fan_entry.id"}),
            gql('{ node(id: "{fangid}") { id __typename ... on Fan_entry { text } } }'),
            sign_up_rest("bob", "uid", "tok"),
            gql('{ user(id: "{uid}") { id } }'),
            as_user("tok", '{ user(id: "{uid}") { id } }', save={"ugid": "data.user.id"}),
            as_user("tok", '{ node(id: "{ugid}") { id __typename ... on User { username } } }'),
            gql('{ node(id: "{ugid}") { id __typename ... on User { username } } }'),
        ],
    },
]


# --- finding: connections, pagination, order -------------------------------------------------

PAGINATION_SEEDS = [
    seed("GameScore", {"score": 1, "playerName": "a", "cheatMode": True}, "s1"),
    seed("GameScore", {"score": 2, "playerName": "b", "cheatMode": False}, "s2"),
    seed("GameScore", {"score": 3, "playerName": "c", "cheatMode": True}, "s3"),
    seed("GameScore", {"score": 4, "playerName": "d", "cheatMode": False}, "s4"),
    seed("GameScore", {"score": 5, "playerName": "e", "cheatMode": True}, "s5"),
]
PAGE = "count edges { cursor node { score } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

FINDING: list[Scenario] = [
    {
        "name": "find_connection_and_pagination",
        "steps": [
            *create_schemas("GameScore"),
            gql(f"{{ gameScores {{ {PAGE} }} }}"),
            *PAGINATION_SEEDS,
            gql(f"{{ gameScores(order: [score_ASC]) {{ {PAGE} }} }}"),
            gql(
                f"{{ gameScores(order: [score_ASC], first: 2) {{ {PAGE} }} }}",
                save={"c1": "data.gameScores.edges.1.cursor"},
            ),
            gql(f'{{ gameScores(order: [score_ASC], first: 2, after: "{{c1}}") {{ {PAGE} }} }}'),
            gql(f"{{ gameScores(order: [score_ASC], last: 2) {{ {PAGE} }} }}"),
            gql(
                f"{{ gameScores(order: [score_ASC], last: 2, before: "
                f'"{base64.b64encode(b"arrayconnection:3").decode()}") {{ {PAGE} }} }}'
            ),
            gql(f"{{ gameScores(order: [score_ASC], skip: 1, first: 2) {{ {PAGE} }} }}"),
            gql(f"{{ gameScores(order: [score_ASC], skip: 3) {{ {PAGE} }} }}"),
            gql(f"{{ gameScores(order: [score_ASC], first: 3, last: 1) {{ {PAGE} }} }}"),
            gql(f'{{ gameScores(order: [score_ASC], skip: 1, after: "{{c1}}") {{ {PAGE} }} }}'),
            gql(f"{{ gameScores(order: [score_ASC], first: 0) {{ {PAGE} }} }}"),
            gql(f"{{ gameScores(order: [score_ASC], last: 0) {{ {PAGE} }} }}"),
            gql(f"{{ gameScores(order: [score_ASC], first: 10, skip: 10) {{ {PAGE} }} }}"),
            gql("{ gameScores { count } }"),
            gql("{ gameScores(first: 1) { count } }"),
            gql("{ gameScores(where: { score: { greaterThan: 2 } }) { count } }"),
            gql("{ gameScores(order: [score_DESC], first: 2) { edges { node { objectId score } } } }"),
            gql("{ gameScores(order: [score_ASC], first: 2) { pageInfo { hasNextPage hasPreviousPage } } }"),
            gql("{ gameScores(order: [score_ASC], first: 2) { edges { cursor } } }"),
            gql("{ gameScores(order: [cheatMode_ASC, score_DESC]) { edges { node { cheatMode score } } } }"),
            gql("{ gameScores(order: [playerName_DESC], first: 2) { edges { node { playerName } } } }"),
            gql(
                "query Page($first: Int, $after: String, $order: [GameScoreOrder!]) "
                "{ gameScores(first: $first, after: $after, order: $order) { edges { cursor node { score } } } }",
                {"first": 2, "after": "{c1}", "order": ["score_DESC"]},
            ),
            gql_get("{ gameScores(order: [score_ASC], first: 1) { count edges { node { score } } } }"),
            gql(
                "{ gameScores(order: [score_ASC], first: 1, options: { readPreference: PRIMARY, "
                "includeReadPreference: PRIMARY, subqueryReadPreference: PRIMARY }) { count edges { node { score } } } }"
            ),
            gql("{ gameScores(first: -1) { count } }"),
            gql("{ gameScores(last: -1) { count } }"),
            gql("{ gameScores(skip: -1) { count } }"),
            gql('{ gameScores(after: "not a cursor") { count } }'),
            gql('{ gameScores(before: "not a cursor") { count } }'),
            gql("{ gameScores(order: [nope_ASC]) { count } }"),
            gql("{ gameScores(order: [nope_ASC]) { count } }", master=True),
        ],
    },
]


# --- where: one scenario per constraint type ---------------------------------------------------

WHERE: list[Scenario] = [
    {
        "name": "where_string",
        "steps": [
            *create_schemas("GameScore"),
            seed("GameScore", {"score": 1, "playerName": "Alice"}, "g1"),
            seed("GameScore", {"score": 2, "playerName": "bob"}, "g2"),
            seed("GameScore", {"score": 3, "playerName": "Carol"}, "g3"),
            seed("GameScore", {"score": 4, "playerName": "dave"}, "g4"),
            seed("GameScore", {"score": 5}, "g5"),
            seed("Player", {"name": "Carol", "age": 3}, "p1"),
            seed("Player", {"name": "dave", "age": 30}, "p2"),
            find_scores('{ playerName: { equalTo: "Alice" } }'),
            find_scores('{ playerName: { notEqualTo: "Alice" } }'),
            find_scores('{ playerName: { lessThan: "Carol" } }'),
            find_scores('{ playerName: { lessThanOrEqualTo: "Carol" } }'),
            find_scores('{ playerName: { greaterThan: "Carol" } }'),
            find_scores('{ playerName: { greaterThanOrEqualTo: "Carol" } }'),
            find_scores('{ playerName: { in: ["Alice", "dave", "nobody"] } }'),
            find_scores('{ playerName: { notIn: ["Alice", "dave"] } }'),
            find_scores("{ playerName: { exists: true } }"),
            find_scores("{ playerName: { exists: false } }"),
            find_scores('{ playerName: { matchesRegex: "^[a-c]" } }'),
            find_scores('{ playerName: { matchesRegex: "^[a-c]", options: "i" } }'),
            find_scores('{ playerName: { matchesRegex: "O", options: "i" } }'),
            find_scores("{ playerName: { equalTo: null } }"),
            find_scores("{ playerName: { in: [] } }"),
            find_scores('{ playerName: { greaterThan: "a", lessThan: "c" } }'),
            find_scores_var({"playerName": {"equalTo": "bob"}}),
            find_scores('{ playerName: { inQueryKey: { query: { className: "Player", where: {} }, key: "name" } } }'),
            find_scores_var(
                {
                    "playerName": {
                        "inQueryKey": {"query": {"className": "Player", "where": {"age": {"$gt": 10}}}, "key": "name"}
                    }
                }
            ),
            find_scores_var(
                {"playerName": {"notInQueryKey": {"query": {"className": "Player", "where": {}}, "key": "name"}}}
            ),
            find_scores('{ playerName: { text: { search: { term: "alice" } } } }'),
        ],
    },
    {
        "name": "where_number_and_boolean",
        "steps": [
            *create_schemas("GameScore"),
            seed("GameScore", {"score": 1, "cheatMode": True}, "g1"),
            seed("GameScore", {"score": 2.5, "cheatMode": False}, "g2"),
            seed("GameScore", {"score": 3}, "g3"),
            seed("GameScore", {"score": -4, "cheatMode": True}, "g4"),
            seed("Player", {"name": "x", "age": 3}, "p1"),
            find_scores("{ score: { equalTo: 2.5 } }", "score cheatMode"),
            find_scores("{ score: { notEqualTo: 3 } }", "score"),
            find_scores("{ score: { lessThan: 2.5 } }", "score"),
            find_scores("{ score: { lessThanOrEqualTo: 2.5 } }", "score"),
            find_scores("{ score: { greaterThan: 1 } }", "score"),
            find_scores("{ score: { greaterThanOrEqualTo: 1 } }", "score"),
            find_scores("{ score: { greaterThan: 0, lessThan: 3 } }", "score"),
            find_scores("{ score: { in: [1, 3, 99] } }", "score"),
            find_scores("{ score: { notIn: [1, 3] } }", "score"),
            find_scores("{ score: { exists: true } }", "score"),
            find_scores(
                '{ score: { inQueryKey: { query: { className: "Player", where: {} }, key: "age" } } }', "score"
            ),
            find_scores(
                '{ score: { notInQueryKey: { query: { className: "Player", where: {} }, key: "age" } } }', "score"
            ),
            find_scores("{ cheatMode: { equalTo: true } }", "score cheatMode"),
            find_scores("{ cheatMode: { notEqualTo: true } }", "score cheatMode"),
            find_scores("{ cheatMode: { exists: false } }", "score cheatMode"),
            find_scores("{ cheatMode: { exists: true }, score: { lessThan: 2 } }", "score cheatMode"),
            find_scores('{ score: { equalTo: "three" } }', "score"),
            find_scores("{ cheatMode: { equalTo: 1 } }", "score"),
            find_scores("{ cheatMode: { lessThan: true } }", "score"),
        ],
    },
    {
        "name": "where_date_and_id",
        "steps": [
            *create_schemas("GameScore"),
            seed("GameScore", {"score": 1, "playedAt": date(D2000)}, "g1"),
            seed("GameScore", {"score": 2, "playedAt": date(D2020)}, "g2"),
            seed("GameScore", {"score": 3, "playedAt": date(D2040)}, "g3"),
            seed("GameScore", {"score": 4}, "g4"),
            gql('{ gameScore(id: "{g1}") { id } }', save={"gid1": "data.gameScore.id"}),
            gql('{ gameScore(id: "{g2}") { id } }', save={"gid2": "data.gameScore.id"}),
            find_scores(f'{{ playedAt: {{ equalTo: "{D2020}" }} }}', "score playedAt"),
            find_scores(f'{{ playedAt: {{ notEqualTo: "{D2020}" }} }}', "score playedAt"),
            find_scores(f'{{ playedAt: {{ lessThan: "{D2020}" }} }}', "score playedAt"),
            find_scores(f'{{ playedAt: {{ lessThanOrEqualTo: "{D2020}" }} }}', "score playedAt"),
            find_scores(f'{{ playedAt: {{ greaterThan: "{D2020}" }} }}', "score playedAt"),
            find_scores(f'{{ playedAt: {{ greaterThanOrEqualTo: "{D2020}" }} }}', "score playedAt"),
            find_scores(f'{{ playedAt: {{ in: ["{D2000}", "{D2040}"] }} }}', "score playedAt"),
            find_scores(f'{{ playedAt: {{ notIn: ["{D2000}"] }} }}', "score playedAt"),
            find_scores("{ playedAt: { exists: false } }", "score playedAt"),
            find_scores_var({"playedAt": {"greaterThan": {"__type": "Date", "iso": D2000}}}, "score playedAt"),
            find_scores('{ playedAt: { greaterThan: "2020-01-01" } }', "score playedAt"),
            find_scores('{ playedAt: { greaterThan: "yesterday" } }', "score playedAt"),
            find_scores(
                f'{{ createdAt: {{ lessThan: "{D2040}" }}, updatedAt: {{ greaterThan: "{D2000}" }} }}', "score"
            ),
            find_scores('{ objectId: { equalTo: "{g1}" } }', "score objectId"),
            find_scores('{ objectId: { notEqualTo: "{g1}" } }', "score"),
            find_scores('{ objectId: { in: ["{g1}", "{g3}"] } }', "score"),
            find_scores('{ objectId: { notIn: ["{g1}", "{g3}"] } }', "score"),
            find_scores("{ objectId: { exists: true } }", "score"),
            find_scores('{ id: { equalTo: "{gid1}" } }', "id score"),
            find_scores('{ id: { equalTo: "{g2}" } }', "id score"),
            find_scores('{ id: { in: ["{gid1}", "{g3}"] } }', "score"),
            find_scores('{ id: { notIn: ["{gid1}", "{gid2}"] } }', "score"),
            find_scores('{ id: { notEqualTo: "{gid2}" } }', "score"),
            find_scores('{ objectId: { equalTo: "{gid1}" } }', "score"),
            find_scores('{ id: { equalTo: "' + "{gid:Player:g1}" + '" } }', "score"),
        ],
    },
    {
        "name": "where_array_object_bytes_file",
        "steps": [
            *create_schemas("GameScore"),
            seed(
                "GameScore",
                {
                    "score": 1,
                    "levels": [1, 2, 3],
                    "details": {"level": 1, "tag": "x", "nested": {"a": 1}},
                    "checksum": {"__type": "Bytes", "base64": "aGVsbG8="},
                    "replay": {"__type": "File", "name": "one.txt", "url": "http://example.com/one.txt"},
                },
                "g1",
            ),
            seed(
                "GameScore",
                {
                    "score": 2,
                    "levels": [2, 3],
                    "details": {"level": 5, "tag": "y"},
                    "checksum": {"__type": "Bytes", "base64": "d29ybGQ="},
                    "replay": {"__type": "File", "name": "two.txt", "url": "http://example.com/two.txt"},
                },
                "g2",
            ),
            seed("GameScore", {"score": 3, "levels": ["a", "b"], "details": {"level": 9}}, "g3"),
            seed("GameScore", {"score": 4, "levels": []}, "g4"),
            seed("GameScore", {"score": 5}, "g5"),
            find_scores("{ levels: { contains: [2, 3] } }", "score"),
            find_scores("{ levels: { contains: [1] } }", "score"),
            find_scores("{ levels: { containedBy: [1, 2, 3] } }", "score"),
            find_scores("{ levels: { equalTo: 2 } }", "score"),
            find_scores("{ levels: { equalTo: [2, 3] } }", "score"),
            find_scores("{ levels: { notEqualTo: 2 } }", "score"),
            find_scores('{ levels: { in: [1, "a"] } }', "score"),
            find_scores("{ levels: { notIn: [2] } }", "score"),
            find_scores("{ levels: { exists: false } }", "score"),
            find_scores("{ levels: { greaterThan: 2 } }", "score"),
            find_scores('{ details: { equalTo: { key: "level", value: 1 } } }', "score details"),
            find_scores('{ details: { notEqualTo: { key: "level", value: 1 } } }', "score"),
            find_scores('{ details: { greaterThan: { key: "level", value: 2 } } }', "score"),
            find_scores(
                '{ details: { greaterThanOrEqualTo: { key: "level", value: 5 }, lessThan: { key: "level", value: 9 } } }',
                "score",
            ),
            find_scores('{ details: { lessThanOrEqualTo: { key: "level", value: 5 } } }', "score"),
            find_scores('{ details: { equalTo: { key: "nested.a", value: 1 } } }', "score"),
            find_scores('{ details: { equalTo: { key: "tag", value: "y" } } }', "score"),
            find_scores('{ details: { in: [{ key: "level", value: 1 }, { key: "level", value: 9 }] } }', "score"),
            find_scores("{ details: { exists: true } }", "score"),
            find_scores('{ checksum: { equalTo: "aGVsbG8=" } }', "score checksum"),
            find_scores('{ checksum: { in: ["aGVsbG8=", "d29ybGQ="] } }', "score"),
            find_scores_var({"checksum": {"equalTo": {"__type": "Bytes", "base64": "d29ybGQ="}}}, "score"),
            find_scores("{ checksum: { exists: false } }", "score"),
            find_scores("{ replay: { exists: true } }", "score replay { name url }"),
            find_scores('{ replay: { equalTo: { __type: "File", name: "one.txt" } } }', "score"),
            find_scores_var(
                {"replay": {"equalTo": {"__type": "File", "name": "two.txt", "url": "http://example.com/two.txt"}}},
                "score",
            ),
            find_scores('{ replay: { matchesRegex: "^one" } }', "score"),
            find_scores('{ replay: { in: [{ __type: "File", name: "one.txt" }] } }', "score"),
        ],
    },
    {
        "name": "where_geo",
        "steps": [
            *create_schemas("GameScore"),
            seed(
                "GameScore",
                {"score": 1, "location": geo(10, 10), "arena": polygon((0, 0), (0, 20), (20, 20), (20, 0))},
                "g1",
            ),
            seed(
                "GameScore",
                {"score": 2, "location": geo(11, 11), "arena": polygon((30, 30), (30, 40), (40, 40), (40, 30))},
                "g2",
            ),
            seed("GameScore", {"score": 3, "location": geo(-40, 100)}, "g3"),
            seed("GameScore", {"score": 4}, "g4"),
            geo_find(
                "{ location: { nearSphere: { latitude: 10, longitude: 10 } } }", "score location { latitude longitude }"
            ),
            geo_find("{ location: { nearSphere: { latitude: 10, longitude: 10 }, maxDistance: 0.1 } }"),
            geo_find("{ location: { nearSphere: { latitude: 10, longitude: 10 }, maxDistanceInRadians: 0.001 } }"),
            geo_find("{ location: { nearSphere: { latitude: 10, longitude: 10 }, maxDistanceInKilometers: 200 } }"),
            geo_find("{ location: { nearSphere: { latitude: 10, longitude: 10 }, maxDistanceInMiles: 10 } }"),
            geo_find("{ location: { nearSphere: { latitude: -39, longitude: 99 }, maxDistanceInKilometers: 500 } }"),
            gql(
                "{ gameScores(where: { location: { nearSphere: { latitude: 10, longitude: 10 }, maxDistance: 0.1 } }) "
                "{ count } }"
            ),
            find_scores(
                "{ location: { within: { box: { bottomLeft: { latitude: 5, longitude: 5 }, "
                "upperRight: { latitude: 10.5, longitude: 10.5 } } } } }",
                "score",
            ),
            find_scores(
                "{ location: { geoWithin: { polygon: [{ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 12 }, "
                "{ latitude: 12, longitude: 12 }, { latitude: 12, longitude: 0 }] } } }",
                "score",
            ),
            find_scores(
                "{ location: { geoWithin: { centerSphere: { center: { latitude: 10, longitude: 10 }, distance: 0.1 } } } }",
                "score",
            ),
            find_scores("{ location: { exists: false } }", "score"),
            find_scores("{ arena: { geoIntersects: { point: { latitude: 10, longitude: 10 } } } }", "score"),
            find_scores("{ arena: { geoIntersects: { point: { latitude: 35, longitude: 35 } } } }", "score"),
            find_scores("{ arena: { geoIntersects: { point: { latitude: 50, longitude: 50 } } } }", "score"),
            find_scores("{ arena: { exists: true } }", "score arena { latitude longitude }"),
            geo_find("{ location: { nearSphere: { latitude: 100, longitude: 10 } } }"),
        ],
    },
    {
        "name": "where_pointer_and_relation",
        "steps": [
            *create_schemas("GameScore", "Team"),
            sign_up_rest("owner1", "u1", "t1"),
            seed("Team", {"name": "Reds"}, "t_red"),
            seed("Team", {"name": "Blues"}, "t_blue"),
            seed("Player", {"name": "Alice", "team": pointer("Team", "{t_red}")}, "p1"),
            seed("Player", {"name": "Bob", "team": pointer("Team", "{t_blue}")}, "p2"),
            seed("Player", {"name": "Cid"}, "p3"),
            seed(
                "GameScore",
                {
                    "score": 1,
                    "player": pointer("Player", "{p1}"),
                    "owner": pointer("_User", "{u1}"),
                    "teammates": {"__op": "AddRelation", "objects": [pointer("Player", "{p2}")]},
                },
                "g1",
            ),
            seed(
                "GameScore",
                {
                    "score": 2,
                    "player": pointer("Player", "{p2}"),
                    "teammates": {
                        "__op": "AddRelation",
                        "objects": [pointer("Player", "{p1}"), pointer("Player", "{p3}")],
                    },
                },
                "g2",
            ),
            seed("GameScore", {"score": 3, "player": pointer("Player", "{p3}")}, "g3"),
            seed("GameScore", {"score": 4}, "g4"),
            find_scores('{ player: { have: { name: { equalTo: "Alice" } } } }', "score player { name }"),
            find_scores('{ player: { haveNot: { name: { equalTo: "Alice" } } } }', "score"),
            find_scores("{ player: { exists: true } }", "score"),
            find_scores("{ player: { exists: false } }", "score"),
            find_scores('{ player: { have: { team: { have: { name: { equalTo: "Reds" } } } } } }', "score"),
            find_scores("{ player: { have: { team: { exists: true } } } }", "score"),
            find_scores('{ player: { have: { objectId: { equalTo: "{p2}" } } } }', "score"),
            find_scores('{ player: { have: { id: { equalTo: "{p2}" } } } }', "score"),
            find_scores('{ player: { have: { name: { in: ["Alice", "Cid"] } }, exists: true } }', "score"),
            find_scores('{ owner: { have: { username: { equalTo: "owner1" } } } }', "score owner { username }"),
            gql(
                '{ gameScores(where: { owner: { have: { username: { equalTo: "owner1" } } } }, order: [score_ASC]) '
                "{ count edges { node { score owner { username } } } } }",
                master=True,
            ),
            find_scores('{ teammates: { have: { name: { equalTo: "Bob" } } } }', "score"),
            find_scores('{ teammates: { have: { name: { equalTo: "Cid" } } } }', "score"),
            find_scores('{ teammates: { haveNot: { name: { equalTo: "Bob" } } } }', "score"),
            find_scores("{ teammates: { exists: true } }", "score"),
            find_scores("{ teammates: { exists: false } }", "score"),
            find_scores_var({"player": {"have": {"name": {"matchesRegex": "^[AB]"}}}}, "score"),
        ],
    },
    {
        "name": "where_compound",
        "steps": [
            *create_schemas("GameScore"),
            seed("GameScore", {"score": 1, "playerName": "a", "cheatMode": True}, "g1"),
            seed("GameScore", {"score": 2, "playerName": "b", "cheatMode": False}, "g2"),
            seed("GameScore", {"score": 3, "playerName": "c", "cheatMode": True}, "g3"),
            seed("GameScore", {"score": 4, "playerName": "d"}, "g4"),
            find_scores('{ OR: [{ score: { equalTo: 1 } }, { playerName: { equalTo: "d" } }] }'),
            find_scores("{ AND: [{ score: { greaterThan: 1 } }, { cheatMode: { equalTo: true } }] }"),
            find_scores("{ NOR: [{ score: { equalTo: 1 } }, { cheatMode: { equalTo: false } }] }"),
            find_scores(
                '{ cheatMode: { exists: true }, OR: [{ score: { lessThan: 2 } }, { playerName: { equalTo: "c" } }] }'
            ),
            find_scores(
                "{ AND: [{ OR: [{ score: { equalTo: 1 } }, { score: { equalTo: 4 } }] }, "
                '{ NOR: [{ playerName: { equalTo: "a" } }] }] }'
            ),
            find_scores("{ OR: [] }"),
            find_scores("{ AND: [{ }] }"),
            find_scores("{ }"),
            find_scores_var({"OR": [{"score": {"equalTo": 2}}, {"score": {"equalTo": 3}}]}),
            find_scores_var({"OR": {"score": {"equalTo": 2}}}),
        ],
    },
]


# --- mutations ---------------------------------------------------------------------------------

ALL_TYPES_SELECTION = (
    "id objectId score playerName cheatMode playedAt details "
    "levels { __typename ... on Element { value } ... on Player { objectId name } } "
    "location { latitude longitude } arena { latitude longitude } checksum replay { name url } "
    "player { objectId name } owner { objectId username } teammates(order: [name_ASC]) { count edges { node { name } } } "
    "ACL { public { read write } users { userId read write } roles { roleName read write } }"
)

MUTATIONS: list[Scenario] = [
    {
        "name": "create_update_delete",
        "steps": [
            *create_schemas("GameScore"),
            gql(
                "mutation Create($input: CreateGameScoreInput!) { createGameScore(input: $input) "
                "{ clientMutationId gameScore { id objectId score playerName cheatMode createdAt updatedAt "
                "ACL { public { read write } users { userId } roles { roleName } } } } }",
                {"input": {"clientMutationId": "c1", "fields": {"score": 7, "playerName": "Zed"}}},
                save={"gid": "data.createGameScore.gameScore.id", "oid": "data.createGameScore.gameScore.objectId"},
            ),
            gql("mutation { createGameScore(input: {}) { clientMutationId gameScore { score playerName } } }"),
            gql('mutation { createGameScore(input: { fields: { playerName: "defaults" } }) { gameScore { score } } }'),
            gql(
                'mutation { createGameScore(input: { clientMutationId: "only", fields: { score: 1 } }) { clientMutationId } }'
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{gid}", clientMutationId: "u1", fields: { score: 8 } }) '
                "{ clientMutationId gameScore { id objectId score playerName updatedAt } } }"
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{oid}", fields: { playerName: "Zoe", cheatMode: true } }) '
                "{ gameScore { id score playerName cheatMode } } }"
            ),
            gql('mutation { updateGameScore(input: { id: "{oid}" }) { gameScore { score playerName } } }'),
            gql('mutation { updateGameScore(input: { id: "{oid}", fields: {} }) { gameScore { score } } }'),
            gql('{ gameScore(id: "{gid}") { score playerName cheatMode } }'),
            rest("GET", f"{C}/GameScore/{{oid}}"),
            gql(
                'mutation { updateGameScore(input: { id: "' + MISSING_ID + '", fields: { score: 1 } }) '
                "{ gameScore { id } } }"
            ),
            gql(
                'mutation { updateGameScore(input: { id: "' + "{gid:Player:oid}" + '", fields: { score: 1 } }) '
                "{ gameScore { id } } }"
            ),
            gql(
                "mutation { a: createGameScore(input: { fields: { score: 100 } }) { gameScore { score } } "
                'b: updateGameScore(input: { id: "{oid}", fields: { score: 9 } }) { gameScore { score } } }'
            ),
            gql(
                'mutation { deleteGameScore(input: { id: "{gid}", clientMutationId: "d1" }) '
                "{ clientMutationId gameScore { id objectId score playerName cheatMode } } }"
            ),
            gql('mutation { deleteGameScore(input: { id: "{gid}" }) { gameScore { id } } }'),
            gql('{ gameScore(id: "{gid}") { id } }'),
            gql("{ gameScores(order: [score_ASC]) { count edges { node { score playerName } } } }"),
            gql('mutation { deleteGameScore(input: { id: "' + MISSING_ID + '" }) { clientMutationId } }'),
        ],
    },
    {
        "name": "create_required_and_default_fields",
        "steps": [
            *create_schemas("Player"),
            gql("mutation { createTeam(input: {}) { team { name city } } }"),
            gql("mutation { createTeam(input: { fields: {} }) { team { name } } }"),
            gql('mutation { createTeam(input: { fields: { city: "Oslo" } }) { team { name } } }'),
            gql("mutation { createTeam(input: { fields: { name: null } }) { team { name } } }"),
            gql(
                'mutation { createTeam(input: { fields: { name: "Reds" } }) { team { id name city founded } } }',
                save={"team": "data.createTeam.team.id"},
            ),
            gql(
                'mutation { createTeam(input: { fields: { name: "Blues", city: "Rome", founded: "' + D2000 + '" } }) '
                "{ team { name city founded } } }"
            ),
            gql('mutation { createPlayer(input: { fields: { name: "P" } }) { player { name active age tags } } }'),
            gql(
                'mutation { createPlayer(input: { fields: { name: "Q", active: false, age: 20, tags: ["a", 1] } }) '
                "{ player { name active age tags { ... on Element { value } } } } }"
            ),
            gql('mutation { updateTeam(input: { id: "{team}", fields: { name: null } }) { team { name } } }'),
            gql('mutation { updateTeam(input: { id: "{team}", fields: { city: null } }) { team { name city } } }'),
            gql("{ teams(order: [name_ASC]) { edges { node { name city } } } }"),
        ],
    },
    {
        "name": "create_every_field_type",
        "steps": [
            *create_schemas("GameScore"),
            sign_up_rest("owner", "u1", "t1"),
            seed("Player", {"name": "Pat"}, "p1"),
            seed("Player", {"name": "Quin"}, "p2"),
            gql(
                "mutation Create($fields: CreateGameScoreFieldsInput) { createGameScore(input: { fields: $fields }) "
                f"{{ gameScore {{ {ALL_TYPES_SELECTION} }} }} }}",
                {
                    "fields": {
                        "score": 42.5,
                        "playerName": "Every",
                        "cheatMode": False,
                        "playedAt": D2021,
                        "details": {"a": 1, "b": {"c": [1, "two"]}, "d": None},
                        "levels": [1, "two", {"three": 3}, True, [4, 5]],
                        "location": {"latitude": 40.5, "longitude": -73.25},
                        "arena": [
                            {"latitude": 0, "longitude": 0},
                            {"latitude": 0, "longitude": 1},
                            {"latitude": 1, "longitude": 1},
                        ],
                        "checksum": "aGVsbG8gd29ybGQ=",
                        "replay": {"file": {"__type": "File", "name": "r.txt", "url": "http://example.com/r.txt"}},
                        "player": {"link": "{p1}"},
                        "owner": {"link": "{u1}"},
                        "teammates": {"add": ["{p1}", "{p2}"]},
                        "ACL": {"public": {"read": True, "write": False}},
                    }
                },
                save={"g": "data.createGameScore.gameScore.objectId"},
            ),
            rest("GET", f"{C}/GameScore/{{g}}"),
            gql(f'{{ gameScore(id: "{{g}}") {{ {ALL_TYPES_SELECTION} }} }}'),
            gql(
                "mutation { createGameScore(input: { fields: { score: 1, "
                '    playedAt: { __type: "Date", iso: "' + D2020 + '" }, '
                '    checksum: { __type: "Bytes", base64: "AQID" }, details: { nested: { deep: true } } } }) '
                "{ gameScore { score playedAt checksum details } } }"
            ),
            gql(
                'mutation { createGameScore(input: { fields: { score: 2, playedAt: "2020-01-01" } }) '
                "{ gameScore { playedAt } } }"
            ),
            gql(
                'mutation { createGameScore(input: { fields: { score: 3, playedAt: "not a date" } }) '
                "{ gameScore { playedAt } } }"
            ),
            gql(
                "mutation { createGameScore(input: { fields: { score: 4, checksum: 5 } }) { gameScore { checksum } } }"
            ),
            gql(
                "mutation { createGameScore(input: { fields: { score: 5, location: { latitude: 100, longitude: 0 } } }) "
                "{ gameScore { location { latitude } } } }"
            ),
            gql(
                "mutation { createGameScore(input: { fields: { score: 6, arena: [{ latitude: 0, longitude: 0 }] } }) "
                "{ gameScore { arena { latitude } } } }"
            ),
            gql('mutation { createGameScore(input: { fields: { score: "six" } }) { gameScore { score } } }'),
            gql("mutation { createGameScore(input: { fields: { score: 7, levels: 7 } }) { gameScore { score } } }"),
            gql(
                "mutation { createGameScore(input: { fields: { score: 8, details: [1, 2] } }) "
                "{ gameScore { details } } }"
            ),
            gql("{ gameScores(order: [score_ASC]) { count edges { node { score playedAt checksum } } } }"),
        ],
    },
    {
        "name": "update_unset_with_null",
        "steps": [
            *create_schemas("GameScore"),
            seed("Player", {"name": "Pat"}, "p1"),
            gql(
                'mutation { createGameScore(input: { fields: { score: 1, playerName: "x", cheatMode: true, '
                'playedAt: "' + D2020 + '", details: { a: 1 }, levels: [1], location: { latitude: 1, longitude: 2 }, '
                "arena: [{ latitude: 0, longitude: 0 }, { latitude: 0, longitude: 1 }, { latitude: 1, longitude: 1 }], "
                'checksum: "AQID", replay: { file: { __type: "File", name: "r.txt", url: "http://example.com/r.txt" } }, '
                'player: { link: "{p1}" } } }) { gameScore { objectId } } }',
                save={"g": "data.createGameScore.gameScore.objectId"},
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { playerName: null, cheatMode: null, '
                "playedAt: null, details: null, levels: null, location: null, arena: null, checksum: null, "
                "replay: null, player: null } }) { gameScore { score playerName cheatMode playedAt details levels "
                "{ ... on Element { value } } location { latitude } arena { latitude } checksum replay { name } "
                "player { name } } } }"
            ),
            rest("GET", f"{C}/GameScore/{{g}}"),
            gql('mutation { updateGameScore(input: { id: "{g}", fields: { score: null } }) { gameScore { score } } }'),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { replay: { file: null } } }) '
                "{ gameScore { replay { name } } } }"
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { player: { link: null } } }) '
                "{ gameScore { player { name } } } }"
            ),
            rest("GET", f"{C}/GameScore/{{g}}"),
        ],
    },
    {
        "name": "pointer_inputs",
        "steps": [
            *create_schemas("GameScore", "fan_entry"),
            sign_up_rest("owner", "u1", "t1"),
            seed("Team", {"name": "Reds"}, "t1"),
            seed("Player", {"name": "Pat", "team": pointer("Team", "{t1}")}, "p1"),
            gql('{ player(id: "{p1}") { id } }', save={"pgid": "data.player.id"}),
            master('{ user(id: "{u1}") { id } }', save={"ugid": "data.user.id"}),
            gql(
                'mutation { createGameScore(input: { fields: { score: 1, player: { link: "{pgid}" }, '
                'owner: { link: "{ugid}" } } }) { gameScore { objectId player { id objectId name team { name city } } '
                "owner { id username } } } }",
                save={"g1": "data.createGameScore.gameScore.objectId"},
            ),
            rest("GET", f"{C}/GameScore/{{g1}}"),
            gql(
                'mutation { createGameScore(input: { fields: { score: 2, player: { link: "{p1}" } } }) '
                "{ gameScore { player { objectId name } } } }"
            ),
            gql(
                "mutation { createGameScore(input: { fields: { score: 3, player: { createAndLink: "
                '{ name: "Newbie", age: 9, team: { createAndLink: { name: "Greens" } } } } } }) '
                "{ gameScore { score player { name age active team { name city } } } } }"
            ),
            gql(
                'mutation { createFan_entry(input: { fields: { text: "deep", game: { createAndLink: { score: 9, '
                'player: { link: "{p1}" } } } } }) { fan_entry { text game { score player { name } } } } }'
            ),
            gql(
                'mutation { createGameScore(input: { fields: { score: 4, player: { link: "' + MISSING_ID + '" } } }) '
                "{ gameScore { score player { objectId } } } }"
            ),
            rest("GET", f"{C}/GameScore", query={"where": {"score": 4}}),
            gql(
                'mutation { createGameScore(input: { fields: { score: 5, player: { link: "'
                + "{gid:Team:t1}"
                + '" } } }) '
                "{ gameScore { score player { objectId } } } }"
            ),
            gql(
                'mutation { createGameScore(input: { fields: { score: 6, player: { link: "{p1}", '
                'createAndLink: { name: "Both" } } } }) { gameScore { player { name } } } }'
            ),
            gql(
                "mutation { createGameScore(input: { fields: { score: 7, player: {} } }) { gameScore { player { name } } } }"
            ),
            gql(
                "mutation { createGameScore(input: { fields: { score: 8, player: { createAndLink: { age: 3 } } } }) "
                "{ gameScore { player { name } } } }"
            ),
            gql(
                "{ gameScores(order: [score_ASC]) { edges { node { score player { name team { name } } owner { username } } } } }"
            ),
            rest("DELETE", f"{C}/Player/{{p1}}"),
            gql('{ gameScore(id: "{g1}") { score player { objectId name } } }'),
        ],
    },
    {
        "name": "relation_inputs_and_connections",
        "steps": [
            *create_schemas("GameScore", "Team"),
            seed("Player", {"name": "Ann", "age": 30}, "p1"),
            seed("Player", {"name": "Ben", "age": 20}, "p2"),
            seed("Player", {"name": "Cat", "age": 10}, "p3"),
            gql('{ player(id: "{p1}") { id } }', save={"p1gid": "data.player.id"}),
            gql(
                'mutation { createGameScore(input: { fields: { score: 1, teammates: { add: ["{p1gid}", "{p2}"] } } }) '
                "{ gameScore { objectId teammates(order: [name_ASC]) { count edges { cursor node { name } } "
                "pageInfo { hasNextPage } } } } }",
                save={"g": "data.createGameScore.gameScore.objectId"},
            ),
            rest("GET", f"{C}/GameScore/{{g}}"),
            rest(
                "GET",
                f"{C}/Player",
                query={
                    "where": {"$relatedTo": {"object": pointer("GameScore", "{g}"), "key": "teammates"}},
                    "order": "name",
                },
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { teammates: { remove: ["{p1gid}"], '
                'createAndAdd: [{ name: "Dan", age: 40 }, { name: "Eve" }] } } }) '
                "{ gameScore { teammates(order: [name_ASC]) { count edges { node { name age active } } } } } }"
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { teammates: { add: ["{p3}"] } } }) '
                "{ gameScore { teammates(order: [name_ASC]) { count } } } }"
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { teammates: { remove: ["{p2}"], add: ["{p1}"] } } }) '
                "{ gameScore { teammates(order: [name_ASC]) { count edges { node { name } } } } } }"
            ),
            gql(
                '{ gameScore(id: "{g}") { '
                "all: teammates(order: [name_ASC]) { count edges { node { name } } } "
                "young: teammates(where: { age: { lessThan: 35 } }, order: [age_DESC]) { count edges { node { name age } } } "
                "page: teammates(order: [name_ASC], first: 2, skip: 1) { edges { cursor node { name } } "
                "pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } "
                "last: teammates(order: [name_ASC], last: 1) { edges { node { name } } } "
                "countOnly: teammates { count } } }"
            ),
            gql(
                "{ gameScores { edges { node { score teammates(order: [name_DESC], first: 1) "
                "{ count edges { node { name } } } } } } }"
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { teammates: { add: ["'
                + MISSING_ID
                + '"] } } }) '
                "{ gameScore { teammates { count } } } }"
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { teammates: null } }) '
                "{ gameScore { teammates { count } } } }"
            ),
            gql(
                'mutation { updateGameScore(input: { id: "{g}", fields: { teammates: {} } }) '
                "{ gameScore { teammates { count } } } }"
            ),
            sign_up_rest("fan1", "u1", "tok1"),
            gql(
                'mutation { createTeam(input: { fields: { name: "Reds", fans: { add: ["{u1}"] } } }) '
                "{ team { name fans { count edges { node { username } } } } } }"
            ),
            gql(
                'mutation { createTeam(input: { fields: { name: "Blues", fans: { createAndAdd: '
                '[{ username: "fan2", password: "pw" }] } } }) { team { name fans { edges { node { username } } } } } }'
            ),
            gql("{ teams(order: [name_ASC]) { edges { node { name fans(order: [username_ASC]) { count } } } } }"),
        ],
    },
    {
        "name": "acl_input_and_output",
        "steps": [
            *create_schemas("GameScore"),
            sign_up_rest("alice", "ua", "ta"),
            sign_up_rest("bob", "ub", "tb"),
            as_user("ta", '{ user(id: "{ua}") { id } }', save={"uagid": "data.user.id"}),
            as_user(
                "ta",
                'mutation { createGameScore(input: { fields: { score: 1, ACL: { users: [{ userId: "{uagid}", '
                "read: true, write: true }], public: { read: false, write: false } } } }) "
                "{ gameScore { objectId ACL { users { userId read write } roles { roleName read write } "
                "public { read write } } } } }",
                save={"g1": "data.createGameScore.gameScore.objectId"},
            ),
            gql(
                'mutation { createGameScore(input: { fields: { score: 2, ACL: { users: [{ userId: "{ua}", '
                "read: true, write: false }] } } }) { gameScore { objectId ACL { users { userId read write } } } } }"
            ),
            master(
                'mutation { createGameScore(input: { fields: { score: 3, ACL: { users: [{ userId: "{ua}", '
                'read: true, write: false }], roles: [{ roleName: "admins", read: true, write: true }], '
                "public: { read: true, write: false } } } }) { gameScore { objectId ACL { users { userId read write } "
                "roles { roleName read write } public { read write } } } } }",
                save={"g3": "data.createGameScore.gameScore.objectId"},
            ),
            rest("GET", f"{C}/GameScore/{{g3}}", master=True),
            gql('{ gameScore(id: "{g1}") { score } }'),
            as_user("ta", '{ gameScore(id: "{g1}") { score ACL { users { userId } public { read } } } }'),
            as_user("tb", '{ gameScore(id: "{g1}") { score } }'),
            as_user("tb", "{ gameScores(order: [score_ASC]) { count edges { node { score } } } }"),
            gql("{ gameScores(order: [score_ASC]) { count edges { node { score } } } }"),
            master("{ gameScores(order: [score_ASC]) { count edges { node { score } } } }"),
            as_user(
                "tb",
                'mutation { updateGameScore(input: { id: "{g3}", fields: { score: 30 } }) { gameScore { score } } }',
            ),
            as_user("tb", 'mutation { deleteGameScore(input: { id: "{g1}" }) { gameScore { score } } }'),
            as_user(
                "ta",
                'mutation { updateGameScore(input: { id: "{g1}", fields: { ACL: { public: { read: true, write: true } } } }) '
                "{ gameScore { score ACL { users { userId } public { read write } } } } }",
            ),
            gql('{ gameScore(id: "{g1}") { score ACL { public { read write } } } }'),
            gql(
                "mutation { createGameScore(input: { fields: { score: 4, ACL: { users: "
                '[{ userId: "nobody", read: true, write: true }] } } }) { gameScore { ACL { users { userId } } } } }'
            ),
            gql(
                "mutation { createGameScore(input: { fields: { score: 5, ACL: {} } }) "
                "{ gameScore { ACL { users { userId } roles { roleName } public { read write } } } } }"
            ),
        ],
    },
]


# --- selecting values of every type -----------------------------------------------------------

SELECTIONS: list[Scenario] = [
    {
        "name": "select_nested_pointers",
        "steps": [
            *create_schemas("fan_entry"),
            sign_up_rest("writer", "u1", "t1"),
            seed("Team", {"name": "Reds", "founded": date(D2000)}, "t1"),
            seed("Player", {"name": "Pat", "team": pointer("Team", "{t1}"), "user": pointer("_User", "{u1}")}, "p1"),
            seed("GameScore", {"score": 5, "player": pointer("Player", "{p1}")}, "g1"),
            seed(
                "fan_entry",
                {"text": "go", "author": pointer("_User", "{u1}"), "game": pointer("GameScore", "{g1}")},
                "f1",
            ),
            seed("fan_entry", {"text": "no game"}, "f2"),
            gql(
                '{ fan_entry(id: "{f1}") { text author { id username } game { id score player { id name '
                "team { id name founded city } user { username } } } } }"
            ),
            gql(
                "{ fan_entries(order: [text_ASC]) { edges { node { text game { score player { name } } "
                "author { username } } } } }"
            ),
            gql('{ fan_entry(id: "{f1}") { game { objectId } } }'),
            gql('{ fan_entry(id: "{f1}") { game { __typename } } }'),
            gql('{ fan_entry(id: "{f1}") { text game { score } } }', master=True),
            gql('fragment P on Player { name team { name } } { gameScore(id: "{g1}") { player { ...P } } }'),
            rest("DELETE", f"{C}/Team/{{t1}}"),
            gql('{ player(id: "{p1}") { name team { name } } }'),
            gql('{ player(id: "{p1}") { name team { objectId } } }'),
        ],
    },
    {
        "name": "select_object_array_and_scalars",
        "steps": [
            *create_schemas("GameScore"),
            seed("Player", {"name": "Pat"}, "p1"),
            seed(
                "GameScore",
                {
                    "score": 1.25,
                    "cheatMode": False,
                    "details": {"s": "x", "n": 1.5, "b": True, "z": None, "l": [1, {"k": "v"}], "o": {"d": 1}},
                    "levels": [1, "two", True, None, {"x": 1}, [1, 2], pointer("Player", "{p1}"), date(D2020)],
                    "playedAt": date(D2021),
                },
                "g1",
            ),
            gql(
                '{ gameScore(id: "{g1}") { score cheatMode details playedAt createdAt '
                "levels { __typename ... on Element { value } ... on Player { id objectId name } } } }"
            ),
            gql('{ gameScore(id: "{g1}") { levels { ... on Element { value } } } }'),
            gql('{ gameScore(id: "{g1}") { levels { __typename } } }'),
            gql('{ gameScore(id: "{g1}") { levels } }'),
            gql('{ gameScore(id: "{g1}") { details { s } } }'),
            seed("GameScore", {"score": 2, "details": {}, "levels": []}, "g2"),
            gql('{ gameScore(id: "{g2}") { details levels { ... on Element { value } } playerName cheatMode } }'),
        ],
    },
    {
        "name": "select_geo_polygon_bytes",
        "steps": [
            *create_schemas("GameScore"),
            seed(
                "GameScore",
                {
                    "score": 1,
                    "location": geo(-33.5, 151.25),
                    "arena": polygon((0, 0), (0, 1), (1, 1), (1, 0)),
                    "checksum": {"__type": "Bytes", "base64": "AAEC/w=="},
                },
                "g1",
            ),
            gql('{ gameScore(id: "{g1}") { location { latitude longitude } arena { latitude longitude } checksum } }'),
            gql('{ gameScore(id: "{g1}") { location { __typename latitude } arena { __typename } } }'),
            gql(
                'mutation { updateGameScore(input: { id: "{g1}", fields: { location: { latitude: 1, longitude: 2 }, '
                "arena: [{ latitude: 5, longitude: 5 }, { latitude: 5, longitude: 6 }, { latitude: 6, longitude: 6 }], "
                'checksum: "Zm9v" } }) { gameScore { location { latitude longitude } arena { latitude longitude } checksum } } }'
            ),
            rest("GET", f"{C}/GameScore/{{g1}}"),
        ],
    },
    {
        "name": "select_files",
        "steps": [
            *create_schemas("GameScore"),
            step(
                "POST",
                "/parse/files/hello.txt",
                raw_body="hello file",
                headers={"Content-Type": "text/plain"},
            ),
            step(
                "POST",
                "/parse/files/hello.txt",
                raw_body="hello file",
                headers={"Content-Type": "text/plain"},
                master=True,
                save={"fname": "name", "furl": "url"},
            ),
            gql(
                'mutation { createGameScore(input: { fields: { score: 1, replay: { file: { __type: "File", '
                'name: "{fname}", url: "{furl}" } } } }) { gameScore { objectId replay { name url } } } }',
                save={"g1": "data.createGameScore.gameScore.objectId"},
            ),
            gql('{ gameScore(id: "{g1}") { replay { name url __typename } } }'),
            rest("GET", f"{C}/GameScore/{{g1}}"),
            gql(
                'mutation { createGameScore(input: { fields: { score: 2, replay: { file: { name: "{fname}", '
                'url: "{furl}" } } } }) { gameScore { replay { name url } } } }'
            ),
            gql(
                'mutation { createGameScore(input: { fields: { score: 3, replay: { file: { __type: "File", '
                'url: "http://example.com/only-url.txt" } } } }) { gameScore { replay { name url } } } }'
            ),
            {
                "method": "POST",
                "path": G,
                "multipart": {
                    "operations": {
                        "query": "mutation Upload($upload: Upload!) { createFile(input: { upload: $upload }) "
                        "{ fileInfo { name url } } }",
                        "variables": {"upload": None},
                    },
                    "map": {"0": ["variables.upload"]},
                    "files": {"0": ["upload.txt", "uploaded content", "text/plain"]},
                },
                "master": True,
                "save": {"upname": "data.createFile.fileInfo.name", "upurl": "data.createFile.fileInfo.url"},
            },
            step("GET", "/parse/files/app/{upname}"),
            {
                "method": "POST",
                "path": G,
                "multipart": {
                    "operations": {
                        "query": "mutation Make($upload: Upload!) { createGameScore(input: { fields: { score: 4, "
                        "replay: { upload: $upload } } }) { gameScore { score replay { name url } } } }",
                        "variables": {"upload": None},
                    },
                    "map": {"0": ["variables.upload"]},
                    "files": {"0": ["inline.txt", "inline content", "text/plain"]},
                },
                "master": True,
            },
            {
                "method": "POST",
                "path": G,
                "multipart": {
                    "operations": {
                        "query": "mutation Upload($upload: Upload!) { createFile(input: { upload: $upload }) "
                        "{ fileInfo { name url } } }",
                        "variables": {"upload": None},
                    },
                    "map": {"0": ["variables.upload"]},
                    "files": {"0": ["public.txt", "public content", "text/plain"]},
                },
            },
            {
                "method": "POST",
                "path": G,
                "multipart": {
                    "operations": {
                        "query": "mutation Upload($upload: Upload!) { createFile(input: { upload: $upload }) "
                        "{ fileInfo { name url } } }",
                        "variables": {"upload": None},
                    },
                    "map": {"0": ["variables.upload"]},
                    "files": {"0": ["blocked.txt", "x", "text/plain"]},
                },
                "no_app_id": True,
            },
            gql("{ gameScores(order: [score_ASC]) { edges { node { score replay { name url } } } } }"),
        ],
    },
]


# --- schema management (master key) ------------------------------------------------------------

SCHEMA_FIELDS = (
    "schemaFields { name __typename ... on SchemaPointerField { targetClassName } "
    "... on SchemaRelationField { targetClassName } }"
)

SCHEMA: list[Scenario] = [
    {
        "name": "schema_class_queries",
        "steps": [
            *create_schemas("fan_entry", "Team"),
            master(f'{{ class(name: "GameScore") {{ name {SCHEMA_FIELDS} }} }}'),
            master(f'{{ class(name: "fan_entry") {{ name {SCHEMA_FIELDS} }} }}'),
            master(f'{{ class(name: "_User") {{ name {SCHEMA_FIELDS} }} }}'),
            master("{ classes { name } }"),
            master("{ classes { name schemaFields { name } } }"),
            master('{ class(name: "Nope") { name } }'),
            master('{ class(name: "1bad") { name } }'),
            gql('{ class(name: "GameScore") { name } }'),
            gql("{ classes { name } }"),
            sign_up_rest("someone", "u1", "t1"),
            as_user("t1", "{ classes { name } }"),
        ],
    },
    {
        "name": "schema_class_mutations",
        "steps": [
            *create_schemas("GameScore"),
            master(
                'mutation { createClass(input: { clientMutationId: "cc", name: "Tmp", schemaFields: { '
                'addStrings: [{ name: "s" }], addNumbers: [{ name: "n" }], addBooleans: [{ name: "b" }], '
                'addArrays: [{ name: "a" }], addObjects: [{ name: "o" }], addDates: [{ name: "d" }], '
                'addFiles: [{ name: "f" }], addGeoPoint: { name: "g" }, addPolygons: [{ name: "poly" }], '
                'addBytes: [{ name: "by" }], addPointers: [{ name: "p", targetClassName: "GameScore" }], '
                'addRelations: [{ name: "r", targetClassName: "_User" }] } }) '
                f"{{ clientMutationId class {{ name {SCHEMA_FIELDS} }} }} }}"
            ),
            rest("GET", f"{SCHEMAS}/Tmp", master=True),
            gql('mutation { createTmp(input: { fields: { s: "hi", n: 1 } }) { tmp { s n } } }'),
            gql("{ tmps { count edges { node { s n b } } } }"),
            master(
                'mutation { updateClass(input: { clientMutationId: "uc", name: "Tmp", schemaFields: { '
                'addStrings: [{ name: "s2" }], remove: [{ name: "n" }, { name: "b" }] } }) '
                f"{{ clientMutationId class {{ name {SCHEMA_FIELDS} }} }} }}"
            ),
            gql("{ tmps { edges { node { s s2 } } } }"),
            gql("{ tmps { edges { node { n } } } }"),
            master('mutation { deleteClass(input: { name: "Tmp" }) { class { name schemaFields { name } } } }'),
            master('mutation { purge: deleteClass(input: { name: "Tmp" }) { class { name } } }'),
            rest("DELETE", "/parse/purge/Tmp", master=True),
            master(
                'mutation { deleteClass(input: { clientMutationId: "dc", name: "Tmp" }) '
                "{ clientMutationId class { name schemaFields { name } } } }"
            ),
            master('{ class(name: "Tmp") { name } }'),
            master('mutation { deleteClass(input: { name: "Tmp" }) { class { name } } }'),
            master('mutation { createClass(input: { name: "Empty" }) { class { name schemaFields { name } } } }'),
            master('mutation { createClass(input: { name: "Empty" }) { class { name } } }'),
            master('mutation { createClass(input: { name: "1bad" }) { class { name } } }'),
            master('mutation { createClass(input: { name: "_Nope" }) { class { name } } }'),
            master(
                'mutation { createClass(input: { name: "Dup", schemaFields: { addStrings: [{ name: "x" }], '
                'addNumbers: [{ name: "x" }] } }) { class { name schemaFields { name __typename } } } }'
            ),
            master(
                'mutation { updateClass(input: { name: "Empty", schemaFields: { addStrings: [{ name: "objectId" }] } }) '
                "{ class { name } } }"
            ),
            master(
                'mutation { updateClass(input: { name: "Empty", schemaFields: { remove: [{ name: "ghost" }] } }) '
                "{ class { name } } }"
            ),
            master('mutation { updateClass(input: { name: "Ghost" }) { class { name } } }'),
            master(
                'mutation { createClass(input: { name: "BadPtr", schemaFields: { addPointers: '
                '[{ name: "p", targetClassName: "Nope" }] } }) { class { name ' + SCHEMA_FIELDS + " } } }"
            ),
            master(
                'mutation { createClass(input: { name: "Geo2", schemaFields: { addGeoPoint: { name: "g" }, '
                'addStrings: [{ name: "g2" }] } }) { class { name schemaFields { name __typename } } } }'
            ),
            gql('mutation { createClass(input: { name: "Denied" }) { class { name } } }'),
            gql('mutation { deleteClass(input: { name: "Empty" }) { class { name } } }'),
            gql('mutation { updateClass(input: { name: "Empty" }) { class { name } } }'),
            master(
                'mutation { updateClass(input: { name: "_User", schemaFields: { addStrings: [{ name: "nickname" }] } }) '
                "{ class { name schemaFields { name } } } }"
            ),
            master("{ classes { name } }"),
        ],
    },
]


# --- users -------------------------------------------------------------------------------------

VIEWER = "viewer { sessionToken user { id objectId username email createdAt updatedAt } }"

USERS: list[Scenario] = [
    {
        "name": "users_sign_up_log_in_viewer_log_out",
        "steps": [
            gql(
                f"mutation SignUp($input: SignUpInput!) {{ signUp(input: $input) {{ clientMutationId {VIEWER} }} }}",
                {
                    "input": {
                        "clientMutationId": "su",
                        "fields": {"username": "ann", "password": "pw1", "email": "ann@example.com"},
                    }
                },
                save={"tok": "data.signUp.viewer.sessionToken", "uid": "data.signUp.viewer.user.objectId"},
            ),
            as_user("tok", f"{{ {VIEWER} }}"),
            as_user(
                "tok",
                "{ viewer { user { username emailVerified authData ACL { users { userId read write } public { read } } } } }",
            ),
            gql(f"{{ {VIEWER} }}"),
            master(f"{{ {VIEWER} }}"),
            gql(
                'mutation { logIn(input: { clientMutationId: "li", username: "ann", password: "pw1" }) '
                f"{{ clientMutationId {VIEWER} }} }}",
                save={"tok2": "data.logIn.viewer.sessionToken"},
            ),
            gql('mutation { logIn(input: { username: "ann", password: "wrong" }) { viewer { sessionToken } } }'),
            gql('mutation { logIn(input: { username: "nobody", password: "pw1" }) { viewer { sessionToken } } }'),
            gql('mutation { logIn(input: { username: "", password: "" }) { viewer { sessionToken } } }'),
            gql(
                'mutation { signUp(input: { fields: { username: "ann", password: "other" } }) '
                "{ viewer { sessionToken } } }"
            ),
            gql(
                'mutation { signUp(input: { fields: { username: "ben2", password: "pw", email: "ann@example.com" } }) '
                "{ viewer { sessionToken } } }"
            ),
            gql('mutation { signUp(input: { fields: { username: "nopass" } }) { viewer { sessionToken } } }'),
            gql('mutation { signUp(input: { fields: { password: "nouser" } }) { viewer { sessionToken } } }'),
            gql("mutation { signUp(input: {}) { viewer { sessionToken } } }"),
            gql(
                'mutation { signUp(input: { fields: { username: "cal", password: "pw", '
                "ACL: { public: { read: false, write: false } } } }) { viewer { user { username ACL { public { read write } "
                "users { userId read write } } } } } }"
            ),
            gql("{ users(order: [username_ASC]) { count edges { node { username email } } } }"),
            master("{ users(order: [username_ASC]) { count edges { node { username email emailVerified } } } }"),
            gql('{ user(id: "{uid}") { username password } }'),
            gql('{ user(id: "{uid}") { username sessionToken } }'),
            as_user(
                "tok",
                'mutation { updateUser(input: { id: "{uid}", fields: { email: "new@example.com" } }) '
                "{ user { username email } } }",
            ),
            gql(
                'mutation { updateUser(input: { id: "{uid}", fields: { email: "hack@example.com" } }) { user { email } } }'
            ),
            as_user("tok2", 'mutation { logOut(input: { clientMutationId: "lo" }) { clientMutationId ok } }'),
            as_user("tok2", f"{{ {VIEWER} }}"),
            as_user("tok2", "mutation { logOut(input: {}) { ok } }"),
            gql("mutation { logOut(input: {}) { ok } }"),
            as_user("tok", "{ viewer { user { username email } } }"),
            gql('mutation { resetPassword(input: { email: "new@example.com" }) { ok } }'),
            gql('mutation { sendVerificationEmail(input: { email: "new@example.com" }) { ok } }'),
            gql('mutation { confirmResetPassword(input: { username: "ann", password: "pw2", token: "bad" }) { ok } }'),
            gql('mutation { logInWith(input: { authData: { nope: { id: "x" } } }) { viewer { sessionToken } } }'),
        ],
    },
    {
        "name": "roles_and_role_acl",
        "steps": [
            *create_schemas("GameScore"),
            sign_up_rest("member", "um", "tm"),
            sign_up_rest("outsider", "uo", "to"),
            master(
                'mutation { createRole(input: { fields: { name: "admins", ACL: { public: { read: true, write: false } }, '
                'users: { add: ["{um}"] } } }) { role { id objectId name ACL { public { read write } } '
                "users { count edges { node { username } } } roles { count } } } }",
                save={"role": "data.createRole.role.objectId"},
            ),
            gql('mutation { createRole(input: { fields: { name: "nope" } }) { role { name } } }'),
            gql("{ roles { count edges { node { name users { count } } } } }"),
            master("{ roles { count edges { node { name users { count edges { node { username } } } } } } }"),
            master(
                'mutation { createGameScore(input: { fields: { score: 1, ACL: { roles: [{ roleName: "admins", '
                "read: true, write: true }] } } }) { gameScore { objectId ACL { roles { roleName read write } "
                "public { read } } } } }",
                save={"g": "data.createGameScore.gameScore.objectId"},
            ),
            as_user("tm", '{ gameScore(id: "{g}") { score } }'),
            as_user("to", '{ gameScore(id: "{g}") { score } }'),
            as_user(
                "tm", 'mutation { updateGameScore(input: { id: "{g}", fields: { score: 2 } }) { gameScore { score } } }'
            ),
            as_user("tm", "{ gameScores { count edges { node { score } } } }"),
            as_user("to", "{ gameScores { count } }"),
            master('{ role(id: "{role}") { name roles { count } users { count } } }'),
        ],
    },
    {
        "name": "users_create_user_and_sessions",
        "steps": [
            gql(
                'mutation { createUser(input: { fields: { username: "made", password: "pw" } }) '
                "{ user { id objectId username } } }",
            ),
            gql(
                'mutation { createUser(input: { clientMutationId: "cu", fields: { username: "made2", password: "pw" } }) '
                "{ clientMutationId } }",
            ),
            master(
                'mutation { createUser(input: { fields: { username: "made3", password: "pw", email: "m3@example.com" } }) '
                "{ user { id objectId username email } } }",
            ),
            gql(
                'mutation { logIn(input: { username: "made", password: "pw" }) { viewer { sessionToken user { objectId } } } }',
                save={"uid": "data.logIn.viewer.user.objectId", "tok": "data.logIn.viewer.sessionToken"},
            ),
            as_user("tok", '{ user(id: "{uid}") { id objectId username } }'),
            master("{ classes { name } }"),
            master("{ sessions { count edges { node { sessionToken createdWith user { username } } } } }"),
            gql('mutation { deleteUser(input: { id: "{uid}" }) { user { username } } }'),
            master('mutation { deleteUser(input: { id: "{uid}" }) { user { username } } }'),
            gql("{ users { count } }"),
        ],
    },
]


# --- cloud functions and config ------------------------------------------------------------------

CLOUD: list[Scenario] = [
    {
        "name": "cloud_code_and_config",
        "steps": [
            gql('mutation { callCloudCode(input: { functionName: hello, params: { name: "Ann" } }) { result } }'),
            gql(
                'mutation { callCloudCode(input: { clientMutationId: "cf", functionName: hello }) { clientMutationId result } }'
            ),
            gql("mutation { callCloudCode(input: { functionName: nope }) { result } }"),
            gql("mutation { callCloudCode(input: { functionName: nope }) { result } }", master=True),
            gql('mutation { callCloudCode(input: { functionName: "hello" }) { result } }'),
            master('{ cloudConfig(paramName: "motd") { value isMasterKeyOnly } }'),
            master(
                'mutation { updateCloudConfig(input: { paramName: "motd", value: "hi" }) '
                "{ cloudConfig { value isMasterKeyOnly } } }"
            ),
            master('{ cloudConfig(paramName: "motd") { value isMasterKeyOnly } }'),
            rest("GET", "/parse/config"),
            gql('{ cloudConfig(paramName: "motd") { value } }'),
            gql('mutation { updateCloudConfig(input: { paramName: "motd", value: "x" }) { cloudConfig { value } } }'),
        ],
    },
]


# --- errors --------------------------------------------------------------------------------------

ERRORS: list[Scenario] = [
    {
        "name": "error_validation_and_suggestions",
        "steps": [
            *create_schemas("GameScore"),
            gql("{ gameScores { edges { node { scor } } } }"),
            gql("{ gameScores { edges { node { scor } } } }", master=True),
            gql("query Q { gameScores { edges { node { scor } } } } fragment F on GameScore { score }"),
            gql("{ gameScors { count } }"),
            gql("{ gameScors { count } }", master=True),
            gql("{ gameScores(limit: 2) { count } }"),
            gql("{ gameScores(limit: 2) { count } }", master=True),
            gql("{ gameScore { id } }"),
            gql("{ gameScore { id } }", master=True),
            gql('{ gameScores(first: "two") { count } }'),
            gql("mutation { createGameScore(input: { fields: { scor: 1 } }) { gameScore { id } } }"),
            gql("mutation { createGameScore(input: { fields: { scor: 1 } }) { gameScore { id } } }", master=True),
            gql(
                "mutation M($f: CreateGameScoreFieldsInput) { createGameScore(input: { fields: $f }) { gameScore { id } } }",
                {"f": {"scor": 1}},
            ),
            gql(
                "mutation M($f: CreateGameScoreFieldsInput) { createGameScore(input: { fields: $f }) { gameScore { id } } }",
                {"f": {"scor": 1}},
                master=True,
            ),
            gql(
                "mutation M($f: CreateGameScoreFieldsInput) { createGameScore(input: { fields: $f }) { gameScore { id } } }",
                {"f": {"playerName": "no score"}},
            ),
            gql('mutation { createGameScore(input: { fields: { score: "x" } }) { gameScore { id } } }'),
            gql("query Q($n: Int) { gameScores(first: $n) { count } }", {"n": "x"}),
            gql("query Q($n: Int!) { gameScores(first: $n) { count } }"),
            gql("query Q($n: Int!) { gameScores(first: $n) { count } }", {"n": None}),
            gql("{ gameScores(first: $n) { count } }"),
            gql("query Q($w: GameScoreWher) { gameScores(where: $w) { count } }"),
            gql("query Q($w: GameScoreWher) { gameScores(where: $w) { count } }", master=True),
            gql("query Q($o: [GameScoreOrder!]) { gameScores(order: $o) { count } }", {"o": ["scor_ASC"]}),
            gql("query Q($o: [GameScoreOrder!]) { gameScores(order: $o) { count } }", {"o": ["scor_ASC"]}, master=True),
            gql("{ gameScores { edges { node { player } } } }"),
            gql("{ gameScores { edges { node { player } } } }", master=True),
            gql("{ gameScores { count { x } } }"),
            gql("{ gameScores { edges { node { ... on Player { name } } } } }"),
            gql("{ health health(x: 1) }"),
            gql("{ gameScores(where: { score: { equalTo: 1, scor: 2 } }) { count } }"),
            gql("{ gameScores(where: { scor: { equalTo: 1 } }) { count } }", master=True),
        ],
    },
    {
        "name": "error_syntax",
        "steps": [
            gql("{ health"),
            gql("{ health }}"),
            gql("query { health(: 1) }"),
            gql('{ gameScore(id: "unterminated) { id } }'),
            gql("not graphql at all"),
            gql_get("{ health"),
            step("POST", G, {"query": 5}),
            step("POST", G, {"query": "{ health }", "variables": "not an object"}),
            step("POST", G, {"query": "{ health }", "variables": [1]}),
            step("POST", G, {"query": "{ health }", "operationName": 5}),
            step("POST", G, raw_body="query={ health }", headers={"Content-Type": "application/x-www-form-urlencoded"}),
            step("POST", G, raw_body="{ health }", headers={"Content-Type": "application/graphql"}),
            step("POST", G, raw_body='{"query": "{ health }"}', headers={"Content-Type": "text/plain"}),
        ],
    },
    {
        "name": "error_introspection_without_master",
        "steps": [
            gql("{ __schema { queryType { name } } }"),
            gql('{ __type(name: "Query") { name } }'),
            gql("{ __typename }"),
            gql("query { health __schema { types { name } } }"),
            gql("{ __schema { queryType { name } } }", master=True),
            gql('{ __type(name: "User") { name kind fields { name } } }', master=True),
            gql_get("{ __schema { queryType { name } } }"),
            gql_get("{ __schema { queryType { name } } }", master=True),
            gql("{ health } # __schema"),
            gql("query __schemaless { health }"),
            gql("query Q($x: Boolean = true) { health @include(if: $x) __typename }"),
            gql("{ __type { name } }"),
            gql('{ a: __type(name: "Query") { name } }'),
            sign_up_rest("curious", "u1", "t1"),
            as_user("t1", "{ __schema { queryType { name } } }"),
            gql("{ __schema { queryType { name } } }", headers={"X-Parse-Master-Key": "wrong"}),
        ],
    },
    {
        "name": "error_permissions_and_missing_objects",
        "steps": [
            *create_schemas("GameScore"),
            seed("GameScore", {"score": 1}, "g1"),
            sign_up_rest("alice", "ua", "ta"),
            seed(
                "GameScore",
                {"score": 2, "ACL": {"{ua}": {"read": True, "write": True}}},
                "g2",
            ),
            gql('{ gameScore(id: "{g2}") { score } }'),
            as_user("ta", '{ gameScore(id: "{g2}") { score } }'),
            gql("{ gameScores(order: [score_ASC]) { count edges { node { score } } } }"),
            gql('mutation { updateGameScore(input: { id: "{g2}", fields: { score: 3 } }) { gameScore { score } } }'),
            gql('mutation { deleteGameScore(input: { id: "{g2}" }) { gameScore { score } } }'),
            rest(
                "PUT",
                f"{SCHEMAS}/GameScore",
                {
                    "classLevelPermissions": {
                        "find": {},
                        "count": {},
                        "get": {"requiresAuthentication": True},
                        "create": {"*": True},
                        "update": {},
                        "delete": {},
                        "addField": {},
                        "protectedFields": {"*": ["playerName"]},
                    }
                },
                master=True,
            ),
            gql("{ gameScores { count } }"),
            gql("{ gameScores { edges { node { score } } } }"),
            gql('{ gameScore(id: "{g1}") { score } }'),
            as_user("ta", '{ gameScore(id: "{g1}") { score playerName } }'),
            gql(
                'mutation { createGameScore(input: { fields: { score: 5, playerName: "hidden" } }) { gameScore { score } } }'
            ),
            gql(
                'mutation { createGameScore(input: { clientMutationId: "x", fields: { score: 6 } }) { clientMutationId } }'
            ),
            gql('mutation { updateGameScore(input: { id: "{g1}", fields: { score: 3 } }) { gameScore { score } } }'),
            gql('mutation { deleteGameScore(input: { id: "{g1}" }) { gameScore { score } } }'),
            gql("mutation { createGameScore(input: { fields: { score: 7, brandNew: 1 } }) { gameScore { score } } }"),
            master("{ gameScores(order: [score_ASC]) { count edges { node { score playerName } } } }"),
            rest(
                "PUT",
                f"{SCHEMAS}/GameScore",
                {
                    "classLevelPermissions": {
                        "find": {"*": True},
                        "get": {"*": True},
                        "create": {},
                        "count": {"*": True},
                    }
                },
                master=True,
            ),
            gql("mutation { createGameScore(input: { fields: { score: 8 } }) { gameScore { score } } }"),
            gql("{ gameScores(order: [score_ASC]) { count edges { node { score playerName } } } }"),
            gql('{ gameScore(id: "' + MISSING_ID + '") { score } }'),
            gql('{ gameScore(id: "") { score } }'),
            gql('{ gameScore(id: "!!not an id!!") { score } }'),
            gql('{ gameScore(id: "' + gid("GameScore", "") + '") { score } }'),
            gql('{ gameScore(id: "' + base64.b64encode(b"GameScore").decode() + '") { score } }'),
            gql('{ gameScore(id: "{g1}") { score } }', headers={"X-Parse-Session-Token": "r:not-a-real-token"}),
        ],
    },
]

# --- files over REST, as the SDKs upload and browsers download ----------------------------------

_TEXT = {"Content-Type": "text/plain"}
_DOWNLOAD = ["content-type", "content-length", "x-content-type-options"]
_RANGE = ["content-type", "content-length", "content-range"]
_FILE = "/parse/files/app/{fname}"


def _upload(name: str, body: str, content_type: str = "text/plain", **options: Any) -> Step:
    return step("POST", f"/parse/files/{name}", raw_body=body, headers={"Content-Type": content_type}, **options)


def _as(token_name: str) -> dict[str, str]:
    return {"X-Parse-Session-Token": f"{{{token_name}}}"}


FILES: list[Scenario] = [
    {
        "name": "files_upload_download_delete",
        "steps": [
            _upload("hello.txt", "hello world!!"),
            _upload("hello.txt", "hello world!!", master=True, save={"fname": "name"}),
            step(
                "POST",
                "/parse/users",
                {"username": "files_scenario_user", "password": "p"},
                save={"tok": "sessionToken"},
            ),
            step("POST", "/parse/files/page.html", raw_body="<p>", headers={**_as("tok"), "Content-Type": "text/html"}),
            step("POST", "/parse/files/page", raw_body="<p>", headers={**_as("tok"), "Content-Type": "text/html"}),
            step(
                "POST",
                "/parse/files/logo.svg",
                raw_body="<svg/>",
                headers={**_as("tok"), "Content-Type": "image/svg+xml"},
            ),
            step("POST", "/parse/files/data.zzq", raw_body="x", headers={**_as("tok"), "Content-Type": "nonsense"}),
            step("POST", "/parse/files/notes.txt", raw_body="mine", headers={**_as("tok"), **_TEXT}),
            _upload("a$b.txt", "x", master=True),
            _upload("%C3%A9t%C3%A9.txt", "x", master=True),
            _upload("n" * 129, "x", master=True),
            step("POST", "/parse/files", raw_body="x", headers=_TEXT, master=True),
            _upload("empty.txt", "", master=True),
            _upload("photo", "jpeg bytes", "image/jpeg", master=True, save={"photo": "name"}),
            _upload("page.html", "<p>", "text/html", master=True),
            step("GET", _FILE, response_headers=_DOWNLOAD),
            step("GET", "/parse/files/app/{photo}", response_headers=_DOWNLOAD),
            step("GET", _FILE, headers={"Range": "bytes=0-4"}, response_headers=["content-type", "content-length"]),
            step("GET", _FILE, headers={"Range": "bytes=-3"}, response_headers=["content-type", "content-length"]),
            step("GET", _FILE, headers={"Range": "bytes=0-4"}, response_headers=_RANGE),
            step("GET", _FILE, headers={"Range": "bytes=20-30"}, response_headers=_RANGE),
            step("GET", "/parse/files/app/nothing.txt", response_headers=["content-type"]),
            step("GET", "/parse/files/other/{fname}"),
            step("GET", "/parse/files/app/metadata/{fname}"),
            step("GET", "/parse/files/app/metadata/nothing.txt"),
            step(
                "POST",
                "/parse/files/sdk.txt",
                raw_body=json.dumps(
                    {
                        "_ApplicationId": "app",
                        "_MasterKey": "master",
                        "_ContentType": "text/plain",
                        "base64": "ZnJvbSB0aGUgc2Rr",
                        "fileData": {"metadata": {"owner": "sdk"}, "tags": {}},
                    }
                ),
                headers=_TEXT,
                no_app_id=True,
                save={"sdk": "name"},
            ),
            step("GET", "/parse/files/app/metadata/{sdk}"),
            step("POST", "/parse/files/x.txt", raw_body="not json", headers=_TEXT, no_app_id=True),
            step("DELETE", "/parse/files/{fname}"),
            step("DELETE", "/parse/files/{fname}", headers=_as("tok")),
            step("DELETE", "/parse/files/{fname}", master=True),
            step("DELETE", "/parse/files/{fname}", master=True),
            step("GET", _FILE),
        ],
    },
]


SCENARIOS: list[Scenario] = [
    *BASICS,
    *FINDING,
    *WHERE,
    *MUTATIONS,
    *SELECTIONS,
    *SCHEMA,
    *USERS,
    *CLOUD,
    *ERRORS,
    *FILES,
]
