"""Runs compatibility scenarios over HTTP and normalizes their transcripts so two servers compare equal.

A transcript is one entry per step::

    {"request": "POST /parse/classes/CmpA", "status": 201,
     "body": {…}, "location": "/parse/classes/CmpA/<id1>"}

plus ``"headers"`` (name → value, lower-case names) for the response headers a step lists in
``response_headers``.

Normalization replaces what a server generates and a peer cannot reproduce:

* objectIds from response bodies and Location headers, and any 10-character id saved from a
  response, become ``<id1>``, ``<id2>`` … in order of first appearance in the transcript;
* ISO timestamps that no request carried (createdAt, updatedAt, generated ``iso`` values) become ``<date>``;
* session tokens ``r:<32 hex>`` become ``<token>``;
* the Location header is reduced to its path;
* where a step lists ``unordered`` paths, the dict keys or list items there are sorted, for the
  few answers whose order the peer does not keep stable (fields of implicitly created classes,
  distinct values, unsorted aggregate groups).

Dict key order is kept throughout: key order is part of the compatibility contract.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

APP_ID = "app"
MASTER_KEY = "master"

OBJECT_ID = re.compile(r"^[A-Za-z0-9]{10}$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
SESSION_TOKEN = re.compile(r"^r:[0-9a-f]{32}$")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

Json = Any


class ScenarioError(Exception):
    """A step could not be run or its response lacked a value to save; names the scenario and step."""


# --- request building -------------------------------------------------------------------------


def substitute(value: Json, saved: dict[str, Json]) -> Json:
    """Replace ``{name}`` placeholders of saved values inside strings, recursively (keys included)."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in saved:
            return saved[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(saved[m.group(1)]) if m.group(1) in saved else m.group(0), value)
    if isinstance(value, list):
        return [substitute(item, saved) for item in value]
    if isinstance(value, dict):
        return {substitute(k, saved): substitute(v, saved) for k, v in value.items()}
    return value


def encode_query(query: dict[str, Json]) -> httpx.QueryParams:
    """Query-string pairs; dicts, lists, numbers and booleans are JSON-encoded, strings sent as they are."""
    return httpx.QueryParams(
        [(key, value if isinstance(value, str) else json.dumps(value)) for key, value in query.items()]
    )


def build_headers(step: dict[str, Json], saved: dict[str, Json]) -> dict[str, str]:
    headers: dict[str, str] = {}
    if not step.get("no_app_id"):
        headers["X-Parse-Application-Id"] = APP_ID
    headers["Content-Type"] = "application/json"
    if step.get("master"):
        headers["X-Parse-Master-Key"] = MASTER_KEY
    for name, value in substitute(step.get("headers", {}), saved).items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return headers


def build_content(step: dict[str, Json], saved: dict[str, Json]) -> bytes | None:
    if "raw_body" in step:
        return str(substitute(step["raw_body"], saved)).encode()
    if "body" in step:
        return json.dumps(substitute(step["body"], saved)).encode()
    return None


def extract(body: Json, path: str) -> Json:
    """Follow a dotted path (``results.0.objectId``) into a parsed response body."""
    value = body
    for part in path.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


# --- normalization ----------------------------------------------------------------------------


def parse_instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def request_strings(value: Json) -> set[str]:
    """Every string (keys included) a scenario's request templates contain."""
    found: set[str] = set()
    if isinstance(value, str):
        found.add(value)
    elif isinstance(value, list):
        for item in value:
            found |= request_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            found |= request_strings(item)
    return found


class Normalizer:
    """Replaces server-generated ids, dates and tokens by stable markers, one instance per transcript."""

    def __init__(self, literals: set[str]) -> None:
        self.literals = literals
        self.instants = {parse_instant(s) for s in literals if ISO_DATE.match(s)}
        self.ids: dict[str, str] = {}

    def register(self, value: Json) -> None:
        if isinstance(value, str) and OBJECT_ID.match(value) and value not in self.literals and value not in self.ids:
            self.ids[value] = f"<id{len(self.ids) + 1}>"

    def collect(self, body: Json) -> None:
        """Register the objectIds of a response body in document order."""
        if isinstance(body, list):
            for item in body:
                self.collect(item)
        elif isinstance(body, dict):
            for key, item in body.items():
                if key == "objectId":
                    self.register(item)
                self.collect(item)

    def collect_location(self, location: str | None) -> None:
        if location:
            self.register(location.rstrip("/").rsplit("/", 1)[-1])

    def text(self, value: str) -> str:
        if value in self.literals:
            return value
        if ISO_DATE.match(value) and parse_instant(value) not in self.instants:
            return "<date>"
        if SESSION_TOKEN.match(value):
            return "<token>"
        for raw, marker in self.ids.items():
            if raw in value:
                value = value.replace(raw, marker)
        return value

    def value(self, value: Json) -> Json:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        return value

    def location(self, location: str | None) -> str | None:
        return None if location is None else self.text(urlsplit(location).path)


