"""Engine setup for SQLite (WAL) and PostgreSQL (psycopg 3), and error translation."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

from scim_service.errors import StoreUnavailable, StoreValueRejected

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Execution option asking for a write transaction (BEGIN IMMEDIATE on SQLite).
WRITE = "prompt_write"

SQLITE_BUSY_TIMEOUT_MS = 5000

# `?synchronous=` on a sqlite:/// URL. FULL makes every answered write survive a
# power cut (the WAL is fsynced at each commit); NORMAL never corrupts the file
# either, but may roll back the last commits after a power cut, which Entra would
# only notice as 404s for users it was told were created.
SQLITE_SYNCHRONOUS = ("full", "normal")


def create_engine(url: str) -> Engine:
    """Create a thread-safe pooled engine for sqlite:/// or postgresql+psycopg://."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # Each pooled connection would see its own empty in-memory database.
            raise ValueError(
                "an in-memory SQLite database cannot be shared between threads; "
                "use a file: sqlite:///path/to/scim.db"
            )
        synchronous = parsed.query.get("synchronous", "full")
        if synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(
                f"unsupported synchronous={synchronous!r} in the SQLite URL: "
                "use ?synchronous=full (the default) or ?synchronous=normal"
            )
        plain = parsed.difference_update_query(["synchronous"])
        return _sqlite_engine(plain.render_as_string(), str(synchronous))
    if parsed.get_backend_name() == "postgresql":
        # pre_ping replaces connections a PostgreSQL restart has cut; several worker
        # processes each hold their own pool, so keep it moderate.
        # A bounded connect timeout turns an unreachable server into a prompt 503
        # instead of a request hanging past Entra's own timeout.
        return sa.create_engine(
            url,
            pool_size=5,
            max_overflow=15,
            pool_timeout=10,
            pool_pre_ping=True,
            hide_parameters=True,
            connect_args={"connect_timeout": 5},
        )
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r}: "
        "use sqlite:///path or postgresql+psycopg://user@host:port/db"
    )


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    engine = sa.create_engine(
        url,
        connect_args={"check_same_thread": False},
        pool_size=5,
        max_overflow=15,
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below emit BEGIN itself (pysqlite's own
        # implicit BEGIN cannot be made IMMEDIATE).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # A deferred transaction that reads and then writes cannot wait for the
        # lock (SQLITE_BUSY_SNAPSHOT), so writers take the lock up front and the
        # busy_timeout queues them instead.
        immediate = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def translate_db_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn database failures into StoreUnavailable (callers answer 503, never 401).

    A value the database refuses (DataError) becomes StoreValueRejected (400).
    """

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except exc.IntegrityError:
            raise
        except exc.DataError as error:
            # A value the database cannot hold (NUL in text on PostgreSQL, a
            # number out of range): the request's fault, never worth a retry.
            log.info(
                "database refused a value during %s: %s",
                fn.__name__,
                _first_line(error.orig or error),
            )
            raise StoreValueRejected(
                "The database cannot store or compare a value of this request "
                "(a character such as NUL, or a number out of range); correct the "
                "value and retry."
            ) from error
        except (exc.DBAPIError, exc.TimeoutError) as error:
            detail = _first_line(getattr(error, "orig", None) or error)
            log.warning("database failed during %s: %s", fn.__name__, detail)
            raise StoreUnavailable(
                f"The database failed during {fn.__name__}: {detail}. Check that it "
                "is running and reachable and that `prompt-scim migrate` has run; "
                "retry later."
            ) from error

    return wrapper


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else type(error).__name__
    return f"{type(error).__name__}: {line[:200]}"
