"""Settings: command-line flags beat `PARSEQL_*` variables, which beat `parseql.toml`, which beats defaults."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.domain.files import DEFAULT_FILE_EXTENSIONS
from app.domain.limits import RequestLimits
from app.domain.rate_limits import parse_rules

ENV_PREFIX = "PARSEQL_"
CONFIG_FILE = "parseql.toml"
_LIMITS = RequestLimits()  # the defaults of the request limits, kept with the limits


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the setting and its source."""


def _size(value: Any) -> int:
    """A byte size: a number, or text such as `20mb`, `512kb`, `1gb` (Parse Server's notation)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?b)?\s*", str(value).lower())
    if not match:
        raise ValueError(f"not a size: {value!r}")
    number, unit = float(match.group(1)), match.group(2) or "b"
    return int(number * {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}[unit])


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(item) for item in value]
    return [item.strip() for item in str(value).split(",") if item.strip()]


def _networks(value: Any) -> list[str]:
    """Addresses or CIDR ranges (`127.0.0.1`, `10.0.0.0/8`, `::1`), each checked."""
    entries = _list(value)
    for entry in entries:
        ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
    return entries


def _rate_limits(value: Any) -> list[dict[str, Any]]:
    """Parse's `rateLimit`: a list of rules (or one), each checked now; kept as given, JSON from a flag or the
    environment, an array of tables (`[[rate_limit]]`) in parseql.toml."""
    if value in (None, ""):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from None
    parse_rules(value)
    rules = [value] if isinstance(value, dict) else value
    return [dict(rule) for rule in rules]


def _in_range(convert: Any, low: float, high: float) -> Any:
    """A converter that also refuses values outside (low, high]: Parse Server's limits for its options."""

    def checked(value: Any) -> Any:
        result = convert(value)
        if result is not None and not low < result <= high:
            raise ValueError(f"must be more than {low:g} and at most {high:g}")
        return result

    return checked


def _one_of(*choices: str) -> Any:
    """A converter that accepts one of `choices`, spelled as Parse Server spells them."""

    def checked(value: Any) -> str:
        text = str(value).strip()
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text

    return checked


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def _limit(value: Any) -> int:
    """A limit as Parse Server takes one: a positive whole number, or -1 for none."""
    result = int(value)
    if result < 1 and result != -1:
        raise ValueError("must be a positive integer, or -1 for no limit")
    return result


def _optional_float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


def _positive_float(value: Any) -> float | None:
    result = _optional_float(value)
    if result is not None and result <= 0:
        raise ValueError("must be more than 0")
    return result


def _pattern(value: Any) -> str | None:
    """A regular expression, checked when the settings load rather than at the first sign-up."""
    if value in (None, ""):
        return None
    try:
        re.compile(str(value))
    except re.error as error:
        raise ValueError(f"not a regular expression: {error}") from None
    return str(value)


def _table(value: Any) -> dict[str, Any]:
    """A table of settings: from parseql.toml as it is, from a flag or the environment as JSON."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from None
    if not isinstance(value, dict):
        raise ValueError("expected a table (a JSON object)")
    return value


def _json_or_file(value: Any) -> dict[str, Any]:
    """A table given as it is (parseql.toml), as JSON, or as the path of a JSON file holding it (Parse's `push`
    option is usually kept in a file beside its keys)."""
    if isinstance(value, str) and value.strip() and not value.strip().startswith("{"):
        path = Path(value.strip()).expanduser()
        try:
            value = path.read_text()
        except OSError as error:
            raise ValueError(f"neither JSON nor a readable file: {error}") from None
    return _table(value)


def _optional_str(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _smtp_url(value: Any) -> str | None:
    """`smtp://user:password@host:port` (STARTTLS when the server offers it) or `smtps://…` (TLS from the start)."""
    if value in (None, ""):
        return None
    text = str(value)
    parts = urlsplit(text)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("expected smtp://[user:password@]host[:port] or smtps://…")
    parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    return text


def _embedded(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in EMBEDDED_ENGINES:
        raise ValueError(f"expected one of {', '.join(EMBEDDED_ENGINES)}")
    return text


def _files_adapter(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in FILES_ADAPTERS:
        raise ValueError(f"expected one of {', '.join(FILES_ADAPTERS)}")
    return text


def _patterns(value: Any) -> list[str]:
    """Regular expressions (or `*`), each checked when the settings load."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)  # a JSON list, for patterns that hold commas
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from None
    entries = value if isinstance(value, list) else _list(value)
    for entry in entries:
        if entry != "*":
            _pattern(entry)
    return [str(entry) for entry in entries]


