"""Start and stop the demo's servers: `prompt-scim serve` and `entra-emulator serve`.

Each runs as a child process on a free loopback port, in its own session (so a
Ctrl-C reaches the demo, which then stops them in order) and, on Linux, with a
parent-death signal so that nothing outlives a killed demo.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PORT_ATTEMPTS = 3


class ServerFailed(Exception):
    """A server did not start or died; the message names its log file."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    # Linux prctl(PR_SET_PDEATHSIG, SIGTERM): the child gets SIGTERM when the demo
    # dies, even by SIGKILL. Elsewhere the demo's own cleanup has to do.
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)


@dataclass
class Server:
    """One child process serving HTTP on 127.0.0.1:port."""

    name: str
    command: list[str]
    port: int
    log_path: Path
    ready_path: str
    env: dict[str, str] = field(default_factory=dict)
    cpus: Sequence[int] | None = None
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> None:
        """Start the process; wait until `ready_path` answers 200."""
        self.spawn()
        self.wait_ready()

    def spawn(self) -> None:
        """Start the process (call from the main thread: the parent-death signal
        fires when the thread that started the child ends)."""
        self._log = self.log_path.open("ab")
        command = list(self.command)
        if self.cpus is not None:
            command = ["taskset", "-c", ",".join(map(str, self.cpus)), *command]
        self.process = subprocess.Popen(
            command,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )

    def wait_ready(self) -> None:
        """Poll `ready_path` until it answers 200; ServerFailed if the child exits."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"{self.name} exited with code {self.process.returncode} while "
                    f"starting; see {self.log_path}"
                )
            with contextlib.suppress(httpx.TransportError):
                response = httpx.get(self.url + self.ready_path, timeout=1)
                if response.status_code == 200:
                    return
            time.sleep(0.05)
        raise ServerFailed(
            f"{self.name} did not answer {self.ready_path} within "
            f"{START_TIMEOUT:.0f} s; see {self.log_path}"
        )

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise ServerFailed(
                f"{self.name} stopped unexpectedly (exit code "
                f"{self.process.returncode}); see {self.log_path}"
            )

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL after a while."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start_all(makers: Sequence[Callable[[int], Server]]) -> list[Server]:
    """Start servers on free ports side by side; retry one whose port got taken.

    Returns the servers started; on failure stops them all and raises ServerFailed.
    """
    started: list[Server] = []
    try:
        pending = [make(free_port()) for make in makers]
        for server in pending:
            server.spawn()
            started.append(server)
        for index in range(len(pending)):
            for _ in range(PORT_ATTEMPTS):
                try:
                    pending[index].wait_ready()
                    break
                except ServerFailed:
                    failed = pending[index]
                    failed.stop()
                    started.remove(failed)
                    if "address already in use" not in failed.log_tail().lower():
                        raise
                    pending[index] = makers[index](free_port())
                    pending[index].spawn()
                    started.append(pending[index])
            else:
                raise ServerFailed(f"{pending[index].name}: no free port in sight")
    except BaseException:
        for server in reversed(started):
            server.stop()
        raise
    return pending


def python_command(module_main: str, *args: str) -> list[str]:
    """Run `module:function` with this interpreter (no reliance on PATH)."""
    module, _, function = module_main.partition(":")
    return [
        sys.executable,
        "-c",
        f"from {module} import {function}; {function}()",
        *args,
    ]


def scim_service(
    workdir: Path,
    admin_key: str,
    *,
    cpus: Sequence[int] | None = None,
    log_level: str = "WARNING",
) -> Callable[[int], Server]:
    """`prompt-scim serve` on a SQLite file in `workdir` (one worker), per port."""
    database_url = f"sqlite:///{workdir / 'prompt-scim.db'}"

    def make(port: int) -> Server:
        return Server(
            name="SCIM service (prompt-scim serve)",
            command=python_command(
                "scim_service.cli:main",
                "serve",
                "--port",
                str(port),
                "--log-format",
                "text",
            ),
            port=port,
            log_path=workdir / "prompt-scim.log",
            ready_path="/readyz",
            env={
                "PROMPT_SCIM_DATABASE_URL": database_url,
                "PROMPT_SCIM_ADMIN_KEY": admin_key,
                "PROMPT_SCIM_LOG_LEVEL": log_level,
            },
            cpus=cpus,
        )

    return make


def entra_emulator(
    workdir: Path,
    seed_file: Path,
    *,
    cpus: Sequence[int] | None = None,
    concurrency: int = 8,
) -> Callable[[int], Server]:
    """`entra-emulator serve` seeded from a tenant file, cycling only when asked."""

    def make(port: int) -> Server:
        return Server(
            name="Entra emulator (entra-emulator serve)",
            command=python_command(
                "entra_emulator.cli:main",
                "serve",
                "--seed",
                str(seed_file),
                "--port",
                str(port),
                "--interval",
                "86400",
                "--concurrency",
                str(concurrency),
            ),
            port=port,
            log_path=workdir / "entra-emulator.log",
            ready_path="/_emulator/health",
            cpus=cpus,
        )

    return make
