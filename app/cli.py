"""`parseql serve`: start the server (and the embedded database when no URI is given).
`parseql schema export`: write the GraphQL schema of the stored classes as SDL, for client code generators.
`parseql migrate --from URI --to URI`: copy a Parse database between engines (app/migrate.py)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.settings import Settings, SettingsError, _bool, with_master_key

if TYPE_CHECKING:
    from app.embedded import Supervisor

log = logging.getLogger("app")
RESOLVED_ENV = "PARSEQL_RESOLVED_SETTINGS"


def _add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="settings file (default: parseql.toml if present)")
    for name, convert, help_text in Settings.describe():
        flag = f"--{name.replace('_', '-')}"
        if convert is _bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            parser.add_argument(flag, default=None, help=help_text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parseql", description="ParseQL: a Parse-compatible, GraphQL-first backend")
    commands = parser.add_subparsers(dest="command")
    _add_settings(commands.add_parser("serve", help="run the server (the default)"))
    schema = commands.add_parser("schema", help="the GraphQL schema").add_subparsers(dest="action", required=True)
    export = schema.add_parser("export", help="write the GraphQL schema of the stored classes as SDL")
    export.add_argument("--output", "-o", help="where to write it (default: <schema-dir>/schema.graphql; - for stdout)")
    _add_settings(export)
    migrate = commands.add_parser("migrate", help="copy a Parse database to another database (MongoDB, PostgreSQL)")
    migrate.add_argument("--from", dest="source", required=True, metavar="URI", help="the database to copy")
    migrate.add_argument("--to", dest="target", required=True, metavar="URI", help="where to copy it")
    migrate.add_argument("--from-files", metavar="DIR", help="the source's files folder (default: GridFS on MongoDB)")
    migrate.add_argument("--to-files", metavar="DIR", help="the target's files folder (default: GridFS on MongoDB)")
    migrate.add_argument("--from-files-key", metavar="KEY", help="the source folder's files encryption key, if any")
    migrate.add_argument("--to-files-key", metavar="KEY", help="encrypt the files copied into --to-files with this key")
    migrate.add_argument(
        "--data-dir", default="./data", help="where embedded:postgres and embedded:mongodb keep their files"
    )
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def database_name(settings: Settings, embedded: bool) -> str:
    """Which database the server runs on, as the banner says it."""
    if embedded and settings.embedded == "mongodb":
        return "embedded SecantusDB (MongoDB wire) in " + os.path.join(settings.data_dir, "db")
    if embedded:
        return "embedded PostgreSQL in " + os.path.join(settings.data_dir, "pg")
    scheme = (settings.database_uri or "").partition("://")[0].lower()
    return "PostgreSQL" if scheme in ("postgres", "postgresql") else "MongoDB"


def _banner(settings: Settings, generated: bool, embedded: bool) -> str:
    base = f"http://{settings.host}:{settings.port}"
    key_note = f"  (generated; kept in {settings.data_dir}/master_key)" if generated else ""
    database = database_name(settings, embedded)
    return "\n".join(
        [
            "",
            "ParseQL is running",
            f"  REST        {base}/parse",
            f"  GraphQL     {base}/graphql",
            *([f"  playground  {base}/playground"] if settings.playground else []),
            f"  health      {base}/parse/health",
            f"  app id      {settings.app_id}",
            f"  master key  {settings.master_key}{key_note}",
            f"  database    {database}",
            "",
        ]
    )


def app_from_environment() -> Any:
    """Factory for uvicorn workers: the settings the parent process resolved."""
    from app.asgi import create_app

    values = json.loads(os.environ[RESOLVED_ENV])
    settings = Settings(**values)
    _configure_logging(settings.log_level)  # a spawned worker starts with no log of its own
    return create_app(settings)


def _with_database(settings: Settings) -> tuple[Settings, Supervisor | None]:
    """The settings pointing at a database: the one given, or the embedded one, started here."""
    if settings.database_uri:
        return settings, None
    database = embedded_database(settings.embedded, settings.data_dir)
    return settings.replace(database_uri=database.start()), database


def embedded_database(engine: str, data_dir: str, *, refuse_earlier: bool = True) -> Supervisor:
    """The embedded database of that engine (`--embedded`), under the data dir (not started yet).

    Raises EmbeddedDatabaseError, with `refuse_earlier`, when PostgreSQL is asked for but the data dir holds only
    SecantusDB's files: an earlier ParseQL embedded SecantusDB, and its data must not look lost because the
    default changed.
    """
    from app.embedded import EmbeddedDatabase, EmbeddedDatabaseError
    from app.embedded_postgres import EmbeddedPostgres

    data = Path(data_dir)
    if engine == "mongodb":
        return EmbeddedDatabase(data)
    earlier = data / "db"
    if refuse_earlier and earlier.is_dir() and any(earlier.iterdir()) and not (data / "pg").exists():
        raise EmbeddedDatabaseError(
            f"{earlier} holds the database of an earlier ParseQL (SecantusDB, MongoDB wire); ParseQL now embeds "
            "PostgreSQL. To keep using it, start with --embedded mongodb (or PARSEQL_EMBEDDED=mongodb). To move it "
            f"to PostgreSQL: parseql migrate --from embedded:mongodb --to embedded:postgres --data-dir {data}"
        )
    return EmbeddedPostgres(data, database="parse")


def serve(settings: Settings) -> int:
    import uvicorn

    from app.embedded import EmbeddedDatabaseError
    from app.server import Server, uvicorn_options

    _configure_logging(settings.log_level)
    settings, generated = with_master_key(settings)
    try:
        settings, database = _with_database(settings)
    except EmbeddedDatabaseError as error:
        log.error("%s", error)
        return 1
    banner = _banner(settings, generated, database is not None)
    if database is not None:
        # Restarted if it dies, from this process: with --workers, the parent of the workers.
        database.supervise()
    # uvicorn re-raises the signal that stopped it; catching it here lets the database stop in order.
    stop_signals: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, _frame: stop_signals.append(received))
    try:
        if settings.workers > 1:
            print(banner, flush=True)  # the workers start the app, each in its own process
            os.environ[RESOLVED_ENV] = json.dumps(dataclasses.asdict(settings))
            uvicorn.run(
                "app.cli:app_from_environment",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
                log_level="warning",
                **uvicorn_options(settings),
            )
        else:
            from app.asgi import create_app

            server = Server(
                uvicorn.Config(
                    create_app(settings),
                    host=settings.host,
                    port=settings.port,
                    log_level="warning",
                    **uvicorn_options(settings),
                )
            )
            server.banner = banner
            server.run()
    finally:
        if database is not None:
            database.stop()
    return 0


def export_schema(settings: Settings, output: str | None) -> int:
    """Build the GraphQL schema from the classes in the database, as the server would, and write its SDL."""
    from app.embedded import EmbeddedDatabaseError

    _configure_logging("warning")
    try:
        settings, database = _with_database(settings)
    except EmbeddedDatabaseError as error:
        print(
            f"parseql: {error} (is a server using {settings.data_dir}? stop it, or pass --database-uri)",
            file=sys.stderr,
        )
        return 1
    try:
        sdl = asyncio.run(_schema_sdl(settings))
    finally:
        if database is not None:
            database.stop()
    if output == "-":
        sys.stdout.write(sdl)
        return 0
    path = Path(output) if output else Path(settings.schema_dir) / "schema.graphql"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(sdl)
    print(f"wrote {path}", file=sys.stderr)
    return 0


async def _schema_sdl(settings: Settings) -> str:
    from graphql import print_schema

    from app.asgi import build_services
    from app.transport.graphql.builder import SchemaBuilder

    services = build_services(settings)
    try:
        await services.schemas.ensure_system_classes()  # what the server does at start
        hooks = services.hooks
        functions = hooks.registry.functions if hooks else None
        return print_schema(SchemaBuilder(await services.schemas.all(), functions).build()) + "\n"
    finally:
        await services.storage.close()


def run_migration(options: argparse.Namespace) -> int:
    """`parseql migrate`; `embedded:postgres` and `embedded:mongodb` name the embedded databases of --data-dir,
    started for the copy and stopped after it."""
    from app.asgi import StartupError
    from app.embedded import EmbeddedDatabaseError
    from app.errors import DatabaseUnavailableError
    from app.migrate import MigrationError, migrate

    _configure_logging("warning")
    started: list[Supervisor] = []
    try:
        uris = []
        for uri in (options.source, options.target):
            engine = uri.removeprefix("embedded:") if uri.startswith("embedded:") else None
            if engine not in (None, "postgres", "mongodb"):
                raise MigrationError(f"{uri}: the embedded databases are embedded:postgres and embedded:mongodb")
            if engine is not None:
                started.append(embedded_database(engine, options.data_dir, refuse_earlier=False))
                uri = started[-1].start()
            uris.append(uri)
        files_dir = str(Path(options.data_dir) / "files")
        source_files = options.from_files or (files_dir if options.source == "embedded:postgres" else None)
        target_files = options.to_files or (files_dir if options.target == "embedded:postgres" else None)
        copy = migrate(
            uris[0],
            uris[1],
            source_files=source_files,
            target_files=target_files,
            source_key=options.from_files_key,
            target_key=options.to_files_key,
        )
        return asyncio.run(copy)
    except (MigrationError, EmbeddedDatabaseError, StartupError) as error:
        print(f"parseql migrate: {error}", file=sys.stderr)
        return 2
    except DatabaseUnavailableError as error:
        # The driver's words name the server (host and port) and, for TLS or a login, what to change.
        print(f"parseql migrate: {error.reason or error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nparseql migrate: stopped; run the same command again to go on where it stopped", file=sys.stderr)
        return 130
    finally:
        for database in started:
            database.stop()


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0].startswith("-"):
        arguments.insert(0, "serve")
    options = _parser().parse_args(arguments)
    if options.command == "migrate":
        return run_migration(options)
    flags = {k: v for k, v in vars(options).items() if k not in ("command", "config", "action", "output")}
    try:
        settings = Settings.load(flags, config_file=options.config)
    except SettingsError as error:
        print(f"parseql: {error}", file=sys.stderr)
        return 2
    if options.command == "schema":
        return export_schema(settings, options.output)
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