def _regexes(value: Any) -> list[str]:
    """Regular expressions, each checked when the settings load: a list, JSON, or comma-separated text."""
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ValueError(f"not JSON: {error}") from None
    entries = value if isinstance(value, list) else _list(value)
    for entry in entries:
        _pattern(entry)
    return [str(entry) for entry in entries]


LOG_LEVEL_KEYS = (
    "cloudFunctionSuccess",
    "cloudFunctionError",
    "triggerAfter",
    "triggerBeforeSuccess",
    "triggerBeforeError",
    "signupUsernameTaken",
)
PARSE_LOG_LEVELS = ("error", "warn", "info", "verbose", "debug", "silly", "silent")


def _log_levels(value: Any) -> dict[str, str]:
    """Parse's `logLevels`: the level of each kind of line cloud code runs leave."""
    levels = _table(value)
    for key, level in levels.items():
        if key not in LOG_LEVEL_KEYS:
            raise ValueError(f"unknown key {key!r}; the keys are {', '.join(LOG_LEVEL_KEYS)}")
        if level not in PARSE_LOG_LEVELS:
            raise ValueError(f"{key}: {level!r} is not one of {', '.join(PARSE_LOG_LEVELS)}")
    return dict(levels)


def _protected_fields(value: Any) -> dict[str, dict[str, list[str]]]:
    """Parse's `protectedFields`: by class, by `*`, `authenticated`, `role:…` or a user id, the fields hidden."""
    table = _table(value)
    for class_name, rules in table.items():
        if not isinstance(rules, dict) or not all(
            isinstance(names, list) and all(isinstance(name, str) for name in names) for names in rules.values()
        ):
            raise ValueError(f'{class_name}: expected {{"*": ["field", …], …}}')
    return table


PAGE_IDS = (
    "passwordReset",
    "passwordResetSuccess",
    "passwordResetLinkInvalid",
    "emailVerificationSuccess",
    "emailVerificationSendFail",
    "emailVerificationSendSuccess",
    "emailVerificationLinkInvalid",
    "emailVerificationLinkExpired",
)


def _page_urls(value: Any) -> dict[str, str]:
    """Parse's `pages.customUrls`: a page's id and the absolute URL that replaces it."""
    urls = _table(value)
    for page, url in urls.items():
        if page not in PAGE_IDS:
            raise ValueError(f"unknown page {page!r}; the pages are {', '.join(PAGE_IDS)}")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"{page}: expected an http(s) URL, got {url!r}")
    return dict(urls)


FILES_ADAPTERS = ("auto", "gridfs", "filesystem", "s3")
EMBEDDED_ENGINES = ("postgres", "mongodb")


