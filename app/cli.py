"""`parseql serve`: start the server (and the embedded database when no URI is given)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from app.settings import Settings, SettingsError, _bool, with_master_key

log = logging.getLogger("app")
RESOLVED_ENV = "PARSEQL_RESOLVED_SETTINGS"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parseql", description="ParseQL: a Parse-compatible, GraphQL-first backend")
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="run the server (the default)")
    serve.add_argument("--config", help="settings file (default: parseql.toml if present)")
    for name, convert, help_text in Settings.describe():
        flag = f"--{name.replace('_', '-')}"
        if convert is _bool:
            serve.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            serve.add_argument(flag, default=None, help=help_text)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _banner(settings: Settings, generated: bool, embedded: bool) -> str:
    base = f"http://{settings.host}:{settings.port}"
    key_note = f"  (generated; kept in {settings.data_dir}/master_key)" if generated else ""
    database = "embedded (SecantusDB) in " + os.path.join(settings.data_dir, "db") if embedded else "MongoDB"
    return "\n".join(
        [
            "",
            "ParseQL is running",
            f"  REST        {base}/parse",
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
    return create_app(Settings(**values))


def serve(settings: Settings) -> int:
    import uvicorn

    from app.embedded import EmbeddedDatabase, EmbeddedDatabaseError, crash_handler

    _configure_logging(settings.log_level)
    settings, generated = with_master_key(settings)
    database = None
    if not settings.database_uri:
        database = EmbeddedDatabase(settings.data_dir)
        try:
            settings = settings.replace(database_uri=database.start())
        except EmbeddedDatabaseError as error:
            log.error("%s", error)
            return 1
        if settings.database_timeout is None:
            # A local database answers at once or is gone: fail requests fast instead of hanging them.
            settings = settings.replace(database_timeout=3.0)
    print(_banner(settings, generated, database is not None), flush=True)
    # uvicorn re-raises the signal that stopped it; catching it here lets the database stop in order.
    stop_signals: list[int] = []
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda received, _frame: stop_signals.append(received))
    try:
        if settings.workers > 1:
            if database is not None:
                database.watch(crash_handler(database))
            os.environ[RESOLVED_ENV] = json.dumps(dataclasses.asdict(settings))
            uvicorn.run(
                "app.cli:app_from_environment",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
                log_level="warning",
                timeout_graceful_shutdown=10,
            )
        else:
            from app.asgi import create_app

            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(settings),
                    host=settings.host,
                    port=settings.port,
                    log_level="warning",
                    timeout_graceful_shutdown=10,
                )
            )
            if database is not None:
                database.watch(crash_handler(database, stop=lambda: setattr(server, "should_exit", True)))
            server.run()
    finally:
        if database is not None:
            database.stop()
    return 1 if database is not None and database.crashed else 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0].startswith("-"):
        arguments.insert(0, "serve")
    options = _parser().parse_args(arguments)
    flags = {k: v for k, v in vars(options).items() if k not in ("command", "config")}
    try:
        settings = Settings.load(flags, config_file=options.config)
    except SettingsError as error:
        print(f"parseql: {error}", file=sys.stderr)
        return 2
    return serve(settings)


if __name__ == "__main__":
    sys.exit(main())
