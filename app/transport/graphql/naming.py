"""The names Parse Server gives a class in GraphQL: its types (`GameScore`, `GameScoreConnection`…) and its
fields (`gameScore`, `gameScores`)."""

from __future__ import annotations

from pluralizer import Pluralizer

_PLURAL = Pluralizer()  # type: ignore[no-untyped-call]


def graphql_class_name(class_name: str) -> str:
    """`_User` → `User`, `gameScore` → `GameScore`: Parse's class names in GraphQL."""
    name = class_name[1:] if class_name.startswith("_") else class_name
    return name[:1].upper() + name[1:]


def lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]


def plural(name: str) -> str:
    return str(_PLURAL.pluralize(name, 2, False))


def class_type_names(name: str) -> set[str]:
    """Every type name a class generates."""
    mutations = {f"{verb}{name}{suffix}" for verb in ("Create", "Update", "Delete") for suffix in ("Input", "Payload")}
    return {
        name,
        f"{name}Connection",
        f"{name}Edge",
        f"{name}Order",
        f"{name}WhereInput",
        f"{name}RelationWhereInput",
        f"{name}PointerInput",
        f"{name}RelationInput",
        f"Create{name}FieldsInput",
        f"Update{name}FieldsInput",
        *mutations,
    }
