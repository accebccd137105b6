"""Pure decisions of the stream app: no I/O, unit-tested without Kafka."""

from streams.domain.changes import Projection, fold_changes, project_change
from streams.domain.commands import Decision, Insert, Reject, Remove, Update, apply_command

__all__ = [
    "Decision",
    "Insert",
    "Projection",
    "Reject",
    "Remove",
    "Update",
    "apply_command",
    "fold_changes",
    "project_change",
]
