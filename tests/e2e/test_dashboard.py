"""Parse Dashboard (npm `parse-dashboard`, unchanged) pointed at a running ParseQL, in headless Chromium:
the class list with its counts, the rows of a class, an edited cell and a new class, a job run, a config
parameter, the REST and GraphQL consoles, a webhook and the Logs page, as someone managing the app sees them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Api, make_settings, serving
from tests.e2e.conftest import E2E_DIR, require_node_clients

pytestmark = pytest.mark.asyncio(loop_scope="session")

SCORES = {"Ada": 1500, "Grace": 900, "Linus": 300}
WAIT = 15_000  # ms a retrying assertion waits, as long as the page fixture waits for a selector
CLOUD = """
from app.cloud import Cloud, CloudError

cloud = Cloud()


@cloud.define("congratulate")
def congratulate(request):
    request.log.info("congratulated %s on a high score", request.params["name"])
    if request.params.get("fail"):
        raise CloudError("no trophies left")
    return "done"


@cloud.job("cleanup")
async def cleanup(request):
    # The Dashboard posts {jobName, input: <the parameters typed>, description, when}, Parse's job parameters.
    await request.data.master().create("Cleanup", {"days": request.params["input"].get("days")})
    return "cleaned"
"""


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (imported late: without Playwright the page fixture has skipped)."""
    from playwright.async_api import expect as retrying

    return retrying(locator)


@dataclass
class Dashboard:
    url: str  # the app's pages: <url>/browser/<class>
    parse_url: str  # ParseQL's /parse, which the page calls from the browser
    api: Api  # ParseQL through REST, to check what the Dashboard wrote
    requests: list[tuple[int, str]] = field(default_factory=list)

    def follow(self, page: Any) -> None:
        """Record each call the page makes to ParseQL: its status, and the method the Dashboard meant."""

        def record(response: Any) -> None:
            if response.url.startswith(self.parse_url):
                body = response.request.post_data or "{}"
                method = json.loads(body).get("_method", response.request.method) if body.startswith("{") else "POST"
                path = response.url[len(self.parse_url) :].split("?")[0]
                self.requests.append((response.status, f"{method} {path}"))

        page.on("response", record)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def dashboard(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Dashboard]:
    require_node_clients()
    data = tmp_path_factory.mktemp("data")
    (data / "cloud.py").write_text(CLOUD)
    settings = make_settings(database_server, "e2e_dashboard", data, cloud=str(data / "cloud.py"))
    async with serving(settings) as (_, client, address):
        api = Api(client)
        fields = {"playerName": {"type": "String"}, "score": {"type": "Number"}}
        assert (await api.post("/schemas/GameScore", {"fields": fields}, master=True)).status_code == 200
        for name, score in SCORES.items():
            await api.post("/classes/GameScore", {"playerName": name, "score": score}, master=True)
        await api.post("/users", {"username": "margaret", "password": "apollo-11"})
        await api.post("/schemas/Motto", {"fields": {"text": {"type": "String"}}}, master=True)
        await api.post("/classes/Motto", {"text": "ship it"}, master=True)
        async with parse_dashboard(address, api) as dashboard:
            yield dashboard


