"""GraphQL execution, whatever carried the operation: HTTP (`view.py`) and both websocket protocols (`ws.py`)
prepare and run operations here, against one schema and one document cache.

The schema is built from the class schemas when they change (never per request) and every document is parsed,
validated and measured (`complexity.py`) once per schema version; a caller without the master key may run only
operations within the limits. Callers without the master key may not introspect, and their error messages lose
the schema names graphql hints at, as Parse Server 9 does, unless the `graphql_public_introspection` setting opens
both (`reveal` below).

A transport hands over the operation (`operation_from` checks a request's body as Apollo Server does) and what it
knows of the request: whether the caller may see the schema (`reveal`), whether it is exempt from the limits (the
master key), and whether the operation came in an HTTP GET. A GET runs queries only: it must change nothing, so
a mutation or a subscription in one is refused with 405, as Apollo Server refuses it. A POST and a websocket
message run any operation. What stops an operation before it runs is a `RequestError` (an HTTP status and Apollo
Server's codes); what goes wrong while it runs is in its result, in graphql-js's words (`messages.py`).
"""

from __future__ import annotations

import logging
from asyncio import gather
from collections import OrderedDict
from dataclasses import dataclass
from inspect import isawaitable
from types import CoroutineType
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLField,
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
from graphql.execution.collect_fields import collect_fields
from graphql.execution.values import get_argument_values
from graphql.language import FragmentSpreadNode, InlineFragmentNode
from graphql.pyutils import Path, Undefined

from app.errors import AppError, MasterKeyRequiredError, OperationForbiddenError
from app.transport.callers import Services
from app.transport.graphql.builder import SchemaBuilder
from app.transport.graphql.complexity import GraphQLLimits, Size, measure
from app.transport.graphql.messages import js_message, redacted
from app.transport.graphql.request import Resolving

log = logging.getLogger("app.graphql")

_DOCUMENT_CACHE_SIZE = 512
_CACHED_DOCUMENT_LENGTH = 32 * 1024  # longer documents are validated each time rather than kept
# Parsing stops here, for every caller: a list written into a document (not passed as a variable) costs a token
# per value, and 100,000 of them take the parser seconds before any limit could look at the list.
MAX_TOKENS = 20_000


class RequestError(Exception):
    """An operation that never reaches execution: an HTTP status and errors coded with Apollo Server's names."""

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


_SAFE_INTEGER = 2**53


_UNKNOWN: Any = object()


def _plain_leaf(parent_type: GraphQLObjectType, field_node: FieldNode) -> tuple[GraphQLLeafType, bool, str] | None:
    """For a field read from a record by its name without arguments and of a scalar or enum type: that type, whether
    it may be null and the name; else None."""
    field_def = parent_type.fields.get(field_node.name.value)
    if field_def is None or field_def.resolve is not None or field_def.args:
        return None
    return_type = field_def.type
    leaf = return_type.of_type if isinstance(return_type, GraphQLNonNull) else return_type
    if not isinstance(leaf, GraphQLScalarType | GraphQLEnumType):
        return None
    return leaf, leaf is return_type, field_node.name.value


