"""Runs GraphQL compatibility scenarios over HTTP and normalizes their transcripts.

Builds on the REST kit (``tests.compat.runner``): same step format, placeholders, saved values and
normalization of objectIds, dates and session tokens, plus what GraphQL answers need:

* Relay global ids (base64 of ``"<ParseClassName>:<objectId>"``) are decoded and written back as
  ``<gid:GameScore:<id1>>``; their objectId takes part in the ``<idN>`` numbering like any other.
  Relay cursors (base64 of ``arrayconnection:<n>``) are kept as they are: they are deterministic.
* the server's own root URL (file urls) becomes ``<server>``, so a golden replays on any port;
* the random 32-hex prefix Parse gives stored file names becomes ``<hex>``;
* ``extensions.stacktrace`` (Apollo adds it outside NODE_ENV=production) keeps only its message lines,
  never the ``    at …`` frames, and ``compare`` ignores it unless asked (``stacktrace=True``).

Each transcript entry also carries ``"graphql"``: the document and the (normalized) variables sent,
so a golden can be read without the scenario next to it. A step may send a multipart GraphQL upload
(``"multipart": {"operations": {...}, "map": {...}, "files": {"0": [name, text, content_type]}}``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import html
import json
import re
from datetime import UTC
from typing import Any

import httpx

from tests.compat.runner import (
    APP_ID,
    MASTER_KEY,
    Normalizer,
    ScenarioError,
    build_content,
    build_headers,
    encode_query,
    extract,
    parse_body,
    parse_instant,
    request_strings,
    short,
    substitute,
    unorder,
)
from tests.compat.runner import compare as compare_rest

Json = Any

GLOBAL_ID_TEXT = re.compile(r"^(_?[A-Za-z][A-Za-z0-9_]*):([A-Za-z0-9_-]+)$")
BASE64 = re.compile(r"^[A-Za-z0-9+/]{4,}={0,2}$")
EMBEDDED_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{8,}={0,2}(?![A-Za-z0-9+/=])")
FILE_PREFIX = re.compile(r"[0-9a-f]{32}_")
STACK_FRAME = re.compile(r"^\s+at\s")
EMBEDDED_ID = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{10}(?![A-Za-z0-9])")
EMBEDDED_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z)?")
HTML_ERROR = re.compile(r"<pre>(.*?)(<br>|</pre>)", re.S)

GRAPHQL_PATH = "/graphql"
MASTER_HEADERS = {"X-Parse-Application-Id": APP_ID, "X-Parse-Master-Key": MASTER_KEY}


def global_id(class_name: str, object_id: str) -> str:
    """The Relay global id Parse gives an object: base64 of ``ClassName:objectId``."""
    return base64.b64encode(f"{class_name}:{object_id}".encode()).decode()


def decode_global_id(value: str) -> tuple[str, str] | None:
    """``(className, objectId)`` when ``value`` is a Relay global id, else None (cursors excluded)."""
    if len(value) % 4 or not BASE64.match(value):
        return None
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    match = GLOBAL_ID_TEXT.match(text)
    if not match or match.group(1) == "arrayconnection":
        return None
    return match.group(1), match.group(2)


class GraphQLNormalizer(Normalizer):
    """The REST normalizer plus global ids, the server URL, file-name prefixes and stack frames."""

    def __init__(self, literals: set[str], server_url: str = "") -> None:
        super().__init__(literals)
        self.server_url = server_url.rstrip("/")
        # ids and dates written inside a GraphQL document count as sent too, and so come back verbatim
        self.literals = literals | {token for literal in literals for token in EMBEDDED_ID.findall(literal)}
        for literal in literals:
            for found in EMBEDDED_DATE.findall(literal):
                instant = parse_instant(found if "T" in found else f"{found}T00:00:00Z")
                if instant is not None:
                    self.instants.add(instant if instant.tzinfo else instant.replace(tzinfo=UTC))

    def register_any(self, value: Json) -> None:
        """Register a saved value: an objectId, or the objectId inside a global id."""
        if isinstance(value, str):
            decoded = decode_global_id(value)
            self.register(decoded[1] if decoded else value)

    def collect(self, body: Json) -> None:
        if isinstance(body, list):
            for item in body:
                self.collect(item)
        elif isinstance(body, dict):
            for key, item in body.items():
                if key == "objectId":
                    self.register(item)
                self.collect(item)
        elif isinstance(body, str):
            decoded = decode_global_id(body)
            if decoded:
                self.register(decoded[1])

    def global_id_marker(self, value: str) -> str | None:
        decoded = decode_global_id(value)
        if not decoded:
            return None
        class_name, object_id = decoded
        return f"<gid:{class_name}:{self.ids.get(object_id, object_id)}>"

    def text(self, value: str) -> str:
        marker = self.global_id_marker(value)
        if marker:
            return marker
        # global ids inside a longer text (a document sent, an error message)
        value = EMBEDDED_BASE64.sub(lambda m: self.global_id_marker(m.group(0)) or m.group(0), value)
        if self.server_url and self.server_url in value and value not in self.literals:
            value = value.replace(self.server_url, "<server>")
        if FILE_PREFIX.search(value) and value not in self.literals:
            value = FILE_PREFIX.sub("<hex>_", value)
        return super().text(value)

    def value(self, value: Json) -> Json:
        if isinstance(value, str) and value.startswith("<!DOCTYPE html>"):
            # Express's default error page (a body the JSON parser refused); its stack names the peer's files
            found = HTML_ERROR.search(value)
            return f"<html error page: {html.unescape(found.group(1)) if found else '?'}>"
        if isinstance(value, dict) and isinstance(value.get("stacktrace"), list):
            value = {**value, "stacktrace": [line for line in value["stacktrace"] if not STACK_FRAME.match(str(line))]}
        return super().value(value)


GID_PLACEHOLDER = re.compile(r"\{gid:([A-Za-z_][A-Za-z0-9_]*):([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_gids(value: Json, saved: dict[str, Json]) -> Json:
    """Replace ``{gid:ClassName:name}`` by the global id of class ``ClassName`` and the saved objectId ``name``.

    Lets a scenario build a global id the server never returned (another class's, for instance).
    """
    if isinstance(value, str):
        return GID_PLACEHOLDER.sub(
            lambda m: global_id(m.group(1), str(saved[m.group(2)])) if m.group(2) in saved else m.group(0), value
        )
    if isinstance(value, list):
        return [expand_gids(item, saved) for item in value]
    if isinstance(value, dict):
        return {key: expand_gids(item, saved) for key, item in value.items()}
    return value


def graphql_request(step: dict[str, Json], saved: dict[str, Json]) -> dict[str, Json] | None:
    """The GraphQL operation a step sends (POST body, GET query string or multipart operations)."""
    if "multipart" in step:
        operations = substitute(step["multipart"]["operations"], saved)
        return {key: operations[key] for key in ("query", "variables", "operationName") if key in operations}
    source: Json = None
    if step["method"] == "GET":
        source = substitute(step.get("query", {}), saved)
    elif isinstance(step.get("body"), dict):
        source = substitute(step["body"], saved)
    if not isinstance(source, dict) or "query" not in source:
        return None
    found = {key: source[key] for key in ("query", "variables", "operationName") if key in source}
    if isinstance(found.get("variables"), str):
        with contextlib.suppress(ValueError):
            found["variables"] = json.loads(found["variables"])
    return found


def multipart_parts(step: dict[str, Json], saved: dict[str, Json]) -> tuple[dict[str, str], dict[str, Json]]:
    spec = step["multipart"]
    data = {
        "operations": json.dumps(substitute(spec["operations"], saved)),
        "map": json.dumps(spec["map"]),
    }
    files = {key: (name, text.encode(), content_type) for key, (name, text, content_type) in spec["files"].items()}
    return data, files


async def send(client: httpx.AsyncClient, step: dict[str, Json], saved: dict[str, Json], path: str) -> httpx.Response:
    headers = build_headers(step, saved)
    params = encode_query(substitute(step.get("query", {}), saved))
    if "multipart" in step:
        headers.pop("Content-Type", None)
        data, files = multipart_parts(step, saved)
        return await client.request(step["method"], path, params=params, headers=headers, data=data, files=files)
    return await client.request(
        step["method"], path, params=params, headers=headers, content=build_content(step, saved)
    )


async def run_scenario(client: httpx.AsyncClient, scenario: dict[str, Json]) -> list[dict[str, Json]]:
    """Execute a scenario's steps in order and return its normalized transcript."""
    steps = scenario["steps"]
    normalizer = GraphQLNormalizer(request_strings(steps), str(client.base_url))
    saved: dict[str, Json] = {}
    transcript: list[dict[str, Json]] = []
    for number, step in enumerate(steps, start=1):
        where = f"{scenario['name']} step {number} ({step['method']} {step['path']})"
        step = expand_gids(step, saved)
        path = substitute(step["path"], saved)
        try:
            response = await send(client, step, saved, path)
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
            normalizer.register_any(saved[name])
        normalized = normalizer.value(body)
        for unordered_path in step.get("unordered", []):
            normalized = unorder(normalized, unordered_path.split("."))
        entry: dict[str, Json] = {"request": normalizer.text(f"{step['method']} {path}")}
        operation = graphql_request(step, saved)
        if operation is not None:
            entry["graphql"] = normalizer.value(operation)
        entry["status"] = response.status_code
        entry["body"] = normalized
        if location is not None:
            entry["location"] = normalizer.location(location)
        if "response_headers" in step:
            entry["headers"] = {name: response.headers.get(name) for name in step["response_headers"]}
        transcript.append(entry)
    return transcript


# --- a clean database between scenarios ---------------------------------------------------------

# the classes a fresh Parse Server 9.10 database has, with the fields they start with
BASE_FIELDS = {
    "_User": {
        *("objectId", "createdAt", "updatedAt", "ACL"),
        *("username", "password", "email", "emailVerified", "authData"),
    },
    "_Role": {"objectId", "createdAt", "updatedAt", "ACL", "name", "users", "roles"},
}
DEFAULT_CLP = {
    "find": {"*": True},
    "count": {"*": True},
    "get": {"*": True},
    "create": {"*": True},
    "update": {"*": True},
    "delete": {"*": True},
    "addField": {"*": True},
    "protectedFields": {"*": []},
}


async def reset_database(client: httpx.AsyncClient) -> None:
    """Bring the peer back to a fresh database: no objects, no user classes, system classes as created.

    Empties every class; drops every user class and every system class but ``_User``/``_Role`` (they
    reappear when written to); removes added ``_User``/``_Role`` fields and restores their default
    class-level permissions; clears the global config. The GraphQL schema follows on the next request.
    """
    response = await client.get("/parse/schemas", headers=MASTER_HEADERS)
    response.raise_for_status()
    for schema in response.json()["results"]:
        name = schema["className"]
        await client.delete(f"/parse/purge/{name}", headers=MASTER_HEADERS)
        if name in BASE_FIELDS:
            extra = {field: {"__op": "Delete"} for field in schema["fields"] if field not in BASE_FIELDS[name]}
            body: dict[str, Json] = {"classLevelPermissions": DEFAULT_CLP}
            if extra:
                body["fields"] = extra
            answer = await client.put(f"/parse/schemas/{name}", headers=MASTER_HEADERS, json=body)
            answer.raise_for_status()
        else:
            answer = await client.delete(f"/parse/schemas/{name}", headers=MASTER_HEADERS)
            if answer.status_code != 200:
                raise ScenarioError(f"cannot drop {name}: {answer.status_code} {answer.text}")
    config = await client.get("/parse/config", headers=MASTER_HEADERS)
    params = config.json().get("params", {}) if config.status_code == 200 else {}
    if params:
        await client.put(
            "/parse/config",
            headers=MASTER_HEADERS,
            json={"params": {key: {"__op": "Delete"} for key in params}},
        )


async def create_classes(client: httpx.AsyncClient, definitions: list[dict[str, Json]]) -> None:
    for definition in definitions:
        answer = await client.post(f"/parse/schemas/{definition['className']}", headers=MASTER_HEADERS, json=definition)
        if answer.status_code != 200:
            raise ScenarioError(f"cannot create {definition['className']}: {answer.status_code} {answer.text}")


# --- comparing ------------------------------------------------------------------------------------


def without_stacktraces(value: Json) -> Json:
    if isinstance(value, list):
        return [without_stacktraces(item) for item in value]
    if isinstance(value, dict):
        return {key: without_stacktraces(item) for key, item in value.items() if key != "stacktrace"}
    return value


def compare(expected: list[dict[str, Json]], actual: list[dict[str, Json]], stacktrace: bool = False) -> list[str]:
    """Differences between two normalized GraphQL transcripts.

    As ``tests.compat.runner.compare`` (status, body values and key order, location, listed headers),
    plus the operation sent; ``extensions.stacktrace`` is ignored unless ``stacktrace`` is true.
    """
    if not stacktrace:
        expected = [{**entry, "body": without_stacktraces(entry["body"])} for entry in expected]
        actual = [{**entry, "body": without_stacktraces(entry["body"])} for entry in actual]
    problems = compare_rest(expected, actual)
    for index, (want, got) in enumerate(zip(expected, actual, strict=False), start=1):
        if want.get("graphql") != got.get("graphql"):
            problems.append(f"step {index} ({want['request']}): the operation sent differs from the golden's")
    return problems
