"""The storage port's capabilities: what the MongoDB engine reports, and how the domain refuses what an engine lacks.

An engine without one of the options Parse Server hands to MongoDB (an aggregate stage, explain, hint,
readPreference, comment) is refused by the domain, with Parse's 119, before the engine is asked. These tests take
the capabilities the MongoDB engine really reports, from a real database, and take some away; the object service
runs on that engine and its real database. An in-memory engine written for the test would be a stand-in for a
database, and would test itself. Each option reaching MongoDB is checked through REST (`test_objects.py`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from app.domain.acl import MASTER
from app.domain.object_settings import ObjectSettings
from app.domain.objects import ObjectService
from app.domain.queries import QueryOptions
from app.domain.schemas import SchemaRegistry
from app.domain.store import Capabilities, Find
from app.errors import OperationForbiddenError
from app.storage.mongo.engine import MongoStorage
from tests.conftest import fresh_uri

PIPELINE: list[dict[str, Any]] = [{"$match": {"score": {"$gt": 1}}}, {"$lookup": {"from": "Other", "as": "others"}}]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def reported(database_server: str) -> AsyncIterator[Capabilities]:
    """What the MongoDB engine (SecantusDB here, or MONGODB_URI's server) says it can do."""
    storage = MongoStorage(fresh_uri(database_server, "store"))
    try:
        yield await storage.capabilities()
    finally:
        await storage.close()


async def test_the_mongodb_engine_offers_every_option_parse_hands_to_mongodb(reported: Capabilities) -> None:
    assert reported.engine in ("MongoDB", "SecantusDB")
    assert reported.pipeline_stages is None  # any stage its database takes
    assert (reported.query_plans, reported.index_hints, reported.read_preferences, reported.comments) == (
        True,
        True,
        True,
        True,
    )
    reported.require_pipeline(PIPELINE)
    reported.require_query_plans()
    reported.require_read_options(Find({}, hint="_id_", comment="why", read_preference="SECONDARY"))


async def test_an_aggregate_stage_the_engine_does_not_run_is_refused_with_119(reported: Capabilities) -> None:
    engine = replace(reported, engine="PostgreSQL", pipeline_stages=frozenset({"$match", "$group"}))
    engine.require_pipeline(PIPELINE[:1])
    with pytest.raises(OperationForbiddenError) as refused:
        engine.require_pipeline(PIPELINE)
    assert (refused.value.code, refused.value.message) == (
        119,
        "PostgreSQL doesn't support the aggregate stage $lookup.",
    )


async def test_explain_on_an_engine_without_query_plans_is_refused_with_119(reported: Capabilities) -> None:
    with pytest.raises(OperationForbiddenError, match=r"^PostgreSQL doesn't support explain\.$"):
        replace(reported, engine="PostgreSQL", query_plans=False).require_query_plans()


@pytest.mark.parametrize(
    ("capability", "query", "option"),
    [
        ("index_hints", Find({}, hint={"score": 1}), "hint"),
        ("comments", Find({}, comment="from the dashboard"), "comment"),
        ("read_preferences", Find({}, read_preference="SECONDARY"), "readPreference"),
    ],
)
async def test_a_read_option_the_engine_cannot_honour_is_refused_with_119(
    reported: Capabilities, capability: str, query: Find, option: str
) -> None:
    lacking: dict[str, Any] = {capability: False}
    engine = replace(reported, engine="PostgreSQL", **lacking)
    engine.require_read_options(Find({"score": 1}))  # a read without the option is not the engine's concern
    with pytest.raises(OperationForbiddenError) as refused:
        engine.require_read_options(query)
    assert (refused.value.code, refused.value.message) == (119, f"PostgreSQL doesn't support {option}.")


def test_a_new_engine_claims_none_of_mongodbs_options_until_it_says_so() -> None:
    assert Capabilities() == Capabilities(
        pipeline_stages=frozenset(), query_plans=False, index_hints=False, read_preferences=False, comments=False
    )


class ClaimingLess(MongoStorage):
    """The MongoDB engine on its real database, claiming less than it can: an engine that lacks these options,
    as the domain sees it (the database is never asked for them)."""

    def __init__(self, uri: str, **lacking: Any) -> None:
        super().__init__(uri)
        self.lacking = lacking

    async def capabilities(self) -> Capabilities:
        return replace(await super().capabilities(), engine="PostgreSQL", **self.lacking)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def objects(database_server: str) -> AsyncIterator[ObjectService]:
    storage = ClaimingLess(
        fresh_uri(database_server, "store_lacking"),
        pipeline_stages=frozenset({"$match", "$group"}),
        query_plans=False,
        index_hints=False,
        read_preferences=False,
        comments=False,
    )
    service = ObjectService(storage, SchemaRegistry(storage), ObjectSettings())
    await service.create(MASTER, "Planned", {"score": 1})
    try:
        yield service
    finally:
        await storage.close()


@pytest.mark.parametrize(
    ("options", "refusal"),
    [
        (QueryOptions(hint="_id_"), "PostgreSQL doesn't support hint."),
        (QueryOptions(comment="from the dashboard"), "PostgreSQL doesn't support comment."),
        (QueryOptions(read_preference="SECONDARY"), "PostgreSQL doesn't support readPreference."),
        (QueryOptions(explain=True), "PostgreSQL doesn't support explain."),
    ],
)
async def test_the_object_service_refuses_a_read_option_its_engine_lacks(
    objects: ObjectService, options: QueryOptions, refusal: str
) -> None:
    with pytest.raises(OperationForbiddenError) as refused:
        await objects.find(MASTER, "Planned", {}, options)
    assert (refused.value.code, refused.value.message) == (119, refusal)
    found = await objects.find(MASTER, "Planned", {}, QueryOptions())
    assert [record["score"] for record in found.results] == [1]


async def test_the_object_service_runs_only_the_aggregate_stages_its_engine_runs(objects: ObjectService) -> None:
    grouped = await objects.aggregate(MASTER, "Planned", [{"$group": {"_id": None, "total": {"$sum": "$score"}}}])
    assert [record["total"] for record in grouped] == [1]
    with pytest.raises(OperationForbiddenError, match=r"^PostgreSQL doesn't support the aggregate stage \$sort\.$"):
        await objects.aggregate(MASTER, "Planned", [{"$sort": {"score": 1}}])
