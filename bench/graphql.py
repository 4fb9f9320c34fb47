"""GraphQL workloads against ParseQL and Parse Server 9.10.0: get, sorted pages with and without a pointer,
create, and a 100-object page of a 10-field class.

    python bench/graphql.py [--only parseql|parse] [--workloads get,page,page_pointer,page100,create]
                            [--duration 10] [--concurrency 16] [--warmup 2] [--json out.json]
                            [--shared-database] [--public]    (--help for the rest)

Each server seeds its own database through its own /parse/batch (the same objects as bench/rest.py, plus
BenchWide for page100), then every workload is sent to its /graphql with the master key and the same client
code (without it with `--public`, as an app's users send them, which the complexity limits apply to); see
bench/README.md for what the columns mean.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (
    ITEMS,
    OWNERS,
    PAGE,
    THRESHOLDS,
    Seeded,
    Workload,
    create_in_batches,
    json_of,
    parse_arguments,
    run_benchmark,
    score_of,
    seed,
    server_bench,
)
from bench.load import Client, Response, build_request
from bench.servers import Endpoint

# Always in this order: create grows BenchItem, which would change what the pages scan.
WORKLOADS = ("get", "page", "page_pointer", "page100", "create")
WIDE = 1000
WIDE_PAGE = 100

GET = "query($id: ID!) { benchItem(id: $id) { id objectId name score } }"
PAGE_QUERY = (
    "query($min: Float) { benchItems(where: {score: {greaterThanOrEqualTo: $min}}, order: [score_DESC, name_ASC], "
    f"first: {PAGE}) {{ edges {{ node {{ objectId name score }} }} }} }}"
)
PAGE_POINTER_QUERY = PAGE_QUERY.replace("score }", "score owner { objectId name } }")
CREATE = 'mutation { createBenchItem(input: {fields: {name: "created", score: -1}}) { benchItem { objectId } } }'
# objectId and the 10 fields of BenchWide: 3 strings, 3 numbers, a boolean, a date, an array, an object.
WIDE_FIELDS = "objectId s1 s2 s3 n1 n2 n3 flag at tags { ... on Element { value } } meta"
PAGE100 = f"{{ benchWides(first: {WIDE_PAGE}, order: [n1_ASC]) {{ edges {{ node {{ {WIDE_FIELDS} }} }} }} }}"


def wide_body(index: int) -> dict[str, object]:
    """BenchWide object `index`; `n1` is a permutation of 0..WIDE-1, so `order: [n1_ASC]` has one answer."""
    return {
        "s1": f"wide-{index:04d}",
        "s2": f"The quick brown fox jumps over the lazy dog, object {index}.",
        "s3": ("red", "green", "blue")[index % 3],
        "n1": index * 7919 % WIDE,
        "n2": index * 0.25,
        "n3": -index,
        "flag": index % 2 == 0,
        "at": {"__type": "Date", "iso": f"2024-{index % 12 + 1:02d}-{index % 28 + 1:02d}T08:30:00.000Z"},
        "tags": [f"tag-{index % 5}", f"tag-{index % 7}", index % 3],
        "meta": {"rank": index, "group": f"group-{index % 10}", "active": index % 4 == 0},
    }


def graphql_request(
    endpoint: Endpoint, query: str, variables: Mapping[str, Any] | None = None, *, master: bool = True
) -> bytes:
    body: dict[str, Any] = {"query": query}
    if variables is not None:
        body["variables"] = dict(variables)
    return build_request("POST", endpoint.graphql_path, endpoint.headers(master=master), body, host=endpoint.host)


def data_of(response: Response, field: str) -> tuple[Any, str | None]:
    """`data[field]` of a GraphQL answer, or why there is none (HTTP status, errors, a missing field)."""
    body, error = json_of(response, 200)
    if error or not isinstance(body, dict):
        return None, error or f"not an object: {body!r}"
    if body.get("errors"):
        return None, f"errors: {body['errors']!r}"[:500]
    data = body.get("data")
    if not isinstance(data, dict) or data.get(field) is None:
        return None, f"no data.{field} in {body!r}"[:500]
    return data[field], None


def nodes_of(response: Response, field: str) -> tuple[list[Any], str | None]:
    """The nodes of a connection's edges."""
    connection, error = data_of(response, field)
    if error:
        return [], error
    edges = connection.get("edges") if isinstance(connection, dict) else None
    if not isinstance(edges, list):
        return [], f"no edges in {connection!r}"[:500]
    return [edge.get("node") if isinstance(edge, dict) else None for edge in edges], None


def graphql_error_in(response: Response) -> str | None:
    """Every timed answer: GraphQL reports errors with a 200, so look for them (a substring: cheap)."""
    return f"GraphQL errors: {response.body[:200]!r}" if b'"errors"' in response.body else None


def _same_value(got: Any, seeded: Any) -> bool:
    if isinstance(seeded, dict) and seeded.get("__type") == "Date":
        # A date is an ISO string in Parse's GraphQL; accept {"__type": "Date", "iso": …} too.
        return got == seeded["iso"] or (isinstance(got, dict) and got.get("iso") == seeded["iso"])
    if isinstance(seeded, list):
        elements = [item.get("value") if isinstance(item, dict) else item for item in got or ()]
        return elements == seeded
    return bool(got == seeded)


