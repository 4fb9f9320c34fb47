"""The realtime bench's subscriber process: many LiveQuery websockets, one subscription each, every event checked
and timed.

    python -m bench.wsclient     (started by bench/realtime.py; it speaks JSON lines on stdin and stdout)

The first stdin line says where to connect and what to subscribe: `{"host", "port", "path", "app_id",
"class_name", "subscriptions": [[request_id, room], …], "connect_concurrency"}`. Once every socket is
connected and subscribed (or failed), one line reports it. Then each command line gets one answer line:
`{"cmd": "count", "phase": p}` (events so far), `{"cmd": "report", "phase": p}` (the phase's tally, then
forgotten) and `{"cmd": "quit"}`.

Each socket is an `asyncio.Protocol` driving websockets' sans-I/O `ClientProtocol`: no task per socket
and no per-message await, so one process can follow thousands of sockets cheaply. The clock is
`time.monotonic()`, which on Linux is one clock for every process, so the writer's `sentAt` and the
receive time here can be subtracted.
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

try:
    from orjson import loads
except ImportError:  # the standard library's parser is slower, but right
    from json import loads  # type: ignore[assignment]

try:
    import uvloop
except ImportError:
    uvloop = None  # type: ignore[assignment]

LATENCY_BUCKET = 10_000  # latency histogram buckets per second: 0.1 ms
RECEIVE_BUCKET = 100  # receive-time buckets per second: 10 ms


class Tally:
    """What one phase's events looked like at this process."""

    def __init__(self) -> None:
        self.events = 0
        self.latency: dict[int, int] = {}
        self.received_at: dict[int, int] = {}
        self.seqs: dict[int, list[Any]] = {}  # seq -> [times received, objectId]
        self.wrong = 0
        self.first_wrong: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "latency": self.latency,
            "received_at": self.received_at,
            "seqs": self.seqs,
            "wrong": self.wrong,
            "first_wrong": self.first_wrong,
        }


