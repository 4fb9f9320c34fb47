"""The push senders Parse's `push` option describes: one per provider it configures, each serving its device types.

Parse's option names device types as keys (`android`, `fcm`, `ios`, `osx`, `tvos`, `watchos`, `web`, `expo`), each
holding that provider's settings; a key Parse does not know is refused, as Parse refuses it at start. Android (and
`fcm`) goes to Firebase Cloud Messaging with `firebaseServiceAccount`; the Apple types go to APNs, or to FCM when
their part names a `firebaseServiceAccount` too, as in Parse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.push import PUSH_TYPES
from app.domain.push_delivery import PushSender
from app.storage.push_apns import ApnsConfigError, ApnsSender
from app.storage.push_fcm import FcmConfigError, FcmSender

APPLE_TYPES = ("ios", "osx", "tvos", "watchos")
FCM_TYPES = ("android", "fcm")


class PushConfigError(ValueError):
    """The push option cannot be used; the message names the part and why."""


def queue_options(config: Mapping[str, Any]) -> tuple[int | None, bool]:
    """Parse's `push.queueOptions`: the installations read at a time (`batchSize`), and whether this instance
    sends at all (`disablePushWorker`: it records pushes, and another instance sends them)."""
    options = config.get("queueOptions") or {}
    if not isinstance(options, Mapping):
        raise PushConfigError("push: queueOptions must be an object")
    size = options.get("batchSize")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 1):
        raise PushConfigError("push: queueOptions.batchSize must be a positive whole number")
    return size, bool(options.get("disablePushWorker"))


def push_senders(config: Mapping[str, Any], *, fcm_url: str | None = None) -> list[PushSender]:
    """The senders for `config` (Parse's push option); none for an empty one. `fcm_url` replaces FCM's address
    (a proxy, or a local server in tests)."""
    for key in config:
        if key == "queueOptions":
            continue  # how the pushes are sent, not where (the composition reads it)
        if key == "adapter":
            raise PushConfigError(
                "push: adapter names a JavaScript module; ParseQL's providers are built in "
                "(android and fcm: Firebase Cloud Messaging; ios, osx, tvos, watchos: APNs)"
            )
        if key not in PUSH_TYPES:
            raise PushConfigError(f"push: push to {key} is not supported")
        # An Apple key may also list several apps (production and development), as Parse takes them.
        listed = key in APPLE_TYPES and isinstance(config[key], list)
        if not isinstance(config[key], Mapping) and not listed:
            raise PushConfigError(f"push: {key} must be an object of that provider's settings")
    senders: list[PushSender] = []
    fcm = [key for key in FCM_TYPES if key in config]
    if fcm:
        settings = config[fcm[0]]
        if "firebaseServiceAccount" not in settings:
            raise PushConfigError(f"push: {fcm[0]} needs firebaseServiceAccount (Firebase Cloud Messaging)")
        try:
            senders.append(FcmSender(settings, frozenset(fcm), base_url=fcm_url))
        except FcmConfigError as error:
            raise PushConfigError(f"push: {fcm[0]}: {error}") from None
    for key in APPLE_TYPES:
        if key not in config:
            continue
        if isinstance(config[key], Mapping) and "firebaseServiceAccount" in config[key]:
            # Parse sends Apple devices through FCM when their part names a service account.
            try:
                senders.append(FcmSender(config[key], frozenset({key}), apple=True, base_url=fcm_url))
            except FcmConfigError as error:
                raise PushConfigError(f"push: {key}: {error}") from None
            continue
        try:
            senders.append(ApnsSender(config[key], frozenset({key})))
        except ApnsConfigError as error:
            raise PushConfigError(f"push: {key}: {error}") from None
    return senders
