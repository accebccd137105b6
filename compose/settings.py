"""The stack's configuration, read once from the environment (defaults: contracts.environment)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from contracts import auth
from contracts.environment import DEFAULTS

REPO_ROOT = Path(__file__).resolve().parent.parent

ALL_SERVICES = ("postgres", "kafka", "connect", "ferretdb", "cud_api", "streams")
# Set per stack by the launcher (not shared defaults): its folder, the table store, the key,
# the metrics scrape token's file.
STACK_VARIABLES = (
    "TODO_EDA_STATE_DIR",
    "FAUST_DATA_DIR",
    "DJANGO_SECRET_KEY",
    auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE,
)
# Optional, both or neither (isolated stacks set them, `make up` does not): the broker's second
# listener, on its own port, advertised at the port a fault proxy in front of it listens on, so
# a client bootstrapping through the proxy is told to keep using the proxy.
KAFKA_PROXIED_VARIABLES = ("KAFKA_PROXIED_LISTENER_PORT", "KAFKA_PROXIED_PORT")


class ConfigError(Exception):
    """The environment describes a stack that cannot be started."""


@dataclass(frozen=True)
class Port:
    """A TCP port the stack listens on, and the variable that moves it."""

    service: str
    port: int
    variable: str


def _port_of(url: str, default: int) -> int:
    if "://" not in url:
        url = "tcp://" + url
    return urlsplit(url).port or default


def _host_of(url: str) -> str:
    if "://" not in url:
        url = "tcp://" + url
    return urlsplit(url).hostname or "localhost"


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """Where installed binaries live: shared by every stack (default and test stacks alike)."""
    if environ.get("TODO_EDA_CACHE_DIR"):
        return Path(environ["TODO_EDA_CACHE_DIR"]).resolve()
    base = environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).resolve() / "todo-eda"


@dataclass(frozen=True)
class Settings:
    """One stack: its state folder, its ports and the environment every process gets."""

    values: Mapping[str, str]
    state_dir: Path
    cache_dir: Path
    services: tuple[str, ...]

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, services: str | None = None
    ) -> Settings:
        """Read the README's variables from `environ` (default: os.environ)."""
        environ = os.environ if environ is None else environ
        values = {name: environ.get(name) or default for name, default in DEFAULTS.items()}
        state = Path(environ.get("TODO_EDA_STATE_DIR") or REPO_ROOT / ".state").resolve()
        values["TODO_EDA_STATE_DIR"] = str(state)
        values["FAUST_DATA_DIR"] = environ.get("FAUST_DATA_DIR") or str(state / "faust")
        values.update(
            {name: environ[name] for name in KAFKA_PROXIED_VARIABLES if environ.get(name)}
        )
        selection = services if services is not None else environ.get("TODO_EDA_SERVICES", "")
        settings = cls(
            values=values,
            state_dir=state,
            cache_dir=default_cache_dir(environ),
            services=parse_services(selection),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Fail early, naming the variable, on a value no process could use."""
        for name in ("KAFKA_CONTROLLER_PORT", "POSTGRES_PORT", "CUD_API_PORT", "READ_API_PORT"):
            if not self.values[name].isdigit():
                raise ConfigError(f"{name}={self.values[name]!r} is not a port number")
        if not self.values["TOPIC_PARTITIONS"].isdigit() or self.partitions < 1:
            raise ConfigError(f"TOPIC_PARTITIONS={self.values['TOPIC_PARTITIONS']!r} is not >= 1")
        if self.values["FERRETDB_BACKEND"] not in ("postgresql", "sqlite"):
            raise ConfigError(
                f"FERRETDB_BACKEND={self.values['FERRETDB_BACKEND']!r} is not postgresql or sqlite"
            )
        proxied = [name for name in KAFKA_PROXIED_VARIABLES if name in self.values]
        if proxied and len(proxied) != len(KAFKA_PROXIED_VARIABLES):
            raise ConfigError(f"{' and '.join(KAFKA_PROXIED_VARIABLES)} are set together or not")
        for name in proxied:
            if not self.values[name].isdigit():
                raise ConfigError(f"{name}={self.values[name]!r} is not a port number")
        seen: dict[int, str] = {}
        advertised = (
            [Port("fault proxy", self.kafka_proxied_port, "KAFKA_PROXIED_PORT")]
            if self.kafka_proxied_port is not None
            else []
        )
        for port in [*self.ports(), *advertised]:
            if port.port in seen:
                raise ConfigError(
                    f"port {port.port} is used twice: by {seen[port.port]} and {port.variable}"
                )
            seen[port.port] = port.variable

    # Ports and addresses -------------------------------------------------------------------

    @property
    def kafka_host(self) -> str:
        return _host_of(self.values["KAFKA_BROKER_URL"])

    @property
    def kafka_port(self) -> int:
        return _port_of(self.values["KAFKA_BROKER_URL"], 9092)

    @property
    def controller_port(self) -> int:
        return int(self.values["KAFKA_CONTROLLER_PORT"])

    @property
    def kafka_proxied_listener_port(self) -> int | None:
        """The broker's own port for clients that go through a fault proxy, if any."""
        value = self.values.get("KAFKA_PROXIED_LISTENER_PORT")
        return int(value) if value else None

    @property
    def kafka_proxied_port(self) -> int | None:
        """Where the fault proxy in front of that listener listens: what the broker advertises."""
        value = self.values.get("KAFKA_PROXIED_PORT")
        return int(value) if value else None

    @property
    def connect_url(self) -> str:
        return self.values["KAFKA_CONNECT_URL"].rstrip("/")

    @property
    def connect_port(self) -> int:
        return _port_of(self.values["KAFKA_CONNECT_URL"], 8083)

    @property
    def postgres_port(self) -> int:
        return int(self.values["POSTGRES_PORT"])

    @property
    def mongo_port(self) -> int:
        return _port_of(self.values["MONGO_URL"], 27017)

    @property
    def cud_api_port(self) -> int:
        return int(self.values["CUD_API_PORT"])

    @property
    def read_api_port(self) -> int:
        return int(self.values["READ_API_PORT"])

    @property
    def partitions(self) -> int:
        return int(self.values["TOPIC_PARTITIONS"])

    def ports(self) -> list[Port]:
        """Every port the whole stack listens on, in start order."""
        proxied = self.kafka_proxied_listener_port
        return [
            Port("postgres", self.postgres_port, "POSTGRES_PORT"),
            Port("kafka", self.kafka_port, "KAFKA_BROKER_URL"),
            Port("kafka", self.controller_port, "KAFKA_CONTROLLER_PORT"),
            *([Port("kafka", proxied, "KAFKA_PROXIED_LISTENER_PORT")] if proxied else []),
            Port("connect", self.connect_port, "KAFKA_CONNECT_URL"),
            Port("ferretdb", self.mongo_port, "MONGO_URL"),
            Port("cud_api", self.cud_api_port, "CUD_API_PORT"),
            Port("streams", self.read_api_port, "READ_API_PORT"),
        ]

    # Folders -------------------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def log_file(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / "kafka" / "libs"

    @property
    def connect_plugins(self) -> Path:
        return self.cache_dir / "kafka" / "plugins"

    @property
    def ferretdb_bin(self) -> Path:
        return self.cache_dir / "bin" / "ferretdb"

    @property
    def toxiproxy_bin(self) -> Path:
        return self.cache_dir / "bin" / "toxiproxy-server"

    # The processes' environment ----------------------------------------------------------

    def django_secret_key(self) -> str:
        """The Django secret key, generated once into the state folder (mode 600)."""
        return (
            auth.ensure_secret_file(self.state_dir / "secrets" / "django_secret_key")
            .read_text()
            .strip()
        )

    @property
    def cud_api_metrics_dir(self) -> Path:
        """The write API's prometheus_client multiprocess folder (PROMETHEUS_MULTIPROC_DIR)."""
        return self.state_dir / "prometheus" / "cud_api"

    @property
    def metrics_scrape_token_file(self) -> Path:
        """Where the metrics scrape token lives: `<state>/secrets/metrics_scrape_token`."""
        return self.state_dir / auth.METRICS_SCRAPE_TOKEN_SUBPATH

    def ensure_metrics_scrape_token(self) -> Path:
        """The metrics scrape token's file, generated once (mode 600); never overwritten."""
        return auth.ensure_secret_file(self.metrics_scrape_token_file)

    def auth_key_dirs(self) -> tuple[Path, Path]:
        """The token signing and verifying key folders, with a first key pair made once."""
        signing = self.state_dir / auth.SIGNING_KEYS_SUBDIR
        verifying = self.state_dir / auth.VERIFYING_KEYS_SUBDIR
        auth.ensure_key(signing, verifying)
        return signing, verifying

    def process_env(self) -> dict[str, str]:
        """The README's variables plus the two API URLs: what every process of the stack gets."""
        env = dict(self.values)
        env["CUD_API_URL"] = f"http://127.0.0.1:{self.cud_api_port}"
        env["READ_API_URL"] = f"http://127.0.0.1:{self.read_api_port}"
        env["DJANGO_SECRET_KEY"] = self.django_secret_key()
        signing, verifying = self.auth_key_dirs()
        env[auth.SIGNING_KEYS_DIR_VARIABLE] = str(signing)
        env[auth.VERIFYING_KEYS_DIR_VARIABLE] = str(verifying)
        # Both APIs accept it on /metrics: a scraper off loopback needs no staff token.
        env[auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE] = str(self.ensure_metrics_scrape_token())
        env["DJANGO_SETTINGS_MODULE"] = "cud_api.config.settings"
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONPATH"] = str(REPO_ROOT)
        return env


def parse_services(selection: str) -> tuple[str, ...]:
    """Turn a comma list of service names (empty = all) into names in start order."""
    names = [name.strip() for name in selection.split(",") if name.strip()]
    if not names:
        return ALL_SERVICES
    unknown = sorted(set(names) - set(ALL_SERVICES))
    if unknown:
        raise ConfigError(
            f"unknown service(s) {', '.join(unknown)}; choose from {', '.join(ALL_SERVICES)}"
        )
    return tuple(name for name in ALL_SERVICES if name in names)
