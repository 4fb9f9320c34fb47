"""Creating, updating and deleting objects: class permissions, pointer permissions and ACLs applied, cloud code's
save and delete hooks run, the write events emitted, and the rules of `_User` and `_Session` consulted at named
points (`class_rules.py`). A write reports what it stored and what the server added (`WriteResult`); how a
protocol answers with it is the protocol's."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain import permissions
from app.domain.acl import ACL, MASTER, Auth
from app.domain.auth_providers import AuthProviders
from app.domain.class_rules import NO_RULES, ClassRules, SessionRules, UserRules
from app.domain.classes import MAINTAINED_FIELDS, REQUIRED_ON_WRITE, ClassSchema, is_valid_class_name
from app.domain.events import EventSink, WriteEvent
from app.domain.files import FileUrlDomains
from app.domain.hooks import Hooks
from app.domain.installations import InstallationRules
from app.domain.object_settings import ObjectSettings
from app.domain.operations import ECHOED, Delete, RelationChange, apply_changes, value_on_create
from app.domain.queries import and_
from app.domain.schemas import SchemaRegistry
from app.domain.store import Find, Storage
from app.domain.users import PasswordHasher, PasswordPolicy
from app.domain.values import MISSING, Pointer, Polygon, Record, Relation, utc_now, value_at
from app.domain.visibility import schema_for, visible
from app.errors import (
    AppError,
    DuplicateValueError,
    IncorrectTypeError,
    InvalidJSONError,
    InvalidKeyNameError,
    ObjectNotFoundError,
    ValidationError,
)

_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(slots=True)
class WriteResult:
    """What a write stored (`object`), and what of it a client is told beyond what it sent: the results of its
    operations (`echoed`: `Increment`'s total, `{"a.b": op}` as `{"a": {"b": …}}`), what the server filled in
    (`filled`: defaults, a default ACL), what a `before_save` hook changed that the caller may read (`hooked`), the
    whole session a client made (`whole`), a new session token (a user who changed their own password), and
    whether a create updated an object it found instead (`existing`)."""

    object: Record
    echoed: Record = field(default_factory=dict)
    filled: Record = field(default_factory=dict)
    hooked: Record = field(default_factory=dict)
    whole: Record | None = None
    session_token: str | None = None
    existing: bool = False
    """A create that found the object it describes already stored, and updated it (an installation seen again)."""


def new_object_id(size: int = 10) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(size))


class ObjectWrites:
    """Every write of objects, by any caller: its class permissions, pointer permissions and ACL checked, its
    class's own rules consulted (`rules`), its hooks run and its events emitted."""

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
        self.storage = storage
        self.schemas = schemas
        self.settings = settings
        self.events = events
        self.hasher = hasher or PasswordHasher()
        self.password_policy = password_policy
        self.auth_providers = auth_providers or AuthProviders()
        self.hooks = hooks
        self.file_urls = FileUrlDomains(settings.allowed_file_url_domains)
        self.rules: dict[str, ClassRules] = {
            "_User": UserRules(self),
            "_Session": SessionRules(self, settings.session_length),
            "_Installation": InstallationRules(self, schemas, settings.installations),
        }

    async def _schema_for(self, auth: Auth, class_name: str) -> ClassSchema | None:
        return await schema_for(
            self.schemas, auth, class_name, client_class_creation=self.settings.allow_client_class_creation
        )

    async def create(self, auth: Auth, class_name: str, data: Mapping[str, Any]) -> WriteResult:
        """A new object of `data` (decoded Parse JSON), the class made or widened as the caller may."""
        permissions.require_class_access("create", class_name, auth)
        rules = self.rules.get(class_name, NO_RULES)
        custom_id = data.get("objectId")
        if not self.settings.allow_custom_object_id:
            # Parse ignores an empty objectId, and refuses any other.
            if custom_id:
                raise InvalidKeyNameError("objectId is an invalid field name.")
            if data.get("id"):
                raise InvalidKeyNameError("id is an invalid field name.")
        elif "objectId" in data and not custom_id:
            raise AppError("objectId must not be empty, null or undefined", code=104)
        data, existing = await rules.settle(auth, None, data)
        if existing is not None:
            result = await self._update(auth, class_name, rules, existing, data)
            result.existing = True
            return result
        data = rules.incoming(auth, data)
        schema = await self._schema_for(auth, class_name)
        changed_by_hook: list[str] = []
        if self.hooks is not None and await self.hooks.runs("before_save", class_name):
            data, changed_by_hook = await self.hooks.before_save(auth, class_name, data, None)
        values = {k: v for k, v in data.items() if k not in ("objectId", "id") or self.settings.allow_custom_object_id}
        values.pop("objectId", None)
        self.file_urls.require_allowed(values)  # after the hooks, which may set files too, as Parse checks
        internal = _maintained(auth, class_name, values)
        schema = await self._ensure_fields(auth, class_name, schema, values, updating=False)
        given_times = values.pop("createdAt", None), values.pop("updatedAt", None)
        _require_columns(class_name, values, creating=True)
        values = await rules.prepare_create(auth, schema, values)
        record: Record = {}
        echoed: Record = {}
        filled: Record = {}
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
        record.update({name: value for name, value in internal.items() if not isinstance(value, Delete)})
        for name, type_ in schema.fields.items():
            missing = name not in record or record[name] is None or record[name] == ""
            if not missing:
                continue
            if type_.has_default and type_.default is not None and name not in record:
                default = type_.default
                record[name] = filled[name] = default.closed() if isinstance(default, Polygon) else default
            elif type_.required:
                raise ValidationError(f"{name} is required")
        acl = values.get("ACL")
        if acl is None:
            default_acl = schema.permissions.get("ACL")
            if default_acl and default_acl != {"*": {"read": True, "write": True}}:
                acl = _default_acl(default_acl, auth)
                filled["ACL"] = acl
        permissions.pointer_fields_for(schema, auth, "create")
        now = utc_now()
        object_id = custom_id if self.settings.allow_custom_object_id else None
        stored: Record = {"objectId": object_id or new_object_id(self.settings.object_id_size), **record}
        acl = rules.created_acl(stored["objectId"], acl)
        if acl is not None:
            stored["ACL"] = acl
        stored["createdAt"], stored["updatedAt"] = _creation_times(auth, *given_times, now)
        try:
            await self.storage.insert(schema, stored)
        except DuplicateValueError as error:
            raise rules.duplicate(error) from None
        for name, change in relations.items():
            await self._change_relation(class_name, name, stored["objectId"], change)
        for name in schema.relation_fields:
            stored[name] = Relation(schema.fields[name].target_class or "")
        await self._emit(WriteEvent("create", schema, stored, None, auth))
        hooked = self._hooked(schema, auth, stored, changed_by_hook)
        if self.hooks is not None:
            await self.hooks.after_save(auth, class_name, stored, None)
        whole = dict(data) if rules.answers_whole(auth) else None
        return WriteResult(stored, echoed, filled, hooked, whole)

    async def update(self, auth: Auth, class_name: str, object_id: str, data: Mapping[str, Any]) -> WriteResult:
        """Apply `data`'s values and operations to an object the caller may write."""
        permissions.require_class_access("update", class_name, auth)
        rules = self.rules.get(class_name, NO_RULES)
        data, target = await rules.settle(auth, object_id, data)
        return await self._update(auth, class_name, rules, target or object_id, data)

    async def _update(
        self, auth: Auth, class_name: str, rules: ClassRules, object_id: str, data: Mapping[str, Any]
    ) -> WriteResult:
        schema = await self._schema_for(auth, class_name)
        if schema is None:
            if not is_valid_class_name(class_name):
                raise InvalidJSONError("schema class name does not revalidate")
            raise ObjectNotFoundError("Object not found.")
        constraint = and_(
            permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, "update"), auth),
            permissions.session_constraint(class_name, auth),
        )
        values = dict(data)
        changed_by_hook: list[str] = []
        if self.hooks is not None and await self.hooks.runs("before_save", class_name):
            # What the hook sees as `original`: the object this caller may write, or the write fails here.
            groups = None if auth.master else auth.groups
            where = and_({"objectId": object_id}, constraint)
            original = await self.storage.find(schema, Find(where, limit=1, acl=groups, for_write=True))
            if not original:
                raise ObjectNotFoundError("Object not found.")
            values, changed_by_hook = await self.hooks.before_save(
                auth, class_name, values, visible(schema, MASTER, dict(original[0]))
            )
        rules.check_update(auth, values)
        self.file_urls.require_allowed(values)
        if "objectId" in values and values.pop("objectId") != object_id:
            raise InvalidKeyNameError("objectId is an invalid field name.")
        for name in values:
            if name.startswith("authData."):
                raise InvalidKeyNameError(f"Invalid field name for update: {name}")
        internal = _maintained(auth, class_name, values)
        schema, add_constraint = await self._ensure_fields_for_update(auth, class_name, schema, values)
        # Timestamps are the server's: checked for type like any field, then ignored.
        values.pop("createdAt", None)
        values.pop("updatedAt", None)
        _require_columns(class_name, values, creating=False)
        values = await rules.prepare_update(auth, schema, object_id, values)
        for name, value in values.items():
            type_ = schema.fields.get(name)
            if type_ and type_.required and (value is None or value == "" or isinstance(value, Delete)):
                raise ValidationError(f"{name} is required")
        relations = {k: v for k, v in values.items() if isinstance(v, RelationChange)}
        changes: dict[str, Any] = {k: v for k, v in values.items() if k not in relations} | internal
        if isinstance(changes.get("ACL"), ACL):
            changes["ACL"] = rules.updated_acl(auth, object_id, changes["ACL"])
        now = utc_now()
        changes["updatedAt"] = now
        before = await self.storage.update(
            schema, object_id, and_(constraint, add_constraint), changes, None if auth.master else auth.groups
        )
        if before is None:
            raise rules.not_found(auth) or ObjectNotFoundError("Object not found.")
        after = apply_changes(before, changes)
        for name, change in relations.items():
            await self._change_relation(class_name, name, object_id, change)
        echoed: Record = {}
        for name, value in values.items():
            if isinstance(value, ECHOED):
                result = value_at(after, name)
                if result is not MISSING and result is not None:
                    _expand_path(echoed, name.split("."), result)
        hooked = self._hooked(schema, auth, after, changed_by_hook)
        await self._emit(WriteEvent("update", schema, after, before, auth))
        if self.hooks is not None:
            await self.hooks.after_save(auth, class_name, after, before)
        token = await rules.after_update(auth, object_id, values)
        return WriteResult(after, echoed, hooked=hooked, session_token=token)

    def _hooked(self, schema: ClassSchema, auth: Auth, written: Record, changed: list[str]) -> Record:
        """The fields a `before_save` hook set, as written, unless the caller may not read them."""
        if not changed:
            return {}
        hidden = permissions.protected_fields(schema, auth, written)
        return {
            name: written[name]
            for name in changed
            if written.get(name) is not None and name not in hidden and not name.startswith("_")
        }

    async def delete_sessions_of(self, user_id: str) -> None:
        """End every session of a user (a new password does, unless told not to)."""
        schema = await self.schemas.get("_Session")
        if schema is None:
            return
        where = {"user": Pointer("_User", user_id)}
        for session in await self.storage.find(schema, Find(where, keys=frozenset({"objectId"}))):
            await self.delete(MASTER, "_Session", session["objectId"])

    async def delete(self, auth: Auth, class_name: str, object_id: str) -> None:
        """Delete an object the caller may write."""
        if not isinstance(object_id, str):
            raise InvalidJSONError("bad objectId")
        rules = self.rules.get(class_name, NO_RULES)
        rules.check_delete(auth)
        permissions.require_class_access("delete", class_name, auth)
        schema = await self._schema_for(auth, class_name)
        if schema is None:
            raise rules.not_found(auth) or ObjectNotFoundError("Object not found for delete.")
        constraint = and_(
            permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, "delete"), auth),
            permissions.session_constraint(class_name, auth),
        )
        acl = None if auth.master else auth.groups
        found = await self.storage.find(
            schema, Find(and_({"objectId": object_id}, constraint), limit=1, acl=acl, for_write=True)
        )
        if not found:
            raise rules.not_found(auth) or ObjectNotFoundError("Object not found for delete.")
        if self.hooks is not None:
            await self.hooks.before_delete(auth, class_name, visible(schema, MASTER, dict(found[0])))
        # The ACL is checked on the write ACL at delete time; reading it above only fetched the object.
        if not await self.storage.delete(schema, object_id, constraint, acl):
            raise rules.not_found(auth) or ObjectNotFoundError("Object not found.")
        await self._emit(WriteEvent("delete", schema, None, found[0], auth))
        if self.hooks is not None:
            await self.hooks.after_delete(auth, class_name, visible(schema, MASTER, dict(found[0])))

    async def discard(self, schema: ClassSchema, row: Record, acl: frozenset[str] | None = None) -> None:
        """Delete an object another write replaces (`CleanUps`): no hooks, but its event, so a session's cache and
        its followers learn it ended."""
        if await self.storage.delete(schema, row["objectId"], {}, acl):
            await self._emit(WriteEvent("delete", schema, None, row, MASTER))

    async def clear(self, schema: ClassSchema, row: Record, field: str, acl: frozenset[str] | None = None) -> None:
        """Remove one field of an object another write takes it from (`CleanUps`): no hooks, but its event."""
        changes = {field: Delete()}
        before = await self.storage.update(schema, row["objectId"], {}, changes, acl)
        if before is not None:
            await self._emit(WriteEvent("update", schema, apply_changes(before, changes), before, MASTER))

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
            await self.storage.relations.add_relation(class_name, field, object_id, [p.object_id for p in change.add])
        if change.remove:
            await self.storage.relations.remove_relation(
                class_name, field, object_id, [p.object_id for p in change.remove]
            )

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


def _expand_path(target: dict[str, Any], path: list[str], value: Any) -> None:
    """Put `value` at a dotted path, as Parse answers `{"a.b": op}` with `{"a": {"b": result}}`."""
    for part in path[:-1]:
        child = target.get(part)
        if not isinstance(child, dict):
            child = target[part] = {}
        target = child
    target[path[-1]] = value


def _maintained(auth: Auth, class_name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The user's internal fields the maintenance key writes, taken out of `values` (where anyone else's are refused
    as invalid field names), as Parse lets it correct them."""
    if not auth.maintenance or class_name != "_User":
        return {}
    return {name: values.pop(name) for name in list(values) if name in MAINTAINED_FIELDS}


def _creation_times(auth: Auth, created: Any, updated: Any, now: datetime) -> tuple[datetime, datetime]:
    """A new object's createdAt and updatedAt: now, or, for the maintenance key, the dates it gives (an updatedAt
    defaulting to the createdAt), as Parse lets it restore objects with their history."""
    if not auth.maintenance or not isinstance(created, datetime):
        return now, now
    if not isinstance(updated, datetime):
        return created, created
    if updated < created:
        raise ValidationError("updatedAt cannot occur before createdAt")
    return created, updated
