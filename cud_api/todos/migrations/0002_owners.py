"""Owners: `todos.owner_id` (filled here, NOT NULL in 0003), `todo_commands.owner_id`, and
Idempotency-Keys scoped per user.

Rows that existed before owners go to user `demo` (created with an unusable password when
missing; `manage.py ensure_demo_user` gives it one). The UPDATE bumps each row's version, so
Debezium carries every row again with its owner and a re-snapshot orders it after the old one.
"""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.db.models import F

DEMO_USERNAME = "demo"


def assign_existing_todos(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    todo_model = apps.get_model("todos", "Todo")
    demo, _ = user_model.objects.get_or_create(
        username=DEMO_USERNAME, defaults={"password": make_password(None)}
    )
    todo_model.objects.filter(owner__isnull=True).update(
        owner_id=demo.pk, version=F("version") + 1
    )


class Migration(migrations.Migration):
    dependencies = [
        ("todos", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="todo",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="todos",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(assign_existing_todos, migrations.RunPython.noop),
        migrations.AddField(
            model_name="todocommand",
            name="owner_id",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="idempotencykey",
            name="key",
            field=models.CharField(max_length=300, primary_key=True, serialize=False),
        ),
    ]
