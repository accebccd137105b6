"""Settings for the write API, read once from the environment (via contracts.environment)."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from contracts import auth
from contracts.environment import flag, metrics_on, setting

BASE_DIR = Path(__file__).resolve().parent.parent


def env_list(name: str) -> list[str]:
    """Read a comma-separated environment variable as a list of non-empty items."""
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


DEBUG = flag("DJANGO_DEBUG")
# TODO_EDA_METRICS=0: no request middleware, no produce metrics, no `/metrics` route.
METRICS_ON = metrics_on()

# No committed secret: DJANGO_SECRET_KEY, or the file DJANGO_SECRET_KEY_FILE names (the compose
# file's `keys` one-shot makes it). Django reads SECRET_KEY lazily, so migrations and type checks
# work without one; wsgi.py touches it at startup so a server without a key fails immediately.
# Only in debug does a missing key get a random one for this process (sessions then end
# at restart, which a debug run can live with).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "") or auth.read_secret_file(
    os.environ.get(auth.DJANGO_SECRET_KEY_FILE_VARIABLE, "")
)
if not SECRET_KEY and DEBUG:
    SECRET_KEY = secrets.token_urlsafe(50)

ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", *env_list("DJANGO_ALLOWED_HOSTS")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "cud_api.accounts.apps.AccountsConfig",
    "cud_api.todos.apps.TodosConfig",
]

MIDDLEWARE = [
    # Outermost, so every answer is counted, the 413s of the next one included.
    *(["cud_api.metrics.middleware.RequestMetricsMiddleware"] if METRICS_ON else []),
    # First, so an oversized body is refused before anything reads it.
    "cud_api.core.middleware.BodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Sessions, CSRF cookies, users and messages serve only the admin: skipped for the API.
    "cud_api.core.middleware.AdminSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "cud_api.core.middleware.AdminCsrfViewMiddleware",
    "cud_api.core.middleware.AdminAuthenticationMiddleware",
    "cud_api.core.middleware.AdminMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "cud_api.config.urls"
WSGI_APPLICATION = "cud_api.config.wsgi.application"

# URLs are matched with an optional trailing slash; never redirect a POST to add one.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        # Django's psycopg 3 backend with a health check that needs no round trip.
        "ENGINE": "cud_api.core.postgresql_backend",
        "HOST": setting("POSTGRES_HOST"),
        "PORT": setting("POSTGRES_PORT"),
        "NAME": setting("POSTGRES_DB"),
        "USER": setting("POSTGRES_USER"),
        "PASSWORD": setting("POSTGRES_PASSWORD"),
        # One persistent connection per gthread thread, re-checked after PostgreSQL restarts.
        "CONN_MAX_AGE": int(os.environ.get("DJANGO_CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {
            # Short connect timeout: a down database must become a quick 503, not a hung worker.
            "connect_timeout": 3,
            "application_name": "cud_api",
        },
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# The API accepts bodies up to 64 KiB; BodySizeLimitMiddleware answers 413 above that.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
MAX_BODY_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE

REST_FRAMEWORK = {
    # orjson both ways (docs/decisions/web-paths.md); the parser falls back to
    # DRF's for the bodies orjson refuses, so every answer stays what it was.
    "DEFAULT_RENDERER_CLASSES": ["drf_orjson_renderer.renderers.ORJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["cud_api.core.parsers.OrjsonFirstJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "cud_api.core.negotiation.FirstRendererNegotiation",
    # Bearer tokens only: no session auth also means no CSRF on the JSON API. Views that stay
    # open (health, schema, docs, sign-in) say so themselves.
    "DEFAULT_AUTHENTICATION_CLASSES": ["cud_api.accounts.authentication.BearerAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "cud_api.core.exception_handlers.envelope_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "todo-eda write API",
    "DESCRIPTION": (
        "Writes are validated, emitted as commands on Kafka topic `todos` and answered with 202; "
        "the command's status is at `/api/commands/{command_id}/`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and Swagger UI are public: they ignore any Authorization header.
    "SERVE_AUTHENTICATION": [],
    # `/todos/...` duplicates `/api/todos/...` for the seed's curl examples; document one.
    "PREPROCESSING_HOOKS": ["cud_api.core.schema.documented_endpoints_only"],
    # PATCH bodies have their own pydantic model (todos/inputs.py), not a derived "Patched" one.
    "COMPONENT_SPLIT_PATCH": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "cud_api.core.schema.request_bodies_required",
    ],
    # Swagger UI assets come from drf-spectacular-sidecar: no outside network needed.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

KAFKA_BROKER_URL = setting("KAFKA_BROKER_URL")
# Upper bound for a command's delivery (librdkafka message.timeout.ms); the request waits this
# long at most for the broker's acknowledgement before answering 503.
KAFKA_DELIVERY_TIMEOUT_MS = int(os.environ.get("CUD_API_KAFKA_DELIVERY_TIMEOUT_MS", "5000"))
# How long librdkafka holds a command to batch it with concurrent ones (linger.ms).
KAFKA_LINGER_MS = int(os.environ.get("CUD_API_KAFKA_LINGER_MS", "1"))
# Seconds a client is asked to wait (Retry-After) when a dependency is down; longer as the
# outage lasts, up to the most (cud_api.core.dependency_link.DependencyLink.retry_after_s). The
# most is half the 30 s in which writes should be readable again after a dependency's return: a
# client told to wait at the outage's end comes back no later than that, with time left to drain.
RETRY_AFTER_SECONDS = 5
RETRY_AFTER_MAX_SECONDS = 15

# Ids each process reserves from the `todos` sequence per round trip (1: one nextval per create,
# ids increasing across all processes; larger: fewer round trips, ids increasing per process).
CUD_API_ID_BLOCK_SIZE = int(os.environ.get("CUD_API_ID_BLOCK_SIZE", "50"))

IDEMPOTENCY_KEY_TTL_SECONDS = 24 * 60 * 60

# Tokens (docs/decisions/authentication.md). The key folders are read on first use, so
# migrations and `manage.py check` work without them; wsgi.py checks them at startup.
AUTH_SIGNING_KEYS_DIR = os.environ.get(auth.SIGNING_KEYS_DIR_VARIABLE, "")
AUTH_VERIFYING_KEYS_DIR = os.environ.get(auth.VERIFYING_KEYS_DIR_VARIABLE, "")
# The metrics scrape token's file (contracts.auth.ScrapeToken); empty: no scrape token accepted.
METRICS_SCRAPE_TOKEN_FILE = os.environ.get(auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE, "")
SIMPLE_JWT = {
    "ALGORITHM": auth.ALGORITHM,
    # Never used: cud_api.accounts.tokens signs and verifies with the key folders.
    "SIGNING_KEY": None,
    "VERIFYING_KEY": "",
    "ISSUER": auth.ISSUER,
    "ACCESS_TOKEN_LIFETIME": timedelta(
        minutes=int(os.environ.get("CUD_API_ACCESS_TOKEN_MINUTES", "15"))
    ),
    "REFRESH_TOKEN_LIFETIME": timedelta(
        hours=int(os.environ.get("CUD_API_REFRESH_TOKEN_HOURS", "24"))
    ),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_CLAIM": auth.USER_ID_CLAIM,
    "TOKEN_TYPE_CLAIM": auth.TOKEN_TYPE_CLAIM,
    "AUTH_TOKEN_CLASSES": ("cud_api.accounts.tokens.AccessToken",),
    "UPDATE_LAST_LOGIN": False,
}
# Seconds a process remembers a user row for authentication (0: read it on every request).
CUD_API_USER_CACHE_SECONDS = float(os.environ.get("CUD_API_USER_CACHE_SECONDS", "5"))
# Self-service sign-up on unless set to 0 (or false, no, off).
CUD_API_REGISTRATION = os.environ.get("CUD_API_REGISTRATION", "1").strip().lower() not in {
    "0",
    "false",
    "no",
    "off",
}
# `GET /metrics` without a token from a loopback address (a local Prometheus) unless set to 0.
CUD_API_METRICS_LOOPBACK = os.environ.get("CUD_API_METRICS_LOOPBACK", "1").strip().lower() not in {
    "0",
    "false",
    "no",
    "off",
}
# Failed sign-ins allowed per (client address, username) and period.
CUD_API_LOGIN_FAILURES_RATE = os.environ.get("CUD_API_LOGIN_FAILURES_RATE", "5/min")
LOGIN_THROTTLE_CACHE = "shared"
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # In PostgreSQL (table made by the accounts migration): every gunicorn worker shares it.
    "shared": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "django_cache",
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "filters": {"skip_503": {"()": "cud_api.core.log_filters.SkipServiceUnavailable"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # 4xx are answered on purpose; keep Django from logging each as a warning. A 503 is a
        # dependency outage, which cud_api.dependencies logs once when it begins and ends.
        "django.request": {"level": "ERROR", "filters": ["skip_503"]},
    },
}
