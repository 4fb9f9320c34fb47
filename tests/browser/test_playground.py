"""The playground in headless Chromium against a running server: keys set in its Headers tab, docs and completion
from the schema, a query, a mutation, and a subscription that shows an event written through REST.

`PARSEQL_PLAYGROUND_SCREENSHOT=docs/playground.png` also saves the page of the subscription test there (the
README's picture).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from starlette.applications import Starlette

from tests.conftest import APP_ID, MASTER_KEY, Api, make_settings, serving

QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror"
RESPONSE = ".graphiql-response .CodeMirror"
NOTICE = ".parseql-notice"


@dataclass
class Server:
    app: Starlette
    api: Api
    url: str


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def server(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Server]:
    settings = make_settings(database_server, "browser", tmp_path_factory.mktemp("data"))
    async with serving(settings) as (app, client, address):
        api = Api(client)
        fields = {"playerName": {"type": "String"}, "score": {"type": "Number"}}
        assert (await api.post("/schemas/GameScore", {"fields": fields}, master=True)).status_code == 200
        yield Server(app, api, f"http://{address}/playground")


class Playground:
    """The page, through what a user sees and does: editors, the run button, the response."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"uncaught: {error}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.problems.append(message.text)

    async def open(self, url: str) -> None:
        await self.page.goto(url)
        await self.page.wait_for_selector(QUERY_EDITOR)

    async def editor(self, selector: str) -> str:
        return str(await self.page.evaluate("s => document.querySelector(s).CodeMirror.getValue()", selector))

    async def write(self, selector: str, text: str) -> None:
        await self.page.evaluate("([s, t]) => document.querySelector(s).CodeMirror.setValue(t)", [selector, text])

    async def use_keys(self, **headers: str) -> None:
        """Type keys into the Headers tab, then wait for the page to take them (it waits for typing to pause)."""
        await self.write(HEADERS_EDITOR, json.dumps({"X-Parse-Application-Id": APP_ID, **headers}, indent=2))
        await self.page.wait_for_selector(NOTICE, state="detached")

    async def run(self, document: str) -> None:
        await self.write(QUERY_EDITOR, document)
        # GraphiQL reads the operation to run from its parse of the editor, made once typing pauses.
        await self.page.wait_for_function(
            "s => { const cm = document.querySelector(s).CodeMirror; "
            "return cm.documentAST && cm.documentAST.loc.source.body === cm.getValue(); }",
            arg=QUERY_EDITOR,
        )
        await self.page.click(QUERY_EDITOR)
        await self.page.keyboard.press("Control+Enter")

    async def response_with(self, *texts: str) -> dict[str, Any]:
        """The response once it shows every one of `texts`, parsed."""
        await self.page.wait_for_function(
            "([s, texts]) => { const cm = document.querySelector(s); "
            "return cm && texts.every(t => cm.CodeMirror.getValue().includes(t)); }",
            arg=[RESPONSE, list(texts)],
        )
        return dict(json.loads(await self.editor(RESPONSE)))


@pytest_asyncio.fixture(loop_scope="session")
async def playground(page: Any, server: Server) -> AsyncIterator[Playground]:
    playground = Playground(page)
    await playground.open(server.url)
    yield playground
    assert playground.problems == []


async def test_page_starts_with_the_application_id_and_asks_for_the_master_key(playground: Playground) -> None:
    headers = json.loads(await playground.editor(HEADERS_EDITOR))
    assert headers == {"X-Parse-Application-Id": APP_ID}
    notice = await playground.page.inner_text(NOTICE)
    assert "X-Parse-Master-Key" in notice and "make run" in notice
    await playground.run("{ health }")
    assert await playground.response_with("health") == {"data": {"health": True}}


async def test_with_the_master_key_docs_and_completion_come_from_the_schema(playground: Playground) -> None:
    await playground.use_keys(**{"x-parse-master-key": MASTER_KEY})  # header names are case-insensitive
    page = playground.page
    await page.click('button[aria-label="Show Documentation Explorer"]')
    await page.click("a.graphiql-doc-explorer-type-name >> text='Query'")
    await page.wait_for_selector(".graphiql-doc-explorer-content :text('gameScores')")
    await playground.write(QUERY_EDITOR, "")
    await page.click(QUERY_EDITOR)
    await page.keyboard.type("{ gameSc", delay=20)
    hints = await page.wait_for_selector(".CodeMirror-hints")
    assert (await hints.inner_text()).split() == ["gameScore", "gameScores"]


async def test_a_mutation_and_a_query_run_and_show_their_results(playground: Playground) -> None:
    await playground.use_keys(**{"X-Parse-Master-Key": MASTER_KEY})
    await playground.run(
        'mutation { createGameScore(input: {fields: {playerName: "Ada", score: 1500}}) '
        "{ gameScore { objectId playerName score } } }"
    )
    created = (await playground.response_with("createGameScore"))["data"]["createGameScore"]["gameScore"]
    assert created["playerName"] == "Ada" and created["score"] == 1500
    where = json.dumps(created["objectId"])
    await playground.run(
        f"{{ gameScores(where: {{objectId: {{equalTo: {where}}}}}) {{ count edges {{ node {{ playerName }} }} }} }}"
    )
    answer = await playground.response_with("gameScores")
    assert answer == {"data": {"gameScores": {"count": 1, "edges": [{"node": {"playerName": "Ada"}}]}}}


async def test_a_subscription_shows_the_events_of_writes_made_through_rest(
    playground: Playground, server: Server
) -> None:
    # The write below is readable by the master key only: its event reaches the page only if the key typed in the
    # Headers tab went in the websocket's connection_init.
    await playground.use_keys(**{"X-Parse-Master-Key": MASTER_KEY})
    await playground.run(
        "subscription HighScores {\n  gameScoreEvents(where: {score: {greaterThan: 1000}}) {\n"
        "    event\n    node { playerName score }\n  }\n}"
    )
    await subscribed(server.app)
    for name, score in [("Grace", 9000), ("Linus", 10), ("Edsger", 4000)]:
        answer = await server.api.post(
            "/classes/GameScore", {"playerName": name, "score": score, "ACL": {}}, master=True
        )
        assert answer.status_code == 201
    event = await playground.response_with("Edsger")
    assert event == {"data": {"gameScoreEvents": {"event": "CREATE", "node": {"playerName": "Edsger", "score": 4000}}}}
    screenshot = os.environ.get("PARSEQL_PLAYGROUND_SCREENSHOT")
    if screenshot:
        await playground.page.set_viewport_size({"width": 1500, "height": 800})
        await playground.page.click('button[aria-label="Show Documentation Explorer"]')
        await playground.page.screenshot(path=screenshot)


async def subscribed(app: Starlette) -> None:
    """Wait until the server holds the page's subscription, so a write made now reaches it."""
    async with asyncio.timeout(10):
        # The hub has no event for a new subscription, and the browser cannot tell when the server took it.
        while app.state.services.live.subscription_count == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
