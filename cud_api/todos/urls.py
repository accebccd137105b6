"""Routes of the todos app; mounted under both `/api/` and `/` (the seed's curl uses `/todos/`)."""

from django.urls import re_path

from cud_api.todos.apis import CommandStatusApi, TodoDetailApi, TodoListCreateApi

# Trailing slash optional; ids are matched loosely and checked in the view, so a bad id gets
# a 404 in the error envelope with a reason instead of a bare "no such URL".
urlpatterns = [
    re_path(r"^todos/?$", TodoListCreateApi.as_view(), name="todos"),
    re_path(r"^todos/(?P<todo_id>[^/]+)/?$", TodoDetailApi.as_view(), name="todo"),
    re_path(r"^commands/(?P<command_id>[^/]+)/?$", CommandStatusApi.as_view(), name="command"),
]
