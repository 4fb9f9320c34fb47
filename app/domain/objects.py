"""ObjectService: find, get, create, update and delete objects, with ACLs and class permissions applied."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from app.domain import permissions
from app.domain.acl import ACL, MASTER, Auth
from app.domain.auth_providers import AuthProviders
from app.domain.classes import (
    REQUIRED_ON_WRITE,
    SYSTEM_CLASSES,
    ClassSchema,
    is_valid_class_name,
    is_valid_field_name,
)
from app.domain.events import EventSink, WriteEvent
from app.domain.hooks import CloudQuery, Hooks
from app.domain.includes import pointers_at, replace_pointers, sub_exclude, sub_keys
from app.domain.operations import ECHOED, Delete, RelationChange, apply_changes, value_on_create
from app.domain.queries import (
    ALWAYS_SELECTED,
    LOGICAL,
    SUBQUERY_OPERATORS,
    QueryOptions,
    constrained_keys,
    parse_order,
    parse_where,
)
from app.domain.schemas import SchemaRegistry
from app.domain.sessions import new_session
from app.domain.users import (
    PasswordHasher,
    PasswordPolicy,
    duplicate_user_error,
    email_verify_fields,
    needs_email_verification,
    prepare_user_write,
)
from app.domain.values import ParseObject, Pointer, Record, Relation, utc_now
from app.errors import (
    AppError,
    DuplicateValueError,
    IncorrectTypeError,
    InvalidJSONError,
    InvalidKeyNameError,
    InvalidQueryError,
    InvalidSessionTokenError,
    ObjectNotFoundError,
    OperationForbiddenError,
    ValidationError,
    denied,
)
from app.storage.base import Find, Storage

_ID_ALPHABET = string.ascii_letters + string.digits
_MAX_SUBQUERY_DEPTH = 10


@dataclass(frozen=True, slots=True)
class ObjectSettings:
    allow_client_class_creation: bool = False
    default_limit: int = 100
    max_limit: int | None = None
    object_id_size: int = 10
    allow_custom_object_id: bool = False
    enforce_private_users: bool = True
    session_length: float | None = 31536000.0
    """Seconds a new session lasts; None: forever."""
    verify_user_emails: bool = False
    email_verify_token_validity: float | None = None
    """Seconds an email verification link works; None: until it is used."""
    revoke_session_on_password_reset: bool = True


@dataclass(slots=True)
class FindResult:
    results: list[Record]
    count: int | None = None
    plan: dict[str, Any] | None = None
    """With `explain`: the database's plan instead of results."""


@dataclass(slots=True)
class WriteResult:
    """What a write stored (`object`) and what Parse answers for it (`response`)."""

    object: Record
    response: Record = field(default_factory=dict)


def new_object_id(size: int = 10) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(size))


