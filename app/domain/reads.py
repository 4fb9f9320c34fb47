"""Reading objects: finds with their constraints, permissions, sub-queries, includes and relations.

`ObjectReads` is the object service's reads (`objects.py` composes it with the writes, `writes.py`); what a
caller may see of an object, and what a live query subscriber is shown, is `visibility.py`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from app.domain import permissions
from app.domain.access import require_master
from app.domain.acl import Auth
from app.domain.backtracking import require_bounded
from app.domain.classes import ClassSchema, is_valid_field_name
from app.domain.cloud_requests import CloudQuery
from app.domain.hooks import Hooks
from app.domain.includes import pointers_at, replace_pointers, require_include_limits, sub_exclude, sub_keys
from app.domain.object_settings import ObjectSettings
from app.domain.queries import (
    ALWAYS_SELECTED,
    LOGICAL,
    SUBQUERY_OPERATORS,
    QueryOptions,
    and_,
    is_flat,
    parse_order,
    parse_where,
    regex_constraints,
    require_within_limits,
)
from app.domain.schemas import SchemaRegistry
from app.domain.store import Find, Storage
from app.domain.values import MISSING, ParseObject, Pointer, Record, value_at
from app.domain.visibility import refuse_protected, schema_for, visible
from app.errors import (
    InvalidKeyNameError,
    InvalidQueryError,
    ObjectNotFoundError,
    OperationForbiddenError,
    denied,
)

_MAX_SUBQUERY_DEPTH = 10
_EVERY_MATCH = 2**31 - 1
"""The limit of a read that wants every match (a sub-query without a limit, as in Parse)."""
_STORED_DATES = {"_created_at": "createdAt", "_updated_at": "updatedAt"}


@dataclass(slots=True)
class FindResult:
    results: list[Record]
    count: int | None = None
    plan: dict[str, Any] | None = None
    """With `explain`: the database's plan instead of results."""


