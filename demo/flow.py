"""The main job (`make demo`): organisation file -> Entra -> provisioning -> Prompt.

Starts the SCIM service (`prompt-scim serve`, SQLite in a temporary directory) and
the Entra emulator seeded with a sample hospital tenant, runs `prompt-provision
apply` on organisations/example.yaml pointed at them, runs Entra's provisioning
cycle, shows the Prompt users; then disables two users, unassigns one and renames
one in the directory, runs a cycle and shows what changed in Prompt (issue 4).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import yaml
from rich.console import Console
from rich.padding import Padding
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from provisioning.cli import main as prompt_provision
from provisioning.entra import Timings

from ._clients import PROMPT_EXT, DemoFailed, EntraAdmin, Prompt
from ._servers import Server, ServerFailed, entra_emulator, scim_service, start_all
from ._tenant import Tenant, sample_tenant

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "organisations" / "example.yaml"
PLACEHOLDER = "https://prompt.example.com"
TABLE_ROWS = 15
FAST = Timings(
    attempts=8, first_delay=0.05, max_delay=0.5, visible_reads=1, read_interval=0.01
)


def done(
    console: Console,
    text: str,
    *,
    elapsed: float | None = None,
    details: Sequence[str] = (),
) -> None:
    """Print a tick, the headline and its time, then indented detail lines.

    A grid, so that a line wrapped in a narrow terminal (or at 80 columns when
    piped) stays indented under its text instead of running back to column 0.
    """
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    timing = "" if elapsed is None else f" [dim]({elapsed:.1f} s)[/]"
    grid.add_row("[green]✓[/]", text + timing)
    for line in details:
        grid.add_row("", Padding(line, (0, 0, 0, 2)))
    console.print(grid)


class Step:
    """One step of progress: a spinner while it runs, a tick and its time after."""

    def __init__(self, console: Console, text: str) -> None:
        self.console = console
        self.text = text
        self.result = text
        self.details: list[str] = []

    @contextlib.contextmanager
    def running(self) -> Iterator[Step]:
        started = time.monotonic()
        try:
            with self.console.status(self.text):
                yield self
        except BaseException:
            self.console.print(f"[red]x[/] {self.text}")
            raise
        elapsed = time.monotonic() - started
        done(self.console, self.result, elapsed=elapsed, details=self.details)


def step(console: Console, text: str) -> contextlib.AbstractContextManager[Step]:
    return Step(console, text).running()


def organisation_file(workdir: Path, prompt_url: str) -> tuple[Path, dict[str, Any]]:
    """organisations/example.yaml with the live SCIM service's loopback URLs."""
    text = EXAMPLE.read_text(encoding="utf-8")
    if PLACEHOLDER not in text:
        raise DemoFailed(f"{EXAMPLE} no longer uses {PLACEHOLDER} for its URLs")
    path = workdir / "example.yaml"
    path.write_text(text.replace(PLACEHOLDER, prompt_url), encoding="utf-8")
    spec: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return path, spec


def run_apply(console: Console, graph_url: str, org_file: Path, key: str) -> float:
    """`prompt-provision apply` through the engine's CLI function; return its time.

    In-process with Entra's replication waits shortened (provisioning.entra.Timings):
    the emulator is consistent at once, so the waits would only add seconds.
    """
    args = ["--graph-url", graph_url, "--credential", "anonymous", "apply"]
    console.print(f"[bold]$[/] prompt-provision {' '.join(args)} {org_file}")
    started = time.monotonic()
    # The engine reads the admin key from the environment only, never a flag.
    os.environ["PROMPT_SCIM_ADMIN_KEY"] = key
    try:
        code = prompt_provision([*args, str(org_file)], timings=FAST)
    finally:
        del os.environ["PROMPT_SCIM_ADMIN_KEY"]
    if code != 0:
        raise DemoFailed(f"prompt-provision apply exited with {code}")
    return time.monotonic() - started


def describe_cycle(summary: dict[str, Any]) -> tuple[str, str]:
    """(what the cycle did, what it cost) for a cycle summary."""
    parts = [
        f"{summary[k]} {k}"
        for k in ("created", "updated", "disabled", "deleted", "skipped", "failed")
        if summary.get(k)
    ]
    requests = sum(summary.get("requests", {}).values())
    return (
        ", ".join(parts) or "nothing to do",
        f"{requests} SCIM requests, {summary.get('writes', 0)} writes, "
        f"state {summary.get('state')}",
    )


