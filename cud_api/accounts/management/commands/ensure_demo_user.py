"""`manage.py ensure_demo_user --password-file PATH`: the local demo user, made or reset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

DEMO_USERNAME = "demo"


class Command(BaseCommand):
    """Create (or re-activate) user `demo` and set its password from a file; idempotent."""

    help = "Create or activate user 'demo' with the password read from a file."

    def add_arguments(self, parser: CommandParser) -> None:
        """`--password-file PATH`: a file holding the password (first line, stripped)."""
        parser.add_argument("--password-file", required=True, type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        """Create or update the user; print its name, never the password."""
        path: Path = options["password_file"]
        try:
            password = path.read_text().strip()
        except OSError as exc:
            raise CommandError(f"cannot read the password file {path}: {exc}") from exc
        if not password:
            raise CommandError(f"the password file {path} is empty")
        with transaction.atomic():
            user, created = User.objects.select_for_update().get_or_create(username=DEMO_USERNAME)
            changed = created or not user.is_active or not user.check_password(password)
            if changed:
                user.is_active = True
                user.set_password(password)
                user.save(update_fields=["is_active", "password"])
        state = "created" if created else ("updated" if changed else "unchanged")
        self.stdout.write(f"user {DEMO_USERNAME} (id {user.pk}) {state}")
