"""What this server offers Parse Dashboard: the features it implements and the Parse Server release whose REST API
it speaks, for the master key."""

from __future__ import annotations

from typing import Any

from app.domain.access import require_master
from app.domain.acl import Auth

COMPATIBLE_VERSION = "9.10.0"
"""The Parse Server release whose REST API this server speaks; Dashboard gates features on it."""


def server_info(auth: Auth, *, push: bool = False) -> tuple[dict[str, Any], str]:
    """The features (only what this server does: Dashboard hides the pages of features marked false) and the
    compatible version (master key); the push features when `push` is configured."""
    require_master(auth)
    features: dict[str, Any] = {
        "globalConfig": {"create": True, "read": True, "update": True, "delete": True},
        "hooks": {"create": True, "read": True, "update": True, "delete": True},
        "cloudCode": {"jobs": True},
        "logs": {"level": True, "size": True, "order": True, "until": True, "from": True},
        "push": {
            "immediatePush": push,
            "scheduledPush": push,
            "storedPushData": push,
            "pushAudiences": push,
            "localization": push,
        },
        "schemas": {
            "addField": True,
            "removeField": True,
            "addClass": True,
            "removeClass": True,
            "clearAllDataFromClass": True,
            "exportClass": False,
            "editClassLevelPermissions": True,
            "editPointerPermissions": True,
        },
        "settings": {"securityCheck": False},
    }
    return features, COMPATIBLE_VERSION
