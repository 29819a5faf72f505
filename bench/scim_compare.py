"""Side-by-side SCIM throughput: Prompt's service against scim2-server, one run.

Each server runs as one uvicorn worker pinned to CPU 0; the load generator
(`../shared/bench/entra_load.py`, Entra-shaped flows: GET miss, POST, GET hit,
PATCH active, PATCH displayName) is pinned to CPU 1. Every (server, concurrency)
cell is measured `--repeat` times on a fresh server and the median run is kept.
Results go to `bench/results/scim_compare.json` and a Markdown table to stdout.

    .venv/bin/python bench/scim_compare.py --users 2000 --concurrency 1 8 32
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOKEN_PEER = "bench-peer-token"


@dataclass
class Target:
    """A server under test: how to start it and where its SCIM root is."""

    name: str
    base_path: str

    def start(self, port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
        raise NotImplementedError


class Prompt(Target):
    """Prompt's SCIM service on a SQLite file (WAL; synchronous=FULL by default)."""

    def __init__(self, name: str, base_path: str, *, synchronous: str = "") -> None:
        super().__init__(name, base_path)
        self.synchronous = synchronous

    def start(self, port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
        db = f"sqlite:///{workdir / 'bench.db'}"
        if self.synchronous:
            db += f"?synchronous={self.synchronous}"
        env = {**os.environ, "PROMPT_SCIM_DATABASE_URL": db}
        cli = [str(BIN / "prompt-scim"), "--database-url", db]
        subprocess.run([*cli, "migrate"], check=True, env=env, capture_output=True)
        subprocess.run(
            [*cli, "org", "create", "bench", "--display-name", "Bench"],
            check=True,
            env=env,
            capture_output=True,
        )
        issued = subprocess.run(
            [*cli, "token", "issue", "bench", "--json"],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
        token = json.loads(issued.stdout)["secret"]
        proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                *cli,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
            ],
            # INFO: the one access line per request is part of the measured cost.
            env={**env, "PROMPT_SCIM_LOG_LEVEL": "INFO"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return proc, token


class Peer(Target):
    """scim2-server 0.8.x: its ASGI app with the in-memory store."""

    def __init__(self, name: str, base_path: str, peers: Path) -> None:
        super().__init__(name, base_path)
        self.peers = peers

    def start(self, port: int, workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
        proc = subprocess.Popen(
            [
                "taskset",
                "-c",
                "0",
                str(BIN / "uvicorn"),
                "scim2_asgi:app",
                "--app-dir",
                str(self.peers),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            env={**os.environ, "SCIM_TOKEN": TOKEN_PEER},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return proc, TOKEN_PEER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, token: str, deadline: float = 30.0) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/Users?count=1", headers=headers).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not become ready in {deadline}s")


@contextlib.contextmanager
def running(target: Target) -> Iterator[tuple[str, str, int]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{target.name}-"))
    port = free_port()
    proc, token = target.start(port, workdir)
    url = f"http://127.0.0.1:{port}{target.base_path}"
    try:
        wait_ready(url, token)
        yield url, token, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)


def measure(
    target: Target,
    *,
    load: Path,
    users: int,
    concurrency: int,
    out: Path,
) -> dict[str, object]:
    with running(target) as (url, token, pid):
        subprocess.run(
            [
                "taskset",
                "-c",
                "1",
                sys.executable,
                str(load),
                "--base-url",
                url,
                "--token",
                token,
                "--users",
                str(users),
                "--concurrency",
                str(concurrency),
                "--warmup-users",
                "200",
                "--server-pid",
                str(pid),
                "--quiet",
                "--json-out",
                str(out),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    result: dict[str, object] = json.loads(out.read_text())
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument(
        "--with-normal",
        action="store_true",
        help="Also measure the service on ?synchronous=normal (not power-cut safe).",
    )
    args = parser.parse_args()

    load = args.shared / "bench" / "entra_load.py"
    targets: list[Target] = [
        Prompt("prompt-scim", "/scim/v2"),
        Peer("scim2-server", "", args.shared / "bench" / "peers"),
    ]
    if args.with_normal:
        targets.insert(
            1, Prompt("prompt-scim-normal", "/scim/v2", synchronous="normal")
        )
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)

    table: dict[str, dict[int, dict[str, object]]] = {}
    for concurrency in args.concurrency:
        # Interleave the servers inside each repeat so drift hits both alike.
        runs: dict[str, list[dict[str, object]]] = {t.name: [] for t in targets}
        for attempt in range(args.repeat):
            for target in targets:
                out = results_dir / f"{target.name}-c{concurrency}-{attempt}.json"
                runs[target.name].append(
                    measure(
                        target,
                        load=load,
                        users=args.users,
                        concurrency=concurrency,
                        out=out,
                    )
                )
        for name, cell in runs.items():
            rps = statistics.median(num(r, "rps") for r in cell)
            median_run = min(cell, key=lambda r: abs(num(r, "rps") - rps))
            table.setdefault(name, {})[concurrency] = median_run

    (results_dir / "scim_compare.json").write_text(json.dumps(table, indent=2))
    print_table(table, args)
    return 0


def num(result: dict[str, object], key: str) -> float:
    value = result.get(key)
    return float(value) if isinstance(value, int | float) else float("nan")


def print_table(table: dict[str, dict[int, dict[str, object]]], args: object) -> None:
    print("| server | concurrency | req/s | p50 ms | p99 ms | server CPU ms/req |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, cells in table.items():
        for concurrency, r in sorted(cells.items()):
            print(
                f"| {name} | {concurrency} | {num(r, 'rps'):.0f} "
                f"| {num(r, 'all_p50_ms'):.2f} | {num(r, 'all_p99_ms'):.2f} "
                f"| {num(r, 'server_cpu_ms_per_req'):.3f} |"
            )
    peer = table.get("scim2-server", {})
    print()
    for name in (n for n in table if n != "scim2-server"):
        for concurrency, cell in sorted(table[name].items()):
            if concurrency in peer:
                ratio = num(cell, "rps") / num(peer[concurrency], "rps")
                print(
                    f"- concurrency {concurrency}: {name} / scim2-server = {ratio:.2f}x"
                )


if __name__ == "__main__":
    raise SystemExit(main())
