"""Cloud code for the cloud code tests: loaded by the server from this file, as a user's cloud/main.py would be.

Every hook writes what it saw to `HookLog` (with the master key), so the tests read through the REST API
which hooks ran, in which order, and with what.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from app.cloud import (
    Cloud,
    CloudError,
    CloudQuery,
    Field,
    FileRequest,
    FindRequest,
    FunctionRequest,
    JobRequest,
    LiveQueryRequest,
    ObjectRequest,
)

cloud = Cloud()


async def log(request: Any, what: str, **details: Any) -> None:
    await request.data.master().create("HookLog", {"what": what, **details})


# Saves and deletes ---------------------------------------------------------------------------------------


@cloud.before_save("Tracked")
async def before_tracked(request: ObjectRequest) -> None:
    await log(request, "beforeSave", dirty=sorted(request.object.dirty_keys()), existed=request.object.existed())
    if request.object.get("name") == "refuse":
        raise CloudError("names like that are refused", code=142)
    if request.object.get("name") == "crash":
        raise RuntimeError("the hook broke")
    request.object.set("stamped", True)
    request.object.increment("saves")
    request.object.unset("scratch")
    if request.object.dirty("secret"):
        request.object.set("secret", request.object.get("secret").upper())


@cloud.after_save("Tracked")
async def after_tracked(request: ObjectRequest) -> None:
    original = request.original.get("name") if request.original else None
    await log(request, "afterSave", name=request.object.get("name"), original=original)
    if request.object.get("name") == "after fails":
        raise CloudError("too late to refuse")


@cloud.before_delete("Tracked")
def before_tracked_delete(request: ObjectRequest) -> None:  # a plain function: runs in a worker thread
    if request.object.get("name") == "keep":
        raise CloudError("this one stays")


@cloud.after_delete("Tracked")
async def after_tracked_delete(request: ObjectRequest) -> None:
    await log(request, "afterDelete", name=request.object.get("name"))


# Finds -------------------------------------------------------------------------------------------------


@cloud.before_find("Shelf")
def only_public_shelves(request: FindRequest) -> CloudQuery:
    query = request.query
    query.where = {"$and": [query.where, {"public": True}]} if query.where else {"public": True}
    return query


@cloud.after_find("Shelf")
def mark_shelves(request: FindRequest) -> list[Any]:
    for shelf in request.objects:
        shelf.set("seen", True)
    return request.objects


# Accounts ------------------------------------------------------------------------------------------------


@cloud.before_login()
def refuse_banned(request: ObjectRequest) -> None:
    if request.object.get("banned"):
        raise CloudError("banned users may not log in", code=101)


@cloud.after_login()
async def after_login(request: ObjectRequest) -> None:
    await log(request, "afterLogin", username=request.object.get("username"))


@cloud.after_logout()
async def after_logout(request: ObjectRequest) -> None:
    await log(request, "afterLogout", user=request.object.get("user"))


# Functions -----------------------------------------------------------------------------------------------


@cloud.define("echo")
def echo(request: FunctionRequest) -> dict[str, Any]:
    when = request.params.get("when")
    return {
        "params": {key: value for key, value in request.params.items() if key != "when"},
        "when_is_a_date": isinstance(when, datetime),
        "master": request.master,
        "user": request.user.id if request.user else None,
        "context": request.context,
    }


@cloud.define("newest_tracked")
async def newest_tracked(request: FunctionRequest) -> Any:
    found = await request.data.master().find("Tracked", order=["-createdAt"], limit=1)
    return found[0] if found else None


@cloud.define("nothing")
def nothing(request: FunctionRequest) -> None:
    return None


@cloud.define("members_only", require_user=True)
def members_only(request: FunctionRequest) -> str:
    return "welcome"


@cloud.define("admins_only", require_master=True)
def admins_only(request: FunctionRequest) -> str:
    return "hello, admin"


@cloud.define(
    "order_pizza",
    fields={
        "size": Field(type="String", required=True, options=("small", "large")),
        "count": Field(type="Number", default=1),
    },
)
def order_pizza(request: FunctionRequest) -> str:
    return f"{request.params['count']} {request.params['size']}"


@cloud.define("limited", rate_limit=(2, 60.0))
def limited(request: FunctionRequest) -> str:
    return "ok"


@cloud.define("slow")
def slow(request: FunctionRequest) -> str:
    time.sleep(1.0)  # blocking on purpose: it runs in a worker thread, not on the server's loop
    return "done"


@cloud.define("add", graphql="query")
def add(request: FunctionRequest, a: int, b: int = 1) -> int:
    """Adds two numbers."""
    return a + b


@cloud.define("shout", graphql="mutation")
async def shout(request: FunctionRequest, words: list[str], suffix: str | None = None) -> str:
    return " ".join(word.upper() for word in words) + (suffix or "")


# Jobs ----------------------------------------------------------------------------------------------------


@cloud.job("count_tracked")
async def count_tracked(request: JobRequest) -> None:
    count = await request.data.master().count("Tracked")
    request.message(f"{count} tracked objects")


@cloud.job("broken")
def broken(request: JobRequest) -> None:
    raise ValueError("nothing to do")


# Live queries --------------------------------------------------------------------------------------------


@cloud.before_connect()
def refuse_strangers(request: LiveQueryRequest) -> None:
    if request.installation_id == "stranger":
        raise CloudError("strangers may not connect", code=141)
    if request.headers.get("x-marker") == "unwelcome":
        raise CloudError("unwelcome markers may not connect", code=141)


@cloud.before_subscribe("Feed")
def only_published(request: LiveQueryRequest) -> None:
    assert request.query is not None
    if request.query.where.get("draft"):
        raise CloudError("drafts are private")
    request.query.where = {**request.query.where, "published": True}


@cloud.after_event("Feed")
def hide_or_label(request: LiveQueryRequest) -> None:
    assert request.object is not None
    if request.object.get("muted"):
        request.send_event = False
    else:
        request.object.set("label", f"{request.event}!")


@cloud.before_password_reset_request()
def no_reset_when_frozen(request: ObjectRequest) -> None:
    if request.object.get("frozen"):
        raise CloudError("this account cannot reset its password")


@cloud.after_find("Vault")
def put_back_the_secret(request: FindRequest) -> list[Any]:
    for vault in request.objects:
        vault.set("secret", "from the hook")
    return request.objects


@cloud.before_save("@File")
def check_upload(request: FileRequest) -> None:
    if request.file.name.startswith("forbidden"):
        raise CloudError("no forbidden files")
    request.file.metadata["checked"] = "yes"
    if request.file.name.startswith("filed"):
        request.file.directory = f"by-hook/{request.file.directory or 'none'}"
    if request.file.name.startswith("misfiled"):
        request.file.directory = "../up"
    if "x-marker" in request.headers:
        request.file.metadata["marker"] = request.headers["x-marker"]


@cloud.after_save("@File")
async def log_upload(request: FileRequest) -> None:
    await log(request, "afterSaveFile", size=request.file.size, type=request.file.content_type)


@cloud.before_delete("@File")
def keep_kept_files(request: FileRequest) -> None:
    if "_kept" in request.file.name:
        raise CloudError("this file stays")


@cloud.after_delete("@File")
async def log_file_delete(request: FileRequest) -> None:
    await log(request, "afterDeleteFile")


@cloud.before_save("@Config")
async def check_config(request: ObjectRequest) -> None:
    config, original = request.object, request.original
    await log(
        request,
        "beforeSaveConfig",
        changed=sorted(config.dirty_keys()),
        new=config.to_dict(),
        master=request.master,
        **({"old": original.to_dict()} if original is not None else {}),
    )
    if config.get("maintenance") == "forever":
        raise CloudError("maintenance cannot last forever", code=142)
    if config.dirty("greeting"):
        config.set("greeting", str(config.get("greeting")).strip())
    if config.get("bad") == "op":
        config.increment("counter")


@cloud.after_save("@Config")
async def log_config(request: ObjectRequest) -> None:
    original = request.original
    await log(
        request,
        "afterSaveConfig",
        new=request.object.to_dict(),
        **({"old": original.to_dict()} if original is not None else {}),
    )
    if request.object.get("greeting") == "crash after":
        raise RuntimeError("after save broke")


@cloud.before_save("Note")
def own_note(request: ObjectRequest) -> None:
    if request.user is not None:
        request.object.set("owner", request.user)  # an object set in a field is stored as a pointer to it


# Where a request came from: each hook must see its own request's headers and address, never another's ----------


@cloud.before_save("Marked")
def mark_what_the_save_saw(request: ObjectRequest) -> None:
    request.object.set("sawMarker", request.headers.get("x-marker"))
    request.object.set("sawInitMarker", request.headers.get("x-init-marker"))
    request.object.set("sawMasterKey", "x-parse-master-key" in request.headers)
    request.object.set("sawIp", request.ip)


@cloud.define("whoami")
def whoami(request: FunctionRequest) -> dict[str, Any]:
    return {"marker": request.headers.get("x-marker"), "ip": request.ip, "context": request.context}


@cloud.before_subscribe("Marked")
def refuse_refused_markers(request: LiveQueryRequest) -> None:
    if request.headers.get("x-marker") == "refused":
        raise CloudError("this marker may not subscribe")


@cloud.after_event("Marked")
def tell_who_is_told(request: LiveQueryRequest) -> None:
    assert request.object is not None
    request.object.set("seenBy", request.headers.get("x-marker"))
    request.object.set("seenMasterKey", "x-parse-master-key" in request.headers)
