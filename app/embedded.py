"""The embedded database: a child process with its files under the data dir, supervised while the server runs.

A `ChildDatabase` says how to run one engine: its command, how to tell it is ready, where it logs, and the URI
clients use. A `Supervisor` runs one: `start` launches it and waits until it is ready; `supervise` watches it from
a thread and, when it dies while not being stopped, logs one line and launches it again with the same command
(the same data and the same port, so the server's open clients reconnect by themselves), first after 0.5 s, then
after twice as long each time a launch fails or the database dies again soon after (up to 30 s), one log line per
attempt; `stop` stops it and waits for it. SecantusDB (`secantusdb`) is the engine today; PostgreSQL can be
another `ChildDatabase` beside it.

SecantusDB runs with `--sync-on-commit`: a write is acknowledged only once its journal record is on disk, so
writes a client was told succeeded survive a crash of the database process (without it, WiredTiger keeps the
last records in memory: 18 of 1,643 acknowledged writes were lost to a SIGKILL). Concurrent commits share one
flush of the journal, so the cost is small for concurrent writers and largest for a single one (bench/README.md).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
FIRST_DELAY, MAX_DELAY = 0.5, 30.0
"""Seconds before relaunching a database that died: the first time, and at most (the delay doubles meanwhile)."""


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be started; the message says why and where its log is."""


@dataclass(frozen=True, slots=True)
class ChildDatabase:
    """How to run one database engine as a child process."""

    name: str
    command: tuple[str, ...]
    log_path: Path
    uri: str
    is_ready: Callable[[], bool]
    """Whether the database accepts clients yet (asked every 0.1 s while it starts)."""
    stop_signal: int = signal.SIGTERM
    """What asks it to stop in order (PostgreSQL's fast shutdown is SIGINT)."""


def _executable() -> str:
    beside = Path(sys.executable).parent / "secantusd-py"
    if beside.is_file():
        return str(beside)
    found = shutil.which("secantusd-py")
    if found:
        return found
    raise EmbeddedDatabaseError(
        "the embedded database is not installed: install parseql[embedded] (make run does), "
        "or pass --database-uri to use a MongoDB server"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def secantusdb(data_dir: Path, port: int, *, database: str = "parse", durable: bool = True) -> ChildDatabase:
    """SecantusDB on a loopback port, its files in `data_dir/db`; `durable`: every commit reaches the disk."""
    command = [_executable(), "--host", "127.0.0.1", "--port", str(port)]
    command += ["--storage-path", str(data_dir / "db"), "--log-level", "WARNING"]
    if durable:
        command.append("--sync-on-commit")
    return ChildDatabase(
        "SecantusDB",
        tuple(command),
        data_dir / "embedded-db.log",
        f"mongodb://127.0.0.1:{port}/{database}",
        lambda: _accepts(port),
    )


def _die_with_parent() -> None:
    # Linux only: if this server is killed outright, the database goes with it instead of lingering. (The signal
    # comes when the launching *thread* ends: launches happen on the main thread or the supervising one.)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _exit_reason(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


class Supervisor:
    """Start, watch, restart and stop one child database."""

    def __init__(self, child: ChildDatabase, *, ready_timeout: float = 60.0) -> None:
        self.child = child
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._ready_at = 0.0
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # a launch and `stop` never interleave: no child outlives `stop`
        self._watcher: threading.Thread | None = None

    @property
    def log_path(self) -> Path:
        return self.child.log_path

    @property
    def uri(self) -> str:
        return self.child.uri

    def start(self) -> str:
        """Launch the database and wait until it is ready; its URI."""
        self._launch()
        return self.child.uri

    def _launch(self) -> None:
        self.child.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            if self._stopping.is_set():
                raise EmbeddedDatabaseError(f"the {self.child.name} database is being stopped")
            with self.child.log_path.open("ab") as output:
                # Its own session: Ctrl-C reaches this server, which then stops the database in order.
                process = self.process = subprocess.Popen(
                    self.child.command,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                    preexec_fn=_die_with_parent if sys.platform == "linux" else None,
                )
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline and not self._stopping.is_set():
            code = process.poll()
            if code is not None:
                raise EmbeddedDatabaseError(
                    f"the embedded database exited ({_exit_reason(code)}) while starting; see {self.log_path}"
                )
            if self.child.is_ready():
                self._ready_at = time.monotonic()
                log.info("embedded database ready: %s (log: %s)", self.child.uri, self.log_path)
                return
            time.sleep(0.1)
        self._end(process, 10.0)
        raise EmbeddedDatabaseError(
            f"the embedded database did not start in {self.ready_timeout:.0f}s; see {self.log_path}"
        )

    def supervise(self) -> None:
        """From now until `stop`, launch the database again whenever it dies."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="embedded-db-supervisor", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        delay = FIRST_DELAY
        while self.process is not None:
            code = self.process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - self._ready_at > MAX_DELAY:
                delay = FIRST_DELAY  # it had been up a while: this is a new crash, not a crash loop
            log.error(
                "the embedded database (%s) died unexpectedly (%s); restarting it in %.1f s. Its log: %s",
                self.child.name,
                _exit_reason(code),
                delay,
                self.log_path,
            )
            down_at, attempt = time.monotonic(), 0
            while True:
                if self._stopping.wait(delay):
                    return
                attempt += 1
                delay = min(delay * 2, MAX_DELAY)
                log.warning("restarting the embedded database (attempt %d)", attempt)
                try:
                    self._launch()
                except EmbeddedDatabaseError as error:
                    if self._stopping.is_set():
                        return
                    log.error("restart attempt %d failed: %s; next attempt in %.1f s", attempt, error, delay)
                    continue
                self.restarts += 1
                log.warning("the embedded database is back, %.1f s after it died", time.monotonic() - down_at)
                break

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the database and wait for it to exit (killing it only if it does not); no restart follows."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            self._end(process, timeout)
            log.info("embedded database stopped")
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout)

    def _end(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        process.send_signal(self.child.stop_signal)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the embedded database did not stop in %ss; killing it", timeout)
            process.kill()
            process.wait()


class EmbeddedDatabase(Supervisor):
    """SecantusDB on a free loopback port, its files and log under `data_dir`."""

    def __init__(self, data_dir: str | Path, *, database: str = "parse", durable: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.port = _free_port()
        super().__init__(secantusdb(self.data_dir, self.port, database=database, durable=durable))
