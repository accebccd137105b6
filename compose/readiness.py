"""Readiness probes: each answers True only when the service does its job, never raises."""

from __future__ import annotations

import logging
import socket

import psycopg
import requests

log = logging.getLogger(__name__)


def http_ok(url: str, timeout: float = 2.0) -> bool:
    """GET `url` answers 200."""
    try:
        return requests.get(url, timeout=timeout).status_code == 200
    except requests.RequestException:
        return False


def tcp_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """Something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def postgres_accepts(conninfo: str) -> bool:
    """PostgreSQL accepts a connection and answers a query."""
    try:
        with psycopg.connect(conninfo, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
            return True
    except psycopg.Error:
        return False


def kafka_metadata(bootstrap: str, timeout: float = 3.0) -> bool:
    """The broker answers a metadata request and has a controller."""
    from confluent_kafka.admin import AdminClient

    if not tcp_open(*_split(bootstrap)):
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap}, logger=logging.getLogger("librdkafka"))
    try:
        meta = admin.list_topics(timeout=timeout)
        return bool(meta.brokers) and meta.controller_id >= 0
    except Exception:  # KafkaException until the broker is up
        return False


def mongo_ping(url: str) -> bool:
    """The MongoDB wire protocol answers `ping`."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(
        url, serverSelectionTimeoutMS=1500, connectTimeoutMS=1500
    )
    try:
        return client.admin.command("ping").get("ok") == 1
    except PyMongoError:
        return False
    finally:
        client.close()


def _split(hostport: str) -> tuple[str, int]:
    first = hostport.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    return host or "localhost", int(port)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Binding host:port fails because something else listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False
