"""What a page costs the database, counted on the wire: a selection decides what is read, pointers and
relations across a page load in one query per field, and `count` runs only when asked for."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import pytest_asyncio
from pymongo import monitoring

from app.storage.postgres.connection import observers
from tests.conftest import ENGINE, Api, make_settings, running
from tests.graphql.helpers import Gql

pytestmark = pytest.mark.asyncio(loop_scope="session")

READS = ("find", "count", "aggregate")


class CommandLog(monitoring.CommandListener):
    """Every command any client of this process sends while recording, by (command, collection)."""

    def __init__(self) -> None:
        self.recording = False
        self.commands: list[tuple[str, str]] = []
        self.finds: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.recording:
            self.commands.append((event.command_name, str(event.command.get(event.command_name))))
            if event.command_name == "find":
                self.finds.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    @contextmanager
    def record(self) -> Iterator[Counter[tuple[str, str]]]:
        counts: Counter[tuple[str, str]] = Counter()
        self.commands, self.finds, self.recording = [], [], True
        try:
            yield counts
        finally:
            self.recording = False
            # Schema and webhook reloads (`_SCHEMA`, `_Hooks`) come on a timer, not from the request.
            counts.update(c for c in self.commands if c[0] in READS and c[1] not in ("_SCHEMA", "_Hooks"))


class StatementLog(CommandLog):
    """The same record on PostgreSQL: each statement the engine sends, as the MongoDB command it stands for."""

    _TABLE = re.compile(r'\bFROM "((?:[^"]|"")+)"')

    def statement(self, query: str) -> None:
        if not self.recording or "information_schema" in query or "pg_catalog" in query:
            return
        if query.startswith("SELECT doc FROM ("):
            command = "aggregate"
        elif query.startswith("SELECT count(*)"):
            command = "count"
        elif query.startswith("SELECT "):
            command = "find"
        else:
            return
        table = self._TABLE.search(query)
        name = table.group(1) if table else ""
        self.commands.append((command, name))
        if command == "find":
            # The projection is the select list's columns.
            selected = query[len("SELECT ") : query.index(" FROM ")].split(", ")
            self.finds.append({"find": name, "projection": {column.strip('"') for column in selected}})


LOG: CommandLog = StatementLog() if ENGINE == "postgres" else CommandLog()
if isinstance(LOG, StatementLog):
    observers.append(LOG.statement)
else:
    monitoring.register(LOG)  # applies to the clients created from now on: the server's below


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def gql(database_server: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gql]:
    settings = make_settings(database_server, "gql_batching", tmp_path_factory.mktemp("data"))
    async with running(settings) as (_, client):
        api = Api(client)
        await api.post("/schemas/Player", {"fields": {"name": {"type": "String"}}}, master=True)
        await api.post(
            "/schemas/Game",
            {
                "fields": {
                    "score": {"type": "Number"},
                    "player": {"type": "Pointer", "targetClass": "Player"},
                    "teammates": {"type": "Relation", "targetClass": "Player"},
                }
            },
            master=True,
        )
        players = await _batch(api, [("Player", {"name": f"p{n}"}) for n in range(10)])
        games: list[tuple[str, dict[str, Any]]] = []
        for n in range(100):
            game: dict[str, Any] = {"score": n, "player": _pointer(players[n % 10])}
            if n < 20:  # game n has teammates p0 … p(n % 5)
                game["teammates"] = {"__op": "AddRelation", "objects": [_pointer(p) for p in players[: n % 5 + 1]]}
            games.append(("Game", game))
        await _batch(api, games)
        yield Gql(client)


def _pointer(object_id: str) -> dict[str, str]:
    return {"__type": "Pointer", "className": "Player", "objectId": object_id}


async def _batch(api: Api, objects: list[tuple[str, dict[str, Any]]]) -> list[str]:
    requests = [{"method": "POST", "path": f"/parse/classes/{name}", "body": body} for name, body in objects]
    answer = await api.post("/batch", {"requests": requests}, master=True)
    return [item["success"]["objectId"] for item in answer.json()]


async def test_a_page_of_100_with_a_pointer_costs_two_queries(gql: Gql) -> None:
    with LOG.record() as commands:
        data = await gql.data(
            "{ games(first: 100, order: [score_ASC]) { edges { node { score player { name } } } } }", master=True
        )
    edges = data["games"]["edges"]
    assert len(edges) == 100
    assert [edge["node"]["player"]["name"] for edge in edges[:12]] == [f"p{n % 10}" for n in range(12)]
    assert commands == Counter({("find", "Game"): 1, ("find", "Player"): 1})


async def test_count_runs_only_when_selected(gql: Gql) -> None:
    with LOG.record() as without_count:
        await gql.data("{ games(first: 5) { edges { node { score } } } }", master=True)
    assert without_count == Counter({("find", "Game"): 1})
    with LOG.record() as only_count:
        assert await gql.data("{ games { count } }", master=True) == {"games": {"count": 100}}
    assert [command for command, _ in only_count.elements()] in (["count"], ["aggregate"])


async def test_a_relation_across_a_page_loads_once_for_every_owner(gql: Gql) -> None:
    query = """{ games(first: 20, order: [score_ASC]) { edges { node { score
                 teammates(first: 3, order: [name_DESC]) { count edges { node { name } } } } } } }"""
    with LOG.record() as commands:
        data = await gql.data(query, master=True)
    teammates = {edge["node"]["score"]: edge["node"]["teammates"] for edge in data["games"]["edges"]}
    for score in range(20):
        members = [f"p{n}" for n in range(score % 5 + 1)]
        assert teammates[score]["count"] == len(members)
        assert [edge["node"]["name"] for edge in teammates[score]["edges"]] == sorted(members, reverse=True)[:3]
    assert commands == Counter({("find", "Game"): 1, ("find", "_Join:teammates:Game"): 1, ("find", "Player"): 1})


async def test_a_relation_keeps_its_own_constraints_for_each_owner(gql: Gql) -> None:
    data = await gql.data(
        """{ games(where: {score: {lessThan: 5}}, order: [score_ASC]) { edges { node { score
             teammates(where: {name: {notEqualTo: "p0"}}) { count } } } } }""",
        master=True,
    )
    assert [edge["node"]["teammates"]["count"] for edge in data["games"]["edges"]] == [0, 1, 2, 3, 4]


async def test_a_selection_reads_only_its_fields(gql: Gql) -> None:
    """The selection becomes the projection: a page of scores does not bring back the other columns."""
    with LOG.record():
        await gql.data("{ games(first: 1) { edges { node { score } } } }", master=True)
    (find,) = [command for command in LOG.finds if command["find"] == "Game"]
    assert "score" in find["projection"] and "player" not in find["projection"]
    assert "_p_player" not in find["projection"]
