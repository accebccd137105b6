"""App configuration for the todos app."""

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created

from cud_api.core import dependency_link


class TodosConfig(AppConfig):
    """The todos app: schema owner, command emitter, system-of-record reader."""

    name = "cud_api.todos"
    label = "todos"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """A new database connection means PostgreSQL answers again (after an outage)."""
        connection_created.connect(_postgres_answered, dispatch_uid="postgres-answered")


def _postgres_answered(**_: Any) -> None:
    dependency_link.POSTGRES.answered()
