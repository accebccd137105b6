"""compose/docker-compose.yml agrees with the native stack, checked statically (no Docker engine).

Ports, variable names and defaults come from contracts.environment, topic names from
contracts.topics; image versions come from compose/.env; the connector registration one-shot runs
here against a stub Kafka Connect.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from compose.settings import REPO_ROOT, STACK_VARIABLES
from contracts import auth
from contracts import topics as contract_topics
from contracts.environment import DEFAULTS

ROOT = Path(__file__).resolve().parents[3]
COMPOSE_DIR = ROOT / "compose"
COMPOSE_FILE = COMPOSE_DIR / "docker-compose.yml"
ENV_FILE = COMPOSE_DIR / ".env"
TOPICS = contract_topics.PARTITIONED
# The variable names every process may be given: the shared ones and the per-stack ones.
CONTRACT = set(DEFAULTS) | set(STACK_VARIABLES)
PASSWORDS = ("POSTGRES_PASSWORD", "DEBEZIUM_PG_PASSWORD")
ONE_SHOTS = {"topics", "migrate", "register-connector", "keys"}
# Started only under a compose profile (`docker compose --profile monitoring up`).
OPTIONAL = {"prometheus": "monitoring"}
PROMETHEUS_CONFIG = COMPOSE_DIR / "prometheus" / "prometheus.yml"
SCRAPE_TOKEN = auth.METRICS_SCRAPE_TOKEN_FILE_VARIABLE
APP_SERVICES = {"cud_api", "streams", "migrate"}
SIGNING, VERIFYING = auth.SIGNING_KEYS_DIR_VARIABLE, auth.VERIFYING_KEYS_DIR_VARIABLE
# The write API's token and sign-up settings, passed through from the shell when set.
CUD_API_AUTH_SETTINGS = {
    "CUD_API_ACCESS_TOKEN_MINUTES",
    "CUD_API_REFRESH_TOKEN_HOURS",
    "CUD_API_REGISTRATION",
    "CUD_API_LOGIN_FAILURES_RATE",
    "CUD_API_USER_CACHE_SECONDS",
}
# Not shared contract variables, but part of how the app is started in a container.
APP_EXTRA_VARIABLES = {
    "DJANGO_SETTINGS_MODULE",
    "DJANGO_ALLOWED_HOSTS",
    auth.DJANGO_SECRET_KEY_FILE_VARIABLE,
    SIGNING,
    VERIFYING,
    SCRAPE_TOKEN,
    *CUD_API_AUTH_SETTINGS,
}
# What each app service must be given: the default (localhost, a generated key) is wrong there.
REQUIRED_APP_VARIABLES = {
    "cud_api": {
        "KAFKA_BROKER_URL",
        "POSTGRES_HOST",
        "POSTGRES_PORT",
        "POSTGRES_DB",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        auth.DJANGO_SECRET_KEY_FILE_VARIABLE,
        "DJANGO_SETTINGS_MODULE",
        SIGNING,
        VERIFYING,
        SCRAPE_TOKEN,
        *CUD_API_AUTH_SETTINGS,
    },
    "migrate": {
        auth.DJANGO_SECRET_KEY_FILE_VARIABLE,
        "POSTGRES_HOST",
        "POSTGRES_PORT",
        "POSTGRES_DB",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "DJANGO_SETTINGS_MODULE",
    },
    "streams": {
        "KAFKA_BROKER_URL",
        "POSTGRES_HOST",
        "POSTGRES_PORT",
        "POSTGRES_DB",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "MONGO_URL",
        "MONGO_DB",
        "TOPIC_PARTITIONS",
        "FAUST_DATA_DIR",
        VERIFYING,
        SCRAPE_TOKEN,
    },
}
# Which services run the code of which package (for the scan of variables the code reads).
PACKAGE_SERVICES = {
    "cud_api": ("cud_api", "migrate"),
    "streams": ("streams",),
    "web_read": ("streams",),
}
# Read by the code but fixed by the container's command line, so not needed in its environment.
SET_BY_COMMAND_LINE = {"CUD_API_PORT", "READ_API_PORT"}
SERVICE_VARIABLES = re.compile(
    r"""["']((?:KAFKA|POSTGRES|MONGO|DEBEZIUM|FAUST|TOPIC)_[A-Z0-9_]+)["']"""
)

INTERPOLATION = re.compile(
    r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)"
)


# --- how compose reads its files -------------------------------------------------------------


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """Parse compose/.env (KEY=VALUE lines), refusing a key defined twice."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}:{number}: not KEY=VALUE: {raw!r}"
        assert key not in values, f"{path.name}:{number}: {key} is defined twice"
        values[key] = value.strip().strip("\"'")
    return values


def interpolate(text: str, env: Mapping[str, str]) -> str:
    """Substitute ${VAR}, ${VAR:-default}, ${VAR:?error} and $$ the way docker compose does."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3)
        value = env.get(name)
        if operator in (":-", "-"):
            if value is None or (operator == ":-" and value == ""):
                return argument
        elif operator in (":?", "?"):
            if value is None or (operator == ":?" and value == ""):
                raise KeyError(f"${{{name}}} is required: {argument}")
        elif value is None:
            raise KeyError(f"${{{name}}} has no value and no default")
        return value

    return INTERPOLATION.sub(substitute, text)


