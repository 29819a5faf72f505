"""`prompt-scim`: manage organisations, tokens and the database; serve the service.

Errors print one `Error: ...` line on stderr and exit 1 (`--debug` shows the
traceback). The database comes from --database-url or PROMPT_SCIM_DATABASE_URL.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from scim_service._logging import configure_logging
from scim_service.errors import ScimServiceError
from scim_service.settings import (
    DEFAULT_DATABASE_URL,
    Settings,
    ensure_sqlite_directory,
    is_sqlite,
    redact_url,
)
from scim_service.storage import Actor, Organisation, Store, TokenInfo

CLI_ACTOR = Actor(kind="cli")
SECRET_WARNING = (
    "Store this code now (Entra: Secret Token). It is shown only once and cannot "
    "be read back."
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class _State:
    database_url: str = DEFAULT_DATABASE_URL
    debug: bool = False


STATE = _State()


class _ErrorsAsMessages(click.Group):
    """Report the service's own errors as one `Error: ...` line, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; turn a ScimServiceError into a ClickException."""
        try:
            return super().invoke(ctx)
        except ScimServiceError as exc:
            if STATE.debug:
                raise
            raise click.ClickException(str(exc)) from None


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON instead of text."
)


@click.group(
    cls=_ErrorsAsMessages, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--database-url",
    envvar="PROMPT_SCIM_DATABASE_URL",
    help=f"Database URL (env PROMPT_SCIM_DATABASE_URL) [{DEFAULT_DATABASE_URL}].",
)
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
def cli(database_url: str | None, debug: bool) -> None:
    """Prompt's SCIM 2.0 service for Microsoft Entra ID provisioning."""
    STATE.database_url = database_url or DEFAULT_DATABASE_URL
    STATE.debug = debug


@cli.group("org")
def org_group() -> None:
    """Create, change and show organisations."""


@cli.group("token")
def token_group() -> None:
    """Issue, revoke and list Provisioning Authentication Codes."""


def _open_store(url: str | None = None) -> Store:
    """Open the store; the embedded SQLite database is created on first use."""
    url = url or STATE.database_url
    ensure_sqlite_directory(url)
    store = Store.open(url)
    if is_sqlite(url):
        # Zero-setup embedded default; PostgreSQL is migrated explicitly.
        store.migrate()
    return store


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    return value


def _print_json(payload: Any) -> None:
    out.print_json(json.dumps(_jsonable(payload)))


def _org_dict(org: Organisation) -> dict[str, Any]:
    data = asdict(org)
    data.pop("id")
    return data


def _token_dict(info: TokenInfo) -> dict[str, Any]:
    return asdict(info)


def _show_org(org: Organisation, as_json: bool) -> None:
    if as_json:
        _print_json(_org_dict(org))
        return
    for key, value in _org_dict(org).items():
        click.echo(f"{key + ':':<22}{_text(value)}")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _table(*headers: str) -> Table:
    # Fold rather than cut with an ellipsis: ids and slugs must stay whole to be
    # copied from an 80-column terminal or a pipe.
    table = Table(box=None)
    for header in headers:
        table.add_column(header, overflow="fold")
    return table


def _clear(value: str | None) -> str | None:
    return value or None


# -- organisations ------------------------------------------------------------


@org_group.command("create")
@click.argument("slug")
@click.option("--display-name", required=True, help="Name shown in Prompt.")
@click.option("--tenant-id", help="Entra tenant id.")
@click.option("--sso-enabled/--sso-disabled", "sso", default=True, help="Azure SSO.")
@click.option(
    "--provisioning-enabled/--provisioning-disabled",
    "provisioning",
    default=True,
    help="Automated user provisioning.",
)
@click.option("--default-department", help="Department new users land in.")
@click.option("--default-section", help="Section new users land in.")
@json_option
def org_create(
    slug: str,
    display_name: str,
    tenant_id: str | None,
    sso: bool,
    provisioning: bool,
    default_department: str | None,
    default_section: str | None,
    as_json: bool,
) -> None:
    """Create an organisation."""
    org = _open_store().create_organisation(
        slug=slug,
        display_name=display_name,
        tenant_id=tenant_id,
        sso_enabled=sso,
        provisioning_enabled=provisioning,
        default_department=default_department,
        default_section=default_section,
        actor=CLI_ACTOR,
    )
    _show_org(org, as_json)


@org_group.command("update")
@click.argument("slug")
@click.option("--display-name")
@click.option("--tenant-id", help="Entra tenant id ('' clears it).")
@click.option("--sso-enabled/--sso-disabled", "sso", default=None)
@click.option(
    "--provisioning-enabled/--provisioning-disabled", "provisioning", default=None
)
@click.option("--default-department", help="'' clears it.")
@click.option("--default-section", help="'' clears it.")
@json_option
def org_update(
    slug: str,
    display_name: str | None,
    tenant_id: str | None,
    sso: bool | None,
    provisioning: bool | None,
    default_department: str | None,
    default_section: str | None,
    as_json: bool,
) -> None:
    """Change the given fields of an organisation."""
    changes: dict[str, Any] = {}
    if display_name is not None:
        changes["display_name"] = display_name
    if tenant_id is not None:
        changes["tenant_id"] = tenant_id or None
    if sso is not None:
        changes["sso_enabled"] = sso
    if provisioning is not None:
        changes["provisioning_enabled"] = provisioning
    if default_department is not None:
        changes["default_department"] = default_department or None
    if default_section is not None:
        changes["default_section"] = default_section or None
    if not changes:
        raise click.UsageError("Nothing to change: give at least one option.")

    org = _open_store().update_organisation(slug, actor=CLI_ACTOR, **changes)
    _show_org(org, as_json)


