"""`python -m compose install|up|down|status|clean|psql`: the native stack's entry points."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time

from compose.install import InstallError, install
from compose.settings import ConfigError, Settings
from compose.stack import Stack, StackError, format_table


def _psql(settings: Settings) -> int:
    v = settings.values
    psql = shutil.which("psql")
    if not psql:
        print("psql is missing: run `make install`", file=sys.stderr)
        return 1
    env = {**os.environ, "PGPASSWORD": v["POSTGRES_PASSWORD"]}
    args = [psql, "-h", v["POSTGRES_HOST"], "-p", v["POSTGRES_PORT"], "-U", v["POSTGRES_USER"]]
    os.execve(psql, [*args, v["POSTGRES_DB"]], env)  # noqa: S606 - replaces this process


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compose", description=__doc__)
    parser.add_argument("command", choices=["install", "up", "down", "status", "clean", "psql"])
    parser.add_argument(
        "--only",
        help="comma list of services (default: $TODO_EDA_SERVICES, or all)",
        default=None,
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("librdkafka").setLevel(logging.CRITICAL)
    try:
        settings = Settings.from_env(services=args.only)
        stack = Stack(settings)
        if args.command == "install":
            install(settings)
        elif args.command == "up":
            started = time.monotonic()
            install(settings)
            rows = stack.up()
            print(format_table(rows))
            print(f"stack ready in {time.monotonic() - started:.1f}s (state: {settings.state_dir})")
        elif args.command == "down":
            stack.down()
            print(f"stack stopped; data kept in {settings.state_dir}")
        elif args.command == "status":
            print(format_table(stack.status()))
        elif args.command == "clean":
            stack.clean()
            print(f"stack stopped; {settings.state_dir} removed")
        elif args.command == "psql":
            return _psql(settings)
    except (ConfigError, InstallError, StackError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
