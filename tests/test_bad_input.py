"""Bad input: Parse's code and a clear message, nothing written, and the server keeps serving."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.embedded import EmbeddedDatabase
from tests.conftest import Api, make_settings, running

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
            assert response.status_code == 500
            assert response.json() == {"code": 1, "message": "Internal server error."}
            errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
            assert len(errors) == 1 and errors[0].exc_info is not None
            assert (await api.client.get("/parse/health")).json() == {"status": "ok"}
    finally:
        database.stop()
