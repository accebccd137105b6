"""Unit tests of the write API: Django configured, no PostgreSQL, no Kafka."""

import os
import secrets

import django
from django.conf import settings

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cud_api.config.settings")
django.setup()
# Set on the settings object, not in os.environ, so it never leaks into a stack the
# integration tests start from this same process.
settings.SECRET_KEY = secrets.token_urlsafe(50)
