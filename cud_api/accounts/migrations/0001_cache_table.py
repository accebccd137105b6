"""The table of Django's database cache (the sign-in throttle's counts, shared by workers).

What `manage.py createcachetable` would make for it, as a migration so `migrate` is enough.
"""

from django.db import migrations

TABLE = "django_cache"


class Migration(migrations.Migration):
    initial = True


    operations = [
        migrations.RunSQL(
            sql=[
                f"CREATE TABLE IF NOT EXISTS {TABLE} ("
                " cache_key varchar(255) NOT NULL PRIMARY KEY,"
                " value text NOT NULL,"
                " expires timestamp with time zone NOT NULL)",
                f"CREATE INDEX IF NOT EXISTS {TABLE}_expires ON {TABLE} (expires)",
            ],
            reverse_sql=[f"DROP TABLE IF EXISTS {TABLE}"],
        ),
    ]
