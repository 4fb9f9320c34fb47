"""Parse Config: app-wide parameters clients read, some of them for the master key only; cloud code's
`before_save("@Config")` and `after_save("@Config")` run around an update, as Parse runs `Parse.Config`'s."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.access import require_master, require_writing_master
from app.domain.acl import Auth
from app.domain.hooks import CONFIG_CLASS, Hooks
from app.domain.operations import Delete
from app.domain.store import Storage
from app.errors import InvalidJSONError, InvalidKeyNameError


@dataclass(slots=True)
class ConfigParameter:
    value: Any
    master_key_only: bool | None


class ConfigService:
    def __init__(self, storage: Storage, hooks: Hooks | None = None) -> None:
        self.storage = storage
        self.hooks = hooks
        """Cloud code's `before_save("@Config")` and `after_save("@Config")`, when it has any."""

    async def read(self, auth: Auth) -> tuple[dict[str, Any], dict[str, bool]]:
        """The parameters this caller may read, and the master-key-only flags beside them."""
        stored = await self.storage.config.read_config()
        if stored is None:
            return {}, {}
        params, master_key_only = stored
        if not auth.master:
            params = {key: value for key, value in params.items() if not master_key_only.get(key)}
            master_key_only = {key: flag for key, flag in master_key_only.items() if not flag}
        return params, master_key_only

    async def parameter(self, auth: Auth, name: str) -> ConfigParameter:
        """One parameter, for the master key; an unknown name reads as null."""
        require_master(auth, "Master Key is required to access GlobalConfig.")
        stored = await self.storage.config.read_config()
        params, master_key_only = stored if stored is not None else ({}, {})
        if name not in params:
            return ConfigParameter(None, None)
        return ConfigParameter(params[name], master_key_only.get(name))

    async def update(self, auth: Auth, params: Any, master_key_only: Any = None) -> None:
        """Set parameters (`{"__op": "Delete"}` removes one); each is master-key-only if flagged so. The master
        key's only, not the read-only one's."""
        require_writing_master(auth, "update the config", "Master Key is required to update GlobalConfig.")
        if not isinstance(params, Mapping):
            raise InvalidJSONError("params must be an object of parameter names to values.")
        if master_key_only is not None and not isinstance(master_key_only, Mapping):
            raise InvalidJSONError("masterKeyOnly must be an object of parameter names to booleans.")
        flags = master_key_only or {}
        for key in params:
            if not key or "." in key or key.startswith("$") or "\0" in key:
                raise InvalidKeyNameError(f"Invalid parameter name: {key}")
        hooks = self.hooks
        if hooks is None or not (hooks.has("before_save", CONFIG_CLASS) or hooks.has("after_save", CONFIG_CLASS)):
            await self._write(params, flags)
            return
        stored = await self.storage.config.read_config()
        original = stored[0] if stored is not None else None
        changes = {key: Delete() if _is_delete(value) else value for key, value in params.items()}
        await self._write(await hooks.before_save_config(auth, changes, original), flags)
        after = await self.storage.config.read_config()
        await hooks.after_save_config(auth, after[0] if after is not None else {}, original)

    async def _write(self, params: Mapping[str, Any], flags: Mapping[str, Any]) -> None:
        values = {key: value for key, value in params.items() if not _is_delete(value)}
        removed = [key for key, value in params.items() if _is_delete(value)]
        await self.storage.config.update_config(values, removed, {key: flags.get(key) is True for key in params})


def _is_delete(value: Any) -> bool:
    """`{"__op": "Delete"}` as a client sends it, or `Delete()` as cloud code's `unset` leaves it."""
    return isinstance(value, Delete) or (isinstance(value, Mapping) and value.get("__op") == "Delete")
