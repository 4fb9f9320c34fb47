"""A seeded fuzz of the public protocols: thousands of mutated REST requests and GraphQL documents.

Each case starts from a request a client really sends (a create, a find with every kind of constraint, an
update with operations, a batch, a sign-up, a GraphQL query or mutation) and changes it a little: a value
replaced by an awkward one (huge and negative numbers, NUL and lone surrogates, deep nesting, long lists,
unknown `__type`s and `__op`s, keys with `$` and `.`), a key dropped or added, a caller swapped, a GraphQL
token dropped, repeated or inserted. None may be answered 5xx or code 1, none may take longer than
`_DEADLINE`, and nothing may be logged as an error: bad input is the client's fault and gets a 4xx with
Parse's code. The cases come from one seed (`PARSEQL_FUZZ_SEED`), so a failure names the seed and the case
number, and `PARSEQL_FUZZ_CASE` replays that one case alone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
import pytest_asyncio

from tests.conftest import APP_ID, MASTER_KEY, make_settings, running

SEED = int(os.environ.get("PARSEQL_FUZZ_SEED", "20261207"))
CASES = int(os.environ.get("PARSEQL_FUZZ_CASES", "3000"))
ONLY = os.environ.get("PARSEQL_FUZZ_CASE")
_MAX_FAILURES = int(os.environ.get("PARSEQL_FUZZ_MAX_FAILURES", "20"))
_DEADLINE = 15.0  # seconds: far beyond any honest answer on a loaded machine, far below a hang


@dataclass
class Case:
    """One request: REST (`path` under /parse) or GraphQL (`document`), and who sends it."""

    method: str
    path: str = ""
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    raw: bytes | None = None
    caller: str = "public"
    document: str | None = None
    variables: Any = None

    def describe(self) -> str:
        if self.document is not None:
            return f"GraphQL as {self.caller}: {self.document[:300]!r} variables={_short(self.variables)}"
        body = repr(self.raw[:300]) if self.raw is not None else _short(self.body)
        return f"{self.method} /parse{self.path} as {self.caller} params={_short(self.params)} body={body}"


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) < 300 else text[:300] + "…"


# Awkward values -------------------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_TYPES = ("Date", "Pointer", "Relation", "GeoPoint", "Polygon", "File", "Bytes", "Object", "Nope", "", None, 7)
_OPS = ("Increment", "Add", "AddUnique", "Remove", "Delete", "AddRelation", "RemoveRelation", "Batch", "Set", "", 1)
_KEYS = (
    *_words("$where $or $and $nor $in $regex $options $exists $select $inQuery $relatedTo $text $nearSphere $within"),
    *_words("$geoWithin $all $containedBy $eq $ne $lt $gte a.b $ . __proto__ constructor _rperm _wperm ACL"),
    *_words("_hashed_password objectId createdAt updatedAt authData sessionToken __type __op className é"),
    *("", "x" * 300, "\x00"),
)
_STRINGS = (
    *("", " ", "\x00", "\ud800", "\udfff", "a\x00b", "\\", "\\Q", "\\E", "x" * 5000, "€" * 50, "r:" + "0" * 32),
    *_words("%00 ../.. '; {} [] null NaN Infinity -1 1e400 ^(a+)+$ (a|aa)+ [ (?<x> * _User _Session Fuzz title -n"),
    *("n,-title", "2026-13-45T99:99:99.999Z"),
)
_NUMBERS = (0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64, 10**20, -(10**20), 1.5, -0.0, 1e308, -1e308, 5e-324, 1e-400)


def _deep(depth: int, rng: random.Random) -> Any:
    value: Any = rng.choice(["leaf", 1, None])
    for _ in range(depth):
        value = {rng.choice(("a", "$or", "$and", "x")): value} if rng.random() < 0.6 else [value]
    return value


def _awkward(rng: random.Random) -> Any:
    kind = rng.randrange(12)
    if kind == 0:
        return rng.choice(_NUMBERS)
    if kind == 1:
        return rng.choice(_STRINGS)
    if kind == 2:
        return rng.choice((True, False, None, [], {}))
    if kind == 3:
        return _deep(rng.choice((5, 50, 120, 300, 600)), rng)
    if kind == 4:
        size = rng.choice((10, 1000, 20_000, 150_000))
        return [rng.choice((1, "a", None)) for _ in range(size)] if size < 20_000 else list(range(size))
    if kind == 5:
        value: dict[str, Any] = {"__type": rng.choice(_TYPES)}
        for key in rng.sample(
            ("iso", "className", "objectId", "latitude", "longitude", "name", "url", "base64", "coordinates"),
            rng.randrange(4),
        ):
            value[key] = rng.choice((*_STRINGS[:12], *_NUMBERS[:8], None, [], {}))
        return value
    if kind == 6:
        op: dict[str, Any] = {"__op": rng.choice(_OPS)}
        for key in rng.sample(("amount", "objects", "ops"), rng.randrange(3)):
            op[key] = rng.choice((1, "one", None, [], [{"__type": "Pointer"}], [{"__op": "Delete"}], {}))
        return op
    if kind == 7:
        return {rng.choice(_KEYS): _awkward(rng) if rng.random() < 0.3 else rng.choice(_STRINGS[:10])}
    if kind == 8:
        return {
            rng.choice(("$regex", "$in", "$exists", "$gt", "$select", "$inQuery")): rng.choice(
                ("^(a+)+$", [1, "a"], "yes", {"query": {}}, {"className": "Fuzz", "where": {}}, None, {"$foo": 1})
            )
        }
    if kind == 9:
        return rng.choice(_STRINGS) * rng.choice((1, 3))
    if kind == 10:
        return rng.randint(-(2**70), 2**70)
    return rng.random() * 10 ** rng.randint(-5, 30)


def _mutate(value: Any, rng: random.Random, depth: int = 0) -> Any:
    """`value` with one change somewhere inside it (or in place of it)."""
    if depth > 6 or rng.random() < 0.25:
        return _awkward(rng)
    if isinstance(value, dict) and value:
        copy = dict(value)
        key = rng.choice(list(copy))
        action = rng.randrange(5)
        if action == 0:
            del copy[key]
        elif action == 1:
            copy[rng.choice(_KEYS)] = _awkward(rng)
        elif action == 2:
            copy[key] = [copy[key]]
        else:
            copy[key] = _mutate(copy[key], rng, depth + 1)
        return copy
    if isinstance(value, list) and value:
        copy_list = list(value)
        index = rng.randrange(len(copy_list))
        if rng.random() < 0.3:
            copy_list.append(_awkward(rng))
        else:
            copy_list[index] = _mutate(copy_list[index], rng, depth + 1)
        return copy_list
    return _awkward(rng)


# Requests clients really send -------------------------------------------------------------------------------

_WHERES: list[Any] = [
    {"n": {"$gte": 2}},
    {"title": {"$regex": "^ti", "$options": "i"}},
    {"tags": {"$all": ["a", "b"]}},
    {"tags": {"$in": ["a"]}, "flag": True},
    {"$or": [{"n": 1}, {"title": "t2"}]},
    {"$and": [{"n": {"$exists": True}}, {"n": {"$ne": 3}}]},
    {"$nor": [{"n": 1}]},
    {"when": {"$lt": {"__type": "Date", "iso": "2030-01-01T00:00:00.000Z"}}},
    {"owner": {"__type": "Pointer", "className": "_User", "objectId": "abc"}},
    {"owner": {"$inQuery": {"where": {"username": "fuzzer"}, "className": "_User"}}},
    {"title": {"$select": {"query": {"className": "Fuzz", "where": {}}, "key": "title"}}},
    {"loc": {"$nearSphere": {"__type": "GeoPoint", "latitude": 1, "longitude": 2}, "$maxDistanceInKilometers": 9}},
    {
        "loc": {
            "$within": {
                "$box": [
                    {"__type": "GeoPoint", "latitude": 0, "longitude": 0},
                    {"__type": "GeoPoint", "latitude": 5, "longitude": 5},
                ]
            }
        }
    },
    {"meta.size": {"$gt": 1}},
    {"title": {"$text": {"$search": {"$term": "hello"}}}},
    {"$relatedTo": {"object": {"__type": "Pointer", "className": "Fuzz", "objectId": "x"}, "key": "friends"}},
]


def _object(rng: random.Random) -> dict[str, Any]:
    return {
        "title": rng.choice(("t1", "t2", "hello world")),
        "n": rng.randint(0, 5),
        "flag": rng.random() < 0.5,
        "when": {"__type": "Date", "iso": "2026-12-07T10:00:00.000Z"},
        "tags": ["a", "b"][: rng.randint(0, 2)],
        "meta": {"size": 2, "colour": "red"},
        "loc": {"__type": "GeoPoint", "latitude": 1.5, "longitude": 2.5},
        "ACL": {"*": {"read": True, "write": True}},
    }


def _rest_seed(rng: random.Random, ids: list[str]) -> Case:
    some_id = rng.choice(ids)
    kind = rng.randrange(12)
    if kind == 0:
        return Case("POST", "/classes/Fuzz", body=_object(rng))
    if kind in (1, 2, 3):
        params = {
            "where": json.dumps(rng.choice(_WHERES)),
            "order": rng.choice(("-n", "title,-createdAt", "n,title", "-updatedAt")),
            "limit": str(rng.choice((1, 10, 100))),
            "skip": str(rng.choice((0, 1, 5))),
            "keys": rng.choice(("title,n", "owner.username", "meta.size")),
            "include": rng.choice(("owner", "owner.friend", "*")),
        }
        if rng.random() < 0.3:
            params["count"] = "1"
        return Case("GET", "/classes/Fuzz", params=dict(rng.sample(list(params.items()), rng.randint(1, 6))))
    if kind == 4:
        changes = {
            "n": {"__op": "Increment", "amount": 2},
            "tags": {"__op": "AddUnique", "objects": ["c"]},
            "title": "changed",
            "meta": {"__op": "Delete"},
            "friends": {
                "__op": "AddRelation",
                "objects": [{"__type": "Pointer", "className": "Fuzz", "objectId": some_id}],
            },
        }
        return Case("PUT", f"/classes/Fuzz/{some_id}", body=dict(rng.sample(list(changes.items()), 2)))
    if kind == 5:
        return Case("GET", f"/classes/Fuzz/{some_id}", params={"include": "owner", "keys": "title,owner"})
    if kind == 6:
        return Case("DELETE", f"/classes/Fuzz/{rng.choice(('nope', some_id))}", caller="user")
    if kind == 7:
        requests = [
            {"method": "POST", "path": "/parse/classes/Fuzz", "body": _object(rng)},
            {"method": "PUT", "path": f"/parse/classes/Fuzz/{some_id}", "body": {"n": 3}},
        ]
        return Case("POST", "/batch", body={"requests": requests, "transaction": rng.random() < 0.3})
    if kind == 8:
        name = f"f{rng.randrange(10**6)}"
        return Case("POST", "/users", body={"username": name, "password": "pw", "email": f"{name}@example.com"})
    if kind == 9:
        pipeline = [
            {"$match": {"n": {"$gte": 1}}},
            {"$group": {"_id": "$title", "total": {"$sum": "$n"}}},
            {"$sort": {"total": -1}},
            {"$limit": 5},
        ]
        return Case("GET", "/aggregate/Fuzz", params={"pipeline": json.dumps(pipeline)}, caller="master")
    if kind == 10:
        return Case(
            "PUT",
            "/schemas/Fuzz",
            caller="master",
            body={"className": "Fuzz", "fields": {f"x{rng.randrange(50)}": {"type": "String"}}},
        )
    return Case("POST", "/login", body={"username": "fuzzer", "password": "secret"})


_GRAPHQL: list[tuple[str, Any]] = [
    (
        "query($w: FuzzWhereInput) { fuzzs(where: $w, first: 5, order: [n_DESC]) { count edges { node { "
        "id objectId title n tags when owner { username } } } } }",
        {"w": {"n": {"greaterThan": 1}}},
    ),
    ("query($id: ID!) { fuzz(id: $id) { id title meta loc { latitude longitude } } }", {"id": "ID"}),
    (
        "mutation($f: CreateFuzzFieldsInput) { createFuzz(input: {fields: $f}) { fuzz { id n } } }",
        {"f": {"title": "g", "n": 4, "tags": ["a"], "meta": {"k": 1}}},
    ),
    (
        "mutation($id: ID!, $f: UpdateFuzzFieldsInput) { updateFuzz(input: {id: $id, fields: $f}) { fuzz { n } } }",
        {"id": "ID", "f": {"n": 9}},
    ),
    ("mutation($id: ID!) { deleteFuzz(input: {id: $id}) { fuzz { id } } }", {"id": "ID"}),
    (
        "mutation($u: String!, $p: String!) { logIn(input: {username: $u, password: $p}) { viewer { sessionToken } } }",
        {"u": "fuzzer", "p": "secret"},
    ),
    (
        '{ fuzzs(where: {OR: [{title: {equalTo: "t1"}}, {n: {lessThan: 3}}]}, skip: 1, first: 2) '
        "{ edges { cursor node { title } } pageInfo { hasNextPage endCursor } } }",
        None,
    ),
    ('{ a: fuzzs { count } b: fuzzs(where: {tags: {containedIn: ["a"]}}) { count } viewer { user { id } } }', None),
    ("query { classes { name schemaFields { name } } }", None),
    (
        '{ fuzzs(first: 3, skip: 0, where: {n: {greaterThan: 1, lessThanOrEqualTo: 9}, title: {matchesRegex: "^t"}, '
        'tags: {containedIn: ["a"]}, when: {lessThan: "2030-01-01T00:00:00.000Z"}}, order: [title_ASC]) '
        "{ count edges { node { title n meta } } } }",
        None,
    ),
    (
        'mutation { createFuzz(input: {fields: {title: "lit", n: 2, flag: true, tags: ["a", 1], meta: {k: "v"}, '
        "loc: {latitude: 1, longitude: 2}, ACL: {public: {read: true, write: false}}}}) { fuzz { id } } }",
        None,
    ),
    (
        'mutation { signUp(input: {fields: {username: "u1", password: "p", email: "u1@example.com"}}) '
        "{ viewer { sessionToken user { id } } } }",
        None,
    ),
    (
        '{ fuzzs(where: {owner: {have: {username: {equalTo: "fuzzer"}}}}, last: 2, before: "YXJyYXljb25uZWN0aW9uOjM=") '
        "{ edges { node { id } } } }",
        None,
    ),
    ('{ __type(name: "Fuzz") { fields { name type { name } } } }', None),
    (
        '{ fuzzs(where: {title: {matchesRegex: "^h", options: "i"}, loc: {nearSphere: {latitude: 1, '
        "longitude: 2}}}) { edges { node { title } } } }",
        None,
    ),
]
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\.\.\.|[A-Za-z_$][A-Za-z0-9_]*|-?\d+(?:\.\d+)?|\S')
_INSERTS = (
    *_words("{ } ( ) [ ] : ! $w ... ...F __typename query mutation subscription on null 1e999 # fuzzs count edges"),
    *("node", "id", "99999999999999999999", '"\\u0000"', '"""block"""', "@include(if: true)", "@skip(if: $x)"),
    *("fragment F on Fuzz { id }", "first: 100000", "where: {}", "a: fuzzs { count }", "__schema { types { name } }"),
)


_LITERAL = re.compile(r'"|-?\d|true$|false$|null$')
_LITERALS = (
    *("-1", "0", "99999999999999999999", "1e400", "-1e400", "1.5", "null", "true", '""', '"\\u0000"', '"^(a+)+$"'),
    *('"' + "x" * 3000 + '"', "[1, 2]", "[[[[[]]]]]", "{a: 1}", "{}", '"r:' + "0" * 32 + '"', '"' + "\\" * 9 + '"'),
    *("[" + ", ".join(['"a"'] * 2000) + "]", "{" * 60 + "}" * 60, '{__type: "Date", iso: "x"}', "ASC", "n_DESC"),
)


def _graphql_case(rng: random.Random, ids: list[str]) -> Case:
    document, variables = rng.choice(_GRAPHQL)
    if isinstance(variables, dict) and variables.get("id") == "ID":
        variables = {**variables, "id": rng.choice(ids)}
    tokens = _TOKEN.findall(document)
    literals = [index for index, token in enumerate(tokens) if _LITERAL.match(token)]
    choice = rng.random()
    if choice < 0.3:
        # The syntax itself: most of these never parse, which is what the parser's error paths need.
        action, index = rng.randrange(4), rng.randrange(len(tokens))
        if action == 0 and len(tokens) > 1:
            del tokens[index]
        elif action == 1:
            tokens.insert(index, tokens[index])
        elif action == 2:
            tokens.insert(index, rng.choice(_INSERTS))
        else:
            tokens[index] = rng.choice(_INSERTS)
    elif (choice < 0.65 or variables is None) and literals:
        # A value written in the document: the document still parses, and the resolvers get the odd value.
        for index in rng.sample(literals, min(len(literals), rng.choice((1, 1, 2)))):
            tokens[index] = rng.choice(_LITERALS)
    elif variables is not None:
        variables = _mutate(variables, rng) if rng.random() < 0.9 else _awkward(rng)
    return Case("POST", document=" ".join(tokens), variables=variables, caller=rng.choice(_CALLERS))


_CALLERS = ("public", "public", "user", "user", "master", "bad-token")


def _rest_case(rng: random.Random, ids: list[str]) -> Case:
    case = _rest_seed(rng, ids)
    if case.caller == "public":
        case.caller = rng.choice(_CALLERS)
    action = rng.randrange(10)
    if action < 4 and case.body is not None:
        case.body = _mutate(case.body, rng)
    elif action < 7 and case.params:
        key = rng.choice(list(case.params))
        current = case.params[key]
        try:
            parsed = json.loads(current)
        except ValueError:
            parsed = current
        mutated = _mutate(parsed, rng) if rng.random() < 0.7 else rng.choice(_STRINGS)
        case.params[key] = mutated if isinstance(mutated, str) else json.dumps(mutated)
    elif action == 7:
        case.params[
            rng.choice(
                (
                    "where",
                    "limit",
                    "skip",
                    "order",
                    "keys",
                    "include",
                    "count",
                    "excludeKeys",
                    "readPreference",
                    "hint",
                    "explain",
                    "redirectClassNameForKey",
                )
            )
        ] = str(rng.choice((*_STRINGS, *_NUMBERS)))
    elif action == 8:
        case.raw = rng.choice(
            (
                b'{"a":',
                b"[1,2",
                b"\xff\xfe",
                b"NaN",
                b'{"n": NaN}',
                b'{"n": 1e999}',
                b"null",
                b'"text"',
                b"[]",
                b"{" * 5000,
                b'{"a": "\\ud800"}',
                b"\x00",
            )
        )
    else:
        segments = case.path.split("/")
        segments[-1 if len(segments) < 3 else 2] = rng.choice(
            ("_Bad", "A" * 200, "%00", "..", "1st", "_User", "_Session", "_Role", "_Installation", "Fuzz.x")
        )
        case.path = "/".join(segments)
    return case


def cases(seed: int, count: int, ids: list[str]) -> list[Case]:
    rng = random.Random(seed)
    return [(_graphql_case if rng.random() < 0.4 else _rest_case)(rng, ids) for _ in range(count)]


# Sending ----------------------------------------------------------------------------------------------------


@dataclass
class Callers:
    token: str

    def headers(self, caller: str) -> dict[str, str]:
        headers = {"X-Parse-Application-Id": APP_ID}
        if caller == "master":
            headers["X-Parse-Master-Key"] = MASTER_KEY
        elif caller == "user":
            headers["X-Parse-Session-Token"] = self.token
        elif caller == "bad-token":
            headers["X-Parse-Session-Token"] = "r:" + "f" * 32
        return headers


async def send(client: httpx.AsyncClient, callers: Callers, case: Case) -> httpx.Response:
    headers = {**callers.headers(case.caller), "Content-Type": "application/json"}
    if case.document is not None:
        body = json.dumps({"query": case.document, "variables": case.variables}).encode(errors="surrogatepass")
        return await client.post("/graphql", content=body, headers=headers)
    content = (
        case.raw
        if case.raw is not None
        else (None if case.body is None else json.dumps(case.body).encode(errors="surrogatepass"))
    )
    # Encoded by hand: a lone surrogate goes out as the bytes a careless client would send (invalid UTF-8).
    query = urlencode(case.params, quote_via=lambda text, *_: quote(text, safe="", errors="surrogatepass"))
    url = f"/parse{quote(case.path, safe='/', errors='surrogatepass')}"
    if len(query) > 8000 and case.raw is None:
        # As the JS SDK sends a query too long for a URL: a POST whose body names the method.
        as_body = {**(case.body if isinstance(case.body, dict) else {}), **case.params, "_method": case.method}
        return await client.post(url, content=json.dumps(as_body).encode(errors="surrogatepass"), headers=headers)
    url += f"?{query}" if query else ""
    return await client.request(case.method, url, content=content, headers=headers)


def failure_of(response: httpx.Response) -> str | None:
    """What is wrong with an answer, if anything: a 5xx, or a code 1 in a REST body or a GraphQL error."""
    if response.status_code >= 500:
        return f"status {response.status_code}: {response.text[:300]}"
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("code") == 1:
        return f"code 1: {response.text[:300]}"
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors if isinstance(errors, list) else ():
        if isinstance(error, dict) and (error.get("extensions") or {}).get("code") == 1:
            return f"GraphQL code 1: {json.dumps(error)[:300]}"
    return None


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzz_server(
    database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[httpx.AsyncClient, Callers, list[str]]]:
    settings = make_settings(database_server, "fuzz", tmp_path_factory.mktemp("fuzz"), allow_client_class_creation=True)
    async with running(settings) as (_, client):
        master = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
        fields = {
            "title": {"type": "String"},
            "n": {"type": "Number"},
            "flag": {"type": "Boolean"},
            "when": {"type": "Date"},
            "tags": {"type": "Array"},
            "meta": {"type": "Object"},
            "loc": {"type": "GeoPoint"},
            "owner": {"type": "Pointer", "targetClass": "_User"},
            "friends": {"type": "Relation", "targetClass": "Fuzz"},
        }
        created = await client.post("/parse/schemas/Fuzz", json={"className": "Fuzz", "fields": fields}, headers=master)
        assert created.status_code == 200, created.text
        user = await client.post(
            "/parse/users",
            json={"username": "fuzzer", "password": "secret"},
            headers={"X-Parse-Application-Id": APP_ID},
        )
        token, user_id = user.json()["sessionToken"], user.json()["objectId"]
        owner = {"__type": "Pointer", "className": "_User", "objectId": user_id}
        rng = random.Random(SEED)
        ids = []
        for _ in range(12):
            made = await client.post("/parse/classes/Fuzz", json={**_object(rng), "owner": owner}, headers=master)
            ids.append(made.json()["objectId"])
        yield client, Callers(token), ids


@pytest.mark.asyncio(loop_scope="session")
async def test_thousands_of_mutated_requests_get_no_5xx_no_code_1_and_no_hang(
    fuzz_server: tuple[httpx.AsyncClient, Callers, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    client, callers, ids = fuzz_server
    all_cases = cases(SEED, CASES, ids)
    chosen: list[tuple[int, Case]] = list(enumerate(all_cases))
    if ONLY is not None:
        chosen = [chosen[int(ONLY)]]
    failures: list[str] = []
    caplog.set_level(logging.ERROR)
    for number, case in chosen:
        caplog.clear()
        try:
            response = await asyncio.wait_for(send(client, callers, case), _DEADLINE)
        except TimeoutError:
            failures.append(f"case {number}: no answer in {_DEADLINE:.0f}s: {case.describe()}")
            continue
        problem = failure_of(response)
        logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        if problem is None and logged:
            problem = f"logged an error: {logged[0][:300]}"
        if problem is not None:
            failures.append(f"case {number}: {problem}\n    {case.describe()}")
        if len(failures) >= _MAX_FAILURES:
            break
    health = await client.get("/parse/health")
    assert health.status_code == 200
    assert failures == [], f"seed {SEED}: {len(failures)} failures (PARSEQL_FUZZ_CASE=<n> replays one)\n" + "\n".join(
        failures
    )


def test_the_cases_are_the_same_for_the_same_seed() -> None:
    ids = ["a", "b"]
    first = [case.describe() for case in cases(7, 200, ids)]
    assert first == [case.describe() for case in cases(7, 200, ids)]
    assert first != [case.describe() for case in cases(8, 200, ids)]
