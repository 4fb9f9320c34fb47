"""`/health` and `/serverInfo`: whether the server is up, and what it offers Parse Dashboard."""

from __future__ import annotations

from app.transport.rest.router import RestCall, RestResponse
from app.transport.rest.schemas import require_master

COMPATIBLE_VERSION = "9.10.0"
"""The Parse Server release whose REST API this server speaks; Dashboard gates features on it."""


async def health(call: RestCall) -> RestResponse:
    return RestResponse({"status": "ok"})


async def server_info(call: RestCall) -> RestResponse:
    require_master(call)
    # Only what this server does: Dashboard hides the pages of features marked false.
    features = {
        "globalConfig": {"create": True, "read": True, "update": True, "delete": True},
        "hooks": {"create": False, "read": False, "update": False, "delete": False},
        "cloudCode": {"jobs": True},
        "logs": {"level": False, "size": False, "order": False, "until": False, "from": False},
        "push": {
            "immediatePush": False,
            "scheduledPush": False,
            "storedPushData": False,
            "pushAudiences": False,
            "localization": False,
        },
        "schemas": {
            "addField": True,
            "removeField": True,
            "addClass": True,
            "removeClass": True,
            "clearAllDataFromClass": False,
            "exportClass": False,
            "editClassLevelPermissions": True,
            "editPointerPermissions": True,
        },
        "settings": {"securityCheck": False},
    }
    return RestResponse({"features": features, "parseServerVersion": COMPATIBLE_VERSION})
