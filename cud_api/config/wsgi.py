"""WSGI entry point: `gunicorn cud_api.config.wsgi:application`."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cud_api.config.settings")

application = get_wsgi_application()

# Fail at startup, not on the first admin login, when no DJANGO_SECRET_KEY was given:
# Django raises ImproperlyConfigured on access to an empty SECRET_KEY.
_ = settings.SECRET_KEY

# Likewise for the token keys: a server that cannot sign or verify must not start.
from cud_api.accounts.backend import token_backend  # noqa: E402

token_backend().check()

# gunicorn loads the application in each worker after forking: create this worker's Kafka
# producer now, so its connection and idempotent-producer handshake are not paid by the first
# request (seen as a 1-2 s p99 in short benchmark runs).
from cud_api.todos.commands import publisher_get  # noqa: E402

publisher_get()
