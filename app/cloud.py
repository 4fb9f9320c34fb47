"""The API cloud code imports: hooks, functions and jobs registered on a `Cloud`, and `CloudError` to refuse.

    from app.cloud import Cloud, CloudError

    cloud = Cloud()

    @cloud.before_save("Order")
    async def check_total(request):
        if request.object.get("total", 0) < 0:
            raise CloudError("total cannot be negative")

    @cloud.define("hello")
    def hello(request):
        return f"Hello, {request.params.get('name') or 'world'}!"

File hooks register on the class `"@File"` (`@cloud.before_save("@File")`), as Parse's `Parse.File` ones, and
Parse Config's on `"@Config"` (`@cloud.before_save("@Config")`, `@cloud.after_save("@Config")`).
Analytics events (`/parse/events/<name>`) reach `@cloud.app_opened()` and `@cloud.track_event("<name>")`, and a
handler's `request.log` writes to the server's log, which Parse Dashboard's Logs page shows.
Handlers may be `async def` or plain functions (those run in a worker thread). The server loads the
file named by `--cloud` (default `cloud/main.py`) at start and uses every `Cloud` it defines.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from app.domain.analytics import ANY_EVENT, EVENTS_CLASS
from app.domain.cloud_requests import (
    CloudError,
    CloudObject,
    CloudQuery,
    EmailRequest,
    EventRequest,
    Field,
    FileInfo,
    FileRequest,
    FindRequest,
    FunctionRequest,
    JobRequest,
    LiveQueryRequest,
    ObjectRequest,
    Request,
    Validator,
)
from app.domain.hooks import HookRegistry, Registration
from app.domain.rate_limits import cloud_rule

__all__ = [
    "Cloud",
    "CloudError",
    "CloudObject",
    "CloudQuery",
    "EmailRequest",
    "EventRequest",
    "Field",
    "FileInfo",
    "FileRequest",
    "FindRequest",
    "FunctionRequest",
    "JobRequest",
    "LiveQueryRequest",
    "ObjectRequest",
    "Request",
    "Validator",
]

F = TypeVar("F", bound=Callable[..., Any])
_SYSTEM_NAMES = {"User": "_User", "Role": "_Role", "Session": "_Session", "Installation": "_Installation"}


class Cloud:
    """A set of registrations; decorate handlers with its methods."""

    def __init__(self) -> None:
        self.registry = HookRegistry()

    # Functions and jobs --------------------------------------------------------------------------------

    def define(
        self, name: str | None = None, *, graphql: str | None = None, validator: Validator | None = None, **rules: Any
    ) -> Callable[[F], F]:
        """A function, called with `POST /parse/functions/<name>` or GraphQL `callCloudCode`.

        With `graphql="query"` or `"mutation"`, a function whose parameters after `request` have type hints
        is also a GraphQL field of its own, with those arguments and its return type.
        """
        if graphql not in (None, "query", "mutation"):
            raise ValueError('graphql must be "query" or "mutation"')

        def register(handler: F) -> F:
            self.registry.functions[name or handler.__name__] = _registration(handler, validator, rules, graphql)
            return handler

        return register

    def job(self, name: str | None = None) -> Callable[[F], F]:
        """A job, started with `POST /parse/jobs/<name>` and the master key; its runs are kept in `_JobStatus`."""

        def register(handler: F) -> F:
            self.registry.jobs[name or handler.__name__] = Registration(handler)
            return handler

        return register

    # Object triggers ------------------------------------------------------------------------------------

    def before_save(self, class_name: str, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("before_save", class_name, validator, rules)

    def after_save(self, class_name: str, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("after_save", class_name, validator, rules)

    def before_delete(self, class_name: str, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("before_delete", class_name, validator, rules)

    def after_delete(self, class_name: str, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("after_delete", class_name, validator, rules)

    def before_find(self, class_name: str, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("before_find", class_name, validator, rules)

    def after_find(self, class_name: str, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("after_find", class_name, validator, rules)

    # Accounts -------------------------------------------------------------------------------------------

    def before_login(self, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("before_login", "_User", validator, rules)

    def after_login(self, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("after_login", "_User", validator, rules)

    def after_logout(self, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("after_logout", "_Session", validator, rules)

    def before_password_reset_request(self, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("before_password_reset_request", "_User", validator, rules)

    def verify_user_emails(self, handler: F) -> F:
        """Parse's `verifyUserEmails` as a function: called with an `EmailRequest` when a sign-up or an email change
        sets an address and when a verification link is asked for again; `True` means the address must be verified
        (a link is mailed). It replaces the `verify_user_emails` setting. Use it bare: `@cloud.verify_user_emails`."""
        self.registry.policies["verify_user_emails"] = _registration(handler, None, {}, None)
        return handler

    def prevent_login_with_unverified_email(self, handler: F) -> F:
        """Parse's `preventLoginWithUnverifiedEmail` as a function: called with an `EmailRequest` on a sign-up and a
        password log-in, after `verify_user_emails` said `True`; `True` means no session until the address is
        verified. It replaces the `prevent_login_with_unverified_email` setting."""
        self.registry.policies["prevent_login_with_unverified_email"] = _registration(handler, None, {}, None)
        return handler

    def password_validator(self, handler: F) -> F:
        """Parse's `passwordPolicy.validatorCallback`: called with each new password (sign-up, change, reset) after
        the `password_pattern`; a false answer refuses it with code 142 and `password_pattern_error` (or Parse's
        default message). Use it bare: `@cloud.password_validator`."""
        self.registry.policies["password_validator"] = _registration(handler, None, {}, None)
        return handler

    # Live queries ---------------------------------------------------------------------------------------

    def before_connect(self, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("before_connect", "@Connect", validator, rules)

    def before_subscribe(
        self, class_name: str, *, validator: Validator | None = None, **rules: Any
    ) -> Callable[[F], F]:
        return self._trigger("before_subscribe", class_name, validator, rules)

    def after_event(self, class_name: str, *, validator: Validator | None = None, **rules: Any) -> Callable[[F], F]:
        return self._trigger("after_event", class_name, validator, rules)

    # Analytics ------------------------------------------------------------------------------------------

    def app_opened(self) -> Callable[[F], F]:
        """`POST /parse/events/AppOpened`, which the SDKs send when the app opens (Parse's analytics adapter's
        `appOpened`): the handler gets an `EventRequest`; the client is answered `{}` whatever it does."""
        return self._event("app_opened", EVENTS_CLASS)

    def track_event(self, name: str | None = None) -> Callable[[F], F]:
        """A custom event, `POST /parse/events/<name>` (`Parse.Analytics.track(name, dimensions)`; the adapter's
        `trackEvent`); without a name, every custom event that has no handler of its own."""
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError("track_event needs an event name, or none for every event")
        return self._event("track_event", f"{EVENTS_CLASS}:{name or ANY_EVENT}")

    def _event(self, trigger: str, key: str) -> Callable[[F], F]:
        def register(handler: F) -> F:
            self.registry.triggers[(trigger, key)] = _registration(handler, None, {}, None)
            return handler

        return register

    def _trigger(
        self, trigger: str, class_name: str, validator: Validator | None, rules: Mapping[str, Any]
    ) -> Callable[[F], F]:
        if not isinstance(class_name, str) or not class_name:
            raise TypeError(f"{trigger} needs a class name")
        class_name = _SYSTEM_NAMES.get(class_name, class_name)
        if class_name == "_Session" and trigger != "after_logout":
            raise ValueError("Only the after_logout trigger is allowed for the _Session class.")
        if class_name == "@Config" and trigger not in ("before_save", "after_save"):
            raise ValueError("Parse Config has only the before_save and after_save triggers.")

        def register(handler: F) -> F:
            self.registry.triggers[(trigger, class_name)] = _registration(handler, validator, rules, None)
            return handler

        return register


def _registration(
    handler: Callable[..., Any], validator: Validator | None, rules: Mapping[str, Any], graphql: str | None
) -> Registration:
    if not callable(handler):
        raise TypeError("a cloud handler must be a function")
    if rules:
        if validator is not None:
            raise TypeError("give either validator= or validation keywords, not both")
        fields = rules.get("fields", ())
        if isinstance(fields, Mapping):
            fields = {name: spec if isinstance(spec, Field) else Field(**spec) for name, spec in fields.items()}
        elif isinstance(fields, list | tuple):
            fields = tuple(fields)
        validator = Validator(**{**rules, "fields": fields})
    if validator is not None and validator.rate_limit is not None:
        cloud_rule(validator.rate_limit, getattr(handler, "__name__", "handler"))  # a bad limit fails the import
    return Registration(handler, validator, None, graphql)


def merge(clouds: list[Cloud]) -> HookRegistry:
    """One registry from every `Cloud` of the cloud code (later registrations win, as in Parse)."""
    registry = HookRegistry()
    for cloud in clouds:
        registry.triggers.update(cloud.registry.triggers)
        registry.functions.update(cloud.registry.functions)
        registry.jobs.update(cloud.registry.jobs)
        registry.policies.update(cloud.registry.policies)
    return registry
