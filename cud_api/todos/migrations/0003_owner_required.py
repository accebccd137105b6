"""`todos.owner_id` NOT NULL, and the (owner_id, id) index every read by owner uses.

A migration of its own: in 0002's transaction the UPDATE leaves deferred foreign-key checks
pending, and PostgreSQL refuses ALTER TABLE while they are.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("todos", "0002_owners"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="todo",
            name="owner",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="todos",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="todo",
            index=models.Index(fields=["owner", "id"], name="todos_owner_id_idx"),
        ),
    ]
