"""The embedded database: SecantusDB as a child process, with its files under the data dir."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


class EmbeddedDatabaseError(RuntimeError):
    """The embedded database could not be started; the message says why and where its log is."""


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


def _die_with_parent() -> None:
    # Linux only: if this server is killed outright, the database goes with it instead of lingering.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedDatabase:
    """Start, watch and stop one SecantusDB process on a free loopback port."""

    def __init__(self, data_dir: str | Path, *, database: str = "parse") -> None:
        self.data_dir = Path(data_dir)
        self.database = database
        self.process: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.stopping = False
        self.crashed = False

    @property
    def log_path(self) -> Path:
        return self.data_dir / "embedded-db.log"

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/{self.database}"

    def start(self, timeout: float = 60.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        command = [
            _executable(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.data_dir / "db"),
            "--log-level",
            "WARNING",
        ]
        with self.log_path.open("ab") as output:
            # Its own session: Ctrl-C reaches this server, which then stops the database in order.
            self.process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise EmbeddedDatabaseError(
                    f"the embedded database exited with code {code} while starting; see {self.log_path}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                log.info("embedded database ready on port %s (data in %s)", self.port, self.data_dir / "db")
                return self.uri
            time.sleep(0.1)
        self.stop()
        raise EmbeddedDatabaseError(f"the embedded database did not start in {timeout:.0f}s; see {self.log_path}")

    def watch(self, on_crash: Callable[[int], None]) -> None:
        """Call `on_crash(exit_code)` from a thread if the database exits while the server still runs."""
        process = self.process
        if process is None:
            return

        def wait() -> None:
            code = process.wait()
            if not self.stopping:
                self.crashed = True
                on_crash(code)

        threading.Thread(target=wait, name="embedded-db-watch", daemon=True).start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the database and wait for it to exit (killing it only if it does not)."""
        self.stopping = True
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("the embedded database did not stop in %ss; killing it", timeout)
            process.kill()
            process.wait()
        log.info("embedded database stopped")


def crash_handler(database: EmbeddedDatabase, stop: Callable[[], None] | None = None) -> Callable[[int], None]:
    """Stop this server when the database dies under it: through `stop`, or by SIGTERM to itself."""

    def on_crash(code: int) -> None:
        log.error(
            "the embedded database exited unexpectedly (code %s); stopping the server. Its log: %s",
            code,
            database.log_path,
        )
        if stop is not None:
            stop()
        else:
            os.kill(os.getpid(), signal.SIGTERM)

    return on_crash