def setting(default: Any, convert: Any, help: str, *, factory: Any = None) -> Any:
    metadata = {"convert": convert, "help": help}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = setting("127.0.0.1", str, "address to listen on")
    port: int = setting(1337, int, "port to listen on")
    app_id: str = setting("app", str, "application id clients send in X-Parse-Application-Id")
    master_key: str | None = setting(None, _optional_str, "master key (generated and kept in the data dir if unset)")
    read_only_master_key: str | None = setting(None, _optional_str, "a master key that may only read")
    master_key_ips: list[str] = setting(
        None, _networks, "addresses allowed to use the master key", factory=lambda: ["127.0.0.1", "::1"]
    )
    read_only_master_key_ips: list[str] = setting(
        None, _networks, "addresses allowed to use the read-only master key", factory=lambda: ["0.0.0.0/0", "::0"]
    )
    maintenance_key: str | None = setting(
        None, _optional_str, "a key for out-of-band data fixes: internal fields and createdAt/updatedAt (Parse's)"
    )
    maintenance_key_ips: list[str] = setting(
        None, _networks, "addresses allowed to use the maintenance key", factory=lambda: ["127.0.0.1", "::1"]
    )
    rate_limit: list[dict[str, Any]] = setting(
        None,
        _rate_limits,
        'Parse\'s rateLimit rules, e.g. [{"requestPath": "/login", "requestTimeWindow": 60000, "requestCount": 5}]',
        factory=list,
    )
    database_uri: str | None = setting(
        None, _optional_str, "mongodb://… or postgres://…; without it the embedded database runs"
    )
    embedded: str = setting(
        "postgres", _embedded, "the embedded database without --database-uri: postgres, or mongodb (SecantusDB)"
    )
    data_dir: str = setting("./data", str, "where the embedded database and the generated master key live")
    cloud: str = setting("cloud/main.py", str, "cloud code file")
    schema_dir: str = setting("schema", str, "directory of class definitions (JSON) applied at start")
    schema_delete_extra_fields: bool = setting(
        False, _bool, "at start, drop the fields (and their data) of a class that its schema_dir definition omits"
    )
    schema_recreate_modified_fields: bool = setting(
        False, _bool, "at start, drop and add again, empty, a field whose schema_dir definition changes its type"
    )
    lock_schemas: bool = setting(
        False, _bool, "refuse /schemas creating or changing classes, even with the master key: schema_dir is the way"
    )
    server_url: str | None = setting(
        None, _optional_str, "public URL of /parse, for file URLs and emailed links (default http://host:port/parse)"
    )
    allow_origin: list[str] = setting(
        None,
        _list,
        "origins browsers may call from (CORS); a request's Origin in the list is echoed, else the first is sent",
        factory=lambda: ["*"],
    )
    allow_headers: list[str] = setting(
        None, _list, "request headers browsers may send (CORS), in addition to the X-Parse-* headers", factory=list
    )
    route_allow_list: list[str] | None = setting(
        None,
        _regexes,
        "REST routes callers without the master key may use, as regular expressions over the path after /parse/ "
        "(e.g. classes/Chat.*,functions/.*); unset: every route, empty: none",
    )
    pages_custom_urls: dict[str, str] = setting(
        None,
        _page_urls,
        'pages of your own for emailed links, e.g. {"passwordReset": "https://app.example/reset"} (JSON)',
        factory=dict,
    )
    pages_force_redirect: bool = setting(
        False, _bool, "answer every emailed link's page with a redirect to it, never the page itself"
    )
    protected_fields: dict[str, dict[str, list[str]]] = setting(
        None,
        _protected_fields,
        "fields hidden from readers, by class and by who reads (JSON), added to each class's own protectedFields",
        factory=lambda: {"_User": {"*": ["email"]}},
    )
    allow_client_class_creation: bool = setting(False, _bool, "let clients create classes by writing to them")
    allow_custom_object_id: bool = setting(False, _bool, "let clients choose objectIds")
    convert_email_to_lowercase: bool = setting(False, _bool, "store users' email addresses lower-cased")
    convert_username_to_lowercase: bool = setting(False, _bool, "store usernames lower-cased")
    enforce_private_users: bool = setting(True, _bool, "new users are not publicly readable")
    default_limit: int = setting(100, int, "results per query when no limit is given")
    max_limit: int | None = setting(None, _optional_int, "the largest limit a query may ask for")
    query_depth: int = setting(_LIMITS.query_depth, _limit, "nesting of $or/$and/$nor a query may have (-1: no limit)")
    subquery_depth: int = setting(
        _LIMITS.subquery_depth, _limit, "nesting of $inQuery/$notInQuery/$select/$dontSelect (-1: no limit)"
    )
    subquery_limit: int = setting(
        _LIMITS.subquery_limit, _limit, "results a sub-query reads; more are left out (-1: every match)"
    )
    include_depth: int = setting(
        _LIMITS.include_depth, _limit, "length of an include path, a.b.c being 3 (-1: no limit)"
    )
    include_count: int = setting(
        _LIMITS.include_count, _limit, "include paths of one query, a.b counting a and a.b (-1: no limit)"
    )
    query_list_size: int = setting(
        _LIMITS.query_list_size,
        _limit,
        "values of one $in/$nin/$all/$containedBy, branches of one $or/$and/$nor (-1: no limit)",
    )
    allow_regex: bool = setting(_LIMITS.allow_regex, _bool, "let callers without the master key query with $regex")
    batch_request_limit: int = setting(_LIMITS.batch_request_limit, _limit, "sub-requests of one /batch (-1: no limit)")
    graphql_depth: int = setting(20, _limit, "depth of a GraphQL operation's selections (-1: no limit)")
    graphql_fields: int = setting(
        200, _limit, "fields a GraphQL operation selects, fragments counted per use (-1: no limit)"
    )
    graphql_cost: int = setting(
        1000, _limit, "finds, counts and gets a GraphQL operation can start, per row of their pages (-1: no limit)"
    )
    object_id_size: int = setting(10, int, "length of generated objectIds")
    session_length: int = setting(31536000, int, "session lifetime in seconds")
    expire_inactive_sessions: bool = setting(
        True, _bool, "new sessions expire after session_length (off: they never expire, as in Parse Server)"
    )
    account_lockout_threshold: int | None = setting(
        None, _in_range(_optional_int, 0, 999), "failed log-ins that lock an account (off when unset)"
    )
    account_lockout_duration: float = setting(5.0, _in_range(float, 0, 99999), "minutes an account stays locked")
    auth: dict[str, Any] = setting(
        None,
        _table,
        'log-in providers, e.g. {"google": {"client_id": "…"}} (JSON for flags and environment)',
        factory=dict,
    )
    password_pattern: str | None = setting(None, _pattern, "a regular expression every new password must match")
    password_pattern_error: str | None = setting(None, _optional_str, "the message for a password the pattern refuses")
    password_disallow_username: bool = setting(False, _bool, "refuse passwords that contain the username")
    password_history: int | None = setting(
        None, _in_range(_optional_int, 0, 20), "a new password may not repeat any of the last N"
    )
    password_max_age: float | None = setting(
        None, _in_range(_optional_float, 0, 36500), "days before a password must be reset (off when unset)"
    )
    account_lockout_unlock_on_password_reset: bool = setting(
        False, _bool, "a password reset through the emailed link unlocks a locked account"
    )
    revoke_session_on_password_reset: bool = setting(
        True, _bool, "a new password (reset or changed) ends the user's sessions"
    )
    extend_session_on_use: bool = setting(
        False, _bool, "a session used after half its length has passed lasts session_length again"
    )
    installation_duplicate_device_token_action: str = setting(
        "delete",
        _one_of("delete", "update"),
        "an installation whose push token another takes: delete it, or update it (its token or id cleared)",
    )
    installation_duplicate_device_token_merge_priority: str = setting(
        "deviceToken",
        _one_of("deviceToken", "installationId"),
        "when an installation's row and a token-only row are one device, the row that survives",
    )
    installation_duplicate_device_token_action_enforce_auth: bool = setting(
        False, _bool, "those clean-ups are the caller's writes (its ACLs apply), not the master key's"
    )
    app_name: str | None = setting(
        None, _optional_str, "the app's name in emails and pages; email verification and password reset need it"
    )
    smtp_url: str | None = setting(
        None, _smtp_url, "mail server, smtp://user:pass@host:port or smtps://… (unset: emails are logged)"
    )
    mail_from: str | None = setting(None, _optional_str, "the From address of emails sent through smtp_url")
    verify_user_emails: bool = setting(False, _bool, "email a verification link on sign-up and email change")
    email_verify_token_validity_duration: float | None = setting(
        None, _positive_float, "seconds a verification link works (unset: forever)"
    )
    email_verify_token_reuse_if_valid: bool = setting(
        False, _bool, "send the same verification link again while it is valid (needs a validity duration)"
    )
    email_verify_success_on_invalid_email: bool = setting(
        True, _bool, "answer a verification email request for an unknown or verified address as a success"
    )
    prevent_login_with_unverified_email: bool = setting(
        False, _bool, "refuse log-ins until the email is verified (with verify_user_emails)"
    )
    prevent_signup_with_unverified_email: bool = setting(
        False, _bool, "a sign-up answers 205 instead of a session until the email is verified (with the above)"
    )
    reset_token_validity_duration: float | None = setting(
        None, _positive_float, "seconds a password reset link works (unset: forever)"
    )
    reset_token_reuse_if_valid: bool = setting(
        False, _bool, "send the same reset link again while it is valid (needs a validity duration)"
    )
    reset_password_success_on_invalid_email: bool = setting(
        True, _bool, "answer a password reset request for an unknown address as a success"
    )
    max_upload_size: int = setting(20 * 1024**2, _size, "largest request body and file upload (e.g. 20mb)")
    files_adapter: str = setting(
        "auto",
        _files_adapter,
        "where files are stored: gridfs, filesystem or s3; auto: GridFS on MongoDB, else a folder",
    )
    files_dir: str | None = setting(
        None, _optional_str, "directory of the filesystem files adapter (default: files/ in the data dir)"
    )
    files_encryption_key: str | None = setting(
        None,
        _optional_str,
        "encrypt the filesystem adapter's files with this key, as Parse's files adapter does with its encryptionKey",
    )
    s3_bucket: str | None = setting(None, _optional_str, "bucket of the s3 files adapter")
    s3_region: str | None = setting(None, _optional_str, "region of the S3 bucket (default: AWS_REGION)")
    s3_endpoint: str | None = setting(None, _optional_str, "URL of an S3-compatible server (MinIO, R2, …); unset: AWS")
    s3_access_key_id: str | None = setting(
        None, _optional_str, "S3 access key id (unset: the AWS credential chain, e.g. AWS_ACCESS_KEY_ID)"
    )
    s3_secret_access_key: str | None = setting(None, _optional_str, "S3 secret access key")
    s3_prefix: str = setting("", str, "prefix of every file's key in the bucket, e.g. parse/")
    file_upload_for_public: bool = setting(False, _bool, "callers without a session may upload files")
    file_upload_for_anonymous_users: bool = setting(False, _bool, "anonymous users may upload files")
    file_upload_for_authenticated_users: bool = setting(True, _bool, "signed-in users may upload files")
    file_upload_extensions: list[str] = setting(
        None,
        _patterns,
        "regular expressions a file's extension must match (`*`: any); default: Parse 9's, refusing html, svg, xml…",
        factory=lambda: list(DEFAULT_FILE_EXTENSIONS),
    )
    file_upload_allowed_url_domains: list[str] = setting(
        None,
        _list,
        "hosts a File value's url may name when an object is saved (`*`: any; `*.example.com`: its subdomains)",
        factory=lambda: ["*"],
    )
    file_download_for_public: bool = setting(True, _bool, "callers without a session may download files")
    file_download_for_anonymous_users: bool = setting(True, _bool, "anonymous users may download files")
    file_download_for_authenticated_users: bool = setting(True, _bool, "signed-in users may download files")
    preserve_file_name: bool = setting(False, _bool, "store files under the uploaded name, without a random prefix")
    schema_cache_ttl: float = setting(5.0, float, "seconds a cached class schema is trusted")
    database_timeout: float = setting(
        3.0,
        _in_range(float, 0, 3600),
        "seconds a request waits for a database that does not answer before it gets a 503",
    )
    max_query_time: float = setting(
        10.0, _in_range(float, 0, 86400), "seconds a database query may run; one that runs longer answers code 124"
    )
    idempotency_paths: list[str] = setting(
        None,
        _regexes,
        "paths after /parse/ whose requests run once per X-Parse-Request-Id, as regular expressions (Parse's "
        "idempotencyOptions.paths: functions/.*, classes/.*, .*); none by default",
        factory=list,
    )
    idempotency_ttl: float = setting(
        300.0, _in_range(float, 0, 10 * 365 * 86400), "seconds a request id is remembered (idempotencyOptions.ttl)"
    )
    graphql_public_introspection: bool = setting(
        False, _bool, "GraphQL introspection and 'did you mean' hints without the master key (development)"
    )
    playground: bool = setting(True, _bool, "serve the GraphQL playground (GraphiQL) at /playground")
    push: dict[str, Any] = setting(
        None,
        _json_or_file,
        "Parse's push option, as JSON or the path of a JSON file: "
        '{"android": {"firebaseServiceAccount": …}, "ios": {"token": {…}, "topic": …}}',
        factory=dict,
    )
    push_fcm_url: str | None = setting(
        None,
        _optional_str,
        "Firebase Cloud Messaging's address (default https://fcm.googleapis.com): a proxy, or a local server in tests",
    )
    redis_url: str | None = setting(None, _optional_str, "Redis URL for live queries across instances")
    live_query_max_subscriptions: int = setting(
        100, _in_range(int, 1, 100_000), "subscriptions one websocket connection may hold"
    )
    websocket_timeout: float = setting(
        10.0, _in_range(float, 0, 3600), "seconds between websocket pings; a client silent that long is dropped"
    )
    header_timeout: float = setting(
        10.0,
        _in_range(float, 0, 3600),
        "seconds a client has to send a request's headers, from connecting or from its previous response (408)",
    )
    body_timeout: float = setting(
        30.0, _in_range(float, 0, 3600), "seconds a request body may pause between two chunks (408)"
    )
    live_query_queue_size: int = setting(
        1000, _in_range(int, 1, 1_000_000), "events queued for a slow websocket client before it is disconnected"
    )
    webhook_key: str | None = setting(
        None, _optional_str, "key sent to webhooks in X-Parse-Webhook-Key, so they can tell the calls are this server's"
    )
    webhook_timeout: float = setting(
        30.0, _in_range(float, 0, 3600), "seconds a webhook may take to answer before its request fails (141)"
    )
    webhook_cache_ttl: float = setting(
        5.0, _in_range(float, -1, 3600), "seconds an instance trusts its list of webhooks before it reads _Hooks again"
    )
    workers: int = setting(1, int, "server processes")
    log_levels: dict[str, str] = setting(
        None,
        _log_levels,
        'levels of the lines cloud code runs leave, as Parse\'s logLevels, e.g. {"cloudFunctionSuccess": "debug"}',
        factory=dict,
    )
    log_level: str = setting("info", str, "debug, info, warning or error")
    log_store_records: int = setting(
        1000, _in_range(int, -1, 10_000_000), "recent log lines kept in memory for /parse/scriptlog (0: none)"
    )
    log_store_size: int = setting(
        1024 * 1024, _size, "bytes of recent log lines kept in memory for /parse/scriptlog (`1mb`, `512kb`)"
    )

    def __post_init__(self) -> None:
        if self.maintenance_key is not None and self.maintenance_key == self.master_key:
            raise SettingsError("maintenance_key must differ from master_key")

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        return [(f.name, f.metadata["convert"], f.metadata["help"]) for f in dataclasses.fields(cls)]

    @classmethod
    def load(
        cls,
        flags: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        config_file: str | Path | None = None,
    ) -> Settings:
        """Merge the four sources; unknown keys in the file and unusable values are errors."""
        env = os.environ if env is None else env
        flags = {k: v for k, v in (flags or {}).items() if v is not None}
        path = Path(config_file or env.get(f"{ENV_PREFIX}CONFIG", CONFIG_FILE))
        from_file: dict[str, Any] = {}
        if path.is_file():
            with path.open("rb") as handle:
                raw = tomllib.load(handle)
            for key, value in raw.items():
                name = key.replace("-", "_")
                if name not in cls.names():
                    raise SettingsError(f"{path}: unknown setting {key!r}")
                from_file[name] = value
        elif config_file is not None:
            raise SettingsError(f"config file {path} does not exist")
        values: dict[str, Any] = {}
        for name, convert, _ in cls.describe():
            source, raw_value = None, None
            if name in flags:
                source, raw_value = f"--{name.replace('_', '-')}", flags[name]
            elif f"{ENV_PREFIX}{name.upper()}" in env:
                source, raw_value = f"{ENV_PREFIX}{name.upper()}", env[f"{ENV_PREFIX}{name.upper()}"]
            elif name in from_file:
                source, raw_value = f"{path}: {name}", from_file[name]
            if source is None:
                continue
            try:
                values[name] = convert(raw_value)
            except (TypeError, ValueError) as error:
                raise SettingsError(f"{source}: {error}") from None
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @property
    def public_url(self) -> str:
        """The address clients reach /parse at, used in Location headers and file URLs."""
        if self.server_url:
            return self.server_url.rstrip("/")
        return f"http://{self.host}:{self.port}/parse"


def with_master_key(settings: Settings) -> tuple[Settings, bool]:
    """Settings with a master key: the given one, or one kept in the data dir (made on first start).

    Returns the settings and whether the key was generated just now.
    """
    if settings.master_key:
        return settings, False
    path = Path(settings.data_dir) / "master_key"
    if path.is_file():
        key = path.read_text().strip()
        if key:
            return settings.replace(master_key=key), False
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(24)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return settings.replace(master_key=key), True
