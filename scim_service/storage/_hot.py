"""The SCIM hot path (find, get, create, update) as fixed SQL on the DBAPI connection.

SQLAlchemy Core spends ~0.1 ms of CPU per statement building it, computing its
cache key and processing results, several times the cost of the statement itself
on SQLite. These statements are written once, for sqlite3 and psycopg 3 alike;
connections still come from the engine's pool (pragmas, pre-ping), and driver
errors are raised as SQLAlchemy's, so callers translate them as before.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Engine
from sqlalchemy.pool import PoolProxiedConnection

from scim_service.storage._resources import indexed_values, new_resource_id
from scim_service.storage.records import Actor, StoredResource

USER = "User"
Row = tuple[Any, ...]

# CAST keeps the document as the stored text on both databases (psycopg would
# parse a json column itself): parsed once here, reused verbatim for the audit row.
_LIVE = (
    "SELECT seq, id, CAST(doc AS TEXT), created, last_modified, version "
    "FROM resources WHERE organisation_id = :org "
    "AND resource_type = :rtype AND archived_at IS NULL"
)
_TERMS = {
    "id": " AND id = :id",
    "user_name": " AND user_name_lower = :user_name",
    "external_id": " AND external_id = :external_id",
    "display_name": " AND display_name_lower = :display_name",
}
# One query for both re-attach candidates: externalId (exact) wins over userName
# (case-insensitive), then the most recently archived.
_ARCHIVED_MATCH = (
    "SELECT seq, id, CAST(doc AS TEXT), created, last_modified, version "
    "FROM resources WHERE organisation_id = :org "
    "AND resource_type = 'User' AND archived_at IS NOT NULL "
    "AND (external_id = :external_id OR user_name_lower = :user_name_lower) "
    "ORDER BY CASE WHEN external_id = :external_id THEN 0 ELSE 1 END, "
    "archived_at DESC, seq DESC LIMIT 1"
)
_INSERT = (
    "INSERT INTO resources (id, organisation_id, resource_type, doc, user_name, "
    "user_name_lower, external_id, display_name_lower, created, last_modified, "
    "version) VALUES (:id, :org, :rtype, :doc, :user_name, :user_name_lower, "
    ":external_id, :display_name_lower, :now, :now, 1)"
)
_UPDATE = (
    "UPDATE resources SET doc = :doc, user_name = :user_name, "
    "user_name_lower = :user_name_lower, external_id = :external_id, "
    "display_name_lower = :display_name_lower, last_modified = :now, "
    "version = :version, archived_at = NULL WHERE seq = :seq AND version = :old"
)
_AUDIT = (
    "INSERT INTO audit_events (organisation_id, at, actor_kind, token_id, "
    "request_id, action, resource_type, resource_id, before, after) VALUES "
    "(:org, :now, :kind, :token, :request, :action, :rtype, :rid, :before, :after)"
)
_PARAM = re.compile(r":(\w+)")


def dumps(doc: Mapping[str, Any]) -> str:
    """Serialise a document for the doc/before/after columns (ASCII-safe, compact)."""
    return json.dumps(doc, separators=(",", ":"))


class HotPath:
    """The resource statements of the Entra flow, one pooled connection per call."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._dbapi: Any = engine.dialect.loaded_dbapi
        self.sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer at a time; queueing writers on a lock here avoids
        # its busy handler, which polls with sleeps of up to 100 ms under
        # contention. Other processes (the CLI) still wait through busy_timeout.
        self.write_lock: threading.Lock | None = (
            threading.Lock() if self.sqlite else None
        )
        self._sql: dict[str, str] = {}
        self._find_sql: dict[tuple[str, ...], str] = {}

    # -- plumbing ------------------------------------------------------------

    def sql(self, text: str) -> str:
        """Return `text` in the driver's parameter style (:name or %(name)s)."""
        converted = self._sql.get(text)
        if converted is None:
            converted = text if self.sqlite else _PARAM.sub(r"%(\1)s", text)
            self._sql[text] = converted
        return converted

    def writing(self) -> threading.Lock | nullcontext[None]:
        """Context manager held around every write transaction (SQLite only)."""
        return self.write_lock if self.write_lock is not None else nullcontext()

    @contextmanager
    def _connection(self) -> Iterator[PoolProxiedConnection]:
        try:
            conn = self._engine.raw_connection()
        except self._dbapi.Error as error:
            raise self._wrap(error, "connect") from error
        try:
            yield conn
        except self._dbapi.Error as error:
            if self._dialect.is_disconnect(error, conn.dbapi_connection, None):
                conn.invalidate(error)
            raise self._wrap(error, "statement") from error
        finally:
            conn.close()

    def _wrap(self, error: Exception, statement: str) -> exc.StatementError:
        # The SQLAlchemy class matching the driver's (IntegrityError,
        # OperationalError...), parameters hidden: they may hold a token digest.
        return exc.DBAPIError.instance(
            statement,
            None,
            error,
            self._dbapi.Error,
            hide_parameters=True,
            dialect=self._dialect,
        )

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self._connection() as conn:
            if self.sqlite:
                # One statement in autocommit mode is its own read transaction.
                cursor = conn.cursor()
                try:
                    yield cursor
                finally:
                    cursor.close()
                return
            driver = conn.driver_connection
            assert driver is not None
            driver.autocommit = True
            try:
                with driver.cursor() as cursor:
                    yield cursor
            finally:
                driver.autocommit = False

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self.writing(), self._connection() as conn:
            cursor = conn.cursor()
            try:
                if self.sqlite:
                    cursor.execute("BEGIN IMMEDIATE")
                yield cursor
                if self.sqlite:
                    cursor.execute("COMMIT")
                else:
                    conn.commit()
            except BaseException:
                self._rollback(conn, cursor)
                raise
            finally:
                cursor.close()

    def _rollback(self, conn: PoolProxiedConnection, cursor: Any) -> None:
        try:
            if self.sqlite:
                if conn.dbapi_connection is not None and getattr(
                    conn.dbapi_connection, "in_transaction", False
                ):
                    cursor.execute("ROLLBACK")
            else:
                conn.rollback()
        except self._dbapi.Error:
            # The connection is broken; the pool discards it on the way back.
            conn.invalidate()

    def _time(self, value: datetime) -> Any:
        # SQLAlchemy's SQLite DATETIME text (always with microseconds), so rows
        # written here and through Core compare and sort alike.
        if self.sqlite:
            naive = value.astimezone(UTC).replace(tzinfo=None)
            return naive.isoformat(" ", timespec="microseconds")
        return value

    @staticmethod
    def _from_time(value: Any) -> datetime:
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        assert isinstance(value, datetime)
        return value.astimezone(UTC)

    def _resource(self, row: Row, rtype: str) -> StoredResource:
        return StoredResource(
            id=row[1],
            resource_type=rtype,
            doc=json.loads(row[2]),
            created=self._from_time(row[3]),
            last_modified=self._from_time(row[4]),
            version=row[5],
        )

    def _audit(
        self,
        cursor: Any,
        *,
        org_id: int,
        now: datetime,
        actor: Actor,
        action: str,
        rtype: str,
        rid: str,
        before: str | None,
        after: str | None,
    ) -> None:
        cursor.execute(
            self.sql(_AUDIT),
            {
                "org": org_id,
                "now": self._time(now),
                "kind": actor.kind,
                "token": actor.token_id,
                "request": actor.request_id,
                "action": action,
                "rtype": rtype,
                "rid": rid,
                "before": before,
                "after": after,
            },
        )

    # -- reads ---------------------------------------------------------------

    def find(self, org_id: int, rtype: str, terms: Mapping[str, str]) -> list[Row]:
        """Return live rows matching every term (id, user_name, external_id,
        display_name; the *_name ones case-insensitively), in creation order."""
        key = tuple(sorted(terms))
        text = self._find_sql.get(key)
        if text is None:
            query = _LIVE + "".join(_TERMS[name] for name in key)
            text = self.sql(query + " ORDER BY seq")
            self._find_sql[key] = text
        params: dict[str, Any] = {"org": org_id, "rtype": rtype}
        for name, value in terms.items():
            params[name] = value if name in ("id", "external_id") else value.lower()
        with self._read() as cursor:
            cursor.execute(text, params)
            rows: list[Row] = cursor.fetchall()
        return rows

    def find_resources(
        self, org_id: int, rtype: str, terms: Mapping[str, str]
    ) -> list[StoredResource]:
        """`find` as StoredResources."""
        return [self._resource(row, rtype) for row in self.find(org_id, rtype, terms)]

    # -- writes --------------------------------------------------------------

    def create(
        self,
        org_id: int,
        rtype: str,
        doc: dict[str, Any],
        *,
        actor: Actor,
        now: datetime,
        prepare: Callable[[dict[str, Any], dict[str, Any] | None], dict[str, Any]],
    ) -> tuple[StoredResource, bool]:
        """Insert a resource, or re-attach the archived User it matches (True).

        `prepare(doc, previous_doc)` returns the document to store; IntegrityError
        when a live User holds the userName or externalId.
        """
        values = indexed_values(doc)
        with self._write() as cursor:
            previous: Row | None = None
            if rtype == USER and (values["external_id"] or values["user_name_lower"]):
                cursor.execute(
                    self.sql(_ARCHIVED_MATCH),
                    {
                        "org": org_id,
                        "external_id": values["external_id"],
                        "user_name_lower": values["user_name_lower"],
                    },
                )
                previous = cursor.fetchone()

            before = None if previous is None else json.loads(previous[2])
            doc = prepare(doc, before)
            text = dumps(doc)
            values = indexed_values(doc)
            params: dict[str, Any] = {"doc": text, "now": self._time(now), **values}
            if previous is not None:
                # Only the transaction that flips archived_at re-attaches; a
                # concurrent twin (PostgreSQL) sees no row and inserts instead,
                # which the unique index stops.
                version = previous[5] + 1
                params.update(seq=previous[0], old=previous[5], version=version)
                cursor.execute(
                    self.sql(_UPDATE + " AND archived_at IS NOT NULL"), params
                )
                if cursor.rowcount == 1:
                    rid = previous[1]
                    self._audit(
                        cursor,
                        org_id=org_id,
                        now=now,
                        actor=actor,
                        action="resource.reattach",
                        rtype=rtype,
                        rid=rid,
                        before=previous[2],
                        after=text,
                    )
                    created = self._from_time(previous[3])
                    stored = StoredResource(
                        rid, rtype, json.loads(text), created, now, version
                    )
                    return stored, True

            rid = new_resource_id()
            params.update(id=rid, org=org_id, rtype=rtype)
            cursor.execute(self.sql(_INSERT), params)
            self._audit(
                cursor,
                org_id=org_id,
                now=now,
                actor=actor,
                action="resource.create",
                rtype=rtype,
                rid=rid,
                before=None,
                after=text,
            )
        return StoredResource(rid, rtype, json.loads(text), now, now, 1), False

    def update(
        self,
        org_id: int,
        rtype: str,
        rid: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        actor: Actor,
        action: str,
        now: Callable[[], datetime],
    ) -> tuple[str, StoredResource | None]:
        """Apply `mutate` under the row lock; return (outcome, resource).

        Outcomes: "missing" (no live row has the id), "moved" (the version moved
        under us; retry), "unchanged" (an equal document: nothing written) and
        "written".
        """
        query = _LIVE + _TERMS["id"] + ("" if self.sqlite else " FOR UPDATE")
        with self._write() as cursor:
            cursor.execute(self.sql(query), {"org": org_id, "rtype": rtype, "id": rid})
            row: Row | None = cursor.fetchone()
            if row is None:
                return "missing", None

            old = json.loads(row[2])
            doc = mutate(json.loads(row[2]))
            if doc == old:
                return "unchanged", self._resource(row, rtype)

            at = now()
            text = dumps(doc)
            version = row[5] + 1
            cursor.execute(
                self.sql(_UPDATE + " AND archived_at IS NULL"),
                {
                    "doc": text,
                    "now": self._time(at),
                    "version": version,
                    "seq": row[0],
                    "old": row[5],
                    **indexed_values(doc),
                },
            )
            if cursor.rowcount != 1:
                return "moved", None

            self._audit(
                cursor,
                org_id=org_id,
                now=at,
                actor=actor,
                action=action,
                rtype=rtype,
                rid=rid,
                before=row[2],
                after=text,
            )
        created = self._from_time(row[3])
        stored = StoredResource(rid, rtype, json.loads(text), created, at, version)
        return "written", stored