@asynccontextmanager
async def parse_dashboard(address: str, api: Api) -> AsyncIterator[Dashboard]:
    """Parse Dashboard (tests/e2e/dashboard.js) for the ParseQL at `address`, for as long as the block runs."""
    # The Dashboard asks npm's registry for its newest version at start: point that at nothing, it shrugs.
    environment = {**os.environ, "npm_config_registry": "http://127.0.0.1:9/"}
    process = await asyncio.create_subprocess_exec(
        "node", "dashboard.js", address, cwd=E2E_DIR, env=environment, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        url = (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()
        assert url.startswith("http://"), "the Dashboard did not start"
        yield Dashboard(f"{url}/apps/ParseQL", f"http://{address}/parse", api)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()


async def test_the_class_list_shows_every_class_with_its_count(dashboard: Dashboard, page: Any) -> None:
    await page.goto(f"{dashboard.url}/browser/GameScore")
    for name, count in {"_Role": "0", "_User": "1", "GameScore": "3"}.items():
        # Counts arrive after the list ("..." until then): wait for the text.
        await expect(page.locator(f'a[title="{name}"] + span')).to_have_text(count, timeout=WAIT)


async def test_a_classs_rows_appear_and_another_class_opens_from_the_list(dashboard: Dashboard, page: Any) -> None:
    dashboard.follow(page)
    await page.goto(f"{dashboard.url}/browser/GameScore")
    for name, score in SCORES.items():
        # The score sits in the next cell of the same row.
        await expect(page.get_by_text(name, exact=True).locator("xpath=following-sibling::span[1]")).to_have_text(
            str(score), timeout=WAIT
        )
    await page.get_by_text("3 objects", exact=False).first.wait_for()

    await page.locator('a[title="_User"]').click()
    await page.get_by_text("margaret", exact=True).wait_for()
    assert page.url.endswith("/browser/_User")
    # Every call the Dashboard made to ParseQL for these pages was answered.
    assert dashboard.requests, "the Dashboard called nothing"
    assert [call for call in dashboard.requests if call[0] >= 400] == []
    called = {call for _, call in dashboard.requests}
    assert {"GET /serverInfo", "GET /schemas", "GET /classes/GameScore", "GET /classes/_User"} <= called


async def test_an_edited_cell_and_a_new_class_reach_parseql(dashboard: Dashboard, page: Any) -> None:
    await page.goto(f"{dashboard.url}/browser/Motto")
    await page.get_by_text("ship it", exact=True).dblclick()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("ship it twice")
    await page.keyboard.press("Enter")
    motto = (await dashboard.api.get("/classes/Motto", master=True)).json()["results"][0]
    await page.get_by_text(f"Motto with id '{motto['objectId']}' updated").wait_for()  # the Dashboard's notice
    found = await dashboard.api.get(f"/classes/Motto/{motto['objectId']}", master=True)
    assert found.json()["text"] == "ship it twice"

    await page.get_by_text("Create a class", exact=True).click()
    await page.get_by_placeholder("Give it a good name...").fill("Trophy")
    await page.get_by_text("Create", exact=True).click()
    await page.locator('a[title="Trophy"]').wait_for()
    schema = await dashboard.api.get("/schemas/Trophy", master=True)
    assert (schema.status_code, schema.json()["className"]) == (200, "Trophy")


async def test_a_job_run_from_the_jobs_page_runs_with_its_parameters(dashboard: Dashboard, page: Any) -> None:
    await page.goto(f"{dashboard.url}/jobs")
    await page.get_by_text("Run...", exact=True).click()
    await page.locator("textarea").fill('{"days": 3}')
    async with page.expect_response(lambda response: response.url.endswith("/parse/jobs")):
        await page.get_by_text("Run", exact=True).click()
    await page.goto(f"{dashboard.url}/jobs/status")
    # The status reads SUCCEEDED on screen: upper case by the page's style, "succeeded" in the text.
    await expect(page.get_by_text("succeeded", exact=True)).to_be_visible(timeout=WAIT)
    await expect(page.get_by_text("cleaned", exact=True)).to_be_visible(timeout=WAIT)
    ran = (await dashboard.api.get("/classes/Cleanup", master=True)).json()["results"]
    assert [row["days"] for row in ran] == [3]


async def test_a_parameter_created_on_the_config_page_reaches_parseql(dashboard: Dashboard, page: Any) -> None:
    await page.goto(f"{dashboard.url}/config")
    await page.get_by_text("Create a parameter", exact=True).first.click()
    await page.locator("input[type=text]").first.fill("welcome")
    await page.locator("textarea").first.fill("hello from the dashboard")
    async with page.expect_response(lambda response: response.url.endswith("/parse/config")) as saved:
        await page.get_by_text("Create", exact=True).click()
    assert (await saved.value).status == 200
    await page.locator("[class*=modal]").first.wait_for(state="detached")
    await expect(page.get_by_text("welcome", exact=True)).to_be_visible(timeout=WAIT)  # listed on the page
    config = (await dashboard.api.get("/config")).json()
    assert config["params"]["welcome"] == "hello from the dashboard"


async def test_the_rest_and_graphql_consoles_answer_from_parseql(dashboard: Dashboard, page: Any) -> None:
    await page.goto(f"{dashboard.url}/api_console/rest")
    await page.get_by_placeholder("classes/_User").fill("classes/GameScore")
    await page.get_by_text("Send Query", exact=True).click()
    await expect(page.get_by_text('"Grace"', exact=True)).to_be_visible(timeout=WAIT)

    graphql: list[int] = []
    page.on("response", lambda response: graphql.append(response.status) if "/graphql" in response.url else None)
    await page.goto(f"{dashboard.url}/api_console/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror, .graphiql-query-editor .cm-editor").first
    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.type("{ health")  # the editor closes the brace itself
    await page.locator(".graphiql-execute-button").click()
    await expect(page.locator(".graphiql-response")).to_contain_text('"health": true', timeout=WAIT)
    assert graphql and all(status == 200 for status in graphql)  # the schema's introspection and the query


async def test_a_function_webhook_created_on_the_webhooks_page_is_listed(dashboard: Dashboard, page: Any) -> None:
    dashboard.follow(page)
    await page.goto(f"{dashboard.url}/webhooks")
    await page.get_by_text("Create a Webhook", exact=True).first.click()
    await page.get_by_placeholder("MyWebhook").fill("shipQuote")
    url_field = page.locator('input[value="https://"]')
    await url_field.fill("https://hooks.example.com/ship-quote")
    await page.get_by_text("Create", exact=True).click()
    await page.get_by_text("shipQuote", exact=True).wait_for(timeout=WAIT)
    # Opened again, the page lists it from what ParseQL answers, not from what it just sent.
    await page.reload()
    await page.get_by_text("shipQuote", exact=True).wait_for(timeout=WAIT)
    await page.get_by_text("https://hooks.example.com/ship-quote", exact=True).wait_for(timeout=WAIT)
    stored = await dashboard.api.get("/hooks/functions/shipQuote", master=True)
    assert stored.json() == {"functionName": "shipQuote", "url": "https://hooks.example.com/ship-quote"}
    assert [call for call in dashboard.requests if call[0] >= 400] == []
    assert "POST /hooks/functions" in {call for _, call in dashboard.requests}


async def test_the_logs_page_shows_what_cloud_code_logged_and_its_failures(dashboard: Dashboard, page: Any) -> None:
    await dashboard.api.post("/functions/congratulate", {"name": "Ada"})
    await dashboard.api.post("/functions/congratulate", {"name": "Linus", "fail": True})
    dashboard.follow(page)
    await page.goto(f"{dashboard.url}/browser/GameScore")
    await page.get_by_role("link", name="Logs").click()  # offered by serverInfo, as Parse offers it
    await page.get_by_text("congratulated Ada on a high score", exact=True).wait_for()
    await expect(page.get_by_text("Ran cloud function congratulate", exact=False).first).to_be_visible(timeout=WAIT)

    await page.goto(f"{dashboard.url}/logs/error")
    await expect(page.get_by_text("Failed running cloud function congratulate", exact=False)).to_be_visible(
        timeout=WAIT
    )
    await expect(page.get_by_text("no trophies left", exact=False)).to_be_visible(timeout=WAIT)
    assert await page.get_by_text("congratulated Ada on a high score", exact=True).count() == 0
    assert [call for call in dashboard.requests if call[0] >= 400] == []
    assert "GET /scriptlog" in {call for _, call in dashboard.requests}


async def test_delete_all_rows_purges_the_class(dashboard: Dashboard, page: Any) -> None:
    """Offered by serverInfo's `clearAllDataFromClass`; the Dashboard then calls `/purge/<class>`."""
    for word in ("scratch one", "scratch two"):
        await dashboard.api.post("/classes/Scratch", {"text": word}, master=True)
    dashboard.follow(page)
    await page.goto(f"{dashboard.url}/browser/Scratch")
    await page.get_by_text("scratch one", exact=True).wait_for()
    await page.get_by_text("Edit", exact=True).click()
    await page.get_by_text("Delete all rows", exact=True).click()
    await page.get_by_placeholder("delete all").fill("delete all")
    await page.get_by_role("button", name="Delete", exact=True).click()
    await expect(page.get_by_text("scratch one", exact=True)).to_have_count(0, timeout=WAIT)
    left = await dashboard.api.get("/classes/Scratch", master=True)
    assert left.json()["results"] == []
    assert (200, "DELETE /purge/Scratch") in dashboard.requests
