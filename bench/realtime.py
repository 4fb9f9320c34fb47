"""Realtime workloads against ParseQL and Parse Server 9.10.0: N LiveQuery subscribers over M queries, writes
through REST at a fixed rate, then at doubling rates until a server falls behind.

    .venv/bin/python bench/realtime.py [--only parseql|parse] [--subscribers 1000,10000] [--queries 100]
                                       [--fanout 1000] [--rate 5] [--duration 10] [--step-duration 5]
                                       [--clients 2] [--json out.json]    (--help for the rest)

Each case opens N websockets (one subscription each, `{"room": "r<k>"}` for k < M) from `--clients`
subscriber processes (bench/wsclient.py), then writes `BenchLive` objects through `POST /parse/classes`,
round robin over the rooms, each carrying its send time; every event is checked (its requestId, class, room
and objectId) and timed at the subscriber. See the Realtime section of bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import resource
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.servers import ROOT

try:
    import websockets  # noqa: F401  (the subscribers need it; it comes with the project's .venv)
except ImportError:
    _VENV_PYTHON = ROOT / ".venv/bin/python"
    if _VENV_PYTHON.is_file() and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])
    sys.exit("bench/realtime.py needs the websockets package: run it with the project's .venv/bin/python")

from bench.load import HttpConnection, build_request, client_cpu_seconds, machine_cpu_seconds, steal_cpu_seconds
from bench.realtime_report import (
    Case,
    CaseResult,
    Phase,
    as_json,
    print_aims,
    print_header,
    print_ratios,
    print_results,
    why_behind,
)
from bench.report import machine
from bench.servers import (
    PARSEQL_PORT,
    SERVER_NAMES,
    Cluster,
    Endpoint,
    Process,
    ServerUnavailableError,
    log,
    stop_on_sigterm,
    tree_cpu_seconds,
)
from bench.wsclient import LATENCY_BUCKET, RECEIVE_BUCKET

CLASS_NAME = "BenchLive"
DRAIN_QUIET = 3.0  # seconds without a new event after the last write before a phase's tally is taken
DRAIN_LIMIT = 30.0


# --- the server's memory --------------------------------------------------------------------


def tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and its live descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        children.setdefault(int(fields.get("PPid", "0").strip()), []).append(int(entry.name))
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, ()))
    return total


def raise_file_limit(needed: int) -> int:
    """Raise our soft limit on open files to the hard one (the servers and subscribers inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        log(f"bench: warning: open files limited to {soft}, {needed} are needed; raise `ulimit -Hn`")
    return soft


# --- the subscribers ------------------------------------------------------------------------


class Subscribers:
    """The subscriber processes of one case (bench/wsclient.py) and their sockets."""

    def __init__(self, processes: list[asyncio.subprocess.Process], rooms: dict[str, int]) -> None:
        self.processes = processes
        self.rooms = rooms  # subscribers per room

    @classmethod
    async def start(cls, endpoint: Endpoint, case: Case, clients: int) -> tuple[Subscribers, dict[str, Any]]:
        plan = [(i + 1, f"r{i % case.queries}") for i in range(case.subscribers)]
        rooms: dict[str, int] = {}
        processes = []
        for part in range(min(clients, case.subscribers)):
            share = plan[part::clients]
            config = {
                "host": endpoint.host,
                "port": endpoint.port,
                "path": endpoint.live_query_path,
                "app_id": endpoint.app_id,
                "class_name": CLASS_NAME,
                "subscriptions": share,
                "connect_concurrency": 32,
            }
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.wsclient",
                cwd=ROOT,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**28,
            )
            assert process.stdin is not None
            process.stdin.write(json.dumps(config).encode() + b"\n")
            processes.append(process)
        subscribers = cls(processes, rooms)
        answers = await asyncio.gather(*(subscribers._read(p, 900) for p in processes))
        ready = {
            "ready": sum(a["ready"] for a in answers),
            "failed": sum(a["failed"] for a in answers),
            "first_failure": next((a["first_failure"] for a in answers if a["first_failure"]), None),
        }
        # Only sockets that subscribed are expected to receive; the failures are reported as such.
        failed_ids = {request_id for answer in answers for request_id in answer["failed_ids"]}
        for request_id, room in plan:
            if request_id not in failed_ids:
                rooms[room] = rooms.get(room, 0) + 1
        return subscribers, ready

    async def _read(self, process: asyncio.subprocess.Process, seconds: float) -> dict[str, Any]:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), seconds)
        if not line:
            raise RuntimeError(f"subscriber process {process.pid} exited with {await process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def ask(self, command: dict[str, Any], seconds: float = 120) -> list[dict[str, Any]]:
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(json.dumps(command).encode() + b"\n")
        return list(await asyncio.gather(*(self._read(p, seconds) for p in self.processes)))

    def cpu_seconds(self) -> float:
        return sum(tree_cpu_seconds(p.pid) for p in self.processes if p.returncode is None)

    async def stop(self) -> None:
        with contextlib.suppress(RuntimeError, TimeoutError, OSError, ValueError):
            await self.ask({"cmd": "quit"}, seconds=30)
        for process in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


# --- the writes -----------------------------------------------------------------------------


@dataclass
class WriteLog:
    rooms: dict[int, str] = field(default_factory=dict)  # seq -> room, for writes answered 201
    object_ids: dict[int, str] = field(default_factory=dict)
    errors: int = 0
    first_error: str | None = None
    last_sent: float = 0.0


class Writer:
    """Writes `BenchLive` objects through REST: open loop at a fixed rate over a pool of keep-alive connections."""

    def __init__(self, endpoint: Endpoint, pool_size: int) -> None:
        self.endpoint = endpoint
        self.pool_size = pool_size
        self.seq = 0
        self.path = f"{endpoint.rest_path}/classes/{CLASS_NAME}"

    async def stream(self, phase: str, rooms: Sequence[str], rate: float, duration: float) -> WriteLog:
        writes = WriteLog()
        # Last in, first out: a few connections stay busy rather than all going idle (Node closes idle ones after 5 s).
        pool: asyncio.LifoQueue[HttpConnection | None] = asyncio.LifoQueue()
        for _ in range(self.pool_size):
            pool.put_nowait(None)  # opened on first use
        tasks = []
        count = max(1, round(rate * duration))
        started = time.monotonic()
        for i in range(count):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            connection = await pool.get()  # all busy: the stream falls behind, which write_rate shows
            self.seq += 1
            tasks.append(asyncio.create_task(self._write(connection, pool, phase, self.seq, rooms, writes)))
        await asyncio.gather(*tasks)
        while not pool.empty():
            connection = pool.get_nowait()
            if connection is not None:
                connection.close()
        return writes

    async def _write(
        self,
        connection: HttpConnection | None,
        pool: asyncio.LifoQueue[HttpConnection | None],
        phase: str,
        seq: int,
        rooms: Sequence[str],
        writes: WriteLog,
    ) -> None:
        room = rooms[seq % len(rooms)]
        try:
            response = None
            while response is None:
                reused = connection is not None
                if connection is None:
                    connection = await HttpConnection.open(self.endpoint.host, self.endpoint.port)
                sent = time.monotonic()
                body = {"room": room, "seq": seq, "phase": phase, "sentAt": sent}
                raw = build_request("POST", self.path, self.endpoint.headers(), body, host=self.endpoint.host)
                writes.last_sent = max(writes.last_sent, sent)
                try:
                    response = await connection.request(raw)
                except (OSError, EOFError):
                    connection.close()
                    connection = None
                    if not reused:
                        raise
                    # The server closed an idle keep-alive connection (Node after 5 s): again, on a new one.
            if response.status == 201:
                writes.rooms[seq] = room
                writes.object_ids[seq] = response.json()["objectId"]
            else:
                writes.errors += 1
                writes.first_error = writes.first_error or f"HTTP {response.status}: {response.body[:200]!r}"
            if not response.keep_alive and connection is not None:
                connection.close()
                connection = None
        except (OSError, ValueError, EOFError, KeyError) as error:
            writes.errors += 1
            writes.first_error = writes.first_error or f"{type(error).__name__}: {error}"
            if connection is not None:
                connection.close()
            connection = None
        pool.put_nowait(connection)


# --- one phase ------------------------------------------------------------------------------


def _quantile_ms(histogram: dict[int, int], total: int, quantile: float) -> float:
    if not total:
        return math.nan
    rank, seen = max(1, round(quantile * total)), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return (bucket + 1) * 1000 / LATENCY_BUCKET  # the bucket's upper edge
    return math.nan


async def run_phase(
    name: str,
    rate: float,
    duration: float,
    case: Case,
    writer: Writer,
    subscribers: Subscribers,
    meters: dict[str, Any],
    before: dict[str, int],
) -> Phase:
    phase = Phase(name, rate, duration)
    rooms = [f"r{k}" for k in range(case.queries)]
    cpu_before = {meter: read() for meter, read in meters.items()}
    started = time.monotonic()
    writes = await writer.stream(name, rooms, rate, duration)
    writing = max(writes.last_sent - started, 1e-9)
    expected = sum(subscribers.rooms.get(room, 0) for room in writes.rooms.values())
    # Drain: wait until every expected event arrived, or none arrived for DRAIN_QUIET seconds.
    drain_started, last_total, last_change = time.monotonic(), -1, time.monotonic()
    while time.monotonic() - drain_started < DRAIN_LIMIT:
        total = sum(answer["events"] for answer in await subscribers.ask({"cmd": "count", "phase": name}))
        if total >= expected:
            break
        if total != last_total:
            last_total, last_change = total, time.monotonic()
        elif time.monotonic() - last_change > DRAIN_QUIET:
            break
        await asyncio.sleep(0.2)
    ended = time.monotonic()
    phase.cpu = {meter: read() - cpu_before[meter] for meter, read in meters.items()}
    phase.cpu_seconds = ended - started
    phase.drain_seconds = ended - drain_started
    reports = await subscribers.ask({"cmd": "report", "phase": name})

    phase.writes, phase.write_errors, phase.first_write_error = len(writes.rooms), writes.errors, writes.first_error
    count = phase.writes + phase.write_errors
    phase.write_rate = count / (writing + 1 / rate) if count > 1 else rate
    phase.expected = expected
    histogram: dict[int, int] = {}
    window_end = int((started + duration) * RECEIVE_BUCKET)
    seqs: dict[int, list[Any]] = {}
    for report in reports:
        phase.events += report["events"]
        phase.wrong += report["wrong"]
        phase.first_wrong = phase.first_wrong or report["first_wrong"] or report["first_error"]
        for bucket, n in report["latency"].items():
            histogram[int(bucket)] = histogram.get(int(bucket), 0) + n
        phase.events_in_window += sum(n for at, n in report["received_at"].items() if int(at) < window_end)
        for seq, (n, object_id) in report["seqs"].items():
            seen = seqs.setdefault(int(seq), [0, object_id])
            seen[0] += n
            if seen[1] != object_id:
                phase.wrong += 1
                phase.first_wrong = phase.first_wrong or f"seq {seq} came as {seen[1]} and {object_id}"
    # Sockets closed and protocol errors are counted since the subscribers started: this phase's are the increase.
    phase.disconnects = sum(report["disconnects"] for report in reports) - before["disconnects"]
    phase.errors = sum(report["errors"] for report in reports) - before["errors"]
    before["disconnects"] += phase.disconnects
    before["errors"] += phase.errors
    if phase.disconnects:
        phase.first_disconnect = next((r["first_disconnect"] for r in reports if r["first_disconnect"]), None)
    if phase.errors:
        phase.first_wrong = phase.first_wrong or next((r["first_error"] for r in reports if r["first_error"]), None)
    for seq, (n, object_id) in seqs.items():
        if seq not in writes.rooms:
            phase.wrong += n
            phase.first_wrong = phase.first_wrong or f"seq {seq}: an event for a write that was not answered 201"
        elif writes.object_ids[seq] != object_id:
            phase.wrong += n
            said = writes.object_ids[seq]
            phase.first_wrong = phase.first_wrong or f"seq {seq}: objectId {object_id}, REST said {said}"
    for seq, room in writes.rooms.items():
        got = seqs.get(seq, [0])[0]
        want = subscribers.rooms.get(room, 0)
        phase.missing += max(0, want - got)
        phase.duplicates += max(0, got - want)
    phase.p50_ms = _quantile_ms(histogram, phase.events, 0.50)
    phase.p99_ms = _quantile_ms(histogram, phase.events, 0.99)
    phase.max_ms = _quantile_ms(histogram, phase.events, 1.0)
    return phase


# --- one server -----------------------------------------------------------------------------


async def run_case(endpoint: Endpoint, database: Process, case: Case, args: argparse.Namespace) -> CaseResult:
    result = CaseResult(case, endpoint.name)
    label = f"{endpoint.name}: {case.name}"
    result.rss_before = tree_rss_bytes(endpoint.process.pid)
    log(f"{label}: opening {case.subscribers} subscribers from {args.clients} processes")
    started = time.monotonic()
    subscribers, ready = await Subscribers.start(endpoint, case, args.clients)
    try:
        result.subscribe_seconds = time.monotonic() - started
        result.ready, result.failed, result.first_failure = ready["ready"], ready["failed"], ready["first_failure"]
        log(f"{label}: {result.ready} subscribed, {result.failed} failed, in {result.subscribe_seconds:.1f} s")
        await asyncio.sleep(2)  # let the server settle before reading its memory
        result.rss_after = tree_rss_bytes(endpoint.process.pid)
        if not result.ready:
            result.skipped = f"no subscriber could subscribe: {result.first_failure}"
            return result
        meters = {
            "server": endpoint.process.cpu_seconds,
            "database": database.cpu_seconds,
            "clients": subscribers.cpu_seconds,
            "writer": client_cpu_seconds,
            "machine": machine_cpu_seconds,
            "steal": steal_cpu_seconds,
        }
        writer = Writer(endpoint, args.writers)
        before = {"disconnects": 0, "errors": 0}
        rates = [("steady", args.rate, args.duration)]
        rate = args.rate * 2
        while rate <= args.max_rate:
            rates.append((f"{rate:g}/s", rate, args.step_duration))
            rate *= 2
        for name, rate, duration in rates:
            log(f"{label}: {name}: {rate:g} writes/s for {duration:g} s, {rate * case.fanout:g} events/s offered")
            phase = await run_phase(name, rate, duration, case, writer, subscribers, meters, before)
            result.phases.append(phase)
            log(
                f"{label}: {name}: {phase.events_per_second:.0f} events/s, p50 {phase.p50_ms:.1f} ms, "
                f"p99 {phase.p99_ms:.1f} ms, {phase.missing} missing, {phase.wrong} wrong, "
                f"{phase.disconnects} disconnects, server {phase.cores('server'):.2f} cores, "
                f"clients {phase.cores('clients'):.2f} cores"
            )
            if name != "steady" and not phase.kept_up:
                result.stopped_because = why_behind(phase)
                break
        else:
            result.stopped_because = f"--max-rate {args.max_rate:g} reached"
    finally:
        await subscribers.stop()
    await asyncio.sleep(2)  # the server drops the closed sockets before the next case
    return result


async def bench_server(
    endpoint: Endpoint, database: Process, cases: Sequence[Case], args: argparse.Namespace
) -> list[CaseResult]:
    # The class exists before anyone subscribes to it.
    connection = await HttpConnection.open(endpoint.host, endpoint.port)
    try:
        body = {"room": "none", "seq": 0, "phase": "setup", "sentAt": 0.0}
        path = f"{endpoint.rest_path}/classes/{CLASS_NAME}"
        response = await connection.request(build_request("POST", path, endpoint.headers(), body))
    finally:
        connection.close()
    if response.status != 201:
        reason = f"creating {CLASS_NAME} answered {response.status}: {response.body[:200]!r}"
        return [CaseResult(case, endpoint.name, skipped=reason) for case in cases]
    return [await run_case(endpoint, database, case, args) for case in cases]


# --- the command line -----------------------------------------------------------------------


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python bench/realtime.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--only", choices=SERVER_NAMES, help="run against one server only")
    parser.add_argument("--subscribers", type=_numbers, default=[1000, 10000], help="subscribers per case")
    parser.add_argument("--queries", type=int, default=100, help="distinct queries (rooms) the subscribers share")
    parser.add_argument(
        "--fanout", type=int, default=1000, help="also a case of this many subscribers on one query (0: none)"
    )
    parser.add_argument("--rate", type=float, default=5.0, help="writes per second in the steady phase")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of the steady phase")
    parser.add_argument("--max-rate", type=float, default=1280.0, help="the doubling rates stop here (0: no steps)")
    parser.add_argument("--step-duration", type=float, default=5.0, help="seconds of each doubled rate")
    parser.add_argument("--clients", type=int, default=2, help="subscriber processes")
    parser.add_argument("--writers", type=int, default=32, help="keep-alive connections the writes may use at once")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--parseql-port", type=int, default=PARSEQL_PORT)
    parser.add_argument("--parse-port", type=int, default=0, help="default: a free port")
    parser.add_argument("--database-port", type=int, default=0, help="default: a free port")
    args = parser.parse_args(argv)
    if not args.subscribers or min(args.subscribers) < 1 or args.queries < 1 or args.fanout < 0:
        parser.error("--subscribers and --queries must be >= 1, --fanout >= 0")
    if args.rate <= 0 or args.duration <= 0 or args.step_duration <= 0 or args.clients < 1 or args.writers < 1:
        parser.error("--rate, --duration, --step-duration, --clients and --writers must be positive")
    return args


def cases_of(args: argparse.Namespace) -> list[Case]:
    cases = [Case(f"{n}/{min(args.queries, n)}", n, min(args.queries, n)) for n in args.subscribers]
    if args.fanout:
        cases.append(Case(f"{args.fanout}/1", args.fanout, 1))
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cases = cases_of(args)
    limit = raise_file_limit(max(c.subscribers for c in cases) + 1000)
    servers = [args.only] if args.only else list(SERVER_NAMES)
    machine_info = machine()
    results: list[CaseResult] = []
    versions: dict[str, str] = {}
    skipped: dict[str, str] = {}
    cluster = Cluster(False, args.parseql_port, args.parse_port, args.database_port)
    try:
        with stop_on_sigterm(), cluster:
            for server in servers:
                try:
                    with cluster.serve(server) as endpoint:
                        versions[server] = endpoint.version
                        assert cluster.database is not None
                        results += asyncio.run(bench_server(endpoint, cluster.database, cases, args))
                except ServerUnavailableError as error:
                    log(f"bench: SKIPPING {server}: {error}")
                    skipped[server] = str(error)
                    results += [CaseResult(case, server, skipped=str(error)) for case in cases]
            versions["database"] = cluster.database_version
    except KeyboardInterrupt:
        log("bench: interrupted; servers stopped")
        return 130
    print_header(
        "Realtime benchmark: ParseQL LiveQuery vs Parse Server 9.10.0 LiveQuery",
        machine_info,
        args.clients,
        versions,
        f"cases {', '.join(c.name for c in cases)} (subscribers/queries); {args.clients} subscriber processes; "
        f"steady {args.rate:g} writes/s for {args.duration:g} s, then doubling up to {args.max_rate:g}/s for "
        f"{args.step_duration:g} s each; open files limit {limit}; a fresh database server for each server",
    )
    print_results(results)
    print_ratios(results)
    print_aims(results)
    if args.json:
        document = {
            "benchmark": "realtime",
            "machine": machine_info,
            "versions": versions,
            "settings": {k: v for k, v in vars(args).items() if k != "json"},
            "skipped_servers": skipped,
            "results": [as_json(r) for r in results],
        }
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
        log(f"bench: wrote {args.json}")
    return 0 if any(r.phases for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
