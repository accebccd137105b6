"""The project's own PostgreSQL cluster: initdb, command line, roles and database."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path

import psycopg
from psycopg import sql

from compose.install import postgres_bindir
from compose.settings import Settings

SUPERUSER = "postgres"


def system_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, run it as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return None
    return "postgres"


def data_dir(settings: Settings) -> Path:
    return settings.state_dir / "postgres"


def socket_dir(settings: Settings) -> Path:
    return settings.state_dir / "postgres-run"


def _chown(path: Path, user: str | None) -> None:
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def prepare(settings: Settings) -> None:
    """initdb once into the state folder, owned by the user PostgreSQL runs as."""
    user = system_user()
    settings.state_dir.chmod(0o755)  # the postgres user must reach its folders
    sock = socket_dir(settings)
    sock.mkdir(parents=True, exist_ok=True)
    sock.chmod(0o755)
    _chown(sock, user)
    data = data_dir(settings)
    if (data / "PG_VERSION").exists():
        return
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    _chown(data, user)
    bindir = postgres_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed: run `make install`")
    subprocess.run(
        [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "--username",
            SUPERUSER,
            "--auth-local=trust",  # only through the socket inside the state folder
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        ],
        check=True,
        capture_output=True,
        user=user,
        cwd="/",
    )


def command(settings: Settings) -> list[str]:
    """`postgres -D $STATE/postgres` with the settings Debezium and the port need."""
    bindir = postgres_bindir()
    binary = str(bindir / "postgres") if bindir else "postgres"
    options = {
        "listen_addresses": "127.0.0.1",
        "port": str(settings.postgres_port),
        "unix_socket_directories": str(socket_dir(settings)),
        "wal_level": "logical",
        "max_replication_slots": "10",
        "max_wal_senders": "10",
        "max_connections": "200",
        "shared_buffers": "128MB",
        "fsync": "on",
    }
    cmd = [binary, "-D", str(data_dir(settings))]
    for key, value in options.items():
        cmd += ["-c", f"{key}={value}"]
    return cmd


def superuser_conninfo(settings: Settings, dbname: str = "postgres") -> str:
    return psycopg.conninfo.make_conninfo(
        host=str(socket_dir(settings)),
        port=settings.postgres_port,
        user=SUPERUSER,
        dbname=dbname,
    )


def app_conninfo(settings: Settings) -> str:
    v = settings.values
    return psycopg.conninfo.make_conninfo(
        host=v["POSTGRES_HOST"],
        port=v["POSTGRES_PORT"],
        user=v["POSTGRES_USER"],
        password=v["POSTGRES_PASSWORD"],
        dbname=v["POSTGRES_DB"],
    )


def _ensure_role(
    cur: psycopg.Cursor[tuple[object, ...]], name: str, password: str, *extra: str
) -> None:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
    verb = "ALTER" if cur.fetchone() else "CREATE"
    options = sql.SQL(" ").join(sql.SQL(option) for option in ("LOGIN", *extra))
    cur.execute(
        sql.SQL("{} ROLE {} WITH {} PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(name), options, sql.Literal(password)
        )
    )


def bootstrap(settings: Settings) -> None:
    """Create (or bring up to date) the app role, the Debezium role and the database.

    The app role owns the database and, through the migrations, the captured table.
    Debezium's role has REPLICATION and is a member of the app role: PostgreSQL lets only
    a table's owner put it in a publication, which `publication.autocreate.mode=filtered`
    does, and membership also gives it the SELECT its snapshot needs.
    """
    v = settings.values
    app, dbz, db = v["POSTGRES_USER"], v["DEBEZIUM_PG_USER"], v["POSTGRES_DB"]
    with psycopg.connect(superuser_conninfo(settings), autocommit=True) as conn:
        cur = conn.cursor()
        _ensure_role(cur, app, v["POSTGRES_PASSWORD"])
        _ensure_role(cur, dbz, v["DEBEZIUM_PG_PASSWORD"], "REPLICATION")
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,))
        if not cur.fetchone():
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(db), sql.Identifier(app)
                )
            )
        cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(app), sql.Identifier(dbz)))
        cur.execute(
            sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(db), sql.Identifier(dbz)
            )
        )


FERRETDB_DATABASE = "ferretdb"


def ferretdb_url(settings: Settings) -> str:
    """FerretDB's own database in this cluster, reached through the state folder's socket."""
    return (
        f"postgres://{SUPERUSER}@/{FERRETDB_DATABASE}"
        f"?host={socket_dir(settings)}&port={settings.postgres_port}"
    )


# FerretDB 1.24 finds by `_id` with `WHERE _jsonb->$1 @> $2`, which its own btree index can't
# serve; a GIN index on the same expression can, under custom plans. An event trigger gives every
# table FerretDB creates that index (docs/decisions/ferretdb-backend-and-indexes.md).
FERRETDB_ID_INDEX_SQL = """
ALTER DATABASE ferretdb SET plan_cache_mode = force_custom_plan;

CREATE OR REPLACE FUNCTION public.todo_eda_index_ferretdb_table(target regclass)
RETURNS void LANGUAGE plpgsql AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute
               WHERE attrelid = target AND attname = '_jsonb' AND NOT attisdropped) THEN
        EXECUTE format(
            'CREATE INDEX IF NOT EXISTS %I ON %s USING gin ((_jsonb -> %L))',
            left((SELECT relname FROM pg_class WHERE oid = target), 50) || '_id_gin',
            target, '_id');
    END IF;
END
$fn$;

CREATE OR REPLACE FUNCTION public.todo_eda_index_ferretdb_tables()
RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE created record;
BEGIN
    FOR created IN SELECT objid FROM pg_event_trigger_ddl_commands()
                   WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
        PERFORM public.todo_eda_index_ferretdb_table(created.objid::regclass);
    END LOOP;
END
$fn$;

DROP EVENT TRIGGER IF EXISTS todo_eda_index_ferretdb_tables;
CREATE EVENT TRIGGER todo_eda_index_ferretdb_tables ON ddl_command_end
    WHEN TAG IN ('CREATE TABLE') EXECUTE FUNCTION public.todo_eda_index_ferretdb_tables();

SELECT public.todo_eda_index_ferretdb_table(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'public');
"""


def ensure_ferretdb_database(settings: Settings) -> None:
    """The database FerretDB's PostgreSQL backend keeps its collections in, `_id`-indexed."""
    with psycopg.connect(superuser_conninfo(settings), autocommit=True) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (FERRETDB_DATABASE,)
        ).fetchone()
        if not row:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(FERRETDB_DATABASE)))
    with psycopg.connect(superuser_conninfo(settings, FERRETDB_DATABASE), autocommit=True) as conn:
        conn.execute(FERRETDB_ID_INDEX_SQL)


def table_exists(settings: Settings, table: str = "public.todos") -> bool:
    """The captured table exists (it comes from the Django migrations)."""
    with psycopg.connect(superuser_conninfo(settings, settings.values["POSTGRES_DB"])) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
        return bool(row and row[0])
