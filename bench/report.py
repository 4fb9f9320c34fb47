"""Prints what a benchmark measured: the machine, the versions, a row per workload and server, ratios."""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.load import MACHINE_METERS, LoadResult

SERVER_LABELS = {"parseql": "ParseQL", "parse": "Parse"}
NOISY_CORES = 0.25


@dataclass(frozen=True, slots=True)
class Measurement:
    """One workload against one server: a result, or the reason there is none."""

    workload: str
    server: str
    result: LoadResult | None = None
    skipped: str | None = None

    def as_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"workload": self.workload, "server": self.server}
        if self.result is None:
            return {**row, "skipped": self.skipped}
        r = self.result
        return {
            **row,
            "requests": r.requests,
            "seconds": round(r.seconds, 3),
            "requests_per_second": _round(r.requests_per_second),
            "p50_ms": _round(r.latency_ms(0.50)),
            "p99_ms": _round(r.latency_ms(0.99)),
            "errors": r.errors,
            "first_error": r.first_error,
            "cpu_ms_per_request": {
                meter: _round(r.cpu_ms_per_request(meter)) for meter in sorted(r.cpu) if meter not in MACHINE_METERS
            },
            "other_cores": _round(r.other_cores),
            "steal_cores": _round(r.steal_cores),
        }


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 3)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return float("nan")


def machine() -> dict[str, Any]:
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = []
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(_memory_gib(), 1),
        "kernel": platform.release(),
        "load_average_at_start": " ".join(load),
        "client_python": platform.python_version(),
    }


def print_header(title: str, machine_info: Mapping[str, Any], versions: Mapping[str, str], settings: str) -> None:
    m = machine_info
    print(f"# {title}")
    print(
        f"machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"load average at start {m['load_average_at_start']}"
    )
    print(
        f"note: load generator (Python {m['client_python']}, one asyncio process), servers and database "
        f"share these {m['nproc']} CPUs; nothing is pinned"
    )
    for name, version in versions.items():
        print(f"{name}: {version}")
    print(f"settings: {settings}")
    print()


def _cell(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def print_results(measurements: Sequence[Measurement]) -> None:
    header: tuple[str, ...] = (
        "workload",
        "server",
        "req/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "server CPU ms/req",
        "db CPU ms/req",
        "client CPU ms/req",
        "other cores",
        "steal cores",
    )
    rows: list[tuple[str, ...]] = [header]
    notes = []
    # A server that did not start skips every workload for one reason: say it once.
    skips: dict[tuple[str, str], list[str]] = {}
    for m in measurements:
        label = SERVER_LABELS.get(m.server, m.server)
        r = m.result
        if r is None:
            rows.append((m.workload, label, *("-",) * (len(header) - 2)))
            skips.setdefault((label, m.skipped or "?"), []).append(m.workload)
            continue
        rows.append(
            (
                m.workload,
                label,
                _cell(r.requests_per_second, 1),
                _cell(r.latency_ms(0.50)),
                _cell(r.latency_ms(0.99)),
                str(r.errors),
                _cell(r.cpu_ms_per_request("server"), 3),
                _cell(r.cpu_ms_per_request("database"), 3),
                _cell(r.cpu_ms_per_request("client"), 3),
                _cell(r.other_cores),
                _cell(r.steal_cores),
            )
        )
        if r.first_error:
            notes.append(f"{m.workload} on {label}: first error: {r.first_error}")
    notes += [f"{label} ({', '.join(names)}): skipped: {reason}" for (label, reason), names in skips.items()]
    _print_table(rows)
    for note in notes:
        print(f"  {note}")
    print("  other cores: CPUs busy with processes outside this benchmark during the window;")
    print("  steal cores: CPUs the hypervisor gave to other virtual machines meanwhile")
    noisy = [m for m in measurements if m.result is not None and m.result.noise_cores >= NOISY_CORES]
    if noisy:
        print(
            f"  warning: other processes or machines took {NOISY_CORES:g}+ CPUs during {len(noisy)} "
            "of the windows; their throughput is not comparable (CPU per request suffers less)"
        )
    print()


def print_ratios(measurements: Sequence[Measurement]) -> None:
    by_key = {(m.workload, m.server): m.result for m in measurements if m.result is not None}
    workloads = list(dict.fromkeys(m.workload for m in measurements))
    rows: list[tuple[str, ...]] = [("workload", "throughput", "server CPU/req", "db CPU/req")]
    for workload in workloads:
        ours, theirs = by_key.get((workload, "parseql")), by_key.get((workload, "parse"))
        if ours is None or theirs is None:
            continue
        rows.append(
            (
                workload,
                _ratio(ours.requests_per_second, theirs.requests_per_second),
                _ratio(ours.cpu_ms_per_request("server"), theirs.cpu_ms_per_request("server")),
                _ratio(ours.cpu_ms_per_request("database"), theirs.cpu_ms_per_request("database")),
            )
        )
    if len(rows) == 1:
        print("ratios ParseQL/Parse: none (both servers are needed)")
        print()
        return
    print("ratios ParseQL/Parse (throughput: higher is better; CPU per request: lower is better)")
    _print_table(rows)
    print()


def _ratio(ours: float, theirs: float) -> str:
    if math.isnan(ours) or math.isnan(theirs) or theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}x"


def _print_table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        # The first two columns are names, the rest numbers.
        cells = [cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def write_json(
    path: Path,
    *,
    benchmark: str,
    machine_info: Mapping[str, Any],
    versions: Mapping[str, str],
    settings: Mapping[str, Any],
    measurements: Sequence[Measurement],
    skipped: Mapping[str, str],
) -> None:
    document = {
        "benchmark": benchmark,
        "machine": dict(machine_info),
        "versions": dict(versions),
        "settings": dict(settings),
        "skipped_servers": dict(skipped),
        "results": [m.as_json() for m in measurements],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
