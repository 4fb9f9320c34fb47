"""`/graphql` over HTTP: JSON, GET and multipart requests in, Parse's GraphQL answers out.

A request is read into an operation here and handed to the executor (`execution.py`, which the websockets share);
what is HTTP's stays here: the body's forms, CORS, the statuses, and a query cancelled when its client leaves.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from typing import Any

from graphql import OperationType
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.domain.access import exempt_from_limits, reveals_schema
from app.domain.rate_limits import LimitedRequest
from app.errors import AppError, DatabaseUnavailableError, InvalidJSONError, PayloadTooLargeError
from app.transport.callers import RateCheck, authenticate, file_encoder
from app.transport.graphql.execution import Executor, Operation, RequestError, operation_from
from app.transport.graphql.request import Resolving
from app.transport.graphql.uploads import Upload
from app.transport.http import (
    CLIENT_GONE_STATUS,
    CORS_HEADERS,
    AbandonedReads,
    ClientGone,
    error_response,
    header_credentials,
    json_response,
    parse_mount_url,
    read_body,
)
from app.transport.wire import parse_json

log = logging.getLogger("app.graphql")

# Rate limits read GraphQL's path as Parse documents it; Parse 9.10 itself compares `/` (its middleware sees the
# path under the GraphQL mount), so a rule for either applies.
GRAPHQL_PATHS = ("/graphql", "/")
_BAD_BODY = "POST body missing, invalid Content-Type, or JSON object has no keys."


class GraphQLEndpoint:
    """The ASGI app mounted at /graphql for HTTP (`ws.GraphQLSockets` takes its websockets)."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor
        self.services = executor.services
        self.abandoned = AbandonedReads()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            response = await self.handle(Request(scope, receive))
        except ClientDisconnect:
            return  # the client left (or was too slow) before its body was read: no one to answer
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(b"OK", 200, CORS_HEADERS, "text/plain; charset=utf-8")
        if request.method not in ("GET", "POST"):
            error = {"message": "Apollo Server supports only GET/POST requests.", "extensions": {"code": "BAD_REQUEST"}}
            return json_response({"errors": [error]}, 405, {"Allow": "GET, POST"})
        try:
            credentials = header_credentials(request.headers)
            client = request.client.host if request.client else None
            rate_check = None
            if self.services.rate_limits.rules:  # nothing to count otherwise: no objects on the hot path
                limited = LimitedRequest(GRAPHQL_PATHS, request.method, client, credentials.session_token)
                rate_check = RateCheck(limited)
            auth = await authenticate(self.services, credentials, client, rate_check=rate_check)
        except DatabaseUnavailableError as error:
            return _app_error_response(error)
        except AppError as error:
            return error_response(error)
        reveal = reveals_schema(auth, open_to_all=self.services.settings.graphql_public_introspection)
        try:
            async with AsyncExitStack() as stack:  # holds a multipart request's files open while it runs
                operation = await self._operation(request, stack)
                encoder = file_encoder(parse_mount_url(request, self.services.settings), self.services.settings.app_id)
                context = Resolving(self.services, auth, encoder)
                result = await self._execute(operation, context, request, reveal)
        except ClientGone:
            log.info("a GraphQL query was cancelled: its client went away")
            return Response(status_code=CLIENT_GONE_STATUS)
        except RequestError as error:
            return json_response({"errors": error.errors}, error.status)
        except AppError as error:  # a body too large, not JSON, or no database to load the schema from
            return _app_error_response(error)
        quota = rate_check.quota if rate_check is not None else None
        return json_response(result, headers=quota.headers() if quota else None)

    async def _operation(self, request: Request, stack: AsyncExitStack) -> Operation:
        if request.method == "GET":
            params = request.query_params
            variables = params.get("variables")
            return operation_from(
                {
                    "query": params.get("query"),
                    "operationName": params.get("operationName"),
                    "variables": _json_param(variables, "variables") if variables else None,
                }
            )
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        limit = self.services.settings.max_upload_size
        if content_type == "multipart/form-data":
            return await _multipart_operation(request, limit, stack)
        if content_type != "application/json":
            raise RequestError.of(_BAD_BODY)
        raw = await read_body(request, limit)
        try:
            body = parse_json(raw) if raw.strip() else None
        except ValueError as error:
            raise InvalidJSONError(f"Invalid JSON: {error}") from None
        if isinstance(body, list):
            raise RequestError.of("Operation batching disabled.")
        if not isinstance(body, dict) or not body:
            raise RequestError.of(_BAD_BODY)
        return operation_from(body)

    async def _execute(
        self, operation: Operation, context: Resolving, request: Request, reveal: bool
    ) -> dict[str, Any]:
        executor = self.executor
        graphql_schema, document, chosen = await executor.prepare(
            operation, reveal, exempt=exempt_from_limits(context.auth), http_get=request.method == "GET"
        )
        if chosen.operation == OperationType.SUBSCRIPTION and graphql_schema.subscription_type is not None:
            raise RequestError.of(
                "Subscriptions run over a websocket at /graphql (protocol graphql-transport-ws or graphql-ws)."
            )
        if chosen.operation == OperationType.QUERY:
            # A query only reads: cancelled if its client goes away (a mutation runs to its end).
            async with self.abandoned.watch(request.receive):
                return await executor.run(graphql_schema, document, operation, context, reveal)
        return await executor.run(graphql_schema, document, operation, context, reveal)


def _app_error_response(error: AppError) -> Response:
    """An error met before execution, as a GraphQL answer with the error's HTTP status."""
    headers = {"Retry-After": "1"} if error.status == 503 else None
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return json_response(body, error.status, headers)


def _json_param(value: str, name: str) -> Any:
    try:
        return parse_json(value)
    except ValueError:
        raise RequestError.of(f"The {name} search parameter contains invalid JSON.") from None


async def _multipart_operation(request: Request, limit: int, stack: AsyncExitStack) -> Operation:
    """The GraphQL multipart request spec: `operations`, a `map` of files to variable paths, then the files.

    The files stay on disk (spooled) for the resolvers to stream; `stack` closes them after the response.
    """
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLargeError("request entity too large")
    form = await stack.enter_async_context(request.form(max_files=100, max_fields=100, max_part_size=limit))
    operations = form.get("operations")
    mapping = form.get("map")
    if not isinstance(operations, str) or not isinstance(mapping, str):
        raise RequestError.of("A multipart GraphQL request needs `operations` and `map` fields.")
    body = _json_param(operations, "operations")
    paths = _json_param(mapping, "map")
    if not isinstance(body, dict) or not isinstance(paths, dict):
        raise RequestError.of("`operations` must be one operation and `map` an object.")
    for key, targets in paths.items():
        upload = form.get(key)
        if not isinstance(upload, UploadFile) or not isinstance(targets, list):
            raise RequestError.of(f"File {key} of the map is missing from the request.")
        value = Upload(upload.filename or "file", upload.content_type, upload)
        for target in targets:
            _place(body, str(target), value)
    return operation_from(body)


def _place(body: dict[str, Any], path: str, value: Upload) -> None:
    """Put an upload at a dotted path such as `variables.file` or `variables.files.0`."""
    parts = path.split(".")
    node: Any = body
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            if last:
                node[int(part)] = value
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            if last:
                node[part] = value
            node = node[part]
        else:
            raise RequestError.of(f"The map names a path that is not in the operation: {path}")
