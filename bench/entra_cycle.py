"""Entra provisioning cycles at scale: emulator -> `prompt-scim serve` (SQLite).

An initial cycle of N assigned users (direct members of one assigned group), an
incremental cycle after renaming 1% of them, and an unchanged cycle (must make no
writes). Reports wall time, SCIM requests per second, and CPU per request of the
SCIM server and of the emulator, read from /proc/<pid>/stat of each process tree.
The SCIM server and the emulator can be pinned to different CPUs (taskset).

    .venv/bin/python bench/entra_cycle.py --users 10000 --scim-cpu 0 --emulator-cpu 1
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo._servers import (  # noqa: E402
    Server,
    scim_service,
    start_all,
)
from provisioning.cli import main as prompt_provision  # noqa: E402
from provisioning.entra import Timings  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
GROUP = "Prompt Users"
FAST = Timings(
    attempts=8, first_delay=0.05, max_delay=0.5, visible_reads=1, read_interval=0.01
)


def tenant(users: int) -> dict[str, Any]:
    """`users` people, all direct members of the assigned group."""
    people = [
        {
            "userPrincipalName": f"user{n:05d}@example.org",
            "displayName": f"User {n:05d}",
            "givenName": "User",
            "surname": f"N{n:05d}",
            "mail": f"user{n:05d}@example.org",
            "department": "Cardiology",
        }
        for n in range(users)
    ]
    members = [p["userPrincipalName"] for p in people]
    return {"users": people, "groups": [{"displayName": GROUP, "members": members}]}


def serve_emulator(seed_path: Path, port: int, concurrency: int) -> None:
    """Serve the emulator with the seed loaded in linear time (child process).

    Workaround: entra_emulator.directory.Directory.add_user/add_member find users by
    UPN with a linear scan, so `entra-emulator serve --seed` of 10,000 users spends
    minutes in seeding (quadratic). Here the same User/Group records are built
    directly; the provisioning cycle itself runs the emulator's code unchanged.
    """
    import uuid

    import uvicorn

    from entra_emulator import Emulator, EmulatorConfig
    from entra_emulator.app import create_app
    from entra_emulator.directory import User

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(seed_path.read_text(encoding="utf-8"), Loader=loader)
    emulator = Emulator(EmulatorConfig(cycle_interval=86400, concurrency=concurrency))
    directory = emulator.directory
    ids: dict[str, str] = {}
    for entry in data["users"]:
        props = dict(entry)
        upn = str(props["userPrincipalName"])
        props.setdefault("displayName", upn.split("@")[0])
        props.setdefault("mailNickname", upn.split("@")[0])
        props.setdefault("accountEnabled", True)
        user = User(id=str(uuid.uuid4()), properties=props)
        directory.users[user.id] = user
        ids[upn.lower()] = user.id
    for entry in data["groups"]:
        group = directory.add_group(str(entry["displayName"]), [])
        group.members.extend(ids[str(m).lower()] for m in entry["members"])
    uvicorn.run(create_app(emulator), host="127.0.0.1", port=port, log_level="warning")


def emulator_server(
    workdir: Path, seed: Path, cpus: list[int] | None, concurrency: int
) -> Any:
    def make(port: int) -> Server:
        return Server(
            name="Entra emulator (bench launcher)",
            command=[
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve-emulator",
                str(seed),
                "--port",
                str(port),
                "--concurrency",
                str(concurrency),
            ],
            port=port,
            log_path=workdir / "entra-emulator.log",
            ready_path="/_emulator/health",
            cpus=cpus,
        )

    return make


def organisation_file(workdir: Path, prompt_url: str) -> Path:
    """organisations/example.yaml at the live service, only the group assigned."""
    text = (ROOT / "organisations" / "example.yaml").read_text(encoding="utf-8")
    text = text.replace("https://prompt.example.com", prompt_url)
    text = text.replace("  users:\n    - alice@example.org\n", "  users: []\n")
    path = workdir / "example.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its descendants (/proc/<pid>/stat, Linux)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # Fields 14 and 15 of proc(5) (utime, stime) are 12 and 13 after the ")".
        total += (int(fields[11]) + int(fields[12])) / TICKS
        todo += children.get(current, [])
    return total


@dataclass
class Result:
    """One measured cycle."""

    name: str
    wall_s: float
    requests: int
    by_method: dict[str, int]
    writes: int
    created: int
    updated: int
    req_per_s: float
    scim_cpu_s: float
    scim_cpu_ms_per_req: float
    emulator_cpu_s: float
    emulator_cpu_ms_per_req: float
    state: str


class Sampler:
    """py-spy recording both servers during a cycle (collapsed stacks, --py-spy)."""

    def __init__(self, py_spy: str | None, out: Path, name: str) -> None:
        self.py_spy = py_spy
        self.out = out
        self.name = name
        self.processes: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Sampler:
        return self

    def start(self, servers: dict[str, Server]) -> None:
        if not self.py_spy:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        for label, server in servers.items():
            target = self.out / f"{self.name}-{label}.txt"
            self.processes.append(
                subprocess.Popen(
                    [
                        self.py_spy,
                        "record",
                        "--pid",
                        str(server.pid),
                        "--format",
                        "raw",
                        "--rate",
                        "200",
                        "--output",
                        str(target),
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(1.0)  # py-spy attaches

    def __exit__(self, *exc: object) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGINT)
        for process in self.processes:
            process.wait(timeout=60)


def run_cycle(
    name: str,
    emulator: Server,
    scim: Server,
    job_id: str,
    sampler: Sampler | None = None,
) -> Result:
    if sampler is not None:
        sampler.start({"scim": scim, "emulator": emulator})
    scim_before = tree_cpu_seconds(scim.pid)
    emulator_before = tree_cpu_seconds(emulator.pid)
    started = time.perf_counter()
    response = httpx.post(f"{emulator.url}/_emulator/jobs/{job_id}/cycle", timeout=3600)
    wall = time.perf_counter() - started
    response.raise_for_status()
    summary = response.json()
    scim_cpu = tree_cpu_seconds(scim.pid) - scim_before
    emulator_cpu = tree_cpu_seconds(emulator.pid) - emulator_before
    requests = sum(summary["requests"].values())
    per = max(requests, 1)
    return Result(
        name=name,
        wall_s=round(wall, 2),
        requests=requests,
        by_method=summary["requests"],
        writes=summary["writes"],
        created=summary["created"],
        updated=summary["updated"],
        req_per_s=round(requests / wall, 1),
        scim_cpu_s=round(scim_cpu, 2),
        scim_cpu_ms_per_req=round(scim_cpu * 1000 / per, 3),
        emulator_cpu_s=round(emulator_cpu, 2),
        emulator_cpu_ms_per_req=round(emulator_cpu * 1000 / per, 3),
        state=summary["state"],
    )


def change_users(emulator: Server, count: int) -> None:
    """Rename `count` users spread over the tenant (displayName and surname)."""
    with httpx.Client(base_url=f"{emulator.url}/_emulator", timeout=60) as client:
        users = client.get("/users").json()["value"]
        step = max(1, len(users) // max(count, 1))
        for user in users[::step][:count]:
            # By object id: a lookup by UPN scans the whole directory.
            response = client.patch(
                f"/users/{user['id']}",
                json={"displayName": f"{user['displayName']} Renamed"},
            )
            response.raise_for_status()


def markdown(results: list[Result]) -> str:
    lines = [
        "| cycle | wall s | SCIM requests | req/s | writes | SCIM CPU ms/req "
        "| emulator CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        methods = ", ".join(f"{m} {n}" for m, n in sorted(r.by_method.items()))
        lines.append(
            f"| {r.name} | {r.wall_s} | {r.requests} ({methods}) | {r.req_per_s} "
            f"| {r.writes} | {r.scim_cpu_ms_per_req} | {r.emulator_cpu_ms_per_req} |"
        )
    return "\n".join(lines)


def cpus(value: str) -> list[int] | None:
    return None if value == "none" else [int(c) for c in value.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--changed", type=float, default=0.01, help="Share renamed.")
    parser.add_argument("--scim-cpu", default="0", help="CPU list or 'none'.")
    parser.add_argument("--emulator-cpu", default="1", help="CPU list or 'none'.")
    parser.add_argument("--concurrency", type=int, default=8, help="Emulator's.")
    parser.add_argument(
        "--log-level", default="INFO", help="SCIM service log level (INFO = default)."
    )
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "results" / "entra_cycle.json"
    )
    parser.add_argument(
        "--py-spy",
        help="Path of py-spy: sample both servers during the initial cycle.",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="Niceness for both servers (negative needs root): less noise from "
        "other work on a shared machine.",
    )
    parser.add_argument("--serve-emulator", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_emulator:
        serve_emulator(args.serve_emulator, args.port, args.concurrency)
        return 0

    admin_key = secrets.token_urlsafe(32)
    results: list[Result] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="prompt-bench-") as tmp:
        workdir = Path(tmp)
        seed = workdir / "tenant.yaml"
        seed.write_text(yaml.safe_dump(tenant(args.users), sort_keys=False))
        scim, emulator = start_all(
            [
                scim_service(
                    workdir,
                    admin_key,
                    cpus=cpus(args.scim_cpu),
                    log_level=args.log_level,
                ),
                emulator_server(
                    workdir, seed, cpus(args.emulator_cpu), args.concurrency
                ),
            ]
        )
        try:
            if args.nice:
                for server in (scim, emulator):
                    os.setpriority(os.PRIO_PROCESS, server.pid, args.nice)
            os.environ["PROMPT_SCIM_ADMIN_KEY"] = admin_key
            org = organisation_file(workdir, scim.url)
            base = ["--graph-url", f"{emulator.url}/v1.0", "--credential", "anonymous"]
            if prompt_provision([*base, "apply", str(org)], timings=FAST) != 0:
                print("prompt-provision apply failed", file=sys.stderr)
                return 1
            jobs = httpx.get(f"{emulator.url}/_emulator/jobs", timeout=30).json()
            job_id = jobs["value"][0]["id"]

            profiles = args.json.parent / "profiles"
            with Sampler(args.py_spy, profiles, "initial") as sampler:
                results.append(run_cycle("initial", emulator, scim, job_id, sampler))
            changed = int(args.users * args.changed)
            change_users(emulator, changed)
            results.append(
                run_cycle(f"incremental, {changed} renamed", emulator, scim, job_id)
            )
            results.append(run_cycle("unchanged", emulator, scim, job_id))
        finally:
            emulator.stop()
            scim.stop()

    load = os.getloadavg()
    report = {
        "users": args.users,
        "scim_cpu": args.scim_cpu,
        "emulator_cpu": args.emulator_cpu,
        "concurrency": args.concurrency,
        "nice": args.nice,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load],
        "results": [asdict(r) for r in results],
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(results))
    print(
        f"\nload average (1 min) before {load_before[0]:.1f}, after {load[0]:.1f} "
        f"on {os.cpu_count()} CPUs"
    )
    unchanged = results[-1]
    if unchanged.writes != 0:
        print(f"FAIL: the unchanged cycle made {unchanged.writes} writes")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
