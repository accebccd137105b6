"""The worker's cache of rendered bucket pages, exact while this worker is the only writer.

A bucket's live todos are kept as their ids, completed flags and public JSON already
rendered by orjson, so a page is joined from bytes instead of read, decoded and serialized
again. The writer replaces an entry with every bucket it writes; a read from MongoDB fills
one only if it is not older than what this worker last wrote or cached. Entries are served
only while this worker consumes every partition of the CDC topic, in one rebalance epoch:
any other epoch, or not holding them all, clears the cache first
(docs/decisions/read-model-pages.md).
"""

from __future__ import annotations

import bisect
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from contracts.stores import MalformedDocumentError, unpack_field

# Approximate bytes an entry holds beside its JSON: per todo its id (8), flag (1) and end
# offset (4) in arrays, and the objects themselves.
PER_TODO_OVERHEAD = 13
PER_ENTRY_OVERHEAD = 400


@dataclass(frozen=True)
class RenderedBucket:
    """One bucket's live todos in id order: ids, completed flags, and their JSON, comma-joined.

    One bytes object per bucket, not one per todo: orjson allocates every result in a
    buffer of at least 4 KB that stays behind it, and a run of todos is then one slice.
    """

    key: str  # the bucket document's `_id` (owner and bucket)
    version: int
    ids: array[int]
    completed: bytes  # 1 per completed todo, 0 otherwise
    joined: bytes  # the todos' public JSON separated by commas
    ends: array[int]  # where each todo's JSON ends in `joined`

    @classmethod
    def of(cls, key: str, document: Mapping[str, Any]) -> RenderedBucket:
        """Render a bucket document (`todos` packed in the public shape, version `_v`)."""
        todos = unpack_field(document, "todos")
        parts = [orjson.dumps(todo) for todo in todos]
        ends = array("I")
        end = -1
        for part in parts:
            end += 1 + len(part)
            ends.append(end)
        try:
            return cls(
                key=key,
                version=int(document.get("_v", 0)),
                ids=array("q", (todo["id"] for todo in todos)),
                completed=bytes(todo["completed"] is True for todo in todos),
                joined=b",".join(parts),
                ends=ends,
            )
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise MalformedDocumentError(
                f"read model document {key!r}: its todos or version are not as written: {exc!r}"
            ) from exc

    @property
    def size(self) -> int:
        """Return the approximate bytes this entry holds."""
        return PER_ENTRY_OVERHEAD + len(self.joined) + PER_TODO_OVERHEAD * len(self.ids)

    def matches(self, *, after: int, completed: bool | None) -> list[int]:
        """Return the positions of the todos with id > `after` matching `completed` (None: all)."""
        start = bisect.bisect_right(self.ids, after)
        if completed is None:
            return list(range(start, len(self.ids)))
        flags, wanted = self.completed, int(completed)
        return [i for i in range(start, len(flags)) if flags[i] == wanted]

    def fragments(self, positions: list[int]) -> list[bytes]:
        """Return the JSON of the todos at `positions` (ascending), each run of them one slice."""
        found: list[bytes] = []
        ends, joined = self.ends, self.joined
        run_start = prev = -2
        for i in [*positions, -2]:
            if i == prev + 1:
                prev = i
                continue
            if run_start >= 0:
                found.append(joined[0 if run_start == 0 else ends[run_start - 1] + 1 : ends[prev]])
            run_start = prev = i
        return found


class PageCache:
    """Rendered buckets, least recently used dropped beyond `capacity` bytes (0: off)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, RenderedBucket] = OrderedDict()
        self._bytes = 0
        # The version of every bucket this worker wrote last: a read that began before one
        # of its writes and answers after must not bring the older content back. Ints only,
        # one per bucket ever written, so they are kept even when the entry is evicted.
        self._written: dict[str, int] = {}
        self._epoch: int | None = None

    @property
    def bytes(self) -> int:
        """Return the approximate bytes held."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def serving(self, epoch: int | None) -> bool:
        """Return whether entries may answer pages in `epoch` (None: not the sole writer).

        Anything but the epoch the entries were gathered in clears them first.
        """
        if epoch is None or epoch != self._epoch:
            self.clear()
            self._epoch = epoch
        return self.capacity > 0 and epoch is not None

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self._bytes = 0

    def get_many(self, keys: Iterable[str]) -> dict[str, RenderedBucket]:
        """Return the cached entries among these bucket documents, marking them recently used."""
        found: dict[str, RenderedBucket] = {}
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                found[key] = entry
        return found

    def fill(self, entry: RenderedBucket, *, epoch: int) -> bool:
        """Keep what a page read from MongoDB, unless older than what this worker holds."""
        if self.capacity <= 0 or epoch != self._epoch:
            return False
        if entry.version < self._written.get(entry.key, 0):
            return False
        held = self._entries.get(entry.key)
        if held is not None and held.version >= entry.version:
            return False
        self._put(entry)
        return True

    def written(self, document: Mapping[str, Any]) -> None:
        """Replace a bucket's entry with the content this worker has just written."""
        if self.capacity <= 0:
            return
        key = str(document["_id"])
        self._written[key] = int(document.get("_v", 0))
        if self._epoch is None:
            return  # not serving: the next epoch starts empty anyway, so rendering is wasted
        self._put(RenderedBucket.of(key, document))

    def _put(self, entry: RenderedBucket) -> None:
        old = self._entries.pop(entry.key, None)
        if old is not None:
            self._bytes -= old.size
        size = entry.size
        if size > self.capacity:
            return  # larger than the whole cache: served from MongoDB
        self._entries[entry.key] = entry
        self._bytes += size
        while self._bytes > self.capacity:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size


class _TopicPartition(Protocol):
    topic: str
    partition: int


def sole_writer_epoch(app: Any, topic: str, partitions: int) -> int | None:
    """Return the rebalance count while `app` consumes all `partitions` of `topic`, else None.

    Faust counts a rebalance when it starts (`on_rebalance_start`, called from the consumer's
    revocation callback before every join), and its assignor's actives are this member's
    partitions of the last completed assignment. Mid-rebalance counts as not the sole writer.
    """
    if getattr(app, "rebalancing", True):
        return None
    assignor = getattr(app, "assignor", None)
    if assignor is None:
        return None
    held: Iterable[_TopicPartition] = assignor.assigned_actives()
    mine = {tp.partition for tp in held if tp.topic == topic}
    if not mine.issuperset(range(partitions)):
        return None
    return int(app.rebalancing_count)
