"""Django app for users and tokens on the write API."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Sign-up, sign-in, tokens, and the management commands for the demo user."""

    name = "cud_api.accounts"
    label = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
