"""`/graphql` over HTTP: JSON, GET and multipart requests in, Parse's GraphQL answers out.

The schema is built from the class schemas when they change (never per request) and every document is parsed,
validated and measured (`complexity.py`) once per schema version; a caller without the master key may run only
operations within the limits. Callers without the master key may not introspect, and their error
messages lose the schema names graphql hints at, as Parse Server 9 does, unless the
`graphql_public_introspection` setting opens both.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from contextlib import AsyncExitStack
from dataclasses import dataclass
from inspect import isawaitable
from types import CoroutineType
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLFloat,
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution import ExecutionContext
from graphql.language import FragmentDefinitionNode, FragmentSpreadNode, InlineFragmentNode
from graphql.pyutils import Path
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.errors import AppError, DatabaseUnavailableError, InvalidJSONError, PayloadTooLargeError
from app.transport.context import Services, authenticate, file_encoder
from app.transport.graphql import ws
from app.transport.graphql.builder import SchemaBuilder
from app.transport.graphql.complexity import GraphQLLimits, Size, measure
from app.transport.graphql.messages import js_message, redacted
from app.transport.graphql.request import Context
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

_DOCUMENT_CACHE_SIZE = 512
_CACHED_DOCUMENT_LENGTH = 32 * 1024  # longer documents are validated each time rather than kept
# Parsing stops here, for every caller: a list written into a document (not passed as a variable) costs a token
# per value, and 100,000 of them take the parser seconds before any limit could look at the list.
MAX_TOKENS = 20_000

_BAD_BODY = "POST body missing, invalid Content-Type, or JSON object has no keys."


class RequestError(Exception):
    """A request that never reaches execution: an HTTP status and errors coded with Apollo Server's names."""

    def __init__(self, errors: list[dict[str, Any]], status: int = 400) -> None:
        super().__init__(errors[0]["message"])
        self.errors, self.status = errors, status

    @classmethod
    def of(cls, message: str, status: int = 400, code: str = "BAD_REQUEST") -> RequestError:
        return cls([{"message": message, "extensions": {"code": code}}], status)


@dataclass(slots=True)
class Operation:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None


_SAFE_INTEGER = 2**53


class ParseExecutionContext(ExecutionContext):
    """graphql-core's execution with two changes: whole Floats are written as JSON integers (`30`, not `30.0`) as
    Parse Server writes them, and a plain value read from an object skips the general machinery.

    Most fields of a page are scalars read from a record by name. For those, graphql-core would build a resolve
    info, parse arguments, call the default resolver and check for awaitables; the fast path only reads and
    serializes. Anything else, and any value that would need an error (a null in a non-null field), takes
    graphql-core's own path, so answers are the same either way.
    """

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_nodes: list[FieldNode], path: Path
    ) -> Any:
        field_node = field_nodes[0]
        field_def = parent_type.fields.get(field_node.name.value)
        if field_def is not None and field_def.resolve is None and type(source) is dict and not field_def.args:
            return_type = field_def.type
            leaf = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
            if isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
                value = source.get(field_node.name.value)
                if value is None:
                    if leaf is return_type:
                        return None
                else:
                    try:
                        return self.complete_leaf_value(leaf, value)
                    except Exception:
                        pass
        return super().execute_field(parent_type, source, field_nodes, path)

    @staticmethod
    def complete_leaf_value(return_type: GraphQLLeafType, result: Any) -> Any:
        value = ExecutionContext.complete_leaf_value(return_type, result)
        if return_type is GraphQLFloat and value.is_integer() and abs(value) < _SAFE_INTEGER:
            return int(value)
        return value


def _is_awaitable(value: Any) -> bool:
    """Resolvers here wait only as coroutines (`async def`), and so does graphql-core: cheaper than its check."""
    return type(value) is CoroutineType


@dataclass(frozen=True, slots=True)
class Checked:
    """A valid document, and the size of each of its operations (by name) for the complexity limits."""

    document: DocumentNode
    sizes: dict[str | None, Size]


