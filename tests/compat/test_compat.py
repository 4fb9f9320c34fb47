"""Every recorded Parse Server 9.10 transcript, replayed against ParseQL: same status, body and key order.

Where ParseQL answers better than Parse Server (a 500 that stored bad data anyway, a partial batch), the
step is listed in DELIBERATE with the status ParseQL gives and why, instead of editing the recording.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.compat.runner import compare, run_scenario
from tests.compat.scenarios import SCENARIOS
from tests.conftest import ENGINE, make_settings, postgres_order, running

GOLDEN = Path(__file__).parent / "golden"
BY_NAME = {scenario["name"]: scenario for scenario in SCENARIOS}

CRASH = "Parse Server answers 500 (and often stores the object anyway); ParseQL refuses the input with a code"
KEPT = "follows from an earlier deliberate step: Parse stored objects or fields that ParseQL refused"
EXPOSED = (
    "Access-Control-Expose-Headers names itself too, so a page on another origin (Parse Dashboard) can read it, "
    "and through it the push status id; Parse's is unreadable there and Dashboard's push form fails"
)
NO_TEXT_INDEX = "the embedded database has no text indexes: ParseQL relays its reason as a bad query, Parse a 500"

# scenario -> step number -> (ParseQL's status, why it differs from Parse Server)
DELIBERATE: dict[str, dict[int, tuple[int, str]]] = {
    "bad_class_names": {12: (200, "a query on _SCHEMA, an invalid class name, finds nothing instead of a 500")},
    "bad_json_bodies": {
        2: (400, "malformed JSON gets code 107 and the parser's reason; Parse sends Node's message and no code"),
        3: (400, "malformed JSON gets code 107 and the parser's reason; Parse sends Node's message and no code"),
        5: (400, "a body that is not an object gets code 107; Parse sends Node's message and no code"),
        6: (400, "a body that is not an object gets code 107; Parse sends Node's message and no code"),
        7: (400, "a body that is not an object gets code 107; Parse sends Node's message and no code"),
    },
    "bad_key_names": {12: (400, "changing objectId is refused with 105 " + "instead of a 500")},
    "bad_prototype_keys": {
        2: (400, "a top-level `constructor` is a prohibited keyword (105), not Parse's 'expected undefined' type error")
    },
    "bad_special_values": {
        3: (400, CRASH),
        4: (400, CRASH),
        6: (
            400,
            "a Pointer with a numeric className is not a valid Pointer (111); Parse "
            "says 'Could not add field' and leaves targetClass \"5\" in the schema",
        ),
        10: (200, KEPT),
        11: (200, KEPT),
    },
    "batch_bad_requests": {
        9: (200, "a batch refused for an unroutable sub-request writes nothing; Parse runs the routable ones anyway"),
        10: (200, KEPT),
    },
    "crud_acl_field": {8: (400, CRASH), 10: (400, CRASH), 14: (200, KEPT)},
    "crud_bytes": {7: (400, CRASH)},
    "crud_geopoints": {5: (400, CRASH), 6: (400, CRASH), 7: (400, CRASH), 11: (200, KEPT)},
    "crud_polygons": {5: (400, CRASH), 6: (400, CRASH), 7: (400, CRASH), 8: (400, CRASH)},
    "op_unknown_and_malformed": {
        2: (400, CRASH),
        3: (400, CRASH),
        4: (400, CRASH),
        5: (400, CRASH),
        6: (400, CRASH),
        9: (400, CRASH),
        8: (400, "AddRelation with a non-pointer says the object is not a valid Pointer before comparing field types"),
    },
    "query_bad_parameters": {5: (400, CRASH)},
    "query_date_comparisons": {
        14: (
            400,
            "an unparsable date in a query is refused (111); Parse compares with an Invalid Date and finds nothing",
        )
    },
    "query_geo_intersects": {5: (400, CRASH)},
    "query_geo_within": {
        2: (
            200,
            "$within $box runs as $geoWithin $box, which every MongoDB (and the "
            "embedded one) answers; Parse sends the legacy $within and gets a 500",
        ),
        4: (200, "$within $box runs as $geoWithin $box (see step 2)"),
        12: (200, "$geoWithin $box is answered; Parse drops the constraint and finds nothing"),
    },
    "query_logical_operators": {9: (400, CRASH)},
    "query_near_sphere": {
        9: (400, CRASH),
        10: (400, "a latitude of 95 is refused (111); Parse runs the query with it"),
    },
    "query_order_limit_skip": {
        9: (400, "a negative limit is refused (102); Parse hands it to MongoDB, which reads it as 1"),
        10: (400, CRASH),
        11: (400, CRASH),
    },
    "query_regex": {
        7: (400, "an invalid regular expression is a bad query (102) with the reason, not a 500"),
        9: (400, CRASH),
    },
    "query_text_search": {step: (400, NO_TEXT_INDEX) for step in range(2, 8)},
    "schema_indexes": {4: (400, NO_TEXT_INDEX), 9: (400, "dropping the _id_ index is refused (102), not a 500")},
    "server_health_info_options": {
        3: (
            200,
            "serverInfo lists only the features ParseQL has today, so Parse "
            "Dashboard hides the pages it could not serve",
        ),
        **dict.fromkeys((5, 6, 7), (200, EXPOSED)),
        **dict.fromkeys(
            (8, 10, 11, 12),
            (404, "an unknown route answers JSON with Parse's code 107 (`Cannot GET /parse/nowhere`), not HTML"),
        ),
    },
}


NULL_IS_MISSING = "a null is a NULL column, the same as a missing field, as Parse Server on PostgreSQL stores it"
PARSE_INDEX_NAMES = "the system indexes have the names Parse Server gives them on PostgreSQL (_User_unique_username…)"
# Steps whose answer on PostgreSQL differs from Parse Server's recorded one on MongoDB, by the engine's nature.
ON_POSTGRES: dict[str, dict[int, str]] = {
    "crud_null_values": dict.fromkeys((2, 5, 7, 8), NULL_IS_MISSING),
    "query_exists": dict.fromkeys((2, 3, 5, 6, 7), NULL_IS_MISSING),
    "query_geo_within": {6: "PostgreSQL's polygons hold the points on their edges, MongoDB's do not"},
    "schema_indexes": dict.fromkeys((5, 6, 10), "PostgreSQL builds the text index MongoDB could not"),
    "schema_list_on_fresh_database": dict.fromkeys(range(1, 8), PARSE_INDEX_NAMES),
    "aggregate_pipeline": {
        6: "$match reads a Parse Date as a date (Parse Server's MongoDB adapter compares it as an object)",
        13: "a stage the engine does not run is refused with 119, as Parse Server's PostgreSQL adapter refuses it",
    },
    "batch_mixed_operations": {5: "the batch's sub-requests run concurrently: its DELETE may end before its GETs"},
}


@pytest.mark.parametrize("name", sorted(BY_NAME))
async def test_scenario_matches_parse_server(name: str, database_server: str, tmp_path: Path) -> None:
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    settings = make_settings(database_server, name, tmp_path, allow_client_class_creation=True)
    # The peer was recorded on port 1339: file URLs carry the host the request came to.
    async with running(settings, "http://127.0.0.1:1339") as (_, client):
        transcript = await run_scenario(client, BY_NAME[name])
    deliberate = DELIBERATE.get(name, {})
    problems = [problem for problem in compare(golden["transcript"], transcript) if _step(problem) not in deliberate]
    problems = [problem for problem in problems if not postgres_order(problem)]
    if ENGINE == "postgres":
        differences = ON_POSTGRES.get(name, {})
        problems = [problem for problem in problems if _step(problem) not in differences]
    assert not problems, "\n".join(problems)
    for step, (status, reason) in deliberate.items():
        if ENGINE == "postgres" and reason == NO_TEXT_INDEX:
            continue  # PostgreSQL searches text without an index
        assert transcript[step - 1]["status"] == status, f"step {step} ({reason}): {transcript[step - 1]}"


def _step(problem: str) -> int:
    return int(re.match(r"step (\d+)", problem).group(1))  # type: ignore[union-attr]


def test_every_deliberate_difference_names_a_recorded_step() -> None:
    for name, steps in DELIBERATE.items():
        transcript = json.loads((GOLDEN / f"{name}.json").read_text())["transcript"]
        assert all(1 <= step <= len(transcript) for step in steps), name
