"""The push delivery port: what the push service hands a provider's adapter, and what it hears back.

Parse Server calls these push adapters (`send(data, installations)`); here a `PushSender` serves the device
types it names (APNs: ios, osx, tvos; Firebase Cloud Messaging: android, and any type its configuration claims),
and the push service groups the installations by type, resolves each device's payload (its localized alert,
its badge after an increment) and records what each outcome says in `_PushStatus`. Adapters live in storage:
they speak HTTP to the outside world, and the domain never imports a client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeGuard


@dataclass(frozen=True, slots=True)
class PushDevice:
    """One installation as a provider needs it."""

    device_type: str
    device_token: str
    installation_id: str | None = None
    app_identifier: str | None = None
    """The installation's `appIdentifier` (its bundle id): picks the APNs app, and so the topic, as Parse does."""


@dataclass(frozen=True, slots=True)
class PushMessage:
    """What to send to a group of devices that share one payload."""

    data: Mapping[str, Any]
    """Parse's push `data` for these devices: `alert`, `badge` (a number by now, never "Increment"), `sound`,
    `content-available`, `category`, `uri`, `title`, and any custom key, which providers pass through."""
    devices: Sequence[PushDevice]
    expiration_time: float | None = None
    """Seconds since the epoch after which the provider should drop the message; None: the provider's default."""
    push_id: str | None = None
    """The `_PushStatus` objectId, for providers that carry an id (APNs `apns-id` is not it: that must be a UUID)."""


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """What the provider said of one device."""

    device: PushDevice
    sent: bool
    error: str | None = None
    """The provider's reason when not sent (APNs `BadDeviceToken`, FCM `UNREGISTERED`…), for logs and status."""
    unregistered: bool = False
    """The provider says the token will never work again: the installation's deviceToken can be cleared."""


class PushSender(Protocol):
    device_types: frozenset[str]
    """The installations' `deviceType`s this sender delivers to."""

    async def send(self, message: PushMessage) -> list[PushOutcome]:
        """One outcome per device, in order. A refusal for one device is an outcome, not an exception; raise only
        when nothing could be tried (the provider unreachable, its credentials refused), and the service records
        every device of the message as failed with that error."""

    async def close(self) -> None:
        """Release connections; called once at shutdown."""


# What both sides of the port read and write alike -------------------------------------------------------


def is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def json_text(value: Any) -> str:
    """JSON.stringify's output: no spaces, non-ASCII kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
