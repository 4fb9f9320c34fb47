"""Instructions the ParseQL server spends per request, counted by callgrind: a cost that does not move with the
machine's load, for comparing two commits to a few tenths of a percent.

    python bench/instructions.py [--checkout DIR] [--workloads get,page,rest_get,rest_page] [--requests 200]
                                 [--database secantusdb|postgres]

`DIR` is a checkout with its own .venv (`make test` makes one; for an older commit, `git worktree add DIR <rev>`
then `make -C DIR test ARGS=--co`); default: this one. For each workload the server (`python -m app serve`
under `valgrind --tool=callgrind`, on a database server started here outside valgrind: SecantusDB, or with
`--database postgres` the embedded PostgreSQL) is run twice, once with the
requests and once without, and the difference is divided by their number, so start-up, seeding and warm-up
cancel out. Needs valgrind (Debian's package). A workload takes about two minutes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import ROOT, create_postgres_database, free_port, log, start_database, start_postgres

WARMUP = 30
GET = "query($id: ID!) { benchItem(id: $id) { id objectId name score } }"
PAGE = (
    "query($min: Float) { benchItems(where: {score: {greaterThanOrEqualTo: $min}}, order: [score_DESC, name_ASC], "
    "first: 20) { edges { node { objectId name score owner { objectId name } } } } }"
)
HEADERS = {"X-Parse-Application-Id": "app", "Content-Type": "application/json"}
MASTER = {**HEADERS, "X-Parse-Master-Key": "master"}


class _Client:
    """One kept-alive HTTP connection, as the load generator of the other benchmarks keeps them."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def post(self, path: str, body: Any, headers: dict[str, str]) -> Any:
        self.connection.request("POST", path, json.dumps(body).encode(), headers)
        return json.loads(self.connection.getresponse().read())

    def get(self, path: str, headers: dict[str, str]) -> Any:
        self.connection.request("GET", path, headers=headers)
        return json.loads(self.connection.getresponse().read())


_PAGE_QUERY = urllib.parse.urlencode(
    {"where": json.dumps({"score": {"$gte": 0}}), "order": "-score,name", "limit": 20, "include": "owner"}
)
WORKLOADS: dict[str, Callable[[_Client, str], Any]] = {
    # GraphQL: a get by id, and a page of 20 with each object's pointer (bench/graphql.py's get and page_pointer).
    "get": lambda client, id_: client.post("/graphql", {"query": GET, "variables": {"id": id_}}, HEADERS),
    "page": lambda client, id_: client.post("/graphql", {"query": PAGE, "variables": {"min": 0}}, HEADERS),
    # REST: the same two reads as the Parse SDKs send them.
    "rest_get": lambda client, id_: client.get(f"/parse/classes/BenchItem/{id_}", HEADERS),
    "rest_page": lambda client, id_: client.get(f"/parse/classes/BenchItem?{_PAGE_QUERY}", HEADERS),
}


def _wait_for_health(base: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 600  # start-up under valgrind is slow
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited while starting: {process.stderr.read() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(base + "/parse/health", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(1)
    raise SystemExit("the server did not start under valgrind in 10 minutes")


def count(checkout: Path, database: str, workload: str, requests: int) -> int:
    """Instructions of one server run: start, seed 10 owners and 100 items, warm up, `requests` requests, stop."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(checkout / ".venv/bin/python")]
    argv += ["-m", "app", "serve", "--port", str(port), "--database-uri", database, "--master-key", "master"]
    argv += ["--allow-client-class-creation", "--log-level", "warning"]
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dictionaries, so the same instructions, each run
    process = subprocess.Popen(
        argv, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_for_health(base, process)
        client = _Client(port)
        owners = [client.post("/parse/classes/BenchOwner", {"name": f"o{i}"}, MASTER)["objectId"] for i in range(10)]
        ids = []
        for index in range(100):
            owner = {"__type": "Pointer", "className": "BenchOwner", "objectId": owners[index % 10]}
            body = {"name": f"n{index}", "score": index, "owner": owner}
            ids.append(client.post("/parse/classes/BenchItem", body, MASTER)["objectId"])
        send = WORKLOADS[workload]
        for _ in range(WARMUP + requests):
            answer = send(client, ids[5])
            if "errors" in answer or "error" in answer:
                raise SystemExit(f"{workload}: {answer}")
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=600)
    found = re.findall(r"Collected : (\d+)", errors)
    if not found:
        raise SystemExit(f"callgrind printed no count: {errors[-2000:]}")
    return int(found[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkout", type=Path, default=ROOT, help="a checkout with its .venv (default: this one)")
    parser.add_argument("--workloads", default="get,page", help=f"comma-separated, from {','.join(WORKLOADS)}")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per workload")
    parser.add_argument("--database", choices=("secantusdb", "postgres"), default="secantusdb")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "-C", str(args.checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as storage:
        database_port = free_port()
        Path(storage).chmod(0o755)  # PostgreSQL runs as a system user of its own when we are root
        if args.database == "postgres":
            database = start_postgres(Path(storage), database_port, Path(storage) / "db.log")
        else:
            database = start_database(Path(storage), database_port, Path(storage) / "db.log")

        def uri(name: str) -> str:
            if args.database == "postgres":
                return create_postgres_database(database, name)
            return f"mongodb://127.0.0.1:{database_port}/{name}"

        try:
            for workload in args.workloads.split(","):
                log(f"{workload}: counting {args.checkout} ({commit}) twice under callgrind on {args.database}")
                without = count(args.checkout, uri(f"instructions_{workload}_base"), workload, 0)
                with_requests = count(args.checkout, uri(f"instructions_{workload}"), workload, args.requests)
                per_request = (with_requests - without) / args.requests
                counted = f"{commit} {workload} on {args.database}: {per_request:,.0f} instructions per request"
                print(counted, flush=True)  # each count as it comes: a workload takes minutes
        finally:
            database.stop()


if __name__ == "__main__":
    main()
