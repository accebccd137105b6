"""Kafka 4 in KRaft mode (one broker that is also the controller) and Kafka Connect, distributed."""

from __future__ import annotations

import base64
import shutil
import subprocess
import uuid
from pathlib import Path

from compose.settings import Settings

CONNECT_GROUP = "todo-eda-connect"
ENV_PROVIDER = "org.apache.kafka.common.config.provider.EnvVarConfigProvider"

LOG4J2 = """\
# log4j2 for {name}: everything to stdout, which supervisord writes to $STATE/logs/{name}.log
status = warn
appender.out.type = Console
appender.out.name = OUT
appender.out.target = {target}
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.out.ref = OUT
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
logger.netclient.name = org.apache.kafka.clients.NetworkClient
logger.netclient.level = WARN
"""


def _dir(settings: Settings, name: str) -> Path:
    return settings.state_dir / name


def java_command(
    settings: Settings,
    name: str,
    main: str,
    *args: str,
    heap: str = "1g",
    fixed_heap: bool = False,
) -> list[str]:
    """A JVM on the Kafka jars with its own log4j2 config and a heap sized for 2 cores/24 GB.

    `fixed_heap`: the whole heap reserved and touched at start, so the process's memory is flat
    from its first second instead of growing as G1 expands and touches new regions.
    """
    sizing = [f"-Xms{heap}", "-XX:+AlwaysPreTouch"] if fixed_heap else ["-Xms256m"]
    return [
        shutil.which("java") or "java",
        *sizing,
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={_dir(settings, name) / 'log4j2.properties'}",
        f"-Dorg.apache.kafka.automatic.config.providers={ENV_PROVIDER}",
        "-cp",
        f"{settings.kafka_libs}/*",
        main,
        *args,
    ]


def server_properties(settings: Settings) -> str:
    """The broker+controller config: ports from KAFKA_BROKER_URL and KAFKA_CONTROLLER_PORT.

    With KAFKA_PROXIED_LISTENER_PORT/KAFKA_PROXIED_PORT, a second listener PROXIED on the first,
    advertised at the second (where a fault proxy forwards to it).
    """
    port, cport = settings.kafka_port, settings.controller_port
    listeners = [f"PLAINTEXT://127.0.0.1:{port}", f"CONTROLLER://127.0.0.1:{cport}"]
    advertised = [f"PLAINTEXT://{settings.kafka_host}:{port}"]
    protocols = ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"]
    proxied_listener, proxied = settings.kafka_proxied_listener_port, settings.kafka_proxied_port
    if proxied_listener is not None and proxied is not None:
        # A client sees in the metadata the address of the listener it connected to: through
        # the proxy, that is the proxy's own port, so it never bypasses the proxy.
        listeners.append(f"PROXIED://127.0.0.1:{proxied_listener}")
        advertised.append(f"PROXIED://127.0.0.1:{proxied}")
        protocols.append("PROXIED:PLAINTEXT")
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@127.0.0.1:{cport}",
        "listeners": ",".join(listeners),
        "advertised.listeners": ",".join(advertised),
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": ",".join(protocols),
        "log.dirs": str(_dir(settings, "kafka") / "data"),
        # Topics someone forgets to create still get the project's partition count.
        "num.partitions": str(settings.partitions),
        "auto.create.topics.enable": "true",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "log.retention.hours": "168",
        "log.segment.bytes": str(256 * 1024 * 1024),
        "num.network.threads": "2",
        "num.io.threads": "4",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def connect_properties(settings: Settings) -> str:
    """The Connect worker: JSON without schemas, internal topics with replication factor 1."""
    props = {
        "bootstrap.servers": settings.values["KAFKA_BROKER_URL"],
        "group.id": CONNECT_GROUP,
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "false",
        "value.converter.schemas.enable": "false",
        # Connect creates its own internal topics (compacted, with its default partition counts).
        "config.storage.topic": "connect-configs",
        "offset.storage.topic": "connect-offsets",
        "status.storage.topic": "connect-status",
        "config.storage.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
        "offset.flush.interval.ms": "5000",
        "listeners": f"http://127.0.0.1:{settings.connect_port}",
        "rest.advertised.host.name": "127.0.0.1",
        "rest.advertised.port": str(settings.connect_port),
        "plugin.path": str(settings.connect_plugins),
        # Kafka's and Debezium's jars all carry ServiceLoader manifests: skip the slow class scan.
        "plugin.discovery": "service_load",
        # Connector configs say ${env:POSTGRES_HOST} etc.: no secret in the committed JSON.
        "config.providers": "env",
        "config.providers.env.class": ENV_PROVIDER,
        "config.providers.env.param.allowlist.pattern": "^(POSTGRES_.*|DEBEZIUM_PG_.*)$",
        # Recovery from an outage of Kafka or of this process (docs/decisions/fault-recovery.md;
        # compose/docker-compose.yml sets the same values).
        # One worker: a task lost with the group membership (Kafka away longer than the session)
        # is assigned again at the next rebalance, not after the default 5-minute wait for a
        # worker that might come back (KAFKA-15693 makes 0 mean "at once").
        "scheduled.rebalance.max.delay.ms": "0",
        # Notice a broker that went away within seconds, and rejoin within a second of its return.
        "session.timeout.ms": "10000",
        "heartbeat.interval.ms": "3000",
        "reconnect.backoff.ms": "100",
        "reconnect.backoff.max.ms": "1000",
        "retry.backoff.ms": "100",
        "retry.backoff.max.ms": "1000",
        # A task stopping for a rebalance may wait this long for its offsets' flush: the flush
        # cannot reach a broker that is down, and the offsets it would write are only re-sent
        # changes (idempotent downstream), so the wait stays short.
        "task.shutdown.graceful.timeout.ms": "3000",
        "offset.flush.timeout.ms": "3000",
    }
    return "".join(f"{k}={v}\n" for k, v in props.items())


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def cluster_id(settings: Settings) -> str:
    """The KRaft cluster id, made once per state folder."""
    path = _dir(settings, "kafka") / "cluster.id"
    if not path.exists():
        raw = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        _write(path, raw)
    return path.read_text().strip()


