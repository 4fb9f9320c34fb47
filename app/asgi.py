"""create_app(settings): the only module that imports every layer and wires them together."""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import json
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, cast

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.cloud import Cloud, merge
from app.domain import cloud_log
from app.domain.access import RouteAllowList
from app.domain.account_mail import AccountMail, EmailSettings
from app.domain.accounts import AccountService, EmailGate, Lockout
from app.domain.acl import MASTER, Auth
from app.domain.auth_providers import AuthConfigError, AuthProviders
from app.domain.cloud_data import CloudData
from app.domain.cloud_requests import CloudObject
from app.domain.config import ConfigService
from app.domain.email_policy import EmailPolicy
from app.domain.events import EventBus, InProcessBus, Subscribers, WriteEvent
from app.domain.files import DownloadRules, FileService, FileStore, UploadRules
from app.domain.hooks import HookRegistry, Hooks, password_check
from app.domain.idempotency import Idempotency
from app.domain.jobs import JobRunner
from app.domain.limits import RequestLimits
from app.domain.live import LiveHub
from app.domain.mail import LogMailer, Mailer, Outbox, SmtpMailer
from app.domain.object_settings import InstallationSettings, ObjectSettings
from app.domain.objects import ObjectService
from app.domain.push import PushLimits, PushService
from app.domain.rate_limits import CloudLimit, InProcessCounter, RateLimiter, cloud_rule, parse_rules
from app.domain.recent_logs import RecentLogs
from app.domain.schema_admin import SchemaAdmin
from app.domain.schemas import SchemaRegistry
from app.domain.sessions import Authenticator
from app.domain.store import Storage
from app.domain.users import PasswordPolicy
from app.domain.webhooks import HookStore, WebhookAdmin, Webhooks
from app.errors import AppError, DatabaseRefusedError, DatabaseUnavailableError
from app.settings import Settings, with_master_key
from app.storage.file_encryption import FileEncryption
from app.storage.filesystem import FileSystemStore
from app.storage.mongo.engine import MongoStorage
from app.storage.mongo.gridfs import GridFSStore
from app.storage.mongo.hooks import MongoHooks
from app.storage.postgres.engine import PostgresStorage
from app.storage.postgres.hooks import PostgresHooks
from app.storage.postgres_bus import PostgresBus
from app.storage.push_providers import PushConfigError, push_senders, queue_options
from app.storage.redis_bus import RedisBus
from app.storage.redis_rates import RedisCounter
from app.storage.webhook_client import HttpWebhookClient
from app.transport.callers import Services, file_encoder
from app.transport.graphql.execution import Executor
from app.transport.graphql.view import GraphQLEndpoint
from app.transport.graphql.ws import GraphQLSockets
from app.transport.http import CorsPolicy, route_not_found
from app.transport.livequery import LiveQueryEndpoint
from app.transport.pages import PagesEndpoint
from app.transport.playground import playground_app
from app.transport.rest.endpoint import RestEndpoint
from app.transport.rest.files import FilesEndpoint
from app.transport.rest.routes import build_router
from app.transport.sockets import close_all as close_all_sockets

log = logging.getLogger("app")
POSTGRES_SCHEMES = ("postgres://", "postgresql://")


class StartupError(RuntimeError):
    """The server cannot start with these settings or this data; the message says why."""


