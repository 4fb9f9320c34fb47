"""How ParseQL's answers grow with the size of a class, on each storage engine.

    python bench/scale.py [--engines mongodb,postgres] [--sizes 1000,10000,100000,1000000] [--requests 50]
                          [--seconds 5]
                          [--json out.json]

For each engine a fresh database server and a ParseQL on it are started; the class `ScaleItem` is created through
`/parse/schemas` (with its indexes, so the engine builds them as it builds any app's), then filled to each size in
turn straight into the database in Parse's own layout (a million objects through REST would take the whole
evening), and at each size these are timed, one request at a time, through REST with the master key:

| workload | request |
|---|---|
| `get` | `GET /classes/ScaleItem/<id>`, a random id |
| `page` | `where={"score":{"$gte":n}}&order=-score&limit=20` on the indexed `score` |
| `equal` | `where={"tag":"t<k>"}&limit=20` on the indexed `tag` (each tag on one object in a thousand) |
| `scan` | `where={"name":"n<i>"}&limit=20` on the unindexed `name`: the database reads the whole class |
| `count` | `where={"score":{"$lt":n}}&count=1&limit=0`, half the class on average |
| `create` | `POST /classes/ScaleItem` |

A workload at one size runs `--requests` requests or `--seconds` seconds, whichever ends first (at least 3),
after 3 unmeasured ones; the table shows the median and the 90th percentile in milliseconds, and the last
column the largest size's median over the smallest's. Needs the project's .venv (the seeding speaks the
database's own protocol with the project's driver); the script re-runs itself with it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a file: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import (
    APP_ID,
    LOG_DIR,
    MASTER_KEY,
    ROOT,
    Process,
    create_postgres_database,
    free_port,
    log,
    start_database,
    start_parseql,
    start_postgres,
    stop_on_sigterm,
)

CLASS = "ScaleItem"
TAGS_PER_OBJECT = 1000  # `equal` matches one object in this many
WORKLOADS = ("get", "page", "equal", "scan", "count", "create")
SEED_BATCH = 10_000


def object_id(index: int) -> str:
    return f"s{index:09d}"  # Parse's ids are 10 characters


def document(index: int) -> tuple[str, str, int, str]:
    """objectId, name, score, tag of the index-th seeded object; scores are a shuffle-free spread of 0..10^9."""
    return object_id(index), f"n{index}", (index * 7_919) % 1_000_000_007, f"t{index % TAGS_PER_OBJECT}"


class Engine(Protocol):
    name: str

    def start(self, workdir: Path) -> str:
        """Start a database server; the URI ParseQL is given."""
        ...

    def seed(self, uri: str, start: int, stop: int) -> None:
        """Write objects start..stop-1 of `document` into ScaleItem, in Parse's layout for this engine."""
        ...

    def stop(self) -> None: ...


@dataclass
class MongoEngine:
    """SecantusDB, ParseQL's embedded MongoDB-wire database, seeded with pymongo in Parse's MongoDB format."""

    name: str = "mongodb"
    process: Process | None = None

    def start(self, workdir: Path) -> str:
        port = free_port()
        self.process = start_database(workdir / "secantusdb", port, LOG_DIR / "scale-database.log")
        return f"mongodb://127.0.0.1:{port}/scale"

    def seed(self, uri: str, start: int, stop: int) -> None:
        import pymongo  # the project's driver: this script runs in its .venv

        now = datetime.now(UTC)
        client: pymongo.MongoClient[dict[str, Any]]
        with pymongo.MongoClient(uri) as client:
            collection: Any = client.get_default_database()[CLASS]
            for low in range(start, stop, SEED_BATCH):
                rows = (document(i) for i in range(low, min(stop, low + SEED_BATCH)))
                collection.insert_many(
                    [
                        {"_id": oid, "name": name, "score": score, "tag": tag, "_created_at": now, "_updated_at": now}
                        for oid, name, score, tag in rows
                    ],
                    ordered=False,
                )

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