def variables_in(text: str) -> set[str]:
    """The variable names a compose string refers to."""
    return {m.group(1) or m.group(4) for m in INTERPOLATION.finditer(text) if m.group(0) != "$$"}


def load_compose() -> dict[str, Any]:
    """The compose file as parsed YAML (merge keys resolved), before interpolation."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def resolved(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """A compose value with every variable at its .env value or its default (empty shell)."""
    env = read_env_file() if env is None else env
    if isinstance(value, str):
        return interpolate(value, env)
    if isinstance(value, list):
        return [resolved(item, env) for item in value]
    if isinstance(value, dict):
        return {key: resolved(item, env) for key, item in value.items()}
    return value


def environment(service: Mapping[str, Any]) -> dict[str, str]:
    """A service's environment as a name -> resolved string mapping (list or map syntax)."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: str(resolved(str(value))) for key, value in raw.items()}


def command_words(service: Mapping[str, Any]) -> list[str]:
    """A service's command as a list of words, resolved."""
    command = service.get("command") or []
    if isinstance(command, str):
        return shlex.split(resolved(command))
    return [str(word) for word in resolved(command)]


def published_ports(service: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) for each `ports:` entry, variables at their defaults."""
    pairs = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            pairs.append((int(resolved(str(entry["published"]))), int(entry["target"])))
            continue
        parts = resolved(str(entry)).split("/")[0].split(":")
        assert len(parts) >= 2, f"{entry!r}: publish an explicit host port"
        pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


# --- the native stack's contracts ------------------------------------------------------------


def port_of(url: str) -> int:
    """The port of `host:port` or `scheme://host:port`."""
    port = urlsplit(url if "://" in url else f"//{url}").port
    assert port is not None, f"{url!r} has no port"
    return port


def default(name: str) -> str:
    """The native default of a contract variable."""
    return DEFAULTS[name]


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


# --- structure -------------------------------------------------------------------------------


def test_compose_file_defines_the_native_stack_services(services: dict[str, Any]) -> None:
    expected = {"kafka", "topics", "postgres", "mongodb", "connect"} | ONE_SHOTS | APP_SERVICES
    assert expected <= set(services), f"missing: {sorted(expected - set(services))}"


def test_every_dependency_waits_for_health_or_successful_completion(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must use the long form"
        for target, spec in depends_on.items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = (spec or {}).get("condition")
            if target in ONE_SHOTS:
                assert condition == "service_completed_successfully", f"{name} -> {target}"
            else:
                assert condition == "service_healthy", f"{name} -> {target}: {condition}"


def test_every_service_others_wait_for_has_a_healthcheck(services: dict[str, Any]) -> None:
    awaited = {
        target
        for service in services.values()
        for target, spec in (service.get("depends_on") or {}).items()
        if spec["condition"] == "service_healthy"
    }
    assert awaited, "nothing waits for a healthy service"
    for name in sorted(awaited | (set(services) - ONE_SHOTS)):
        check = services[name].get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"


def test_every_one_shot_is_awaited_by_a_long_running_service(services: dict[str, Any]) -> None:
    # `docker compose up --wait` counts a one-shot's exit 0 as success only when a running
    # service depends on it with service_completed_successfully (else it fails the command).
    for one_shot in ONE_SHOTS:
        adopters = [
            name
            for name, service in services.items()
            if name not in ONE_SHOTS and one_shot in (service.get("depends_on") or {})
        ]
        assert adopters, f"no long-running service waits for {one_shot}"


def test_one_shots_are_not_restarted(services: dict[str, Any]) -> None:
    for name in ONE_SHOTS:
        assert services[name].get("restart", "no") == "no", name


# --- versions --------------------------------------------------------------------------------


def test_every_image_version_is_pinned_once_in_the_env_file(services: dict[str, Any]) -> None:
    env = read_env_file()
    used: set[str] = set()
    for name, service in services.items():
        image = service["image"]
        # The tag follows the first colon (no registry here has a port).
        repository, _, tag = image.partition(":")
        if "build" in service:
            # Our own image: a local tag; its base image version is a build argument from .env.
            assert tag and tag != "latest", f"{name}: {image}"
            for value in (service["build"].get("args") or {}).values():
                assert variables_in(str(value)) <= set(env), f"{name}: build arg {value}"
                used |= variables_in(str(value))
            continue
        assert repository and not variables_in(repository), f"{name}: {image}"
        assert re.fullmatch(r"\$\{[A-Z_]+(:\?[^}]*)?\}", tag), (
            f"{name}: the tag of {image} must be exactly one variable pinned in compose/.env"
        )
        (variable,) = variables_in(tag)
        assert variable in env, f"{name}: {variable} is not defined in compose/.env"
        version = env[variable]
        # prom/prometheus tags its releases v3.x.y; every other image starts with the digit.
        assert version != "latest" and re.match(r"v?\d", version), f"{variable}={version}"
        used.add(variable)
    assert "latest" not in COMPOSE_FILE.read_text()
    versions = {key for key in env if key.endswith("_VERSION")}
    assert versions == used, f"pinned but unused: {versions - used}; used: {used - versions}"


def test_kafka_and_debezium_versions_match_the_native_poms() -> None:
    env = read_env_file()
    poms = {
        "KAFKA_VERSION": (COMPOSE_DIR / "kafka" / "pom.xml", "kafka.version"),
        "DEBEZIUM_VERSION": (COMPOSE_DIR / "kafka" / "debezium" / "pom.xml", "debezium.version"),
    }
    for variable, (pom, property_name) in poms.items():
        match = re.search(rf"<{re.escape(property_name)}>([^<]+)</", pom.read_text())
        assert match, f"{pom} has no <{property_name}>"
        assert env[variable] == match.group(1), (
            f"{variable}={env[variable]}, {pom.name}: {match[1]}"
        )


def test_env_file_holds_versions_not_secrets() -> None:
    for key in read_env_file():
        assert not re.search(r"PASSWORD|SECRET|TOKEN|_KEY$", key), f"compose/.env defines {key}"


# --- ports -----------------------------------------------------------------------------------


def test_published_ports_are_the_native_defaults(services: dict[str, Any]) -> None:
    expected = {
        "kafka": port_of(default("KAFKA_BROKER_URL")),
        "connect": port_of(default("KAFKA_CONNECT_URL")),
        "postgres": int(default("POSTGRES_PORT")),
        "mongodb": port_of(default("MONGO_URL")),
        "cud_api": int(default("CUD_API_PORT")),
        "streams": int(default("READ_API_PORT")),
        # Prometheus's own UI and API: its usual port, as the native stack has no Prometheus.
        "prometheus": 9090,
    }
    for name, port in expected.items():
        host_ports = [host for host, _ in published_ports(services[name])]
        assert host_ports == [port], f"{name} publishes {host_ports}, the native stack uses {port}"
    unexpected = {
        name for name, service in services.items() if service.get("ports") and name not in expected
    }
    assert not unexpected, f"services publishing undocumented ports: {unexpected}"


def test_published_ports_reach_what_each_container_listens_on(services: dict[str, Any]) -> None:
    ((_, cud_api),) = published_ports(services["cud_api"])
    words = command_words(services["cud_api"])
    assert words[words.index("--bind") + 1] == f"0.0.0.0:{cud_api}"

    ((_, streams),) = published_ports(services["streams"])
    words = command_words(services["streams"])
    assert words[words.index("--web-port") + 1] == str(streams)
    assert words[words.index("--web-host") + 1] == "0.0.0.0"

    assert published_ports(services["postgres"])[0][1] == 5432
    assert published_ports(services["mongodb"])[0][1] == 27017
    assert published_ports(services["connect"])[0][1] == 8083


def test_kafka_serves_containers_and_the_host_on_separate_listeners(
    services: dict[str, Any],
) -> None:
    env = environment(services["kafka"])
    listeners = dict(
        (entry.split("://")[0], port_of(entry)) for entry in env["KAFKA_LISTENERS"].split(",")
    )
    advertised = dict(
        (entry.split("://")[0], entry.split("://")[1])
        for entry in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    )
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
    assert listeners[controller] == int(default("KAFKA_CONTROLLER_PORT"))
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"].endswith(f"@kafka:{listeners[controller]}")

    # The host reaches the published port, and is told to come back to localhost on it.
    ((host_port, container_port),) = published_ports(services["kafka"])
    (external,) = [name for name, port in listeners.items() if port == container_port]
    assert advertised[external] == f"localhost:{host_port}"

    # Containers use the inter-broker listener, advertised under the service name.
    internal = env["KAFKA_INTER_BROKER_LISTENER_NAME"]
    assert advertised[internal] == f"kafka:{listeners[internal]}"
    for name in ("cud_api", "streams"):
        assert environment(services[name])["KAFKA_BROKER_URL"] == advertised[internal]
    assert environment(services["connect"])["BOOTSTRAP_SERVERS"] == advertised[internal]

    assert "localhost:9092" in services["kafka"]["healthcheck"]["test"][-1]
    assert listeners[internal] == 9092


# --- variables -------------------------------------------------------------------------------


def test_app_services_use_exactly_the_contract_variable_names(services: dict[str, Any]) -> None:
    for name in APP_SERVICES:
        names = set(environment(services[name]))
        unknown = names - CONTRACT - APP_EXTRA_VARIABLES
        assert not unknown, f"{name}: not contract names: {sorted(unknown)}"
        missing = REQUIRED_APP_VARIABLES[name] - names
        assert not missing, f"{name}: missing {sorted(missing)}"


def test_credentials_and_settings_default_to_the_native_values(services: dict[str, Any]) -> None:
    shared = (
        "POSTGRES_DB",
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "DEBEZIUM_PG_USER",
        "DEBEZIUM_PG_PASSWORD",
        "MONGO_DB",
        "TOPIC_PARTITIONS",
        "DJANGO_DEBUG",
    )
    seen = 0
    for name, service in services.items():
        env = environment(service)
        for variable in shared:
            if variable in env:
                assert env[variable] == default(variable), f"{name}: {variable}={env[variable]}"
                seen += 1
    assert seen >= len(shared)


def test_every_default_in_the_compose_file_is_the_contracts_default() -> None:
    # docker compose cannot import contracts/environment.py, so the file keeps `${VAR:-default}`:
    # each one must be the contracts' default, and each password is written once (an anchor).
    text = COMPOSE_FILE.read_text()
    written: dict[str, int] = {}
    for match in INTERPOLATION.finditer(text):
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if name in DEFAULTS and operator in (":-", "-"):
            assert argument == DEFAULTS[name], (
                f"${{{name}:-{argument}}}: contracts say {DEFAULTS[name]!r}"
            )
            written[name] = written.get(name, 0) + 1
    for password in PASSWORDS:
        assert written.get(password) == 1, (
            f"{password}'s default is written {written.get(password)} times"
        )
        assert text.count(DEFAULTS[password]) == 1, password
    init_scripts = "".join(p.read_text() for p in (COMPOSE_DIR / "postgres-init").glob("*.sh"))
    for password in PASSWORDS:
        assert DEFAULTS[password] not in init_scripts, (
            f"an init script repeats {password}'s default"
        )


def test_containers_address_each_other_by_service_name(services: dict[str, Any]) -> None:
    for name in ("cud_api", "streams", "migrate", "connect"):
        env = environment(services[name])
        assert env["POSTGRES_HOST"] == "postgres" and env["POSTGRES_PORT"] == "5432", name
    streams = environment(services["streams"])
    assert urlsplit(streams["MONGO_URL"]).hostname == "mongodb"
    assert port_of(streams["MONGO_URL"]) == published_ports(services["mongodb"])[0][1]
    register = environment(services["register-connector"])
    assert register["KAFKA_CONNECT_URL"] == "http://connect:8083"


def test_every_service_variable_the_app_code_reads_is_provided(services: dict[str, Any]) -> None:
    for package, service_names in PACKAGE_SERVICES.items():
        sources = sorted((ROOT / package).rglob("*.py"))
        assert sources, f"no code in {package}/ to scan"
        read = {m for path in sources for m in SERVICE_VARIABLES.findall(path.read_text())}
        read -= SET_BY_COMMAND_LINE
        for name in service_names:
            missing = read - set(environment(services[name]))
            assert not missing, f"{package} reads {sorted(missing)}, not set for {name}"


# --- Kafka Connect and Debezium --------------------------------------------------------------


def connector_file(services: dict[str, Any]) -> Path:
    """The host path of the connector JSON that register-connector mounts and passes on."""
    register = services["register-connector"]
    words = command_words(register)
    target = words[words.index("--file") + 1]
    for volume in register.get("volumes") or []:
        source, container_path, *options = str(volume).split(":")
        if container_path == target:
            assert options == ["ro"], f"mount {source} read-only"
            return (COMPOSE_DIR / source).resolve()
    raise AssertionError(f"register-connector does not mount {target}")


def test_the_connector_file_register_connector_mounts_exists(services: dict[str, Any]) -> None:
    path = connector_file(services)
    assert path == ROOT / "debezium" / "connector.json"
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    json.loads(path.read_text())


def test_connect_resolves_every_placeholder_of_the_connector(services: dict[str, Any]) -> None:
    env = environment(services["connect"])
    assert env["CONNECT_CONFIG_PROVIDERS"] == "env"
    assert (
        env["CONNECT_CONFIG_PROVIDERS_ENV_CLASS"]
        == "org.apache.kafka.common.config.provider.EnvVarConfigProvider"
    )
    for variable in ("POSTGRES_PORT", "POSTGRES_DB", "DEBEZIUM_PG_USER", "DEBEZIUM_PG_PASSWORD"):
        assert variable in env, variable
    path = connector_file(services)
    document = json.loads(path.read_text())
    config = document.get("config", document)
    placeholders = set(re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text()))
    missing = placeholders - set(env)
    assert not missing, f"connector.json uses ${{env:...}} that connect lacks: {sorted(missing)}"
    password = str(config.get("database.password", ""))
    assert password.startswith("${"), "connector.json must not commit a password"
    prefix = config.get("topic.prefix")
    if prefix is not None:
        assert f"{prefix}.public.todos" in TOPICS


def test_topics_one_shot_creates_the_contract_topics_with_the_launchers_code(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import compose.topics

    topics = services["topics"]
    assert command_words(topics) == ["python", "-m", "compose.topics"]
    assert "build" in topics, "the topics one-shot runs the project's own image"
    env = environment(topics)
    assert env["KAFKA_BROKER_URL"] == "kafka:9092"
    assert env["TOPIC_PARTITIONS"] == default("TOPIC_PARTITIONS")

    # Run the one-shot's entry point with its environment, the broker call replaced.
    asked: list[Any] = []
    monkeypatch.setattr(compose.topics, "ensure_topics", asked.append)
    for name in DEFAULTS:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert compose.topics.main() == 0
    (settings,) = asked
    assert settings.values["KAFKA_BROKER_URL"] == "kafka:9092"
    assert set(compose.topics.wanted(settings)) >= set(TOPICS)
    printed = capsys.readouterr().out
    for topic in TOPICS:
        assert f"{topic}: {env['TOPIC_PARTITIONS']} partition(s)" in printed, topic

    # Nothing in the compose file names a topic: the one-shot takes them from contracts.topics.
    text = COMPOSE_FILE.read_text()
    for topic in (*TOPICS, contract_topics.DEBEZIUM_HEARTBEAT):
        assert not re.search(rf"(^|[\s'\"]){re.escape(topic)}([\s'\";|]|$)", text), topic


def test_postgres_allows_logical_decoding_and_creates_the_debezium_role(
    services: dict[str, Any],
) -> None:
    postgres = services["postgres"]
    words = command_words(postgres)
    for setting in ("wal_level=logical", "max_replication_slots=10", "max_wal_senders=10"):
        assert setting in words, setting
    (init_dir,) = [
        str(volume).split(":")[0]
        for volume in postgres["volumes"]
        if ":/docker-entrypoint-initdb.d" in str(volume)
    ]
    scripts = sorted((COMPOSE_DIR / init_dir).glob("*.sh"))
    assert scripts, f"no init script in {init_dir}"
    text = "".join(script.read_text() for script in scripts)
    assert "REPLICATION" in text
    for variable in ("DEBEZIUM_PG_USER", "DEBEZIUM_PG_PASSWORD"):
        assert variable in text, variable
        assert environment(postgres)[variable] == environment(services["connect"])[variable]
    for script in scripts:
        subprocess.run(["bash", "-n", str(script)], check=True)
        assert os.access(script, os.X_OK), f"{script.name} is not executable"
    check = " ".join(postgres["healthcheck"]["test"])
    assert "pg_isready" in check and "-h 127.0.0.1" in check


# --- the app image and its commands ----------------------------------------------------------


def test_app_services_share_one_image_built_from_the_repository(services: dict[str, Any]) -> None:
    builds = {
        name: (service["image"], json.dumps(service["build"], sort_keys=True))
        for name, service in services.items()
        if "build" in service
    }
    assert set(builds) == APP_SERVICES | {"register-connector", "topics", "keys"}
    assert len(set(builds.values())) == 1, builds
    build = services["cud_api"]["build"]
    context = (COMPOSE_DIR / build["context"]).resolve()
    assert context == ROOT and (context / "setup.cfg").is_file()
    dockerfile = context / build["dockerfile"]
    text = dockerfile.read_text()
    assert re.search(r"^ARG PYTHON_VERSION\b", text, re.M)
    assert re.search(r"^FROM python:\$\{PYTHON_VERSION\}-slim\b", text, re.M)
    assert re.search(r"pip install\b[^\n]*\s\.(\s|$)", text), "the image must `pip install .`"
    assert set(build["args"]) == {"PYTHON_VERSION"}
    ignore = (dockerfile.parent / f"{dockerfile.name}.dockerignore").read_text().split()
    for heavy in (".git", ".venv", ".state"):
        assert heavy in ignore, heavy


def test_app_commands_are_the_native_process_commands(services: dict[str, Any]) -> None:
    assert command_words(services["cud_api"])[:2] == ["gunicorn", "cud_api.config.wsgi:application"]
    words = command_words(services["cud_api"])
    assert words[words.index("--worker-class") + 1] == "gthread"
    assert command_words(services["streams"])[:4] == ["faust", "-A", "streams.worker", "worker"]
    words = command_words(services["migrate"])
    assert words[:2] == ["sh", "-c"] and len(words) == 3
    steps = [shlex.split(step) for step in words[2].split("&&")]
    assert steps[0] == ["python", "-m", "django", "migrate", "--noinput"]
    for name in APP_SERVICES:
        env = environment(services[name])
        assert env["DJANGO_SETTINGS_MODULE"] == "cud_api.config.settings", name
    assert "/health/" in " ".join(services["cud_api"]["healthcheck"]["test"])
    assert "/health'" in " ".join(services["streams"]["healthcheck"]["test"])
    streams_env = environment(services["streams"])
    mounts = [str(volume).split(":")[1] for volume in services["streams"]["volumes"]]
    assert any(streams_env["FAUST_DATA_DIR"].startswith(mount) for mount in mounts)


def test_connector_is_registered_after_the_table_and_topics_exist(
    services: dict[str, Any],
) -> None:
    depends_on = services["register-connector"]["depends_on"]
    assert depends_on["connect"]["condition"] == "service_healthy"
    assert depends_on["migrate"]["condition"] == "service_completed_successfully"
    assert depends_on["topics"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


# --- the registration one-shot, run against a stub Kafka Connect -----------------------------


class StubConnect(BaseHTTPRequestHandler):
    """Answers like Kafka Connect: 404 until registered, then the config and a status."""

    configs: dict[str, Any]
    puts: list[tuple[str, Any]]
    task_state: str

    def do_PUT(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        stub = type(self)
        name = self.path.split("/")[2]
        stub.puts.append((self.path, body))
        stub.configs[name] = body
        self.reply(201, {"name": name, "config": body, "tasks": []})

    def do_GET(self) -> None:
        name = self.path.split("/")[2]
        if name not in type(self).configs:
            self.reply(404, {"error_code": 404, "message": f"Connector {name} not found"})
        elif self.path.endswith("/config"):
            self.reply(200, {**type(self).configs[name], "name": name})
        else:
            tasks = [{"id": 0, "state": type(self).task_state, "worker_id": "connect:8083"}]
            self.reply(200, {"name": name, "connector": {"state": "RUNNING"}, "tasks": tasks})

    def do_POST(self) -> None:  # restart: the stub's task stays in its state
        self.reply(202, {})

    def reply(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def stub_connect() -> Iterator[tuple[str, type[StubConnect]]]:
    attributes = {"configs": {}, "puts": [], "task_state": "RUNNING"}
    handler = type("Stub", (StubConnect,), attributes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()


def run_registration(
    services: dict[str, Any], url: str, connector: Path
) -> subprocess.CompletedProcess[str]:
    """Run register-connector's command line as compose would, against the stub Connect."""
    service = services["register-connector"]
    words = command_words(service)
    assert words[0] == "python", words
    (mount,) = [str(volume).split(":")[1] for volume in service["volumes"]]
    words = [str(connector) if word == mount else word for word in words]
    assert str(connector) in words, f"the command does not read the mounted {mount}"
    env = {**os.environ, **environment(service), "KAFKA_CONNECT_URL": url}
    return subprocess.run(
        [sys.executable, *words[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_register_connector_puts_the_connector_json_and_waits_until_running(
    services: dict[str, Any], stub_connect: tuple[str, type[StubConnect]]
) -> None:
    url, stub = stub_connect
    path = connector_file(services)
    document = json.loads(path.read_text())
    result = run_registration(services, url, path)
    assert result.returncode == 0, result.stderr
    assert stub.puts[-1] == (f"/connectors/{document['name']}/config", document["config"])
    assert environment(services["register-connector"])["KAFKA_CONNECT_URL"] == (
        "http://connect:8083"
    )


def test_register_connector_is_idempotent(
    services: dict[str, Any], stub_connect: tuple[str, type[StubConnect]]
) -> None:
    url, stub = stub_connect
    path = connector_file(services)
    first = run_registration(services, url, path)
    second = run_registration(services, url, path)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert {entry[0] for entry in stub.puts} == {
        f"/connectors/{json.loads(path.read_text())['name']}/config"
    }


def test_register_connector_exits_non_zero_when_a_task_fails(
    services: dict[str, Any], stub_connect: tuple[str, type[StubConnect]]
) -> None:
    url, stub = stub_connect
    stub.task_state = "FAILED"
    result = run_registration(services, url, connector_file(services))
    assert result.returncode != 0
    assert "FAILED" in result.stdout + result.stderr


# --- token keys and the demo user --------------------------------------------------------------


def mounts(service: Mapping[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """A service's volumes: container path -> (volume name or host path, options)."""
    found = {}
    for volume in service.get("volumes") or []:
        source, target, *options = str(volume).split(":")
        found[target] = (source, options)
    return found


def run_cli(words: list[str], replace: Mapping[str, Path]) -> None:
    """Run a `python -m compose ...` command line in-process, container paths replaced."""
    from compose.cli import main

    assert words[:3] == ["python", "-m", "compose"], words
    args = [str(replace.get(word, word)) for word in words[3:]]
    # Every container path must be replaced: nothing is written outside the test's folder.
    local = {str(path) for path in replace.values()}
    assert not [arg for arg in args if arg.startswith("/") and arg not in local], args
    assert main(args) == 0


def test_streams_mounts_only_the_public_keys_read_only(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    streams = services["streams"]
    env = environment(streams)
    assert SIGNING not in env
    source, options = mounts(streams)[env[VERIFYING]]
    assert options == ["ro"]
    signing_volume = mounts(services["cud_api"])[environment(services["cud_api"])[SIGNING]][0]
    assert signing_volume in compose["volumes"]
    assert signing_volume not in {src for src, _ in mounts(streams).values()}
    assert source in compose["volumes"] and source != signing_volume
    # Only the write API (and the one-shot that makes the keys) ever sees the private keys.
    for name, service in services.items():
        if name not in ("cud_api", "keys"):
            assert signing_volume not in {src for src, _ in mounts(service).values()}, name
            assert SIGNING not in environment(service), name


def test_the_write_api_reads_both_key_volumes_where_its_variables_point(
    services: dict[str, Any],
) -> None:
    cud_api, keys = services["cud_api"], services["keys"]
    env = environment(cud_api)
    words = command_words(keys)
    written = {
        SIGNING: words[words.index("--signing") + 1],
        VERIFYING: words[words.index("--verifying") + 1],
    }
    for variable, keys_path in written.items():
        volume, options = mounts(cud_api)[env[variable]]
        assert options == ["ro"], variable
        assert mounts(keys)[keys_path] == (volume, []), f"keys does not write {volume} read-write"
    assert environment(services["streams"])[VERIFYING] == env[VERIFYING]
    for name in ("cud_api", "streams"):
        assert services[name]["depends_on"]["keys"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_keys_one_shot_makes_one_key_pair_and_keeps_it(
    services: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    words = command_words(services["keys"])
    signing, verifying = tmp_path / "signing", tmp_path / "verifying"
    token = tmp_path / "secrets" / "metrics_scrape_token"
    container = {
        "signing": words[words.index("--signing") + 1],
        "verifying": words[words.index("--verifying") + 1],
        "token": words[words.index("--scrape-token") + 1],
    }
    paths = {container["signing"]: signing, container["verifying"]: verifying}
    paths[container["token"]] = token
    paths[words[words.index("--django-secret-key") + 1]] = tmp_path / "django" / "secret_key"
    run_cli(words, paths)
    kid = auth.load_signing_key(signing).kid
    assert set(auth.load_verifying_keys(verifying)) == {kid}
    assert (signing.stat().st_mode & 0o777) == 0o700
    secret = token.read_text()
    assert (token.stat().st_mode & 0o777) == 0o600 and len(secret.strip()) >= 40
    run_cli(words, paths)  # every `docker compose up` runs it again
    assert auth.load_signing_key(signing).kid == kid
    assert token.read_text() == secret
    # The rotations the compose file's header shows: each renews only what it names.
    header = COMPOSE_FILE.read_text()
    rotate_key = ["--signing", container["signing"], "--verifying", container["verifying"]]
    rotate_token = ["--scrape-token", container["token"]]
    for rotation in (rotate_key, rotate_token):
        assert f"python -m compose keys {' '.join(rotation)} --rotate" in header
    run_cli(["python", "-m", "compose", "keys", *rotate_key, "--rotate"], paths)
    rotated = auth.load_signing_key(signing).kid
    assert rotated != kid and set(auth.load_verifying_keys(verifying)) == {kid, rotated}
    assert token.read_text() == secret
    run_cli(["python", "-m", "compose", "keys", *rotate_token, "--rotate"], paths)
    assert token.read_text() != secret and auth.load_signing_key(signing).kid == rotated
    printed = capsys.readouterr().out
    assert kid in printed and secret.strip() not in printed


def test_django_s_secret_key_is_generated_by_keys_and_read_only_where_django_runs(
    services: dict[str, Any], tmp_path: Path
) -> None:
    # No committed default: only an empty pass-through of the shell's variable.
    assert set(re.findall(r"DJANGO_SECRET_KEY:-[^}]*", COMPOSE_FILE.read_text())) == {
        "DJANGO_SECRET_KEY:-"
    }
    words = command_words(services["keys"])
    container_path = words[words.index("--django-secret-key") + 1]
    folder = str(Path(container_path).parent)
    volume = mounts(services["keys"])[folder][0]
    assert mounts(services["keys"])[folder] == (volume, [])
    # Django runs in the write API and in the migrate one-shot (its settings need the key).
    for name in ("cud_api", "migrate"):
        service = services[name]
        assert environment(service)[auth.DJANGO_SECRET_KEY_FILE_VARIABLE] == container_path
        assert mounts(service)[folder] == (volume, ["ro"]), name
        assert service["depends_on"]["keys"]["condition"] == "service_completed_successfully"
    for name, service in services.items():
        if name not in ("cud_api", "migrate", "keys"):
            assert volume not in {src for src, _ in mounts(service).values()}, name
    local = tmp_path / "django" / "secret_key"
    own_step = ["python", "-m", "compose", "keys", "--django-secret-key", container_path]
    run_cli(own_step, {container_path: local})
    secret = local.read_text()
    assert (local.stat().st_mode & 0o777) == 0o600 and len(secret.strip()) >= 50
    run_cli(own_step, {container_path: local})  # every `docker compose up` runs it again
    assert local.read_text() == secret
    env = {**os.environ, "DJANGO_SECRET_KEY": "", auth.DJANGO_SECRET_KEY_FILE_VARIABLE: str(local)}
    loaded = subprocess.run(
        [sys.executable, "-c", "from cud_api.config import settings; print(settings.SECRET_KEY)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    assert loaded.stdout.strip() == secret.strip()


def test_the_migrate_step_ensures_the_demo_user_with_a_password_made_once(
    compose: dict[str, Any], services: dict[str, Any], tmp_path: Path
) -> None:
    migrate = services["migrate"]
    steps = [shlex.split(step) for step in command_words(migrate)[2].split("&&")]
    assert len(steps) == 3
    password_step, user_step = steps[1], steps[2]
    assert password_step[:4] == ["python", "-m", "compose", "demo-password"]
    password_file = password_step[password_step.index("--file") + 1]
    assert user_step == [
        "python",
        "-m",
        "django",
        "ensure_demo_user",
        "--password-file",
        password_file,
    ]
    folder = str(Path(password_file).parent)
    volume, options = mounts(migrate)[folder]
    assert volume in compose["volumes"] and options == []
    local = tmp_path / "secrets" / "demo_password"
    run_cli(password_step, {password_file: local})
    password = local.read_text()
    assert (local.stat().st_mode & 0o777) == 0o600 and len(password.strip()) >= 20
    run_cli(password_step, {password_file: local})
    assert local.read_text() == password


def test_the_image_makes_the_key_and_secret_mount_points_private_to_its_user() -> None:
    text = (COMPOSE_DIR / "Dockerfile").read_text()
    for folder in ("/keys/signing", "/keys/verifying", "/keys/django", "/secrets"):
        assert folder in text, folder
    assert re.search(r"chmod 700 /keys/signing /keys/django /secrets", text)
    assert re.search(r"chown -R app:app [^\n]*/keys", text)


# --- the optional Prometheus ------------------------------------------------------------------


def test_prometheus_is_optional_and_off_without_its_profile(services: dict[str, Any]) -> None:
    for name, service in services.items():
        assert service.get("profiles", []) == ([OPTIONAL[name]] if name in OPTIONAL else []), name
    # Nothing that a plain `docker compose up` starts waits for it.
    for name, service in services.items():
        assert "prometheus" not in (service.get("depends_on") or {}), name
    prometheus = services["prometheus"]
    repository, _, tag = prometheus["image"].partition(":")
    assert repository == "prom/prometheus"
    assert re.fullmatch(r"v3\.\d+\.\d+", resolved(tag)), tag
    assert prometheus["ports"] == ["127.0.0.1:9090:9090"]


def test_prometheus_reads_the_config_in_compose_and_keeps_its_data_in_a_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    prometheus = services["prometheus"]
    words = command_words(prometheus)
    flags = dict(word.removeprefix("--").split("=", 1) for word in words if "=" in word)
    config_source, options = mounts(prometheus)[flags["config.file"]]
    assert options == ["ro"]
    assert (COMPOSE_DIR / config_source).resolve() == PROMETHEUS_CONFIG
    data_volume, options = mounts(prometheus)[flags["storage.tsdb.path"]]
    assert data_volume in compose["volumes"] and options == []


def prometheus_config() -> dict[str, Any]:
    return yaml.safe_load(PROMETHEUS_CONFIG.read_text())


def scrape_targets(job: Mapping[str, Any]) -> list[str]:
    return [target for group in job["static_configs"] for target in group["targets"]]


def network_names(name: str, service: Mapping[str, Any]) -> set[str]:
    """The names a service answers to on the compose network: its own and its aliases."""
    aliases = ((service.get("networks") or {}).get("default") or {}).get("aliases") or []
    return {name, *aliases}


def test_prometheus_scrapes_both_apis_metrics_every_15_seconds_by_name_and_port(
    services: dict[str, Any],
) -> None:
    config = prometheus_config()
    assert config["global"]["scrape_interval"] == "15s"
    scraped: dict[str, int] = {}
    for job in config["scrape_configs"]:
        assert job.get("scrape_interval", "15s") == "15s", job["job_name"]
        assert job.get("metrics_path", "/metrics") == "/metrics", job["job_name"]
        for target in scrape_targets(job):
            host, _, target_port = target.rpartition(":")
            (service,) = [n for n, svc in services.items() if host in network_names(n, svc)]
            scraped[service] = int(target_port)
    assert scraped == {"cud_api": 8000, "streams": 8080}
    # The ports the APIs listen on inside their containers (what they publish on the host).
    for name, port in scraped.items():
        assert [target for _, target in published_ports(services[name])] == [port], name


def test_the_write_api_accepts_the_host_prometheus_scrapes_it_by(services: dict[str, Any]) -> None:
    from django.http.request import split_domain_port, validate_host

    (job,) = [j for j in prometheus_config()["scrape_configs"] if j["job_name"] == "cud_api"]
    (target,) = scrape_targets(job)
    domain, port = split_domain_port(target)
    assert domain and port, f"Django refuses the Host {target!r}"
    allowed = environment(services["cud_api"])["DJANGO_ALLOWED_HOSTS"].split(",")
    assert validate_host(domain, allowed), f"{domain} is not in DJANGO_ALLOWED_HOSTS"


def test_prometheus_presents_the_scrape_token_both_apis_read(services: dict[str, Any]) -> None:
    keys, prometheus = services["keys"], services["prometheus"]
    words = command_words(keys)
    written = words[words.index("--scrape-token") + 1]

    def volume_and_path(service: Mapping[str, Any], path: str) -> tuple[str, str, list[str]]:
        """The volume a container path lies in, the path inside it, the mount's options."""
        for target, (source, options) in mounts(service).items():
            if path.startswith(target.rstrip("/") + "/"):
                return source, path[len(target) :], options
        raise AssertionError(f"{path} is on no volume")

    volume, inside, options = volume_and_path(keys, written)
    assert options == []
    for name in ("cud_api", "streams"):
        assert volume_and_path(services[name], environment(services[name])[SCRAPE_TOKEN]) == (
            volume,
            inside,
            ["ro"],
        ), name
    for job in prometheus_config()["scrape_configs"]:
        authorization = job["authorization"]
        assert authorization["type"] == "Bearer", job["job_name"]
        credentials = authorization["credentials_file"]
        assert volume_and_path(prometheus, credentials) == (volume, inside, ["ro"])
    # The token file is the app user's, mode 600: the reading capability, and no other.
    assert prometheus["cap_drop"] == ["ALL"] and prometheus["cap_add"] == ["DAC_READ_SEARCH"]
    assert prometheus["depends_on"]["keys"]["condition"] == "service_completed_successfully"


# --- docker compose itself, where it exists ---------------------------------------------------


def test_docker_compose_accepts_the_file_when_the_plugin_is_installed() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