class ObjectService:
    """The one path every transport takes to read and write objects."""

    def __init__(
        self,
        storage: Storage,
        schemas: SchemaRegistry,
        settings: ObjectSettings,
        events: EventSink | None = None,
        hasher: PasswordHasher | None = None,
        password_policy: PasswordPolicy | None = None,
        auth_providers: AuthProviders | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.hooks = hooks
        """Cloud code; set by the app once the services it needs exist."""
        self.storage = storage
        self.schemas = schemas
        self.settings = settings
        self.events = events
        self.hasher = hasher or PasswordHasher()
        self.password_policy = password_policy
        self.auth_providers = auth_providers or AuthProviders()

    # Reads ------------------------------------------------------------------------------------------

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
        """Objects matching `where` that `auth` may read; `capped=False` lifts the server's max_limit for
        internal reads of a known set of ids."""
        permissions.require_class_access("get" if op == "get" else "find", class_name, auth)
        hooked = depth == 0 and self.hooks is not None and self._find_hooked(class_name)
        if hooked:
            where, options = await self._before_find(auth, class_name, where, options, op)
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
        parsed = _and(parse_where(where, schema, master=auth.master), own_sessions)
        if schema is None:
            return FindResult([], 0 if options.count else None)
        protected = permissions.protected_fields(schema, auth)
        self._refuse_protected(schema, parsed, options, protected)
        parsed = await self._resolve_subqueries(auth, schema, parsed, depth)
        order = self._sort(schema, options.order)
        keys, include = self._projection(schema, options)
        acl = None if auth.master else auth.groups
        results: list[Record] = []
        limit = options.limit if options.limit is not None else self.settings.default_limit
        if self.settings.max_limit is not None and capped:
            limit = min(limit, self.settings.max_limit)
        if options.explain:
            if not auth.master:
                raise InvalidQueryError("Using the explain query parameter requires the master key")
            plan = await self.storage.explain(schema, Find(parsed, tuple(order), options.skip, limit))
            return FindResult([], plan=plan)
        if limit != 0:
            constraint = permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, op), auth)
            records = await self.storage.find(
                schema,
                Find(
                    _and(parsed, constraint),
                    tuple(order),
                    options.skip,
                    limit,
                    frozenset(keys) if keys is not None else None,
                    acl,
                    hint=options.hint,
                    comment=options.comment,
                    read_preference=options.read_preference,
                ),
            )
            results = [self._visible(schema, auth, record) for record in records]
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
            count = await self.storage.count(schema, Find(_and(parsed, constraint), acl=acl))
        if hooked and self.hooks is not None and self.hooks.has("after_find", class_name):
            query = CloudQuery(class_name, dict(where or {}), options.limit, options.skip, list(options.order))
            # What the hook answers passes the same field rules as what the database answered.
            results = [
                self._visible(schema, auth, record) for record in await self.hooks.after_find(auth, query, results)
            ]
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

    # Live queries -------------------------------------------------------------------------------------

    async def live_query(
        self, auth: Auth, class_name: str, where: Any, watch: tuple[str, ...] = ()
    ) -> tuple[ClassSchema | None, dict[str, Any], str]:
        """Check that `auth` may follow `where` on the class as a find; the class, the decoded constraints,
        and the class operation each event is checked against (`get` when the query names one object)."""
        op = "get" if isinstance(where, Mapping) and list(where) == ["objectId"] else "find"
        permissions.require_class_access(op, class_name, auth)
        schema = await self._schema_for(auth, class_name)
        parsed = _and(parse_where(where, schema, master=auth.master), permissions.session_constraint(class_name, auth))
        if schema is not None:
            permissions.pointer_fields_for(schema, auth, op)
            protected = permissions.protected_fields(schema, auth)
            self._refuse_protected(schema, parsed, QueryOptions(), protected)
            for key in watch:
                if key in protected or key.split(".", 1)[0] in protected:
                    raise denied(
                        OperationForbiddenError, f"This user is not allowed to watch {key} on class {class_name}"
                    )
        return schema, parsed, op

    def event_view(self, schema: ClassSchema, auth: Auth, record: Record, op: str) -> Record | None:
        """What `auth` may see of one object a write touched, or None when it may not read it at all:
        the same class permission, pointer permission, session, ACL and field rules as a find."""
        try:
            permissions.require_class_access(op, schema.name, auth)
            fields = permissions.pointer_fields_for(schema, auth, op)
            if not permissions.matches_constraint(record, permissions.session_constraint(schema.name, auth)):
                return None
        except AppError:
            return None
        if fields and not any(permissions.points_to(record.get(name), auth.user_id) for name in fields):
            return None
        acl = record.get("ACL")
        if isinstance(acl, ACL) and not acl.can_read(auth):
            return None
        view = dict(record)
        if isinstance(view.get("authData"), dict):
            view["authData"] = dict(view["authData"])
        return self._visible(schema, auth, view)

    async def include(self, auth: Auth, class_name: str, records: list[Record], include: tuple[str, ...]) -> None:
        """Replace the pointers at `include` paths of records already in hand with the objects, as a find would."""
        schema = await self.schemas.get(class_name)
        if schema is None or not include:
            return
        options = QueryOptions(include=include)
        _, paths = self._projection(schema, options)
        await self._include(auth, records, paths, options, 0)

    async def purge(self, auth: Auth, class_name: str) -> None:
        """Delete every object of a class (the transport allows it to the master key only)."""
        permissions.require_class_access("delete", class_name, auth)
        schema = await self.schemas.get(class_name)
        if schema is not None:
            await self.storage.purge(schema)

    async def aggregate(self, auth: Auth, class_name: str, pipeline: list[dict[str, Any]]) -> list[Record]:
        """A MongoDB pipeline over Parse field names (the transport allows it to the master key only)."""
        permissions.require_class_access("find", class_name, auth)
        schema = await self._schema_for(auth, class_name)
        if schema is None:
            return []
        permissions.pointer_fields_for(schema, auth, "find")
        return await self.storage.aggregate(schema, pipeline)

    async def distinct(self, auth: Auth, class_name: str, field_name: str, where: Any) -> list[Any]:
        permissions.require_class_access("find", class_name, auth)
        schema = await self._schema_for(auth, class_name)
        parsed = parse_where(where, schema, master=auth.master)
        if schema is None:
            return []
        parsed = await self._resolve_subqueries(auth, schema, parsed, 0)
        constraint = permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, "find"), auth)
        return await self.storage.distinct(
            schema, field_name, Find(_and(parsed, constraint), acl=None if auth.master else auth.groups)
        )

    async def _schema_for(self, auth: Auth, class_name: str) -> ClassSchema | None:
        """The class's schema, or None; a client may not touch a class that does not exist unless allowed."""
        schema = await self.schemas.get(class_name)
        if (
            schema is None
            and not auth.master
            and not self.settings.allow_client_class_creation
            and class_name not in SYSTEM_CLASSES
        ):
            raise denied(
                OperationForbiddenError,
                f"This user is not allowed to access non-existent class: {class_name}",
            )
        return schema

    def _refuse_protected(
        self, schema: ClassSchema, where: Mapping[str, Any], options: QueryOptions, protected: set[str]
    ) -> None:
        if not protected:
            return
        for key in constrained_keys(where):
            if key in protected or key.split(".", 1)[0] in protected:
                raise denied(OperationForbiddenError, f"This user is not allowed to query {key} on class {schema.name}")
        for key, _ in parse_order(options.order):
            if key in protected or key.split(".", 1)[0] in protected:
                raise denied(
                    OperationForbiddenError,
                    f"This user is not allowed to sort by {key} on class {schema.name}",
                )

    def _sort(self, schema: ClassSchema, order: tuple[str, ...]) -> list[tuple[str, int]]:
        result = []
        for name, direction in parse_order(order):
            if name == "$score":
                result.append((name, direction))
                continue
            if name.startswith("authData.") and name.endswith(".id"):
                raise InvalidKeyNameError(f"Cannot sort by {name}")
            root = name.split(".", 1)[0]
            if root in ("_created_at", "_updated_at"):
                name, root = {"_created_at": "createdAt", "_updated_at": "updatedAt"}[root], name
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
            keys = {key.split(".", 1)[0] for key in options.keys if key} | set(ALWAYS_SELECTED)
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

    def _visible(self, schema: ClassSchema, auth: Auth, record: Record) -> Record:
        """Strip what this caller may not see: protected fields, internal columns, others' auth data."""
        is_user = schema.name == "_User"
        is_self = is_user and auth.user_id is not None and record.get("objectId") == auth.user_id
        if not auth.master and not is_self:
            for name in permissions.protected_fields(schema, auth, record):
                record.pop(name, None)
        for key in [key for key in record if key.startswith("_")]:
            del record[key]
        if is_user:
            record.pop("password", None)
            record.pop("sessionToken", None)
            auth_data = record.get("authData")
            if isinstance(auth_data, dict):
                for provider in [p for p, value in auth_data.items() if value is None]:
                    del auth_data[provider]
                if not auth_data or not (auth.master or is_self):
                    del record["authData"]
        return record

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
        if depth > _MAX_SUBQUERY_DEPTH:
            raise InvalidQueryError(f"Subquery nesting depth exceeds maximum allowed depth of {_MAX_SUBQUERY_DEPTH}")
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
            found = await self.find(auth, spec["className"], spec["where"], QueryOptions(limit=None), depth=depth + 1)
            if op in ("$inQuery", "$notInQuery"):
                values: list[Any] = [Pointer(spec["className"], r["objectId"]) for r in found.results]
            else:
                values = [_value_at(r, spec["key"]) for r in found.results]
                values = [v for v in values if v is not _MISSING]
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
        related = await self.storage.related_by_owner(class_name, key, owner_ids)
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
        return await self.storage.related_ids(owner.class_name, key, owner.object_id)

    async def _relation_constraint(self, schema: ClassSchema, key: str, constraint: Any) -> list[dict[str, Any]]:
        """`relation = pointer`, `$in`, `$nin`, `$ne` on a relation field, as constraints on objectId."""
        if isinstance(constraint, Pointer):
            return [{"$in": await self.storage.owning_ids(schema.name, key, [constraint.object_id])}]
        if not isinstance(constraint, dict):
            return [{"$in": []}]
        result = []
        for op, value in constraint.items():
            members = value if isinstance(value, list) else [value]
            ids = [p.object_id for p in members if isinstance(p, Pointer)]
            owners = await self.storage.owning_ids(schema.name, key, ids)
            result.append({"$nin": owners} if op in ("$nin", "$ne") else {"$in": owners})
        return result or [{"$in": []}]

    # Writes -----------------------------------------------------------------------------------------

    async def create(self, auth: Auth, class_name: str, data: Mapping[str, Any]) -> WriteResult:
        permissions.require_class_access("create", class_name, auth)
        custom_id = data.get("objectId")
        if not self.settings.allow_custom_object_id:
            # Parse ignores an empty objectId, and refuses any other.
            if custom_id:
                raise InvalidKeyNameError("objectId is an invalid field name.")
            if data.get("id"):
                raise InvalidKeyNameError("id is an invalid field name.")
        elif "objectId" in data and not custom_id:
            raise AppError("objectId must not be empty, null or undefined", code=104)
        if class_name == "_Session":
            data = self._session_to_create(auth, data)
        schema = await self._schema_for(auth, class_name)
        changed_by_hook: list[str] = []
        if self.hooks is not None and self.hooks.has("before_save", class_name):
            data, changed_by_hook = await self.hooks.before_save(auth, class_name, data, None)
        values = {k: v for k, v in data.items() if k not in ("objectId", "id") or self.settings.allow_custom_object_id}
        values.pop("objectId", None)
        schema = await self._ensure_fields(auth, class_name, schema, values, updating=False)
        values.pop("createdAt", None)
        values.pop("updatedAt", None)
        _require_columns(class_name, values, creating=True)
        if class_name == "_User":
            values = await prepare_user_write(
                values, creating=True, auth=auth, hasher=self.hasher, policy=self.password_policy
            )
            if self.settings.verify_user_emails and needs_email_verification(values):
                values.update(email_verify_fields(self.settings.email_verify_token_validity))
        record: Record = {}
        echoed: Record = {}
        response: Record = {}
        relations: dict[str, RelationChange] = {}
        for name, value in values.items():
            if isinstance(value, RelationChange):
                relations[name] = value
            elif isinstance(value, Delete):
                continue
            elif isinstance(value, ECHOED):
                record[name] = echoed[name] = value_on_create(value)
            elif name != "ACL":
                record[name] = value
        for name, type_ in schema.fields.items():
            missing = name not in record or record[name] is None or record[name] == ""
            if not missing:
                continue
            if type_.has_default and type_.default is not None and name not in record:
                record[name] = type_.default
                response[name] = type_.default
            elif type_.required:
                raise ValidationError(f"{name} is required")
        acl = values.get("ACL")
        if acl is None:
            default_acl = schema.permissions.get("ACL")
            if default_acl and default_acl != {"*": {"read": True, "write": True}}:
                acl = _default_acl(default_acl, auth)
                response["ACL"] = acl
        permissions.pointer_fields_for(schema, auth, "create")
        now = utc_now()
        object_id = custom_id if self.settings.allow_custom_object_id else None
        stored: Record = {"objectId": object_id or new_object_id(self.settings.object_id_size), **record}
        if class_name == "_User":
            # A user always keeps read and write on itself; others read it only if users are public.
            own = stored["objectId"]
            base = acl or ACL((() if self.settings.enforce_private_users else ("*",)), ())
            acl = ACL(tuple(dict.fromkeys((*base.read, own))), tuple(dict.fromkeys((*base.write, own))))
        if acl is not None:
            stored["ACL"] = acl
        stored["createdAt"] = stored["updatedAt"] = now
        try:
            await self.storage.insert(schema, stored)
        except DuplicateValueError as error:
            if class_name == "_User":
                raise duplicate_user_error(getattr(error, "field", None)) from None
            raise
        for name, change in relations.items():
            await self._change_relation(class_name, name, stored["objectId"], change)
        for name in schema.relation_fields:
            stored[name] = Relation(schema.fields[name].target_class or "")
        await self._emit(WriteEvent("create", schema, stored, None, auth))
        hidden = permissions.protected_fields(schema, auth, stored) if changed_by_hook else set()
        for name in changed_by_hook:
            # A field the hook set is echoed, unless the caller may not read it.
            if stored.get(name) is not None and name not in hidden and not name.startswith("_"):
                response[name] = stored[name]
        if self.hooks is not None:
            await self.hooks.after_save(auth, class_name, stored, None)
        if class_name == "_Session" and not auth.master:
            # A client's new session is answered whole, so the client learns its token.
            return WriteResult(stored, {**data, "objectId": stored["objectId"]})
        # Parse answers with operation results first, then the id and time, then what the server filled in.
        return WriteResult(stored, {**echoed, "objectId": stored["objectId"], "createdAt": now, **response})

    async def update(self, auth: Auth, class_name: str, object_id: str, data: Mapping[str, Any]) -> WriteResult:
        permissions.require_class_access("update", class_name, auth)
        schema = await self._schema_for(auth, class_name)
        if schema is None:
            if not is_valid_class_name(class_name):
                raise InvalidJSONError("schema class name does not revalidate")
            raise ObjectNotFoundError("Object not found.")
        constraint = _and(
            permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, "update"), auth),
            permissions.session_constraint(class_name, auth),
        )
        values = dict(data)
        changed_by_hook: list[str] = []
        if self.hooks is not None and self.hooks.has("before_save", class_name):
            # What the hook sees as `original`: the object this caller may write, or the write fails here.
            groups = None if auth.master else auth.groups
            where = _and({"objectId": object_id}, constraint)
            original = await self.storage.find(schema, Find(where, limit=1, acl=groups, for_write=True))
            if not original:
                raise ObjectNotFoundError("Object not found.")
            visible = self._visible(schema, MASTER, dict(original[0]))
            values, changed_by_hook = await self.hooks.before_save(auth, class_name, values, visible)
        if class_name == "_Session":
            _check_session_update(auth, values)
        if "objectId" in values and values.pop("objectId") != object_id:
            raise InvalidKeyNameError("objectId is an invalid field name.")
        for name in values:
            if name.startswith("authData."):
                raise InvalidKeyNameError(f"Invalid field name for update: {name}")
        schema, add_constraint = await self._ensure_fields_for_update(auth, class_name, schema, values)
        # Timestamps are the server's: checked for type like any field, then ignored.
        values.pop("createdAt", None)
        values.pop("updatedAt", None)
        _require_columns(class_name, values, creating=False)
        if class_name == "_User":
            if not auth.master and not auth.is_authenticated:
                raise denied(AppError, f"Cannot modify user {object_id}.", code=206)
            await self._link_auth_data(schema, object_id, values.get("authData"))
            current = None
            policy = self.password_policy
            if policy is not None and policy.needs_stored_user and "password" in values:
                stored = await self.storage.find(schema, Find({"objectId": object_id}, limit=1))
                current = stored[0] if stored else None
            values = await prepare_user_write(
                values, creating=False, auth=auth, hasher=self.hasher, policy=policy, current=current
            )
            if "_hashed_password" in values or "email" in values:
                # A reset link stops working once the password or the address it went to changes.
                values["_perishable_token"] = values["_perishable_token_expires_at"] = Delete()
            if self.settings.verify_user_emails and needs_email_verification(values):
                values.update(email_verify_fields(self.settings.email_verify_token_validity))
        for name, value in values.items():
            type_ = schema.fields.get(name)
            if type_ and type_.required and (value is None or value == "" or isinstance(value, Delete)):
                raise ValidationError(f"{name} is required")
        relations = {k: v for k, v in values.items() if isinstance(v, RelationChange)}
        changes: dict[str, Any] = {k: v for k, v in values.items() if k not in relations}
        if isinstance(changes.get("ACL"), ACL) and class_name == "_User" and not auth.master:
            # Users cannot lock themselves out of their own record.
            acl: ACL = changes["ACL"]
            changes["ACL"] = ACL(
                tuple(dict.fromkeys((*acl.read, object_id))), tuple(dict.fromkeys((*acl.write, object_id)))
            )
        now = utc_now()
        changes["updatedAt"] = now
        before = await self.storage.update(
            schema, object_id, _and(constraint, add_constraint), changes, None if auth.master else auth.groups
        )
        if before is None:
            if class_name == "_User" and not auth.master:
                raise denied(AppError, "Insufficient auth.", code=206)
            raise ObjectNotFoundError("Object not found.")
        after = apply_changes(before, changes)
        for name, change in relations.items():
            await self._change_relation(class_name, name, object_id, change)
        response: Record = {}
        for name, value in values.items():
            if isinstance(value, ECHOED):
                result = _value_at(after, name)
                if result is not _MISSING and result is not None:
                    _expand_path(response, name.split("."), result)
        response["updatedAt"] = now
        hidden = permissions.protected_fields(schema, auth, after) if changed_by_hook else set()
        for name in changed_by_hook:
            # Parse answers with the time, then what the hook changed (unless the caller may not read it).
            if after.get(name) is not None and name not in hidden and not name.startswith("_"):
                response[name] = after[name]
        await self._emit(WriteEvent("update", schema, after, before, auth))
        if self.hooks is not None:
            await self.hooks.after_save(auth, class_name, after, before)
        if class_name == "_User" and "_hashed_password" in values:
            token = await self._after_password_change(auth, object_id)
            if token is not None:
                response["sessionToken"] = token
        return WriteResult(after, response)

    async def _after_password_change(self, auth: Auth, user_id: str) -> str | None:
        """Parse's `revokeSessionOnPasswordReset`: a new password ends every session of the user; a user who
        changed their own gets a new session (its token is returned), the master key does not."""
        if self.settings.revoke_session_on_password_reset:
            await self.delete_sessions_of(user_id)
        if auth.master:
            return None
        session = new_session(user_id, "update", auth.installation_id, self.settings.session_length)
        del session["createdWith"]  # Parse records no way of making for this one
        await self.create(MASTER, "_Session", session)
        return str(session["sessionToken"])

    async def delete_sessions_of(self, user_id: str) -> None:
        schema = await self.schemas.get("_Session")
        if schema is None:
            return
        where = {"user": Pointer("_User", user_id)}
        for session in await self.storage.find(schema, Find(where, keys=frozenset({"objectId"}))):
            await self.delete(MASTER, "_Session", session["objectId"])

    async def delete(self, auth: Auth, class_name: str, object_id: str) -> None:
        if not isinstance(object_id, str):
            raise InvalidJSONError("bad objectId")
        if class_name == "_User" and not auth.master and not auth.is_authenticated:
            raise AppError("Insufficient auth to delete user", code=206)
        permissions.require_class_access("delete", class_name, auth)
        schema = await self._schema_for(auth, class_name)
        if schema is None:
            raise ObjectNotFoundError("Object not found for delete.")
        constraint = _and(
            permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, "delete"), auth),
            permissions.session_constraint(class_name, auth),
        )
        acl = None if auth.master else auth.groups
        found = await self.storage.find(
            schema, Find(_and({"objectId": object_id}, constraint), limit=1, acl=acl, for_write=True)
        )
        if not found:
            raise ObjectNotFoundError("Object not found for delete.")
        if self.hooks is not None:
            await self.hooks.before_delete(auth, class_name, self._visible(schema, MASTER, dict(found[0])))
        # The ACL is checked on the write ACL at delete time; reading it above only fetched the object.
        if not await self.storage.delete(schema, object_id, constraint, acl):
            raise ObjectNotFoundError("Object not found.")
        await self._emit(WriteEvent("delete", schema, None, found[0], auth))
        if self.hooks is not None:
            await self.hooks.after_delete(auth, class_name, self._visible(schema, MASTER, dict(found[0])))

    async def _link_auth_data(self, schema: ClassSchema, user_id: str, auth_data: Any) -> None:
        """Linking a provider to a user: its data must prove the id, and no other user may hold that id.
        (A provider set to null is unlinked.)"""
        if not isinstance(auth_data, Mapping):
            return
        for provider, data in auth_data.items():
            if not data:
                continue
            await self.auth_providers.verify(provider, data)
            where = parse_where(
                {f"authData.{provider}.id": data["id"], "objectId": {"$ne": user_id}}, schema, master=True
            )
            if await self.storage.find(schema, Find(where, limit=1, keys=frozenset({"objectId"}))):
                raise AppError("this auth is already used", code=208)

    def _session_to_create(self, auth: Auth, data: Mapping[str, Any]) -> Mapping[str, Any]:
        """What a session written by a client holds: a new token for its own user, as Parse Server makes it."""
        if auth.master:
            return data
        if auth.user_id is None:
            raise InvalidSessionTokenError("Session token required.")
        if "ACL" in data:
            raise InvalidKeyNameError("Cannot set ACL on a Session.")
        extra = {k: v for k, v in data.items() if k not in _SESSION_OWN_KEYS}
        return {**new_session(auth.user_id, "create", None, self.settings.session_length), **extra}

    async def _ensure_fields(
        self,
        auth: Auth,
        class_name: str,
        schema: ClassSchema | None,
        values: Mapping[str, Any],
        *,
        updating: bool,
    ) -> ClassSchema:
        if schema is None and not is_valid_class_name(class_name):
            raise InvalidJSONError("schema class name does not revalidate")
        added = self.schemas.new_fields(schema, class_name, values)
        if schema is not None and added and not auth.master:
            permissions.pointer_fields_for(schema, auth, "addField", updating=updating)
        if schema is None or added:
            schema = await self.schemas.add_fields(class_name, added)
        return schema

    async def _ensure_fields_for_update(
        self, auth: Auth, class_name: str, schema: ClassSchema, values: Mapping[str, Any]
    ) -> tuple[ClassSchema, Mapping[str, Any]]:
        added = self.schemas.new_fields(schema, class_name, values)
        constraint: Mapping[str, Any] = {}
        if added and not auth.master:
            fields = permissions.pointer_fields_for(schema, auth, "addField", updating=True)
            constraint = permissions.pointer_constraint(schema, fields, auth)
        if added:
            schema = await self.schemas.add_fields(class_name, added)
        return schema, constraint

    async def _change_relation(self, class_name: str, field: str, object_id: str, change: RelationChange) -> None:
        if change.add:
            await self.storage.add_relation(class_name, field, object_id, [p.object_id for p in change.add])
        if change.remove:
            await self.storage.remove_relation(class_name, field, object_id, [p.object_id for p in change.remove])

    async def _emit(self, event: WriteEvent) -> None:
        if self.events is not None:
            await self.events.publish(event)


