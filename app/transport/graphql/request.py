"""What every resolver needs about the request: who asks, the services, and the selection it answers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import FieldNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode, SelectionSetNode

from app.domain.acl import Auth
from app.domain.classes import FieldType
from app.domain.encoding import Encoder
from app.domain.values import Record
from app.transport.callers import Services
from app.transport.graphql.outputs import CLASS_KEY

Resolver = Callable[..., Awaitable[Any]]
FieldResolver = Callable[..., Any]
"""A resolver that computes from the object at hand: a plain function, so graphql needs no task for it."""
Info = GraphQLResolveInfo


@dataclass(slots=True)
class Resolving:
    """One GraphQL request as its resolvers share it: who asks, the services, and the batches (graphql-core hands
    it to them as `info.context`; not cloud code's `context`, nor the request's `Origin`)."""

    services: Services
    auth: Auth
    encoder: Encoder
    batches: dict[str, Any] = field(default_factory=dict)
    """Open batches by what they load, and the plans their fields share (see `connections`)."""


def node(record: Record, class_name: str) -> Record:
    record[CLASS_KEY] = class_name
    return record


def selected_paths(info: Info, selection_set: SelectionSetNode | None = None, prefix: str = "") -> list[str]:
    """Every selected field below a node as dotted paths (fragments flattened), like graphql-list-fields."""
    paths: list[str] = []
    sets = (
        [selection_set]
        if selection_set is not None
        else [node_.selection_set for node_ in info.field_nodes if node_.selection_set is not None]
    )
    for selections in sets:
        if selections is None:
            continue
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                if name == "__typename":
                    continue
                path = f"{prefix}{name}"
                if selection.selection_set is None:
                    paths.append(path)
                else:
                    # A field with only `__typename` below it is still read (as `<field>.__typename`).
                    below = selected_paths(info, selection.selection_set, f"{path}.")
                    paths.extend(below or [f"{path}.__typename"])
            elif isinstance(selection, InlineFragmentNode):
                paths.extend(selected_paths(info, selection.selection_set, prefix))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = info.fragments.get(selection.name.value)
                if fragment is not None:
                    paths.extend(selected_paths(info, fragment.selection_set, prefix))
    return paths


def keys_and_include(
    paths: list[str], fields: Mapping[str, FieldType] | None = None
) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """Parse's projection and include for selected paths (`id` is `objectId`). With the class's `fields`, only
    paths through a Pointer or an Array (which may hold pointers) are included: the others have nothing to load.
    """
    keys: list[str] = []
    include: list[str] = []
    for path in paths:
        if path == "id":
            path = "objectId"
        elif path.endswith(".id"):
            path = path[:-3] + ".objectId"
        typename_only = path.endswith(".__typename")
        if typename_only:
            path = path[: -len(".__typename")]
        if path not in keys:
            keys.append(path)
        if typename_only or path in include:
            continue
        field = fields.get(path.split(".", 1)[0]) if fields is not None else None
        if fields is None or (field is not None and field.type in ("Pointer", "Array")):
            include.append(path)
    if not keys or any(key.split(".", 1)[0] == "authData" for key in keys):
        return None, tuple(include)
    return tuple(keys), tuple(include)
