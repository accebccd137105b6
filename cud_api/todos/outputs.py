"""What the todos app answers: todos and command outcomes, as DRF output serializers."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from cud_api.todos.models import Todo


class TodoOutputSerializer(serializers.ModelSerializer[Todo]):
    """A todo as stored in PostgreSQL."""

    class Meta:
        model = Todo
        fields = ("id", "title", "description", "completed", "created_at", "updated_at", "version")
        # Output only: read-only fields are `required` in the response schema, as they are.
        read_only_fields = fields


class CommandStatusOutputSerializer(serializers.Serializer[Any]):
    """A command's outcome: pending until the command agent records it."""

    command_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["pending", "applied", "rejected"])
    todo_id = serializers.IntegerField(allow_null=True)
    operation = serializers.CharField(allow_null=True)
    reason = serializers.CharField(allow_null=True)
    applied_at = serializers.DateTimeField(allow_null=True)
