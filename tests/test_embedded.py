"""The database process dies under a running `parseql serve`: no acknowledged write is lost, the embedded database
is restarted by the server, an external one is reconnected to, and meanwhile clients get 503s, not 500s or hangs."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.embedded import EmbeddedDatabase
from tests.processes import database_pids, database_port, start_server, wait_for


@pytest.fixture
def tmp_path(server_home: Path) -> Path:
    """Every test's folder here is `server_home` (conftest.py): the servers these tests start run the embedded
    PostgreSQL, whose own user must keep reaching its data folder."""
    return server_home


KEY = "crash-test-master-key"
HEADERS = {"X-Parse-Application-Id": "app", "X-Parse-Master-Key": KEY}
UNAVAILABLE = {"code": 1, "error": "The database is unavailable; try again shortly."}
SLOWEST = 10.0
"""Seconds any answer may take, outage or not (generous: the machine is shared)."""


@dataclass
class Traffic:
    """Four writers (plain creates, batches of three creates, file uploads) and a health poller, in threads,
    against one server; every answer is kept."""

    base: str
    notes: list[str] = field(default_factory=list)
    files: list[tuple[str, bytes]] = field(default_factory=list)
    refusals: list[tuple[int, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    health: list[int] = field(default_factory=list)
    slowest: float = 0.0
    stopped: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def acknowledged(self) -> int:
        return len(self.notes) + len(self.files)

    def __enter__(self) -> Traffic:
        writers = [self._create, self._create, self._batch, self._upload]
        self.threads = [threading.Thread(target=self._loop, args=(writer,)) for writer in writers]
        self.threads.append(threading.Thread(target=self._poll_health))
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(60)

    def _loop(self, write: Any) -> None:
        with httpx.Client(base_url=self.base, headers=HEADERS, timeout=60) as client:
            for number in itertools.count():
                if self.stopped.is_set():
                    return
                started = time.monotonic()
                try:
                    write(client, number)
                except httpx.HTTPError as error:
                    self.failures.append(f"{write.__name__}: {error!r}")
                with self.lock:
                    self.slowest = max(self.slowest, time.monotonic() - started)

    def _create(self, client: httpx.Client, number: int) -> None:
        answer = client.post("/parse/classes/Note", json={"n": number})
        if answer.status_code == 201:
            self.notes.append(answer.json()["objectId"])
        else:
            self.refusals.append((answer.status_code, answer.json()))

    def _batch(self, client: httpx.Client, number: int) -> None:
        requests = [{"method": "POST", "path": "/parse/classes/Note", "body": {"batch": number}} for _ in range(3)]
        answer = client.post("/parse/batch", json={"requests": requests})
        if answer.status_code != 200:
            self.refusals.append((answer.status_code, answer.json()))
            return
        for result in answer.json():
            if "success" in result:
                self.notes.append(result["success"]["objectId"])
            else:
                self.refusals.append((200, result["error"]))

    def _upload(self, client: httpx.Client, number: int) -> None:
        content = f"file {number} ".encode() * 2000  # 16 kB: a GridFS chunk and a files document on MongoDB
        answer = client.post(f"/parse/files/note-{number}.txt", content=content, headers={"Content-Type": "text/plain"})
        if answer.status_code == 201:
            self.files.append((answer.json()["name"], content))
        else:
            self.refusals.append((answer.status_code, answer.json()))

    def _poll_health(self) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as client:
            while not self.stopped.wait(0.05):  # paced: each call pings the database
                self.health.append(client.get("/parse/health").status_code)

    def health_recovered(self) -> bool:
        """/health answered 503, and 200 since."""
        return 503 in self.health and self.health[-1] == 200


def _kill_and_wait_for_restart(port: int, traffic: Traffic) -> None:
    [killed] = database_pids(port)
    os.kill(killed, signal.SIGKILL)
    wait_for(lambda: database_pids(port) not in ([], [killed]), "the supervisor to restart the database")
    # Objects, not files: on PostgreSQL, files live in a folder and are written while the database is down.
    written = len(traffic.notes)
    wait_for(lambda: len(traffic.notes) >= written + 40, "writes after the restart")


ENGINES = pytest.mark.parametrize("engine", ["postgres", "mongodb"])
"""Both embedded databases: PostgreSQL (the default) and SecantusDB (--embedded mongodb)."""


@ENGINES
def test_writes_answered_before_the_embedded_database_is_killed_survive_its_restart_by_the_server(
    tmp_path: Path, engine: str
) -> None:
    process, port, log = start_server(tmp_path, "--master-key", KEY, "--embedded", engine)
    base = f"http://127.0.0.1:{port}"
    try:
        with Traffic(base) as traffic:
            wait_for(lambda: traffic.acknowledged >= 100, "writes before the crash")
            _kill_and_wait_for_restart(database_port(log), traffic)
            # Again at once: it dies soon after its restart, so the next one waits longer (a crash loop backs off).
            _kill_and_wait_for_restart(database_port(log), traffic)
            wait_for(traffic.health_recovered, "/parse/health to answer 503, then 200 again")
        assert process.poll() is None, "the server exited"
        assert not traffic.failures, traffic.failures
        assert traffic.slowest < SLOWEST
        # During the outages: 503 with code 1 (whole requests) or code 1 (a batch's items), never anything else.
        assert all(status in (200, 503) and body == UNAVAILABLE for status, body in traffic.refusals), traffic.refusals

        with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as client:
            stored = client.get("/parse/classes/Note", params={"limit": 100_000, "keys": "objectId"}).json()["results"]
            missing = set(traffic.notes) - {note["objectId"] for note in stored}
            assert not missing, f"{len(missing)} of {len(traffic.notes)} acknowledged objects are gone"
            for name, content in traffic.files:
                assert client.get(f"/parse/files/app/{name}").content == content, name
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    output = log.read_text()
    assert output.count("died unexpectedly (killed by SIGKILL); restarting it in 0.5 s") == 1, output
    assert output.count("died unexpectedly (killed by SIGKILL); restarting it in 1.0 s") == 1, output
    assert "Traceback" not in output


@ENGINES
def test_with_several_workers_the_parent_process_restarts_the_embedded_database(tmp_path: Path, engine: str) -> None:
    process, port, log = start_server(tmp_path, "--master-key", KEY, "--workers", "2", "--embedded", engine)
    base = f"http://127.0.0.1:{port}"
    try:
        database = database_port(log)
        [killed] = database_pids(database)
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: database_pids(database) not in ([], [killed]), "the parent to restart the database")

        def created() -> bool:
            answer = httpx.post(f"{base}/parse/classes/Note", json={"after": "restart"}, headers=HEADERS, timeout=30)
            assert answer.status_code in (201, 503), answer.text
            return answer.status_code == 201

        wait_for(created, "both workers' writes to succeed again")
        wait_for(created, "both workers' writes to succeed again")
        assert process.poll() is None
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0, log.read_text()
    assert "died unexpectedly (killed by SIGKILL)" in log.read_text()


def test_an_external_database_that_goes_away_gets_503s_and_is_reconnected_to_when_it_is_back(tmp_path: Path) -> None:
    external = EmbeddedDatabase(tmp_path / "external")  # a SecantusDB of the test's own, given by URI
    uri = external.start()
    process, port, log = start_server(tmp_path, "--database-uri", uri, "--master-key", KEY)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=HEADERS, timeout=60)
    try:
        note = client.post("/parse/classes/Note", json={"text": "before"}).json()["objectId"]
        assert external.process is not None
        external.process.kill()
        external.process.wait()

        wait_for(lambda: client.get("/parse/health").status_code == 503, "/parse/health to answer 503")
        assert client.get("/parse/health").json() == {"status": "error"}
        started = time.monotonic()
        answer = client.get(f"/parse/classes/Note/{note}")
        assert (answer.status_code, answer.json()) == (503, UNAVAILABLE)
        assert answer.headers["Retry-After"] == "1"
        assert time.monotonic() - started < SLOWEST / 2
        answer = client.post("/parse/classes/Note", json={"text": "during"})
        assert (answer.status_code, answer.json()) == (503, UNAVAILABLE)
        graphql = client.post("/graphql", json={"query": "{ health }"}).json()
        assert graphql.get("data") in (None, {"health": False})
        if "errors" in graphql:
            assert graphql["errors"][0]["extensions"] == {"code": 1}

        external.start()  # the same port and data
        wait_for(lambda: client.get("/parse/health").status_code == 200, "/parse/health to answer 200 again")
        assert client.get("/parse/health").json() == {"status": "ok"}
        assert client.get(f"/parse/classes/Note/{note}").json()["text"] == "before"
        assert client.post("/parse/classes/Note", json={"text": "after"}).status_code == 201
        assert client.post("/graphql", json={"query": "{ health }"}).json() == {"data": {"health": True}}
        assert process.poll() is None
    finally:
        client.close()
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        external.stop()
    output = log.read_text()
    assert output.count("the database is unreachable") == 1, output
    assert output.count("the database is reachable again") == 1, output
    assert "Traceback" not in output