@dataclass
class PostgresEngine:
    """The embedded PostgreSQL, seeded with COPY into the class's table in Parse Server's PostgreSQL layout."""

    name: str = "postgres"
    process: Process | None = None

    def start(self, workdir: Path) -> str:
        workdir.chmod(0o755)  # the server may run as a system user of its own
        self.process = start_postgres(workdir, free_port(), LOG_DIR / "scale-database.log")
        return create_postgres_database(self.process, "scale")

    def seed(self, uri: str, start: int, stop: int) -> None:
        import psycopg  # the project's driver: this script runs in its .venv

        now = datetime.now(UTC)
        columns = '"objectId", "name", "score", "tag", "createdAt", "updatedAt"'
        with psycopg.connect(uri) as connection, connection.cursor() as cursor:
            with cursor.copy(f'COPY "{CLASS}" ({columns}) FROM STDIN') as copy:
                for index in range(start, stop):
                    copy.write_row((*document(index), now, now))
            cursor.execute(f'ANALYZE "{CLASS}"')  # fresh statistics, as autovacuum would give a live class

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


ENGINES: dict[str, Callable[[], Engine]] = {"mongodb": MongoEngine, "postgres": PostgresEngine}


@dataclass
class Timing:
    engine: str
    size: int
    workload: str
    milliseconds: list[float] = field(default_factory=list)
    error: str | None = None

    def quantile(self, q: float) -> float:
        ordered = sorted(self.milliseconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Rest:
    """One keep-alive connection to ParseQL's REST API with the master key."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload, headers["Content-Type"] = json.dumps(body), "application/json"
        try:
            self.connection.request(method, f"/parse{path}", payload, headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # The server closes a keep-alive connection left idle (while the next size was seeded): open another.
            self.connection.close()
            self.connection.request(method, f"/parse{path}", payload, headers)
            response = self.connection.getresponse()
        return response.status, json.loads(response.read() or b"null")


def create_class(rest: Rest) -> None:
    status, body = rest.call(
        "POST",
        f"/schemas/{CLASS}",
        {
            "className": CLASS,
            "fields": {"name": {"type": "String"}, "score": {"type": "Number"}, "tag": {"type": "String"}},
            "indexes": {"score_1": {"score": 1}, "tag_1": {"tag": 1}},
        },
    )
    if status != 200:
        raise SystemExit(f"scale: creating {CLASS} answered {status}: {body}")


def requests_for(size: int, rng: random.Random) -> dict[str, Callable[[], tuple[str, str, Any]]]:
    base = f"/classes/{CLASS}"

    def query(where: dict[str, Any], **extra: Any) -> str:
        return f"{base}?{urlencode({'where': json.dumps(where), **extra})}"

    def pick() -> tuple[str, str, int, str]:
        return document(rng.randrange(size))

    return {
        "get": lambda: ("GET", f"{base}/{pick()[0]}", None),
        "page": lambda: ("GET", query({"score": {"$gte": pick()[2]}}, order="-score", limit=20), None),
        "equal": lambda: ("GET", query({"tag": pick()[3]}, limit=20), None),
        "scan": lambda: ("GET", query({"name": pick()[1]}, limit=20), None),
        "count": lambda: ("GET", query({"score": {"$lt": pick()[2]}}, count=1, limit=0), None),
        "create": lambda: ("POST", base, {"name": "created", "score": -1, "tag": "created"}),
    }


def measure(rest: Rest, timing: Timing, request: Callable[[], tuple[str, str, Any]], args: argparse.Namespace) -> None:
    for _ in range(3):
        status, body = rest.call(*request())
        if status >= 300:
            timing.error = f"{status}: {json.dumps(body)[:120]}"
            return
    deadline = time.monotonic() + args.seconds
    while len(timing.milliseconds) < args.requests and (time.monotonic() < deadline or len(timing.milliseconds) < 3):
        method, path, body = request()
        started = time.perf_counter()
        status, answer = rest.call(method, path, body)
        elapsed = (time.perf_counter() - started) * 1000
        if status >= 300:
            timing.error = f"{status}: {json.dumps(answer)[:120]}"
            return
        timing.milliseconds.append(elapsed)


@contextmanager
def running(engine: Engine, workdir: Path) -> Iterator[tuple[str, Rest]]:
    uri = engine.start(workdir)
    try:
        endpoint = start_parseql(free_port(), uri)
        try:
            yield uri, Rest(endpoint.port)
        finally:
            endpoint.process.stop()
    finally:
        engine.stop()


def bench_engine(engine: Engine, args: argparse.Namespace) -> list[Timing]:
    timings: list[Timing] = []
    rng = random.Random(7)
    with tempfile.TemporaryDirectory(prefix="parseql-scale-") as workdir, running(engine, Path(workdir)) as (uri, rest):
        create_class(rest)
        seeded = 0
        for size in args.sizes:
            started = time.monotonic()
            engine.seed(uri, seeded, size)
            log(f"scale: {engine.name}: seeded {size - seeded:,} objects in {time.monotonic() - started:.1f} s")
            seeded = size
            requests = requests_for(size, rng)
            for workload in args.workloads:
                timing = Timing(engine.name, size, workload)
                measure(rest, timing, requests[workload], args)
                timings.append(timing)
                shown = timing.error or f"median {timing.quantile(0.5):.2f} ms"
                log(f"scale: {engine.name} {size:>9,} {workload:<7} {shown}")
    return timings


def report(timings: list[Timing], args: argparse.Namespace) -> None:
    print(f"\n# ParseQL by class size: median / p90 ms, one request at a time ({time.strftime('%Y-%m-%d')})\n")
    print("| engine | workload | " + " | ".join(f"{size:,}" for size in args.sizes) + " | largest / smallest |")
    print("|---|---|" + "---|" * (len(args.sizes) + 1))
    for engine in args.engines:
        for workload in args.workloads:
            row = [t for t in timings if t.engine == engine and t.workload == workload]
            cells = [t.error or f"{t.quantile(0.5):.2f} / {t.quantile(0.9):.2f}" for t in row]
            ratio = "-"
            if len(row) > 1 and not row[0].error and not row[-1].error:
                ratio = f"{row[-1].quantile(0.5) / row[0].quantile(0.5):.2f}x"
            print(f"| {engine} | {workload} | " + " | ".join(cells) + f" | {ratio} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", default="mongodb", help=f"comma-separated, from {','.join(ENGINES)}")
    parser.add_argument("--sizes", default="1000,10000,100000", help="class sizes, ascending")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma-separated, from {','.join(WORKLOADS)}")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per workload and size, at most")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per workload and size, at most")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the timings as JSON")
    args = parser.parse_args(argv)
    args.engines = [name for name in args.engines.split(",") if name]
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
    args.workloads = [name for name in WORKLOADS if name in args.workloads.split(",")]
    if set(args.engines) - set(ENGINES) or not args.sizes or not args.workloads:
        parser.error(f"--engines from {','.join(ENGINES)}, --workloads from {','.join(WORKLOADS)}")
    LOG_DIR.mkdir(exist_ok=True)
    timings: list[Timing] = []
    try:
        with stop_on_sigterm():
            for name in args.engines:
                timings += bench_engine(ENGINES[name](), args)
    except KeyboardInterrupt:
        log("scale: interrupted; servers stopped")
        return 130
    report(timings, args)
    if args.json:
        args.json.write_text(json.dumps([t.__dict__ for t in timings], indent=1))
    return 0


def in_project_venv() -> None:
    """Re-run this script with the project's .venv, whose drivers seed the databases."""
    python = ROOT / ".venv" / "bin" / "python"
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() and python.is_file():
        os.execv(python, [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__":
    in_project_venv()
    sys.exit(main())
