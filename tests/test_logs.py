"""The server's log as Parse serves it (`/parse/scriptlog`: what cloud code ran and logged, its parameters and bounds,
no secrets, the master key only), analytics events handed to cloud code (`/parse/events/<name>`), and unknown routes
answered in JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import APP_ID, MASTER_KEY, Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")

CLOUD = """
from app.cloud import Cloud, CloudError

cloud = Cloud()


@cloud.define("shout")
def shout(request):
    word = request.params.get("word", "")
    request.log.info("shouting %s", word)
    return word.upper()


@cloud.define("refuse")
async def refuse(request):
    raise CloudError("not today", code=141)


@cloud.define("token")
async def token(request):
    return {"sessionToken": "r:not-for-the-log", "ok": True}


@cloud.before_save("_User")
async def check_user(request):
    request.log.info("signing up %s", request.object.get("username"))


async def seen(request, hook):
    user = request.user.id if request.user is not None else None
    await request.data.master().create(
        "Seen",
        {
            "hook": hook,
            "trigger": request.trigger_name,
            "event": request.event_name,
            "dimensions": request.dimensions,
            "user": user,
            "installation": request.installation_id,
            "at": request.params.get("at"),
        },
    )


@cloud.app_opened()
async def opened(request):
    await seen(request, "app_opened")


@cloud.track_event("Purchase")
async def purchase(request):
    await seen(request, "Purchase")


@cloud.track_event()
async def any_event(request):
    await seen(request, "any")


@cloud.track_event("Broken")
async def broken(request):
    raise RuntimeError("the analytics backend is down")
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    folder = tmp_path_factory.mktemp("logs")
    (folder / "cloud.py").write_text(CLOUD)
    settings = make_settings(database_server, "logs", folder, cloud=str(folder / "cloud.py"), app_name="Logs")
    async with running(settings) as (_, client):
        yield Api(client)


async def logs(api: Api, **params: Any) -> list[dict[str, Any]]:
    answer = await api.get("/scriptlog", master=True, params={key: str(value) for key, value in params.items()})
    assert answer.status_code == 200, answer.text
    lines: list[dict[str, Any]] = answer.json()
    return lines


async def shout(api: Api, word: str, **more: Any) -> None:
    answer = await api.post("/functions/shout", {"word": word, **more})
    assert answer.json() == {"result": word.upper()}


# /scriptlog -------------------------------------------------------------------------------------------------


async def test_a_cloud_functions_own_line_and_its_run_are_logged_in_parses_words(api: Api) -> None:
    await shout(api, "hello")
    newest = await logs(api, size=2)
    assert [line["message"] for line in newest] == [
        'Ran cloud function shout for user undefined with:\n  Input: {"word":"hello"}\n  Result: "HELLO"',
        "shouting hello",
    ]
    assert {line["level"] for line in newest} == {"info"}
    stamps = [datetime.fromisoformat(line["timestamp"]) for line in newest]
    assert all(abs(datetime.now(UTC) - stamp) < timedelta(minutes=1) for stamp in stamps)
    assert all(line["timestamp"].endswith("Z") and len(line["timestamp"]) == 24 for line in newest)


async def test_only_the_master_key_reads_the_log(api: Api) -> None:
    refused = await api.get("/scriptlog")
    assert (refused.status_code, refused.json()) == (403, {"error": "Permission denied"})
    # The Dashboard's form: the JS SDK's GET as a POST with `_method`, the keys in the body.
    answer = await api.client.post(
        "/parse/scriptlog?level=info&n=100",
        json={"_method": "GET", "_ApplicationId": APP_ID, "_MasterKey": MASTER_KEY},
    )
    assert answer.status_code == 200 and isinstance(answer.json(), list) and answer.json()


async def test_a_failed_function_is_an_error_line_which_the_info_lines_also_show(api: Api) -> None:
    assert (await api.post("/functions/refuse", {"why": 1})).json() == {"code": 141, "error": "not today"}
    failure = (
        'Failed running cloud function refuse for user undefined with:\n  Input: {"why":1}\n'
        '  Error: {"message":"not today","code":141}'
    )
    errors = await logs(api, level="error", size=100)
    assert errors[0]["message"] == failure
    assert {line["level"] for line in errors} == {"error"}
    assert (await logs(api, level="info", size=1))[0] == errors[0]  # Parse's info log holds its errors too


