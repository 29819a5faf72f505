"""Run one step for many organisations: shared clients, bounded concurrency, progress.

One organisation's failure is recorded and the others go on; the caller decides
the exit status from the outcomes.
"""

from __future__ import annotations

import asyncio
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
    """The Graph client, its Entra wrapper and one admin client per admin URL."""

    def __init__(self, config: GraphConfig, *, timings: Timings | None = None) -> None:
        self.config = config
        self.timings = timings
        self._prompts: dict[str, PromptAdmin] = {}
        self.graph: Any = None
        self.entra: Any = None

    async def __aenter__(self) -> Session:
        self.graph = build_client(self.config)
        self.entra = Entra(self.graph, timings=self.timings)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for admin in self._prompts.values():
            await admin.aclose()
        if self.graph is not None:
            await close_client(self.graph)

    def prompt(self, spec: OrganisationSpec) -> PromptAdmin | None:
        """Return the admin client of the organisation's SCIM service, if managed."""
        url = spec.prompt.admin_url
        if url is None:
            return None
        if url not in self._prompts:
            self._prompts[url] = PromptAdmin.from_env(url)
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
