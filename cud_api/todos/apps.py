"""App configuration for the todos app."""

from django.apps import AppConfig


class TodosConfig(AppConfig):
    """The todos app: schema owner, command emitter, system-of-record reader."""

    name = "cud_api.todos"
    label = "todos"
    default_auto_field = "django.db.models.BigAutoField"