def _require_columns(class_name: str, values: Mapping[str, Any], *, creating: bool) -> None:
    for name in REQUIRED_ON_WRITE.get(class_name, ()):
        value = values.get(name)
        missing = (not value) if creating else isinstance(value, Delete)
        if missing:
            raise IncorrectTypeError(f"{name} is required.")


def _default_acl(default: Mapping[str, Any], auth: Auth) -> ACL:
    rules = dict(default)
    current = rules.pop("currentUser", None)
    if current and auth.user_id:
        rules[auth.user_id] = current
    return ACL.from_json(rules)


def _and(where: Mapping[str, Any], constraint: Mapping[str, Any]) -> dict[str, Any]:
    if not constraint:
        return dict(where)
    if not where:
        return dict(constraint)
    return {"$and": [dict(where), dict(constraint)]}


_MISSING: Any = object()


def _value_at(record: Mapping[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        if isinstance(value, ParseObject):
            value = value.data
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _expand_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    """Put `value` at a dotted path, as Parse answers `{"a.b": op}` with `{"a": {"b": result}}`."""
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value


# Keys of a session that only the server sets (a client's values for them are dropped or refused).
_SESSION_OWN_KEYS = ("objectId", "user", "sessionToken", "expiresAt", "createdWith")


def _check_session_update(auth: Auth, values: Mapping[str, Any]) -> None:
    """Parse Server's rules for changing a session: never its ACL or token; its user and times by the master key."""
    if "ACL" in values:
        raise InvalidKeyNameError("Cannot set ACL on a Session.")
    user = values.get("user")
    if "user" in values and not auth.master and not (isinstance(user, Pointer) and user.object_id == auth.user_id):
        raise InvalidKeyNameError("Invalid key name: user")
    for key in ("installationId", "sessionToken"):
        if key in values:
            raise InvalidKeyNameError(f"Invalid key name: {key}")
    for key in ("expiresAt", "createdWith"):
        if key in values and not auth.master:
            raise InvalidKeyNameError(f"Invalid key name: {key}")
