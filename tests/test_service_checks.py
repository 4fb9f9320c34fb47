"""The checks each service method makes on its caller, asked through the services themselves (the running app's, on
the real database), so that a transport that forgot a check cannot hide it: every transport only maps these.

The callers: the public, a signed-in user, the read-only master key and the master key. The outcomes: `ok` (past
every check on the caller; what follows may still fail for other reasons, such as an object that is not there),
`master` (`MasterKeyRequiredError`: 403 over REST, 119 over GraphQL), `forbidden` (119 "Permission denied" on every
transport, where Parse refuses the missing master key so: `/loginAs`), `writer` (the read-only master key refused
a change), `session` (209: the call needs a session), `user` (206: the call needs a signed-in user).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from app.domain.acl import MASTER, PUBLIC_AUTH, Auth
from app.domain.queries import QueryOptions
from app.errors import (
    PERMISSION_DENIED,
    AppError,
    InvalidSessionTokenError,
    MasterKeyRequiredError,
    OperationForbiddenError,
)
from app.transport.callers import Services

Call = Callable[[Services, Auth], Awaitable[Any]]

CALLERS = ("public", "user", "read-only", "master")
ONLY_MASTER = ("master", "master", "ok", "ok")
ONLY_WRITING_MASTER = ("master", "master", "writer", "ok")

CHECKS: dict[str, tuple[Call, tuple[str, str, str, str]]] = {
    "schema_admin.list": (lambda s, a: s.schema_admin.list(a), ONLY_MASTER),
    "schema_admin.read": (lambda s, a: s.schema_admin.read(a, "_User"), ONLY_MASTER),
    "schema_admin.create": (lambda s, a: s.schema_admin.create(a, "_Nope", None, None, None), ONLY_WRITING_MASTER),
    "schema_admin.update": (lambda s, a: s.schema_admin.update(a, "Missing", None, None, None), ONLY_WRITING_MASTER),
    "schema_admin.delete": (lambda s, a: s.schema_admin.delete(a, "Missing"), ONLY_WRITING_MASTER),
    "schema_admin.purge": (lambda s, a: s.schema_admin.purge(a, "Missing"), ONLY_WRITING_MASTER),
    "config.read": (lambda s, a: s.config.read(a), ("ok", "ok", "ok", "ok")),
    "config.parameter": (lambda s, a: s.config.parameter(a, "missing"), ONLY_MASTER),
    "config.update": (lambda s, a: s.config.update(a, {}), ONLY_WRITING_MASTER),
    "jobs.start": (lambda s, a: s.jobs.start(a, "missing", {}), ONLY_WRITING_MASTER),
    "jobs.schedules": (lambda s, a: s.jobs.schedules(a), ONLY_MASTER),
    "jobs.job_data": (lambda s, a: s.jobs.job_data(a), ONLY_MASTER),
    # The schedules ask only for the master key; the object service then refuses the read-only one the write
    # (here a job that is not deployed is refused first, as in Parse).
    "jobs.create_schedule": (lambda s, a: s.jobs.create_schedule(a, {"jobName": "missing"}), ONLY_MASTER),
    "jobs.edit_schedule": (lambda s, a: s.jobs.edit_schedule(a, "missing", {}), ONLY_WRITING_MASTER),
    "jobs.delete_schedule": (lambda s, a: s.jobs.delete_schedule(a, "missing"), ONLY_WRITING_MASTER),
    "webhooks.functions": (lambda s, a: s.webhooks.functions(a), ONLY_MASTER),
    "webhooks.triggers": (lambda s, a: s.webhooks.triggers(a), ONLY_MASTER),
    "webhooks.function": (lambda s, a: s.webhooks.function(a, "missing"), ONLY_MASTER),
    "webhooks.trigger": (lambda s, a: s.webhooks.trigger(a, "Missing", "beforeSave"), ONLY_MASTER),
    "webhooks.create": (lambda s, a: s.webhooks.create(a, {}), ONLY_WRITING_MASTER),
    "webhooks.update": (lambda s, a: s.webhooks.update(a, {"functionName": "missing"}), ONLY_WRITING_MASTER),
    "webhooks.delete": (lambda s, a: s.webhooks.delete(a, {"functionName": "missing"}), ONLY_WRITING_MASTER),
    "objects.aggregate": (lambda s, a: s.objects.aggregate(a, "_User", [{"$match": {}}]), ONLY_WRITING_MASTER),
    "objects.distinct": (lambda s, a: s.objects.distinct(a, "_User", "username", {}), ONLY_WRITING_MASTER),
    "files.delete": (lambda s, a: s.files.delete(a, "missing.txt"), ONLY_WRITING_MASTER),
    "server_info": (lambda s, a: _server_info(a), ONLY_MASTER),
    # Past the key, an unconfigured server refuses the push itself (115).
    "push.send": (lambda s, a: s.push.send(a, {"channels": ["nobody"]}), ONLY_WRITING_MASTER),
    "push.find_audiences": (lambda s, a: s.push.find_audiences(a, {}, QueryOptions(limit=0)), ONLY_MASTER),
    "push.get_audience": (lambda s, a: s.push.get_audience(a, "missing"), ONLY_MASTER),
    "push.create_audience": (lambda s, a: s.push.create_audience(a, {"name": 1}), ONLY_WRITING_MASTER),
    "push.update_audience": (lambda s, a: s.push.update_audience(a, "missing", {}), ONLY_WRITING_MASTER),
    "push.delete_audience": (lambda s, a: s.push.delete_audience(a, "missing"), ONLY_WRITING_MASTER),
    "logs.query": (lambda s, a: _logs(s, a), ONLY_MASTER),
    "analytics.track": (lambda s, a: s.analytics.track(a, "AppOpened", {}), ("ok", "ok", "ok", "ok")),
    "accounts.current_user": (lambda s, a: s.accounts.current_user(a), ("session", "ok", "session", "session")),
    "accounts.current_session": (lambda s, a: s.accounts.current_session(a), ("session", "ok", "session", "session")),
    "objects.delete _User": (lambda s, a: s.objects.delete(a, "_User", "missing"), ("user", "ok", "writer", "ok")),
    "objects.update _User": (lambda s, a: s.objects.update(a, "_User", "missing", {}), ("user", "ok", "writer", "ok")),
    "accounts.log_in_as": (
        lambda s, a: s.accounts.log_in_as(a, "missing"),
        ("forbidden", "forbidden", "writer", "ok"),
    ),
    "objects.find": (
        lambda s, a: s.objects.find(a, "_User", {}, QueryOptions(limit=0)),
        ("ok", "ok", "ok", "ok"),
    ),
}


async def _logs(services: Services, auth: Auth) -> Any:
    from app.domain.recent_logs import LogQuery

    return services.logs.query(auth, LogQuery())


async def _server_info(auth: Auth) -> Any:
    from app.domain.server_info import server_info

    return server_info(auth)


def outcome(error: AppError | None) -> str:
    if error is None:
        return "ok"
    said = f"{error.detail or ''} {error.message}"
    if isinstance(error, MasterKeyRequiredError):
        return "master"
    if "read-only" in said or "readOnlyMasterKey" in said:
        return "writer"
    if isinstance(error, OperationForbiddenError) and error.message == PERMISSION_DENIED:
        return "forbidden"
    if isinstance(error, InvalidSessionTokenError):
        return "session"
    if error.code == 206 and ("Cannot modify user" in said or "to delete user" in said):
        return "user"
    return "ok"  # past the caller's checks: the object or job asked for is not there, or its ACL refuses


@pytest.fixture(scope="module")
async def services_and_callers(
    database_server: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Services, dict[str, Auth]]]:
    from tests.conftest import make_settings, running

    settings = make_settings(
        database_server, "checks", tmp_path_factory.mktemp("checks"), read_only_master_key="read-only-key"
    )
    async with running(settings) as (app, _):
        services: Services = app.state.services
        signed_in = await services.accounts.sign_up(PUBLIC_AUTH, {"username": "checked", "password": "pw"})
        assert signed_in.session_token is not None
        callers = {
            "public": PUBLIC_AUTH,
            "user": await services.authenticator.auth_for(signed_in.session_token, None, PUBLIC_AUTH.origin),
            "read-only": Auth(master=True, read_only=True),
            "master": MASTER,
        }
        yield services, callers


@pytest.mark.parametrize("name", CHECKS)
async def test_each_service_method_checks_its_caller(
    services_and_callers: tuple[Services, dict[str, Auth]], name: str
) -> None:
    services, callers = services_and_callers
    call, expected = CHECKS[name]
    seen = []
    for caller in CALLERS:
        try:
            await call(services, callers[caller])
            seen.append(outcome(None))
        except AppError as error:
            seen.append(outcome(error))
    assert dict(zip(CALLERS, seen, strict=True)) == dict(zip(CALLERS, expected, strict=True))
