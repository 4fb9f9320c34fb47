"""`parseql migrate`: copy a Parse database from one engine to another, resumably, and check it arrived whole.

Everything goes through the storage port (`app/domain/store.py`), so any two engines can be source and target:
class schemas (fields, permissions, indexes), objects as they are stored (ACLs, password hashes, session tokens and
every internal field included: users log in with the same passwords), relations, Parse Config, and the files the
objects name. Objects are read a page at a time in objectId order; each page asks the target which of its ids it
already holds and writes only the others, so a copy that stopped (Ctrl-C, a crash, a lost connection) is run again
as it was started and goes on where it stopped. At the end the objects and relation members of every class are
counted on both sides: a difference is reported and the command fails.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from app.domain.classes import ClassSchema
from app.domain.files import FileStore
from app.domain.store import Find, Storage
from app.domain.values import File, ParseObject
from app.errors import DuplicateValueError

PAGE = 500
RELATION_PAGE = 200


@dataclass
class Tally:
    """What one class holds on each side after the copy."""

    class_name: str
    source: int = 0
    target: int = 0
    copied: int = 0
    relations: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Relation field → (members in the source, members in the target)."""

    @property
    def whole(self) -> bool:
        return self.source == self.target and all(a == b for a, b in self.relations.values())


@dataclass
class Migration:
    """One copy from `source` to `target`; `files` maps a source file store to a target one, or is None."""

    source: Storage
    target: Storage
    files: tuple[FileStore, FileStore] | None = None
    out: TextIO = sys.stderr
    page: int = PAGE
    tallies: list[Tally] = field(default_factory=list)
    file_names: set[str] = field(default_factory=set)
    files_copied: int = 0
    missing_files: list[str] = field(default_factory=list)

    async def run(self) -> bool:
        """Copy everything; True when every count matches on both sides."""
        await self.target.classes.ensure_system_indexes()
        schemas = await self.source.classes.load_classes()
        existing = {schema.name: schema for schema in await self.target.classes.load_classes()}
        for schema in schemas:
            await self._copy_class(schema, existing.get(schema.name))
        for schema in schemas:
            self.tallies.append(await self._copy_objects(schema))
        await self._copy_config()
        if self.files is not None:
            await self._copy_files(*self.files)
        for tally, schema in zip(self.tallies, schemas, strict=True):
            await self._count(schema, tally)
        return all(tally.whole for tally in self.tallies) and not self.missing_files

    async def _copy_class(self, schema: ClassSchema, existing: ClassSchema | None) -> None:
        indexes = {name: spec for name, spec in schema.indexes.items() if name != "_id_"}
        if existing is None:
            try:
                await self.target.classes.create_class(
                    ClassSchema(schema.name, schema.fields, schema.permissions), stored_permissions=schema.permissions
                )
            except DuplicateValueError:
                existing = next(s for s in await self.target.classes.load_classes() if s.name == schema.name)
        if existing is not None:
            missing = {name: type_ for name, type_ in schema.fields.items() if name not in existing.fields}
            if missing:
                await self.target.classes.add_fields(schema.name, missing)
            await self.target.classes.update_field_options(schema.name, schema.fields)
            await self.target.classes.set_permissions(schema.name, schema.permissions)
        # The target may hold some already (the system indexes it makes at start, a copy that stopped).
        await self.target.classes.sync_indexes(schema.name)
        current = next(s for s in await self.target.classes.load_classes() if s.name == schema.name)
        indexes = {name: spec for name, spec in indexes.items() if name not in current.indexes}
        if indexes:
            await self.target.classes.update_indexes(current, indexes, ())

    async def _copy_objects(self, schema: ClassSchema) -> Tally:
        tally = Tally(schema.name, source=await self.source.count(schema, Find({})))
        bar = Progress(schema.name, tally.source, self.out)
        last: str | None = None
        done = 0
        while True:
            where: dict[str, Any] = {} if last is None else {"objectId": {"$gt": last}}
            records = await self.source.find(schema, Find(where, order=(("objectId", 1),), limit=self.page))
            if not records:
                break
            ids = [record["objectId"] for record in records]
            held = {
                record["objectId"]
                for record in await self.target.find(
                    schema, Find({"objectId": {"$in": ids}}, keys=frozenset({"objectId"}))
                )
            }
            for record in records:
                self.file_names.update(file_names(record.values()))
                if record["objectId"] not in held:
                    try:
                        await self.target.insert(schema, record)
                    except DuplicateValueError as error:  # a unique index (usernames, emails) refuses it
                        self.out.write(f"\n{schema.name} {record['objectId']} not copied: {error}\n")
                        continue
                    tally.copied += 1
            for name in schema.relation_fields:
                await self._copy_members(schema.name, name, ids)
            done += len(records)
            bar.show(done)
            last = ids[-1]
        bar.end(done)
        return tally

    async def _copy_members(self, class_name: str, field_name: str, owning_ids: list[str]) -> None:
        for start in range(0, len(owning_ids), RELATION_PAGE):
            chunk = owning_ids[start : start + RELATION_PAGE]
            wanted = await self.source.relations.related_by_owner(class_name, field_name, chunk)
            held = await self.target.relations.related_by_owner(class_name, field_name, chunk)
            for owner, related in wanted.items():
                present = set(held.get(owner, ()))
                new = [related_id for related_id in related if related_id not in present]
                if new:
                    await self.target.relations.add_relation(class_name, field_name, owner, new)

    async def _copy_config(self) -> None:
        config = await self.source.config.read_config()
        if config is not None:
            values, master_key_only = config
            await self.target.config.update_config(values, (), master_key_only)

    async def _copy_files(self, source: FileStore, target: FileStore) -> None:
        bar = Progress("files", len(self.file_names), self.out)
        for count, name in enumerate(sorted(self.file_names), 1):
            stored = await source.find(name)
            if stored is None:
                self.missing_files.append(name)
            elif await target.find(name) is None:
                await target.save(name, source.read(stored, 0, stored.length), stored.content_type, stored.metadata)
                self.files_copied += 1
            bar.show(count)
        bar.end(len(self.file_names))

    async def _count(self, schema: ClassSchema, tally: Tally) -> None:
        tally.source = await self.source.count(schema, Find({}))
        tally.target = await self.target.count(schema, Find({}))
        for name in schema.relation_fields:
            tally.relations[name] = (
                await self._members(self.source, schema, name),
                await self._members(self.target, schema, name),
            )

    async def _members(self, storage: Storage, schema: ClassSchema, field_name: str) -> int:
        total, last = 0, None
        while True:
            where: dict[str, Any] = {} if last is None else {"objectId": {"$gt": last}}
            owners = await storage.find(
                schema, Find(where, order=(("objectId", 1),), limit=self.page, keys=frozenset({"objectId"}))
            )
            if not owners:
                return total
            ids = [owner["objectId"] for owner in owners]
            related = await storage.relations.related_by_owner(schema.name, field_name, ids)
            total += sum(len(members) for members in related.values())
            last = ids[-1]

    def summary(self) -> str:
        lines = [f"{'class':<24} {'source':>10} {'target':>10} {'copied now':>10}"]
        for tally in self.tallies:
            mark = "" if tally.whole else "   <- differs"
            lines.append(f"{tally.class_name:<24} {tally.source:>10,} {tally.target:>10,} {tally.copied:>10,}{mark}")
            for name, (source, target) in tally.relations.items():
                lines.append(f"  relation {name:<15} {source:>10,} {target:>10,}")
        if self.files is not None:
            lines.append(f"files: {len(self.file_names):,} named by objects, {self.files_copied:,} copied now")
            lines += [f"  missing in the source: {name}" for name in self.missing_files]
        return "\n".join(lines)


