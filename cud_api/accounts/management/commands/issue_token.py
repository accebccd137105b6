"""`manage.py issue_token USERNAME`: print a fresh access token for an active user."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cud_api.accounts.services import access_token_issue
from cud_api.core.exceptions import ApplicationError


class Command(BaseCommand):
    """Print an access token on stdout (nothing else), for `make token`."""

    help = "Print a fresh access token for USERNAME."

    def add_arguments(self, parser: CommandParser) -> None:
        """The user's username."""
        parser.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        """Sign a token with the active key and print it."""
        try:
            token = access_token_issue(username=options["username"])
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(token)
