"""How big a GraphQL operation is, measured once with the document's validation: its depth and its number of
fields (Parse Server's `graphQLDepth` and `graphQLFields`), and its cost, the database work it can start.

Depth and fields are counted as Parse Server counts them: a field is one level deeper than the field it is
selected in, fragments add their fields once per spread, and counting stops once a limit is passed. Unlike
Parse, the fields under `__schema` and `__type` count for depth only: they read the schema, not the database.

The cost counts the reads an operation can start, each one as many times as it can run:

* a field of the root type (a get, a find, a mutation, a cloud function) costs 1, and so does every alias of it;
* a connection (a class find, or a relation of an object) costs 1 for its page, and 1 more when it counts its
  objects (for `count`, `pageInfo`, or `last`, which counts from the end);
* what is selected in the nodes of a connection runs once per row of its page, so its cost is multiplied by the
  page size: `first` or `last` when the document writes a number, else the default page of 100 (or `max_limit`
  when smaller). A connection inside a connection costs per row of the outer page.

Pointers cost nothing here: they load with the page that holds them, and `include_depth`/`include_count`
bound them. So `{ a1: items { count } … a1000: items { count } }` costs 2,000, and
`items(first: 50) { edges { node { comments(first: 10) { count edges { node { id } } } } } }` costs
1 + 50 * (1 + 1) = 101. The measure is cached with the document; the caller's limits are compared to it per
request, because the master key is exempt.
"""

from __future__ import annotations

from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)

from app.domain.limits import UNLIMITED
from app.transport.graphql.connections import DEFAULT_PAGE

_INTROSPECTION = frozenset({"__schema", "__type"})
_COUNTING = frozenset({"count", "pageInfo"})
"""Fields of a connection that make it count its objects (`pageInfo` tells whether there are more)."""


@dataclass(frozen=True, slots=True)
class Size:
    """What one operation asks for."""

    depth: int
    fields: int
    cost: int


@dataclass(frozen=True, slots=True)
class GraphQLLimits:
    """The largest operation a caller without the master key may run (the settings of the same names); -1 turns
    one limit off."""

    depth: int
    fields: int
    cost: int
    max_limit: int | None
    """The server's largest page, which bounds the rows a connection multiplies by."""

    def refusal(self, size: Size) -> str | None:
        """Why an operation of this size is refused (Parse's words for depth and fields), or None."""
        if self.depth != UNLIMITED and size.depth > self.depth:
            return f"GraphQL query depth of {size.depth} exceeds maximum allowed depth of {self.depth}"
        if self.fields != UNLIMITED and size.fields > self.fields:
            return f"Number of GraphQL fields ({size.fields}) exceeds maximum allowed ({self.fields})"
        if self.cost != UNLIMITED and size.cost > self.cost:
            return f"GraphQL query cost of {size.cost} exceeds maximum allowed cost of {self.cost}"
        return None


def measure(graphql_schema: GraphQLSchema, document: DocumentNode, limits: GraphQLLimits) -> dict[str | None, Size]:
    """The size of each operation of a valid document, by operation name."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    sizes: dict[str | None, Size] = {}
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        depth, fields = _Counter(fragments, limits).count(definition.selection_set)
        root = graphql_schema.get_root_type(definition.operation)
        cost = (
            _Coster(graphql_schema, fragments, limits).root(definition.selection_set, root) if root is not None else 0
        )
        sizes[definition.name.value if definition.name else None] = Size(depth, fields, cost)
    return sizes


class _Counter:
    """Parse Server's depth and field count: it stops descending once either is past its limit."""

    def __init__(self, fragments: dict[str, FragmentDefinitionNode], limits: GraphQLLimits) -> None:
        self.fragments, self.limits = fragments, limits
        self.deepest = self.fields = 0
        self.introspecting = False
        self.known: dict[str, tuple[int, int]] = {}  # fragment -> (its fields, how much deeper it reaches)

    def count(self, selection_set: SelectionSetNode) -> tuple[int, int]:
        self._visit(selection_set, 0, set())
        return self.deepest, self.fields

    def _past_limits(self) -> bool:
        depth, fields = self.limits.depth, self.limits.fields
        return (fields != UNLIMITED and self.fields > fields) or (depth != UNLIMITED and self.deepest > depth)

    def _visit(self, selection_set: SelectionSetNode, depth: int, open_fragments: set[str]) -> None:
        if self._past_limits():
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self.fields += 0 if self.introspecting else 1
                self.deepest = max(self.deepest, depth + 1)
                if selection.selection_set is not None:
                    # What introspection selects reads the schema, never the database: only its depth counts,
                    # so GraphiQL's 220-field introspection query runs where introspection is open.
                    introspecting = self.introspecting
                    self.introspecting = introspecting or selection.name.value in _INTROSPECTION
                    self._visit(selection.selection_set, depth + 1, open_fragments)
                    self.introspecting = introspecting
            elif isinstance(selection, InlineFragmentNode):
                self._visit(selection.selection_set, depth, open_fragments)
            elif isinstance(selection, FragmentSpreadNode):
                self._spread(selection.name.value, depth, open_fragments)

    def _spread(self, name: str, depth: int, open_fragments: set[str]) -> None:
        if name in self.known:
            fields, reach = self.known[name]
            self.fields += fields
            self.deepest = max(self.deepest, depth + reach)
            return
        fragment = self.fragments.get(name)
        if name in open_fragments or fragment is None or self._past_limits():
            return
        open_fragments.add(name)
        fields_before, deepest_before = self.fields, self.deepest
        self.deepest = depth
        self._visit(fragment.selection_set, depth, open_fragments)
        self.known[name] = (self.fields - fields_before, self.deepest - depth)
        self.deepest = max(deepest_before, self.deepest)
        open_fragments.discard(name)


