"""The read model in MongoDB: todos in fixed id buckets, one document each, and a directory."""

from streams.read_model.model import ReadModel
from streams.read_model.pages import Page
from streams.read_model.store import DocumentsRefusedError, ReadModelWriteError

__all__ = ["DocumentsRefusedError", "Page", "ReadModel", "ReadModelWriteError"]