def build_services(settings: Settings) -> Services:
    if not settings.database_uri:
        raise StartupError("no database: set --database-uri (the CLI starts the embedded database for you)")
    check_email_settings(settings)
    if settings.app_name and not settings.server_url:
        log.warning("emailed links point at %s: set server_url to the address users reach", settings.public_url)
    storage = open_storage(settings)
    schemas = SchemaRegistry(storage, ttl=settings.schema_cache_ttl, protected_fields=settings.protected_fields)
    session_length = settings.session_length if settings.expire_inactive_sessions else None
    authenticator = Authenticator(
        storage, schemas, extend_session_on_use=settings.extend_session_on_use, session_length=session_length
    )
    try:
        providers = AuthProviders(settings.auth)
    except AuthConfigError as error:
        raise StartupError(str(error)) from None
    events = Subscribers([authenticator])
    email_policy = EmailPolicy(settings.verify_user_emails, settings.prevent_login_with_unverified_email)
    objects = ObjectService(
        storage,
        schemas,
        ObjectSettings(
            allow_client_class_creation=settings.allow_client_class_creation,
            default_limit=settings.default_limit,
            max_limit=settings.max_limit,
            object_id_size=settings.object_id_size,
            allow_custom_object_id=settings.allow_custom_object_id,
            enforce_private_users=settings.enforce_private_users,
            session_length=session_length,
            email_policy=email_policy,
            email_verify_token_validity=settings.email_verify_token_validity_duration,
            revoke_session_on_password_reset=settings.revoke_session_on_password_reset,
            allowed_file_url_domains=tuple(settings.file_upload_allowed_url_domains),
            lowercase_user_fields=(
                *(("email",) if settings.convert_email_to_lowercase else ()),
                *(("username",) if settings.convert_username_to_lowercase else ()),
            ),
            installations=installation_settings(settings),
            limits=RequestLimits(
                query_depth=settings.query_depth,
                subquery_depth=settings.subquery_depth,
                subquery_limit=settings.subquery_limit,
                include_depth=settings.include_depth,
                include_count=settings.include_count,
                batch_request_limit=settings.batch_request_limit,
                query_list_size=settings.query_list_size,
                allow_regex=settings.allow_regex,
            ),
        ),
        events=events,
        password_policy=password_policy(settings),
        auth_providers=providers,
    )
    lockout = (
        Lockout(settings.account_lockout_threshold, settings.account_lockout_duration)
        if settings.account_lockout_threshold
        else None
    )
    accounts = AccountService(
        objects,
        authenticator,
        session_length=session_length,
        hasher=objects.hasher,
        lockout=lockout,
        providers=providers,
        email_gate=EmailGate(email_policy, settings.prevent_signup_with_unverified_email),
    )
    mail = AccountMail(objects, Outbox(mailer(settings)), email_settings(settings), email_policy)
    events.sinks.append(mail)
    live = LiveHub(objects, authenticator.auth_for)
    events.sinks.append(live)

    async def replay(event: WriteEvent) -> None:
        # Another instance's write: what this one would have done had the write been its own.
        event = replace(event, schema=schemas.with_server_fields(event.schema))
        await authenticator.publish(event)
        await live.publish(event)

    # Instances hear each other's writes through Redis when given, else through PostgreSQL itself.
    bus: EventBus = InProcessBus()
    if settings.redis_url:
        bus = RedisBus(settings.redis_url, settings.app_id, replay)
    elif isinstance(storage, PostgresStorage) and settings.database_uri:
        bus = PostgresBus(settings.database_uri, settings.app_id, replay)
    if not isinstance(bus, InProcessBus):
        events.sinks.append(bus)
    downloads = DownloadRules(
        for_public=settings.file_download_for_public,
        for_anonymous_users=settings.file_download_for_anonymous_users,
        for_authenticated_users=settings.file_download_for_authenticated_users,
    )
    files = FileService(file_store(settings, storage), upload_rules(settings), is_anonymous_user(objects), downloads)
    registry = load_cloud(Path(settings.cloud))
    if settings.log_levels:
        levels = cloud_log_levels(settings.log_levels)
        for registration in (*registry.functions.values(), *registry.triggers.values(), *registry.jobs.values()):
            registration.log_levels = levels
    webhooks = Webhooks(
        hook_store(storage),
        HttpWebhookClient(settings.webhook_timeout),
        file_encoder(settings.public_url, settings.app_id),
        key=settings.webhook_key,
        ttl=settings.webhook_cache_ttl,
    )
    if (validator := registry.policies.get("password_validator")) is not None:
        policy = replace(password_policy(settings) or PasswordPolicy(), validator=password_check(validator))
        objects.password_policy = objects.writes.password_policy = policy
    email_policy.verify_function = registry.policies.get("verify_user_emails")
    email_policy.prevent_function = registry.policies.get("prevent_login_with_unverified_email")
    if email_policy.verify_function is not None and not settings.app_name:
        raise StartupError("cloud code's verify_user_emails needs app_name (the name emails and pages show)")
    services = Services(
        settings,
        storage,
        schemas,
        objects,
        authenticator,
        accounts,
        ConfigService(storage),
        mail,
        live,
        files,
        bus,
        SchemaAdmin(schemas, authenticator, locked=settings.lock_schemas),
        JobRunner(registry, objects),
        WebhookAdmin(webhooks),
        push=push_service(objects, settings),
        logs=RecentLogs(settings.log_store_records, settings.log_store_size, log_level(settings.log_level)),
        rate_limits=rate_limiter(settings),
        idempotency=Idempotency(storage.request_ids, settings.idempotency_paths, settings.idempotency_ttl),
        allowed_routes=RouteAllowList(settings.route_allow_list),
    )
    limit_cloud_code(registry, services.rate_limits, settings.redis_url)

    async def load_user(auth: Auth) -> CloudObject | None:
        try:
            return CloudObject("_User", await objects.get(MASTER, "_User", auth.user_id or ""), existed=True)
        except AppError:
            return None

    # Always: without cloud code, webhooks declared later still run.
    objects.hooks = services.hooks = services.files.hooks = services.config.hooks = services.analytics.hooks = Hooks(
        registry, load_user, lambda auth: CloudData(objects, auth), webhooks
    )
    return services


