"""Routes of the accounts app, mounted under `/api/auth/`."""

from django.urls import re_path

from cud_api.accounts.apis import RegisterApi, TokenObtainApi, TokenRefreshApi

urlpatterns = [
    re_path(r"^register/?$", RegisterApi.as_view(), name="register"),
    re_path(r"^token/?$", TokenObtainApi.as_view(), name="token"),
    re_path(r"^token/refresh/?$", TokenRefreshApi.as_view(), name="token-refresh"),
]
