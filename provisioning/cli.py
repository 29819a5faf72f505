"""Command line of the provisioning engine: `prompt-provision`.

validate | plan | apply | status | destroy | rotate-token | provision-now | schema.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from provisioning.errors import ProvisioningError
from provisioning.spec import json_schema, load_paths

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
    ctx.obj = {"graph_url": graph_url, "credential": credential, "debug": debug}


@cli.command()
@paths_argument
def validate(paths: tuple[Path, ...]) -> None:
    """Check organisation files (files or folders); report every problem."""
    for path, spec in load_paths(list(paths)):
        click.echo(f"ok  {path}  ({spec.organisation})")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of organisation files."""
    click.echo(json.dumps(json_schema(), indent=2))


def _configure_logging(verbose: int, debug: bool) -> None:
    level = logging.DEBUG if debug or verbose >= 2 else logging.INFO
    if verbose == 0 and not debug:
        level = logging.WARNING
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    quiet = logging.WARNING if verbose == 0 and not debug else level
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(quiet, logging.INFO))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors become one `Error:` line (exit 1), usage errors exit 2."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        cli.main(args=args, prog_name="prompt-provision", standalone_mode=False)
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
    return 0


def _safe(exc: BaseException) -> Any:
    return str(exc).splitlines()[0] if str(exc) else ""


if __name__ == "__main__":
    sys.exit(main())
