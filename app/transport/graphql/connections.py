"""Relay connections: class finds and relation fields, with `count` only when it is asked for.

A relation field over a list of objects loads in one batch: every owner that asks for the same relation with
the same arguments in one pass of the executor shares one read of the relation table and one query of the
related class (Parse Server runs one `$relatedTo` query per owner).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.domain.queries import QueryOptions
from app.domain.values import Record
from app.transport.graphql import translate
from app.transport.graphql.class_types import ClassTypes, TypesByClass
from app.transport.graphql.request import Info, Resolver, Resolving, keys_and_include, node, selected_paths

DEFAULT_PAGE = 100


@dataclass(frozen=True, slots=True)
class Page:
    """What a connection field asks for: which objects, in what order, which slice, and what of them to read."""

    where: dict[str, Any]
    options: QueryOptions
    """Order, keys, include and read preference; skip and limit are the page's own (below)."""
    skip: int
    limit: int
    from_end: bool
    """`last` without `first`: the slice is counted back from the end, so the total is needed first."""
    wants_page: bool
    wants_count: bool


def plan(info: Info, types: ClassTypes, classes: TypesByClass, args: Mapping[str, Any]) -> Page:
    context: Resolving = info.context
    schemas = {name: t.schema for name, t in classes.items()}
    settings = context.services.settings
    skip, limit, from_end = translate.skip_and_limit(
        args.get("skip"), args.get("first"), args.get("after"), args.get("last"), args.get("before"), settings.max_limit
    )
    paths = selected_paths(info)
    node_paths = [path[len("edges.node.") :] for path in paths if path.startswith("edges.node.")]
    keys, include = keys_and_include(node_paths, types.fields)
    page_limit = limit if limit is not None else DEFAULT_PAGE
    if settings.max_limit is not None:
        page_limit = min(page_limit, settings.max_limit)
    options = args.get("options") or {}
    return Page(
        where=translate.where_to_parse(args.get("where"), types.schema, schemas),
        options=QueryOptions(
            order=translate.order_to_parse(args.get("order")),
            keys=keys,
            include=include,
            read_preference=options.get("readPreference"),
        ),
        skip=skip or 0,
        limit=page_limit,
        from_end=from_end,
        wants_page=any(path.startswith(("edges.", "pageInfo.")) for path in paths),
        wants_count=any(path in ("count", "pageInfo.hasNextPage", "pageInfo.hasPreviousPage") for path in paths),
    )


def connection(records: list[Record], start: int, count: int | None, class_name: str) -> dict[str, Any]:
    edges = [
        {"cursor": translate.cursor(start + index), "node": node(record, class_name)}
        for index, record in enumerate(records)
    ]
    page_info = {
        "hasPreviousPage": bool(count) and start > 0,
        "startCursor": translate.cursor(start),
        "endCursor": translate.cursor(start + max(len(records), 1) - 1),
        "hasNextPage": (count or 0) > start + len(records),
    }
    return {"edges": edges, "pageInfo": page_info, "count": count}


def find(types: ClassTypes, classes: TypesByClass) -> Resolver:
    async def resolve(root: Any, info: Info, **args: Any) -> dict[str, Any]:
        context: Resolving = info.context
        page = plan(info, types, classes, args)
        objects, class_name = context.services.objects, types.schema.name
        skip, total = page.skip, None
        if page.from_end:
            counted = await objects.find(context.auth, class_name, page.where, QueryOptions(limit=0, count=True))
            total = counted.count or 0
            skip = max(total - page.limit, skip)
        limit = page.limit if page.wants_page else 0
        options = replace(page.options, skip=skip, limit=limit, count=page.wants_count and total is None)
        if not limit:
            options = replace(options, keys=None, include=())
        found = await objects.find(context.auth, class_name, page.where, options)
        return connection(found.results, skip, total if total is not None else found.count, class_name)

    return resolve


def relation(class_name: str, key: str, target: ClassTypes | None, classes: TypesByClass) -> Resolver:
    async def resolve(source: Record, info: Info, **args: Any) -> dict[str, Any] | None:
        if target is None:
            return None
        context: Resolving = info.context
        # Every owner in a page asks with the same field and arguments: plan it once for them all.
        planned = f"plan {id(info.field_nodes[0])} {json.dumps(args, default=str, sort_keys=True)}"
        page = context.batches.get(planned)
        if page is None:
            page = context.batches[planned] = plan(info, target, classes, args)
        members = await RelationBatch.joining(context, class_name, key, page).load(source["objectId"])
        total = len(members)
        skip = max(total - page.limit, page.skip) if page.from_end else page.skip
        records = members[skip : skip + page.limit] if page.wants_page else []
        return connection(records, skip, total, target.schema.name)

    return resolve


class RelationBatch:
    """The owners asking for one relation with the same arguments, answered together on the next loop turn."""

    def __init__(self, context: Resolving, identity: str, class_name: str, key: str, page: Page) -> None:
        self.context, self.identity, self.class_name, self.key, self.page = context, identity, class_name, key, page
        self.waiting: dict[str, asyncio.Future[list[Record]]] = {}
        self.task: asyncio.Task[None] | None = None

    @classmethod
    def joining(cls, context: Resolving, class_name: str, key: str, page: Page) -> RelationBatch:
        """The open batch for this relation and these arguments, or a new one."""
        options = page.options
        identity = json.dumps(
            [
                "relation",
                class_name,
                key,
                page.where,
                options.order,
                options.keys,
                options.include,
                options.read_preference,
            ],
            default=str,
        )
        batch = context.batches.get(identity)
        if batch is None:
            batch = context.batches[identity] = cls(context, identity, class_name, key, page)
        return batch

    def load(self, owner_id: str) -> asyncio.Future[list[Record]]:
        loop = asyncio.get_running_loop()
        future = self.waiting.get(owner_id)
        if future is None:
            future = self.waiting[owner_id] = loop.create_future()
        if self.task is None:
            self.task = loop.create_task(self._run())
        return future

    async def _run(self) -> None:
        await asyncio.sleep(0)  # let every owner of this pass of the executor join first
        del self.context.batches[self.identity]  # owners from now on start a new batch
        waiting = self.waiting
        try:
            found = await self.context.services.objects.find_related(
                self.context.auth,
                self.class_name,
                self.key,
                list(waiting),
                self.page.where,
                self.page.options,
                owners_read=True,  # each owner was read by this request, with this caller's rights
            )
        except Exception as error:  # every owner waiting sees the failure
            for future in waiting.values():
                if not future.done():
                    future.set_exception(error)
            return
        for owner, future in waiting.items():
            if not future.done():
                future.set_result(found.get(owner, []))