class _Coster:
    """The cost model of the module docstring, each fragment costed once per kind of place it is spread in (costs
    grow linearly with the rows a selection runs for, so nested fragments cannot make this walk long)."""

    def __init__(
        self, graphql_schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode], limits: GraphQLLimits
    ):
        self.graphql_schema, self.fragments = graphql_schema, fragments
        self.max_limit = limits.max_limit
        self.page = DEFAULT_PAGE if limits.max_limit is None else min(DEFAULT_PAGE, limits.max_limit)
        self.known: dict[tuple[str, int | None, bool], int] = {}
        self.names: dict[str, set[str]] = {}
        self.open: set[str] = set()

    def root(self, selection_set: SelectionSetNode, root: GraphQLObjectType) -> int:
        return self._set(selection_set, root, None, at_root=True)

    def _set(self, selection_set: SelectionSetNode, parent: GraphQLNamedType, rows: int | None, at_root: bool) -> int:
        """The cost of a selection on `parent`; `rows` is the page size when `parent` is a connection."""
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self._field(selection, parent, rows, at_root)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                owner = self.graphql_schema.get_type(condition.name.value) if condition is not None else parent
                if owner is not None:
                    total += self._set(selection.selection_set, owner, rows, at_root)
            elif isinstance(selection, FragmentSpreadNode):
                total += self._fragment(selection.name.value, rows, at_root)
        return total

    def _fragment(self, name: str, rows: int | None, at_root: bool) -> int:
        key = (name, rows, at_root)
        if key in self.known:
            return self.known[key]
        fragment = self.fragments.get(name)
        owner = self.graphql_schema.get_type(fragment.type_condition.name.value) if fragment is not None else None
        if fragment is None or owner is None or name in self.open:
            return 0
        self.open.add(name)
        cost = self.known[key] = self._set(fragment.selection_set, owner, rows, at_root)
        self.open.discard(name)
        return cost

    def _field(self, field: FieldNode, parent: GraphQLNamedType, rows: int | None, at_root: bool) -> int:
        definition = (
            parent.fields.get(field.name.value)
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        if definition is None:  # __typename, __schema, __type: no database work
            return 0
        named = get_named_type(definition.type)
        if rows is not None:  # a field of a connection: what its nodes select runs once per row
            return rows * self._below(field, named, None) if field.name.value == "edges" else 0
        if _is_connection(named):
            counts = any(argument.name.value == "last" for argument in field.arguments) or (
                field.selection_set is not None and not self._names(field.selection_set).isdisjoint(_COUNTING)
            )
            return 1 + int(counts) + self._below(field, named, self._rows(field))
        return int(at_root) + self._below(field, named, None)

    def _names(self, selection_set: SelectionSetNode) -> set[str]:
        """The names of the fields of one selection, fragments spread in place."""
        names: set[str] = set()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                names.add(selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                names |= self._names(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                names |= self._fragment_names(selection.name.value)
        return names

    def _fragment_names(self, name: str) -> set[str]:
        if name not in self.names:
            fragment = self.fragments.get(name)
            self.names[name] = set()  # a fragment spread in itself adds nothing more
            if fragment is not None:
                self.names[name] = self._names(fragment.selection_set)
        return self.names[name]

    def _below(self, field: FieldNode, named: GraphQLNamedType, rows: int | None) -> int:
        return 0 if field.selection_set is None else self._set(field.selection_set, named, rows, at_root=False)

    def _rows(self, field: FieldNode) -> int:
        """The rows of a connection's page: a literal `first`/`last`, else the default page."""
        sizes = [
            int(argument.value.value)
            for argument in field.arguments
            if argument.name.value in ("first", "last") and isinstance(argument.value, IntValueNode)
        ]
        rows = max(0, min(sizes)) if sizes else self.page
        return rows if self.max_limit is None else min(rows, self.max_limit)


def _is_connection(named: GraphQLNamedType) -> bool:
    return isinstance(named, GraphQLObjectType) and named.name.endswith("Connection") and "edges" in named.fields
