"""Tests of the GraphQL golden kit itself: global-id normalization, running, and the scenario list.

Replaying the goldens against ParseQL is the GraphQL server's own test; these only check the kit.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx
from graphql import build_client_schema, build_schema, print_schema

from tests.graphql.runner import (
    GraphQLNormalizer,
    compare,
    decode_global_id,
    expand_gids,
    global_id,
    run_scenario,
)
from tests.graphql.sample_classes import SAMPLE_CLASSES, with_dependencies
from tests.graphql.scenarios import SCENARIOS

GOLDEN = Path(__file__).parent / "golden"


def test_global_ids_decode_to_class_and_object_id_but_cursors_do_not() -> None:
    assert global_id("GameScore", "Xy12345678") == "R2FtZVNjb3JlOlh5MTIzNDU2Nzg="
    assert decode_global_id("R2FtZVNjb3JlOlh5MTIzNDU2Nzg=") == ("GameScore", "Xy12345678")
    assert decode_global_id(global_id("_User", "abcdefghij")) == ("_User", "abcdefghij")
    assert decode_global_id("YXJyYXljb25uZWN0aW9uOjA=") is None  # arrayconnection:0, a cursor
    assert decode_global_id("aGVsbG8=") is None  # "hello": Bytes, not an id
    assert decode_global_id("Xy12345678") is None


def test_global_ids_share_the_object_id_numbering() -> None:
    normalizer = GraphQLNormalizer(literals=set())
    body = {"data": {"a": {"id": global_id("GameScore", "Xy12345678"), "objectId": "Xy12345678"}, "b": "Zz98765432"}}
    normalizer.collect(body)
    normalizer.register("Zz98765432")
    assert normalizer.value(body) == {"data": {"a": {"id": "<gid:GameScore:<id1>>", "objectId": "<id1>"}, "b": "<id2>"}}
    sent = f'{{ node(id: "{global_id("GameScore", "Xy12345678")}") {{ id }} }}'
    assert normalizer.text(sent) == '{ node(id: "<gid:GameScore:<id1>>") { id } }'
    assert normalizer.text(global_id("Player", "AAAAAAAAAA")) == "<gid:Player:AAAAAAAAAA>"


def test_ids_and_dates_written_inside_a_document_are_literals() -> None:
    normalizer = GraphQLNormalizer(
        literals={'mutation { x(link: "AAAAAAAAAA", at: "2000-01-01T00:00:00.000Z", day: "2020-01-01") }'}
    )
    normalizer.collect({"objectId": "AAAAAAAAAA"})
    assert normalizer.text("AAAAAAAAAA") == "AAAAAAAAAA"
    assert normalizer.text("2000-01-01T00:00:00.000Z") == "2000-01-01T00:00:00.000Z"
    assert normalizer.text("2020-01-01T00:00:00.000Z") == "2020-01-01T00:00:00.000Z"
    assert normalizer.text("2026-11-22T07:12:29.877Z") == "<date>"


def test_server_url_file_prefixes_and_stack_frames_are_normalized() -> None:
    normalizer = GraphQLNormalizer(literals=set(), server_url="http://127.0.0.1:1341/")
    url = "http://127.0.0.1:1341/parse/files/app/0123456789abcdef0123456789abcdef_a.txt"
    assert normalizer.text(url) == "<server>/parse/files/app/<hex>_a.txt"
    error = {"message": "x", "extensions": {"code": 1, "stacktrace": ["GraphQLError: x", "    at f (/tmp/a.js:1:2)"]}}
    assert normalizer.value(error) == {"message": "x", "extensions": {"code": 1, "stacktrace": ["GraphQLError: x"]}}


def test_gid_placeholders_expand_from_saved_ids() -> None:
    step = {"body": {"query": '{ node(id: "{gid:Player:p}") { id } }'}}
    assert expand_gids(step, {"p": "Xy12345678"}) == {
        "body": {"query": f'{{ node(id: "{global_id("Player", "Xy12345678")}") {{ id }} }}'}
    }


def test_compare_ignores_stacktraces_unless_asked() -> None:
    want = [{"request": "POST /graphql", "status": 400, "body": {"errors": [{"extensions": {"stacktrace": ["A"]}}]}}]
    got = [{"request": "POST /graphql", "status": 400, "body": {"errors": [{"extensions": {}}]}}]
    assert compare(want, got) == []
    assert compare(want, got, stacktrace=True)


def test_run_scenario_records_the_operation_and_normalizes_ids() -> None:
    object_id = "Ab34567890"

    def answer(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        if "createGameScore" in sent["query"]:
            node = {"id": global_id("GameScore", object_id), "objectId": object_id}
            return httpx.Response(200, json={"data": {"createGameScore": {"gameScore": node}}})
        assert sent["variables"] == {"id": global_id("GameScore", object_id)}
        return httpx.Response(200, json={"data": {"node": {"id": sent["variables"]["id"]}}})

    scenario = {
        "name": "k",
        "steps": [
            {
                "method": "POST",
                "path": "/graphql",
                "body": {"query": "mutation { createGameScore(input: {}) { gameScore { id objectId } } }"},
                "save": {"g": "data.createGameScore.gameScore.objectId"},
            },
            {
                "method": "POST",
                "path": "/graphql",
                "body": {
                    "query": "query N($id: ID!) { node(id: $id) { id } }",
                    "variables": {"id": "{gid:GameScore:g}"},
                },
            },
        ],
    }

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://peer") as client:
            return await run_scenario(client, scenario)

    transcript = asyncio.run(run())
    assert transcript[0]["body"] == {
        "data": {"createGameScore": {"gameScore": {"id": "<gid:GameScore:<id1>>", "objectId": "<id1>"}}}
    }
    assert transcript[1]["graphql"] == {
        "query": "query N($id: ID!) { node(id: $id) { id } }",
        "variables": {"id": "<gid:GameScore:<id1>>"},
    }
    assert transcript[1]["body"] == {"data": {"node": {"id": "<gid:GameScore:<id1>>"}}}


def test_sample_classes_cover_every_field_type() -> None:
    types = {field["type"] for definition in SAMPLE_CLASSES for field in definition["fields"].values()}
    assert types == {
        "String", "Number", "Boolean", "Date", "Object", "Array", "Pointer",
        "Relation", "File", "GeoPoint", "Polygon", "Bytes",
    }  # fmt: skip
    assert [d["className"] for d in with_dependencies("fan_entry")] == ["Team", "Player", "GameScore", "fan_entry"]


def test_scenarios_are_named_uniquely_and_start_with_their_classes() -> None:
    names = [scenario["name"] for scenario in SCENARIOS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in names)
    for scenario in SCENARIOS:
        requests = [f"{step['method']} {step['path']}" for step in scenario["steps"]]
        assert all(step["path"].startswith(("/graphql", "/parse/")) for step in scenario["steps"]), scenario["name"]
        created = [request for request in requests if re.fullmatch(r"POST /parse/schemas/\w+", request)]
        assert requests[: len(created)] == created, f"{scenario['name']}: create the sample classes first"


def test_every_scenario_has_a_golden_transcript_with_one_entry_per_step() -> None:
    for scenario in SCENARIOS:
        golden = json.loads((GOLDEN / f"{scenario['name']}.json").read_text(encoding="utf-8"))
        assert golden["scenario"] == scenario["name"]
        assert len(golden["transcript"]) == len(scenario["steps"]), scenario["name"]


def test_the_golden_sdl_is_the_printed_introspection() -> None:
    introspection = json.loads((GOLDEN / "parse-9.10-introspection.json").read_text(encoding="utf-8"))
    sdl = (GOLDEN / "parse-9.10.graphql").read_text(encoding="utf-8")
    assert print_schema(build_client_schema(introspection["data"])) + "\n" == sdl
    assert build_schema(sdl).get_type("GameScore") is not None
