"""`health`: whether the server is up, as `/parse/health` answers it."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLBoolean, GraphQLField, GraphQLNonNull

from app.errors import DatabaseUnavailableError
from app.transport.graphql.request import Info


async def _health(root: Any, info: Info) -> bool:
    # As `/parse/health`: false while the database does not answer a ping within a second.
    try:
        await info.context.services.storage.ping()
    except DatabaseUnavailableError:
        return False
    return True


def queries() -> dict[str, GraphQLField]:
    return {
        "health": GraphQLField(GraphQLNonNull(GraphQLBoolean), description="Whether the server is up.", resolve=_health)
    }
