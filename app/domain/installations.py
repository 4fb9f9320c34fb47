"""`_Installation`'s write rules: one row per device, found again by its installation id or its push token.

Parse Server settles every installation write before anything else runs (its `handleInstallation`), and so do
these rules, in three steps:

1. The ids. A create names a `deviceToken` or an `installationId` (the body's, else a client's
   `X-Parse-Installation-Id`, which is used to find the row but never stored); installation ids are lower-cased,
   and so are 64-character tokens (APNs tokens in hex).
2. One read finds the rows the write is about: the object updated, the row with the installation id, the rows
   with the token. An update may not change a row's `installationId` or `deviceType` (136), nor the token of a row
   without installation ids; a create needs a `deviceType` unless it finds its row.
3. The target. A create whose installation id is already stored updates that row instead (answered as an
   update); a create with a token held by one row without installation id adopts that row. Rows whose token the
   write takes from them lose it, by the `duplicate_device_token_action`: deleted (Parse's default) or cleared.
   When the installation id's row and a token-only row both match, they are one device seen twice: the
   `merge_priority` says which survives (Parse's default, the token's row, which then takes the installation id).

The clean-ups are the server's own writes (`CleanUps`): without permissions or hooks, as Parse's, and as the master
key unless `enforce_auth` makes them the caller's (its ACLs then spare the rows it may not write).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.acl import Auth
from app.domain.class_rules import ClassRules, CleanUps
from app.domain.classes import ClassSchema
from app.domain.object_settings import InstallationSettings
from app.domain.operations import Delete
from app.domain.queries import parse_where
from app.domain.schemas import SchemaRegistry
from app.domain.store import Find
from app.domain.values import Record
from app.errors import AppError, ImmutableFieldError, InvalidJSONError, ObjectNotFoundError, RequiredFieldError

CLASS = "_Installation"
_APNS_TOKEN_LENGTH = 64


@dataclass(slots=True)
class _Write:
    """One installation write being settled: its data (ids normalised), and the installation id it is about."""

    data: dict[str, Any]
    installation_id: str | None


class InstallationRules(ClassRules):
    """`_Installation`: ids checked and normalised, and a write sent to the row of the device it describes."""

    def __init__(self, clean_ups: CleanUps, schemas: SchemaRegistry, settings: InstallationSettings) -> None:
        self.clean_ups = clean_ups
        self.storage = clean_ups.storage
        self.schemas = schemas
        self.settings = settings

    async def settle(
        self, auth: Auth, object_id: str | None, data: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], str | None]:
        if object_id is None:
            return await self._settle_create(auth, data)
        return await self._settle_update(auth, object_id, data)

    async def _settle_create(self, auth: Auth, data: Mapping[str, Any]) -> tuple[Mapping[str, Any], str | None]:
        if not _given(data, "deviceToken") and not _given(data, "installationId") and not auth.installation_id:
            raise RequiredFieldError(
                "at least one ID field (deviceToken, installationId) must be specified in this operation"
            )
        schema, write = await self._normalise(auth, data)
        if not write.installation_id and not write.data.get("deviceToken"):
            # Nothing to look a row up by (the master key's header is not an id): Parse writes a new row as given.
            return write.data, None
        matches = await self._matches(schema, None, write)
        id_match = matches.installation_match
        if not _given(write.data, "deviceType") and id_match is None:
            raise RequiredFieldError("deviceType must be specified in this operation")
        if schema is None:
            return write.data, None
        target = await self._target(auth, schema, write, id_match, matches.token_matches)
        return _aimed(write.data, target)

    async def _settle_update(
        self, auth: Auth, object_id: str, data: Mapping[str, Any]
    ) -> tuple[Mapping[str, Any], str | None]:
        schema, write = await self._normalise(auth, data)
        if not any(_given(write.data, name) for name in ("deviceToken", "deviceType")) and not write.installation_id:
            return write.data, object_id  # nothing about the device changes: an ordinary update
        matches = await self._matches(schema, object_id, write)
        current = matches.object_match
        if current is None or schema is None:
            raise ObjectNotFoundError("Object not found for update.")
        _require_unchanged(write.data, current)
        # As in Parse, the row of the installation id (the body's, or a client's header) is the one written, and
        # a merge may leave another row standing for the device.
        id_match = matches.installation_match or current
        return _aimed(write.data, await self._target(auth, schema, write, id_match, matches.token_matches))

    async def _normalise(self, auth: Auth, data: Mapping[str, Any]) -> tuple[ClassSchema | None, _Write]:
        """The write's ids lower-cased as Parse stores them (their types are checked with the other fields', after,
        as Parse orders it); the installation id it is about. (No schema: no installation was ever stored.)"""
        schema = await self.schemas.get(CLASS)
        for name in ("installationId", "deviceToken"):
            if isinstance(data.get(name), Delete):
                # Parse puts the operation in its query and refuses it there; the push service clears dead
                # tokens in storage, as Parse's does.
                raise InvalidJSONError("You cannot use [object Object] as a query parameter.")
        values = dict(data)
        token = values.get("deviceToken")
        if isinstance(token, str) and len(token) == _APNS_TOKEN_LENGTH:
            values["deviceToken"] = token.lower()
        if isinstance(values.get("installationId"), str):
            values["installationId"] = values["installationId"].lower()
        installation_id = values.get("installationId") or None
        if installation_id is None and not auth.master and auth.installation_id:
            installation_id = auth.installation_id.lower()
        return schema, _Write(values, installation_id)

    async def _matches(self, schema: ClassSchema | None, object_id: str | None, write: _Write) -> _Matches:
        """The rows the write is about, read at once: the object named, its installation id's, its token's."""
        token = write.data.get("deviceToken") or None
        alternatives: list[dict[str, Any]] = []
        if object_id is not None:
            alternatives.append({"objectId": object_id})
        if write.installation_id:
            alternatives.append({"installationId": write.installation_id})
        if token:
            alternatives.append({"deviceToken": token})
        matches = _Matches()
        if not alternatives or schema is None:
            return matches
        for row in await self.storage.find(schema, Find(parse_where({"$or": alternatives}, schema, master=True))):
            if object_id is not None and row["objectId"] == object_id:
                matches.object_match = row
            # Parse compares loosely: a row without the field matches a write without it.
            if write.installation_id and row.get("installationId") == write.installation_id:
                matches.installation_match = row
            if row.get("deviceToken") == token:
                matches.token_matches.append(row)
        return matches

    async def _target(
        self,
        auth: Auth,
        schema: ClassSchema,
        write: _Write,
        id_match: Record | None,
        token_matches: list[Record],
    ) -> str | None:
        """The row the write goes to (None: a new one), after the rows that lose their token are dealt with."""
        data = write.data
        token = data.get("deviceToken") or None
        if id_match is None:
            if not token_matches:
                return None
            if len(token_matches) == 1 and (not token_matches[0].get("installationId") or not write.installation_id):
                # The token's only row, and one side has no installation id: the same device, seen again.
                return str(token_matches[0]["objectId"])
            if not data.get("installationId"):
                raise AppError(
                    "Must specify installationId when deviceToken matches multiple Installation objects", 132
                )
            others: dict[str, Any] = {"deviceToken": token, "installationId": {"$ne": write.installation_id}}
            await self._release_token(auth, schema, others, data)
            return None
        if len(token_matches) == 1 and not token_matches[0].get("installationId"):
            return await self._merge(auth, schema, id_match, token_matches[0])
        if token and id_match.get("deviceToken") != token:
            # The row takes a token other rows hold: they lose it, unless the write cannot say which row it keeps.
            if data.get("installationId"):
                others = {"deviceToken": token, "installationId": {"$ne": data["installationId"]}}
            elif data.get("objectId") and data["objectId"] == id_match["objectId"]:
                others = {"deviceToken": token, "objectId": {"$ne": id_match["objectId"]}}
            else:
                return str(id_match["objectId"])
            await self._release_token(auth, schema, others, data)
        return str(id_match["objectId"])

    async def _release_token(
        self, auth: Auth, schema: ClassSchema, where: dict[str, Any], data: Mapping[str, Any]
    ) -> None:
        """Other rows give up a token the write takes: deleted, or their token cleared."""
        if data.get("appIdentifier"):
            where["appIdentifier"] = data["appIdentifier"]
        await self._apply(auth, schema, where, "deviceToken")

    async def _merge(self, auth: Auth, schema: ClassSchema, id_match: Record, token_match: Record) -> str:
        """The installation id's row and a token-only row are one device: one survives, the other is dealt with."""
        if id_match["objectId"] == token_match["objectId"]:
            return str(id_match["objectId"])
        if self.settings.merge_priority == "deviceToken":
            loser, survivor, cleared = id_match, token_match, "installationId"
        else:
            loser, survivor, cleared = token_match, id_match, "deviceToken"
        await self._apply(auth, schema, {"objectId": loser["objectId"]}, cleared)
        return str(survivor["objectId"])

    async def _apply(self, auth: Auth, schema: ClassSchema, where: Mapping[str, Any], cleared: str) -> None:
        acl = None if auth.master or not self.settings.enforce_auth else auth.groups
        constraint = parse_where(where, schema, master=True)
        for row in await self.storage.find(schema, Find(constraint, acl=acl, for_write=True)):
            if self.settings.duplicate_device_token_action == "delete":
                await self.clean_ups.discard(schema, row, acl)
            else:
                await self.clean_ups.clear(schema, row, cleared, acl)


