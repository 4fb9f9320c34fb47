"""The `Subscription` type: per class, events in a `where`, and live pages that are re-sent when they change.

    subscription { gameEvents(where: {score: {greaterThan: 100}}) { event node { name score } previous { score } } }
    subscription { games(where: {room: {equalTo: "a"}}, order: [score_DESC], first: 10) { edges { node { name } } } }

`<class>Events` sends one message per object entering, changing in, leaving, created in or deleted from
the `where` (`on` narrows the kinds, `watch` sends creates and updates only when one of the named
fields changed). The plural field is a live query: the page in full first, then again each time a
write changes what it contains. Both take the same inputs as the generated queries; the websocket
transport (`ws_connection.py`) runs them, these fields only describe them and shape each event.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLArgument,
    GraphQLEnumType,
    GraphQLEnumValue,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from app.domain.live import Delivery
from app.transport.graphql import connections
from app.transport.graphql.class_types import ClassTypes, TypesByClass
from app.transport.graphql.naming import lower_first, plural
from app.transport.graphql.request import Info, node

log = logging.getLogger("app.graphql")

LIVE_EVENT = GraphQLEnumType(
    "LiveEvent",
    {
        "CREATE": GraphQLEnumValue("create", description="A new object that matches."),
        "ENTER": GraphQLEnumValue("enter", description="An object that matches since this change."),
        "UPDATE": GraphQLEnumValue("update", description="A matching object that changed and still matches."),
        "LEAVE": GraphQLEnumValue("leave", description="An object that no longer matches (or may no longer be read)."),
        "DELETE": GraphQLEnumValue("delete", description="A matching object that was deleted."),
    },
    description="What happened to an object, seen from a subscription's `where`.",
)


@dataclass(frozen=True, slots=True)
class LiveField:
    """What a root subscription field follows; kept in the field's `extensions["live"]`."""

    kind: str
    """`events` (one message per event) or `page` (the page again whenever it changes)."""
    types: ClassTypes
    classes: TypesByClass
    """Every class of the schema, which a `where` may name."""


def fields(classes: TypesByClass, taken: set[str]) -> dict[str, GraphQLField]:
    """The subscription fields of every class, skipping any whose type name another type already has."""
    result: dict[str, GraphQLField] = {}
    if LIVE_EVENT.name in taken:
        log.warning("no event subscriptions: a class's types already use the name %s", LIVE_EVENT.name)
    for types in classes.values():
        lower = lower_first(types.name)
        event_type_name = f"{types.name}Event"
        if LIVE_EVENT.name not in taken and event_type_name not in taken:
            result[f"{lower}Events"] = GraphQLField(
                GraphQLNonNull(_event_type(types, event_type_name)),
                args={
                    "where": GraphQLArgument(types.where, description="The constraints objects must meet."),
                    "on": GraphQLArgument(
                        GraphQLList(GraphQLNonNull(LIVE_EVENT)), description="Only these events (default: all)."
                    ),
                    "watch": GraphQLArgument(
                        GraphQLList(GraphQLNonNull(GraphQLString)),
                        description="Send creates and updates only when one of these fields changed.",
                    ),
                },
                description=f"Each {types.name} entering, changing in, leaving, created in or deleted from `where`.",
                resolve=_event,
                extensions={"live": LiveField("events", types, classes)},
            )
        elif LIVE_EVENT.name not in taken:
            log.warning("no event subscription for %s: the type name %s is taken", types.name, event_type_name)
        result[plural(lower)] = GraphQLField(
            GraphQLNonNull(types.connection),
            args=types.find_args,
            description=f"A live page of {types.name} objects: sent now, and again whenever it changes.",
            resolve=connections.find(types, classes),
            extensions={"live": LiveField("page", types, classes)},
        )
    return result


def _event_type(types: ClassTypes, name: str) -> GraphQLObjectType:
    return GraphQLObjectType(
        name,
        {
            "event": GraphQLField(GraphQLNonNull(LIVE_EVENT), description="What happened."),
            "node": GraphQLField(
                GraphQLNonNull(types.output),
                description="The object now (for a delete or a lost read access, as last seen).",
            ),
            "previous": GraphQLField(types.output, description="The object before an update, enter or leave."),
        },
        description=f"A change to a {types.name} seen by a subscription.",
    )


def _event(root: Any, info: Info, **args: Any) -> Any:
    return root  # the transport executes each event with its payload as the root value


def event_payload(delivery: Delivery, class_name: str) -> dict[str, Any]:
    """The root value an event is executed with: copies, since resolvers tag the records they return."""
    original = delivery.original
    return {
        "event": delivery.event,
        "node": node(dict(delivery.object), class_name),
        "previous": node(dict(original), class_name) if original is not None else None,
    }