async def test_size_n_and_order_choose_the_lines(api: Api) -> None:
    for word in ("one", "two", "three", "four", "five", "six"):
        await shout(api, word)
    assert len(await logs(api)) == 10  # Parse's default
    assert len(await logs(api, size=3)) == 3
    assert len(await logs(api, size=5, n=2)) == 2  # `n` wins, as in Parse
    assert len(await logs(api, size="many")) == 10
    newest_first = await logs(api, size=1000)
    oldest_first = await logs(api, size=1000, order="asc")
    assert oldest_first == list(reversed(newest_first))
    assert newest_first[1]["message"] == "shouting six"
    stamps = [line["timestamp"] for line in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    # Ascending with a size is the oldest lines of the window, as Parse slices its sorted files.
    assert await logs(api, size=3, order="asc") == oldest_first[:3]


async def test_from_and_until_bound_the_lines_in_time(api: Api) -> None:
    await shout(api, "timed")
    now = datetime.now(UTC)
    assert await logs(api, until=(now - timedelta(days=1)).isoformat()) == []
    assert await logs(api, **{"from": (now + timedelta(minutes=5)).isoformat()}) == []
    recent = await logs(api, size=1000, **{"from": (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert any(line["message"] == "shouting timed" for line in recent)
    # RFC 2822, as an HTTP date; a date that does not parse is the default, as in Parse.
    http_date = (now + timedelta(minutes=5)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert any(line["message"] == "shouting timed" for line in await logs(api, size=1000, until=http_date))
    assert len(await logs(api, until="not a date", size=3)) == 3
    # An early `from` reads the whole store (without one, a week back).
    assert len(await logs(api, size=3, **{"from": "2000-01-01"})) == 3


async def test_no_password_token_or_emailed_link_reaches_the_log(api: Api) -> None:
    await shout(api, "secret", password="hunter2")
    assert (await api.post("/functions/token", {})).status_code == 200
    signed_up = await api.post("/users", {"username": "ada", "password": "correct horse", "email": "ada@example.com"})
    token = signed_up.json()["sessionToken"]
    assert (await api.post("/requestPasswordReset", {"email": "ada@example.com"})).json() == {}
    everything = "\n".join(line["message"] for line in await logs(api, size=1000))
    assert 'Input: {"word":"secret","password":"********"}' in everything
    assert '{"sessionToken":"********","ok":true}' in everything
    assert "beforeSave triggered for _User for user undefined" in everything and "signing up ada" in everything
    for secret in ("hunter2", "correct horse", "r:not-for-the-log", token, "$2b$", "request_password_reset"):
        assert secret not in everything


async def test_the_store_keeps_its_newest_lines_within_its_count_and_bytes(
    database_server: str, tmp_path: Path
) -> None:
    (tmp_path / "cloud.py").write_text(CLOUD)
    cloud = str(tmp_path / "cloud.py")
    by_count = make_settings(database_server, "logs_count", tmp_path, cloud=cloud, log_store_records=3)
    async with running(by_count) as (_, client):
        api = Api(client)
        for word in ("a", "b", "c", "d"):
            await shout(api, word)
        kept = await logs(api, size=100)
        assert [line["message"] for line in kept][:2] == [
            'Ran cloud function shout for user undefined with:\n  Input: {"word":"d"}\n  Result: "D"',
            "shouting d",
        ]
        assert len(kept) == 3
    by_bytes = make_settings(database_server, "logs_bytes", tmp_path, cloud=cloud, log_store_size=1024)
    async with running(by_bytes) as (_, client):
        api = Api(client)
        for word in ("x" * 600, "y" * 600, "z" * 600):
            await shout(api, word)
        kept = await logs(api, size=100)
        assert sum(len(line["message"].encode()) for line in kept) <= 1024
        assert kept[1]["message"] == "shouting " + "z" * 247 + "... (truncated)"  # a line is cut at 1/16 or 256
        assert not any("x" * 200 in line["message"] for line in kept)
    silent = make_settings(database_server, "logs_none", tmp_path, cloud=cloud, log_store_records=0)
    async with running(silent) as (_, client):
        await shout(Api(client), "unheard")
        assert await logs(Api(client), size=100) == []


async def test_the_dashboard_is_offered_the_logs_page_and_the_delete_all_rows_action(api: Api) -> None:
    features = (await api.get("/serverInfo", master=True)).json()["features"]
    assert features["logs"] == {"level": True, "size": True, "order": True, "until": True, "from": True}
    assert features["schemas"]["clearAllDataFromClass"] is True


# /events ----------------------------------------------------------------------------------------------------


async def seen(api: Api, hook: str) -> list[dict[str, Any]]:
    found = await api.get("/classes/Seen", master=True, params={"where": {"hook": hook}, "order": "createdAt"})
    results: list[dict[str, Any]] = found.json()["results"]
    return results


async def test_app_opened_reaches_its_hook_with_the_caller_and_answers_nothing(api: Api) -> None:
    user = (await api.post("/users", {"username": "opener", "password": "pw"})).json()
    at = {"__type": "Date", "iso": "2026-12-08T01:00:00.000Z"}
    answer = await api.client.post(
        "/parse/events/AppOpened",
        json={"at": at},
        headers={**api.headers(token=user["sessionToken"]), "X-Parse-Installation-Id": "device-1"},
    )
    assert (answer.status_code, answer.json()) == (200, {})
    [event] = await seen(api, "app_opened")
    assert event["trigger"] == "appOpened" and event["event"] == "AppOpened"
    assert (event["user"], event["installation"], event["dimensions"]) == (user["objectId"], "device-1", {})
    assert event["at"] == at


async def test_a_custom_event_reaches_its_own_hook_or_the_one_for_every_event(api: Api) -> None:
    bought = await api.post("/events/Purchase", {"dimensions": {"item": "book", "price": "12"}})
    assert (bought.status_code, bought.json()) == (200, {})
    [purchase] = await seen(api, "Purchase")
    assert (purchase["trigger"], purchase["event"], purchase.get("user")) == ("trackEvent", "Purchase", None)
    assert purchase["dimensions"] == {"item": "book", "price": "12"}
    assert (await api.post("/events/Search", {"dimensions": {"query": "poems"}})).json() == {}
    [search] = await seen(api, "any")
    assert (search["event"], search["dimensions"]) == ("Search", {"query": "poems"})


async def test_a_failing_event_hook_answers_nothing_all_the_same_and_is_an_error_line(api: Api) -> None:
    answer = await api.post("/events/Broken", {"dimensions": {"a": "b"}})
    assert (answer.status_code, answer.json()) == (200, {})
    errors = "\n".join(line["message"] for line in await logs(api, level="error", size=100))
    assert "the analytics backend is down" in errors and "trackEvent Broken failed" in errors


async def test_events_need_the_application_id_and_only_post(api: Api) -> None:
    anonymous = await api.client.post("/parse/events/Purchase", json={})
    assert (anonymous.status_code, anonymous.json()) == (403, {"error": "unauthorized"})
    wrong_method = await api.get("/events/Purchase")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (404, 107)


# Unknown routes ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/parse/nowhere"),
        ("POST", "/parse/classes"),
        ("PATCH", "/parse/classes/Thing/abc"),
        ("DELETE", "/parse/"),
        ("GET", "/parse"),
        ("GET", "/parse/apps/no_such_page.html"),
        ("PUT", "/parse/files/app/name.txt"),
        ("GET", "/"),
        ("GET", "/elsewhere/on/the/port"),
        ("GET", "/graphql/nested"),
        ("GET", "/playground/missing.js"),
    ],
)
async def test_an_unknown_route_answers_json_with_parses_status_and_code(api: Api, method: str, path: str) -> None:
    answer = await api.client.request(method, path, headers=api.headers())
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"code": 107, "error": f"Cannot {method} {path}"}


async def test_a_method_a_route_does_not_take_answers_json_too(api: Api) -> None:
    """Outside /parse, where Starlette's router answers: its 405, in JSON."""
    answer = await api.client.post("/playground/missing.js", headers=api.headers())
    assert (answer.status_code, answer.json()) == (405, {"code": 107, "error": "Cannot POST /playground/missing.js"})


async def test_graphql_refuses_other_methods_in_json_and_batch_keeps_its_code(api: Api) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        answer = await api.client.request(method, "/graphql", headers=api.headers())
        assert answer.status_code == 405 and answer.headers["allow"] == "GET, POST"
        assert answer.json()["errors"][0]["message"] == "Apollo Server supports only GET/POST requests."
    batch = await api.post("/batch", {"requests": [{"method": "GET", "path": "/parse/nowhere"}]})
    assert (batch.status_code, batch.json()) == (400, {"code": 107, "error": "cannot route GET /nowhere"})


async def test_log_levels_choose_the_level_of_each_kind_of_line(database_server: str, tmp_path: Path) -> None:
    (tmp_path / "cloud.py").write_text(CLOUD)
    levels = {"cloudFunctionSuccess": "silent", "cloudFunctionError": "warn", "triggerBeforeSuccess": "verbose"}
    settings = make_settings(
        database_server, "logs_levels", tmp_path, cloud=str(tmp_path / "cloud.py"), log_levels=levels
    )
    async with running(settings) as (_, client):
        api = Api(client)
        await shout(api, "quiet")
        await api.post("/functions/refuse", {})
        await api.post("/users", {"username": "lev", "password": "pw"})
        kept = await logs(api, size=100)
        messages = [line["message"] for line in kept]
        assert "shouting quiet" in messages  # cloud code's own line keeps its level
        assert [m for m in messages if m.startswith(("Ran cloud function", "beforeSave triggered"))] == []
        [failure] = [line for line in kept if line["message"].startswith("Failed running cloud function refuse")]
        assert failure["level"] == "warn"
