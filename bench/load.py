"""A closed-loop HTTP/1.1 load generator: C keep-alive connections, a warm-up, then a measured window.

It speaks HTTP over raw asyncio streams rather than through an HTTP library, so that the client
spends as little of the machine's CPU as it can: on a small machine the load generator, the
server and the database compete for the same cores, and `LoadResult.cpu` shows how much each took.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import resource
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

RequestFactory = Callable[[random.Random], bytes]
CpuMeter = Callable[[], float]
# Meters of the whole machine rather than of one process.
MACHINE_METERS = frozenset({"machine", "steal"})


class ProtocolError(ValueError):
    """The server answered something that is not HTTP/1.1 as we read it."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes
    keep_alive: bool = True

    def json(self) -> Any:
        return json.loads(self.body)


# Finds what is wrong with a 2xx answer (None when nothing is), for protocols that answer errors with 200.
AnswerCheck = Callable[[Response], str | None]


def build_request(
    method: str, path: str, headers: Mapping[str, str], body: Any = None, *, host: str = "127.0.0.1"
) -> bytes:
    """The bytes of one request; built once per distinct request, then sent as they are."""
    payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
    lines = [
        f"{method} {path} HTTP/1.1",
        f"Host: {host}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


class HttpConnection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(self, raw: bytes) -> Response:
        self._writer.write(raw)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise ProtocolError(f"bad status line {status_line!r}")
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        keep_alive = headers.get("connection", "").lower() != "close" and parts[0] == "HTTP/1.1"
        return Response(int(parts[1]), body, keep_alive)

    async def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size = int((await self._reader.readline()).split(b";")[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers are expected
                return b"".join(chunks)
            chunks.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def close(self) -> None:
        self._writer.close()


class Client:
    """A sequential client for setup work (seeding, checks) that reuses one connection."""

    def __init__(self, host: str, port: int, headers: Mapping[str, str]) -> None:
        self.host, self.port, self.headers = host, port, dict(headers)
        self._connection: HttpConnection | None = None

    def build(self, method: str, path: str, body: Any = None) -> bytes:
        return build_request(method, path, self.headers, body, host=self.host)

    async def send(self, raw: bytes) -> Response:
        reused = self._connection is not None
        try:
            response = await self._send(raw)
        except (OSError, EOFError):
            if not reused:
                raise
            # The server may close an idle keep-alive connection (Node after 5 s): retry once on a new one.
            response = await self._send(raw)
        if not response.keep_alive:
            self.close()
        return response

    async def _send(self, raw: bytes) -> Response:
        if self._connection is None:
            self._connection = await HttpConnection.open(self.host, self.port)
        try:
            return await self._connection.request(raw)
        except BaseException:
            self.close()
            raise

    async def request(self, method: str, path: str, body: Any = None) -> Response:
        return await self.send(self.build(method, path, body))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def client_cpu_seconds() -> float:
    """CPU of this process: the load generator's own cost."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _machine_ticks() -> list[int]:
    # The first line of /proc/stat: user nice system idle iowait irq softirq steal …, for all CPUs.
    with open("/proc/stat") as stat:
        return [int(value) for value in stat.readline().split()[1:]]


def machine_cpu_seconds() -> float:
    """Busy CPU of the whole machine (all processes), so a report can show what else was running."""
    ticks = _machine_ticks()
    return sum(ticks[i] for i in (0, 1, 2, 5, 6)) / _CLOCK_TICKS


def steal_cpu_seconds() -> float:
    """CPU time the hypervisor gave to other guests while ours wanted it: noise no process shows."""
    return _machine_ticks()[7] / _CLOCK_TICKS


@dataclass
class LoadResult:
    """What one measured window saw. `cpu` holds seconds per meter: processes, then `MACHINE_METERS`."""

    requests: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float]
    first_error: str | None = None

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def latency_ms(self, quantile: float) -> float:
        """Nearest-rank quantile of the successful requests' latencies."""
        if not self.latencies:
            return float("nan")
        index = min(len(self.latencies) - 1, max(0, round(quantile * len(self.latencies)) - 1))
        return self.latencies[index] * 1000

    @property
    def other_cores(self) -> float:
        """Average CPUs busy with anything but the measured processes during the window."""
        if "machine" not in self.cpu or not self.seconds:
            return float("nan")
        ours = sum(seconds for meter, seconds in self.cpu.items() if meter not in MACHINE_METERS)
        return max(0.0, self.cpu["machine"] - ours) / self.seconds

    @property
    def noise_cores(self) -> float:
        return sum(value for value in (self.other_cores, self.steal_cores) if not math.isnan(value))

    @property
    def steal_cores(self) -> float:
        """Average CPUs taken away by the hypervisor during the window."""
        return self.cpu["steal"] / self.seconds if "steal" in self.cpu and self.seconds else float("nan")

    def cpu_ms_per_request(self, meter: str) -> float:
        return self.cpu[meter] * 1000 / self.requests if self.requests and meter in self.cpu else float("nan")


@dataclass
class _Window:
    """Shared by the connection loops: whether completions count yet, and what they counted."""

    recording: bool = False
    done: bool = False
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    first_error: str | None = None

    def record(self, seconds: float, error: str | None) -> None:
        if not self.recording:
            return
        if error is None:
            self.requests += 1
            self.latencies.append(seconds)
        else:
            self.errors += 1
            self.first_error = self.first_error or error


async def _connection_loop(
    host: str,
    port: int,
    next_request: RequestFactory,
    rng: random.Random,
    window: _Window,
    error_in: AnswerCheck | None,
) -> None:
    connection: HttpConnection | None = None
    try:
        while not window.done:
            if connection is None:
                try:
                    connection = await HttpConnection.open(host, port)
                except OSError as error:
                    window.record(0.0, f"connect: {error}")
                    await asyncio.sleep(0.05)  # a dead server must not turn this into a busy loop
                    continue
            raw = next_request(rng)
            started = time.perf_counter()
            try:
                response = await connection.request(raw)
            except (OSError, ValueError, EOFError, asyncio.LimitOverrunError) as error:
                window.record(time.perf_counter() - started, f"{type(error).__name__}: {error}")
                connection.close()
                connection = None
                continue
            elapsed = time.perf_counter() - started
            if not 200 <= response.status < 300:
                window.record(elapsed, f"HTTP {response.status}: {response.body[:200]!r}")
            else:
                window.record(elapsed, error_in(response) if error_in is not None else None)
            if not response.keep_alive:
                connection.close()
                connection = None
    finally:
        if connection is not None:
            connection.close()


async def run_load(
    host: str,
    port: int,
    next_request: RequestFactory,
    *,
    concurrency: int,
    duration: float,
    warmup: float,
    meters: Mapping[str, CpuMeter],
    seed: int = 0,
    error_in: AnswerCheck | None = None,
) -> LoadResult:
    """Keep `concurrency` requests in flight; count those completing inside the measured window.

    The connections run without a pause from warm-up into the window, so the window starts hot,
    and CPU meters are read exactly at its edges. A 2xx answer in which `error_in` finds a problem
    counts as an error.
    """
    window = _Window()
    meters = {
        "client": client_cpu_seconds,
        "machine": machine_cpu_seconds,
        "steal": steal_cpu_seconds,
        **meters,
    }
    loops = [
        asyncio.create_task(
            _connection_loop(host, port, next_request, random.Random(seed * 7919 + i), window, error_in)
        )
        for i in range(concurrency)
    ]
    try:
        await asyncio.sleep(warmup)
        cpu_before = {name: meter() for name, meter in meters.items()}
        started = time.perf_counter()
        window.recording = True
        await asyncio.sleep(duration)
        window.recording = False
        seconds = time.perf_counter() - started
        cpu = {name: meter() - cpu_before[name] for name, meter in meters.items()}
        window.done = True
        # Requests in flight finish (uncounted) so the server is idle before the next workload.
        _, pending = await asyncio.wait(loops, timeout=30)
    finally:
        for loop in loops:
            loop.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
    if pending:
        window.first_error = window.first_error or f"{len(pending)} requests still unanswered 30 s after the window"
    window.latencies.sort()
    return LoadResult(window.requests, window.errors, seconds, window.latencies, cpu, window.first_error)
