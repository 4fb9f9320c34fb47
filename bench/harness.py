"""What every benchmark file shares: the flags, the seeded objects, probing and timing each workload, the report.

A benchmark file describes its workloads (`Workload`: a request stream, a probe and its check) and how to seed
them (a `Seeder`); `server_bench` turns that into the `ServerBench` that `run_benchmark` runs on each server.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import AnswerCheck, Client, RequestFactory, Response, run_load
from bench.report import Measurement, machine, print_header, print_ratios, print_results, write_json
from bench.servers import (
    PARSEQL_PORT,
    SERVER_NAMES,
    Cluster,
    Endpoint,
    Process,
    ServerUnavailableError,
    log,
    stop_on_sigterm,
)

# Runs the chosen workloads against one started server; `database` is its database's process.
ServerBench = Callable[[Endpoint, Process, argparse.Namespace], Coroutine[Any, Any, list[Measurement]]]

ITEMS = 1000
OWNERS = 10
BATCH_SIZE = 50
# Scores are a permutation of 0..ITEMS-1, so `score >= n` matches ITEMS - n objects: always a full page.
THRESHOLDS = range(0, ITEMS - 100, 10)
PAGE = 20


@dataclass(frozen=True)
class Workload:
    """A request stream and one probe request whose answer must be right before anything is timed.

    `error_in`, when given, is a cheap check of every timed answer (a 2xx that still failed, as GraphQL's
    errors do); an answer it finds wrong counts as an error rather than a request.
    """

    name: str
    next_request: RequestFactory
    probe: bytes
    check: Callable[[Response], str | None]
    error_in: AnswerCheck | None = None


@dataclass(frozen=True)
class Seeded:
    """What a `Seeder` created in a server's database, and the workloads built on it."""

    objects: int
    workloads: Mapping[str, Workload]


# Seeds one server's database through the server for the chosen workloads, and builds those workloads.
Seeder = Callable[[Client, Endpoint, Sequence[str]], Awaitable[Seeded]]


# --- the seeded objects ---------------------------------------------------------------------


def score_of(index: int) -> int:
    return index * 7919 % ITEMS  # 7919 is prime, so this is a permutation


def item_body(index: int, owner_ids: Sequence[str]) -> dict[str, object]:
    return {
        "name": f"item-{index:04d}",
        "score": score_of(index),
        "dueAt": {"__type": "Date", "iso": f"2025-{index % 12 + 1:02d}-{index % 28 + 1:02d}T12:00:00.000Z"},
        "owner": {
            "__type": "Pointer",
            "className": "BenchOwner",
            "objectId": owner_ids[index % len(owner_ids)],
        },
    }


async def create_in_batches(client: Client, rest_path: str, class_name: str, bodies: Sequence[object]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(bodies), BATCH_SIZE):
        requests = [
            {"method": "POST", "path": f"{rest_path}/classes/{class_name}", "body": body}
            for body in bodies[start : start + BATCH_SIZE]
        ]
        response = await client.request("POST", f"{rest_path}/batch", {"requests": requests})
        if response.status != 200:
            raise RuntimeError(f"POST {rest_path}/batch answered {response.status}: {response.body[:300]!r}")
        for answer in response.json():
            if "success" not in answer:
                raise RuntimeError(f"POST {rest_path}/batch: {answer}")
            ids.append(answer["success"]["objectId"])
    return ids


async def seed(client: Client, rest_path: str) -> tuple[list[str], list[str]]:
    """BenchOwner objects, then BenchItem objects pointing at them; returns both lists of ids, in index order.

    Item `i` is named `item-{i:04d}`, scores `score_of(i)` and points at owner `i % OWNERS`, named `owner-{i % OWNERS}`.
    """
    owners = await create_in_batches(client, rest_path, "BenchOwner", [{"name": f"owner-{i}"} for i in range(OWNERS)])
    bodies = [item_body(i, owners) for i in range(ITEMS)]
    return owners, await create_in_batches(client, rest_path, "BenchItem", bodies)


def json_of(response: Response, status: int) -> tuple[object, str | None]:
    """The answer's JSON if it has the expected status, else the reason it is wrong."""
    if response.status != status:
        return None, f"HTTP {response.status} (expected {status}): {response.body[:300]!r}"
    try:
        return response.json(), None
    except ValueError:
        return None, f"not JSON: {response.body[:300]!r}"


# --- one server: seed, probe, time ----------------------------------------------------------


async def measure(
    endpoint: Endpoint, database: Process, client: Client, workloads: Sequence[Workload], args: argparse.Namespace
) -> list[Measurement]:
    """Probe each workload and time those answered rightly; the others get a row saying why not."""
    measurements = []
    for workload in workloads:
        name = workload.name
        try:
            problem = workload.check(await client.send(workload.probe))
        except (OSError, ValueError, EOFError) as error:
            problem = f"{type(error).__name__}: {error}"
        if problem:
            log(f"{endpoint.name}: {name}: SKIPPED, wrong answer to the probe: {problem}")
            measurements.append(Measurement(name, endpoint.name, skipped=f"wrong answer: {problem}"))
            continue
        timing = f"{args.warmup:g} s warm-up + {args.duration:g} s at concurrency {args.concurrency}"
        log(f"{endpoint.name}: {name}: {timing}")
        meters = {"server": endpoint.process.cpu_seconds, "database": database.cpu_seconds}
        result = await run_load(
            endpoint.host,
            endpoint.port,
            workload.next_request,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            meters=meters,
            error_in=workload.error_in,
        )
        log(f"{endpoint.name}: {name}: {result.requests_per_second:.0f} req/s, {result.errors} errors")
        measurements.append(Measurement(name, endpoint.name, result))
    return measurements


