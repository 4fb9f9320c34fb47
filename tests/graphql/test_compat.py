"""Every recorded Parse Server 9.10 GraphQL transcript, replayed against ParseQL: same status, body and key order.

Where ParseQL deliberately answers otherwise (Parse's internal errors, features that arrive with later issues),
the step is listed in DELIBERATE with the status ParseQL gives and why, instead of editing the recording.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.compat.runner import ScenarioError
from tests.conftest import EXAMPLE_CLOUD, make_settings, postgres_order, running
from tests.graphql.runner import compare, run_scenario
from tests.graphql.scenarios import SCENARIOS

GOLDEN = Path(__file__).parent / "golden"
BY_NAME = {scenario["name"]: scenario for scenario in SCENARIOS}

CRASH = "Parse Server answers an internal error (code 1); ParseQL refuses the input with a code and a reason"
BETTER = "Parse Server answers an internal error; ParseQL runs the query as written"
KEPT = "follows from an earlier deliberate step: Parse stored an object that ParseQL refused"
NO_TEXT_INDEX = "the embedded database has no text indexes: ParseQL relays its reason as a bad query, Parse a 500"
NOT_READ_BACK = (
    "nothing of the new object is selected, so ParseQL does not read it back; Parse reads it and reports the "
    "object it has just created as unreadable"
)
NULL_ELEMENT = "a null element of an Array is a null item; Parse's resolver fails on it and reports an error"
SUBSCRIPTION_TYPES = (
    "the suggestions also name the class's subscription event type (`GameScoreEvent`); Parse has no subscriptions"
)

# scenario -> step number -> (ParseQL's status, why it differs from Parse Server)
DELIBERATE: dict[str, dict[int, tuple[int, str]]] = {
    "error_validation_and_suggestions": {25: (400, SUBSCRIPTION_TYPES)},
    "health_and_transport": {
        14: (
            400,
            "a body that is not JSON gets a GraphQL error naming the parser's reason; Parse sends Express's HTML",
        ),
        19: (400, "`subscription { health }` fails validation: ParseQL has a Subscription type, Parse has none"),
    },
    "create_every_field_type": {14: (200, CRASH), 15: (200, CRASH), 19: (200, KEPT)},
    "error_permissions_and_missing_objects": {18: (200, NOT_READ_BACK)},
    "users_create_user_and_sessions": {2: (200, NOT_READ_BACK)},
    "relation_inputs_and_connections": {17: (200, "setting a relation to null is refused (111): remove its objects")},
    "select_object_array_and_scalars": {6: (200, NULL_ELEMENT), 7: (200, NULL_ELEMENT), 8: (200, NULL_ELEMENT)},
    "where_string": {
        24: (200, "`equalTo: null` finds the objects without the field; " + BETTER),
        31: (200, NO_TEXT_INDEX),
    },
    "where_array_object_bytes_file": {
        26: (200, "`in` on an Object field with key/value pairs runs; Parse answers 'bad atom' (107)"),
        33: (200, BETTER),
        36: (200, BETTER),
    },
    "where_geo": {
        15: (200, "`within` a box runs as $geoWithin $box, as through REST; Parse sends the legacy $within and fails"),
        23: (200, "a latitude of 100 is refused (111); Parse runs the query with it"),
    },
    "where_compound": {13: (200, "`OR: []` is a bad query (102), not an internal error")},
    "select_files": {
        14: (
            200,
            "a public createFile is refused with Parse's REST error (130 'File upload by public is disabled.'); "
            "Parse reads its own refusal as the file and reports FileInfo.name null",
        )
    },
    "files_upload_download_delete": {
        20: (206, "Content-Range names the last byte (RFC 9110: `bytes 0-4/13`); Parse names the one after it"),
        21: (416, "a range past the end is unsatisfiable (416, `bytes */13`); Parse answers 206 with no bytes"),
    },
}

# Scenarios that need a feature of a later issue; each must fail where the feature is first used.
NOT_YET: dict[str, tuple[str, str]] = {}


@pytest.mark.parametrize("name", sorted(BY_NAME))
async def test_scenario_matches_parse_server(name: str, database_server: str, tmp_path: Path) -> None:
    golden = json.loads((GOLDEN / f"{name}.json").read_text())
    # The peer that recorded these ran its cloud.js; the project's cloud/main.py does the same.
    settings = make_settings(database_server, f"gql_{name}", tmp_path, cloud=str(EXAMPLE_CLOUD))
    async with running(settings, "http://127.0.0.1:1341") as (_, client):
        if name in NOT_YET:
            with pytest.raises(ScenarioError, match=re.escape(NOT_YET[name][0])):
                await run_scenario(client, BY_NAME[name])
            return
        transcript = await run_scenario(client, BY_NAME[name])
    deliberate = DELIBERATE.get(name, {})
    problems = [
        problem
        for problem in compare(golden["transcript"], transcript)
        if int(re.match(r"step (\d+)", problem).group(1)) not in deliberate  # type: ignore[union-attr]
    ]
    problems = [problem for problem in problems if not postgres_order(problem)]
    assert not problems, "\n".join(problems)
    for step, (status, reason) in deliberate.items():
        assert transcript[step - 1]["status"] == status, f"step {step} ({reason}): {transcript[step - 1]}"


def test_every_deliberate_difference_names_a_recorded_step() -> None:
    for name, steps in DELIBERATE.items():
        transcript = json.loads((GOLDEN / f"{name}.json").read_text())["transcript"]
        assert all(1 <= step <= len(transcript) for step in steps), name
