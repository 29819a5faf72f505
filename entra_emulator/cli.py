"""Command line of the emulator: `entra-emulator serve | seed | cycle | state`."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
import httpx
import uvicorn

from .errors import EmulatorError
from .seed import dump_seed, generate_tenant, load_seed_file
from .server import Emulator, EmulatorConfig


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log every request (DEBUG).")
def cli(verbose: bool) -> None:
    """A local stand-in for Microsoft Graph and Entra's provisioning service."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)


@cli.command()
@click.option(
    "--seed", "seed_file", type=click.Path(path_type=Path), help="Tenant YAML."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option(
    "--interval",
    default=2400.0,
    show_default=True,
    type=float,
    help="Seconds between provisioning cycles of a started job.",
)
@click.option("--cycle-on-start", is_flag=True, help="Run the initial cycle at start.")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=int,
    help="Users in flight per cycle.",
)
@click.option("--tenant-id", default=None, help="Tenant id to report (GUID).")
def serve(
    seed_file: Path | None,
    host: str,
    port: int,
    interval: float,
    cycle_on_start: bool,
    concurrency: int,
    tenant_id: str | None,
) -> None:
    """Serve Graph under /v1.0 and the admin API under /_emulator."""
    from .app import create_app

    seed = load_seed_file(seed_file) if seed_file else None
    config = EmulatorConfig(
        cycle_interval=interval, cycle_on_start=cycle_on_start, concurrency=concurrency
    )
    if tenant_id:
        config.tenant_id = tenant_id
    emulator = Emulator(config, seed=seed)
    click.echo(
        f"Graph at http://{host}:{port}/v1.0, admin at http://{host}:{port}/_emulator",
        err=True,
    )
    uvicorn.run(create_app(emulator), host=host, port=port, log_level="warning")


@cli.command()
@click.option("--users", default=300, show_default=True, type=int)
@click.option("--groups", default=5, show_default=True, type=int)
@click.option("--domain", default="contoso.example", show_default=True)
@click.option(
    "--disabled",
    default=0,
    show_default=True,
    type=int,
    help="How many of the users are disabled.",
)
@click.option("--random-seed", default=7, show_default=True, type=int)
def seed(users: int, groups: int, domain: str, disabled: int, random_seed: int) -> None:
    """Print a sample tenant seed YAML on stdout."""
    if users < 0 or groups < 1 or not 0 <= disabled <= users:
        raise click.UsageError(
            "Need users >= 0, groups >= 1 and 0 <= disabled <= users."
        )
    data = generate_tenant(
        users, groups, domain=domain, disabled=disabled, random_seed=random_seed
    )
    click.echo(dump_seed(data), nl=False)


def _admin(url: str, method: str, path: str) -> httpx.Response:
    try:
        response = httpx.request(
            method, url.rstrip("/") + "/_emulator" + path, timeout=3600
        )
    except httpx.HTTPError as exc:
        raise click.ClickException(
            f"Cannot reach the emulator at {url}: {exc}."
        ) from exc
    if response.status_code >= 400:
        detail = response.json().get("error", response.text) if response.content else ""
        raise click.ClickException(
            f"{method} /_emulator{path} answered {response.status_code}: {detail}"
        )
    return response


@cli.command()
@click.option("--url", default="http://127.0.0.1:8765", show_default=True)
@click.option("--job", "job_ids", multiple=True, help="Job id (repeatable).")
@click.option("--all", "all_jobs", is_flag=True, help="Every started job.")
def cycle(url: str, job_ids: tuple[str, ...], all_jobs: bool) -> None:
    """Run one provisioning cycle now; print {job id: summary} as one JSON object."""
    ids = list(job_ids)
    if all_jobs:
        jobs = _admin(url, "GET", "/jobs").json()["value"]
        ids += [j["id"] for j in jobs if j["schedule"]["state"] == "Active"]
    if not ids:
        raise click.UsageError("Name a job with --job ID or use --all.")
    # One JSON document whatever the number of jobs, so `| jq` and json.load work.
    summaries = {
        job_id: _admin(url, "POST", f"/jobs/{job_id}/cycle").json() for job_id in ids
    }
    click.echo(json.dumps(summaries, indent=2))


@cli.command()
@click.option("--url", default="http://127.0.0.1:8765", show_default=True)
def state(url: str) -> None:
    """Print the emulator's state (secrets masked) as JSON."""
    click.echo(json.dumps(_admin(url, "GET", "/state").json(), indent=2))


def main() -> None:
    """Entry point of `entra-emulator`."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(1)
    except click.UsageError as exc:
        exc.show()
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        sys.exit(1)
    except EmulatorError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
