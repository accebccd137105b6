"""The Toxiproxy client against the real server: its toxics and its switch act on connections.

No stack: a proxy in front of a local echo server, each fault seen from a plain socket.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose.install import install_toxiproxy
from compose.launcher import free_ports
from compose.settings import Settings
from tests.support.toxiproxy import Proxy, latency, reset_peer, toxiproxy_server


class Echo(socketserver.BaseRequestHandler):
    """Send back what arrives."""

    def handle(self) -> None:
        """Echo until the peer closes or resets the connection (as reset_peer makes it)."""
        with contextlib.suppress(ConnectionResetError):
            while data := self.request.recv(4096):
                self.request.sendall(data)


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    """A proxy on a free port in front of an echo server."""
    binary = install_toxiproxy(Settings.from_env())
    log = Path(tmp_path_factory.mktemp("toxiproxy")) / "toxiproxy.log"
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) as echo:
        echo.daemon_threads = True
        threading.Thread(target=echo.serve_forever, daemon=True).start()
        api_port, listen_port = free_ports(2)
        with toxiproxy_server(binary, api_port, log) as server:
            upstream = f"127.0.0.1:{echo.server_address[1]}"
            yield server.create("echo", f"127.0.0.1:{listen_port}", upstream)
        echo.shutdown()


def round_trip(proxy: Proxy) -> float:
    """Seconds for one message through the proxy and back."""
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as conn:
        started = time.monotonic()
        conn.sendall(b"ping")
        assert conn.recv(16) == b"ping"
        return time.monotonic() - started


def test_latency_delays_each_answer_while_the_toxic_is_on(proxy: Proxy) -> None:
    assert round_trip(proxy) < 0.1
    with proxy.toxic(latency(300)):
        assert proxy.toxics() == ["latency_downstream"]
        assert round_trip(proxy) >= 0.3
    assert proxy.toxics() == []
    assert round_trip(proxy) < 0.1


def test_reset_peer_resets_the_connection(proxy: Proxy) -> None:
    with proxy.toxic(reset_peer()), socket.create_connection(("127.0.0.1", proxy.port), 5) as conn:
        conn.sendall(b"ping")
        with pytest.raises(ConnectionResetError):
            conn.recv(16)
    assert round_trip(proxy) < 0.1


def test_a_disabled_proxy_refuses_connections_until_enabled(proxy: Proxy) -> None:
    proxy.set_enabled(False)
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=5).close()
    finally:
        proxy.set_enabled(True)
    assert round_trip(proxy) < 0.1
