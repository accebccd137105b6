"""Admin for todos: direct writes to the system of record, carried to the read side by CDC."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import F
from django.db.models.functions import Now
from django.forms import ModelForm
from django.http import HttpRequest

from cud_api.todos.models import Todo, TodoCommand


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    """Edit todos directly; keeps `version` and `updated_at` moving like the command agent does."""

    list_display = ("id", "title", "owner", "completed", "version", "updated_at")
    list_filter = ("completed", "owner")
    list_select_related = ("owner",)
    search_fields = ("title", "description", "owner__username")
    # A search box instead of a <select> of every user.
    autocomplete_fields = ("owner",)
    readonly_fields = ("id", "version", "created_at", "updated_at")
    fields = (
        "id",
        "owner",
        "title",
        "description",
        "completed",
        "version",
        "created_at",
        "updated_at",
    )

    def save_model(self, request: HttpRequest, obj: Todo, form: ModelForm, change: bool) -> None:
        """Insert with the DB defaults, or update only the edited fields and bump the version."""
        if not change:
            # id comes from the same sequence the API allocates from; version/timestamps
            # from the column defaults.
            super().save_model(request, obj, form, change)
            return
        edited = [
            name
            for name in form.changed_data
            if name in {"title", "description", "completed", "owner"}
        ]
        if not edited:
            return
        # Computed in the UPDATE itself, so a concurrent command agent write is not lost.
        obj.version = F("version") + 1
        obj.updated_at = Now()
        obj.save(update_fields=[*edited, "version", "updated_at"])
        obj.refresh_from_db(fields=["version", "updated_at"])


@admin.register(TodoCommand)
class TodoCommandAdmin(admin.ModelAdmin):
    """Read-only view of command outcomes written by the command agent."""

    list_display = ("command_id", "todo_id", "owner_id", "operation", "status", "applied_at")
    list_filter = ("operation", "status")
    search_fields = ("command_id", "todo_id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Outcomes are written by the command agent only."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Outcomes are written by the command agent only."""
        return False