def prepare_kafka(settings: Settings) -> None:
    """Write the broker's config and format its storage once."""
    folder = _dir(settings, "kafka")
    _write(folder / "server.properties", server_properties(settings))
    _write(
        folder / "log4j2.properties", LOG4J2.format(name="kafka", target="SYSTEM_OUT", level="INFO")
    )
    if (folder / "data" / "meta.properties").exists():
        return
    cmd = java_command(
        settings,
        "kafka",
        "kafka.tools.StorageTool",
        "format",
        "--ignore-formatted",
        # One argument, `=` form: a random id may start with "-", which argparse would read
        # as an option and refuse (one stack start in 64).
        f"--cluster-id={cluster_id(settings)}",
        "-c",
        str(folder / "server.properties"),
        heap="256m",
    )
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"formatting Kafka's storage failed:\n{result.stdout}{result.stderr}")


def kafka_command(settings: Settings) -> list[str]:
    # Kafka's own start script fixes the broker's heap at 1 GB (-Xms = -Xmx); touched at start too,
    # the broker's memory stays flat under load (docs/decisions/broker-heap.md).
    return java_command(
        settings,
        "kafka",
        "kafka.Kafka",
        str(_dir(settings, "kafka") / "server.properties"),
        fixed_heap=True,
    )


def prepare_connect(settings: Settings) -> None:
    folder = _dir(settings, "connect")
    _write(folder / "connect-distributed.properties", connect_properties(settings))
    _write(
        folder / "log4j2.properties",
        LOG4J2.format(name="connect", target="SYSTEM_OUT", level="INFO"),
    )


def connect_command(settings: Settings) -> list[str]:
    return java_command(
        settings,
        "connect",
        "org.apache.kafka.connect.cli.ConnectDistributed",
        str(_dir(settings, "connect") / "connect-distributed.properties"),
    )
