"""REST workloads against ParseQL and Parse Server 9.10.0: get by id, a sorted query page, create.

    python bench/rest.py [--only parseql|parse] [--workloads get,query,create]
                         [--duration 10] [--concurrency 16] [--warmup 2] [--json out.json]
                         [--shared-database]    (--help for the rest)

Each server seeds its own database through its own /parse/batch, then every workload runs
against it with the same client code; see bench/README.md for what the columns mean.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a file: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import add_common_arguments, check_common_arguments, run_benchmark
from bench.load import Client, RequestFactory, Response, build_request, run_load
from bench.report import Measurement
from bench.servers import Endpoint, Process, log

WORKLOADS = ("get", "query", "create")
ITEMS = 1000
OWNERS = 10
BATCH_SIZE = 50
# Scores are a permutation of 0..ITEMS-1, so `score >= n` matches ITEMS - n objects: always a full page.
THRESHOLDS = range(0, ITEMS - 100, 10)
PAGE = 20


@dataclass(frozen=True)
class Workload:
    """A request stream and one probe request whose answer must be right before anything is timed."""

    name: str
    next_request: RequestFactory
    probe: bytes
    check: Callable[[Response], str | None]


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


async def seed(client: Client, rest_path: str) -> list[str]:
    """BenchOwner objects, then BenchItem objects pointing at them; returns the items' ids."""
    owners = await create_in_batches(client, rest_path, "BenchOwner", [{"name": f"owner-{i}"} for i in range(OWNERS)])
    bodies = [item_body(i, owners) for i in range(ITEMS)]
    return await create_in_batches(client, rest_path, "BenchItem", bodies)


def _json_of(response: Response, status: int) -> tuple[object, str | None]:
    if response.status != status:
        return None, f"HTTP {response.status} (expected {status}): {response.body[:300]!r}"
    try:
        return response.json(), None
    except ValueError:
        return None, f"not JSON: {response.body[:300]!r}"


def rest_workloads(endpoint: Endpoint, item_ids: Sequence[str]) -> dict[str, Workload]:
    """The three workloads, each a table of prebuilt requests so the client does no per-request JSON work."""
    headers, base = endpoint.headers(), f"{endpoint.rest_path}/classes/BenchItem"

    gets = [build_request("GET", f"{base}/{object_id}", headers) for object_id in item_ids]

    def check_get(response: Response) -> str | None:
        body, error = _json_of(response, 200)
        if error or not isinstance(body, dict):
            return error or f"not an object: {body!r}"
        owner = body.get("owner")
        if body.get("objectId") != item_ids[0] or not isinstance(owner, dict) or "objectId" not in owner:
            return f"wrong object: {body!r}"
        return None

    def query_path(threshold: int) -> str:
        where = json.dumps({"score": {"$gte": threshold}}, separators=(",", ":"))
        return f"{base}?{urlencode({'where': where, 'order': '-score,name', 'limit': PAGE})}"

    queries = [build_request("GET", query_path(n), headers) for n in THRESHOLDS]
    probe_query = build_request("GET", query_path(ITEMS // 2), headers)

    def check_query(response: Response) -> str | None:
        body, error = _json_of(response, 200)
        if error or not isinstance(body, dict):
            return error or f"not an object: {body!r}"
        results = body.get("results")
        scores = [item.get("score") for item in results if isinstance(item, dict)] if results else []
        if not isinstance(results, list) or scores != list(range(ITEMS - 1, ITEMS - 1 - PAGE, -1)):
            return f"expected the {PAGE} highest scores in order, got {scores}"
        return None

    create = build_request("POST", base, headers, {"name": "created", "score": -1})

    def check_create(response: Response) -> str | None:
        body, error = _json_of(response, 201)
        if error or not isinstance(body, dict):
            return error or f"not an object: {body!r}"
        return None if body.get("objectId") else f"no objectId in {body!r}"

    return {
        "get": Workload("get", lambda rng: rng.choice(gets), gets[0], check_get),
        "query": Workload("query", lambda rng: rng.choice(queries), probe_query, check_query),
        "create": Workload("create", lambda rng: create, create, check_create),
    }


async def bench_server(endpoint: Endpoint, database: Process, args: argparse.Namespace) -> list[Measurement]:
    """Seed through the server's own /parse/batch, then run each chosen workload against it."""
    names = args.workload_names
    client = Client(endpoint.host, endpoint.port, endpoint.headers())
    try:
        started = time.perf_counter()
        try:
            item_ids = await seed(client, endpoint.rest_path)
        except (OSError, RuntimeError, ValueError, LookupError, TypeError, EOFError) as error:
            # Anything but a list of {"success": {"objectId": …}} answers lands here.
            log(f"{endpoint.name}: seeding failed: {error!r}")
            return [Measurement(name, endpoint.name, skipped=f"seeding failed: {error!r}") for name in names]
        log(f"{endpoint.name}: seeded {OWNERS + ITEMS} objects in {time.perf_counter() - started:.1f} s")
        workloads = rest_workloads(endpoint, item_ids)
        measurements = []
        for name in names:
            workload = workloads[name]
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
            )
            log(f"{endpoint.name}: {name}: {result.requests_per_second:.0f} req/s, {result.errors} errors")
            measurements.append(Measurement(name, endpoint.name, result))
        return measurements
    finally:
        client.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/rest.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_common_arguments(parser)
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated, from get,query,create")
    args = parser.parse_args(argv)
    check_common_arguments(parser, args)
    chosen = {name.strip() for name in args.workloads.split(",") if name.strip()}
    if not chosen or chosen - set(WORKLOADS):
        parser.error(f"--workloads: choose from {','.join(WORKLOADS)} (got {args.workloads!r})")
    # Always in this order: create grows BenchItem, which would change what query scans.
    args.workload_names = [name for name in WORKLOADS if name in chosen]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(
        name="rest",
        title="REST benchmark: ParseQL vs Parse Server 9.10.0",
        args=args,
        workloads=args.workload_names,
        bench_server=bench_server,
        settings={"seeded_objects": OWNERS + ITEMS, "workloads": args.workload_names},
        description=f"{ITEMS} seeded BenchItem objects",
    )


if __name__ == "__main__":
    sys.exit(main())