def server_bench(seeder: Seeder) -> ServerBench:
    """Seed through the server itself with `seeder`, then probe and time each chosen workload against it."""

    async def bench_server(endpoint: Endpoint, database: Process, args: argparse.Namespace) -> list[Measurement]:
        names = args.workload_names
        client = Client(endpoint.host, endpoint.port, endpoint.headers())
        try:
            started = time.perf_counter()
            try:
                seeded = await seeder(client, endpoint, names)
            except (OSError, RuntimeError, ValueError, LookupError, TypeError, EOFError) as error:
                # Anything but a list of {"success": {"objectId": …}} answers lands here.
                log(f"{endpoint.name}: seeding failed: {error!r}")
                return [Measurement(name, endpoint.name, skipped=f"seeding failed: {error!r}") for name in names]
            log(f"{endpoint.name}: seeded {seeded.objects} objects in {time.perf_counter() - started:.1f} s")
            return await measure(endpoint, database, client, [seeded.workloads[name] for name in names], args)
        finally:
            client.close()

    return bench_server


# --- the command line and the whole run -----------------------------------------------------


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--only", choices=SERVER_NAMES, help="run against one server only")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per workload")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each workload")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument(
        "--shared-database",
        action="store_true",
        help="one database server for both servers (default: a fresh one for each)",
    )
    parser.add_argument(
        "--sync-on-commit",
        action="store_true",
        help="start the database with durable commits (fsync per commit), as ParseQL runs its embedded database",
    )
    parser.add_argument(
        "--database",
        choices=("secantusdb", "postgres"),
        default="secantusdb",
        help="the database server both servers use: SecantusDB (MongoDB wire) or the embedded PostgreSQL",
    )
    parser.add_argument("--parseql-port", type=int, default=PARSEQL_PORT)
    parser.add_argument("--parse-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--database-port", type=int, default=0, help="default: a free port")


def check_common_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--concurrency must be >= 1, --duration > 0 and --warmup >= 0")


def parse_arguments(
    prog: str,
    description: str,
    workloads: Sequence[str],
    argv: Sequence[str] | None = None,
    extra: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The common flags, `--workloads` and the script's `extra` ones; `args.workload_names` keeps the order of
    `workloads`, whatever was asked."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    add_common_arguments(parser)
    if extra is not None:
        extra(parser)
    parser.add_argument("--workloads", default=",".join(workloads), help=f"comma-separated, from {','.join(workloads)}")
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    chosen = {name.strip() for name in args.workloads.split(",") if name.strip()}
    if not chosen or chosen - set(workloads):
        parser.error(f"--workloads: choose from {','.join(workloads)} (got {args.workloads!r})")
    args.workload_names = [name for name in workloads if name in chosen]
    return args


def run_benchmark(
    *,
    name: str,
    title: str,
    args: argparse.Namespace,
    workloads: Sequence[str],
    bench_server: ServerBench,
    settings: dict[str, Any],
    description: str,
) -> int:
    """Measure each server in turn, then print (and maybe write) the results; returns an exit code."""
    servers = [args.only] if args.only else list(SERVER_NAMES)
    machine_info = machine()  # before anything starts, so the load average is the machine's own
    measurements: list[Measurement] = []
    versions: dict[str, str] = {}
    skipped: dict[str, str] = {}
    cluster = Cluster(
        args.shared_database,
        args.parseql_port,
        args.parse_port,
        args.database_port,
        args.sync_on_commit,
        engine=args.database,
    )
    try:
        with stop_on_sigterm(), cluster:
            for server in servers:
                try:
                    with cluster.serve(server) as endpoint:
                        versions[server] = endpoint.version
                        assert cluster.database is not None
                        measurements += asyncio.run(bench_server(endpoint, cluster.database, args))
                except ServerUnavailableError as error:
                    log(f"bench: SKIPPING {server}: {error}")
                    skipped[server] = str(error)
                    measurements += [Measurement(w, server, skipped=str(error)) for w in workloads]
            versions["database"] = cluster.database_version
    except KeyboardInterrupt:
        log("bench: interrupted; servers stopped")
        return 130
    database = "one database server for both" if args.shared_database else "a fresh database server for each"
    if args.sync_on_commit:
        database += " (durable commits: --sync-on-commit)"
    settings = {
        "concurrency": args.concurrency,
        "warmup_seconds": args.warmup,
        "duration_seconds": args.duration,
        "shared_database": args.shared_database,
        "sync_on_commit": args.sync_on_commit,
        "database": args.database,
        **settings,
    }
    print_header(
        title,
        machine_info,
        versions,
        f"{args.concurrency} connections, {args.warmup:g} s warm-up + {args.duration:g} s per workload, "
        f"{database}, {description}",
    )
    print_results(measurements)
    print_ratios(measurements)
    if args.json:
        write_json(
            args.json,
            benchmark=name,
            machine_info=machine_info,
            versions=versions,
            settings=settings,
            measurements=measurements,
            skipped=skipped,
        )
        log(f"bench: wrote {args.json}")
    return 0 if any(m.result for m in measurements) else 1
