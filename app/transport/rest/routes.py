"""The REST route table: every Parse route this server answers, in one place."""

from __future__ import annotations

from app.transport.rest import (
    aggregate,
    batch,
    classes,
    config,
    events,
    functions,
    hooks,
    logs,
    push,
    schemas,
    server,
    users,
)
from app.transport.rest.router import Handler, RestCall, RestResponse, Route, Router


def for_class(class_name: str, handler: Handler) -> Handler:
    """A `/classes/:class_name` handler answering under another path, such as `/users` for `_User`."""

    async def handle(call: RestCall) -> RestResponse:
        call.params["class_name"] = class_name
        return await handler(call)

    return handle


def build_router() -> Router:
    """Every route; `idempotent=True` on the ones Parse Server deduplicates by request id (idempotencyOptions)."""
    router = Router([])
    router.routes.extend(
        [
            Route("GET", "/classes/:class_name", classes.find_objects),
            Route("POST", "/classes/:class_name", classes.create_object, idempotent=True),
            Route("GET", "/classes/:class_name/:object_id", classes.get_object),
            Route("PUT", "/classes/:class_name/:object_id", classes.update_object, idempotent=True),
            Route("DELETE", "/classes/:class_name/:object_id", classes.delete_object),
            Route("POST", "/login", users.log_in),
            Route("GET", "/login", users.log_in),
            Route("POST", "/loginAs", users.log_in_as),
            Route("GET", "/verifyPassword", users.verify_password),
            Route("POST", "/verifyPassword", users.verify_password),
            Route("POST", "/logout", users.log_out),
            Route("GET", "/users/me", users.current_user),
            Route("POST", "/requestPasswordReset", users.request_password_reset),
            Route("POST", "/verificationEmailRequest", users.request_verification_email),
            Route("POST", "/upgradeToRevocableSession", users.upgrade_to_revocable_session),
            Route("GET", "/sessions/me", users.current_session),
            Route("GET", "/sessions", for_class("_Session", classes.find_objects)),
            Route("POST", "/sessions", for_class("_Session", classes.create_object)),
            Route("GET", "/sessions/:object_id", for_class("_Session", classes.get_object)),
            Route("PUT", "/sessions/:object_id", for_class("_Session", classes.update_object)),
            Route("DELETE", "/sessions/:object_id", for_class("_Session", classes.delete_object)),
            Route("GET", "/roles", for_class("_Role", classes.find_objects)),
            Route("POST", "/roles", for_class("_Role", classes.create_object)),
            Route("GET", "/roles/:object_id", for_class("_Role", classes.get_object)),
            Route("PUT", "/roles/:object_id", for_class("_Role", classes.update_object)),
            Route("DELETE", "/roles/:object_id", for_class("_Role", classes.delete_object)),
            Route("GET", "/users", for_class("_User", classes.find_objects)),
            Route("POST", "/users", for_class("_User", classes.create_object), idempotent=True),
            Route("GET", "/users/:object_id", for_class("_User", classes.get_object)),
            Route("PUT", "/users/:object_id", for_class("_User", classes.update_object), idempotent=True),
            Route("DELETE", "/users/:object_id", for_class("_User", classes.delete_object)),
            Route("GET", "/installations", for_class("_Installation", classes.find_objects)),
            Route("POST", "/installations", for_class("_Installation", classes.create_object), idempotent=True),
            Route("GET", "/installations/:object_id", for_class("_Installation", classes.get_object)),
            Route(
                "PUT", "/installations/:object_id", for_class("_Installation", classes.update_object), idempotent=True
            ),
            Route("DELETE", "/installations/:object_id", for_class("_Installation", classes.delete_object)),
            Route("GET", "/schemas", schemas.list_schemas),
            Route("POST", "/schemas", schemas.create_schema),
            Route("GET", "/schemas/:class_name", schemas.get_schema),
            Route("POST", "/schemas/:class_name", schemas.create_schema),
            Route("PUT", "/schemas/:class_name", schemas.update_schema),
            Route("DELETE", "/schemas/:class_name", schemas.delete_schema),
            Route("DELETE", "/purge/:class_name", schemas.purge_class),
            Route("GET", "/aggregate/:class_name", aggregate.aggregate),
            Route("GET", "/config", config.read_config),
            Route("PUT", "/config", config.update_config),
            Route("POST", "/functions/:name", functions.call_function, idempotent=True),
            Route("POST", "/jobs/:name", functions.start_job, idempotent=True),
            Route("POST", "/jobs", functions.start_job),
            Route("GET", "/cloud_code/jobs", functions.list_job_schedules),
            Route("GET", "/cloud_code/jobs/data", functions.job_data),
            Route("POST", "/cloud_code/jobs", functions.create_job_schedule),
            Route("PUT", "/cloud_code/jobs/:object_id", functions.edit_job_schedule),
            Route("DELETE", "/cloud_code/jobs/:object_id", functions.delete_job_schedule),
            Route("POST", "/push", push.send_push),
            Route("GET", "/push_audiences", push.find_audiences),
            Route("GET", "/push_audiences/:object_id", push.get_audience),
            Route("POST", "/push_audiences", push.create_audience),
            Route("PUT", "/push_audiences/:object_id", push.update_audience),
            Route("DELETE", "/push_audiences/:object_id", push.delete_audience),
            Route("GET", "/hooks/functions", hooks.list_functions),
            Route("POST", "/hooks/functions", hooks.create_hook),
            Route("GET", "/hooks/functions/:function_name", hooks.get_function),
            Route("PUT", "/hooks/functions/:function_name", hooks.change_hook),
            Route("DELETE", "/hooks/functions/:function_name", hooks.delete_hook),
            Route("GET", "/hooks/triggers", hooks.list_triggers),
            Route("POST", "/hooks/triggers", hooks.create_hook),
            Route("GET", "/hooks/triggers/:class_name/:trigger_name", hooks.get_trigger),
            Route("PUT", "/hooks/triggers/:class_name/:trigger_name", hooks.change_hook),
            Route("DELETE", "/hooks/triggers/:class_name/:trigger_name", hooks.delete_hook),
            Route("GET", "/scriptlog", logs.script_log),
            Route("POST", "/events/:event_name", events.track_event),
            Route("GET", "/health", server.health),
            Route("GET", "/serverInfo", server.server_info),
            Route("POST", "/batch", batch.make_batch(lambda: router)),
        ]
    )
    return router
