"""Settings: flags beat PARSEQL_* variables, which beat parseql.toml, which beats the defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.settings import Settings, SettingsError, with_master_key


def test_defaults_are_the_documented_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no parseql.toml here
    settings = Settings.load({}, env={})
    assert (settings.host, settings.port, settings.app_id) == ("127.0.0.1", 1337, "app")
    assert settings.allow_client_class_creation is False
    assert settings.enforce_private_users is True
    assert settings.session_length == 31536000
    assert settings.max_upload_size == 20 * 1024 * 1024
    assert (settings.data_dir, settings.cloud, settings.schema_dir) == ("./data", "cloud/main.py", "schema")


def test_flags_beat_environment_which_beats_the_file(tmp_path: Path) -> None:
    config = tmp_path / "parseql.toml"
    config.write_text('app_id = "from-file"\nport = 4000\nmax-upload-size = "1mb"\nmaster_key = "file-key"\n')
    env = {"PARSEQL_APP_ID": "from-env", "PARSEQL_PORT": "5000", "PARSEQL_ALLOW_CLIENT_CLASS_CREATION": "yes"}
    settings = Settings.load({"app_id": "from-flag"}, env=env, config_file=config)
    assert settings.app_id == "from-flag"
    assert settings.port == 5000
    assert settings.master_key == "file-key"
    assert settings.max_upload_size == 1024 * 1024
    assert settings.allow_client_class_creation is True


def test_the_config_file_is_found_through_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "other.toml"
    config.write_text('app_id = "elsewhere"\n')
    assert Settings.load({}, env={"PARSEQL_CONFIG": str(config)}).app_id == "elsewhere"


def test_bad_values_name_their_source(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="PARSEQL_PORT"):
        Settings.load({}, env={"PARSEQL_PORT": "many"})
    config = tmp_path / "parseql.toml"
    config.write_text("colour = 'blue'\n")
    with pytest.raises(SettingsError, match="unknown setting 'colour'"):
        Settings.load({}, env={}, config_file=config)


def test_a_master_key_is_generated_once_and_kept_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "data"))
    first, generated = with_master_key(settings)
    again, generated_again = with_master_key(settings)
    assert generated and not generated_again
    assert first.master_key and first.master_key == again.master_key
    assert (tmp_path / "data" / "master_key").stat().st_mode & 0o777 == 0o600
    given, _ = with_master_key(settings.replace(master_key="mine"))
    assert given.master_key == "mine"


def test_master_key_addresses_must_be_addresses_or_ranges() -> None:
    assert Settings.load({"master_key_ips": "10.0.0.0/8, ::1"}, env={}).master_key_ips == ["10.0.0.0/8", "::1"]
    with pytest.raises(SettingsError, match="--master-key-ips"):
        Settings.load({"master_key_ips": "localhost"}, env={})


def test_files_settings_load_from_each_source_and_refuse_what_cannot_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no parseql.toml here
    defaults = Settings.load({}, env={})
    assert (defaults.files_adapter, defaults.file_upload_for_public) == ("auto", False)
    assert defaults.files_encryption_key is None
    assert defaults.file_upload_for_authenticated_users is True
    assert defaults.file_upload_extensions[0].startswith("^(?!(")
    env = {
        "PARSEQL_FILES_ADAPTER": "S3",
        "PARSEQL_S3_BUCKET": "media",
        "PARSEQL_FILE_UPLOAD_EXTENSIONS": '["^(jpg|png)$", "^t{1,2}xt$"]',
    }
    settings = Settings.load({"file_upload_for_public": True}, env=env)
    assert (settings.files_adapter, settings.s3_bucket) == ("s3", "media")
    assert settings.file_upload_extensions == ["^(jpg|png)$", "^t{1,2}xt$"]
    assert settings.file_upload_for_public is True
    assert Settings.load({"file_upload_extensions": "jpg, png"}, env={}).file_upload_extensions == ["jpg", "png"]
    with pytest.raises(SettingsError, match="PARSEQL_FILES_ADAPTER: expected one of auto, gridfs, filesystem, s3"):
        Settings.load({}, env={"PARSEQL_FILES_ADAPTER": "ftp"})
    with pytest.raises(SettingsError, match="--file-upload-extensions: not a regular expression"):
        Settings.load({"file_upload_extensions": "(unclosed"}, env={})


def test_the_s3_adapter_needs_a_bucket(tmp_path: Path) -> None:
    from app.asgi import StartupError, create_app

    settings = Settings(database_uri="mongodb://127.0.0.1:1/x", data_dir=str(tmp_path), files_adapter="s3")
    with pytest.raises(StartupError, match="files_adapter s3 needs s3_bucket"):
        create_app(settings)


@pytest.mark.parametrize("adapter", ["auto", "gridfs", "s3"])
def test_the_files_encryption_key_is_refused_where_files_would_be_stored_in_the_clear(
    adapter: str, tmp_path: Path
) -> None:
    from app.asgi import StartupError, create_app

    env = {"PARSEQL_FILES_ENCRYPTION_KEY": "s3cret", "PARSEQL_FILES_ADAPTER": adapter, "PARSEQL_S3_BUCKET": "media"}
    settings = Settings.load({"database_uri": "mongodb://127.0.0.1:1/x", "data_dir": str(tmp_path)}, env=env)
    assert settings.files_encryption_key == "s3cret"
    expected = "gridfs" if adapter == "auto" else adapter  # auto on MongoDB is GridFS
    with pytest.raises(StartupError, match=f"files_encryption_key needs the filesystem files adapter, not {expected}"):
        create_app(settings)
    create_app(settings.replace(files_adapter="filesystem"))  # where it works


def test_gridfs_is_refused_on_postgresql(tmp_path: Path) -> None:
    from app.asgi import StartupError, create_app

    settings = Settings(database_uri="postgresql://127.0.0.1:1/x", data_dir=str(tmp_path), files_adapter="gridfs")
    with pytest.raises(StartupError, match="files_adapter gridfs needs MongoDB"):
        create_app(settings)


def test_a_limit_is_a_positive_number_or_minus_one_for_none() -> None:
    assert Settings.load({}, env={"PARSEQL_QUERY_DEPTH": "-1"}).query_depth == -1
    assert Settings.load({"graphql_cost": "50"}, env={}).graphql_cost == 50
    with pytest.raises(SettingsError, match="PARSEQL_INCLUDE_COUNT: must be a positive integer, or -1 for no limit"):
        Settings.load({}, env={"PARSEQL_INCLUDE_COUNT": "0"})


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ('{"requestTimeWindow": 1000, "requestCount": 1}', "rule 1: requestPath must be defined"),
        ('[{"requestPath": 5, "requestTimeWindow": 1000, "requestCount": 1}]', "requestPath must be a string"),
        ('[{"requestPath": "/a/:", "requestTimeWindow": 1000, "requestCount": 1}]', ": needs a name at 4"),
        ('[{"requestPath": "/a(b)", "requestTimeWindow": 1000, "requestCount": 1}]', "( at 2 is reserved"),
        ('[{"requestPath": "/a", "requestCount": 1}]', "requestTimeWindow must be defined"),
        ('[{"requestPath": "/a", "requestTimeWindow": "1s", "requestCount": 1}]', "requestTimeWindow must be a number"),
        ('[{"requestPath": "/a", "requestTimeWindow": 1000}]', "requestCount must be defined"),
        ('[{"requestPath": "/a", "requestTimeWindow": 1, "requestCount": 1, "zone": "city"}]', "zone must be one of"),
        ('[{"requestPath": "/a", "requestTimeWindow": 1, "requestCount": 1, "path": "/b"}]', "unknown option 'path'"),
        (
            '[{"requestPath": "/a", "requestTimeWindow": 1, "requestCount": 1, "includeMasterKey": "yes"}]',
            "includeMasterKey must be a boolean",
        ),
        ('[{"requestPath": "/a", "requestTimeWindow": 1, "requestCount": 1, "redisUrl": "x"}]', "redisUrl must be"),
        ("[1]", "rule 1: expected a table"),
        ("{not json", "not JSON"),
    ],
)
def test_rules_are_checked_when_the_settings_load(rules: str, message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.load({"rate_limit": rules}, env={})
    assert str(raised.value).startswith("--rate-limit: ")
    assert message in str(raised.value)


def test_rules_come_from_the_environment_or_the_file_in_either_spelling(tmp_path: Path) -> None:
    rule = '{"requestPath": "/login", "requestTimeWindow": 60000, "requestCount": 5}'
    assert Settings.load({}, env={"PARSEQL_RATE_LIMIT": rule}).rate_limit == [
        {"requestPath": "/login", "requestTimeWindow": 60000, "requestCount": 5}
    ]
    config = tmp_path / "parseql.toml"
    config.write_text('[[rate_limit]]\nrequest_path = "/login"\nrequest_time_window = 60000\nrequest_count = 5\n')
    assert Settings.load({}, env={}, config_file=config).rate_limit[0]["request_path"] == "/login"


def test_the_maintenance_key_must_differ_from_the_master_key() -> None:
    with pytest.raises(SettingsError, match="maintenance_key must differ from master_key"):
        Settings.load({"master_key": "same", "maintenance_key": "same"}, env={})


def test_idempotency_settings_load_from_each_source_and_refuse_what_cannot_work() -> None:
    defaults = Settings.load({}, env={})
    assert (defaults.idempotency_paths, defaults.idempotency_ttl) == ([], 300.0)  # Parse's defaults: off
    env = {"PARSEQL_IDEMPOTENCY_PATHS": '["functions/.*", "classes/(Order|Cart)"]', "PARSEQL_IDEMPOTENCY_TTL": "60"}
    settings = Settings.load({}, env=env)
    assert settings.idempotency_paths == ["functions/.*", "classes/(Order|Cart)"]
    assert settings.idempotency_ttl == 60.0
    assert Settings.load({"idempotency_paths": "functions/.*, jobs/.*"}, env={}).idempotency_paths == [
        "functions/.*",
        "jobs/.*",
    ]
    with pytest.raises(SettingsError, match="--idempotency-paths: not a regular expression"):
        Settings.load({"idempotency_paths": "functions/(unclosed"}, env={})
    with pytest.raises(SettingsError, match="PARSEQL_IDEMPOTENCY_TTL: must be more than 0"):
        Settings.load({}, env={"PARSEQL_IDEMPOTENCY_TTL": "0"})


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"log_levels": '{"cloudFunctionSucces": "info"}'}, "--log-levels: unknown key 'cloudFunctionSucces'"),
        ({"log_levels": '{"triggerAfter": "loud"}'}, "--log-levels: triggerAfter: 'loud' is not one of"),
        ({"pages_custom_urls": '{"reset": "https://a.example"}'}, "--pages-custom-urls: unknown page 'reset'"),
        ({"pages_custom_urls": '{"passwordReset": "/reset"}'}, "--pages-custom-urls: passwordReset: expected an http"),
        ({"protected_fields": '{"_User": ["email"]}'}, "--protected-fields: _User: expected"),
    ],
)
def test_parse_tables_are_checked_when_the_settings_load(flags: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.load(flags, env={})
    assert str(raised.value).startswith(message)


def test_parse_tables_load_from_json() -> None:
    loaded = Settings.load(
        {
            "log_levels": '{"cloudFunctionSuccess": "silent"}',
            "pages_custom_urls": '{"passwordReset": "https://app.example/reset"}',
            "protected_fields": '{"Player": {"*": ["secret"]}}',
        },
        env={},
    )
    assert loaded.log_levels == {"cloudFunctionSuccess": "silent"}
    assert loaded.pages_custom_urls == {"passwordReset": "https://app.example/reset"}
    assert loaded.protected_fields == {"Player": {"*": ["secret"]}}
    assert Settings.load({}, env={}).protected_fields == {"_User": {"*": ["email"]}}
