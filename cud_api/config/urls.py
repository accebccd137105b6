"""Root URLconf: the API (with and without `/api`), health, metrics, admin, OpenAPI docs."""

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as staticfiles_serve
from django.http import HttpRequest, HttpResponseBase
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cud_api.core.apis import HealthApi
from cud_api.core.middleware import ADMIN_PATH_PREFIX
from cud_api.metrics.apis import MetricsApi


def static_serve(request: HttpRequest, path: str) -> HttpResponseBase:
    """Serve admin and Swagger UI assets from the installed apps, also with DEBUG off.

    The launcher runs gunicorn without a web server in front; these few files are small
    and requested rarely, so Django serving them is acceptable here.
    """
    return staticfiles_serve(request, path, insecure=True)


# With the metrics off (TODO_EDA_METRICS=0) `/metrics` is no route: the usual JSON 404.
metrics_routes = (
    [re_path(r"^metrics/?$", MetricsApi.as_view(), name="metrics")] if settings.METRICS_ON else []
)

urlpatterns = [
    re_path(r"^health/?$", HealthApi.as_view(), name="health"),
    *metrics_routes,
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/auth/", include(("cud_api.accounts.urls", "accounts"), namespace="auth")),
    path("api/", include(("cud_api.todos.urls", "todos"), namespace="api")),
    path("", include(("cud_api.todos.urls", "todos"), namespace="root")),
    path(ADMIN_PATH_PREFIX.lstrip("/"), admin.site.urls),
    re_path(r"^static/(?P<path>.*)$", static_serve),
]

handler400 = "cud_api.core.views.bad_request"
handler403 = "cud_api.core.views.permission_denied"
handler404 = "cud_api.core.views.not_found"
handler500 = "cud_api.core.views.server_error"