def unorder(value: Json, path: list[str]) -> Json:
    """Sort the dict keys or list items at a dotted path (``*``: any item) where the peer's order is racy."""
    if not path:
        if isinstance(value, dict):
            return dict(sorted(value.items()))
        if isinstance(value, list):
            return sorted(value, key=lambda item: json.dumps(item, sort_keys=True))
        return value
    head, rest = path[0], path[1:]
    if isinstance(value, list):
        if head == "*":
            return [unorder(item, rest) for item in value]
        if head.isdigit() and int(head) < len(value):
            return [unorder(item, rest) if i == int(head) else item for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {key: unorder(item, rest) if head in ("*", key) else item for key, item in value.items()}
    return value


def parse_body(response: httpx.Response) -> Json:
    try:
        return response.json()
    except ValueError:
        return response.text


# --- running ----------------------------------------------------------------------------------


async def run_scenario(client: httpx.AsyncClient, scenario: dict[str, Json]) -> list[dict[str, Json]]:
    """Execute a scenario's steps in order and return its normalized transcript."""
    steps = scenario["steps"]
    normalizer = Normalizer(request_strings(steps))
    saved: dict[str, Json] = {}
    transcript: list[dict[str, Json]] = []
    for number, step in enumerate(steps, start=1):
        where = f"{scenario['name']} step {number} ({step['method']} {step['path']})"
        path = substitute(step["path"], saved)
        try:
            response = await client.request(
                step["method"],
                path,
                params=encode_query(substitute(step.get("query", {}), saved)),
                headers=build_headers(step, saved),
                content=build_content(step, saved),
            )
        except httpx.TransportError as error:
            raise ScenarioError(f"{where}: {error!r}") from error
        body = parse_body(response)
        location = response.headers.get("location")
        normalizer.collect(body)
        normalizer.collect_location(location)
        for name, json_path in step.get("save", {}).items():
            try:
                saved[name] = extract(body, json_path)
            except (KeyError, IndexError, TypeError, ValueError) as error:
                raise ScenarioError(f"{where}: cannot save {name!r} from {json_path!r} in {short(body)}") from error
            normalizer.register(saved[name])
        normalized = normalizer.value(body)
        for unordered_path in step.get("unordered", []):
            normalized = unorder(normalized, unordered_path.split("."))
        entry = {
            "request": normalizer.text(f"{step['method']} {path}"),
            "status": response.status_code,
            "body": normalized,
            "location": normalizer.location(location),
        }
        if "response_headers" in step:
            entry["headers"] = {name: response.headers.get(name) for name in step["response_headers"]}
        transcript.append(entry)
    return transcript


async def drop_user_classes(client: httpx.AsyncClient) -> None:
    """Empty and drop every non-system class, so each scenario starts from a database as good as fresh."""
    headers = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}
    response = await client.get("/parse/schemas", headers=headers)
    response.raise_for_status()
    for schema in response.json()["results"]:
        name = schema["className"]
        if not name.startswith("_"):
            await client.delete(f"/parse/purge/{name}", headers=headers)
            await client.delete(f"/parse/schemas/{name}", headers=headers)


# --- comparing --------------------------------------------------------------------------------


def compare(expected: list[dict[str, Json]], actual: list[dict[str, Json]]) -> list[str]:
    """Human-readable differences between two normalized transcripts (status, body, key order, location)."""
    problems: list[str] = []
    if len(expected) != len(actual):
        problems.append(f"transcript length: expected {len(expected)} steps, got {len(actual)}")
    for index, (want, got) in enumerate(zip(expected, actual, strict=False), start=1):
        label = f"step {index} ({want['request']})"
        if want["request"] != got["request"]:
            problems.append(f"{label}: request differs: got {got['request']}")
        if want["status"] != got["status"]:
            problems.append(f"{label}: status: expected {want['status']}, got {got['status']}")
        problems.extend(f"{label}: body{diff}" for diff in value_differences(want["body"], got["body"]))
        problems.extend(f"{label}: key order in body{diff}" for diff in order_differences(want["body"], got["body"]))
        if want.get("location") != got.get("location"):
            problems.append(f"{label}: location: expected {want.get('location')!r}, got {got.get('location')!r}")
        for name, value in want.get("headers", {}).items():
            if got.get("headers", {}).get(name) != value:
                problems.append(f"{label}: header {name}: expected {value!r}, got {got.get('headers', {}).get(name)!r}")
    return problems


def value_differences(want: Json, got: Json, at: str = "") -> list[str]:
    """Differences in values, ignoring dict key order."""
    if isinstance(want, dict) and isinstance(got, dict):
        found = [f"{at}.{key}: missing (expected {short(want[key])})" for key in want if key not in got]
        found += [f"{at}.{key}: unexpected (got {short(got[key])})" for key in got if key not in want]
        for key in want:
            if key in got:
                found += value_differences(want[key], got[key], f"{at}.{key}")
        return found
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return [f"{at}: expected {len(want)} items, got {len(got)}: expected {short(want)}, got {short(got)}"]
        found = []
        for index, (w, g) in enumerate(zip(want, got, strict=False)):
            found += value_differences(w, g, f"{at}[{index}]")
        return found
    # bool is an int subclass in Python: 1 and true must still differ
    if want != got or type(want) is not type(got):
        return [f"{at}: expected {short(want)}, got {short(got)}"]
    return []


def order_differences(want: Json, got: Json, at: str = "") -> list[str]:
    """Dicts whose shared keys come in another order."""
    found: list[str] = []
    if isinstance(want, dict) and isinstance(got, dict):
        want_keys = [key for key in want if key in got]
        got_keys = [key for key in got if key in want]
        if want_keys != got_keys:
            found.append(f"{at}: expected {want_keys}, got {got_keys}")
        for key in want_keys:
            found += order_differences(want[key], got[key], f"{at}.{key}")
    elif isinstance(want, list) and isinstance(got, list):
        for index, (w, g) in enumerate(zip(want, got, strict=False)):
            found += order_differences(w, g, f"{at}[{index}]")
    return found


def short(value: Json, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
