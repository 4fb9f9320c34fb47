"""Webhooks over REST: `/hooks/functions` and `/hooks/triggers`, as Parse Dashboard's Webhooks page calls them."""

from __future__ import annotations

from typing import Any

from app.domain.webhooks import Webhook
from app.transport.rest.router import RestCall, RestResponse


def _written(hook: Webhook) -> dict[str, Any]:
    """A hook as Parse answers one it has just written (a trigger's URL before its trigger name)."""
    if hook.function_name is not None:
        return {"functionName": hook.function_name, "url": hook.url}
    return {"className": hook.class_name, "url": hook.url, "triggerName": hook.trigger_name}


def _named(call: RestCall) -> dict[str, Any]:
    """The hook the path names."""
    if "function_name" in call.params:
        return {"functionName": call.params["function_name"]}
    return {"className": call.params["class_name"], "triggerName": call.params["trigger_name"]}


async def list_functions(call: RestCall) -> RestResponse:
    return RestResponse([hook.to_json() for hook in await call.services.webhooks.functions(call.auth)])


async def list_triggers(call: RestCall) -> RestResponse:
    return RestResponse([hook.to_json() for hook in await call.services.webhooks.triggers(call.auth)])


async def get_function(call: RestCall) -> RestResponse:
    return RestResponse((await call.services.webhooks.function(call.auth, call.params["function_name"])).to_json())


async def get_trigger(call: RestCall) -> RestResponse:
    hook = await call.services.webhooks.trigger(call.auth, call.params["class_name"], call.params["trigger_name"])
    return RestResponse(hook.to_json())


async def create_hook(call: RestCall) -> RestResponse:
    """Either route takes either kind of declaration, as in Parse."""
    webhooks = call.services.webhooks
    webhooks.require_access(call.auth, change="create a hook")  # before the body, as Parse refuses the key first
    return RestResponse(_written(await webhooks.create(call.auth, call.json_body())))


async def change_hook(call: RestCall) -> RestResponse:
    """A new URL, or `{"__op": "Delete"}` to remove the hook (how Parse's SDKs and Dashboard delete one)."""
    webhooks = call.services.webhooks
    webhooks.require_access(call.auth, change="modify a hook")
    body = call.json_body()
    if body.get("__op") == "Delete":
        await webhooks.delete(call.auth, _named(call))
        return RestResponse({})
    return RestResponse(_written(await webhooks.update(call.auth, {**_named(call), "url": body.get("url")})))


async def delete_hook(call: RestCall) -> RestResponse:
    """Beyond Parse, which has no DELETE route here: the same as `{"__op": "Delete"}`."""
    await call.services.webhooks.delete(call.auth, _named(call))
    return RestResponse({})