def graphql_workloads(
    endpoint: Endpoint,
    owner_ids: Sequence[str],
    item_ids: Sequence[str],
    wide_ids: Sequence[str],
    *,
    master: bool = True,
) -> dict[str, Workload]:
    """The five workloads, each a table of prebuilt requests so the client does no per-request JSON work."""
    index_of_score = {score_of(i): i for i in range(ITEMS)}
    request = functools.partial(graphql_request, master=master)

    gets = [request(endpoint, GET, {"id": object_id}) for object_id in item_ids]

    def check_get(response: Response) -> str | None:
        item, error = data_of(response, "benchItem")
        if error:
            return error
        expected = {"objectId": item_ids[0], "name": "item-0000", "score": score_of(0)}
        if {key: item.get(key) for key in expected} != expected or not item.get("id"):
            return f"expected {expected} and an id, got {item!r}"
        return None

    def check_page(with_owner: bool) -> Callable[[Response], str | None]:
        top = [index_of_score[score] for score in range(ITEMS - 1, ITEMS - 1 - PAGE, -1)]

        def check(response: Response) -> str | None:
            nodes, error = nodes_of(response, "benchItems")
            if error:
                return error
            got = [(n.get("objectId"), n.get("name"), n.get("score")) for n in nodes if isinstance(n, dict)]
            expected = [(item_ids[i], f"item-{i:04d}", score_of(i)) for i in top]
            if got != expected:
                return f"expected the {PAGE} highest scores in order, got {[score for _, _, score in got]}"
            if with_owner:
                owners = [n.get("owner") for n in nodes]
                want = [{"objectId": owner_ids[i % OWNERS], "name": f"owner-{i % OWNERS}"} for i in top]
                if owners != want:
                    return f"wrong owners: expected {want[:2]}…, got {owners[:2]}…"
            return None

        return check

    # A threshold leaves at least 100 matches, so every page is full; the probe's is the rest bench's.
    pages = [request(endpoint, PAGE_QUERY, {"min": n}) for n in THRESHOLDS]
    pointer_pages = [request(endpoint, PAGE_POINTER_QUERY, {"min": n}) for n in THRESHOLDS]
    probe_page = request(endpoint, PAGE_QUERY, {"min": ITEMS // 2})
    probe_pointer_page = request(endpoint, PAGE_POINTER_QUERY, {"min": ITEMS // 2})

    create = request(endpoint, CREATE)

    def check_create(response: Response) -> str | None:
        payload, error = data_of(response, "createBenchItem")
        if error:
            return error
        item = payload.get("benchItem") if isinstance(payload, dict) else None
        return None if isinstance(item, dict) and item.get("objectId") else f"no benchItem.objectId in {payload!r}"

    page100 = request(endpoint, PAGE100)

    def check_page100(response: Response) -> str | None:
        nodes, error = nodes_of(response, "benchWides")
        if error:
            return error
        index_of_n1 = {wide_body(i)["n1"]: i for i in range(WIDE)}
        if len(nodes) != WIDE_PAGE:
            return f"expected {WIDE_PAGE} objects, got {len(nodes)}"
        for n1, node in enumerate(nodes):
            index = index_of_n1[n1]
            seeded = {"objectId": wide_ids[index], **wide_body(index)}
            if not isinstance(node, dict) or not all(_same_value(node.get(k), v) for k, v in seeded.items()):
                return f"object {n1} in n1 order: expected {seeded!r}, got {node!r}"[:600]
        return None

    return {
        "get": Workload("get", lambda rng: rng.choice(gets), gets[0], check_get, graphql_error_in),
        "page": Workload("page", lambda rng: rng.choice(pages), probe_page, check_page(False), graphql_error_in),
        "page_pointer": Workload(
            "page_pointer",
            lambda rng: rng.choice(pointer_pages),
            probe_pointer_page,
            check_page(True),
            graphql_error_in,
        ),
        "page100": Workload("page100", lambda rng: page100, page100, check_page100, graphql_error_in),
        "create": Workload("create", lambda rng: create, create, check_create, graphql_error_in),
    }


async def seed_graphql(client: Client, endpoint: Endpoint, names: Sequence[str], *, master: bool = True) -> Seeded:
    """The objects of bench/rest.py, and BenchWide's when page100 is chosen, through the server's /parse/batch;
    the workloads then ask with the master key, or without it."""
    owner_ids, item_ids = await seed(client, endpoint.rest_path)
    wide_ids: list[str] = []
    if "page100" in names:
        wide_ids = await create_in_batches(client, endpoint.rest_path, "BenchWide", [wide_body(i) for i in range(WIDE)])
    workloads = graphql_workloads(endpoint, owner_ids, item_ids, wide_ids, master=master)
    return Seeded(OWNERS + ITEMS + len(wide_ids), workloads)


bench_server = server_bench(seed_graphql)


def _public_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--public", action="store_true", help="send the workloads without the master key (the limits apply then)"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return parse_arguments("python bench/graphql.py", __doc__.split("\n\n")[0], WORKLOADS, argv, _public_argument)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    wide = WIDE if "page100" in args.workload_names else 0
    return run_benchmark(
        name="graphql",
        title="GraphQL benchmark: ParseQL vs Parse Server 9.10.0",
        args=args,
        workloads=args.workload_names,
        bench_server=server_bench(functools.partial(seed_graphql, master=not args.public)),
        settings={"seeded_objects": OWNERS + ITEMS + wide, "workloads": args.workload_names, "public": args.public},
        description=f"{ITEMS} seeded BenchItem objects" + (f" and {wide} BenchWide objects" if wide else ""),
    )


if __name__ == "__main__":
    sys.exit(main())
