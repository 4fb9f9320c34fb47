"""Tests of the compatibility kit itself: normalization, comparison, running, and the scenario list."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.compat.runner import Normalizer, compare, run_scenario, unorder
from tests.compat.scenarios import SCENARIOS

GOLDEN = Path(__file__).parent / "golden"


def test_server_ids_are_numbered_in_order_of_first_appearance() -> None:
    normalizer = Normalizer(literals={"abcdefghij"})
    body = {"results": [{"objectId": "Xy12345678"}, {"objectId": "Zz98765432", "p": {"objectId": "abcdefghij"}}]}
    normalizer.collect(body)
    assert normalizer.value(body) == {
        "results": [{"objectId": "<id1>"}, {"objectId": "<id2>", "p": {"objectId": "abcdefghij"}}]
    }
    assert normalizer.text("CmpX$Zz98765432") == "CmpX$<id2>"


def test_dates_a_request_sent_are_kept_and_generated_ones_masked() -> None:
    normalizer = Normalizer(literals={"2020-01-01T00:00:00Z"})
    assert normalizer.text("2020-01-01T00:00:00.000Z") == "2020-01-01T00:00:00.000Z"
    assert normalizer.text("2026-11-22T07:12:29.877Z") == "<date>"
    assert normalizer.text("r:" + "0a" * 16) == "<token>"


def test_location_is_reduced_to_a_normalized_path() -> None:
    normalizer = Normalizer(literals=set())
    normalizer.collect_location("http://127.0.0.1:1339/parse/classes/CmpA/N85yNVZikk")
    assert normalizer.location("http://127.0.0.1:1339/parse/classes/CmpA/N85yNVZikk") == "/parse/classes/CmpA/<id1>"


def test_unorder_sorts_only_the_named_path() -> None:
    body = {"fields": {"b": 1, "a": 2}, "results": [3, 1]}
    assert list(unorder(body, ["fields"])["fields"]) == ["a", "b"]
    assert unorder(body, ["results"])["results"] == [1, 3]
    assert unorder(body, ["fields"])["results"] == [3, 1]


def test_compare_reports_status_values_and_key_order_separately() -> None:
    want = [{"request": "GET /parse/x", "status": 200, "body": {"a": 1, "b": True}, "location": None}]
    got = [{"request": "GET /parse/x", "status": 400, "body": {"b": 1, "a": 1}, "location": None}]
    problems = compare(want, got)
    assert any("status: expected 200, got 400" in p for p in problems)
    assert any("body.b: expected true, got 1" in p for p in problems)
    assert any("key order in body" in p for p in problems)
    assert compare(want, want) == []


def test_run_scenario_substitutes_saved_values_and_normalizes() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            headers = {"Location": "http://peer/parse/classes/CmpK/Ab34567890"}
            return httpx.Response(
                201, json={"objectId": "Ab34567890", "createdAt": "2026-01-01T00:00:00.000Z"}, headers=headers
            )
        return httpx.Response(200, json={"objectId": "Ab34567890", "n": 1})

    scenario = {
        "name": "k",
        "steps": [
            {"method": "POST", "path": "/parse/classes/CmpK", "body": {"n": 1}, "save": {"a": "objectId"}},
            {
                "method": "GET",
                "path": "/parse/classes/CmpK/{a}",
                "query": {"keys": "n", "where": {"n": 1}},
                "master": True,
            },
        ],
    }

    async def run() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer), base_url="http://peer") as client:
            return await run_scenario(client, scenario)

    transcript = asyncio.run(run())
    assert transcript[0] == {
        "request": "POST /parse/classes/CmpK",
        "status": 201,
        "body": {"objectId": "<id1>", "createdAt": "<date>"},
        "location": "/parse/classes/CmpK/<id1>",
    }
    assert transcript[1]["request"] == "GET /parse/classes/CmpK/<id1>"
    assert seen[1].url.path == "/parse/classes/CmpK/Ab34567890"
    assert seen[1].url.params["where"] == '{"n": 1}'
    assert seen[1].headers["X-Parse-Master-Key"] == "master"


def test_scenarios_are_named_uniquely_and_use_only_their_own_classes() -> None:
    names = [scenario["name"] for scenario in SCENARIOS]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", name) for name in names)
    for scenario in SCENARIOS:
        for step in scenario["steps"]:
            assert step["path"].startswith("/parse/"), (scenario["name"], step)


def test_every_scenario_has_a_golden_transcript_with_one_entry_per_step() -> None:
    for scenario in SCENARIOS:
        golden = json.loads((GOLDEN / f"{scenario['name']}.json").read_text(encoding="utf-8"))
        assert golden["scenario"] == scenario["name"]
        assert len(golden["transcript"]) == len(scenario["steps"]), scenario["name"]
