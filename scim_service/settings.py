"""Settings of the SCIM service, read from the environment (PROMPT_SCIM_*).

The CLI overrides them from its options; the app only ever sees a `Settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///./var/prompt-scim.db"

# RFC 7644 section 3.4.2.4: the service may cap `count`; advertised as
# filter.maxResults in /ServiceProviderConfig.
DEFAULT_MAX_RESULTS = 200

SQLITE_SCIM_THREADS = 8


@dataclass(frozen=True)
class Settings:
    """Everything the app needs to run; secrets are never part of its repr."""

    database_url: str = DEFAULT_DATABASE_URL
    admin_key: str | None = None
    base_url: str | None = None
    max_results: int = DEFAULT_MAX_RESULTS
    log_format: str = "json"
    log_level: str = "INFO"
    scim_threads: int = 0

    def __repr__(self) -> str:
        key = "set" if self.admin_key else "unset"
        return (
            f"Settings(database_url={redact_url(self.database_url)!r}, "
            f"admin_key={key}, base_url={self.base_url!r}, "
            f"max_results={self.max_results})"
        )

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings from PROMPT_SCIM_* variables, defaults for the rest."""
        env = dict(os.environ) if env is None else env
        max_results = env.get("PROMPT_SCIM_MAX_RESULTS", "")
        return cls(
            database_url=env.get("PROMPT_SCIM_DATABASE_URL") or DEFAULT_DATABASE_URL,
            admin_key=env.get("PROMPT_SCIM_ADMIN_KEY") or None,
            base_url=(env.get("PROMPT_SCIM_BASE_URL") or "").rstrip("/") or None,
            max_results=int(max_results) if max_results else DEFAULT_MAX_RESULTS,
            log_format=env.get("PROMPT_SCIM_LOG_FORMAT") or "json",
            log_level=(env.get("PROMPT_SCIM_LOG_LEVEL") or "INFO").upper(),
            scim_threads=int(env.get("PROMPT_SCIM_THREADS") or 0),
        )

    def effective_scim_threads(self) -> int | None:
        """Worker threads for SCIM requests; None means anyio's default (40).

        SQLite takes one writer at a time, and the store queues writers on a
        lock, so more threads only help while one waits on its commit's fsync:
        a few let reads go on meanwhile (bench/README.md has the figures). Many
        would only hold more requests in the queue past Entra's timeout.
        """
        if self.scim_threads > 0:
            return self.scim_threads
        return SQLITE_SCIM_THREADS if is_sqlite(self.database_url) else None

    def with_changes(self, **changes: object) -> Settings:
        """Return a copy with some fields replaced (CLI options win over env)."""
        return replace(self, **changes)  # type: ignore[arg-type]


def is_sqlite(url: str) -> bool:
    """Tell whether a database URL points at SQLite."""
    return url.startswith("sqlite")


def ensure_sqlite_directory(url: str) -> None:
    """Create the parent directory of a file-based SQLite URL (./var by default)."""
    if not is_sqlite(url) or ":memory:" in url:
        return

    path = url.split(":///", 1)[-1].split("?", 1)[0]
    if path:
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)


def redact_url(url: str) -> str:
    """Hide the password of a database URL so it can be shown or logged."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url

    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
