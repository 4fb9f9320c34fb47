"""The generated schema: Parse Server's names and shapes for the sample classes, rebuilt as classes change
(on this instance at once, on another after its schema cache expires), and exported as SDL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from graphql import build_client_schema, get_introspection_query

from tests.conftest import EXAMPLE_CLOUD, Api, make_settings, running
from tests.graphql.helpers import Gql, type_definitions, without_descriptions
from tests.graphql.sample_classes import SAMPLE_CLASSES

pytestmark = pytest.mark.asyncio(loop_scope="session")

GOLDEN_SDL = Path(__file__).parent / "golden" / "parse-9.10.graphql"


async def test_the_sample_classes_generate_parse_servers_schema(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "gql_sdl", tmp_path, cloud=str(EXAMPLE_CLOUD))
    async with running(settings) as (_, client):
        api = Api(client)
        for definition in SAMPLE_CLASSES:
            assert (await api.post(f"/schemas/{definition['className']}", definition, master=True)).status_code == 200
        answer = await Gql(client).data(get_introspection_query(descriptions=False), master=True)
    ours = type_definitions(build_client_schema(answer))
    # Beyond Parse: subscriptions (Parse Server has no Subscription type).
    assert "Subscription" in ours and "GameScoreEvent" in ours
    events = [name for name in ours if name.endswith("Event") and name.removesuffix("Event") in ours]
    for name in ["Subscription", "LiveEvent", *events]:
        del ours[name]
    parse = type_definitions(without_descriptions(GOLDEN_SDL.read_text()))
    assert sorted(ours) == sorted(parse)
    different = [name for name in parse if ours[name] != parse[name]]
    assert not different, "\n\n".join(f"ours:\n{ours[name]}\nParse:\n{parse[name]}" for name in different[:3])


async def test_a_class_and_its_fields_appear_and_go_without_a_restart(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "gql_live_schema", tmp_path)
    async with running(settings) as (_, client):
        api, gql = Api(client), Gql(client)
        missing = await gql.post("{ articles { count } }")
        assert missing.status_code == 400
        assert missing.json()["errors"][0]["message"] == 'Cannot query field "articles".'

        await api.post("/schemas/Article", {"fields": {"title": {"type": "String"}}}, master=True)
        created = await gql.data('mutation { createArticle(input: {fields: {title: "hello"}}) { article { title } } }')
        assert created == {"createArticle": {"article": {"title": "hello"}}}

        await api.put("/schemas/Article", {"fields": {"words": {"type": "Number"}}}, master=True)
        await gql.data('mutation { createArticle(input: {fields: {title: "long", words: 900}}) { article { id } } }')
        found = await gql.data("{ articles(where: {words: {greaterThan: 100}}) { edges { node { title words } } } }")
        assert found == {"articles": {"edges": [{"node": {"title": "long", "words": 900}}]}}

        await api.put("/schemas/Article", {"fields": {"words": {"__op": "Delete"}}}, master=True)
        gone = await gql.post("{ articles { edges { node { words } } } }", master=True)
        assert gone.status_code == 400
        assert gone.json()["errors"][0]["message"].startswith('Cannot query field "words" on type "Article".')

        # The class API changes the schema the same way.
        await gql.data(
            'mutation { createClass(input: {name: "Note", schemaFields: {addStrings: [{name: "text"}]}}) '
            "{ class { name } } }",
            master=True,
        )
        assert await gql.data("{ notes { count } }") == {"notes": {"count": 0}}
        await gql.data('mutation { deleteClass(input: {name: "Note"}) { class { name } } }', master=True)
        assert (await gql.post("{ notes { count } }")).status_code == 400


async def test_another_instance_sees_a_new_class_once_its_schema_cache_expires(
    database_server: str, tmp_path: Path
) -> None:
    first = make_settings(database_server, "gql_two_instances", tmp_path)
    second = first.replace(schema_cache_ttl=0.0)  # the same database, read afresh on every request
    async with running(first) as (_, client_a), running(second) as (_, client_b):
        assert (await Gql(client_b).post("{ widgets { count } }")).status_code == 400
        await Api(client_a).post("/schemas/Widget", {"fields": {"size": {"type": "Number"}}}, master=True)
        assert await Gql(client_b).data("{ widgets { count } }") == {"widgets": {"count": 0}}


async def test_schema_export_writes_the_sdl_of_the_stored_classes(database_server: str, tmp_path: Path) -> None:
    settings = make_settings(database_server, "gql_export", tmp_path)
    async with running(settings) as (_, client):
        api = Api(client)
        for definition in SAMPLE_CLASSES:
            await api.post(f"/schemas/{definition['className']}", definition, master=True)
    output = tmp_path / "schema" / "schema.graphql"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "app",
            "schema",
            "export",
            "--database-uri",
            settings.database_uri or "",
            "--schema-dir",
            str(tmp_path / "schema"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"wrote {output}" in result.stderr
    exported = type_definitions(without_descriptions(output.read_text()))
    assert "type GameScore implements ParseObject & Node {" in exported["GameScore"]
    assert "fan_entries(" in exported["Query"] and "createFan_entry(" in exported["Mutation"]
    # An exported schema is the server's: the same types, field for field.
    parse = type_definitions(without_descriptions(GOLDEN_SDL.read_text()))
    assert exported["GameScoreWhereInput"] == parse["GameScoreWhereInput"]


async def test_a_class_whose_types_would_collide_stays_out_and_the_rest_is_served(
    database_server: str, tmp_path: Path
) -> None:
    settings = make_settings(database_server, "gql_collisions", tmp_path)
    async with running(settings) as (_, client):
        api, gql = Api(client), Gql(client)
        for name in ("User", "Class", "Viewer", "Game", "GameOrder"):  # GameOrder is Game's order enum
            assert (await api.post(f"/schemas/{name}", {}, master=True)).status_code == 200
        assert await gql.data("{ games { count } users { count } }", master=True) == {
            "games": {"count": 0},
            "users": {"count": 0},  # _User's, as in Parse Server: system classes come first
        }
        assert (await gql.post("{ gameOrders { count } }", master=True)).status_code == 400