def push_service(objects: ObjectService, settings: Settings) -> PushService:
    """Push through the providers of the push option (none: push is not configured), sent by this instance unless
    the option's `queueOptions.disablePushWorker` leaves that to others."""
    try:
        senders = push_senders(settings.push, fcm_url=settings.push_fcm_url)
        batch_size, no_worker = queue_options(settings.push)
    except PushConfigError as error:
        raise StartupError(str(error)) from None
    limits = PushLimits(page_size=batch_size) if batch_size else PushLimits()
    return PushService(objects, senders, limits, sending=not no_worker)


def hook_store(storage: Storage) -> HookStore:
    """Where the engine keeps `_Hooks`."""
    if isinstance(storage, PostgresStorage):
        return PostgresHooks(storage.db, storage.tables)
    assert isinstance(storage, MongoStorage)
    return MongoHooks(storage.connection)


def cloud_log_levels(levels: dict[str, str]) -> cloud_log.LogLevels:
    """Parse's `logLevels` in `logging`'s levels: `warn` is a warning, `verbose` and `silly` are debug."""
    named: dict[str, int | None] = {
        "error": logging.ERROR,
        "warn": logging.WARNING,
        "info": logging.INFO,
        "silent": None,
    }
    chosen = {key: named.get(level, logging.DEBUG) for key, level in levels.items()}
    return cloud_log.LogLevels(
        cloud_function_success=chosen.get("cloudFunctionSuccess", logging.INFO),
        cloud_function_error=chosen.get("cloudFunctionError", logging.ERROR),
        trigger_after=chosen.get("triggerAfter", logging.INFO),
        trigger_before_success=chosen.get("triggerBeforeSuccess", logging.INFO),
        trigger_before_error=chosen.get("triggerBeforeError", logging.ERROR),
    )


def log_level(name: str) -> int:
    """The `logging` level a `log_level` setting names (info when it names none)."""
    level = logging.getLevelName(name.upper())
    return level if isinstance(level, int) else logging.INFO


