"""Cloud code jobs: started with the master key, run in the background, their runs kept in `_JobStatus`, their
schedules in `_JobSchedule` (which Parse Dashboard's Jobs page reads and writes)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from app.domain.access import require_master, require_writing_master
from app.domain.acl import MASTER, Auth
from app.domain.cloud_data import CloudData
from app.domain.cloud_requests import JobRequest
from app.domain.hooks import HookRegistry, call_handler, request_fields
from app.domain.objects import ObjectService, WriteResult
from app.domain.queries import QueryOptions
from app.domain.values import Record, iso, utc_now
from app.errors import AppError, DatabaseUnavailableError, ScriptFailedError

log = logging.getLogger("app.cloud")


_RETRY_FIRST, _RETRY_MAX = 0.5, 30.0
"""Seconds between tries to record a run's end while the database is unavailable: doubling, up to the second."""


def _names(request: JobRequest) -> tuple[str, str]:
    return request.job_name, request.job_id


class JobRunner:
    """The jobs cloud code defines (none without cloud code), their runs and their schedules: the master key's."""

    def __init__(self, registry: HookRegistry, objects: ObjectService) -> None:
        self.registry = registry
        self.objects = objects
        self._running: set[asyncio.Task[None]] = set()

    def require_access(self, auth: Auth, *, run: bool = False) -> None:
        """The master key; to `run` a job, not the read-only one. A transport asks this before it reads a request's
        body, as Parse refuses the key first."""
        if run:
            require_writing_master(auth, "run a job")
        else:
            require_master(auth)

    async def start(self, auth: Auth, name: Any, params: dict[str, Any]) -> str:
        """Record a run as `running` and start it; its `_JobStatus` id (master key, not read-only)."""
        self.require_access(auth, run=True)
        registration = self.registry.jobs.get(name) if isinstance(name, str) else None
        if registration is None:
            raise ScriptFailedError("Invalid job.")
        saved = await self.objects.create(
            MASTER, "_JobStatus", {"jobName": name, "source": "api", "status": "running", "params": params}
        )
        job_id = str(saved.object["objectId"])
        data = CloudData(self.objects, auth)
        request = JobRequest(**request_fields(name, auth, None, data), job_name=name, job_id=job_id, params=params)
        task = asyncio.get_running_loop().create_task(self._run(registration, request), name=f"job {name}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return job_id

    async def schedules(self, auth: Auth) -> list[Record]:
        """Every job schedule (master key)."""
        self.require_access(auth)
        return (await self.objects.find(auth, "_JobSchedule", {}, QueryOptions())).results

    async def job_data(self, auth: Auth) -> tuple[list[Any], list[str]]:
        """The jobs schedules use, and those cloud code defines (master key)."""
        self.require_access(auth)
        found = await self.objects.find(auth, "_JobSchedule", {}, QueryOptions(keys=("jobName",)))
        return [record.get("jobName") for record in found.results], list(self.registry.jobs)

    async def create_schedule(self, auth: Auth, schedule: dict[str, Any]) -> WriteResult:
        """A new schedule of a job cloud code defines, starting now unless it says when (master key)."""
        self.require_access(auth)
        return await self.objects.create(auth, "_JobSchedule", self._schedule(schedule))

    async def edit_schedule(self, auth: Auth, object_id: str, schedule: dict[str, Any]) -> WriteResult:
        """A schedule changed (master key)."""
        self.require_access(auth)
        return await self.objects.update(auth, "_JobSchedule", object_id, self._schedule(schedule))

    async def delete_schedule(self, auth: Auth, object_id: str) -> None:
        """A schedule removed (master key)."""
        self.require_access(auth)
        await self.objects.delete(auth, "_JobSchedule", object_id)

    def _schedule(self, schedule: dict[str, Any]) -> dict[str, Any]:
        name = schedule.get("jobName")
        if name and name not in self.registry.jobs:
            raise AppError("Cannot Schedule a job that is not deployed", code=1)
        schedule.setdefault("startAfter", iso(utc_now()))
        return schedule

    async def _run(self, registration: Any, request: JobRequest) -> None:
        try:
            result = await call_handler(registration, request)
        except Exception as error:
            log.error("job %s (%s) failed", request.job_name, request.job_id, exc_info=error)
            final: dict[str, Any] = {"status": "failed", "message": str(error) or type(error).__name__}
        else:
            message = request.messages[-1] if request.messages else (str(result) if result is not None else "")
            final = {"status": "succeeded", "message": message} if message else {"status": "succeeded"}
        final["finishedAt"] = utc_now()
        await self._record(request, final)

    async def _record(self, request: JobRequest, final: dict[str, Any]) -> None:
        """Write how a run ended, waiting out a database outage: the run is over, only its record is pending."""
        delay = _RETRY_FIRST
        while True:
            try:
                await self.objects.update(MASTER, "_JobStatus", request.job_id, final)
                return
            except DatabaseUnavailableError:
                if delay == _RETRY_FIRST:
                    log.warning("job %s (%s) ended; its status is written once the database is back", *_names(request))
            except AppError as error:
                log.error("job %s (%s) ended; writing its status failed: %s", *_names(request), error.message)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX)

    async def wait(self) -> None:
        """Let running jobs finish (shutdown)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
