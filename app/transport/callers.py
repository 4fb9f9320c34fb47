"""Who is calling: one path for every transport from credentials (keys, session tokens) to a caller (`Auth`), and
the services a call uses."""

from __future__ import annotations

import functools
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.account_mail import AccountMail
from app.domain.accounts import AccountService
from app.domain.acl import Auth, Origin
from app.domain.config import ConfigService
from app.domain.encoding import Encoder
from app.domain.events import EventBus
from app.domain.files import FileService, uri_component
from app.domain.hooks import Hooks
from app.domain.idempotency import Idempotency
from app.domain.jobs import JobRunner
from app.domain.live import LiveHub
from app.domain.objects import ObjectService
from app.domain.schema_admin import SchemaAdmin
from app.domain.schemas import SchemaRegistry
from app.domain.sessions import Authenticator
from app.domain.store import Storage
from app.errors import UnauthorizedError
from app.settings import Settings


@dataclass(slots=True)
class Services:
    """The domain services transports call, built once by `create_app`."""

    settings: Settings
    storage: Storage
    schemas: SchemaRegistry
    objects: ObjectService
    authenticator: Authenticator
    accounts: AccountService
    config: ConfigService
    mail: AccountMail
    live: LiveHub
    files: FileService
    bus: EventBus
    """Writes shared with other instances: in process alone, over Redis when it is configured."""
    schema_admin: SchemaAdmin
    """The class schemas as the master key changes them; `schemas` is the registry every service reads."""
    jobs: JobRunner
    """Cloud code's jobs and their schedules (none defined without cloud code)."""
    idempotency: Idempotency
    """Which requests run once per request id, and the claim of an id."""
    hooks: Hooks | None = None
    """Cloud code, when there is any."""
    started: bool = False


@dataclass(slots=True)
class Credentials:
    """What a client presented: from headers, or from the JS SDK's body fields; and the headers themselves,
    which cloud code sees."""

    app_id: str | None = None
    master_key: str | None = None
    session_token: str | None = None
    installation_id: str | None = None
    client_version: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def _same(given: str | None, expected: str | None) -> bool:
    return given is not None and expected is not None and secrets.compare_digest(given.encode(), expected.encode())


@functools.lru_cache(maxsize=64)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    networks = []
    for entry in allowed:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # settings are checked at start; an unusable entry allows nobody
    return tuple(networks)


def ip_allowed(ip: str | None, allowed: list[str]) -> bool:
    """Whether a client address is in one of the allowed addresses or CIDR ranges."""
    return ip is not None and _address_allowed(ip, tuple(allowed))


@functools.lru_cache(maxsize=4096)
def _address_allowed(ip: str, allowed: tuple[str, ...]) -> bool:
    # Remembered: a master key request asks for every call, and parsing an address costs more than the lookup.
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(allowed))


async def authenticate(
    services: Services,
    credentials: Credentials,
    client_ip: str | None,
    *,
    use_session: bool = True,
    legacy_session: bool = False,
) -> Auth:
    """The caller behind these credentials, carrying where they came from (the headers and this address) for
    cloud code; 403 for a wrong application id or a master key from afar."""
    settings = services.settings
    if not _same(credentials.app_id, settings.app_id):
        raise UnauthorizedError("unauthorized")
    origin = Origin(credentials.headers, client_ip, credentials.context if credentials.context is not None else {})
    installation_id = credentials.installation_id
    if credentials.master_key is not None:
        if _same(credentials.master_key, settings.master_key):
            if not ip_allowed(client_ip, settings.master_key_ips):
                raise UnauthorizedError("unauthorized")
            return Auth(master=True, installation_id=installation_id, origin=origin)
        if _same(credentials.master_key, settings.read_only_master_key):
            if not ip_allowed(client_ip, settings.master_key_ips):
                raise UnauthorizedError("unauthorized")
            return Auth(master=True, read_only=True, installation_id=installation_id, origin=origin)
    token = credentials.session_token
    if legacy_session and token and not token.startswith("r:"):
        return await services.authenticator.auth_for_legacy(token, installation_id, origin)
    if use_session and token:
        return await services.authenticator.auth_for(token, installation_id, origin)
    return Auth(installation_id=installation_id, origin=origin)


@functools.lru_cache(maxsize=32)
def file_encoder(mount: str, app_id: str) -> Encoder:
    """Encode values with file URLs under this server's address, as Parse's files controller does."""
    return Encoder(lambda name: f"{mount}/files/{app_id}/{uri_component(name)}")