def rate_limiter(settings: Settings) -> RateLimiter:
    """Parse's `rateLimit` rules, each counted where it says: in the Redis its rule names, else in the server's
    `redis_url` (so instances share the counts), else in this process."""
    rules = parse_rules(settings.rate_limit, settings.redis_url)
    limiter = RateLimiter(settings.app_id, rules, {None: InProcessCounter()})
    for rule in rules:
        count_in_redis(limiter, rule.redis_url)
    return limiter


def count_in_redis(limiter: RateLimiter, redis_url: str | None) -> None:
    """Give the limiter a counter in the Redis at `redis_url` (None: this process's, which it always has)."""
    if redis_url is not None and redis_url not in limiter.counters:
        limiter.counters[redis_url] = RedisCounter(redis_url, limiter.app_id)


def limit_cloud_code(registry: HookRegistry, limiter: RateLimiter, redis_url: str | None) -> None:
    """Bind each cloud validator's `rate_limit` to the server's counters (in Redis with the server's `redis_url`)."""
    registrations = [(f"functions/{name}", r) for name, r in registry.functions.items()]
    registrations += [(f"{trigger}/{class_name}", r) for (trigger, class_name), r in registry.triggers.items()]
    for name, registration in registrations:
        limit = registration.validator.rate_limit if registration.validator is not None else None
        if limit is None:
            continue
        rule = cloud_rule(limit, name, redis_url)
        count_in_redis(limiter, rule.redis_url)
        registration.limiter = CloudLimit(limiter, rule)


def open_storage(settings: Settings) -> Storage:
    """The engine the database URI names: PostgreSQL for `postgres://` and `postgresql://`, MongoDB otherwise."""
    uri = settings.database_uri or ""
    if uri.startswith(POSTGRES_SCHEMES):
        return PostgresStorage(
            uri,
            server_selection_timeout_ms=int(settings.database_timeout * 1000),
            max_query_time=settings.max_query_time,
        )
    return MongoStorage(
        uri,
        server_selection_timeout_ms=int(settings.database_timeout * 1000),
        max_query_time=settings.max_query_time,
    )


def file_store(settings: Settings, storage: Storage) -> FileStore:
    """The files adapter the settings name; `auto`: GridFS on MongoDB, as Parse Server, and on PostgreSQL the
    filesystem store, as Parse Server's files adapter lays files out."""
    on_mongodb = isinstance(storage, MongoStorage)
    adapter = settings.files_adapter
    if adapter == "auto":
        adapter = "gridfs" if on_mongodb else "filesystem"
    if settings.files_encryption_key is not None and adapter != "filesystem":
        # Refused rather than ignored: files meant to be encrypted would be stored in the clear.
        raise StartupError(f"files_encryption_key needs the filesystem files adapter, not {adapter}")
    if adapter == "s3":
        if not settings.s3_bucket:
            raise StartupError("files_adapter s3 needs s3_bucket")
        # Imported here so that servers without S3 need not install obstore.
        from app.storage.s3 import S3Config, S3FileStore

        return S3FileStore(
            S3Config(
                bucket=settings.s3_bucket,
                region=settings.s3_region,
                endpoint=settings.s3_endpoint,
                access_key_id=settings.s3_access_key_id,
                secret_access_key=settings.s3_secret_access_key,
                prefix=settings.s3_prefix,
            )
        )
    if adapter == "filesystem":
        key = settings.files_encryption_key
        encryption = FileEncryption(key) if key is not None else None
        return FileSystemStore(settings.files_dir or Path(settings.data_dir) / "files", encryption)
    if not isinstance(storage, MongoStorage):
        raise StartupError("files_adapter gridfs needs MongoDB: on PostgreSQL, use filesystem (the default) or s3")
    return GridFSStore(storage.db, storage.reachability)


def upload_rules(settings: Settings) -> UploadRules:
    return UploadRules(
        max_size=settings.max_upload_size,
        for_public=settings.file_upload_for_public,
        for_anonymous_users=settings.file_upload_for_anonymous_users,
        for_authenticated_users=settings.file_upload_for_authenticated_users,
        extensions=tuple(settings.file_upload_extensions),
        preserve_file_name=settings.preserve_file_name,
    )


