"""The `todos` table: todo id -> latest row and its source position (a Projection)."""

from __future__ import annotations

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
            help="todo id -> latest row and its source position (a tombstone once deleted)",
        )
    ),
)


def get_projection(todo_id: int) -> Projection | None:
    """Return the table's projection of one todo on this worker, or None."""
    state = todos_table.get(todo_id)
    return None if state is None else Projection.from_state(state)


def put_projection(todo_id: int, projection: Projection) -> None:
    """Store a projection (writes the changelog entry in the current event's partition)."""
    todos_table[todo_id] = projection.to_state()
