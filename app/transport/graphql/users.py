"""Users and sessions: `viewer`, `signUp`, `logInWith`, `logIn`, `logOut`, the emailed password reset and address
verification, and `challenge`, with Parse Server's names and shapes (present when the schema has `_User`)."""

from __future__ import annotations

import json
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from app.domain.account_mail import ResetLinkError
from app.domain.acl import Auth
from app.domain.encoding import decode_object
from app.domain.queries import QueryOptions
from app.errors import AppError, InvalidSessionTokenError, ObjectNotFoundError, denied
from app.transport.graphql.class_types import ClassTypes, TypesByClass
from app.transport.graphql.inputs import string_input
from app.transport.graphql.mutations import fields_to_parse
from app.transport.graphql.relay import relay_mutation
from app.transport.graphql.request import Info, Resolving, keys_and_include, node, selected_paths
from app.transport.graphql.scalars import OBJECT


def viewer_type(user: ClassTypes) -> GraphQLObjectType:
    """`Viewer`: what `viewer` and every sign-in answer."""
    return GraphQLObjectType(
        "Viewer",
        {
            "sessionToken": GraphQLField(GraphQLNonNull(GraphQLString), description="The session's token."),
            "user": GraphQLField(GraphQLNonNull(user.output), description="The signed-in user."),
        },
        description="The signed-in user and their session.",
    )


async def _viewer_value(info: Info, auth: Auth, prefix: str, *, fresh: bool = False) -> dict[str, Any]:
    """`Viewer {sessionToken, user}`, reading the user with the selected keys, as the user themself (the account
    service refuses a caller without a session)."""
    paths = [path[len(prefix) :] for path in selected_paths(info) if path.startswith(prefix)]
    if fresh and not paths:
        return {"sessionToken": auth.session_token}
    keys, include = keys_and_include(paths)
    user = await info.context.services.accounts.current_user(auth, QueryOptions(keys=keys, include=include))
    return {"sessionToken": auth.session_token, "user": node(user, "_User")}


async def _viewer(root: Any, info: Info) -> dict[str, Any]:
    return await _viewer_value(info, info.context.auth, "user.")


def _denied_session() -> AppError:
    return denied(InvalidSessionTokenError, "Invalid session token")


