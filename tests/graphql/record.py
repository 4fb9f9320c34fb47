"""Records golden transcripts of the GraphQL scenarios from a running Parse Server peer.

python -m tests.graphql.record --base-url http://127.0.0.1:1341 [--only NAME ...] [--out DIR]

Before each scenario the peer's database is reset to a fresh one (``runner.reset_database``), so every
scenario can be recorded alone and in any order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import httpx

from tests.compat.runner import ScenarioError
from tests.graphql.runner import reset_database, run_scenario
from tests.graphql.scenarios import SCENARIOS

GOLDEN = Path(__file__).parent / "golden"


def write_golden(out: Path, name: str, transcript: list[dict[str, Any]]) -> None:
    """Key order is kept as the server sent it: it is part of what the transcript pins."""
    golden = {"scenario": name, "transcript": transcript}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(golden, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


async def record(base_url: str, only: list[str], out: Path) -> None:
    selected = [s for s in SCENARIOS if not only or s["name"] in only]
    missing = set(only) - {s["name"] for s in selected}
    if missing:
        raise SystemExit(f"unknown scenario(s): {', '.join(sorted(missing))}")
    failed = []
    # a fresh connection per request: the peer drops some keep-alive connections after error answers
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        for scenario in selected:
            try:
                await reset_database(client)
                transcript = await run_scenario(client, scenario)
            except (ScenarioError, httpx.HTTPError) as error:
                print(f"FAILED {scenario['name']}: {error}")
                failed.append(scenario["name"])
                continue
            write_golden(out, scenario["name"], transcript)
            print(f"{scenario['name']}: {len(transcript)} steps")
    if failed:
        raise SystemExit(f"not recorded: {', '.join(failed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:1341", help="server root, without /graphql")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="record just this scenario")
    parser.add_argument("--out", type=Path, default=GOLDEN, help="folder for the golden files")
    args = parser.parse_args()
    asyncio.run(record(args.base_url, args.only, args.out))


if __name__ == "__main__":
    main()
