"""Class definitions in schema/ are applied at start: missing classes and fields appear, nothing is dropped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.asgi import StartupError
from tests.conftest import Api, make_settings, running

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_definitions_create_classes_then_only_add_on_later_starts(database_server: str, tmp_path: Path) -> None:
    schema_dir = tmp_path / "schema"
    schema_dir.mkdir()
    (schema_dir / "Article.json").write_text(
        json.dumps(
            {
                "className": "Article",
                "fields": {"title": {"type": "String", "required": True}},
                "classLevelPermissions": {
                    "find": {"*": True},
                    "get": {"*": True},
                    "count": {"*": True},
                    "create": {},
                    "update": {},
                    "delete": {},
                    "addField": {},
                    "protectedFields": {},
                },
            }
        )
    )
    settings = make_settings(database_server, "schemadir", tmp_path, schema_dir=str(schema_dir))
    async with running(settings) as (_, client):
        api = Api(client)
        assert (await api.post("/classes/Article", {"title": "x"})).json() == {
            "code": 119,
            "error": "Permission denied",
        }
        created = await api.post("/classes/Article", {"title": "kept", "extra": 1}, master=True)
        assert created.status_code == 201
    (schema_dir / "Article.json").write_text(
        json.dumps(
            [
                {
                    "className": "Article",
                    "fields": {"title": {"type": "String"}, "body": {"type": "String"}},
                    "indexes": {"title_1": {"title": 1}},
                },
                {"className": "Comment", "fields": {"text": {"type": "String"}}},
            ]
        )
    )
    async with running(settings) as (_, client):
        api = Api(client)
        schema = (await api.get("/schemas/Article", master=True)).json()
        assert {"title", "extra", "body"} <= set(schema["fields"])
        assert schema["indexes"]["title_1"] == {"title": 1}
        assert schema["classLevelPermissions"]["create"] == {}  # not mentioned, so kept
        assert (await api.get("/classes/Article", master=True)).json()["results"][0]["title"] == "kept"
        assert (await api.get("/schemas/Comment", master=True)).status_code == 200


async def test_a_broken_definition_stops_the_start_with_its_file_named(database_server: str, tmp_path: Path) -> None:
    schema_dir = tmp_path / "schema"
    schema_dir.mkdir()
    (schema_dir / "Bad.json").write_text('{"className": "Bad", "fields": {"n": {"type": "Nonsense"}}}')
    settings = make_settings(database_server, "schemabad", tmp_path, schema_dir=str(schema_dir))
    with pytest.raises(StartupError, match=r"Bad\.json: invalid field type: Nonsense"):
        async with running(settings):
            pass


async def test_locked_schemas_come_only_from_the_directory(database_server: str, tmp_path: Path) -> None:
    schema_dir = tmp_path / "schema"
    schema_dir.mkdir()
    (schema_dir / "Book.json").write_text('{"className": "Book", "fields": {"title": {"type": "String"}}}')
    settings = make_settings(database_server, "schemalock", tmp_path, schema_dir=str(schema_dir), lock_schemas=True)
    async with running(settings) as (_, client):
        api = Api(client)
        locked = {"code": 119, "error": "Cannot perform this operation when schemas options is used."}
        created = await api.post("/schemas/Shelf", {"className": "Shelf"}, master=True)
        assert (created.status_code, created.json()) == (400, locked)
        changed = await api.put("/schemas/Book", {"fields": {"isbn": {"type": "String"}}}, master=True)
        assert (changed.status_code, changed.json()) == (400, locked)
        book = (await api.get("/schemas/Book", master=True)).json()
        assert "title" in book["fields"] and "isbn" not in book["fields"]
        # As in Parse, an empty class can still be dropped.
        assert (await api.delete("/schemas/Book", master=True)).status_code == 200


async def test_extra_and_retyped_fields_are_dropped_only_when_asked(database_server: str, tmp_path: Path) -> None:
    schema_dir = tmp_path / "schema"
    schema_dir.mkdir()
    definition = tmp_path / "schema" / "Book.json"
    fields = {"title": {"type": "String"}, "isbn": {"type": "Number"}, "notes": {"type": "String"}}
    definition.write_text(json.dumps({"className": "Book", "fields": fields}))
    settings = make_settings(database_server, "schemadrop", tmp_path, schema_dir=str(schema_dir))
    async with running(settings) as (_, client):
        book = await Api(client).post("/classes/Book", {"title": "Dune", "isbn": 42, "notes": "n"}, master=True)
        book_id = book.json()["objectId"]
    definition.write_text(
        json.dumps({"className": "Book", "fields": {"title": {"type": "String"}, "isbn": {"type": "String"}}})
    )
    # By default nothing is dropped: the stored type wins and the extra field stays.
    async with running(settings) as (_, client):
        stored = (await Api(client).get("/schemas/Book", master=True)).json()["fields"]
        assert (stored["isbn"]["type"], "notes" in stored) == ("Number", True)
    asked = settings.replace(schema_delete_extra_fields=True, schema_recreate_modified_fields=True)
    async with running(asked) as (_, client):
        api = Api(client)
        stored = (await api.get("/schemas/Book", master=True)).json()["fields"]
        assert (stored["isbn"]["type"], "notes" in stored) == ("String", False)
        row = (await api.get(f"/classes/Book/{book_id}", master=True)).json()
        assert (row["title"], "isbn" in row, "notes" in row) == ("Dune", False, False)
