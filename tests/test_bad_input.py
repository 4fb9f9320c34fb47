"""Bad input: Parse's code and a clear message, nothing written, and the server keeps serving."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest

from app.embedded import EmbeddedDatabase
from tests.conftest import Api, make_settings, mongodb_only, running

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_body_over_the_limit_is_refused_and_writes_nothing(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "limit", tmp_path, allow_client_class_creation=True, max_upload_size=1024)
    async with running(settings) as (_, client):
        api = Api(client)
        response = await api.post("/classes/Big", {"text": "x" * 2000})
        assert response.status_code == 413
        assert response.json() == {"error": "request entity too large"}
        assert (await api.get("/classes/Big")).json() == {"results": []}
        assert (await api.post("/classes/Big", {"text": "small"})).status_code == 201


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        ({"a.b": {"$x": 1}}, 121, "Nested keys should not contain the '$' or '.' characters"),
        ({"n": {"__op": "Increment", "amount": "one"}}, 107, "incrementing must provide a number"),
        ({"when": {"__type": "Date", "iso": "yesterday"}}, 111, "This is not a valid Date"),
        (
            {"where": {"__type": "GeoPoint", "latitude": 91, "longitude": 0}},
            111,
            "GeoPoint latitude out of bounds: 91 > 90.0.",
        ),
        ({"1st": 1}, 105, "Invalid field name: 1st."),
        (
            {"o": {"__proto__": {"admin": True}}},
            105,
            'Prohibited keyword in request data: {"key":"__proto__"}.',
        ),
        ({"ACL": {"*": {"read": "yes"}}}, 123, "Invalid ACL: *.read must be true or false."),
    ],
)
async def test_bad_values_get_parse_codes_and_write_nothing(
    api: Api, body: dict[str, object], code: int, message: str
) -> None:
    response = await api.post("/classes/Strict", body)
    assert response.status_code == 400
    assert response.json() == {"code": code, "error": message}
    assert (await api.get("/classes/Strict")).json() == {"results": []}


async def test_a_type_change_is_refused_after_the_first_write(api: Api) -> None:
    assert (await api.post("/classes/Typed", {"n": 1})).status_code == 201
    response = await api.post("/classes/Typed", {"n": "one"})
    assert response.json() == {
        "code": 111,
        "error": "schema mismatch for Typed.n; expected Number but got String",
    }


async def test_malformed_json_is_a_clear_error(api: Api) -> None:
    response = await api.client.post("/parse/classes/Strict", content=b'{"a": ', headers=api.headers())
    assert response.status_code == 400
    assert response.json()["code"] == 107
    assert response.json()["error"].startswith("Invalid JSON: ")


async def test_a_failing_database_is_answered_as_code_1_without_a_trace_and_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = EmbeddedDatabase(tmp_path / "doomed")
    uri = database.start()
    settings = make_settings(uri.rsplit("/", 1)[0], "doomed", tmp_path, database_timeout=0.5)
    try:
        async with running(settings) as (_, client):
            api = Api(client)
            assert (await api.get("/classes/Anything", master=True)).status_code == 200
            database.stop()
            caplog.clear()
            with caplog.at_level(logging.ERROR):
                response = await api.get("/classes/Anything", master=True)
                assert (await api.get("/classes/Anything", master=True)).status_code == 503
            assert response.status_code == 503
            assert response.json() == {"code": 1, "error": "The database is unavailable; try again shortly."}
            errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
            assert len(errors) == 1 and errors[0].exc_info is None
            assert (await api.client.get("/parse/health")).json() == {"status": "error"}
    finally:
        database.stop()


# Hardening (issue 11): input that answered 500 gets Parse's code, or Parse's answer where Parse has a good one.


def nested(depth: int, leaf: object = 1) -> object:
    """`depth` objects, one inside the other: `{"a": {"a": … leaf}}`."""
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def either_nested(depth: int) -> dict[str, object]:
    """A `where` with `$or` nested `depth` deep around one constraint."""
    where: dict[str, object] = {"n": 1}
    for _ in range(depth):
        where = {"$or": [where]}
    return where


async def count_of(api: Api, class_name: str) -> int:
    response = await api.get(f"/classes/{class_name}", master=True, params={"count": 1, "limit": 0})
    return int(response.json().get("count", 0))


@pytest.mark.parametrize(
    ("query", "code", "message"),
    [
        ("limit=1e400", 102, "limit must be a finite number"),
        ("skip=Infinity", 102, "skip must be a finite number"),
        ("limit=abc", 102, "limit must be a number"),
        ("skip=-1", 102, "skip must be a non-negative number"),
        ("where=" + quote(json.dumps(either_nested(300))), 107, "where parameter is nested deeper than 100 levels"),
        ("where=notjson", 107, "where parameter is not valid JSON"),
        ("where=%5B1%5D", 105, "Invalid key name: 0"),
        ("where=1", 102, "where must be a JSON object"),
        ("order=%00", 105, "Invalid field name: \x00."),
        ("order=$n", 105, "Invalid field name: $n."),
        ("order=%7B%7D", 105, "Invalid field name: [object Object]."),
        ("%00=1", 102, "Invalid parameter for query: \x00"),
        ("keys=" + quote(json.dumps(nested(101))), 107, "keys parameter is nested deeper than 100 levels"),
        (
            "where=" + quote(json.dumps({"n": {"$select": {"query": {"className": "Finds"}, "key": ["n"]}}})),
            102,
            "improper usage of $select: key and className must be strings",
        ),
        (
            "where=" + quote(json.dumps({"n": {"$dontSelect": {"query": {"className": {"a": 1}}, "key": "n"}}})),
            102,
            "improper usage of $dontSelect: key and className must be strings",
        ),
    ],
)
@pytest.mark.parametrize("master", [False, True], ids=["public", "master"])
async def test_bad_find_parameters_get_parse_codes_for_every_caller(
    api: Api, query: str, code: int, message: str, master: bool
) -> None:
    if await count_of(api, "Finds") == 0:
        await api.post("/classes/Finds", {"n": 1})
    response = await api.client.get(f"/parse/classes/Finds?{query}", headers=api.headers(master=master))
    assert response.status_code == 400
    assert response.json() == {"code": code, "error": message}


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        # Parse passes any number on: a limit past 64 bits reads everything, such a skip nothing.
        ("limit=99999999999999999999", ["one", "two"]),
        ("skip=99999999999999999999", []),
        ("skip=1e20", []),
        ("limit=9223372036854775807", ["one", "two"]),
    ],
)
async def test_huge_limits_and_skips_answer_as_parse_does(api: Api, query: str, ids: list[str]) -> None:
    if await count_of(api, "Paged") == 0:
        for name in ("one", "two"):
            await api.post("/classes/Paged", {"name": name})
    response = await api.client.get(f"/parse/classes/Paged?order=name&{query}", headers=api.headers())
    assert response.status_code == 200
    assert [row["name"] for row in response.json()["results"]] == ids


@pytest.mark.parametrize("keys", ["%00", "a%00b", "%01", "$name", "%00.name"])
async def test_keys_that_cannot_name_a_field_select_nothing_more(api: Api, keys: str) -> None:
    created = (await api.post("/classes/Keyed", {"name": "x"})).json()
    response = await api.client.get(f"/parse/classes/Keyed/{created['objectId']}?keys={keys}", headers=api.headers())
    assert response.status_code == 200
    assert set(response.json()) == {"objectId", "createdAt", "updatedAt"}
    found = await api.client.get(f"/parse/classes/Keyed?keys={keys}", headers=api.headers())
    assert found.status_code == 200 and all("name" not in row for row in found.json()["results"])


async def test_flags_are_read_with_javascripts_truthiness_as_parse_reads_them(api: Api) -> None:
    await api.post("/classes/Flagged", {"n": 1})
    for value, counted in (("abc", True), ("%7B%7D", True), ("%5B%5D", True), ("0", False), ("false", False)):
        response = await api.client.get(f"/parse/classes/Flagged?limit=0&count={value}", headers=api.headers())
        assert ("count" in response.json()) is counted, value


DEEP = nested(500)
_BAD_WRITES = [
    ({"o": DEEP}, 107, "Invalid JSON: nested deeper than 100 levels"),
    ({"o": nested(100)}, 107, "Invalid JSON: nested deeper than 100 levels"),  # 101 levels with its object
    ({"o." + "a." * 120 + "b": 1}, 107, "Objects cannot be nested deeper than 100 levels."),
    ({"o." + "a." * 60 + "b": nested(40)}, 107, "Objects cannot be nested deeper than 100 levels."),
    ({"o": {"a\x00": 1}}, 121, "Nested keys should not contain the null character"),
    ({"o.a\x00": 1}, 105, "Invalid field name: o.a\x00."),
    ({"o..a": 1}, 105, "Invalid field name: o..a."),
    ({"o.": 1}, 105, "Invalid field name: o.."),
    ({"ACL": {"__op": "Increment", "amount": 1}}, -1, "ACL must be a Parse ACL."),
    ({"ACL": {"__op": "Add", "objects": [1]}}, -1, "ACL must be a Parse ACL."),
    (
        {"ACL": {"\x00": {"read": True}}},
        123,
        "Invalid ACL: a user id or role name cannot contain a null character.",
    ),
    ({"t": {"__type": "Foo"}}, 111, "This is not a valid Foo"),
    ({"n": {"__op": "Foo"}}, 108, "The Foo operator is not supported yet."),
    ({"n": {"__op": "Batch", "ops": 1}}, 108, "The Batch operator is not supported yet."),
]
_BAD_RAW_WRITES = [
    ("[" * 500 + "]" * 500, 107, "Invalid JSON: nested deeper than 100 levels"),
    ('{"o":' * 3000 + "1" + "}" * 3000, 107, "Invalid JSON: nested deeper than 100 levels"),
    ("1", 107, "The request body must be a JSON object."),
    ('"x"', 107, "The request body must be a JSON object."),
    ('{"n": NaN}', 107, "Invalid JSON: "),
    ('{"n": 1e400}', 107, "Invalid JSON: "),
    ('{"s": "\\ud800"}', 107, "Invalid JSON: "),
]


def _raw_writes() -> list[tuple[str, int, str]]:
    return [(json.dumps(body), code, message) for body, code, message in _BAD_WRITES] + _BAD_RAW_WRITES


@pytest.mark.parametrize(("raw", "code", "message"), _raw_writes())
async def test_bad_bodies_of_a_create_get_parse_codes_and_write_nothing(
    api: Api, raw: str, code: int, message: str
) -> None:
    await api.post("/classes/Written", {"o": {"x": 1}, "l": [1], "n": 1, "s": "s"})
    before = await count_of(api, "Written")
    response = await api.client.post("/parse/classes/Written", content=raw, headers=api.headers())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["error"] == message if not message.endswith(": ") else body["error"].startswith(message)
    assert await count_of(api, "Written") == before


@pytest.mark.parametrize(("raw", "code", "message"), _raw_writes())
async def test_bad_bodies_of_an_update_get_parse_codes_and_change_nothing(
    api: Api, raw: str, code: int, message: str
) -> None:
    created = (await api.post("/classes/Updated", {"o": {"x": 1}, "l": [1], "n": 1, "s": "s"})).json()
    path = f"/classes/Updated/{created['objectId']}"
    before = (await api.get(path, master=True)).json()
    response = await api.client.put(f"/parse{path}", content=raw, headers=api.headers())
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert body["error"] == message if not message.endswith(": ") else body["error"].startswith(message)
    assert (await api.get(path, master=True)).json() == before


async def test_an_object_nested_to_the_bound_is_stored_and_read_back(api: Api) -> None:
    deepest = nested(99)  # 100 levels with the object that holds it: what MongoDB stores
    created = await api.post("/classes/Deepest", {"o": deepest})
    assert created.status_code == 201
    path = f"/classes/Deepest/{created.json()['objectId']}"
    assert (await api.get(path)).json()["o"] == deepest
    updated = await api.put(path, {"o.a": nested(97), "l": {"__op": "Add", "objects": [nested(97)]}})
    assert updated.status_code == 200
    assert (await api.get(path)).json()["o"] == {"a": nested(97)}
    found = await api.get("/classes/Deepest", params={"where": {"o": {"a": nested(97)}}})
    assert found.status_code == 400  # an object is not a query value (Parse's rule), but no 500 at the bound
    page = await api.client.post(
        "/graphql", json={"query": "{ deepests { edges { node { o } } } }"}, headers=api.headers()
    )
    assert page.json()["data"]["deepests"]["edges"][0]["node"]["o"] == {"a": nested(97)}


@pytest.mark.parametrize("master", [False, True], ids=["public", "master"])
async def test_an_or_nested_300_deep_is_refused_in_rest_and_graphql(api: Api, master: bool) -> None:
    await api.post("/classes/Either", {"n": 1})
    response = await api.get("/classes/Either", master=master, params={"where": either_nested(300)})
    assert response.status_code == 400
    assert response.json() == {"code": 107, "error": "where parameter is nested deeper than 100 levels"}
    as_body = await api.post("/classes/Either", {"_method": "GET", "where": either_nested(300)}, master=master)
    assert as_body.json() == {"code": 107, "error": "Invalid JSON: nested deeper than 100 levels"}

    variables: dict[str, object] = {"n": {"equalTo": 1}}
    for _ in range(300):
        variables = {"OR": [variables]}
    query = "query($w: EitherWhereInput) { eithers(where: $w) { count } }"
    graphql = await api.client.post(
        "/graphql", json={"query": query, "variables": {"w": variables}}, headers=api.headers(master=master)
    )
    assert graphql.status_code == 400
    assert graphql.json() == {
        "errors": [{"message": "Invalid JSON: nested deeper than 100 levels", "extensions": {"code": 107}}]
    }
    inline = "{ eithers(where: " + "{OR: [" * 60 + "{n: {equalTo: 1}}" + "]}" * 60 + ") { count } }"
    graphql = await api.client.post("/graphql", json={"query": inline}, headers=api.headers(master=master))
    errors = graphql.json()["errors"]
    # Past Parse's --query-depth (10) a client is refused by that limit first; the master key, by the bound.
    expected = (
        ("Queries cannot be nested deeper than 100 levels.", 107)
        if master
        else ("Query condition nesting depth exceeds maximum allowed depth of 10", 102)
    )
    assert [(error["message"], error["extensions"]["code"]) for error in errors] == [expected]
    inline = "{ eithers(where: " + "{OR: [" * 300 + "{n: {equalTo: 1}}" + "]}" * 300 + ") { count } }"
    graphql = await api.client.post("/graphql", json={"query": inline}, headers=api.headers(master=master))
    assert graphql.status_code == 400
    assert graphql.json()["errors"][0]["message"] == "Syntax Error: Document is nested too deeply. Parsing aborted."


async def test_a_graphql_mutation_nested_too_deep_is_refused_and_writes_nothing(api: Api) -> None:
    await api.post("/classes/Mutated", {"o": {"x": 1}})
    before = await count_of(api, "Mutated")
    mutation = "mutation($o: Object) { createMutated(input: {fields: {o: $o}}) { mutated { objectId } } }"
    response = await api.client.post(
        "/graphql", json={"query": mutation, "variables": {"o": DEEP}}, headers=api.headers()
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": "Invalid JSON: nested deeper than 100 levels", "extensions": {"code": 107}}]
    }
    literal = "{a: " * 150 + "1" + "}" * 150
    inline = "mutation { createMutated(input: {fields: {o: " + literal + "}}) { mutated { objectId } } }"
    response = await api.client.post("/graphql", json={"query": inline}, headers=api.headers())
    body = response.json()
    assert body["data"] == {"createMutated": None}
    assert [(e["message"], e["extensions"]["code"]) for e in body["errors"]] == [
        ("Objects cannot be nested deeper than 100 levels.", 107)
    ]
    created = (await api.post("/classes/Mutated", {"o": {"x": 1}})).json()
    update = "mutation($id: ID!, $o: Object) { updateMutated(input: {id: $id, fields: {o: $o}}) { mutated { o } } }"
    response = await api.client.post(
        "/graphql",
        json={"query": update, "variables": {"id": created["objectId"], "o": DEEP}},
        headers=api.headers(),
    )
    assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == 107
    assert await count_of(api, "Mutated") == before + 1
    assert (await api.get(f"/classes/Mutated/{created['objectId']}")).json()["o"] == {"x": 1}


async def test_deleting_the_acl_leaves_the_object_to_the_master_key_as_parse_does(api: Api) -> None:
    created = await api.post("/classes/Locked", {"n": 1, "ACL": {"__op": "Delete"}})
    assert created.status_code == 201
    path = f"/classes/Locked/{created.json()['objectId']}"
    assert (await api.get(path, master=True)).json()["ACL"] == {}
    assert (await api.get(path)).status_code == 404

    public = (await api.post("/classes/Locked", {"n": 2, "ACL": {"*": {"read": True, "write": True}}})).json()
    path = f"/classes/Locked/{public['objectId']}"
    assert (await api.put(path, {"ACL": {"__op": "Delete"}})).status_code == 200
    assert (await api.get(path, master=True)).json()["ACL"] == {}
    assert (await api.get(path)).status_code == 404


async def test_a_null_acl_leaves_an_object_as_it_was_as_parse_does(api: Api) -> None:
    private = {"someone": {"read": True, "write": True}}
    created = (await api.post("/classes/Kept", {"n": 1, "ACL": private}, master=True)).json()
    path = f"/classes/Kept/{created['objectId']}"
    assert (await api.put(path, {"ACL": None}, master=True)).status_code == 200
    assert (await api.get(path, master=True)).json()["ACL"] == private
    assert (await api.get(path)).status_code == 404  # still not public
    public = await api.post("/classes/Kept", {"n": 2, "ACL": None})
    assert (await api.get(f"/classes/Kept/{public.json()['objectId']}")).status_code == 200


async def test_an_integer_past_64_bits_is_stored_as_the_number_parse_stores(api: Api) -> None:
    created = await api.client.post(
        "/parse/classes/Huge", content=b'{"n": 18446744073709551615}', headers=api.headers()
    )
    assert created.status_code == 201
    path = f"/classes/Huge/{created.json()['objectId']}"
    assert (await api.get(path)).json()["n"] == 1.8446744073709552e19
    found = await api.client.get(
        "/parse/classes/Huge?where=%7B%22n%22%3A%7B%22%24gte%22%3A18446744073709551615%7D%7D", headers=api.headers()
    )
    assert [row["objectId"] for row in found.json()["results"]] == [created.json()["objectId"]]
    raised = await api.client.put(
        f"/parse{path}", content=b'{"n": {"__op": "Increment", "amount": 18446744073709551615}}', headers=api.headers()
    )
    assert raised.status_code == 200


MONGODB_PIPELINE = mongodb_only("MongoDB's own answer to a pipeline")


@pytest.mark.parametrize(
    ("pipeline", "code", "message"),
    [
        pytest.param([{"$foo": {}}], 102, "Unrecognized pipeline stage name: '$foo'", marks=MONGODB_PIPELINE),
        ([1], 102, "Pipeline stages should only have one key but found ."),
        ([{"$match": {}, "$limit": 1}], 102, "Pipeline stages should only have one key but found $match, $limit."),
        ([{"$group": {"n": {"$sum": 1}}}], 102, "Invalid parameter for query: group. Missing key _id"),
        pytest.param([{"$match": {"n": {"$foo": 1}}}], 102, "unknown operator: $foo", marks=MONGODB_PIPELINE),
        pytest.param(
            [{"$limit": -1}],
            102,
            "invalid argument to $limit stage: Expected a non-negative number in: $limit: -1",
            marks=MONGODB_PIPELINE,
        ),
        pytest.param(
            [{"$skip": "x"}],
            102,
            'invalid argument to $skip stage: Expected a number in: $skip: "x"',
            marks=MONGODB_PIPELINE,
        ),
        pytest.param(
            [{"$project": {"a": {"$foo": 1}}}],
            102,
            "Invalid $project :: caused by :: Unknown expression $foo",
            marks=MONGODB_PIPELINE,
        ),
        pytest.param([{"$project": 1}], 102, "$project specification must be an object", marks=MONGODB_PIPELINE),
        pytest.param([{"$project": []}], 102, "$project specification must be an object", marks=MONGODB_PIPELINE),
        pytest.param(
            [{"$match": {"\x00": 1}}],
            102,
            "Invalid document: Key names must not contain the NULL byte",
            marks=MONGODB_PIPELINE,
        ),
        pytest.param(
            [{"$sort": {"\x00": 1}}],
            102,
            "Invalid document: Key names must not contain the NULL byte",
            marks=MONGODB_PIPELINE,
        ),
        pytest.param(
            [{"$limit": 18446744073709551615}],
            102,
            "A number in the pipeline does not fit in 64 bits.",
            marks=MONGODB_PIPELINE,
        ),
        ([{"$match": either_nested(60)}], 107, "pipeline parameter is nested deeper than 100 levels"),
    ],
)
async def test_malformed_aggregate_stages_get_a_4xx_with_parses_code_and_a_clear_message(
    api: Api, pipeline: list[object], code: int, message: str
) -> None:
    await api.post("/classes/Aggregated", {"n": 1})
    response = await api.client.get(
        "/parse/aggregate/Aggregated", params={"pipeline": json.dumps(pipeline)}, headers=api.headers(master=True)
    )
    assert response.status_code == 400
    assert response.json() == {"code": code, "error": message}


@mongodb_only("BSON types made by a pipeline")
async def test_aggregate_results_of_types_parse_has_not_are_answered_as_extended_json(api: Api) -> None:
    await api.post("/classes/Typed2", {"n": 1})
    pipeline = [
        {"$project": {"id": {"$toObjectId": "5f1d7f7f7f7f7f7f7f7f7f7f"}, "d": {"$toDecimal": "1.5"}}},
    ]
    response = await api.client.get(
        "/parse/aggregate/Typed2", params={"pipeline": json.dumps(pipeline)}, headers=api.headers(master=True)
    )
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == {"$oid": "5f1d7f7f7f7f7f7f7f7f7f7f"} and row["d"] == {"$numberDecimal": "1.5"}


async def test_a_class_name_that_is_not_a_string_is_refused_with_103(api: Api) -> None:
    response = await api.post("/schemas", {"className": 5}, master=True)
    assert response.status_code == 400
    assert response.json() == {
        "code": 103,
        "error": "Invalid classname: 5, classnames can only have alphanumeric characters and _, "
        "and must start with an alpha character ",
    }


async def test_a_byte_range_of_thousands_of_digits_is_past_the_end(api: Api) -> None:
    headers = {**api.headers(master=True), "Content-Type": "text/plain"}
    uploaded = (await api.client.post("/parse/files/r.txt", content=b"hello world", headers=headers)).json()
    path = uploaded["url"].split("/parse", 1)[1]
    far = await api.client.get(f"/parse{path}", headers={"Range": "bytes=" + "9" * 5000 + "-"})
    assert far.status_code == 416
    whole = await api.client.get(f"/parse{path}", headers={"Range": "bytes=0-" + "9" * 5000})
    assert whole.status_code == 206 and whole.content == b"hello world"


async def test_a_cursor_past_64_bits_is_an_empty_page_as_in_parse(api: Api) -> None:
    await api.post("/classes/Cursored", {"n": 1})
    for digits in ("99999999999999999999", "9" * 5000):
        after = base64.b64encode(f"arrayconnection:{digits}".encode()).decode()
        query = '{ cursoreds(after: "' + after + '") { count edges { cursor } } }'
        response = await api.client.post("/graphql", json={"query": query}, headers=api.headers())
        assert response.json() == {"data": {"cursoreds": {"count": 1, "edges": []}}}
