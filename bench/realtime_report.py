"""What a realtime run measured (`Case`, `Phase`, `CaseResult`) and how it is printed: tables, ratios, the aims.

bench/realtime.py runs the cases; this module only holds and prints their results.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.report import SERVER_LABELS


@dataclass(frozen=True)
class Case:
    """N subscribers over M rooms: each write to a room reaches N / M of them."""

    name: str
    subscribers: int
    queries: int

    @property
    def fanout(self) -> int:
        return self.subscribers // self.queries


@dataclass
class Phase:
    """One stream of writes and what the subscribers got from it."""

    name: str
    target_rate: float | None
    seconds: float
    writes: int = 0
    write_errors: int = 0
    first_write_error: str | None = None
    write_rate: float = 0.0
    expected: int = 0
    events: int = 0
    events_in_window: int = 0
    missing: int = 0
    duplicates: int = 0
    wrong: int = 0
    first_wrong: str | None = None
    disconnects: int = 0
    errors: int = 0
    first_disconnect: str | None = None
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    drain_seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # seconds over the write stream and its drain
    cpu_seconds: float = 0.0  # how long the CPU meters ran

    @property
    def events_per_second(self) -> float:
        return self.events_in_window / self.seconds if self.seconds else math.nan

    def cores(self, meter: str) -> float:
        return self.cpu.get(meter, math.nan) / self.cpu_seconds if self.cpu_seconds else math.nan

    def cpu_us_per_event(self, meter: str) -> float:
        return self.cpu[meter] * 1e6 / self.events if self.events and meter in self.cpu else math.nan

    @property
    def kept_up(self) -> bool:
        """Every event arrived, with a p99 under a second, at (nearly) the asked write rate."""
        rate_ok = self.target_rate is None or self.write_rate >= 0.9 * self.target_rate
        faults = self.missing or self.wrong or self.errors or self.disconnects or self.write_errors
        return rate_ok and not faults and self.p99_ms < 1000


@dataclass
class CaseResult:
    case: Case
    server: str
    skipped: str | None = None
    ready: int = 0
    failed: int = 0
    first_failure: str | None = None
    subscribe_seconds: float = math.nan
    rss_before: int = 0
    rss_after: int = 0
    phases: list[Phase] = field(default_factory=list)
    stopped_because: str = ""

    @property
    def kib_per_subscriber(self) -> float:
        return (self.rss_after - self.rss_before) / 1024 / self.ready if self.ready else math.nan

    @property
    def steady(self) -> Phase | None:
        return next((p for p in self.phases if p.name == "steady"), None)

    @property
    def sustained(self) -> float:
        """Events per second of the fastest phase that kept up."""
        return max((p.events_per_second for p in self.phases if p.kept_up), default=math.nan)

    @property
    def peak(self) -> float:
        return max((p.events_per_second for p in self.phases), default=math.nan)


def why_behind(phase: Phase) -> str:
    reasons = []
    if phase.target_rate and phase.write_rate < 0.9 * phase.target_rate:
        reasons.append(f"writes {phase.write_rate:.0f}/s of {phase.target_rate:g}/s asked")
    if phase.p99_ms >= 1000:
        reasons.append(f"p99 {phase.p99_ms:,.0f} ms")
    for count, what in (
        (phase.missing, "events missing"),
        (phase.wrong, "wrong events"),
        (phase.errors, "errors"),
        (phase.disconnects, "disconnects"),
        (phase.write_errors, "write errors"),
    ):
        if count:
            reasons.append(f"{count} {what}")
    return f"behind at {phase.name}: " + ", ".join(reasons)


# --- the report -----------------------------------------------------------------------------


def _cell(value: float, digits: int = 1) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def _table(rows: Sequence[Sequence[str]], names: int = 3) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        cells = [c.ljust(w) if i < names else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_results(results: Sequence[CaseResult]) -> None:
    rows: list[tuple[str, ...]] = [
        ("case", "server", "", "subscribed", "failed", "seconds", "RSS before MiB", "RSS after MiB", "KiB/sub")
    ]
    notes = []
    for r in results:
        label = SERVER_LABELS.get(r.server, r.server)
        rows.append(
            (
                r.case.name,
                label,
                "",
                str(r.ready),
                str(r.failed),
                _cell(r.subscribe_seconds),
                _cell(r.rss_before / 2**20),
                _cell(r.rss_after / 2**20),
                _cell(r.kib_per_subscriber),
            )
        )
        if r.first_failure:
            notes.append(f"{r.case.name} on {label}: first failure to subscribe: {r.first_failure}")
        if r.skipped:
            notes.append(f"{r.case.name} on {label}: skipped: {r.skipped}")
    print("Subscribing (one websocket and one subscription per subscriber)")
    _table(rows)
    for note in notes:
        print(f"  {note}")
    print()

    header: tuple[str, ...] = (
        "case",
        "server",
        "writes",
        "writes/s",
        "events/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "missing",
        "wrong",
        "errors",
        "disc.",
        "server cores",
        "server ms/write",
        "server us/event",
        "db cores",
        "clients cores",
        "clients us/event",
        "other cores",
    )
    rows = [header]
    notes.clear()
    for r in results:
        label = SERVER_LABELS.get(r.server, r.server)
        for p in r.phases:
            ours = sum(p.cpu.get(m, 0.0) for m in ("server", "database", "clients", "writer"))
            other = max(0.0, p.cpu.get("machine", 0.0) - ours) / p.cpu_seconds if p.cpu_seconds else math.nan
            rows.append(
                (
                    r.case.name,
                    label,
                    p.name,
                    _cell(p.write_rate),
                    _cell(p.events_per_second, 0),
                    _cell(p.p50_ms),
                    _cell(p.p99_ms),
                    _cell(p.max_ms),
                    str(p.missing),
                    str(p.wrong),
                    str(p.errors),
                    str(p.disconnects),
                    _cell(p.cores("server"), 2),
                    _cell(p.cpu["server"] * 1000 / p.writes if p.writes else math.nan, 2),
                    _cell(p.cpu_us_per_event("server"), 1),
                    _cell(p.cores("database"), 2),
                    _cell(p.cores("clients"), 2),
                    _cell(p.cpu_us_per_event("clients"), 1),
                    _cell(other, 2),
                )
            )
            for what, text in (
                ("first wrong event or error", p.first_wrong),
                ("first disconnect", p.first_disconnect),
                ("first write error", p.first_write_error),
            ):
                if text:
                    notes.append(f"{r.case.name} {p.name} on {label}: {what}: {text}")
        if r.phases:
            notes.append(f"{r.case.name} on {label}: rates stopped: {r.stopped_because}")
    print("Writes and events (steady: --rate for --duration; then doubling rates for --step-duration each)")
    _table(rows)
    for note in notes:
        print(f"  {note}")
    print("  events/s: events received inside the phase's write window, per second; latency: receive - send of the")
    print("  write, over every event of the phase; cores: CPU seconds from the first write to the end of the drain,")
    print("  per second; us/event: CPU per delivered event; disc.: sockets the server closed")
    print()


def print_ratios(results: Sequence[CaseResult]) -> None:
    by_key = {(r.case.name, r.server): r for r in results if r.phases}
    rows = [("case", "sustained events/s", "peak events/s", "steady p99", "server us/event (steady)", "KiB/sub")]
    for case in dict.fromkeys(r.case.name for r in results):
        ours, theirs = by_key.get((case, "parseql")), by_key.get((case, "parse"))
        if ours is None or theirs is None or ours.steady is None or theirs.steady is None:
            continue
        rows.append(
            (
                case,
                _ratio(ours.sustained, theirs.sustained),
                _ratio(ours.peak, theirs.peak),
                _ratio(ours.steady.p99_ms, theirs.steady.p99_ms),
                _ratio(ours.steady.cpu_us_per_event("server"), theirs.steady.cpu_us_per_event("server")),
                _ratio(ours.kib_per_subscriber, theirs.kib_per_subscriber),
            )
        )
    if len(rows) == 1:
        print("ratios ParseQL/Parse: none (both servers are needed)")
    else:
        print("ratios ParseQL/Parse (events/s: higher is better; latency, CPU and memory: lower is better)")
        _table(rows, names=1)
    print()
    rows = [("case", "server", "", "sustained events/s", "peak events/s", "stopped because")]
    for r in results:
        if r.phases:
            label = SERVER_LABELS.get(r.server, r.server)
            rows.append((r.case.name, label, "", _cell(r.sustained, 0), _cell(r.peak, 0), r.stopped_because))
    if len(rows) > 1:
        print("capacity (sustained: the fastest phase with every event delivered, p99 < 1 s, writes on time)")
        _table(rows)
        print()


def _ratio(ours: float, theirs: float) -> str:
    if math.isnan(ours) or math.isnan(theirs) or theirs == 0:
        return "-"
    return f"{ours / theirs:.2f}x"


def print_aims(results: Sequence[CaseResult]) -> None:
    """The issue's aims, each with what this run measured."""
    parseql = [r for r in results if r.server == "parseql"]
    if not parseql:
        return
    print("aims (ParseQL)")
    biggest = max(parseql, key=lambda r: r.ready)
    print(
        f"  10,000 subscribers on one instance: {biggest.ready} subscribed ({biggest.failed} failed) in case "
        f"{biggest.case.name}: {'met' if biggest.ready >= 10_000 else 'not shown by this run'}"
    )
    hot = [r for r in parseql if r.case.fanout >= 1000 and r.steady is not None]
    for r in hot:
        assert r.steady is not None
        verdict = "met" if r.steady.p99_ms < 200 and not r.steady.missing else "missed"
        print(
            f"  a write fanned out to {r.case.fanout} subscribers, p99 < 200 ms: p99 {r.steady.p99_ms:.1f} ms at "
            f"{r.steady.write_rate:.1f} writes/s, {r.steady.missing} missing: {verdict}"
        )
    peers = {r.case.name: r for r in results if r.server == "parse"}
    for r in parseql:
        peer = peers.get(r.case.name)
        if peer is None or not r.phases or not peer.phases:
            continue
        ratio = r.peak / peer.peak if peer.peak else math.nan
        if ratio >= 2:
            verdict = "met"
        elif r.stopped_because.startswith("--max-rate"):
            verdict = "not shown: ParseQL kept up with every rate asked (raise --max-rate)"
        else:
            verdict = "missed"
        print(
            f"  2x the peer's events/s ({r.case.name}): peak {r.peak:,.0f} vs {peer.peak:,.0f} ({ratio:.2f}x), "
            f"sustained {r.sustained:,.0f} vs {peer.sustained:,.0f}: {verdict}"
        )
    print()


def as_json(result: CaseResult) -> dict[str, Any]:
    document = dataclasses.asdict(result)
    document["kib_per_subscriber"] = result.kib_per_subscriber
    document["sustained_events_per_second"] = result.sustained
    document["peak_events_per_second"] = result.peak
    for phase, row in zip(result.phases, document["phases"], strict=True):
        row["events_per_second"] = phase.events_per_second
        row["kept_up"] = phase.kept_up
    cleaned: dict[str, Any] = json.loads(json.dumps(document, default=str).replace("NaN", "null"))
    return cleaned


def print_header(
    title: str, machine_info: dict[str, Any], clients: int, versions: dict[str, str], settings: str
) -> None:
    m = machine_info
    print(f"# {title}")
    print(
        f"machine: {m['nproc']} CPUs, {m['cpu_model']}, {m['memory_gib']} GiB, Linux {m['kernel']}, "
        f"load average at start {m['load_average_at_start']}"
    )
    print(
        f"note: {clients} subscriber processes and the writer (Python {m['client_python']}), the server and its "
        f"database share these {m['nproc']} CPUs; nothing is pinned"
    )
    for name, version in versions.items():
        print(f"{name}: {version}")
    print(f"settings: {settings}")
    print()
