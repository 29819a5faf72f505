"""Run one step for many organisations: shared clients, bounded concurrency, progress.

One organisation's failure is recorded and the others go on; the caller decides
the exit status from the outcomes.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Generic, TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from provisioning.entra import Entra, Timings
from provisioning.errors import ProvisioningError
from provisioning.graph import GraphConfig, build_client, close_client
from provisioning.prompt import PromptAdmin
from provisioning.spec import OrganisationSpec

__all__ = ["Outcome", "Session", "run_each"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Session:
    """Graph clients (one per tenant), their Entra wrappers, Prompt admin clients.

    Each organisation is a customer with its own Entra tenant: the client of an
    organisation asks for tokens of `entra.tenant_id` of its file, whatever
    AZURE_TENANT_ID says (a managed identity only has its home tenant).
    """

    def __init__(self, config: GraphConfig, *, timings: Timings | None = None) -> None:
        self.config = config
        self.timings = timings
        self._prompts: dict[str, PromptAdmin] = {}
        self._clients: dict[str | None, tuple[Entra, Any]] = {}

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for admin in self._prompts.values():
            await admin.aclose()
        for _, graph in self._clients.values():
            await close_client(graph)

    def for_tenant(self, tenant_id: str | None) -> tuple[Entra, Any]:
        """Return (Entra, GraphServiceClient) for a tenant, built on first use."""
        if tenant_id not in self._clients:
            config = self.config
            if tenant_id is not None:
                config = dataclasses.replace(config, tenant_id=tenant_id)
            graph = build_client(config)
            self._clients[tenant_id] = (Entra(graph, timings=self.timings), graph)
        return self._clients[tenant_id]

    def prepare(self, specs: list[OrganisationSpec]) -> None:
        """Build every tenant's client now, so a bad Graph setting fails once, early."""
        for spec in specs:
            self.for_org(spec)

    def for_org(self, spec: OrganisationSpec) -> tuple[Entra, Any]:
        """Return (Entra, GraphServiceClient) for the organisation's tenant."""
        return self.for_tenant(spec.entra.tenant_id)

    @property
    def entra(self) -> Entra:
        """Entra of the configured (or environment's) tenant."""
        return self.for_tenant(self.config.tenant_id)[0]

    @property
    def graph(self) -> Any:
        """GraphServiceClient of the configured (or environment's) tenant."""
        return self.for_tenant(self.config.tenant_id)[1]

    def prompt(
        self, spec: OrganisationSpec, path: Path | None = None
    ) -> PromptAdmin | None:
        """Return the admin client of the organisation's SCIM service, if managed.

        Raises PromptAdminOriginRefused for an admin URL the environment does not
        allow (provisioning.prompt.check_admin_origin); `path` names the file.
        """
        url = spec.prompt.admin_url
        if url is None:
            return None
        if url not in self._prompts:
            source = path if path is not None else f"organisation {spec.organisation!r}"
            self._prompts[url] = PromptAdmin.from_env(url, source=source)
        return self._prompts[url]


@dataclass
class Outcome(Generic[T]):
    """Result of one organisation: a value, or the error that stopped it."""

    path: Path
    spec: OrganisationSpec
    value: T | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the step succeeded."""
        return self.error is None


async def run_each(
    items: list[tuple[Path, OrganisationSpec]],
    step: Callable[[Path, OrganisationSpec], Awaitable[T]],
    *,
    concurrency: int,
    label: str,
    show_progress: bool = True,
) -> list[Outcome[T]]:
    """Run `step` for every organisation, at most `concurrency` at a time."""
    limit = asyncio.Semaphore(max(1, concurrency))
    console = Console(stderr=True)
    progress = Progress(
        TextColumn(f"{label} [progress.description]{{task.description}}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=True,
        disable=not show_progress or len(items) < 2,
    )

    async def one(path: Path, spec: OrganisationSpec, task: Any) -> Outcome[T]:
        async with limit:
            outcome: Outcome[T] = Outcome(path=path, spec=spec)
            try:
                outcome.value = await step(path, spec)
            except ProvisioningError as error:
                outcome.error = str(error)
                log.debug("%s failed", spec.organisation, exc_info=True)
            except Exception as error:  # one organisation must not stop the others
                outcome.error = f"unexpected {type(error).__name__}: {error}"
                log.debug("%s failed unexpectedly", spec.organisation, exc_info=True)
            progress.update(task, advance=1, description=spec.organisation)
            return outcome

    with progress:
        task = progress.add_task("", total=len(items))
        return list(await asyncio.gather(*(one(p, s, task) for p, s in items)))
