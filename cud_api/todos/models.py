"""Tables owned by the write API's migrations (see README "Schema")."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from contracts.limits import TITLE_MAX_LENGTH


class Todo(models.Model):
    """A todo in the system of record; rows are written by the Faust command agent (and admin)."""

    # bigint identity column: its sequence is pg_get_serial_sequence('todos', 'id'), from which
    # the API allocates ids before emitting a create command.
    id = models.BigAutoField(primary_key=True)
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    # DB defaults as well as model defaults, so a raw INSERT from psql or the agent works too.
    description = models.TextField(blank=True, default="", db_default="")
    completed = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())
    version = models.BigIntegerField(default=1, db_default=1)
    # Column owner_id. Deleting a user deletes their todos (CDC carries the deletes). No index
    # of its own: the (owner_id, id) index serves every lookup by owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="todos", db_index=False
    )

    class Meta:
        db_table = "todos"
        ordering = ("id",)
        indexes = [models.Index(fields=["owner", "id"], name="todos_owner_id_idx")]

    def __str__(self) -> str:
        return f"#{self.id} {self.title}"


class CommandOperation(models.TextChoices):
    """The operations a command on `todos` can carry."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class CommandStatus(models.TextChoices):
    """Outcome of a command, as recorded by the command agent."""

    APPLIED = "applied"
    REJECTED = "rejected"


class TodoCommand(models.Model):
    """The outcome of one command; written by the Faust command agent, read by the API."""

    command_id = models.UUIDField(primary_key=True)
    todo_id = models.BigIntegerField(db_index=True)
    operation = models.CharField(max_length=16, choices=CommandOperation.choices)
    status = models.CharField(max_length=16, choices=CommandStatus.choices)
    reason = models.TextField(null=True, blank=True)
    applied_at = models.DateTimeField(db_default=Now())
    # Who sent it (the command agent writes it); NULL for commands recorded before owners.
    owner_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        db_table = "todo_commands"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["applied", "rejected"]),
                name="todo_commands_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.command_id} {self.operation} #{self.todo_id}: {self.status}"


class IdempotencyKey(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed for 24 hours."""

    # "<user id>:<client's key>": one user's key never replays another's response.
    key = models.CharField(primary_key=True, max_length=300)
    # sha256 of method, path and body: the same key with a different request is refused.
    fingerprint = models.CharField(max_length=64)
    # NULL while the first request is still in flight (claimed, not yet answered).
    status_code = models.IntegerField(null=True)
    response_body = models.JSONField(null=True)
    response_headers = models.JSONField(default=dict, db_default={})
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "idempotency_keys"
        indexes = [models.Index(fields=["created_at"], name="idempotency_keys_created_idx")]

    def __str__(self) -> str:
        return self.key