class Worker:
    """The sockets of this process and what they received, by phase."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.class_name: str = config["class_name"]
        self.tallies: dict[Any, Tally] = {}
        self.sockets: list[Subscriber] = []
        self.errors = 0
        self.first_error: str | None = None
        self.disconnects = 0
        self.first_disconnect: str | None = None

    def tally(self, phase: Any) -> Tally:
        tally = self.tallies.get(phase)
        if tally is None:
            tally = self.tallies[phase] = Tally()
        return tally

    def error(self, text: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or text

    def event(self, subscriber: Subscriber, message: dict[str, Any], now: float) -> None:
        obj = message.get("object")
        phase = obj.get("phase") if isinstance(obj, dict) else None
        tally = self.tally(phase)
        problem = None
        if message.get("op") != "create":
            problem = f"op {message.get('op')!r}, expected 'create'"
        elif message.get("requestId") != subscriber.request_id:
            problem = f"requestId {message.get('requestId')!r} on the socket subscribed as {subscriber.request_id}"
        elif not isinstance(obj, dict) or obj.get("className") != self.class_name:
            problem = f"not a {self.class_name}: {obj!r}"
        elif obj.get("room") != subscriber.room:
            problem = f"room {obj.get('room')!r} on a socket following {subscriber.room!r}"
        elif not isinstance(obj.get("seq"), int) or not isinstance(obj.get("sentAt"), float | int):
            problem = f"no seq or sentAt: {obj!r}"
        elif not obj.get("objectId"):
            problem = f"no objectId: {obj!r}"
        if problem is not None or not isinstance(obj, dict):
            tally.wrong += 1
            tally.first_wrong = tally.first_wrong or f"{problem} (message {str(message)[:300]})"
            return
        tally.events += 1
        bucket = int((now - obj["sentAt"]) * LATENCY_BUCKET)
        tally.latency[bucket] = tally.latency.get(bucket, 0) + 1
        at = int(now * RECEIVE_BUCKET)
        tally.received_at[at] = tally.received_at.get(at, 0) + 1
        seen = tally.seqs.get(obj["seq"])
        if seen is None:
            tally.seqs[obj["seq"]] = [1, obj["objectId"]]
        else:
            seen[0] += 1
            if seen[1] != obj["objectId"]:
                tally.wrong += 1
                tally.first_wrong = tally.first_wrong or f"seq {obj['seq']} came as {seen[1]} and {obj['objectId']}"


class Subscriber(asyncio.Protocol):
    """One websocket: handshake, LiveQuery `connect`, one `subscribe`, then events to the worker."""

    def __init__(self, worker: Worker, request_id: int, room: str) -> None:
        self.worker, self.request_id, self.room = worker, request_id, room
        config = worker.config
        uri = f"ws://{config['host']}:{config['port']}{config['path']}"
        self.ws = ClientProtocol(parse_uri(uri), max_size=2**22)  # no extensions: no compression either side
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def _flush(self) -> None:
        if self.transport is not None:
            for data in self.ws.data_to_send():
                if data:
                    self.transport.write(data)
                else:
                    self.transport.write_eof() if self.transport.can_write_eof() else self.transport.close()

    def _send(self, message: dict[str, Any]) -> None:
        self.ws.send_text(json.dumps(message).encode())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                if event.opcode is Opcode.TEXT:
                    self._message(loads(event.data), now)
                elif event.opcode is Opcode.CLOSE:
                    self._lost(f"closed by the server: {self.ws.close_code} {self.ws.close_reason!r}")
            elif isinstance(event, Response):
                if self.ws.handshake_exc is not None:
                    self._fail(f"handshake: {self.ws.handshake_exc}")
                else:
                    self._send({"op": "connect", "applicationId": self.worker.config["app_id"]})
        self._flush()  # pongs, close frames

    def _message(self, message: Any, now: float) -> None:
        op = message.get("op") if isinstance(message, dict) else None
        if op == "create" or op in ("update", "enter", "leave", "delete"):
            self.worker.event(self, message, now)
        elif op == "connected":
            where = {"room": self.room}
            query = {"className": self.worker.class_name, "where": where}
            self._send({"op": "subscribe", "requestId": self.request_id, "query": query})
        elif op == "subscribed":
            if message.get("requestId") != self.request_id:
                self._fail(f"subscribed {message.get('requestId')!r}, expected {self.request_id}")
            elif not self.ready.done():
                self.ready.set_result(None)
        elif op == "error":
            self._fail(f"error: {str(message)[:300]}")
        else:
            self._fail(f"unexpected message: {str(message)[:300]}")

    def _fail(self, text: str) -> None:
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(text))
        else:
            self.worker.error(text)

    def _lost(self, text: str) -> None:
        if self.closing:
            return
        self.closing = True
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(text))
        else:
            self.worker.disconnects += 1
            self.worker.first_disconnect = self.worker.first_disconnect or text

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(f"connection lost: {exc or 'closed'}")

    def close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.abort()


async def _open(worker: Worker, request_id: int, room: str, gate: asyncio.Semaphore) -> str | None:
    config = worker.config
    loop = asyncio.get_running_loop()
    async with gate:
        try:
            _, subscriber = await asyncio.wait_for(
                loop.create_connection(lambda: Subscriber(worker, request_id, room), config["host"], config["port"]),
                30,
            )
            worker.sockets.append(subscriber)
            await asyncio.wait_for(subscriber.ready, 30)
        except (OSError, RuntimeError, TimeoutError) as error:
            return f"{type(error).__name__}: {error}"
    return None


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _answer(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    config = json.loads(await reader.readline())
    worker = Worker(config)
    gate = asyncio.Semaphore(config.get("connect_concurrency", 32))
    started = time.monotonic()
    failures = await asyncio.gather(*(_open(worker, rid, room, gate) for rid, room in config["subscriptions"]))
    failed = [failure for failure in failures if failure is not None]
    failed_ids = [rid for (rid, _), failure in zip(config["subscriptions"], failures, strict=True) if failure]
    _answer(
        {
            "ready": len(failures) - len(failed),
            "failed": len(failed),
            "failed_ids": failed_ids,
            "first_failure": failed[0] if failed else None,
            "seconds": time.monotonic() - started,
        }
    )
    while line := await reader.readline():
        command = json.loads(line)
        if command["cmd"] == "count":
            tally = worker.tallies.get(command["phase"])
            _answer({"events": tally.events + tally.wrong if tally else 0, "disconnects": worker.disconnects})
        elif command["cmd"] == "report":
            tally = worker.tallies.pop(command["phase"], None) or Tally()
            _answer(
                {
                    **tally.as_json(),
                    "cpu_seconds": _cpu_seconds(),
                    "errors": worker.errors,
                    "first_error": worker.first_error,
                    "disconnects": worker.disconnects,
                    "first_disconnect": worker.first_disconnect,
                }
            )
        elif command["cmd"] == "quit":
            break
    for subscriber in worker.sockets:
        subscriber.close()
    _answer({"closed": len(worker.sockets)})


if __name__ == "__main__":
    if uvloop is not None:
        uvloop.run(main())
    else:
        asyncio.run(main())
