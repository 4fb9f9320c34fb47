"""ObjectService: create, update and delete objects (and, from `reads.py`, find and get them), with ACLs,
class permissions and cloud code hooks applied."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain import permissions
from app.domain.acl import ACL, MASTER, Auth
from app.domain.auth_providers import AuthProviders
from app.domain.classes import (
    REQUIRED_ON_WRITE,
    ClassSchema,
    is_valid_class_name,
)
from app.domain.events import EventSink, WriteEvent
from app.domain.hooks import Hooks
from app.domain.operations import ECHOED, Delete, RelationChange, apply_changes, value_on_create
from app.domain.queries import (
    parse_where,
)
from app.domain.reads import MISSING, ObjectReads, ObjectSettings, and_, value_at
from app.domain.schemas import SchemaRegistry
from app.domain.sessions import new_session
from app.domain.store import Find, Storage
from app.domain.users import (
    PasswordHasher,
    PasswordPolicy,
    duplicate_user_error,
    email_verify_fields,
    needs_email_verification,
    prepare_user_write,
)
from app.domain.values import Pointer, Record, Relation, utc_now
from app.errors import (
    AppError,
    DuplicateValueError,
    IncorrectTypeError,
    InvalidJSONError,
    InvalidKeyNameError,
    InvalidSessionTokenError,
    ObjectNotFoundError,
    ValidationError,
    denied,
)

_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(slots=True)
class WriteResult:
    """What a write stored (`object`) and what Parse answers for it (`response`)."""

    object: Record
    response: Record = field(default_factory=dict)


def new_object_id(size: int = 10) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(size))


class ObjectService(ObjectReads):
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
        constraint = and_(
            permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, "update"), auth),
            permissions.session_constraint(class_name, auth),
        )
        values = dict(data)
        changed_by_hook: list[str] = []
        if self.hooks is not None and self.hooks.has("before_save", class_name):
            # What the hook sees as `original`: the object this caller may write, or the write fails here.
            groups = None if auth.master else auth.groups
            where = and_({"objectId": object_id}, constraint)
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
            schema, object_id, and_(constraint, add_constraint), changes, None if auth.master else auth.groups
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
                result = value_at(after, name)
                if result is not MISSING and result is not None:
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
        constraint = and_(
            permissions.pointer_constraint(schema, permissions.pointer_fields_for(schema, auth, "delete"), auth),
            permissions.session_constraint(class_name, auth),
        )
        acl = None if auth.master else auth.groups
        found = await self.storage.find(
            schema, Find(and_({"objectId": object_id}, constraint), limit=1, acl=acl, for_write=True)
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