def is_anonymous_user(objects: ObjectService) -> Callable[[str], Awaitable[bool]]:
    """Whether a user signed up anonymously (and has not linked another provider since)."""

    async def check(user_id: str) -> bool:
        user = await objects.get(MASTER, "_User", user_id)
        auth_data = user.get("authData")
        return isinstance(auth_data, dict) and isinstance(auth_data.get("anonymous"), dict)

    return check


def load_cloud(path: Path) -> HookRegistry:
    """The cloud code in `path` (every `Cloud` it defines); none when the file does not exist."""
    if not path.is_file():
        log.info("no cloud code: %s does not exist", path)
        return HookRegistry()
    name = f"parseql_cloud_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise StartupError(f"{path}: cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent.resolve()))  # so cloud code can import its sibling modules
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        log.exception("loading cloud code from %s failed", path)
        raise StartupError(f"{path}: {type(error).__name__}: {error}") from None
    finally:
        sys.path.remove(str(path.parent.resolve()))
    clouds = [value for value in vars(module).values() if isinstance(value, Cloud)]
    registry = merge(clouds)
    log.info(
        "cloud code from %s: %d functions, %d triggers, %d jobs",
        path,
        len(registry.functions),
        len(registry.triggers),
        len(registry.jobs),
    )
    return registry


def check_email_settings(settings: Settings) -> None:
    """Refuse, as Parse Server does at start, email options that cannot work together."""
    if settings.verify_user_emails and not settings.app_name:
        raise StartupError("verify_user_emails needs app_name (the name emails and pages show)")
    if settings.email_verify_token_reuse_if_valid and not settings.email_verify_token_validity_duration:
        raise StartupError("email_verify_token_reuse_if_valid needs email_verify_token_validity_duration")
    if settings.reset_token_reuse_if_valid and not settings.reset_token_validity_duration:
        raise StartupError("reset_token_reuse_if_valid needs reset_token_validity_duration")
    if settings.smtp_url and not settings.mail_from:
        raise StartupError("smtp_url needs mail_from (the address emails come from)")


def mailer(settings: Settings) -> Mailer:
    if settings.smtp_url:
        return SmtpMailer(settings.smtp_url, settings.mail_from or "")
    if settings.app_name:
        log.info("no smtp_url: emails are written to this log instead of being sent")
    return LogMailer()


def email_settings(settings: Settings) -> EmailSettings:
    return EmailSettings(
        app_id=settings.app_id,
        public_url=settings.public_url,
        app_name=settings.app_name,
        verify_token_validity=settings.email_verify_token_validity_duration,
        verify_token_reuse=settings.email_verify_token_reuse_if_valid,
        verify_success_on_invalid_email=settings.email_verify_success_on_invalid_email,
        reset_token_validity=settings.reset_token_validity_duration,
        reset_token_reuse=settings.reset_token_reuse_if_valid,
        reset_success_on_invalid_email=settings.reset_password_success_on_invalid_email,
        unlock_on_reset=settings.account_lockout_unlock_on_password_reset,
    )


def installation_settings(settings: Settings) -> InstallationSettings:
    """Parse's `installation` options (the settings checked their spelling)."""
    return InstallationSettings(
        duplicate_device_token_action=cast(
            Literal["delete", "update"], settings.installation_duplicate_device_token_action
        ),
        merge_priority=cast(
            Literal["deviceToken", "installationId"], settings.installation_duplicate_device_token_merge_priority
        ),
        enforce_auth=settings.installation_duplicate_device_token_action_enforce_auth,
    )


def password_policy(settings: Settings) -> PasswordPolicy | None:
    policy = PasswordPolicy(
        pattern=re.compile(settings.password_pattern) if settings.password_pattern else None,
        error=settings.password_pattern_error,
        disallow_username=settings.password_disallow_username,
        history=settings.password_history,
        max_age_days=settings.password_max_age,
    )
    return policy if policy != PasswordPolicy() else None


