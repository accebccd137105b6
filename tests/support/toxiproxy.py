"""A thin client of Toxiproxy's HTTP API (v2), and its server as a process of the test session.

Only what the fault tests use: proxies (create, enable/disable), toxics (latency, bandwidth,
reset_peer, timeout; add/remove) and a reset. docs/decisions/fault-proxy.md says why not the
`toxiproxy-python` package.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import requests

from tests.support.polling import wait_for

Stream = Literal["upstream", "downstream"]
TIMEOUT = 10.0


class ToxiproxyError(Exception):
    """The Toxiproxy server refused a request."""


@dataclass(frozen=True)
class Toxic:
    """One toxic on a proxy: its name, kind and attributes, on one direction."""

    name: str
    type: str
    attributes: dict[str, Any]
    stream: Stream = "downstream"
    toxicity: float = 1.0

    def body(self) -> dict[str, Any]:
        """The JSON the API takes to add it."""
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": self.attributes,
        }


def latency(ms: int, jitter_ms: int = 0, stream: Stream = "downstream") -> Toxic:
    """Delay every chunk of data by `ms` (± `jitter_ms`)."""
    return Toxic(f"latency_{stream}", "latency", {"latency": ms, "jitter": jitter_ms}, stream)


def bandwidth(kb_per_s: int, stream: Stream = "downstream") -> Toxic:
    """Limit the throughput to `kb_per_s` KB/s."""
    return Toxic(f"bandwidth_{stream}", "bandwidth", {"rate": kb_per_s}, stream)


def reset_peer(after_ms: int = 0, stream: Stream = "downstream") -> Toxic:
    """Close every connection with a TCP RST after `after_ms` (0: at once)."""
    return Toxic(f"reset_peer_{stream}", "reset_peer", {"timeout": after_ms}, stream)


def timeout(after_ms: int = 0, stream: Stream = "downstream") -> Toxic:
    """Stop passing data; close the connection after `after_ms` (0: never)."""
    return Toxic(f"timeout_{stream}", "timeout", {"timeout": after_ms}, stream)


class Proxy:
    """One proxy of a Toxiproxy server: `listen` forwards to `upstream`."""

    def __init__(self, client: Toxiproxy, name: str, listen: str, upstream: str) -> None:
        self.client = client
        self.name = name
        self.listen = listen
        self.upstream = upstream

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return int(self.listen.rsplit(":", 1)[1])

    def add(self, toxic: Toxic) -> None:
        """Add a toxic to this proxy's connections (also to the open ones)."""
        self.client.call("POST", f"/proxies/{self.name}/toxics", toxic.body())

    def remove(self, toxic: Toxic) -> None:
        """Remove a toxic by name."""
        self.client.call("DELETE", f"/proxies/{self.name}/toxics/{toxic.name}")

    def toxics(self) -> list[str]:
        """The names of the toxics on this proxy."""
        return [t["name"] for t in self.client.call("GET", f"/proxies/{self.name}/toxics")]

    def set_enabled(self, enabled: bool) -> None:
        """Disabled, the proxy closes its connections and refuses new ones."""
        self.client.call("POST", f"/proxies/{self.name}", {"enabled": enabled})

    @contextmanager
    def toxic(self, toxic: Toxic) -> Iterator[Toxic]:
        """The toxic on this proxy while the block runs."""
        self.add(toxic)
        try:
            yield toxic
        finally:
            self.remove(toxic)


class Toxiproxy:
    """A client of one Toxiproxy server's API at `url`."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API request; the decoded JSON answer (None when empty)."""
        response = self.session.request(method, self.url + path, json=body, timeout=TIMEOUT)
        if response.status_code >= 400:
            raise ToxiproxyError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def version(self) -> str:
        """The server's version."""
        response = self.session.get(self.url + "/version", timeout=TIMEOUT)
        response.raise_for_status()
        return response.text

    def create(self, name: str, listen: str, upstream: str) -> Proxy:
        """A new enabled proxy `name` from `listen` to `upstream`."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        answer = self.call("POST", "/proxies", body)
        return Proxy(self, name, answer["listen"], answer["upstream"])

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self.call("POST", "/reset")

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()


@contextmanager
def toxiproxy_server(binary: Path, port: int, log_path: Path) -> Iterator[Toxiproxy]:
    """Run `binary` (toxiproxy-server) on 127.0.0.1:`port` while the block runs."""
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [str(binary), "-host", "127.0.0.1", "-port", str(port)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    client = Toxiproxy(f"http://127.0.0.1:{port}")
    try:
        wait_for(client.version, timeout=15, message="toxiproxy-server answers")
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