class SchemaCache:
    """The GraphQL schema of the current class schemas, and the documents validated against it."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.version = -1
        self.schema: GraphQLSchema | None = None
        self.documents: OrderedDict[str, Checked | list[GraphQLError]] = OrderedDict()
        settings = services.settings
        self.limits = GraphQLLimits(
            settings.graphql_depth, settings.graphql_fields, settings.graphql_cost, settings.max_limit
        )

    async def current(self) -> GraphQLSchema:
        registry = self.services.schemas
        await registry.fresh()  # so another instance's changes show up too
        if self.schema is None or registry.version != self.version:
            self.version = registry.version
            hooks = self.services.hooks
            self.schema = SchemaBuilder(registry.cached(), hooks.registry.functions if hooks else None).build()
            self.documents.clear()
            log.debug("GraphQL schema built for class schema version %s", self.version)
        return self.schema

    def document(self, schema: GraphQLSchema, query: str) -> Checked | list[GraphQLError]:
        """The parsed, validated and measured document, or its errors; both are kept per schema version."""
        cached = self.documents.get(query)
        if cached is not None:
            self.documents.move_to_end(query)
            return cached
        try:
            document = parse(query, max_tokens=MAX_TOKENS)
        except GraphQLError as error:
            result: Checked | list[GraphQLError] = [error]
        else:
            errors = validate(schema, document)
            result = errors if errors else Checked(document, measure(schema, document, self.limits))
        if len(query) <= _CACHED_DOCUMENT_LENGTH:
            self.documents[query] = result
            if len(self.documents) > _DOCUMENT_CACHE_SIZE:
                self.documents.popitem(last=False)
        return result


class GraphQLEndpoint:
    """The ASGI app mounted at /graphql."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.cache = SchemaCache(services)
        self.abandoned = AbandonedReads()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await ws.serve(self, scope, receive, send)
            return
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
            auth = await authenticate(self.services, credentials, client)
        except DatabaseUnavailableError as error:
            return _app_error_response(error)
        except AppError as error:
            return error_response(error)
        reveal = auth.master or self.services.settings.graphql_public_introspection
        try:
            async with AsyncExitStack() as stack:  # holds a multipart request's files open while it runs
                operation = await self._operation(request, stack)
                encoder = file_encoder(parse_mount_url(request, self.services.settings), self.services.settings.app_id)
                context = Context(self.services, auth, encoder)
                result = await self._execute(operation, context, request, reveal)
        except ClientGone:
            log.info("a GraphQL query was cancelled: its client went away")
            return Response(status_code=CLIENT_GONE_STATUS)
        except RequestError as error:
            return json_response({"errors": error.errors}, error.status)
        except AppError as error:  # a body too large, not JSON, or no database to load the schema from
            return _app_error_response(error)
        return json_response(result)

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

    async def _execute(self, operation: Operation, context: Context, request: Request, reveal: bool) -> dict[str, Any]:
        schema, document, chosen = await self.prepare(operation, request.method, reveal, exempt=context.auth.master)
        if chosen.operation == OperationType.SUBSCRIPTION and schema.subscription_type is not None:
            raise RequestError.of(
                "Subscriptions run over a websocket at /graphql (protocol graphql-transport-ws or graphql-ws)."
            )
        if chosen.operation == OperationType.QUERY:
            # A query only reads: cancelled if its client goes away (a mutation runs to its end).
            async with self.abandoned.watch(request.receive):
                return await self.run(schema, document, operation, context, reveal)
        return await self.run(schema, document, operation, context, reveal)

    async def prepare(
        self, operation: Operation, method: str, reveal: bool, *, exempt: bool = False
    ) -> tuple[GraphQLSchema, DocumentNode, OperationDefinitionNode]:
        """The schema, the validated document and the operation to run, or a RequestError. Only an `exempt`
        caller (the master key) may run an operation past the complexity limits."""
        schema = await self.cache.current()
        checked = self.cache.document(schema, operation.query)
        if isinstance(checked, list):
            code = (
                "GRAPHQL_PARSE_FAILED" if checked[0].message.startswith("Syntax Error") else "GRAPHQL_VALIDATION_FAILED"
            )
            raise RequestError([redacted_body(error_body(error, code), reveal, operation.query) for error in checked])
        document = checked.document
        chosen = get_operation_ast(document, operation.operation_name)
        if chosen is None:
            raise RequestError.of(
                _operation_resolution_message(document, operation.operation_name), 400, "OPERATION_RESOLUTION_FAILURE"
            )
        if method == "GET" and chosen.operation != OperationType.QUERY:
            raise RequestError.of(
                f"GET requests only support query operations, not {chosen.operation.value} operations", 405
            )
        if not reveal and ("__schema" in operation.query or _reads_type(chosen, document)):
            # Like Parse Server: `__schema` anywhere in the text (even a comment) is refused, `__type(…)` where read.
            raise RequestError.of("Introspection is not allowed", 403, "INTERNAL_SERVER_ERROR")
        if not exempt:
            refusal = self.cache.limits.refusal(checked.sizes[chosen.name.value if chosen.name else None])
            if refusal is not None:
                # Parse Server answers these from a plugin, with Apollo's code for errors that have none.
                log.info("refused: %s", refusal)
                raise RequestError.of(refusal, 400, "INTERNAL_SERVER_ERROR")
        return schema, document, chosen

    async def run(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: Operation,
        context: Context,
        reveal: bool,
        root_value: Any = None,
    ) -> dict[str, Any]:
        """Execute a prepared operation: `{"errors"?, "data"}`, or a RequestError when its variables do not fit."""
        chosen = get_operation_ast(document, operation.operation_name)
        if chosen is not None and schema.get_root_type(chosen.operation) is None:
            # graphql-js validates this at execution: a 200 with no data.
            error = GraphQLError(f"Schema is not configured to execute {chosen.operation.value} operation.", chosen)
            return {"errors": [error_body(error, "INTERNAL_SERVER_ERROR")], "data": None}
        result = execute(
            schema,
            document,
            root_value=root_value,
            context_value=context,
            variable_values=operation.variables,
            operation_name=operation.operation_name,
            execution_context_class=ParseExecutionContext,
            is_awaitable=_is_awaitable,
        )
        if isawaitable(result):
            result = await result
        assert isinstance(result, ExecutionResult)
        if result.errors and result.data is None and all(error.path is None for error in result.errors):
            # The variables did not fit the operation: nothing ran.
            raise RequestError(
                [
                    redacted_body(
                        error_body(error, "BAD_USER_INPUT", variables=operation.variables), reveal, operation.query
                    )
                    for error in result.errors
                ]
            )
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [
                redacted_body(self._execution_error(error), reveal, operation.query) for error in result.errors
            ]
        body["data"] = result.data
        return body

    def _execution_error(self, error: GraphQLError) -> dict[str, Any]:
        original = error.original_error
        if isinstance(original, AppError):
            if original.detail:
                log.info("refused: %s", original.detail)
            if original.code == 1 and type(original).__name__ == "InternalError":
                log.error("internal error in %s: %s", error.path, original.detail or original.message)
            return error_body(error, original.code, original.message)
        if original is not None and not isinstance(original, GraphQLError):
            log.error("unexpected error in %s", error.path, exc_info=original)
            return error_body(error, 1, "Internal server error")
        return error_body(error, "INTERNAL_SERVER_ERROR")