@org_group.command("show")
@click.argument("slug")
@json_option
def org_show(slug: str, as_json: bool) -> None:
    """Show one organisation."""
    _show_org(_open_store().get_organisation(slug), as_json)


@org_group.command("list")
@json_option
def org_list(as_json: bool) -> None:
    """List organisations."""
    orgs = _open_store().list_organisations()
    if as_json:
        _print_json([_org_dict(org) for org in orgs])
        return

    table = _table("slug", "display name", "tenant id", "sso", "provisioning")
    for org in orgs:
        table.add_row(
            org.slug,
            org.display_name,
            _text(org.tenant_id),
            _text(org.sso_enabled),
            _text(org.provisioning_enabled),
        )
    out.print(table)


# -- tokens -------------------------------------------------------------------


@token_group.command("issue")
@click.argument("slug")
@click.option("--label", help="Where the code is used, e.g. entra-prod.")
@json_option
def token_issue(slug: str, label: str | None, as_json: bool) -> None:
    """Issue a Provisioning Authentication Code; the secret is shown once."""
    issued = _open_store().issue_token(slug, actor=CLI_ACTOR, label=label)
    if as_json:
        _print_json(
            {
                "token": _token_dict(issued.info),
                "secret": issued.secret,
                "warning": SECRET_WARNING,
            }
        )
        return
    err.print(f"Issued token {issued.info.id} for {slug}. {SECRET_WARNING}")
    click.echo(issued.secret)


@token_group.command("revoke")
@click.argument("slug")
@click.argument("token_id")
def token_revoke(slug: str, token_id: str) -> None:
    """Revoke a code; SCIM requests with it get 401 from now on."""
    info = _open_store().revoke_token(slug, token_id, actor=CLI_ACTOR)
    out.print(f"Revoked token {info.id} of {slug}.")


@token_group.command("list")
@click.argument("slug")
@json_option
def token_list(slug: str, as_json: bool) -> None:
    """List an organisation's codes (never their secrets)."""
    store = _open_store()
    store.get_organisation(slug)
    infos = store.list_tokens(slug)
    if as_json:
        _print_json([_token_dict(info) for info in infos])
        return

    table = _table("id", "label", "created", "last used", "revoked")
    for info in infos:
        table.add_row(
            info.id,
            _text(info.label),
            _text(info.created),
            _text(info.last_used),
            _text(info.revoked),
        )
    out.print(table)


# -- audit, database, server --------------------------------------------------


@cli.command("audit")
@click.option("--org", help="Only this organisation (slug).")
@click.option("--resource", help="Only this SCIM resource id.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@json_option
def audit(org: str | None, resource: str | None, limit: int, as_json: bool) -> None:
    """Show the audit trail, newest first."""
    store = _open_store()
    if org is not None:
        store.get_organisation(org)
    events = store.audit_events(org, resource_id=resource, limit=limit)
    if as_json:
        _print_json([asdict(event) for event in events])
        return

    table = _table("id", "at", "org", "actor", "token", "request", "action", "resource")
    for event in events:
        table.add_row(
            str(event.id),
            _text(event.at),
            event.organisation_slug,
            event.actor_kind,
            _text(event.token_id),
            _text(event.request_id),
            event.action,
            _text(event.resource_id),
        )
    out.print(table)


@cli.command("migrate")
def migrate() -> None:
    """Create or upgrade the database schema (alembic upgrade head)."""
    url = STATE.database_url
    ensure_sqlite_directory(url)
    store = Store.open(url)
    try:
        store.migrate()
    finally:
        store.close()
    out.print(f"Database {redact_url(url)} is at the newest schema.")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes; more than 1 needs PostgreSQL.",
)
@click.option("--database-url", help="Overrides the global --database-url.")
@click.option(
    "--log-format",
    envvar="PROMPT_SCIM_LOG_FORMAT",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="Log line format (env PROMPT_SCIM_LOG_FORMAT).",
)
@click.option(
    "--migrate/--no-migrate",
    "run_migrations",
    default=True,
    show_default=True,
    help="Migrate the database before serving.",
)
def serve(
    host: str,
    port: int,
    workers: int,
    database_url: str | None,
    log_format: str,
    run_migrations: bool,
) -> None:
    """Serve SCIM, the admin API, /healthz, /readyz and /metrics with uvicorn."""
    import uvicorn

    url = database_url or STATE.database_url
    if workers > 1 and is_sqlite(url):
        # SQLite serialises writers on one file lock and each worker would keep
        # its own token cache; several stateless workers need PostgreSQL.
        raise click.ClickException(
            f"--workers {workers} needs PostgreSQL: SQLite serves one worker. Use "
            "--workers 1, or --database-url postgresql+psycopg://user@host/db."
        )
    if run_migrations:
        # Once, here, before the workers start (not in each worker).
        ensure_sqlite_directory(url)
        store = Store.open(url)
        try:
            store.migrate()
        finally:
            store.close()

    settings = Settings.from_env().with_changes(database_url=url, log_format=log_format)
    os.environ["PROMPT_SCIM_DATABASE_URL"] = url
    os.environ["PROMPT_SCIM_LOG_FORMAT"] = log_format
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics to files /metrics aggregates.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="prompt-scim-")
    configure_logging(settings.log_format, settings.log_level)
    if not settings.admin_key:
        err.print("Note: PROMPT_SCIM_ADMIN_KEY is not set; the admin API is disabled.")

    uvicorn.run(
        "scim_service.api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        server_header=False,
    )


def main() -> None:
    """Entry point of the `prompt-scim` console script."""
    cli()