def _user_mutation(build: Any) -> Any:
    async def resolve(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        signed_in = await build(info.context, input)
        if signed_in.session_token is None:
            raise _denied_session()  # a sign-up held back until the email is verified, as Parse answers it
        auth = info.context.auth.signed_in_as(signed_in.user_id, signed_in.session_token)
        return {"viewer": await _viewer_value(info, auth, "viewer.user.", fresh=True)}

    return resolve


def _sign_up(classes: TypesByClass) -> Any:
    async def sign_up(context: Resolving, input: dict[str, Any]) -> Any:
        fields = await fields_to_parse(context, classes["_User"], classes, input.get("fields"))
        return await context.services.accounts.sign_up(context.auth, decode_object(fields))

    return sign_up


async def _log_in(context: Resolving, input: dict[str, Any]) -> Any:
    if input.get("authData"):
        raise _unsupported_auth()
    return await context.services.accounts.log_in(context.auth, input.get("username"), None, input.get("password"))


def _log_in_with(classes: TypesByClass) -> Any:
    async def log_in_with(context: Resolving, input: dict[str, Any]) -> Any:
        fields = await fields_to_parse(context, classes["_User"], classes, input.get("fields"))
        fields["authData"] = input["authData"]
        return await context.services.accounts.sign_up(context.auth, decode_object(fields))

    return log_in_with


def _unsupported_auth() -> AppError:
    return AppError("This authentication method is unsupported.", code=252)


async def _log_out(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    await context.services.accounts.log_out(context.auth)
    return {"ok": True}


async def _reset_password(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    try:
        await info.context.services.mail.request_password_reset(input.get("email"), info.context.auth.origin)
    except AppError as error:
        raise GraphQLError(error.message) from None  # Parse lets these through as plain errors, without a code
    return {"ok": True}


async def _confirm_reset_password(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    if not input.get("password"):
        raise AppError("you must provide a password", code=201)
    if not input.get("token"):
        raise AppError("you must provide a token", code=-1)
    try:
        await info.context.services.mail.reset_password(input["token"], input["password"], info.context.auth.origin)
    except ResetLinkError as error:
        # Parse rejects with a bare string here, which graphql-js reports in these words.
        raise GraphQLError(f"Unexpected error value: {json.dumps(error.message)}") from None
    return {"ok": True}


async def _send_verification_email(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    await info.context.services.mail.request_verification_email(input.get("email"), info.context.auth)
    return {"ok": True}


async def _challenge(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    if input.get("username"):
        if not input.get("password"):
            raise AppError("You provided username or email, you need to also provide password.", code=-1)
        await context.services.accounts.authenticate(context.auth, input["username"], None, input["password"])
    if not input.get("challengeData"):
        raise AppError("Nothing to challenge.", code=-1)
    if input.get("authData"):
        raise ObjectNotFoundError("User not found.")  # no auth provider is configured to find the user
    return {"challengeData": {}}  # no provider is configured to answer


# The fields -------------------------------------------------------------------------------------------------


def _ok_payload() -> dict[str, GraphQLField]:
    return {"ok": GraphQLField(GraphQLNonNull(GraphQLBoolean), description="Always true.")}


def queries(viewer: GraphQLObjectType) -> dict[str, GraphQLField]:
    return {"viewer": GraphQLField(GraphQLNonNull(viewer), description="The signed-in user.", resolve=_viewer)}


def mutations(user: ClassTypes, viewer: GraphQLObjectType, classes: TypesByClass) -> dict[str, GraphQLField]:
    answer = {"viewer": GraphQLField(GraphQLNonNull(viewer), description="The signed-in user.")}
    login_with_fields = GraphQLInputObjectType(
        "UserLoginWithInput",
        lambda: {
            name: field
            for name, field in user.create_fields.fields.items()
            if name not in ("username", "password", "authData")
        },
        description="Fields of a new user.",
    )
    return {
        "signUp": relay_mutation(
            "SignUp",
            {
                "fields": GraphQLInputField(user.create_fields, description="The new user's fields."),
            },
            answer,
            _user_mutation(_sign_up(classes)),
            "Creates a user and signs them in.",
        ),
        "logInWith": relay_mutation(
            "LogInWith",
            {
                "authData": GraphQLInputField(GraphQLNonNull(OBJECT), description="What the auth providers answered."),
                "fields": GraphQLInputField(login_with_fields, description="Fields of a new user."),
            },
            answer,
            _user_mutation(_log_in_with(classes)),
            "Signs in or up with an auth provider.",
        ),
        "logIn": relay_mutation(
            "LogIn",
            {
                "username": string_input("The username."),
                "password": string_input("The password."),
                "authData": GraphQLInputField(OBJECT, description="Data for auth providers the login requires."),
            },
            answer,
            _user_mutation(_log_in),
            "Signs a user in with a password.",
        ),
        "logOut": relay_mutation("LogOut", {}, _ok_payload(), _log_out, "Ends the caller's session."),
        "resetPassword": relay_mutation(
            "ResetPassword",
            {"email": string_input("The user's email.")},
            _ok_payload(),
            _reset_password,
            "Emails a password reset link.",
        ),
        "confirmResetPassword": relay_mutation(
            "ConfirmResetPassword",
            {
                "username": string_input("The username."),
                "password": string_input("The new password."),
                "token": string_input("The token from the reset email."),
            },
            _ok_payload(),
            _confirm_reset_password,
            "Sets a new password with a reset token.",
        ),
        "sendVerificationEmail": relay_mutation(
            "SendVerificationEmail",
            {"email": string_input("The user's email.")},
            _ok_payload(),
            _send_verification_email,
            "Emails an address verification link again.",
        ),
        "challenge": relay_mutation(
            "Challenge",
            {
                "username": string_input("The username.", required=False),
                "password": string_input("The password.", required=False),
                "authData": GraphQLInputField(OBJECT, description="Identifies the user to auth providers."),
                "challengeData": GraphQLInputField(OBJECT, description="What to send each auth provider."),
            },
            {"challengeData": GraphQLField(OBJECT, description="What the auth providers answered.")},
            _challenge,
            "Asks auth providers for a challenge.",
        ),
    }
