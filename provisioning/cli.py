"""Command line of the provisioning engine: `prompt-provision`.

validate | plan | apply | status | destroy | rotate-token | provision-now | schema.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from provisioning.errors import ProvisioningError
from provisioning.spec import OrganisationSpec, json_schema, load_paths

T = TypeVar("T")

__all__ = ["main"]

log = logging.getLogger(__name__)

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
CREDENTIALS = ("default", "client-secret", "workload-identity", "anonymous")

# Libraries that log every request at INFO (or dump bodies at DEBUG); quiet them.
_NOISY_LOGGERS = ("httpx", "httpcore", "kiota", "kiota_http", "msgraph", "azure")

paths_argument = click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path),
)
org_argument = click.argument("org", metavar="ORG")
folder_option = click.option(
    "--organisations",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("organisations"),
    show_default=True,
    help="Folder searched when ORG is a slug rather than a file.",
)
concurrency_option = click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Organisations handled at the same time.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--graph-url",
    envvar="PROMPT_GRAPH_URL",
    default=DEFAULT_GRAPH_URL,
    show_default=True,
    help="Microsoft Graph base URL (http only on loopback, e.g. the emulator).",
)
@click.option(
    "--credential",
    envvar="PROMPT_GRAPH_CREDENTIAL",
    type=click.Choice(CREDENTIALS),
    default="default",
    show_default=True,
    help="How to authenticate to Graph (anonymous only with a loopback Graph URL).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-v INFO, -vv DEBUG).")
@click.option("--debug", is_flag=True, help="DEBUG logging and tracebacks on errors.")
@click.pass_context
def cli(
    ctx: click.Context, graph_url: str, credential: str, verbose: int, debug: bool
) -> None:
    """Keep Prompt organisations and their Entra ID provisioning in shape."""
    _configure_logging(verbose, debug)
    ctx.ensure_object(dict)
    ctx.obj.update(graph_url=graph_url, credential=credential, debug=debug)


@cli.command()
@paths_argument
def validate(paths: tuple[Path, ...]) -> None:
    """Check organisation files (files or folders); report every problem."""
    for path, spec in load_paths(list(paths)):
        click.echo(f"ok  {path}  ({spec.organisation})")


@cli.command()
@paths_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
    help="markdown fits a pull-request comment; json is for tools.",
)
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 when there is nothing to change, 2 when there are changes.",
)
@concurrency_option
@click.pass_obj
def plan(
    obj: dict[str, Any],
    paths: tuple[Path, ...],
    fmt: str,
    detailed_exitcode: bool,
    concurrency: int,
) -> None:
    """Show what apply would change (reads only)."""
    from provisioning.plan import plan_organisation, render

    items = load_paths(list(paths))

    async def run() -> list[Any]:
        async with _session(obj) as session:

            async def step(path: Path, spec: OrganisationSpec) -> Any:
                entra, graph = session.for_org(spec)
                return await plan_organisation(
                    path, spec, entra, graph, session.prompt(spec, path)
                )

            return await _run_each(session, items, step, concurrency, "planning")

    outcomes = asyncio.run(run())
    plans = [o.value for o in outcomes if o.ok]
    if plans:
        # A summary of nothing would read as "no changes" above the Error: line.
        click.echo(render(plans, fmt))
    _fail_if_any(outcomes, "planned")
    if detailed_exitcode and any(p.changes for p in plans):
        raise click.exceptions.Exit(2)


@cli.command()
@paths_argument
@concurrency_option
@click.pass_obj
def apply(obj: dict[str, Any], paths: tuple[Path, ...], concurrency: int) -> None:
    """Bring Prompt and Entra in line with the organisation files."""
    from provisioning.apply import apply_plan
    from provisioning.plan import plan_organisation

    items = load_paths(list(paths))

    async def run() -> list[Any]:
        async with _session(obj) as session:

            async def step(path: Path, spec: OrganisationSpec) -> Any:
                entra, graph = session.for_org(spec)
                prompt = session.prompt(spec, path)
                planned = await plan_organisation(path, spec, entra, graph, prompt)
                return await apply_plan(planned, entra, graph, prompt)

            return await _run_each(session, items, step, concurrency, "applying")

    outcomes = asyncio.run(run())
    table = _table("Organisation", "Result", "Changes", "Detail")
    for outcome in outcomes:
        if outcome.ok:
            done = outcome.value.done
            counted = Counter(f"{c.action} {c.step}" for c in done)
            summary = ", ".join(
                f"{what} x{count}" if count > 1 else what
                for what, count in counted.items()
            )
            result = "changed" if done else "no changes"
            table.add_row(outcome.spec.organisation, result, str(len(done)), summary)
        else:
            table.add_row(outcome.spec.organisation, "FAILED", "-", outcome.error)
    # The detail lists every change: at 200 columns it is one unreadable line in an
    # 80-column terminal; wrapped between changes it reads anywhere.
    _print_table(table, fit=True)
    _fail_if_any(outcomes, "applied")


@cli.command()
@paths_argument
@concurrency_option
@click.pass_obj
def status(obj: dict[str, Any], paths: tuple[Path, ...], concurrency: int) -> None:
    """Show job state, last cycle, quarantine, recent failures; exit 1 if unhealthy."""
    from provisioning import operations

    items = load_paths(list(paths))

    async def run() -> list[Any]:
        async with _session(obj) as session:

            async def step(path: Path, spec: OrganisationSpec) -> Any:
                return await operations.status(spec, session.for_org(spec)[0])

            return await _run_each(session, items, step, concurrency, "reading")

    outcomes = asyncio.run(run())
    table = _table("Organisation", "Health", "Job", "Last cycle", "Counts", "Problems")
    for outcome in outcomes:
        if not outcome.ok:
            table.add_row(
                outcome.spec.organisation, "ERROR", "-", "-", "-", outcome.error
            )
            continue
        st = outcome.value
        counts = " ".join(
            f"{k.removeprefix('count')}={v}" for k, v in st.counts.items()
        )
        problems = "; ".join([*st.problems, *st.failures[:5], *st.notes])
        health = "healthy" if st.healthy else "UNHEALTHY"
        table.add_row(
            st.slug, health, f"{st.state}/{st.code}", st.last_cycle, counts, problems
        )
    _print_table(table)
    _fail_if_any(outcomes, "read")
    unhealthy = [o.spec.organisation for o in outcomes if not o.value.healthy]
    if unhealthy:
        raise ProvisioningError(f"unhealthy: {', '.join(unhealthy)}")


@cli.command()
@paths_argument
@click.option("--yes", is_flag=True, help="Really delete the enterprise applications.")
@concurrency_option
@click.pass_obj
def destroy(
    obj: dict[str, Any], paths: tuple[Path, ...], yes: bool, concurrency: int
) -> None:
    """Delete the Entra app (unassigned first); Prompt: provisioning off."""
    from provisioning import operations

    items = load_paths(list(paths))
    if not yes:
        names = ", ".join(spec.organisation for _, spec in items)
        raise click.UsageError(
            f"destroy deletes the enterprise applications of {names} and revokes their "
            "codes; add --yes to confirm."
        )

    notes: dict[str, list[str]] = {spec.organisation: [] for _, spec in items}

    async def run() -> list[Any]:
        async with _session(obj) as session:

            async def step(path: Path, spec: OrganisationSpec) -> Any:
                entra, _ = session.for_org(spec)
                prompt = session.prompt(spec, path)
                return await operations.destroy(
                    spec, entra, prompt, notes=notes[spec.organisation]
                )

            return await _run_each(session, items, step, concurrency, "destroying")

    outcomes = asyncio.run(run())
    table = _table("Organisation", "Result", "Detail")
    for outcome in outcomes:
        slug = outcome.spec.organisation
        if not outcome.ok:
            table.add_row(slug, "FAILED", outcome.error)
            continue
        # "destroyed" only when something was written; a second run finds it gone.
        result = "destroyed" if outcome.value else "nothing to delete"
        table.add_row(slug, result, "; ".join([*outcome.value, *notes[slug]]))
    _print_table(table)
    _fail_if_any(outcomes, "destroyed")


@cli.command("rotate-token")
@org_argument
@folder_option
@click.pass_obj
def rotate_token(obj: dict[str, Any], org: str, folder: Path) -> None:
    """Issue a new code in Prompt, test and save it in Entra, revoke the old one.

    ORG is an organisation file or the slug of one in --organisations.
    """
    from provisioning import operations

    path, spec = _one_organisation(org, folder)

    async def run() -> list[str]:
        async with _session(obj) as session:
            entra, graph = session.for_org(spec)
            return await operations.rotate_token(
                path, spec, entra, graph, session.prompt(spec, path)
            )

    for line in asyncio.run(run()):
        click.echo(f"{spec.organisation}: {line}")


@cli.command("provision-now")
@org_argument
@click.option(
    "--user", "users", multiple=True, required=True, help="User principal name."
)
@folder_option
@click.pass_obj
def provision_now(
    obj: dict[str, Any], org: str, users: tuple[str, ...], folder: Path
) -> None:
    """Provision users now (provisionOnDemand, at most 5 per 10 seconds).

    ORG is an organisation file or the slug of one in --organisations.
    """
    from provisioning import operations

    _, spec = _one_organisation(org, folder)

    async def run() -> list[Any]:
        async with _session(obj) as session:
            entra, _ = session.for_org(spec)
            return await operations.provision_now(spec, entra, list(users))

    results = asyncio.run(run())
    table = _table("User", "Result", "Detail")
    for result in results:
        table.add_row(result.upn, result.result, result.detail)
    _print_table(table)
    failed = [r.upn for r in results if r.result.lower() == "failure"]
    if failed:
        raise ProvisioningError(
            f"provisioning failed for {len(failed)} of {len(results)} user(s): "
            f"{', '.join(failed)}"
        )


@cli.command()
def schema() -> None:
    """Print the JSON Schema of organisation files."""
    click.echo(json.dumps(json_schema(), indent=2))


def _one_organisation(org: str, folder: Path) -> tuple[Path, OrganisationSpec]:
    """Load ORG: a file, or the organisation of that slug in `folder`."""
    path = Path(org)
    if path.is_file() or path.suffix in (".yaml", ".yml") or "/" in org:
        ((loaded, spec),) = load_paths([path])
        return loaded, spec

    if not folder.is_dir():
        raise click.UsageError(
            f"{org!r} is neither an organisation file nor, with no folder "
            f"{folder}, a slug that can be looked up; pass the file or "
            "--organisations FOLDER"
        )
    for loaded, spec in load_paths([folder]):
        if spec.organisation == org:
            return loaded, spec
    raise click.UsageError(
        f"no organisation {org!r} in {folder}/ (the slug is the file's "
        "'organisation' key); pass its file or --organisations FOLDER"
    )


def _session(obj: dict[str, Any]) -> Any:
    from provisioning._run import Session
    from provisioning.errors import GraphConfigInvalid
    from provisioning.graph import GraphConfig, check_base_url, check_credential_kind

    # Bad option values are usage errors (exit 2), checked before any request.
    url, credential = obj["graph_url"], obj["credential"]
    try:
        check_base_url(url)
    except GraphConfigInvalid as error:
        raise click.BadParameter(str(error), param_hint="'--graph-url'") from None
    try:
        check_credential_kind(url, credential)
    except GraphConfigInvalid as error:
        raise click.BadParameter(str(error), param_hint="'--credential'") from None

    config = GraphConfig(base_url=url, credential=credential)
    return Session(config, timings=obj.get("timings"))


async def _run_each(
    session: Any,
    items: list[tuple[Path, OrganisationSpec]],
    step: Callable[[Path, OrganisationSpec], Awaitable[T]],
    concurrency: int,
    label: str,
) -> list[Any]:
    from provisioning._run import run_each

    session.prepare([spec for _, spec in items])
    return await run_each(items, step, concurrency=concurrency, label=label)


def _fail_if_any(outcomes: list[Any], verb: str) -> None:
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return
    for outcome in failed:
        click.echo(f"{outcome.spec.organisation}: {outcome.error}", err=True)
    raise ProvisioningError(
        f"{len(failed)} of {len(outcomes)} organisation(s) could not be {verb}: "
        + ", ".join(o.spec.organisation for o in failed)
    )


def _table(*columns: str) -> Table:
    table = Table(show_lines=False)
    for column in columns:
        table.add_column(column, overflow="fold")  # a long word folds, never cut
    return table


def _print_table(table: Table, *, fit: bool = False) -> None:
    """Print at the terminal's width; off a terminal at least 200 unless `fit`.

    `fit` keeps the terminal's (or COLUMNS', 80 by default) width when piped too,
    for tables whose long cells wrap between words.
    """
    console = Console()
    if not console.is_terminal and not fit:
        # CI logs and pipes: wide enough that rows are not wrapped mid-word.
        console = Console(width=max(console.width, 200))
    console.print(table)


def _configure_logging(verbose: int, debug: bool) -> None:
    level = logging.WARNING
    if verbose == 1:
        level = logging.INFO
    if verbose >= 2 or debug:
        level = logging.DEBUG

    # Our own stderr handler, replaced on each run; other handlers (pytest's log
    # capture, an embedding program's) are left alone.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "_prompt_provision", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler._prompt_provision = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)

    # httpx/httpcore log every request at INFO: only with -v (STYLE.md, Logging).
    quiet = logging.WARNING if verbose == 0 else level
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(quiet)


def main(argv: list[str] | None = None, *, timings: Any = None) -> int:
    """Run the CLI; errors become one `Error:` line (exit 1), usage errors exit 2.

    `timings` (provisioning.entra.Timings) shortens Entra's replication waits for
    embedding and tests.
    """
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        # Without standalone mode click returns the code of a ctx.exit(n).
        code = cli.main(
            args=args,
            prog_name="prompt-provision",
            standalone_mode=False,
            obj={"timings": timings},
        )
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:
        return int(exc.code or 0)
    except ProvisioningError as exc:
        if debug:
            log.exception("failed")
        click.echo(f"Error: {exc}", err=True)
        return 1
    except Exception as exc:
        if debug:
            raise
        click.echo(
            f"Error: {type(exc).__name__}: {_safe(exc)} (--debug for details)", err=True
        )
        return 1
    return code if isinstance(code, int) else 0


def _safe(exc: BaseException) -> Any:
    return str(exc).splitlines()[0] if str(exc) else ""


if __name__ == "__main__":
    sys.exit(main())
