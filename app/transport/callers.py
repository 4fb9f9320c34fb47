"""Who is calling: one path for every transport from credentials (keys, session tokens) to a caller (`Auth`), and
the services a call uses."""

from __future__ import annotations

import functools
import ipaddress
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.domain.access import RouteAllowList
from app.domain.account_mail import AccountMail
from app.domain.accounts import AccountService
from app.domain.acl import Auth, Origin
from app.domain.analytics import Analytics
from app.domain.config import ConfigService
from app.domain.encoding import Encoder
from app.domain.events import EventBus
from app.domain.files import FileService, url_path
from app.domain.hooks import Hooks
from app.domain.idempotency import Idempotency
from app.domain.jobs import JobRunner
from app.domain.live import LiveHub
from app.domain.objects import ObjectService
from app.domain.push import PushService
from app.domain.rate_limits import LimitedRequest, Quota, RateLimiter
from app.domain.recent_logs import RecentLogs
from app.domain.schema_admin import SchemaAdmin
from app.domain.schemas import SchemaRegistry
from app.domain.sessions import Authenticator
from app.domain.store import Storage
from app.domain.webhooks import WebhookAdmin
from app.errors import AppError, UnauthorizedError
from app.settings import Settings

log = logging.getLogger("app.auth")


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
    webhooks: WebhookAdmin
    """The webhooks declared in `_Hooks`, as the master key changes them."""
    rate_limits: RateLimiter
    """Parse's `rateLimit` rules and their counters (no rules: nothing counted)."""
    push: PushService
    """Push notifications through the providers the push option configures, and push audiences."""
    idempotency: Idempotency
    """Which requests run once per request id, and the claim of an id."""
    allowed_routes: RouteAllowList = field(default_factory=lambda: RouteAllowList(None))
    """The REST routes callers without the master key may use (Parse's routeAllowList; unset: all)."""
    hooks: Hooks | None = None
    """Cloud code and webhooks (always there: a webhook may be declared at any time)."""
    logs: RecentLogs = field(default_factory=RecentLogs)
    """This process's recent log lines, for `/scriptlog`."""
    analytics: Analytics = field(default_factory=Analytics)
    """Where `/events` sends analytics events: cloud code's hooks for them."""
    started: bool = False


@dataclass(slots=True)
class Credentials:
    """What a client presented: from headers, or from the JS SDK's body fields; and the headers themselves,
    which cloud code sees."""

    app_id: str | None = None
    master_key: str | None = None
    maintenance_key: str | None = None
    session_token: str | None = None
    installation_id: str | None = None
    client_version: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


def _same(given: str | None, expected: str | None) -> bool:
    return given is not None and expected is not None and secrets.compare_digest(given.encode(), expected.encode())


_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# Parse's words for "every address of one version": `0.0.0.0` and `::` are not single addresses in these lists.
_EVERY_IPV4 = ("0.0.0.0", "0.0.0.0/0")
_EVERY_IPV6 = ("::", "::0", "::/0")


def _unmapped(network: _Network) -> _Network:
    """An IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) as the IPv4 range it stands for."""
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


@functools.lru_cache(maxsize=64)
def _networks(allowed: tuple[str, ...]) -> tuple[_Network, ...]:
    networks: list[_Network] = []
    for entry in allowed:
        if entry in _EVERY_IPV4:
            networks.append(ipaddress.IPv4Network("0.0.0.0/0"))
            continue
        if entry in _EVERY_IPV6:
            networks.append(ipaddress.IPv6Network("::/0"))
            continue
        try:
            networks.append(_unmapped(ipaddress.ip_network(entry, strict=False)))
        except ValueError:
            continue  # settings are checked at start; an unusable entry allows nobody
    return tuple(networks)


def ip_allowed(ip: str | None, allowed: list[str]) -> bool:
    """Whether a client address is in one of the allowed addresses or CIDR ranges, as Parse matches them: ranges
    of one IP version hold only addresses of that version, except that an IPv4 address seen through IPv6
    (`::ffff:10.0.0.1`, a dual-stack socket's view of an IPv4 client) is also that IPv4 address."""
    return ip is not None and _address_allowed(ip, tuple(allowed))