class ObjectReads:
    """Finds, gets, includes, relations, aggregates: every read of objects, with the caller's rights applied."""

    def __init__(
        self, storage: Storage, schemas: SchemaRegistry, settings: ObjectSettings, hooks: Hooks | None = None
    ) -> None:
        self.storage = storage
        self.schemas = schemas
        self.settings = settings
        self.hooks = hooks

    async def find(
        self,
        auth: Auth,
        class_name: str,
        where: Any,
        options: QueryOptions,
        *,
        op: str = "find",
        depth: int = 0,
        capped: bool = True,
    ) -> FindResult:
        """Objects matching `where` that `auth` may read; `capped=False` lifts the server's max_limit and the list
        limits for internal reads of a known set of ids (whose caller checked the client's part of `where`)."""
        permissions.require_class_access("get" if op == "get" else "find", class_name, auth)
        hooked = depth == 0 and self.hooks is not None and self._find_hooked(class_name)
        if hooked:
            where, options = await self._before_find(auth, class_name, where, options, op)
        if depth == 0 and capped:
            require_within_limits(where, self.settings.limits, auth)
        redirected = None
        if options.redirect_key:
            # Query the target class of a relation (the JS SDK's relation.query() asks this way).
            owner = await self.schemas.get(class_name)
            field_type = owner.fields.get(options.redirect_key) if owner else None
            if field_type is not None and field_type.type == "Relation" and field_type.target_class:
                class_name = redirected = field_type.target_class
                permissions.require_class_access("find", class_name, auth)
        own_sessions = permissions.session_constraint(class_name, auth)
        schema = await self._schema_for(auth, class_name)
        parsed = and_(parse_where(where, schema, master=auth.master, internal=auth.maintenance), own_sessions)
        if not auth.master and not is_flat(parsed):
            await self._require_bounded_patterns(auth, parsed)
        if schema is None:
            return FindResult([], 0 if options.count else None)
        protected = permissions.protected_fields(schema, auth)
        refuse_protected(schema, parsed, options, protected)
        keys, include = self._projection(schema, options)
        if depth == 0:
            require_include_limits(include, self.settings.limits, auth)
        parsed = await self._resolve_subqueries(auth, schema, parsed, depth)
        order = self._sort(schema, options.order)
        acl = None if auth.master else auth.groups
        results: list[Record] = []
        limit = options.limit if options.limit is not None else self.settings.default_limit
        if self.settings.max_limit is not None and capped:
            limit = min(limit, self.settings.max_limit)
        if options.explain:
            if not auth.master:
                raise InvalidQueryError("Using the explain query parameter requires the master key")
            (await self.storage.capabilities()).require_query_plans()
            plan = await self.storage.explain(schema, Find(parsed, tuple(order), options.skip, limit))
            return FindResult([], plan=plan)
        if limit != 0:
            constraint = permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, op), auth)
            read = Find(
                and_(parsed, constraint),
                tuple(order),
                options.skip,
                limit,
                frozenset(keys) if keys is not None else None,
                acl,
                hint=options.hint,
                comment=options.comment,
                read_preference=options.read_preference,
            )
            if read.hint is not None or read.comment is not None or read.read_preference is not None:
                (await self.storage.capabilities()).require_read_options(read)
            records = await self.storage.find(schema, read)
            results = [visible(schema, auth, record) for record in records]
            if include:
                await self._include(auth, results, include, options, depth)
            if redirected:
                for record in results:
                    record["className"] = redirected
        count = None
        if options.count:
            constraint = permissions.pointer_constraint(
                schema, permissions.pointer_fields_for(schema, auth, "count"), auth
            )
            count = await self.storage.count(schema, Find(and_(parsed, constraint), acl=acl))
        if hooked and self.hooks is not None and self.hooks.has("after_find", class_name):
            query = CloudQuery(class_name, dict(where or {}), options.limit, options.skip, list(options.order))
            # What the hook answers passes the same field rules as what the database answered.
            results = [visible(schema, auth, record) for record in await self.hooks.after_find(auth, query, results)]
        return FindResult(results, count)

    def _find_hooked(self, class_name: str) -> bool:
        assert self.hooks is not None
        return self.hooks.has("before_find", class_name) or self.hooks.has("after_find", class_name)

    async def _before_find(
        self, auth: Auth, class_name: str, where: Any, options: QueryOptions, op: str
    ) -> tuple[Any, QueryOptions]:
        """`before_find` may change the constraints, order, paging, keys and includes of a find."""
        assert self.hooks is not None
        if not self.hooks.has("before_find", class_name):
            return where, options
        query = CloudQuery(
            class_name,
            dict(where) if isinstance(where, Mapping) else {},
            options.limit,
            options.skip,
            list(options.order),
            list(options.keys) if options.keys is not None else None,
            list(options.include),
        )
        query = await self.hooks.before_find(auth, query, count=options.count, is_get=op == "get")
        return query.where, replace(
            options,
            limit=query.limit,
            skip=query.skip,
            order=tuple(query.order),
            keys=tuple(query.keys) if query.keys is not None else None,
            include=tuple(query.include),
        )

    async def get(self, auth: Auth, class_name: str, object_id: str, options: QueryOptions | None = None) -> Record:
        options = replace(options or QueryOptions(), limit=None)
        found = await self.find(auth, class_name, {"objectId": object_id}, options, op="get")
        if not found.results:
            raise ObjectNotFoundError("Object not found.")
        return found.results[0]

    async def include(self, auth: Auth, class_name: str, records: list[Record], include: tuple[str, ...]) -> None:
        """Replace the pointers at `include` paths of records already in hand with the objects, as a find would."""
        schema = await self.schemas.get(class_name)
        if schema is None or not include:
            return
        options = QueryOptions(include=include)
        _, paths = self._projection(schema, options)
        await self._include(auth, records, paths, options, 0)

    def require_aggregation(self, auth: Auth) -> None:
        """`aggregate` and `distinct` are the master key's, not the read-only one's. A transport asks this before it
        reads the request, as Parse refuses the key first."""
        require_master(auth)
        if auth.read_only:
            raise OperationForbiddenError("Cannot run an aggregation pipeline when using the readOnlyMasterKey")

    async def aggregate(self, auth: Auth, class_name: str, pipeline: list[dict[str, Any]]) -> list[Record]:
        """An `/aggregate` pipeline over Parse field names, with the stages the engine runs (master key, not
        read-only)."""
        self.require_aggregation(auth)
        permissions.require_class_access("find", class_name, auth)
        schema = await self._schema_for(auth, class_name)
        if schema is None:
            return []
        permissions.pointer_fields_for(schema, auth, "find")
        (await self.storage.capabilities()).require_pipeline(pipeline)
        return await self.storage.aggregate(schema, pipeline)

    async def distinct(self, auth: Auth, class_name: str, field_name: str, where: Any) -> list[Any]:
        """The distinct values of a field among the objects matching `where` (master key, not read-only)."""
        self.require_aggregation(auth)
        permissions.require_class_access("find", class_name, auth)
        schema = await self._schema_for(auth, class_name)
        parsed = parse_where(where, schema, master=auth.master, internal=auth.maintenance)
        if not auth.master and not is_flat(parsed):
            await self._require_bounded_patterns(auth, parsed)
        if schema is None:
            return []
        parsed = await self._resolve_subqueries(auth, schema, parsed, 0)
        constraint = permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, "find"), auth)
        return await self.storage.distinct(
            schema, field_name, Find(and_(parsed, constraint), acl=None if auth.master else auth.groups)
        )

    async def _schema_for(self, auth: Auth, class_name: str) -> ClassSchema | None:
        return await schema_for(
            self.schemas, auth, class_name, client_class_creation=self.settings.allow_client_class_creation
        )

    async def _require_bounded_patterns(self, auth: Auth, where: Mapping[str, Any]) -> None:
        """On an engine that does not bound a pattern match, refuse (102) the patterns a backtracking engine
        could run on for very long (app/domain/backtracking.py), before any reaches the database. The master
        key is trusted with its own queries; sub-queries are checked when they run, as finds."""
        patterns = regex_constraints(where)
        if patterns and not (await self.storage.capabilities()).bounded_pattern_matching:
            for pattern, options in patterns:
                require_bounded(pattern, options)

    def _sort(self, schema: ClassSchema, order: tuple[str, ...]) -> list[tuple[str, int]]:
        result = []
        for name, direction in parse_order(order):
            if name == "$score":
                result.append((name, direction))
                continue
            if name.startswith("authData.") and name.endswith(".id"):
                raise InvalidKeyNameError(f"Cannot sort by {name}")
            root = name.split(".", 1)[0]
            if root in _STORED_DATES:
                # Parse takes the names its MongoDB documents store the dates under.
                name = root = _STORED_DATES[root]
            if not is_valid_field_name(root, schema.name):
                raise InvalidKeyNameError(f"Invalid field name: {name}.")
            if root in schema.fields:
                result.append((name, direction))
        return result

    def _projection(self, schema: ClassSchema, options: QueryOptions) -> tuple[set[str] | None, list[list[str]]]:
        """The stored fields to read, and the include paths (keys `a.b` include `a`, as Parse does)."""
        keys = None
        include_paths = set(options.include)
        if options.keys is not None:
            # A name that cannot be a field (`$a`, a NUL) selects nothing, as a name no object has would.
            roots = {key.split(".", 1)[0] for key in options.keys}
            keys = {root for root in roots if root in schema.fields or is_valid_field_name(root)} | set(ALWAYS_SELECTED)
            include_paths.update(key.rsplit(".", 1)[0] for key in options.keys if "." in key)
        if options.exclude_keys:
            excluded = {key for key in options.exclude_keys if key not in ALWAYS_SELECTED}
            include_paths.update(key.rsplit(".", 1)[0] for key in options.exclude_keys if "." in key)
            keys = (keys if keys is not None else set(schema.fields)) - excluded
        if options.include_all or "*" in include_paths:
            include_paths.discard("*")
            for name, type_ in schema.fields.items():
                if type_.type in ("Pointer", "Array"):
                    include_paths.add(name)
                    if keys is not None:
                        keys.add(name)
        expanded: set[str] = set()
        for path in include_paths:
            parts = path.split(".")
            expanded.update(".".join(parts[: i + 1]) for i in range(len(parts)))
        return keys, sorted((path.split(".") for path in expanded if path), key=len)

    async def _include(
        self, auth: Auth, results: list[Record], paths: list[list[str]], options: QueryOptions, depth: int
    ) -> None:
        for path in paths:
            pointers: dict[str, set[str]] = {}
            for record in results:
                for pointer in pointers_at(record, path):
                    pointers.setdefault(pointer.class_name, set()).add(pointer.object_id)
            if not pointers:
                continue
            sub_options = QueryOptions(
                keys=sub_keys(options.keys, path), exclude_keys=sub_exclude(options.exclude_keys, path)
            )
            loaded: dict[tuple[str, str], ParseObject] = {}
            for class_name, ids in pointers.items():
                where = {"objectId": next(iter(ids))} if len(ids) == 1 else {"objectId": {"$in": sorted(ids)}}
                try:
                    found = await self.find(
                        auth,
                        class_name,
                        where,
                        replace(sub_options, limit=len(ids)),
                        op="get",
                        depth=depth + 1,
                    )
                except (OperationForbiddenError, ObjectNotFoundError):
                    continue
                for record in found.results:
                    loaded[(class_name, record["objectId"])] = ParseObject(class_name, record)
            for record in results:
                replace_pointers(record, path, loaded)

    async def _resolve_subqueries(
        self, auth: Auth, schema: ClassSchema, where: dict[str, Any], depth: int
    ) -> dict[str, Any]:
        """Run `$inQuery`, `$select`, `$relatedTo` and relation constraints into plain `$in`s on ids."""
        # Callers the limits do not bind (the master key) still stop here, before Python's recursion does.
        deepest = max(_MAX_SUBQUERY_DEPTH, self.settings.limits.subquery_depth)
        if depth > deepest:
            raise InvalidQueryError(f"Subquery nesting depth exceeds maximum allowed depth of {deepest}")
        result: dict[str, Any] = {}
        id_constraints: list[dict[str, Any]] = []
        for key, constraint in where.items():
            if key in LOGICAL:
                result[key] = [await self._resolve_subqueries(auth, schema, sub, depth) for sub in constraint]
            elif key == "$relatedTo":
                ids = await self._related_ids(auth, constraint, depth) if constraint else []
                id_constraints.append({"$in": ids})
            elif key in schema.relation_fields:
                if isinstance(constraint, dict) and any(op in constraint for op in SUBQUERY_OPERATORS):
                    # `{relation: {$inQuery: …}}`: the matching objects first, then who relates to them.
                    constraint = await self._subquery_constraint(auth, constraint, depth)
                id_constraints.extend(await self._relation_constraint(schema, key, constraint))
            elif isinstance(constraint, dict) and any(op in constraint for op in SUBQUERY_OPERATORS):
                result[key] = await self._subquery_constraint(auth, constraint, depth)
            else:
                result[key] = constraint
        if id_constraints:
            existing = result.pop("objectId", None)
            if existing is not None:
                id_constraints.append(existing if isinstance(existing, dict) else {"$eq": existing})
            result["$and"] = [*result.get("$and", []), *({"objectId": c} for c in id_constraints)]
        return result

    async def _subquery_constraint(self, auth: Auth, constraint: dict[str, Any], depth: int) -> dict[str, Any]:
        resolved = {k: v for k, v in constraint.items() if k not in SUBQUERY_OPERATORS}
        for op in SUBQUERY_OPERATORS:
            if op not in constraint:
                continue
            spec = constraint[op]
            reads = self.settings.limits.subquery_reads(auth)
            options = QueryOptions(limit=_EVERY_MATCH if reads is None else reads)
            found = await self.find(auth, spec["className"], spec["where"], options, depth=depth + 1, capped=False)
            if op in ("$inQuery", "$notInQuery"):
                values: list[Any] = [Pointer(spec["className"], r["objectId"]) for r in found.results]
            else:
                values = [value_at(r, spec["key"]) for r in found.results]
                values = [v for v in values if v is not MISSING]
            target = "$in" if op in ("$inQuery", "$select") else "$nin"
            resolved[target] = [*resolved.get(target, []), *values]
        return resolved

    async def find_related(
        self,
        auth: Auth,
        class_name: str,
        key: str,
        owner_ids: list[str],
        where: Any,
        options: QueryOptions,
        *,
        owners_read: bool = False,
    ) -> dict[str, list[Record]]:
        """The objects in relation `key` of several owners that match `where`, each owner's in `options.order`:
        one query for every owner together instead of one per owner. Paging is the caller's.

        `owners_read` says the caller has just read the owners with this same `auth`, so they need no check.
        """
        require_within_limits(where, self.settings.limits, auth)
        schema = await self.schemas.get(class_name)
        field_type = schema.fields.get(key) if schema else None
        if schema is None or field_type is None or field_type.type != "Relation" or not field_type.target_class:
            return {owner: [] for owner in owner_ids}
        if not auth.master:
            if key in permissions.protected_fields(schema, auth):
                raise denied(OperationForbiddenError, f"This user is not allowed to query {key} on class {class_name}")
            if not owners_read:
                readable = await self.find(
                    auth,
                    class_name,
                    {"objectId": {"$in": owner_ids}},
                    QueryOptions(keys=("objectId",), limit=len(owner_ids)),
                )
                visible = {record["objectId"] for record in readable.results}
                owner_ids = [owner for owner in owner_ids if owner in visible]
        related = await self.storage.relations.related_by_owner(class_name, key, owner_ids)
        every_id = sorted({object_id for ids in related.values() for object_id in ids})
        if not every_id:
            return {owner: [] for owner in owner_ids}
        constraint = {"objectId": {"$in": every_id}}
        found = await self.find(
            auth,
            field_type.target_class,
            {"$and": [where, constraint]} if where else constraint,
            replace(options, skip=0, limit=len(every_id), count=False),
            capped=False,
        )
        return {
            owner: [record for record in found.results if record["objectId"] in members]
            for owner, members in ((owner, set(related.get(owner, ()))) for owner in owner_ids)
        }

    async def _related_ids(self, auth: Auth, related: dict[str, Any], depth: int) -> list[str]:
        owner: Pointer = related["object"]
        key: str = related["key"]
        if not auth.master:
            owner_schema = await self.schemas.get(owner.class_name)
            if owner_schema is not None and key in permissions.protected_fields(owner_schema, auth):
                raise denied(
                    OperationForbiddenError, f"This user is not allowed to query {key} on class {owner.class_name}"
                )
            # The relation of an object the caller cannot read must not reveal its members.
            try:
                readable = await self.find(
                    auth,
                    owner.class_name,
                    {"objectId": owner.object_id},
                    QueryOptions(keys=("objectId",), limit=1),
                    op="get",
                    depth=depth + 1,
                )
            except (OperationForbiddenError, ObjectNotFoundError):
                return []
            if not readable.results:
                return []
        return await self.storage.relations.related_ids(owner.class_name, key, owner.object_id)

    async def _relation_constraint(self, schema: ClassSchema, key: str, constraint: Any) -> list[dict[str, Any]]:
        """`relation = pointer`, `$in`, `$nin`, `$ne` on a relation field, as constraints on objectId."""
        if isinstance(constraint, Pointer):
            return [{"$in": await self.storage.relations.owning_ids(schema.name, key, [constraint.object_id])}]
        if not isinstance(constraint, dict):
            return [{"$in": []}]
        result = []
        for op, value in constraint.items():
            members = value if isinstance(value, list) else [value]
            ids = [p.object_id for p in members if isinstance(p, Pointer)]
            owners = await self.storage.relations.owning_ids(schema.name, key, ids)
            result.append({"$nin": owners} if op in ("$nin", "$ne") else {"$in": owners})
        return result or [{"$in": []}]
