"""supervisord.conf rendering: supervisord's own parser reads back what the launcher meant."""

from __future__ import annotations

import shlex
import signal
from pathlib import Path

import pytest
from supervisor.options import ServerOptions

from compose.settings import ConfigError, Settings
from compose.stack import Stack
from compose.supervisor import Program, render, socket_path


def _parse(conf: Path) -> ServerOptions:
    for folder in ("logs", "supervisor"):
        (conf.parent / folder).mkdir(exist_ok=True)
    options = ServerOptions()
    options.realize(args=["-c", str(conf)])
    return options


def _program(tmp_path: Path, **env: str) -> Program:
    return Program(
        name="demo",
        command=["/bin/echo", "a b", "--x=1%"],
        environment={"PLAIN": "v", **env},
        directory=tmp_path,
        log_file=tmp_path / "logs" / "demo.log",
        user="postgres",
        stop_signal="INT",
        stop_wait_secs=7,
    )


def test_a_program_renders_to_what_supervisord_reads_back(tmp_path: Path) -> None:
    conf = tmp_path / "supervisord.conf"
    conf.write_text(render(tmp_path, [_program(tmp_path, SECRET="p@ss,word%x y")]))
    (group,) = _parse(conf).process_group_configs
    (proc,) = group.process_configs
    assert shlex.split(proc.command) == ["/bin/echo", "a b", "--x=1%"]  # as supervisord splits it
    assert proc.environment == {"PLAIN": "v", "SECRET": "p@ss,word%x y"}
    assert (proc.autostart, proc.stopasgroup, proc.killasgroup) == (False, True, True)
    assert proc.stopsignal == signal.SIGINT
    assert proc.stopwaitsecs == 7
    assert proc.uid is not None  # user=postgres
    assert proc.stdout_logfile == str(tmp_path / "logs" / "demo.log")


def test_a_value_with_quotes_is_refused_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="POSTGRES_PASSWORD"):
        render(tmp_path, [_program(tmp_path, POSTGRES_PASSWORD='a"b')])


def test_the_whole_stack_renders_one_program_per_service(tmp_path: Path) -> None:
    settings = Settings.from_env({"TODO_EDA_STATE_DIR": str(tmp_path)})
    conf = tmp_path / "supervisord.conf"
    conf.write_text(render(tmp_path, Stack(settings).programs()))
    names = [group.name for group in _parse(conf).process_group_configs]
    assert sorted(names) == sorted(
        ["postgres", "kafka", "connect", "ferretdb", "cud_api", "streams"]
    )


def test_a_too_long_state_path_gets_a_short_socket(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    assert len(str(socket_path(deep))) < 100
    assert socket_path(tmp_path).parent == tmp_path / "supervisor"