@dataclass(slots=True)
class _Matches:
    """The rows one read found: the object the write names, its installation id's row, its token's rows."""

    object_match: Record | None = None
    installation_match: Record | None = None
    token_matches: list[Record] = field(default_factory=list)


def _aimed(data: dict[str, Any], target: str | None) -> tuple[dict[str, Any], str | None]:
    """The data as written to an existing row: its own id and creation time are the row's."""
    if target is not None:
        data.pop("objectId", None)
        data.pop("createdAt", None)
    return data, target


def _given(data: Mapping[str, Any], name: str) -> bool:
    """JavaScript's truthiness of a written value, as Parse tests the ids."""
    value = data.get(name)
    return value is not None and value != "" and value is not False and value != 0


def _require_unchanged(data: Mapping[str, Any], current: Record) -> None:
    """What an update may not change of the row it names."""
    installation_id = data.get("installationId")
    if installation_id and current.get("installationId") and installation_id != current["installationId"]:
        raise ImmutableFieldError("installationId may not be changed in this operation")
    token = data.get("deviceToken")
    if (
        token
        and current.get("deviceToken")
        and token != current["deviceToken"]
        and not installation_id
        and not current.get("installationId")
    ):
        raise ImmutableFieldError("deviceToken may not be changed in this operation")
    device_type = data.get("deviceType")
    if device_type and device_type != current.get("deviceType"):
        raise ImmutableFieldError("deviceType may not be changed in this operation")
