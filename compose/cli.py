"""`python -m compose install|up|down|status|clean|psql|token|rotate-key|keys`: the entry points.

`token` prints a fresh access token for the demo user and nothing else on stdout, so
`TOKEN=$(python -m compose token)` works; `rotate-key` makes a new active signing key;
`keys --signing DIR --verifying DIR [--scrape-token FILE] [--django-secret-key FILE] [--rotate]`
makes the first (or a new) key pair there, the metrics scrape token and Django's secret key in
their FILEs (with `--rotate`: new secrets), and
`demo-password --file PATH` the demo user's password (the Docker stack's one-shots).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import time
from pathlib import Path

from compose import accounts
from compose.install import InstallError, install
from compose.settings import ConfigError, Settings
from compose.stack import Stack, StackError, format_table
from contracts import auth

COMMANDS = (
    "install",
    "up",
    "down",
    "status",
    "clean",
    "psql",
    "token",
    "rotate-key",
    "keys",
    "demo-password",
)


def _psql(settings: Settings) -> int:
    v = settings.values
    psql = shutil.which("psql")
    if not psql:
        print("psql is missing: run `make install`", file=sys.stderr)
        return 1
    env = {**os.environ, "PGPASSWORD": v["POSTGRES_PASSWORD"]}
    args = [psql, "-h", v["POSTGRES_HOST"], "-p", v["POSTGRES_PORT"], "-U", v["POSTGRES_USER"]]
    os.execve(psql, [*args, v["POSTGRES_DB"]], env)  # noqa: S606 - replaces this process


def _token_hint(settings: Settings) -> str:
    password = accounts.demo_password_file(settings)
    return (
        f"user {accounts.DEMO_USERNAME!r} (password in {password}); get a token with\n"
        "  TOKEN=$(make -s token)\n"
        '  curl -H "Authorization: Bearer $TOKEN" '
        f"http://127.0.0.1:{settings.read_api_port}/api/todos/\n"
        "both APIs' /metrics also take the scrape token (for a Prometheus off loopback):\n"
        f'  curl -H "Authorization: Bearer $(cat {settings.metrics_scrape_token_file})" '
        f"http://127.0.0.1:{settings.read_api_port}/metrics"
    )


def _keys(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    folders = (args.signing, args.verifying)
    others = (args.scrape_token, args.django_secret_key)
    if None in folders and (folders != (None, None) or others == (None, None)):
        parser.error(
            "keys needs --signing DIR and --verifying DIR, --scrape-token FILE"
            " or --django-secret-key FILE"
        )
    if args.signing is not None:
        make = auth.generate_key if args.rotate else auth.ensure_key
        print(f"active signing key: {make(args.signing, args.verifying)}")
    if args.scrape_token is not None:
        token = auth.write_secret_file if args.rotate else auth.ensure_secret_file
        # The path only: the secret never reaches a log.
        print(f"metrics scrape token in {token(args.scrape_token)}")
    if args.django_secret_key is not None:
        secret = auth.write_secret_file if args.rotate else auth.ensure_secret_file
        print(f"Django secret key in {secret(args.django_secret_key)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m compose", description=__doc__)
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument(
        "--only",
        help="comma list of services (default: $TODO_EDA_SERVICES, or all)",
        default=None,
    )
    parser.add_argument("--signing", type=Path, help="keys: the signing key folder")
    parser.add_argument("--verifying", type=Path, help="keys: the verifying key folder")
    parser.add_argument("--scrape-token", type=Path, help="keys: the metrics scrape token's file")
    parser.add_argument(
        "--django-secret-key", type=Path, help="keys: the write API's Django secret key file"
    )
    parser.add_argument(
        "--rotate", action="store_true", help="keys: a new active key (and scrape token)"
    )
    parser.add_argument("--file", type=Path, help="demo-password: the password file")
    args = parser.parse_args(argv)
    if args.command == "keys":
        return _keys(parser, args)
    if args.command == "demo-password":
        if args.file is None:
            parser.error("demo-password needs --file PATH")
        print(f"demo password in {accounts.ensure_password_file(args.file)}")
        return 0
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
            print(_token_hint(settings))
        elif args.command == "down":
            stack.down()
            print(f"stack stopped; data kept in {settings.state_dir}")
        elif args.command == "status":
            print(format_table(stack.status()))
            print()
            print(stack.pipeline().format())
        elif args.command == "clean":
            stack.clean()
            print(f"stack stopped; {settings.state_dir} removed")
        elif args.command == "psql":
            return _psql(settings)
        elif args.command == "token":
            print(accounts.issue_token(settings))
        elif args.command == "rotate-key":
            kid = accounts.rotate_key(settings)
            print(f"new active signing key: {kid} (tokens signed with the old keys stay valid)")
    except (ConfigError, InstallError, StackError, accounts.ManageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