def read_schema_dir(directory: Path) -> list[tuple[Path, Any]]:
    """The class definitions in `directory`: every `*.json` file, one object or a list of them each."""
    if not directory.is_dir():
        return []
    found = []
    for path in sorted(directory.glob("*.json")):
        try:
            found.append((path, json.loads(path.read_text())))
        except ValueError as error:
            raise StartupError(f"{path}: not valid JSON ({error})") from None
    return found


async def apply_schema_dir(
    schemas: SchemaRegistry,
    directory: Path,
    *,
    delete_extra_fields: bool = False,
    recreate_modified_fields: bool = False,
) -> None:
    """Apply the class definitions of `directory`, creating what is missing; dropping fields only as asked (Parse's
    `schema.deleteExtraFields` and `schema.recreateModifiedFields`)."""
    for path, content in await asyncio.to_thread(read_schema_dir, directory):
        for definition in content if isinstance(content, list) else [content]:
            try:
                await schemas.apply_definition(
                    definition,
                    delete_extra_fields=delete_extra_fields,
                    recreate_modified_fields=recreate_modified_fields,
                )
            except AppError as error:
                raise StartupError(f"{path}: {error.message}") from None
        log.info("applied class definitions from %s", path)


STARTUP_WAIT = 30.0
"""Seconds the server waits at start for a database that does not answer yet (one starting beside it)."""


async def prepare_database(services: Services, schema_dir: Path) -> None:
    """Wait for the database, then create the system classes and apply `schema_dir`; all of it again (each step
    is idempotent) when the database goes away meanwhile, as it may while a supervisor restarts it, and a
    StartupError after STARTUP_WAIT seconds (each ping waits about one), or at once when the database refuses
    this server (TLS, the login): waiting would not change that."""
    deadline = time.monotonic() + STARTUP_WAIT
    while True:
        try:
            await services.storage.ping()
            await services.schemas.ensure_system_classes()
            await apply_schema_dir(
                services.schemas,
                schema_dir,
                delete_extra_fields=services.settings.schema_delete_extra_fields,
                recreate_modified_fields=services.settings.schema_recreate_modified_fields,
            )
            return
        except DatabaseRefusedError as error:
            raise StartupError(error.reason or error.message) from None
        except DatabaseUnavailableError as error:
            if time.monotonic() > deadline:
                why = f" ({error.reason})" if error.reason else ""
                raise StartupError(f"the database did not answer in {STARTUP_WAIT:.0f} s{why}") from None


