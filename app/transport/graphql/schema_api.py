"""The operations every schema has besides the per-class ones: health, users and sessions, Parse Config, and
the class schemas themselves (`class`, `classes`, `createClass`…), with Parse Server's names and shapes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLError,
    GraphQLField,
    GraphQLInputField,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLString,
)

from app.domain.account_mail import ResetLinkError
from app.domain.classes import ClassSchema
from app.domain.encoding import decode_object
from app.domain.queries import QueryOptions
from app.domain.schemas import KEEP
from app.errors import (
    AppError,
    DatabaseUnavailableError,
    InvalidKeyNameError,
    InvalidSessionTokenError,
    ObjectNotFoundError,
    OperationForbiddenError,
    denied,
)
from app.transport.graphql import functions, outputs
from app.transport.graphql.mutations import fields_to_parse as object_fields_to_parse
from app.transport.graphql.mutations import store_upload
from app.transport.graphql.relay import relay_mutation
from app.transport.graphql.request import Context, Info, keys_and_include, node, selected_paths
from app.transport.graphql.scalars import OBJECT, UPLOAD

if TYPE_CHECKING:
    from app.transport.graphql.builder import SchemaBuilder

# Class schemas --------------------------------------------------------------------------------------------

# Parse type → the name GraphQL gives it in `Schema<Name>Field` and `add<Name>s`.
_SCHEMA_FIELD_KINDS = ("String", "Number", "Boolean", "Array", "Object", "Date", "File", "GeoPoint", "Polygon", "Bytes")


def _name_field(description: str = "The field's name.") -> GraphQLField:
    return GraphQLField(GraphQLNonNull(GraphQLString), description=description)


def _name_input(description: str = "The field's name.") -> GraphQLInputField:
    return GraphQLInputField(GraphQLNonNull(GraphQLString), description=description)


def _schema_field_type(value: Mapping[str, Any], info: Info, abstract: Any) -> str:
    kind = value["type"]
    if kind in ("Pointer", "Relation"):
        return f"Schema{kind}Field"
    return f"Schema{kind}Field" if kind in _SCHEMA_FIELD_KINDS or kind == "ACL" else "SchemaStringField"


SCHEMA_FIELD = GraphQLInterfaceType(
    "SchemaField", {"name": _name_field()}, resolve_type=_schema_field_type, description="A field of a class schema."
)
SCHEMA_FIELD_INPUT = GraphQLInputObjectType(
    "SchemaFieldInput", {"name": _name_input()}, description="A field, by name."
)
_FIELD_TYPES: dict[str, GraphQLObjectType] = {}
_FIELD_INPUTS: dict[str, GraphQLInputObjectType] = {}
for _kind in _SCHEMA_FIELD_KINDS:
    _FIELD_INPUTS[_kind] = GraphQLInputObjectType(
        f"Schema{_kind}FieldInput", {"name": _name_input()}, description=f"A {_kind} field to add."
    )
    _FIELD_TYPES[_kind] = GraphQLObjectType(
        f"Schema{_kind}Field", {"name": _name_field()}, interfaces=[SCHEMA_FIELD], description=f"A {_kind} field."
    )
for _kind in ("Pointer", "Relation"):
    _FIELD_INPUTS[_kind] = GraphQLInputObjectType(
        f"{_kind}FieldInput",
        {
            "name": _name_input(),
            "targetClassName": _name_input("The class it points to."),
        },
        description=f"A {_kind} field to add.",
    )
    _FIELD_TYPES[_kind] = GraphQLObjectType(
        f"Schema{_kind}Field",
        {
            "name": _name_field(),
            "targetClassName": _name_field("The class it points to."),
        },
        interfaces=[SCHEMA_FIELD],
        description=f"A {_kind} field.",
    )
_FIELD_TYPES["ACL"] = GraphQLObjectType(
    "SchemaACLField", {"name": _name_field()}, interfaces=[SCHEMA_FIELD], description="The ACL field."
)

# (input field, Parse type, is a list): Parse takes one GeoPoint per class, so `addGeoPoint` is singular.
_ADDITIONS = [
    (f"add{kind}s", kind, True) for kind in ("String", "Number", "Boolean", "Array", "Object", "Date", "File")
]
_ADDITIONS += [
    ("addGeoPoint", "GeoPoint", False),
    ("addPolygons", "Polygon", True),
    ("addBytes", "Bytes", True),
    ("addPointers", "Pointer", True),
    ("addRelations", "Relation", True),
]

SCHEMA_FIELDS_INPUT = GraphQLInputObjectType(
    "SchemaFieldsInput",
    {
        **{
            name: GraphQLInputField(
                GraphQLList(GraphQLNonNull(_FIELD_INPUTS[kind])) if many else _FIELD_INPUTS[kind],
                description=f"{kind} fields to add.",
            )
            for name, kind, many in _ADDITIONS
        },
        "remove": GraphQLInputField(GraphQLList(GraphQLNonNull(SCHEMA_FIELD_INPUT)), description="Fields to remove."),
    },
    description="Fields to add to a class and fields to remove from it.",
)

CLASS = GraphQLObjectType(
    "Class",
    {
        "name": GraphQLField(GraphQLNonNull(GraphQLString), description="The class's name."),
        "schemaFields": GraphQLField(
            GraphQLNonNull(GraphQLList(GraphQLNonNull(SCHEMA_FIELD))), description="Its fields."
        ),
    },
    description="A class and its fields.",
)

CONFIG_VALUE = GraphQLObjectType(
    "ConfigValue",
    {
        "value": GraphQLField(GraphQLString, description="The parameter's value."),
        "isMasterKeyOnly": GraphQLField(GraphQLBoolean, description="Whether only the master key may read it."),
    },
    description="A Parse Config parameter.",
)

SCHEMA_TYPES = [SCHEMA_FIELD, *_FIELD_TYPES.values()]


def fields_to_parse(
    schema_fields: Mapping[str, Any] | None, existing: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """`SchemaFieldsInput` as the `fields` of `/schemas`; a name given twice, or that exists, is refused."""
    result: dict[str, Any] = {}
    if not schema_fields:
        return result
    removed = {field["name"] for field in schema_fields.get("remove") or []}
    for input_name, kind, many in _ADDITIONS:
        given = schema_fields.get(input_name)
        if given is None:
            continue
        for field in given if many else [given]:
            name = field["name"]
            if name in removed:
                continue
            if name in result or (existing is not None and name in existing):
                raise InvalidKeyNameError(f"Duplicated field name: {name}")
            spec: dict[str, Any] = {"type": kind}
            if kind in ("Pointer", "Relation"):
                spec["targetClass"] = field["targetClassName"]
            result[name] = spec
    if existing is not None:
        for name in removed:
            if name in existing:
                result[name] = {"__op": "Delete"}
    return result


def class_value(schema: ClassSchema, *, created: bool = False) -> dict[str, Any]:
    fields = schema.fields_as_created if created else schema.fields
    return {
        "name": schema.name,
        "schemaFields": [
            {"name": name, "type": field.type, "targetClassName": field.target_class} for name, field in fields.items()
        ],
    }


def _require_master(context: Context, action: str | None = None) -> None:
    if not context.auth.master:
        raise denied(OperationForbiddenError, "unauthorized: master key is required")
    if action is not None and context.auth.read_only:
        raise denied(OperationForbiddenError, f"read-only masterKey isn't allowed to {action} a schema.")


async def _existing_class(context: Context, name: str) -> ClassSchema:
    await context.services.schemas.reload()
    schema = await context.services.schemas.get(name)
    if schema is None:
        raise AppError(f"Class {name} does not exist.", code=103)
    return schema


async def _class(root: Any, info: Info, name: str) -> dict[str, Any]:
    context = info.context
    _require_master(context)
    return class_value(await _existing_class(context, name))


async def _classes(root: Any, info: Info) -> list[dict[str, Any]]:
    context = info.context
    _require_master(context)
    await context.services.schemas.reload()
    return [class_value(schema) for schema in await context.services.schemas.all()]


async def _create_class(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    _require_master(context, "create")
    schema = await context.services.schemas.create_class(
        input["name"], fields_to_parse(input.get("schemaFields")), None, None
    )
    return {"class": class_value(schema, created=True)}


async def _update_class(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    _require_master(context, "update")
    existing = await _existing_class(context, input["name"])
    schema = await context.services.schemas.update_class(
        input["name"], fields_to_parse(input.get("schemaFields"), existing.fields), KEEP, None
    )
    return {"class": class_value(schema)}


async def _delete_class(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    _require_master(context, "delete")
    existing = await _existing_class(context, input["name"])
    await context.services.schemas.delete_class(input["name"])
    return {"class": class_value(existing)}


# Users and sessions -----------------------------------------------------------------------------------------


async def _viewer_value(info: Info, token: str, user_id: str, prefix: str, *, fresh: bool = False) -> dict[str, Any]:
    """`Viewer {sessionToken, user}`, reading the user with the selected keys, as the user themself."""
    context = info.context
    paths = [path[len(prefix) :] for path in selected_paths(info) if path.startswith(prefix)]
    if fresh and not paths:
        return {"sessionToken": token}
    keys, include = keys_and_include(paths)
    same = context.auth.user_id == user_id
    auth = context.auth.as_user(user_id, context.auth.roles if same else frozenset(), token)
    user = await context.services.accounts.current_user(auth, QueryOptions(keys=keys, include=include))
    return {"sessionToken": token, "user": node(user, "_User")}


async def _viewer(root: Any, info: Info) -> dict[str, Any]:
    context = info.context
    auth = context.auth
    if auth.session_token is None or auth.user_id is None:
        raise denied_session()
    return await _viewer_value(info, auth.session_token, auth.user_id, "user.")


def denied_session() -> AppError:
    return denied(InvalidSessionTokenError, "Invalid session token")


def _user_mutation(build: Any) -> Any:
    async def resolve(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
        signed_in = await build(info.context, input)
        if signed_in.session_token is None:
            raise denied_session()  # a sign-up held back until the email is verified, as Parse answers it
        return {
            "viewer": await _viewer_value(info, signed_in.session_token, signed_in.user_id, "viewer.user.", fresh=True)
        }

    return resolve


def _sign_up(builder: SchemaBuilder) -> Any:
    async def sign_up(context: Context, input: dict[str, Any]) -> Any:
        fields = await object_fields_to_parse(context, builder.types["_User"], builder, input.get("fields"))
        return await context.services.accounts.sign_up(context.auth, decode_object(fields))

    return sign_up


async def _log_in(context: Context, input: dict[str, Any]) -> Any:
    if input.get("authData"):
        raise _unsupported_auth()
    return await context.services.accounts.log_in(context.auth, input.get("username"), None, input.get("password"))


def _log_in_with(builder: SchemaBuilder) -> Any:
    async def log_in_with(context: Context, input: dict[str, Any]) -> Any:
        fields = await object_fields_to_parse(context, builder.types["_User"], builder, input.get("fields"))
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
    await info.context.services.mail.request_verification_email(input.get("email"))
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


# Files and Parse Config ---------------------------------------------------------------------------------------


async def _create_file(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    name = await store_upload(context, input["upload"])
    return {"fileInfo": {"name": name, "url": context.encoder.file_url(name)}}


async def _cloud_config(root: Any, info: Info, paramName: str) -> dict[str, Any]:
    context = info.context
    parameter = await context.services.config.parameter(context.auth, paramName)
    return {"value": parameter.value, "isMasterKeyOnly": parameter.master_key_only}


async def _update_cloud_config(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    name, value, master_only = input["paramName"], input["value"], input.get("isMasterKeyOnly", False)
    await context.services.config.update(context.auth, {name: value}, {name: master_only})
    return {"cloudConfig": {"value": value, "isMasterKeyOnly": master_only}}


async def _health(root: Any, info: Info) -> bool:
    # As `/parse/health`: false while the database does not answer a ping within a second.
    try:
        await info.context.services.storage.ping()
    except DatabaseUnavailableError:
        return False
    return True


# The fields -------------------------------------------------------------------------------------------------


def _ok_payload() -> dict[str, GraphQLField]:
    return {"ok": GraphQLField(GraphQLNonNull(GraphQLBoolean), description="Always true.")}


def queries(builder: SchemaBuilder) -> dict[str, GraphQLField]:
    result = {
        "health": GraphQLField(GraphQLNonNull(GraphQLBoolean), description="Whether the server is up.", resolve=_health)
    }
    if builder.viewer is not None:
        result["viewer"] = GraphQLField(
            GraphQLNonNull(builder.viewer), description="The signed-in user.", resolve=_viewer
        )
    result["class"] = GraphQLField(
        GraphQLNonNull(CLASS),
        args={
            "name": GraphQLArgument(GraphQLNonNull(GraphQLString), description="The class's name."),
        },
        description="A class schema (master key).",
        resolve=_class,
    )
    result["classes"] = GraphQLField(
        GraphQLNonNull(GraphQLList(GraphQLNonNull(CLASS))),
        description="Every class schema (master key).",
        resolve=_classes,
    )
    result["cloudConfig"] = GraphQLField(
        GraphQLNonNull(CONFIG_VALUE),
        args={
            "paramName": GraphQLArgument(GraphQLNonNull(GraphQLString), description="The parameter's name."),
        },
        description="A Parse Config parameter (master key).",
        resolve=_cloud_config,
    )
    return result


def mutations(builder: SchemaBuilder) -> dict[str, GraphQLField]:
    def string(description: str, required: bool = True) -> GraphQLInputField:
        return GraphQLInputField(GraphQLNonNull(GraphQLString) if required else GraphQLString, description=description)

    result: dict[str, GraphQLField] = {
        "createFile": relay_mutation(
            "CreateFile",
            {
                "upload": GraphQLInputField(GraphQLNonNull(UPLOAD), description="The file to store."),
            },
            {"fileInfo": GraphQLField(GraphQLNonNull(outputs.FILE_INFO), description="The stored file.")},
            _create_file,
            "Stores a file.",
        ),
    }
    user_types = builder.types.get("_User")
    if user_types is not None and builder.viewer is not None:
        viewer = {"viewer": GraphQLField(GraphQLNonNull(builder.viewer), description="The signed-in user.")}
        login_with_fields = GraphQLInputObjectType(
            "UserLoginWithInput",
            lambda: {
                name: field
                for name, field in user_types.create_fields.fields.items()
                if name not in ("username", "password", "authData")
            },
            description="Fields of a new user.",
        )
        result["signUp"] = relay_mutation(
            "SignUp",
            {
                "fields": GraphQLInputField(user_types.create_fields, description="The new user's fields."),
            },
            viewer,
            _user_mutation(_sign_up(builder)),
            "Creates a user and signs them in.",
        )
        result["logInWith"] = relay_mutation(
            "LogInWith",
            {
                "authData": GraphQLInputField(GraphQLNonNull(OBJECT), description="What the auth providers answered."),
                "fields": GraphQLInputField(login_with_fields, description="Fields of a new user."),
            },
            viewer,
            _user_mutation(_log_in_with(builder)),
            "Signs in or up with an auth provider.",
        )
        result["logIn"] = relay_mutation(
            "LogIn",
            {
                "username": string("The username."),
                "password": string("The password."),
                "authData": GraphQLInputField(OBJECT, description="Data for auth providers the login requires."),
            },
            viewer,
            _user_mutation(_log_in),
            "Signs a user in with a password.",
        )
        result["logOut"] = relay_mutation("LogOut", {}, _ok_payload(), _log_out, "Ends the caller's session.")
        result["resetPassword"] = relay_mutation(
            "ResetPassword",
            {"email": string("The user's email.")},
            _ok_payload(),
            _reset_password,
            "Emails a password reset link.",
        )
        result["confirmResetPassword"] = relay_mutation(
            "ConfirmResetPassword",
            {
                "username": string("The username."),
                "password": string("The new password."),
                "token": string("The token from the reset email."),
            },
            _ok_payload(),
            _confirm_reset_password,
            "Sets a new password with a reset token.",
        )
        result["sendVerificationEmail"] = relay_mutation(
            "SendVerificationEmail",
            {"email": string("The user's email.")},
            _ok_payload(),
            _send_verification_email,
            "Emails an address verification link again.",
        )
        result["challenge"] = relay_mutation(
            "Challenge",
            {
                "username": string("The username.", required=False),
                "password": string("The password.", required=False),
                "authData": GraphQLInputField(OBJECT, description="Identifies the user to auth providers."),
                "challengeData": GraphQLInputField(OBJECT, description="What to send each auth provider."),
            },
            {"challengeData": GraphQLField(OBJECT, description="What the auth providers answered.")},
            _challenge,
            "Asks auth providers for a challenge.",
        )
    result.update(functions.call_cloud_code(builder.functions))
    class_payload = {"class": GraphQLField(GraphQLNonNull(CLASS), description="The class.")}
    name_input = {"name": string("The class's name.")}
    fields_input = {"schemaFields": GraphQLInputField(SCHEMA_FIELDS_INPUT, description="Fields to add or remove.")}
    result["createClass"] = relay_mutation(
        "CreateClass", {**name_input, **fields_input}, class_payload, _create_class, "Creates a class (master key)."
    )
    result["updateClass"] = relay_mutation(
        "UpdateClass",
        {**name_input, **fields_input},
        class_payload,
        _update_class,
        "Adds and removes fields of a class (master key).",
    )
    result["deleteClass"] = relay_mutation(
        "DeleteClass", name_input, class_payload, _delete_class, "Drops an empty class (master key)."
    )
    result["updateCloudConfig"] = relay_mutation(
        "UpdateCloudConfig",
        {
            "paramName": string("The parameter's name."),
            "value": string("Its new value."),
            "isMasterKeyOnly": GraphQLInputField(
                GraphQLBoolean, default_value=False, description="Whether only the master key may read it."
            ),
        },
        {"cloudConfig": GraphQLField(GraphQLNonNull(CONFIG_VALUE), description="The parameter.")},
        _update_cloud_config,
        "Sets a Parse Config parameter (master key).",
    )
    return result