def _app_error_response(error: AppError) -> Response:
    """An error met before execution, as a GraphQL answer with the error's HTTP status."""
    headers = {"Retry-After": "1"} if error.status == 503 else None
    body = {"errors": [{"message": error.message, "extensions": {"code": error.code}}]}
    return json_response(body, error.status, headers)


def error_body(
    error: GraphQLError, code: int | str | None, message: str | None = None, variables: Any = None
) -> dict[str, Any]:
    """An error as Apollo Server writes it, in graphql-js's words."""
    body: dict[str, Any] = {"message": message if message is not None else js_message(error.message, variables)}
    if error.locations:
        body["locations"] = [{"line": location.line, "column": location.column} for location in error.locations]
    if error.path is not None:
        body["path"] = list(error.path)
    body["extensions"] = {"code": code}
    return body


def operation_from(body: dict[str, Any]) -> Operation:
    """The operation of a request body, checked as Apollo Server checks it (Parse Server's messages)."""
    query = body.get("query")
    if query is not None and not isinstance(query, str):
        raise RequestError.of("GraphQL queries must be strings.")
    variables = body.get("variables")
    if isinstance(variables, str):
        raise RequestError.of(
            "`variables` in a POST body should be provided as an object, not a recursively JSON-encoded string."
        )
    if variables is not None and not isinstance(variables, dict):
        raise RequestError.of("`variables` in a POST body must be an object if provided.")
    name = body.get("operationName")
    if name is not None and not isinstance(name, str):
        raise RequestError.of("`operationName` in a POST body must be a string if provided.")
    if not query:
        raise RequestError.of("GraphQL operations must contain a non-empty `query` or a `persistedQuery` extension.")
    return Operation(query, variables, name)


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


def _operation_resolution_message(document: DocumentNode, name: str | None) -> str:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        return f'Unknown operation named "{name}".'
    if not operations:
        return "Must provide an operation."
    return "Must provide operation name if query contains multiple operations."


def _reads_type(operation: OperationDefinitionNode, document: DocumentNode) -> bool:
    """Whether an operation reads `__type(name:)` anywhere, fragments included."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    seen: set[str] = set()

    def walk(selection_set: SelectionSetNode | None) -> bool:
        if selection_set is None:
            return False
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if (selection.name.value == "__type" and selection.arguments) or walk(selection.selection_set):
                    return True
            elif isinstance(selection, InlineFragmentNode):
                if walk(selection.selection_set):
                    return True
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = fragments.get(selection.name.value)
                if fragment is not None and walk(fragment.selection_set):
                    return True
        return False

    return walk(operation.selection_set)


def redacted_body(body: dict[str, Any], reveal: bool, operation_text: str | None) -> dict[str, Any]:
    return body if reveal else {**body, "message": redacted(body["message"], operation_text)}
