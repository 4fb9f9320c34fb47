"""Media types and file extensions, both ways, answering as npm's `mime` (which Parse Server names files with)."""

from __future__ import annotations

import mimetypes

# Python's own table, never the machine's /etc/mime.types, so every machine names files alike.
_TABLE = mimetypes.MimeTypes(filenames=())

# Where Python's table and npm's `mime` 4 disagree, or Python has no entry: `mime`'s answer.
_TYPES = {
    "js": "text/javascript",
    "mjs": "text/javascript",
    "xml": "application/xml",
    "wav": "audio/wav",
    "3gp": "video/3gpp",
    "webp": "image/webp",
    "md": "text/markdown",
    "ogg": "audio/ogg",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "gz": "application/gzip",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "avif": "image/avif",
    "heic": "image/heic",
    "woff": "font/woff",
    "woff2": "font/woff2",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "yaml": "text/yaml",
    "yml": "text/yaml",
    "jsonld": "application/ld+json",
    "apk": "application/vnd.android.package-archive",
    "epub": "application/epub+zip",
    "rtf": "application/rtf",
    "flac": "audio/x-flac",
}
_EXTENSIONS = {
    "audio/mpeg": "mpga",
    "application/xml": "xml",
    "text/xml": "xml",
    "audio/wav": "wav",
    "image/webp": "webp",
    "text/javascript": "js",
    "video/quicktime": "qt",
    "audio/mp4": "m4a",
    "audio/ogg": "oga",
    **{media_type: extension for extension, media_type in _TYPES.items() if extension not in ("mjs", "yml", "xml")},
}


def extension_of(name: str) -> str:
    """The text after the last dot of the last path segment ('' without one), as Parse reads it."""
    base = name.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[1] if "." in base else ""


def type_for(name: str) -> str | None:
    """The media type a file name's extension stands for, None when it stands for none."""
    extension = extension_of(name).lower()
    if not extension:
        return None
    return _TYPES.get(extension) or _TABLE.guess_type(f"x.{extension}", strict=False)[0]


def extension_for(media_type: str | None) -> str | None:
    """The usual extension of a media type (`image/jpeg` → `jpg`), None for one it does not know."""
    if not media_type:
        return None
    bare = media_type.split(";", 1)[0].strip().lower()
    if bare in _EXTENSIONS:
        return _EXTENSIONS[bare]
    guessed = _TABLE.guess_extension(bare, strict=False)
    return guessed[1:] if guessed else None