def run_cycle(
    console: Console, entra: EntraAdmin, prompt: Prompt, title: str, total: int
) -> dict[str, Any]:
    """Run one cycle; show Prompt's user count growing while it runs."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    with (
        Progress(*columns, console=console, transient=True) as progress,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        task = progress.add_task(f"{title}: users in Prompt", total=total)
        future = pool.submit(entra.cycle)
        while not future.done():
            with contextlib.suppress(httpx.HTTPError):
                progress.update(task, completed=min(prompt.count(), total))
            time.sleep(0.2)
        summary: dict[str, Any] = future.result()
    if summary.get("state") != "Succeeded":
        raise DemoFailed(f"{title} did not succeed: {summary.get('error')}")
    did, cost = describe_cycle(summary)
    done(
        console,
        f"{title}: {did}",
        elapsed=time.monotonic() - started,
        details=[cost],
    )
    return summary


def users_table(users: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("Name", "userName", "Department", "Section", "Active"):
        table.add_column(column, overflow="fold")  # narrow terminals: fold, never cut
    for user in users[:TABLE_ROWS]:
        ext = user.get(PROMPT_EXT) or {}
        table.add_row(
            user.get("displayName", ""),
            user["userName"],
            ext.get("department", ""),
            ext.get("section", ""),
            "yes" if user.get("active") else "[red]no[/]",
        )
    if len(users) > TABLE_ROWS:
        table.caption = f"first {TABLE_ROWS} of {len(users)} shown"
    return table


def differences(
    before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]
) -> list[tuple[str, str, str, str]]:
    """(user, attribute, before, after) for every user that changed in Prompt."""
    rows = []
    for rid, new in sorted(after.items(), key=lambda kv: kv[1]["userName"]):
        old = before.get(rid)
        if old is None:
            rows.append((new["userName"], "(created)", "", new.get("displayName", "")))
            continue
        for label, read in (
            ("displayName", lambda u: u.get("displayName", "")),
            ("name.familyName", lambda u: (u.get("name") or {}).get("familyName", "")),
            ("active", lambda u: str(u.get("active"))),
            ("Department/Section", _placement),
        ):
            if read(old) != read(new):
                rows.append((new["userName"], label, read(old), read(new)))
    rows += [
        (old["userName"], "(gone)", "present", "absent")
        for rid, old in before.items()
        if rid not in after
    ]
    return rows


def changes_table(rows: list[tuple[str, str, str, str]]) -> Table:
    """One row per user, a line per changed attribute: fits 80 columns."""
    table = Table(title="What changed in Prompt", title_justify="left")
    for column in ("userName", "Changes (before -> after)"):
        table.add_column(column, overflow="fold")  # narrow terminals: fold, never cut
    by_user: dict[str, list[str]] = {}
    for user, attribute, old, new in rows:
        by_user.setdefault(user, []).append(f"{attribute}: {old} -> {new}")
    for user, lines in by_user.items():
        table.add_row(user, "\n".join(lines))
    return table


def _placement(user: dict[str, Any]) -> str:
    ext = user.get(PROMPT_EXT) or {}
    return f"{ext.get('department', '')} / {ext.get('section', '')}"


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise DemoFailed(what)


def flow(console: Console, workdir: Path, servers: list[Server]) -> None:
    """Every step of the demo; servers started are appended to `servers`."""
    tenant: Tenant = sample_tenant()
    admin_key = secrets.token_urlsafe(32)

    seed_file = tenant.write(workdir / "tenant.yaml")
    with step(console, "Starting the Prompt SCIM service and the Entra emulator") as s:
        # Both start at once: each is a fresh Python process importing its stack.
        scim, emulator = start_all(
            [scim_service(workdir, admin_key), entra_emulator(workdir, seed_file)]
        )
        servers += [scim, emulator]
        s.result = "Started the Prompt SCIM service and the Entra emulator"
        s.details = [
            f"Prompt SCIM service (real): {scim.url}/scim/v2, SQLite in {workdir}",
            f"Entra emulator: Graph at {emulator.url}/v1.0, a sample tenant of "
            f"{tenant.user_count} users and {tenant.group_count} groups",
        ]
    org_file, spec = organisation_file(workdir, scim.url)

    entra = EntraAdmin(emulator.url)
    prompt = Prompt(scim.url, admin_key)
    try:
        elapsed = run_apply(console, f"{emulator.url}/v1.0", org_file, admin_key)
        slug = str(spec["organisation"])
        org = prompt.organisation(slug)
        done(
            console,
            f"Prompt and Entra configured from {EXAMPLE.name}",
            elapsed=elapsed,
            details=[
                f"Prompt organisation [bold]{org['display_name']}[/] ({slug}): new "
                f"users land in {org['default_department']} / "
                f"{org['default_section']}"
            ],
        )
        prompt.open_scim(slug)
        run_initial(console, entra, prompt, tenant)
        run_changes(console, entra, prompt, tenant, slug)
    finally:
        entra.close()
        prompt.close()
    for server in servers:
        server.check_alive()


def run_initial(
    console: Console, entra: EntraAdmin, prompt: Prompt, tenant: Tenant
) -> None:
    summary = run_cycle(
        console, entra, prompt, "Initial provisioning cycle", len(tenant.provisioned)
    )
    users = sorted(prompt.users().values(), key=lambda u: u["userName"])
    console.print(
        users_table(users, f"Prompt users created by Entra ({len(users)})"),
    )
    expect(
        [u["userName"] for u in users] == tenant.provisioned,
        "Prompt must hold exactly the assigned, enabled users",
    )
    expect(summary["created"] == len(tenant.provisioned), "every user created once")


def run_changes(
    console: Console, entra: EntraAdmin, prompt: Prompt, tenant: Tenant, slug: str
) -> None:
    before = prompt.users()
    since = prompt.last_event_id(slug)
    disabled = [tenant.members[20], tenant.members[40]]
    renamed = tenant.members[10]

    with step(console, "Changing the directory, as an Entra admin would") as s:
        for upn in disabled:
            entra.admin("POST", f"/users/{upn}/disable")
            s.details.append(f"disabled {upn}")
        name = entra.unassign("alice@example.org")
        s.details.append(f"removed {name}'s assignment to the app")
        person = entra.admin("GET", f"/users/{renamed}")
        new_name = f"{person['givenName']} {person['surname']}-Okoye"
        entra.admin(
            "PATCH",
            f"/users/{renamed}",
            {"surname": f"{person['surname']}-Okoye", "displayName": new_name},
        )
        s.details.append(f"renamed {person['displayName']} to {new_name}")
        s.result = "Directory changed in the Entra emulator"

    summary = run_cycle(console, entra, prompt, "Incremental cycle", 0)
    after = prompt.users()
    rows = differences(before, after)
    console.print(changes_table(rows))
    events = prompt.audit_actions(slug, since)
    counted = Counter(e["action"] for e in events)
    trail = ", ".join(f"{a} x{n}" for a, n in counted.items()) or "no changes"
    console.print(f"  Prompt audit trail: {trail}")
    console.print(f"  Still {len(after)} users in Prompt: deactivated, not deleted")
    deactivated = {r[0] for r in rows if r[1] == "active" and r[3] == "False"}
    expect(
        deactivated == {*disabled, "alice@example.org"},
        f"expected 3 deactivated users, got {sorted(deactivated)}",
    )
    expect(
        any(r[0] == renamed and r[1] == "displayName" for r in rows),
        "the renamed user must show the new name",
    )
    expect(len(after) == len(before), "nobody may disappear from Prompt")
    expect(summary["writes"] == 4, f"expected 4 PATCHes, saw {summary['writes']}")

    quiet = run_cycle(console, entra, prompt, "Next cycle, nothing changed", 0)
    expect(quiet["writes"] == 0, "an unchanged cycle must make no writes")


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    """Run the demo; stop everything it started; return the process exit code."""
    console = Console(highlight=False)
    started = time.monotonic()
    console.print(
        Panel.fit(
            "Prompt <-> Entra ID: automatic user provisioning, end to end\n"
            "organisation file -> Microsoft Graph (emulated) -> Entra provisioning "
            "(emulated) -> Prompt SCIM service",
            style="bold",
        )
    )
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    servers: list[Server] = []
    code = 0
    try:
        with tempfile.TemporaryDirectory(prefix="prompt-demo-") as tmp:
            try:
                flow(console, Path(tmp), servers)
            except KeyboardInterrupt:
                console.print("[yellow]Interrupted.[/]")
                code = 130
            except (DemoFailed, ServerFailed, httpx.HTTPError) as exc:
                console.print(f"[red]Demo failed:[/] {exc}")
                for server in servers:
                    console.print(f"[dim]--- {server.log_path.name} ---[/]")
                    console.print(server.log_tail(), markup=False)
                code = 1
            finally:
                with console.status("Stopping the servers"):
                    for server in reversed(servers):
                        server.stop()
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    elapsed = time.monotonic() - started
    if code == 0:
        console.print(
            f"[green]Done in {elapsed:.1f} s[/]; servers stopped, temporary "
            "directory removed."
        )
    else:
        console.print(f"Stopped after {elapsed:.1f} s; servers stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
