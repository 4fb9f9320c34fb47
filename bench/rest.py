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
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlencode

if __package__ in (None, ""):  # run as a file: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    ITEMS,
    OWNERS,
    PAGE,
    THRESHOLDS,
    Seeded,
    Workload,
    json_of,
    parse_arguments,
    run_benchmark,
    seed,
    server_bench,
)
from bench.load import Client, Response, build_request
from bench.servers import Endpoint

# Always in this order: create grows BenchItem, which would change what query scans.
WORKLOADS = ("get", "query", "create")


def rest_workloads(endpoint: Endpoint, item_ids: Sequence[str]) -> dict[str, Workload]:
    """The three workloads, each a table of prebuilt requests so the client does no per-request JSON work."""
    headers, base = endpoint.headers(), f"{endpoint.rest_path}/classes/BenchItem"

    gets = [build_request("GET", f"{base}/{object_id}", headers) for object_id in item_ids]

    def check_get(response: Response) -> str | None:
        body, error = json_of(response, 200)
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
        body, error = json_of(response, 200)
        if error or not isinstance(body, dict):
            return error or f"not an object: {body!r}"
        results = body.get("results")
        scores = [item.get("score") for item in results if isinstance(item, dict)] if results else []
        if not isinstance(results, list) or scores != list(range(ITEMS - 1, ITEMS - 1 - PAGE, -1)):
            return f"expected the {PAGE} highest scores in order, got {scores}"
        return None

    create = build_request("POST", base, headers, {"name": "created", "score": -1})

    def check_create(response: Response) -> str | None:
        body, error = json_of(response, 201)
        if error or not isinstance(body, dict):
            return error or f"not an object: {body!r}"
        return None if body.get("objectId") else f"no objectId in {body!r}"

    return {
        "get": Workload("get", lambda rng: rng.choice(gets), gets[0], check_get),
        "query": Workload("query", lambda rng: rng.choice(queries), probe_query, check_query),
        "create": Workload("create", lambda rng: create, create, check_create),
    }


async def seed_rest(client: Client, endpoint: Endpoint, names: Sequence[str]) -> Seeded:
    """The BenchOwner and BenchItem objects, through the server's own /parse/batch."""
    _, item_ids = await seed(client, endpoint.rest_path)
    return Seeded(OWNERS + ITEMS, rest_workloads(endpoint, item_ids))


bench_server = server_bench(seed_rest)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return parse_arguments("python bench/rest.py", __doc__.split("\n\n")[0], WORKLOADS, argv)


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
