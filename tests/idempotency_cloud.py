"""The cloud code tests/test_idempotency.py's servers load: a function and a job whose every run leaves an object,
so a test counts how many times each ran."""

from app.cloud import Cloud, FunctionRequest, JobRequest

cloud = Cloud()


@cloud.define("tally")
async def tally(request: FunctionRequest) -> str:
    await request.data.master().create("Tally", {"by": "function"})
    return "counted"


@cloud.job("tally_job")
async def tally_job(request: JobRequest) -> None:
    await request.data.master().create("Tally", {"by": "job"})