def file_names(values: Iterable[Any]) -> Iterator[str]:
    """The names of the files a record's values hold, inside lists, objects and included objects too."""
    for value in values:
        if isinstance(value, File):
            yield value.name
        elif isinstance(value, list):
            yield from file_names(value)
        elif isinstance(value, Mapping):
            yield from file_names(value.values())
        elif isinstance(value, ParseObject):
            yield from file_names(value.data.values())


class Progress:
    """A one-line bar on a terminal, and a line per class elsewhere (logs, CI)."""

    def __init__(self, label: str, total: int, out: TextIO) -> None:
        self.label, self.total, self.out = label, total, out
        self.tty = out.isatty()
        self.shown = 0.0

    def show(self, done: int) -> None:
        now = time.monotonic()
        if self.tty and now - self.shown > 0.1:
            self.shown = now
            self.out.write(f"\r{self._line(done)}")
            self.out.flush()

    def end(self, done: int) -> None:
        self.out.write(f"\r{self._line(done)}\n" if self.tty else f"{self._line(done)}\n")
        self.out.flush()

    def _line(self, done: int) -> str:
        width = 30
        filled = width if not self.total else min(width, width * done // self.total)
        return f"{self.label:<24} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{self.total:,}"


class MigrationError(Exception):
    """The copy cannot start as asked; the message says why."""


def open_database(uri: str, files_dir: str | None, files_key: str | None = None) -> tuple[Storage, FileStore]:
    """The engine a URI names, and where its files are: `files_dir` when given (Parse's files adapter for a
    folder, encrypted with `files_key` when given), else the engine's own store (GridFS on MongoDB); chosen as the
    server chooses them."""
    from app.asgi import file_store, open_storage
    from app.settings import Settings

    scheme = uri.partition("://")[0].lower()
    if scheme not in ("mongodb", "mongodb+srv", "postgres", "postgresql"):
        raise MigrationError(f"{scheme or uri!r} is not a database this server knows: use mongodb:// or postgresql://")
    if scheme.startswith("postgres") and not files_dir:
        # PostgreSQL holds no files: they live in a folder, as Parse's files adapter lays them out.
        raise MigrationError("a PostgreSQL database keeps its files in a folder: name it with --from-files/--to-files")
    if files_key is not None and not files_dir:
        raise MigrationError("a files encryption key is for a files folder: name it with --from-files/--to-files")
    adapter = "filesystem" if files_dir else "auto"
    settings = Settings(database_uri=uri, files_adapter=adapter, files_dir=files_dir, files_encryption_key=files_key)
    storage = open_storage(settings)
    return storage, file_store(settings, storage)


async def migrate(
    source_uri: str,
    target_uri: str,
    *,
    source_files: str | None,
    target_files: str | None,
    source_key: str | None = None,
    target_key: str | None = None,
) -> int:
    """Copy one database into another and print what each side holds; the exit code of `parseql migrate`. Files
    are read with `source_key` and written with `target_key` (Parse's `encryptionKey` of a files folder)."""
    if source_uri == target_uri:
        raise MigrationError("--from and --to name the same database")
    source, source_store = open_database(source_uri, source_files, source_key)
    target, target_store = open_database(target_uri, target_files, target_key)
    try:
        migration = Migration(source, target, (source_store, target_store))
        whole = await migration.run()
        print(migration.summary())
        print("every object, relation and file arrived" if whole else "the copy is NOT whole: see above", flush=True)
        return 0 if whole else 1
    finally:
        for closing in (source_store, target_store, source, target):
            await closing.close()
