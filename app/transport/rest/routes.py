"""The REST route table: every Parse route this server answers, in one place."""

from __future__ import annotations

from app.transport.rest import aggregate, batch, classes, schemas, server
from app.transport.rest.router import Route, Router


def build_router() -> Router:
    router = Router([])
    router.routes.extend(
        [
            Route("GET", "/classes/:class_name", classes.find_objects),
            Route("POST", "/classes/:class_name", classes.create_object),
            Route("GET", "/classes/:class_name/:object_id", classes.get_object),
            Route("PUT", "/classes/:class_name/:object_id", classes.update_object),
            Route("DELETE", "/classes/:class_name/:object_id", classes.delete_object),
            Route("GET", "/schemas", schemas.list_schemas),
            Route("POST", "/schemas", schemas.create_schema),
            Route("GET", "/schemas/:class_name", schemas.get_schema),
            Route("POST", "/schemas/:class_name", schemas.create_schema),
            Route("PUT", "/schemas/:class_name", schemas.update_schema),
            Route("DELETE", "/schemas/:class_name", schemas.delete_schema),
            Route("DELETE", "/purge/:class_name", schemas.purge_class),
            Route("GET", "/aggregate/:class_name", aggregate.aggregate),
            Route("GET", "/health", server.health),
            Route("GET", "/serverInfo", server.server_info),
            Route("POST", "/batch", batch.make_batch(lambda: router)),
        ]
    )
    return router
