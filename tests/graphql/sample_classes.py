"""The sample classes of the GraphQL goldens, in the ``POST /parse/schemas`` format.

Small but complete: between them they use every Parse field type, a required field, default values,
pointers to another sample class and to ``_User``, relations to a sample class and to ``_User``, and a
class whose name needs the Parse GraphQL name transform (``fan_entry`` → type ``Fan_entry``, queries
``fan_entry`` / ``fan_entries``). ``GameScore`` alone has one field of every type.

Create them in the order of ``SAMPLE_CLASSES``: each class only points at classes listed before it.

Generated GraphQL names (recorded in ``golden/parse-9.10.graphql``):

| Parse class  | GraphQL type | get query   | find query    |
|--------------|--------------|-------------|---------------|
| ``_User``    | ``User``     | ``user``    | ``users``     |
| ``_Role``    | ``Role``     | ``role``    | ``roles``     |
| ``_Session`` | ``Session``  | ``session`` | ``sessions``  |
| ``Team``     | ``Team``     | ``team``    | ``teams``     |
| ``Player``   | ``Player``   | ``player``  | ``players``   |
| ``GameScore``| ``GameScore``| ``gameScore``| ``gameScores``|
| ``fan_entry``| ``Fan_entry``| ``fan_entry``| ``fan_entries``|
"""

from __future__ import annotations

from typing import Any

ClassDefinition = dict[str, Any]


def _pointer(target: str, **extra: Any) -> dict[str, Any]:
    return {"type": "Pointer", "targetClass": target, **extra}


def _relation(target: str) -> dict[str, Any]:
    return {"type": "Relation", "targetClass": target}


TEAM: ClassDefinition = {
    "className": "Team",
    "fields": {
        "name": {"type": "String", "required": True},
        "city": {"type": "String", "defaultValue": "Nowhere"},
        "founded": {"type": "Date"},
        "fans": _relation("_User"),
    },
}

PLAYER: ClassDefinition = {
    "className": "Player",
    "fields": {
        "name": {"type": "String", "required": True},
        "age": {"type": "Number"},
        "active": {"type": "Boolean", "defaultValue": True},
        "team": _pointer("Team"),
        "user": _pointer("_User"),
        "tags": {"type": "Array"},
    },
}

# one field of every type
GAME_SCORE: ClassDefinition = {
    "className": "GameScore",
    "fields": {
        "score": {"type": "Number", "required": True, "defaultValue": 0},
        "playerName": {"type": "String"},
        "cheatMode": {"type": "Boolean"},
        "playedAt": {"type": "Date"},
        "details": {"type": "Object"},
        "levels": {"type": "Array"},
        "player": _pointer("Player"),
        "owner": _pointer("_User"),
        "teammates": _relation("Player"),
        "replay": {"type": "File"},
        "location": {"type": "GeoPoint"},
        "arena": {"type": "Polygon"},
        "checksum": {"type": "Bytes"},
    },
}

# lower-case first letter and an underscore: GraphQL type Fan_entry, queries fan_entry / fan_entries
FAN_ENTRY: ClassDefinition = {
    "className": "fan_entry",
    "fields": {
        "text": {"type": "String"},
        "author": _pointer("_User"),
        "game": _pointer("GameScore"),
    },
}

SAMPLE_CLASSES: list[ClassDefinition] = [TEAM, PLAYER, GAME_SCORE, FAN_ENTRY]
BY_NAME: dict[str, ClassDefinition] = {definition["className"]: definition for definition in SAMPLE_CLASSES}

# What a fresh Parse Server 9.10 database holds before anything is written: GET /parse/schemas lists
# only these two, and the GraphQL schema generates User and Role from them. _Session, _Installation,
# _Audience, _PushStatus, _JobStatus, _JobSchedule, _Hooks, _GlobalConfig, _GraphQLConfig, _Idempotency
# only appear once something writes to them (a signUp creates _Session, and the GraphQL schema then
# gains Session/sessions/… on its next rebuild).
SYSTEM_CLASSES_ON_A_FRESH_DATABASE: list[str] = ["_User", "_Role"]

# Dependencies: a class needs the classes it points at to exist first.
DEPENDS_ON: dict[str, list[str]] = {
    "Team": [],
    "Player": ["Team"],
    "GameScore": ["Player"],
    "fan_entry": ["GameScore"],
}


def with_dependencies(*names: str) -> list[ClassDefinition]:
    """The definitions of the named classes and of every class they point at, in creation order."""
    wanted: set[str] = set()

    def add(name: str) -> None:
        if name not in wanted:
            wanted.add(name)
            for dependency in DEPENDS_ON[name]:
                add(dependency)

    for name in names:
        add(name)
    return [definition for definition in SAMPLE_CLASSES if definition["className"] in wanted]