class App(Starlette):
    """Starlette, with the websockets of the live protocols and the requests of the REST and GraphQL endpoints
    handed straight to their endpoints.

    A live query server holds thousands of sockets for hours; each skips the router and exception
    middleware layers (their coroutines and objects would live as long as the socket, and every full
    garbage collection walks them). A REST or GraphQL request skips them too: the endpoints answer every
    error themselves, and the layers cost a fifth of a read by id. Everything else (files, pages, the
    playground, the methods /graphql refuses) goes through Starlette's router.
    """

    def __init__(
        self,
        websockets: dict[str, ASGIApp],
        live_query: ASGIApp,
        rest: ASGIApp,
        graphql: ASGIApp,
        graphql_methods: set[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.websockets, self.live_query = websockets, live_query
        self.rest, self.graphql, self.graphql_methods = rest, graphql, graphql_methods

    cors: CorsPolicy | None = None
    """Origins and headers other than Parse's defaults, when the settings name some."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint: ASGIApp | None
        if scope["type"] == "http":
            endpoint = self._http_endpoint(scope["path"], scope["method"])
            if self.cors is not None:
                send = self.cors.wrap(scope, send)
        elif scope["type"] == "websocket":
            # Parse Server speaks LiveQuery on every path of its port (several clients connect to ws://host:port):
            # every websocket that is not GraphQL's is a LiveQuery socket.
            endpoint = self.websockets.get(scope["path"], self.live_query)
        else:
            endpoint = None
            if scope["type"] == "lifespan":
                send = _startup_failure_in_words(send)
        if endpoint is not None:
            scope["app"] = self
            await endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    def _http_endpoint(self, path: str, method: str) -> ASGIApp | None:
        """The endpoint the router would choose, for the two that answer most requests (see the routes)."""
        if path.startswith("/parse/") or path == "/parse":  # `/parse` alone: the REST endpoint's 404, not a redirect
            if path.startswith(("/parse/apps/", "/parse/files/")) or path == "/parse/files":
                return None
            return self.rest
        if path == "/graphql" and method in self.graphql_methods:
            return self.graphql
        return None


async def _no_route(request: Request, error: Exception) -> Response:
    """What Starlette's router answers no route with (a path outside `/parse` and `/graphql`, a method a route does
    not take, a file the playground does not have): Parse's statuses, in JSON rather than plain text."""
    status = error.status_code if isinstance(error, HTTPException) else 500
    response = route_not_found(request.method, request.url.path, status)
    if isinstance(error, HTTPException) and error.headers:
        response.headers.update(error.headers)  # a 405's Allow
    return response


def _startup_failure_in_words(send: Send) -> Send:
    """The lifespan's `send`, telling the server a StartupError's own words (uvicorn prints them) instead of the
    traceback Starlette sends for any failed start-up: the message is the whole story."""

    async def sending(message: Message) -> None:
        # Starlette sends this from its `except` block: the error being handled is the one that stopped start-up.
        error = sys.exc_info()[1]
        if message["type"] == "lifespan.startup.failed" and isinstance(error, StartupError):
            message = {**message, "message": f"ParseQL cannot start: {error}"}
        await send(message)

    return sending


def create_app(settings: Settings) -> Starlette:
    settings, _ = with_master_key(settings)
    services = build_services(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services.logs.attach()
        try:
            await prepare_database(services, Path(settings.schema_dir))
            await services.bus.start()
            services.push.start()
            services.started = True
            # What start-up built (modules, schemas, pools) lives as long as the server: frozen, the collector's
            # full passes no longer walk it. They took 40-50 ms each, a few times a second under load: the p99.
            gc.collect()
            gc.freeze()
            yield
        finally:
            gc.unfreeze()
            services.started = False
            await close_all_sockets()
            await services.push.close()
            await services.bus.close()
            await services.rate_limits.close()
            await services.live.close()
            await services.webhooks.webhooks.client.close()
            await services.files.close()
            await services.mail.outbox.close()  # before the storage: nothing it sends reads the database
            await services.storage.close()
            services.logs.detach()

    graphql = Executor(services)  # HTTP and websockets share its schema and documents
    live_query = LiveQueryEndpoint(services, services.live)
    rest, graphql_http = RestEndpoint(services, build_router()), GraphQLEndpoint(graphql)
    graphql_methods = {"GET", "POST", "OPTIONS", "PUT", "DELETE", "PATCH"}
    app = App(
        {"/graphql": GraphQLSockets(graphql)},
        live_query,
        rest,
        graphql_http,
        graphql_methods,
        # App._http_endpoint sends most requests to `rest` and `graphql_http` before these routes are looked at.
        routes=[
            Mount("/parse/apps", app=PagesEndpoint(services)),
            Route("/parse/files", FilesEndpoint(services), methods=["POST", "OPTIONS"]),
            Mount("/parse/files", app=FilesEndpoint(services)),
            Mount("/parse", app=rest),
            Route("/graphql", graphql_http, methods=list(graphql_methods)),
            *([Mount("/playground", app=playground_app(settings))] if settings.playground else []),
        ],
        lifespan=lifespan,
        exception_handlers={HTTPException: _no_route},
    )
    app.cors = CorsPolicy.of(settings)
    app.state.services = services
    return app
