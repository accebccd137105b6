"""One stack (one state folder): bring it up in order, stop it, report on it."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path

import psutil

from compose.pipeline_status import PipelineStatus, pipeline_status
from compose.polling import wait_until
from compose.services import BY_NAME, SERVICES, Service
from compose.settings import ALL_SERVICES, REPO_ROOT, Settings
from compose.supervisor import Program, Supervisor, render

# Set on every supervised process, inherited by its children: how `down` finds stragglers.
MARK = "TODO_EDA_SUPERVISED_BY"
ACTIVE = ("RUNNING", "STARTING", "BACKOFF", "STOPPING")


class StackError(Exception):
    """The stack could not be brought to the state asked for."""


class PortTakenError(StackError):
    """A port the stack needs is taken by another program."""


@dataclass(frozen=True)
class Row:
    """One line of `status`."""

    service: str
    state: str
    ready: bool
    pid: int
    port: int
    url: str
    log_file: Path


def port_conflict_message(port: int, variable: str, service: str) -> str:
    """The error for a taken port: names the port, the service and the variable that moves it."""
    return (
        f"port {port} is already in use, so {service} cannot listen on it: stop whatever "
        f"listens there, or set {variable} to move {service} to another port"
    )


def _tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def program(svc: Service, settings: Settings) -> Program:
    """How supervisord runs `svc` for the stack of `settings`: command, environment, folder."""
    return Program(
        name=svc.name,
        command=svc.command(settings),
        environment={**settings.process_env(), MARK: str(settings.state_dir)},
        directory=settings.state_dir if svc.user() else REPO_ROOT,
        log_file=settings.log_file(svc.name),
        user=svc.user(),
        stop_signal=svc.stop_signal,
        stop_wait_secs=svc.stop_wait_secs,
    )


class Stack:
    """The launcher's operations on the stack of one state folder."""

    def __init__(self, settings: Settings, *, tied_to_parent: bool = False) -> None:
        self.settings = settings
        self.supervisor = Supervisor(settings.state_dir)
        # A test stack's supervisord dies with the test session, whatever kills it.
        self.tied_to_parent = tied_to_parent

    # Config --------------------------------------------------------------------------------

    def programs(self) -> list[Program]:
        """Every service as supervisord runs it."""
        return [program(svc, self.settings) for svc in SERVICES]

    def _ensure_supervisord(self) -> None:
        s = self.settings
        s.state_dir.mkdir(parents=True, exist_ok=True)
        s.state_dir.chmod(0o755)
        s.logs_dir.mkdir(exist_ok=True)
        changed = self.supervisor.write_conf(render(s.state_dir, self.programs()))
        if self.supervisor.running():
            if changed:
                self.supervisor.update()
        else:
            self.supervisor.start(tied_to_parent=self.tied_to_parent)

    # Up ------------------------------------------------------------------------------------

    def selected(self, names: tuple[str, ...] | None = None) -> list[Service]:
        """The services to run, in start order."""
        return [BY_NAME[name] for name in names or self.settings.services]

    def _state(self, name: str) -> str:
        return str(self.supervisor.all_info().get(name, {}).get("statename", "STOPPED"))

    def check_ports(self, services: list[Service]) -> None:
        """Fail before starting anything if a port of a service not yet running is taken."""
        from compose.readiness import port_in_use

        running = {
            name for name, info in self.supervisor.all_info().items() if info["statename"] in ACTIVE
        }
        for port in self.settings.ports():
            if port.service in running or port.service not in {s.name for s in services}:
                continue
            if port_in_use(port.port):
                raise PortTakenError(port_conflict_message(port.port, port.variable, port.service))

    def up(self, names: tuple[str, ...] | None = None) -> list[Row]:
        """Start the selected services in order, each ready before the next; idempotent."""
        services = self.selected(names)
        self.check_ports(services)
        self._ensure_supervisord()
        for svc in services:
            self.start(svc.name, steps=True)
        return self.status()

    def start(self, name: str, *, steps: bool = True) -> None:
        """Start one service unless it already runs, wait until it is ready, run its steps."""
        svc = BY_NAME[name]
        s = self.settings
        if not self.supervisor.running():
            self._ensure_supervisord()
        state = self._state(name)
        if state not in ("RUNNING", "STARTING", "BACKOFF"):
            svc.prepare(s)
            self.supervisor.start_process(name)
        self.wait_ready(name)
        if steps:
            svc.after_ready(s)

    def wait_ready(self, name: str, timeout: float | None = None) -> None:
        """Poll the readiness check until it passes; fail fast when supervisord gives up."""
        svc = BY_NAME[name]
        timeout = timeout or svc.ready_timeout
        log_file = self.settings.log_file(name)

        def ready() -> bool:
            if svc.ready(self.settings):
                return True
            state = self._state(name)
            if state in ("FATAL", "STOPPED", "EXITED"):
                raise StackError(f"{name} is {state}; last lines of {log_file}:\n{_tail(log_file)}")
            return False

        try:
            wait_until(ready, timeout=timeout, what=f"{name} ready")
        except TimeoutError:
            raise StackError(
                f"{name} not ready within {timeout}s (state {self._state(name)}); "
                f"last lines of {log_file}:\n{_tail(log_file)}"
            ) from None

    # Stop ----------------------------------------------------------------------------------

    def stop(self, name: str) -> None:
        """Stop one service gracefully (SIGKILL after its stop timeout)."""
        if self.supervisor.running():
            self.supervisor.stop_process(name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Send a signal to a service's main process; supervisord restarts it if it dies."""
        pid = int(self.supervisor.info(name)["pid"])
        if not pid:
            raise StackError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    def down(self) -> None:
        """Stop every service in reverse order, shut supervisord down, leave nothing behind."""
        if self.supervisor.running():
            for name in reversed(ALL_SERVICES):
                with contextlib.suppress(Exception):
                    self.supervisor.stop_process(name)
        self.supervisor.shutdown()
        self._sweep()

    def stragglers(self) -> list[psutil.Process]:
        """Processes started for this state folder that are still alive."""
        found = []
        me = os.getpid()
        for proc in psutil.process_iter(["pid"]):
            if proc.pid == me:
                continue
            with contextlib.suppress(psutil.Error):
                if proc.environ().get(MARK) == str(self.settings.state_dir):
                    found.append(proc)
        return found

    def _sweep(self, timeout: float = 10.0) -> None:
        procs = self.stragglers()
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _, alive = psutil.wait_procs(procs, timeout=timeout)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)

    def clean(self) -> None:
        """Stop everything and remove the state folder."""
        self.down()
        shutil.rmtree(self.settings.state_dir, ignore_errors=True)

    # Report --------------------------------------------------------------------------------

    def pipeline(self) -> PipelineStatus:
        """Each consumer group's lag and Kafka Connect's connectors (each says if unreachable)."""
        services, loopback = self.settings.services, "http://127.0.0.1"
        return pipeline_status(
            self.settings.values["KAFKA_BROKER_URL"],
            self.settings.connect_url,
            worker_url=f"{loopback}:{self.settings.read_api_port}"
            if "streams" in services
            else None,
            write_api_url=f"{loopback}:{self.settings.cud_api_port}"
            if "cud_api" in services
            else None,
        )

    def status(self) -> list[Row]:
        """Each service's state, readiness, pid, port, URL and log file."""
        infos = self.supervisor.all_info()
        rows = []
        for svc in SERVICES:
            info = infos.get(svc.name, {})
            state = str(info.get("statename", "STOPPED"))
            ready = state == "RUNNING" and svc.ready(self.settings)
            rows.append(
                Row(
                    service=svc.name,
                    state=state,
                    ready=ready,
                    pid=int(info.get("pid", 0)),
                    port=svc.port(self.settings),
                    url=svc.url(self.settings),
                    log_file=self.settings.log_file(svc.name),
                )
            )
        return rows


def format_table(rows: list[Row]) -> str:
    """Rows as an aligned text table."""
    header = ("service", "state", "ready", "pid", "port", "url", "log")
    lines = [header] + [
        (
            r.service,
            r.state,
            "yes" if r.ready else "no",
            str(r.pid or "-"),
            str(r.port),
            r.url,
            str(r.log_file),
        )
        for r in rows
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
