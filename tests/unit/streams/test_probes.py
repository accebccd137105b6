"""The dependency probes: a real ApiVersions round trip to a fake broker, bounded by a limit."""

from __future__ import annotations

import asyncio
import struct

import pytest

from streams.monitoring import probes
from streams.monitoring.dependencies import DOWN_AFTER, DependencyWatch
from tests.support.clock import Clock


def test_the_api_versions_request_is_size_prefixed_key_18_version_0():
    request = probes.api_versions_request()
    (size,) = struct.unpack(">i", request[:4])
    assert size == len(request) - 4
    key, version, correlation, id_length = struct.unpack(">hhih", request[4:14])
    assert (key, version, correlation) == (18, 0, 1)
    assert request[14:] == b"todo-eda-probe" and id_length == len(b"todo-eda-probe")


async def fake_broker(answer: bytes) -> tuple[asyncio.Server, int]:
    """A server that reads one request and writes `answer` back."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        await reader.readexactly(size)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_kafka_probe_passes_when_a_broker_answers_with_the_correlation_id():
    server, port = await fake_broker(struct.pack(">ii", 6, 1) + b"\x00\x00")
    async with server:
        await probes.kafka_probe(f"127.0.0.1:{port}")()


async def test_kafka_probe_fails_on_an_answer_to_another_request():
    server, port = await fake_broker(struct.pack(">ii", 6, 99) + b"\x00\x00")
    async with server:
        with pytest.raises(ConnectionError):
            await probes.kafka_probe(f"kafka://127.0.0.1:{port}")()


async def test_kafka_probe_tries_the_next_broker_when_one_refuses():
    server, port = await fake_broker(struct.pack(">ii", 6, 1) + b"\x00\x00")
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    refusing = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()
    async with server:
        await probes.kafka_probe(f"127.0.0.1:{refusing},127.0.0.1:{port}")()
        with pytest.raises(OSError):
            await probes.kafka_probe(f"127.0.0.1:{refusing}")()


async def test_run_probe_records_an_answer_with_its_latency_and_a_failure_with_its_reason():
    clock = Clock()
    watch = DependencyWatch(("kafka",), clock=clock)

    async def slow_answer() -> None:
        clock.now += 0.25

    async def refused() -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)")

    await probes.run_probe(watch, "kafka", slow_answer, clock=clock)
    assert watch.report()["kafka"]["latency_ms"] == 250.0
    await probes.run_probe(watch, "kafka", refused, clock=clock)
    assert watch.states["kafka"].last_error == (
        "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', 1)"
    )


async def test_a_probe_that_hangs_fails_at_its_limit():
    watch = DependencyWatch(("mongodb",))
    never = asyncio.Event()

    async def hangs() -> None:
        await never.wait()

    await probes.run_probe(watch, "mongodb", hangs, limit_s=0.01)
    assert watch.states["mongodb"].last_error == "no answer within 0.01 s"


def test_a_down_backed_off_dependency_is_probed_every_down_probe_seconds_and_others_every_round():
    clock = Clock()
    watch = DependencyWatch(("kafka", "mongodb"), clock=clock)
    schedule = probes.ProbeSchedule(clock=clock)
    names = ("kafka", "mongodb")
    assert schedule.due(watch, names) == ["kafka", "mongodb"]
    for _ in range(DOWN_AFTER):
        watch.failed("kafka", "refused")
        watch.failed("mongodb", "refused")
    assert watch.is_down("kafka") and watch.is_down("mongodb")
    rounds = []
    for _ in range(8):
        clock.now += probes.PROBE_SECONDS
        rounds.append(schedule.due(watch, names))
    # kafka every round; mongodb only once DOWN_PROBE_SECONDS have passed since its last probe
    assert all("kafka" in r for r in rounds)
    mongodb_rounds = [i for i, r in enumerate(rounds) if "mongodb" in r]
    every = int(probes.DOWN_PROBE_SECONDS // probes.PROBE_SECONDS)
    assert mongodb_rounds == [every - 1, 2 * every - 1]
    watch.answered("mongodb", 0.01)  # back: probed every round again
    clock.now += probes.PROBE_SECONDS
    assert schedule.due(watch, names) == ["kafka", "mongodb"]
    clock.now += probes.PROBE_SECONDS
    assert schedule.due(watch, names) == ["kafka", "mongodb"]


async def test_answers_reads_the_watch_and_probes_only_before_the_first_probe():
    watch = DependencyWatch(("mongodb",))
    calls = []

    async def refused() -> None:
        calls.append(1)
        raise ConnectionRefusedError(111, "refused")

    assert await probes.answers(watch, "mongodb", refused) == (
        False,
        "ConnectionRefusedError: [Errno 111] refused",
    )
    assert calls == [1]
    watch.answered("mongodb", 0.01)
    assert await probes.answers(watch, "mongodb", refused) == (True, None)
    watch.failed("mongodb", "no answer within 1.5 s")
    assert await probes.answers(watch, "mongodb", refused) == (True, None)  # one failure: still up
    watch.failed("mongodb", "no answer within 1.5 s")
    assert await probes.answers(watch, "mongodb", refused) == (False, "no answer within 1.5 s")
    assert calls == [1]
