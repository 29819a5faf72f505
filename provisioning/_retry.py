"""Waits around Graph calls: Entra's eventual consistency and provisionOnDemand's limit.

graph.md 2.1 (replication after instantiate / job creation) and 8.1 (5 per 10 s).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

import httpx
from kiota_abstractions.api_error import APIError

from provisioning.graph import graph_error

__all__ = ["RateLimiter", "Timings", "call", "settle"]

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Timings:
    """Waits for Entra's eventual consistency and the provisionOnDemand limit.

    404/403/409 on an object this process created less than `fresh_for` seconds
    ago are retried `attempts` times, the delay doubling from `first_delay` up to
    `max_delay`; the new service principal must answer `visible_reads` GETs in a
    row, `read_interval` apart. Tests shrink everything.
    """

    attempts: int = 12
    first_delay: float = 2.0
    max_delay: float = 30.0
    visible_reads: int = 3
    read_interval: float = 2.0
    fresh_for: float = 900.0
    on_demand_requests: int = 5
    on_demand_window: float = 10.0


class RateLimiter:
    """At most `limit` requests per `window` seconds, as the server counts them.

    The server sees a request somewhere between its start and its answer, so each
    request is counted from when its answer arrived: the next request over the
    limit starts a full window later, whatever the latency. Requests through one
    limiter run one at a time (provisionOnDemand takes one subject anyway).
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self.answered: deque[float] = deque()
        self.lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for room under the limit, then hold it for one request."""
        async with self.lock:
            while len(self.answered) >= self.limit:
                pause = self.answered[0] + self.window - time.monotonic()
                if pause > 0:
                    await asyncio.sleep(pause)
                self.answered.popleft()
            try:
                yield
            finally:
                self.answered.append(time.monotonic())


async def call(
    request: Awaitable[T],
    *,
    action: str,
    permission: str | None,
    secrets: tuple[str, ...] = (),
) -> T:
    """Await one Graph request, translating its failure into provisioning errors."""
    try:
        return await request
    except (APIError, httpx.TransportError) as error:
        raise graph_error(
            error, action=action, permission=permission, secrets=secrets
        ) from None


async def settle(
    request: Callable[[], Awaitable[T]],
    *,
    retry: bool,
    timings: Timings,
    action: str,
    permission: str | None,
    secrets: tuple[str, ...] = (),
    throttled: bool = False,
) -> T:
    """Run a request; with `retry`, 404/403/409 are retried with backoff.

    Right after instantiate or job creation those answers usually mean "not
    replicated yet" (graph.md 2.1); kiota's RetryHandler leaves them to us. With
    `throttled`, 429 is retried after its Retry-After: for POSTs sent with the
    SDK's retries off, a throttled request was not executed, so resending is safe.
    """
    delay = timings.first_delay
    for attempt in range(1, timings.attempts + 1):
        pause = delay
        try:
            return await request()
        except APIError as error:
            status = error.response_status_code
            last = attempt == timings.attempts
            replicating = retry and status in (403, 404, 409)
            if last or not (replicating or (throttled and status == 429)):
                raise graph_error(
                    error, action=action, permission=permission, secrets=secrets
                ) from None
            if status == 429:
                pause = _retry_after(error, default=delay)
            log.warning(
                "Graph answered %s while trying to %s; retry %d of %d in %.1f s",
                status,
                action,
                attempt,
                timings.attempts - 1,
                pause,
            )
        except httpx.TransportError as error:
            raise graph_error(
                error, action=action, permission=permission, secrets=secrets
            ) from None
        await asyncio.sleep(pause)
        delay = min(delay * 2, timings.max_delay)
    raise AssertionError("unreachable: the last attempt raises")


def _retry_after(error: APIError, *, default: float) -> float:
    """Seconds from a Retry-After header (RFC 9110 section 10.2.3), capped at 180."""
    headers = error.response_headers or {}
    try:
        seconds = float(headers.get("Retry-After") or headers.get("retry-after") or "")
    except ValueError:
        return default
    return min(max(seconds, 0.0), 180.0)
