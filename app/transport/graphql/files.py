"""`createFile`, and the uploads of a multipart request stored for it and for File fields of objects."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLField, GraphQLInputField, GraphQLNonNull

from app.domain.files import limited_error
from app.errors import AppError
from app.transport.graphql import outputs
from app.transport.graphql.relay import relay_mutation
from app.transport.graphql.request import Info, Resolving
from app.transport.graphql.scalars import UPLOAD
from app.transport.graphql.uploads import Upload


async def store_upload(context: Resolving, upload: Any) -> str:
    """Store a multipart request's file under the caller's upload rights; its stored name."""
    if not isinstance(upload, Upload):
        raise AppError("Invalid file upload.", code=130)
    return await context.services.files.create(
        context.auth, upload.filename, upload.content_type, upload.chunks(), too_large=limited_error
    )


async def _create_file(root: Any, info: Info, input: dict[str, Any]) -> dict[str, Any]:
    context = info.context
    name = await store_upload(context, input["upload"])
    return {"fileInfo": {"name": name, "url": context.encoder.file_url(name)}}


def mutations() -> dict[str, GraphQLField]:
    return {
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
