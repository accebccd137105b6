"""The `todos` table: todo id -> latest row and its source position (a Projection)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import faust
from faust.serializers import codecs
from faust.types import CodecArg, ModelArg

from contracts.records import DecodeError, parse_todo_id
from streams.app import app, settings
from streams.domain import Projection


class TodoIdCodec(codecs.Codec):
    """Key codec: todo 42 is b"42", the same bytes as the command and change-event keys.

    `app.table_route` hands the key over as the URL's text ("42"), which JSON would make
    b'"42"' (another partition); this codec gives text and int keys the same bytes.
    """

    def _dumps(self, obj: Any) -> bytes:
        try:
            return str(parse_todo_id(obj)).encode("ascii")
        except DecodeError as exc:
            raise ValueError(str(exc)) from exc

    def _loads(self, s: bytes) -> Any:
        return parse_todo_id(s)


codecs.register("todo_id", TodoIdCodec())


class TodoTable(faust.Table):
    """A Table whose int keys use the todo_id codec.

    Faust derives a table's key serializer from `key_type` and takes no argument for it;
    this hook is where it does so (for the changelog topic and the RocksDB store alike).
    """

    def _serializer_from_type(self, typ: ModelArg | None) -> CodecArg | None:
        return "todo_id" if typ is int else super()._serializer_from_type(typ)


todos_table = cast(
    TodoTable,
    app.tables.add(
        TodoTable(
            app,
            name="todos",
            key_type=int,  # type: ignore[arg-type]  # Faust accepts int keys; its hint omits them
            partitions=settings.topic_partitions,
            beacon=app.tables.beacon,
            options=settings.table_store_options,
            help="todo id -> latest row and its source position (a tombstone once deleted)",
        )
    ),
)


def get_projection(todo_id: int) -> Projection | None:
    """Return the table's projection of one todo on this worker, or None."""
    state = todos_table.get(todo_id)
    return None if state is None else Projection.from_state(state)


# What `Todo.to_state` stores: the public fields plus the version and the owner.
_PUBLIC_FIELDS = ("id", "title", "description", "completed", "created_at", "updated_at")
_STORED_FIELDS = frozenset((*_PUBLIC_FIELDS, "version", "owner_id"))
_STORED_TIME_LENGTH = len("2026-01-01T00:00:00.000000Z")


def _stored_time(value: object) -> bool:
    return value is None or (
        type(value) is str and len(value) == _STORED_TIME_LENGTH and value[-1] == "Z"
    )


def public_todo(state: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return a stored projection's todo in its public JSON shape, or None once deleted.

    A state in the form `Todo.to_state` writes already holds the public fields as they are
    answered, so they are taken as stored; any other state goes through `Projection`.
    """
    todo = state.get("todo")
    if todo is None:
        return None
    if (
        todo.keys() == _STORED_FIELDS
        and type(todo["id"]) is int
        and type(todo["title"]) is str
        and type(todo["description"]) is str
        and type(todo["completed"]) is bool
        and _stored_time(todo["created_at"])
        and _stored_time(todo["updated_at"])
    ):
        return {name: todo[name] for name in _PUBLIC_FIELDS}
    rebuilt = Projection.from_state(dict(state)).todo
    return None if rebuilt is None else rebuilt.to_json()


def get_public_todo(todo_id: int, owner_id: int) -> dict[str, Any] | None:
    """Return one of `owner_id`'s todos of this worker's table in its public shape, or None.

    None also when the todo belongs to another user, or to nobody yet (captured before
    owners existed): the caller cannot tell those from a todo that does not exist.
    """
    # The store itself: one lookup, where the table's `get` first asks whether the key exists.
    state = todos_table.data.get(todo_id)
    if state is None:
        return None
    todo = state.get("todo")
    if todo is None or type(owner_id) is not int or todo.get("owner_id") != owner_id:
        return None
    return public_todo(state)


def put_projection(todo_id: int, projection: Projection) -> None:
    """Store a projection (writes the changelog entry in the current event's partition)."""
    todos_table[todo_id] = projection.to_state()