class ParseExecutionContext(ExecutionContext):
    """graphql-core's execution with two changes: whole Floats are written as JSON integers (`30`, not `30.0`) as
    Parse Server writes them, and a plain value read from an object skips the general machinery.

    Most fields of a page are scalars read from a record by name. For those, graphql-core would make a path,
    build a resolve info, parse arguments, call the default resolver and check for awaitables; the fast path only
    reads and serializes, with what it needs to know of each field of the document worked out once per operation.
    Anything else, and any value that would need an error (a null in a non-null field), takes graphql-core's own
    path, so answers are the same either way.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._leaves: dict[tuple[GraphQLObjectType, int], tuple[GraphQLLeafType, bool, str] | None] = {}

    def execute_fields(
        self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None, fields: dict[str, list[FieldNode]]
    ) -> Any:
        if type(source_value) is not dict:
            return super().execute_fields(parent_type, source_value, path, fields)
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        leaves = self._leaves
        for response_name, field_nodes in fields.items():
            key = (parent_type, id(field_nodes[0]))  # the document outlives this execution: its nodes' ids stay unique
            leaf = leaves.get(key, _UNKNOWN)
            if leaf is _UNKNOWN:
                leaf = leaves[key] = _plain_leaf(parent_type, field_nodes[0])
            if leaf is not None:
                leaf_type, nullable, name = leaf
                value = source_value.get(name)
                if value is None:
                    if nullable:
                        results[response_name] = None
                        continue
                else:
                    try:
                        results[response_name] = self.complete_leaf_value(leaf_type, value)
                        continue
                    except Exception:
                        pass  # graphql-core's path words the error
            result = self.execute_field(
                parent_type, source_value, field_nodes, Path(path, response_name, parent_type.name)
            )
            if result is not Undefined:
                results[response_name] = result
                if self.is_awaitable(result):
                    awaitable_fields.append(response_name)
        if not awaitable_fields:
            return results

        async def with_awaited() -> dict[str, Any]:
            awaited = await gather(*(results[name] for name in awaitable_fields))
            results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return with_awaited()

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
        self.webhook_functions: tuple[str, ...] = ()
        self.schema: GraphQLSchema | None = None
        self.documents: OrderedDict[str, Checked | list[GraphQLError]] = OrderedDict()
        settings = services.settings
        self.limits = GraphQLLimits(
            settings.graphql_depth, settings.graphql_fields, settings.graphql_cost, settings.max_limit
        )

    async def current(self) -> GraphQLSchema:
        registry = self.services.schemas
        await registry.fresh()  # so another instance's changes show up too
        hooks = self.services.hooks
        # Webhook functions are `callCloudCode` names too, declared at any time (by any instance).
        webhook_functions = await hooks.webhook_functions() if hooks else ()
        if self.schema is None or (registry.version, webhook_functions) != (self.version, self.webhook_functions):
            self.version, self.webhook_functions = registry.version, webhook_functions
            functions = hooks.registry.functions if hooks else None
            self.schema = SchemaBuilder(registry.cached(), functions, webhook_functions).build()
            self.documents.clear()
            log.debug("GraphQL schema built for class schema version %s", self.version)
        return self.schema

    def document(self, graphql_schema: GraphQLSchema, query: str) -> Checked | list[GraphQLError]:
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
            errors = validate(graphql_schema, document)
            result = errors if errors else Checked(document, measure(graphql_schema, document, self.limits))
        if len(query) <= _CACHED_DOCUMENT_LENGTH:
            self.documents[query] = result
            if len(self.documents) > _DOCUMENT_CACHE_SIZE:
                self.documents.popitem(last=False)
        return result


@dataclass(frozen=True, slots=True)
class RootField:
    """The one root field of a subscription operation, with its arguments: what a websocket follows."""

    definition: GraphQLField
    nodes: list[FieldNode]
    args: dict[str, Any]
    fragments: dict[str, FragmentDefinitionNode]


class Executor:
    """Prepares and runs operations for every transport; one per app, so they share the caches."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.cache = SchemaCache(services)

    async def prepare(
        self, operation: Operation, reveal: bool, *, exempt: bool = False, http_get: bool = False
    ) -> tuple[GraphQLSchema, DocumentNode, OperationDefinitionNode]:
        """The schema, the validated document and the operation to run, or a RequestError. Only an `exempt`
        caller (the master key) may run an operation past the complexity limits; `http_get`: queries only."""
        graphql_schema = await self.cache.current()
        checked = self.cache.document(graphql_schema, operation.query)
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
        if http_get and chosen.operation != OperationType.QUERY:
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
        return graphql_schema, document, chosen

    async def run(
        self,
        graphql_schema: GraphQLSchema,
        document: DocumentNode,
        operation: Operation,
        context: Resolving,
        reveal: bool,
        root_value: Any = None,
    ) -> dict[str, Any]:
        """Execute a prepared operation: `{"errors"?, "data"}`, or a RequestError when its variables do not fit."""
        chosen = get_operation_ast(document, operation.operation_name)
        if chosen is not None and graphql_schema.get_root_type(chosen.operation) is None:
            # graphql-js validates this at execution: a 200 with no data.
            error = GraphQLError(f"Schema is not configured to execute {chosen.operation.value} operation.", chosen)
            return {"errors": [error_body(error, "INTERNAL_SERVER_ERROR")], "data": None}
        result = execute(
            graphql_schema,
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
            raise _variables_error(result.errors, operation, reveal)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [
                redacted_body(_execution_error(error), reveal, operation.query) for error in result.errors
            ]
        body["data"] = result.data
        return body

    def root_field(
        self,
        graphql_schema: GraphQLSchema,
        document: DocumentNode,
        chosen: OperationDefinitionNode,
        operation: Operation,
        reveal: bool,
    ) -> RootField:
        """The field a prepared subscription follows and its arguments, or a RequestError when its variables or
        arguments do not fit. Each event is then `run` with its payload as the root value."""
        built = ExecutionContext.build(
            graphql_schema, document, None, None, operation.variables, operation.operation_name
        )
        if isinstance(built, list):
            raise _variables_error(built, operation, reveal)
        root = graphql_schema.subscription_type
        assert root is not None
        fields = collect_fields(graphql_schema, built.fragments, built.variable_values, root, chosen.selection_set)
        nodes = next(iter(fields.values()))
        definition = root.fields[nodes[0].name.value]
        try:
            args = get_argument_values(definition, nodes[0], built.variable_values)
        except GraphQLError as error:
            raise RequestError([redacted_body(error_body(error, "BAD_USER_INPUT"), reveal, operation.query)]) from None
        return RootField(definition, nodes, args, built.fragments)


def _variables_error(errors: list[GraphQLError], operation: Operation, reveal: bool) -> RequestError:
    return RequestError(
        [
            redacted_body(error_body(error, "BAD_USER_INPUT", variables=operation.variables), reveal, operation.query)
            for error in errors
        ]
    )


def _execution_error(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if isinstance(original, AppError):
        if original.detail:
            log.info("refused: %s", original.detail)
        if original.code == 1 and type(original).__name__ == "InternalError":
            log.error("internal error in %s: %s", error.path, original.detail or original.message)
        # Parse answers a missing master key with 403 over REST, and with 119 over GraphQL.
        code = OperationForbiddenError.code if isinstance(original, MasterKeyRequiredError) else original.code
        return error_body(error, code, original.message)
    if original is not None and not isinstance(original, GraphQLError):
        log.error("unexpected error in %s", error.path, exc_info=original)
        return error_body(error, 1, "Internal server error")
    return error_body(error, "INTERNAL_SERVER_ERROR")


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


def redacted_body(body: dict[str, Any], reveal: bool, operation_text: str | None) -> dict[str, Any]:
    return body if reveal else {**body, "message": redacted(body["message"], operation_text)}


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