@functools.lru_cache(maxsize=4096)
def _address_allowed(ip: str, allowed: tuple[str, ...]) -> bool:
    # Remembered: a master key request asks for every call, and parsing an address costs more than the lookup.
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    forms: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [address]
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        forms.append(address.ipv4_mapped)
    return any(form in network for network in _networks(allowed) for form in forms if form.version == network.version)


@dataclass(slots=True)
class RateCheck:
    """A request the rate limits count while its caller is resolved: after the keys, before the session (so a
    request with a bad token is counted, as in Parse); `quota` then holds what the tightest rule leaves."""

    request: LimitedRequest
    quota: Quota | None = None


def _key_auth(credentials: Credentials, settings: Settings, client_ip: str | None, origin: Origin) -> Auth | None:
    """The caller a key makes, checked against that key's addresses (403 from any other); None without a key."""
    installation_id = credentials.installation_id
    if credentials.maintenance_key is not None and _same(credentials.maintenance_key, settings.maintenance_key):
        if not ip_allowed(client_ip, settings.maintenance_key_ips):
            log.warning("maintenance key refused from %s, which is not in maintenance_key_ips", client_ip)
            raise UnauthorizedError("unauthorized")
        return Auth(master=True, maintenance=True, installation_id=installation_id, origin=origin)
    if credentials.master_key is None:
        return None
    if _same(credentials.master_key, settings.master_key):
        if not ip_allowed(client_ip, settings.master_key_ips):
            log.warning("master key refused from %s, which is not in master_key_ips", client_ip)
            raise UnauthorizedError("unauthorized")
        return Auth(master=True, installation_id=installation_id, origin=origin)
    if _same(credentials.master_key, settings.read_only_master_key):
        if not ip_allowed(client_ip, settings.read_only_master_key_ips):
            log.warning("read-only master key refused from %s, which is not in read_only_master_key_ips", client_ip)
            raise UnauthorizedError("unauthorized")
        return Auth(master=True, read_only=True, installation_id=installation_id, origin=origin)
    return None


async def authenticate(
    services: Services,
    credentials: Credentials,
    client_ip: str | None,
    *,
    use_session: bool = True,
    legacy_session: bool = False,
    rate_check: RateCheck | None = None,
) -> Auth:
    """The caller behind these credentials, carrying where they came from (the headers and this address) for
    cloud code; 403 for a wrong application id or a key from afar; 429 past a rate limit (with `rate_check`)."""
    settings = services.settings
    if not _same(credentials.app_id, settings.app_id):
        raise UnauthorizedError("unauthorized")
    origin = Origin(credentials.headers, client_ip, credentials.context if credentials.context is not None else {})
    installation_id = credentials.installation_id
    key_auth = _key_auth(credentials, settings, client_ip, origin)
    token = credentials.session_token
    session: list[Auth] = []
    if rate_check is not None and services.rate_limits.rules:

        async def user_id() -> str | None:
            # Only rules by user ask: the session is read once, and kept for the request.
            try:
                session.append(await services.authenticator.auth_for(token or "", installation_id, origin))
            except AppError:
                return None
            return session[0].user_id

        caller = key_auth or Auth(installation_id=installation_id, origin=origin)
        rate_check.quota = await services.rate_limits.require_allowed(caller, rate_check.request, user_id)
    if key_auth is not None:
        return key_auth
    if legacy_session and token and not token.startswith("r:"):
        return await services.authenticator.auth_for_legacy(token, installation_id, origin)
    if use_session and token:
        if session:
            return session[0]
        return await services.authenticator.auth_for(token, installation_id, origin)
    return Auth(installation_id=installation_id, origin=origin)


@functools.lru_cache(maxsize=32)
def file_encoder(mount: str, app_id: str) -> Encoder:
    """Encode values with file URLs under this server's address, as Parse's files controller does."""
    return Encoder(lambda name: f"{mount}/files/{app_id}/{url_path(name)}")
