"""What every benchmark file shares: the common flags, one server at a time, and the report."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

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
    parser.add_argument("--parseql-port", type=int, default=PARSEQL_PORT)
    parser.add_argument("--parse-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--database-port", type=int, default=0, help="default: a free port")


def check_common_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.concurrency < 1 or args.duration <= 0 or args.warmup < 0:
        parser.error("--concurrency must be >= 1, --duration > 0 and --warmup >= 0")


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
    cluster = Cluster(args.shared_database, args.parseql_port, args.parse_port, args.database_port)
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
    settings = {
        "concurrency": args.concurrency,
        "warmup_seconds": args.warmup,
        "duration_seconds": args.duration,
        "shared_database": args.shared_database,
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
