"""Records the GraphQL schema Parse Server 9.10 generates for the sample classes.

python -m tests.graphql.record_sdl --base-url http://127.0.0.1:1341 [--out tests/graphql/golden]

Resets the peer to a fresh database (see ``runner.reset_database``), creates ``SAMPLE_CLASSES`` through
``POST /parse/schemas`` with the master key, runs the full introspection query as master and writes

* ``parse-9.10-introspection.json``: the raw answer (``{"data": {"__schema": …}}``), descriptions,
  default values and deprecations included, in the server's own order;
* ``parse-9.10.graphql``: ``print_schema(build_client_schema(...))`` of it (graphql-core).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from graphql import build_client_schema, get_introspection_query, print_schema

from tests.graphql.runner import GRAPHQL_PATH, MASTER_HEADERS, create_classes, reset_database
from tests.graphql.sample_classes import SAMPLE_CLASSES

GOLDEN = Path(__file__).parent / "golden"
SDL_FILE = "parse-9.10.graphql"
INTROSPECTION_FILE = "parse-9.10-introspection.json"

# everything graphql-js 16 (the peer's) can answer
INTROSPECTION_QUERY = get_introspection_query(
    descriptions=True,
    specified_by_url=True,
    directive_is_repeatable=True,
    schema_description=True,
    input_value_deprecation=True,
)


async def introspect(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.post(
        GRAPHQL_PATH,
        headers={**MASTER_HEADERS, "Content-Type": "application/json"},
        json={"query": INTROSPECTION_QUERY, "operationName": "IntrospectionQuery"},
    )
    answer.raise_for_status()
    result = answer.json()
    if result.get("errors"):
        raise SystemExit(f"introspection failed: {result['errors']}")
    return dict(result)


async def record(base_url: str, out: Path) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        await reset_database(client)
        await create_classes(client, SAMPLE_CLASSES)
        result = await introspect(client)
    write(out, result)


def write(out: Path, result: dict[str, Any]) -> None:
    schema = build_client_schema(result["data"])
    out.mkdir(parents=True, exist_ok=True)
    (out / INTROSPECTION_FILE).write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / SDL_FILE).write_text(print_schema(schema) + "\n", encoding="utf-8")
    types = result["data"]["__schema"]["types"]
    print(f"{SDL_FILE}: {len(types)} types; {INTROSPECTION_FILE} written to {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:1341", help="server root, without /parse")
    parser.add_argument("--out", type=Path, default=GOLDEN, help="folder for the golden files")
    args = parser.parse_args()
    asyncio.run(record(args.base_url, args.out))


if __name__ == "__main__":
    main()
