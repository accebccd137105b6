"""Records on the topics: typed forms, the key codec, the command encoder, strict decoders."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast
from uuid import UUID

import orjson

from contracts.limits import TODO_ID_MAX, TODO_ID_MIN

Operation = Literal["create", "update", "delete"]
ChangeOp = Literal["r", "c", "u", "d"]
OPERATIONS: tuple[Operation, ...] = ("create", "update", "delete")
CHANGE_OPS: tuple[ChangeOp, ...] = ("r", "c", "u", "d")
FIELD_TYPES: Mapping[str, type] = {"title": str, "description": str, "completed": bool}


class DecodeError(ValueError):
    """A record that cannot be turned into its typed form; the message is the reason."""


@dataclass(frozen=True)
class Todo:
    """One todo as PostgreSQL holds it."""

    id: int
    title: str
    description: str = ""
    completed: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    version: int = 0
    # The Django user who owns it; None only for a row captured before owners existed.
    owner_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the seed's public shape (timestamps as ISO-8601 UTC with a Z)."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "completed": self.completed,
            "created_at": format_time(self.created_at),
            "updated_at": format_time(self.updated_at),
        }

    def to_state(self) -> dict[str, Any]:
        """Return the public shape plus the version and the owner, for storage."""
        return {**self.to_json(), "version": self.version, "owner_id": self.owner_id}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Todo:
        """Rebuild a todo from `to_state` output."""
        return cls(
            id=int(state["id"]),
            title=str(state["title"]),
            description=str(state.get("description") or ""),
            completed=bool(state.get("completed", False)),
            created_at=parse_time(state.get("created_at")),
            updated_at=parse_time(state.get("updated_at")),
            version=int(state.get("version") or 0),
            owner_id=_optional_owner(state.get("owner_id")),
        )


@dataclass(frozen=True)
class TodoCommand:
    """A write accepted by the write API, to be applied to PostgreSQL on behalf of `owner_id`."""

    command_id: UUID
    todo_id: int
    operation: Operation
    timestamp: datetime
    owner_id: int
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, order=True)
class Position:
    """Where a change sits in the source's history; ordering decides what is newer.

    The LSN comes first: PostgreSQL holds a row's lock until commit, so two changes of one
    row always reach the WAL in commit order, and so does a psql UPDATE that leaves
    `version` alone. Snapshot rows (op `r`) all share the snapshot's LSN, so at an equal
    LSN a streamed change beats a snapshot read, and then the row's `version` breaks ties.
    """

    lsn: int
    streamed: bool
    version: int

    def key(self) -> str:
        """Return a fixed-width string whose string order is the position order."""
        return f"{self.lsn:020d}.{int(self.streamed)}.{self.version:020d}"

    @classmethod
    def from_key(cls, key: str) -> Position:
        """Parse `key()` output."""
        lsn, streamed, version = key.split(".")
        return cls(lsn=int(lsn), streamed=streamed == "1", version=int(version))


@dataclass(frozen=True)
class ChangeEvent:
    """One Debezium change of a `todos` row; `before_owner_id`: the owner before it, if known."""

    op: ChangeOp
    todo_id: int
    after: Todo | None
    position: Position
    before_owner_id: int | None = None
    # Debezium's source.ts_ms: when the change was committed in PostgreSQL (ms since epoch).
    source_ts_ms: int | None = None


def parse_time(value: object) -> datetime | None:
    """Parse an ISO-8601 timestamp (naive means UTC); None stays None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError as exc:
            raise DecodeError(f"bad timestamp {value!r}") from exc
    else:
        raise DecodeError(f"bad timestamp {value!r}")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_time(moment: datetime | None) -> str | None:
    """Format as ISO-8601 UTC with microseconds and a Z, like the seed's examples."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_todo_id(value: object) -> int:
    """Return a todo id from an int or its decimal text; anything else is a DecodeError."""
    if isinstance(value, bool):
        raise DecodeError(f"bad todo id {value!r}")
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if isinstance(value, str):
        text = value.strip()
        if not text.isdigit() or not text.isascii():
            raise DecodeError(f"bad todo id {value!r}")
        value = int(text)
    if not isinstance(value, int) or not TODO_ID_MIN <= value <= TODO_ID_MAX:
        raise DecodeError(f"bad todo id {value!r}")
    return value


def parse_owner_id(value: object) -> int:
    """Return a user id from an int or its decimal text (a token's claim); else DecodeError."""
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= TODO_ID_MAX:
        raise DecodeError(f"bad owner id {value!r}")
    return value


def _optional_owner(value: object) -> int | None:
    return None if value is None else parse_owner_id(value)


def _loads(raw: bytes | None) -> Any:
    if raw is None:
        raise DecodeError("empty value")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not JSON: {exc}") from exc


def encode_todo_key(todo_id: int) -> bytes:
    """Return the record key of a todo on every topic: its id as JSON integer bytes (b"42")."""
    return orjson.dumps(todo_id)


def encode_command(
    *,
    command_id: UUID,
    todo_id: int,
    operation: Operation,
    data: Mapping[str, Any],
    timestamp: datetime,
    owner_id: int,
) -> bytes:
    """Return the JSON value of a command on topic `todos` (the inverse of `decode_command`)."""
    return orjson.dumps(
        {
            "command_id": str(command_id),
            "id": todo_id,
            "operation": operation,
            "owner_id": owner_id,
            "data": dict(data),
            "timestamp": timestamp.astimezone(UTC).isoformat(timespec="microseconds"),
        }
    )


def decode_todo_key(key: bytes | None) -> int | None:
    """Return the todo id a record key names: b"42", or a JSON object/envelope around it."""
    if key is None:
        return None
    body = _loads(key)
    if isinstance(body, dict) and "payload" in body:
        body = body["payload"]
    if isinstance(body, dict):
        body = body.get("id")
    return parse_todo_id(body)


def decode_command(key: bytes | None, value: bytes | None) -> TodoCommand:
    """Decode a record of topic `todos`, or raise DecodeError saying why not."""
    body = _loads(value)
    if not isinstance(body, dict):
        raise DecodeError("command is not a JSON object")
    missing = {"command_id", "id", "operation", "timestamp", "owner_id"} - body.keys()
    if missing:
        raise DecodeError(f"command lacks {sorted(missing)}")
    operation = body["operation"]
    if operation not in OPERATIONS:
        raise DecodeError(f"unknown operation {operation!r}")
    try:
        command_id = UUID(str(body["command_id"]))
    except ValueError as exc:
        raise DecodeError(f"bad command_id {body['command_id']!r}") from exc
    todo_id = parse_todo_id(body["id"])
    owner_id = parse_owner_id(body["owner_id"])
    if key is None or decode_todo_key(key) != todo_id:
        raise DecodeError(f"record key {key!r} does not match id {todo_id}")
    timestamp = parse_time(body["timestamp"])
    if timestamp is None:
        raise DecodeError("command lacks a timestamp")
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise DecodeError("data is not a JSON object")
    for name, value_ in data.items():
        expected = FIELD_TYPES.get(name)
        if expected is None:
            raise DecodeError(f"unknown field {name!r}")
        if not isinstance(value_, expected):
            raise DecodeError(f"field {name!r} is not a {expected.__name__}")
    return TodoCommand(
        command_id=command_id,
        todo_id=todo_id,
        operation=cast(Operation, operation),
        timestamp=timestamp,
        owner_id=owner_id,
        data=data,
    )


def _decode_row(row: object) -> Todo:
    if not isinstance(row, dict):
        raise DecodeError("row is not a JSON object")
    try:
        title = row["title"]
        todo = Todo(
            id=parse_todo_id(row["id"]),
            title=title,
            description=row.get("description") or "",
            completed=bool(row.get("completed") or False),
            created_at=parse_time(row.get("created_at")),
            updated_at=parse_time(row.get("updated_at")),
            version=int(row.get("version") or 0),
            owner_id=_optional_owner(row.get("owner_id")),
        )
    except KeyError as exc:
        raise DecodeError(f"row lacks {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise DecodeError(f"bad row: {exc}") from exc
    if not isinstance(todo.title, str) or not isinstance(todo.description, str):
        raise DecodeError("row title/description is not text")
    return todo


def decode_change(key: bytes | None, value: bytes | None) -> ChangeEvent | None:
    """Decode a record of `postgres.public.todos`; None for a tombstone, else DecodeError."""
    if value is None or value == b"":
        return None
    body = _loads(value)
    if isinstance(body, dict) and "payload" in body and "op" not in body:
        body = body["payload"]  # the JSON converter's schemas.enable=true wrapper
    if body is None:
        return None
    if not isinstance(body, dict):
        raise DecodeError("change event is not a JSON object")
    op = body.get("op")
    if op not in CHANGE_OPS:
        raise DecodeError(f"unknown change op {op!r}")
    source = body.get("source")
    if not isinstance(source, dict):
        raise DecodeError("change event lacks source")
    lsn = source.get("lsn")
    if isinstance(lsn, bool) or not isinstance(lsn, int):
        raise DecodeError(f"bad source.lsn {lsn!r}")
    if op == "d":
        # Only the key columns are certain in `before` (all of them with REPLICA IDENTITY FULL).
        before = body.get("before")
        if not isinstance(before, dict) or "id" not in before:
            raise DecodeError("delete event lacks before.id")
        after, todo_id = None, parse_todo_id(before["id"])
        raw_version = before.get("version")
        version = raw_version if isinstance(raw_version, int) else 0
    else:
        after = _decode_row(body.get("after"))
        todo_id, version = after.id, after.version
    # REPLICA IDENTITY FULL gives updates and deletes the whole old row: an owner change
    # shows here, so the read side can take the todo out of the old owner's list.
    before_row = body.get("before")
    before_owner = before_row.get("owner_id") if isinstance(before_row, dict) else None
    try:
        before_owner_id = _optional_owner(before_owner)
    except DecodeError as exc:
        raise DecodeError(f"bad before.owner_id: {exc}") from exc
    key_id = decode_todo_key(key)
    if key_id is not None and key_id != todo_id:
        raise DecodeError(f"record key {key!r} does not match row id {todo_id}")
    return ChangeEvent(
        op=cast(ChangeOp, op),
        todo_id=todo_id,
        after=after,
        position=Position(lsn=lsn, streamed=op != "r", version=version),
        before_owner_id=before_owner_id,
        source_ts_ms=_optional_ms(source.get("ts_ms")),
    )


def _optional_ms(value: object) -> int | None:
    """A timestamp in milliseconds, or None when absent or not an integer (never an error)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None
