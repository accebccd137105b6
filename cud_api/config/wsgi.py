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
