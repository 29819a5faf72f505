"""The SCIM service's store: organisations, tokens, resources and the audit trail.

Synchronous and thread-safe (one pooled engine); SQLite in WAL mode or PostgreSQL.
Bearer-token lookups are cached in-process for `auth_cache_ttl` seconds (default 5):
a revocation or organisation change made through this Store applies at once, one
made through another process within that time (a lookup costs ~0.2-1 ms otherwise).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc
from sqlalchemy.engine import Engine

from scim_service.errors import (
    OrganisationExists,
    ResourceNotFound,
    StoreUnavailable,
    TokenNotFound,
    UniquenessConflict,
)
from scim_service.storage import _accounts, _audit, _resources
from scim_service.storage._engine import WRITE, create_engine, translate_db_errors
from scim_service.storage._hot import HotPath
from scim_service.storage.records import (
    Actor,
    AuditEvent,
    IssuedToken,
    Organisation,
    StoredResource,
    TokenInfo,
)
from scim_service.storage.tables import organisations, resources, tokens

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# last_used is written at most this often per token, so auth is not a write per request.
LAST_USED_RESOLUTION = 60.0
UPDATE_ATTEMPTS = 5
AUTH_CACHE_SIZE = 4096


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Synchronous, thread-safe access to the SCIM service's database."""

    def __init__(self, engine: Engine, *, auth_cache_ttl: float = 5.0) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE: True})
        self._hot = HotPath(engine)
        self._auth_cache_ttl = auth_cache_ttl
        self._auth_cache: dict[str, tuple[float, Organisation, TokenInfo]] = {}
        # When this process last recorded each token's use (token id -> time),
        # newer than the last_used of a TokenInfo served from the cache.
        self._last_use: dict[str, datetime] = {}
        self._auth_lock = threading.Lock()

    @classmethod
    def open(cls, url: str, *, auth_cache_ttl: float = 5.0) -> Store:
        """Open sqlite:///path (WAL) or postgresql+psycopg://...; connects lazily."""
        return cls(create_engine(url), auth_cache_ttl=auth_cache_ttl)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for health checks and tests)."""
        return self._engine

    @translate_db_errors
    def migrate(self) -> None:
        """Bring the schema to the newest revision (alembic upgrade head)."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self._writer.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Several workers may start at once; one migrates, the rest wait.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(736369)"))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        self.analyze()

    @translate_db_errors
    def analyze(self) -> None:
        """Refresh PostgreSQL's planner statistics of the store's tables.

        Without statistics PostgreSQL may answer a userName lookup by walking a
        whole organisation; autovacuum refreshes them, but may be switched off,
        so `migrate` calls this and a long-running server can call it now and then.
        SQLite picks the lookup indexes without statistics; there it does nothing.
        """
        if self._engine.dialect.name != "postgresql":
            return
        with self._engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                "ANALYZE organisations, tokens, resources, audit_events"
            )

    @translate_db_errors
    def ping(self) -> None:
        """Run a trivial query; raises StoreUnavailable when the database fails."""
        with self._engine.connect() as conn:
            conn.execute(sa.select(organisations.c.id).limit(1))

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._hot.writing(), self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._engine.begin() as conn:
            yield conn

    # organisations

    @translate_db_errors
    def create_organisation(
        self,
        *,
        slug: str,
        display_name: str,
        tenant_id: str | None = None,
        sso_enabled: bool = True,
        provisioning_enabled: bool = True,
        default_department: str | None = None,
        default_section: str | None = None,
        actor: Actor,
    ) -> Organisation:
        """Create an organisation; OrganisationExists, OrganisationInvalid."""
        _accounts.validate_slug(slug)
        fields: dict[str, Any] = {
            "display_name": display_name,
            "tenant_id": tenant_id,
            "sso_enabled": sso_enabled,
            "provisioning_enabled": provisioning_enabled,
            "default_department": default_department,
            "default_section": default_section,
        }
        _accounts.validate_changes(fields)
        now = _now()

        try:
            with self._write() as conn:
                row_id: int = conn.execute(
                    organisations.insert()
                    .values(slug=slug, created=now, updated=now, **fields)
                    .returning(organisations.c.id)
                ).scalar_one()
                org = Organisation(
                    id=row_id, slug=slug, created=now, updated=now, **fields
                )
                _audit.record(
                    conn,
                    organisation_id=org.id,
                    at=now,
                    actor=actor,
                    action="organisation.create",
                    after=_accounts.organisation_audit(org),
                )
        except exc.IntegrityError:
            raise OrganisationExists(
                f"An organisation with the slug {slug!r} exists already; "
                "update it instead or choose another slug."
            ) from None
        log.info("created organisation %s", slug)
        return org

    @translate_db_errors
    def update_organisation(
        self, slug: str, /, *, actor: Actor, **changes: Any
    ) -> Organisation:
        """Change settable fields; OrganisationNotFound, OrganisationInvalid."""
        _accounts.validate_changes(changes)
        with self._write() as conn:
            before = _accounts.load_organisation(conn, slug)
            after = replace(before, **changes)
            if after == before:
                return before

            after = replace(after, updated=_now())
            conn.execute(
                organisations.update()
                .where(organisations.c.id == before.id)
                .values(updated=after.updated, **changes)
            )
            _audit.record(
                conn,
                organisation_id=before.id,
                at=after.updated,
                actor=actor,
                action="organisation.update",
                before=_accounts.organisation_audit(before),
                after=_accounts.organisation_audit(after),
            )
        self._forget_auth()
        log.info("updated organisation %s: %s", slug, ", ".join(sorted(changes)))
        return after

    @translate_db_errors
    def get_organisation(self, slug: str) -> Organisation:
        """Return the organisation; OrganisationNotFound."""
        with self._read() as conn:
            return _accounts.load_organisation(conn, slug)

    @translate_db_errors
    def list_organisations(self) -> list[Organisation]:
        """Return every organisation, by slug."""
        with self._read() as conn:
            rows = conn.execute(sa.select(organisations).order_by(organisations.c.slug))
            return [_accounts.organisation_from_row(row) for row in rows]

    # tokens

    @translate_db_errors
    def issue_token(
        self, slug: str, *, actor: Actor, label: str | None = None
    ) -> IssuedToken:
        """Create a token for the organisation; its secret is returned only here."""
        if label is not None:
            _accounts.validate_text("label", label)
        for _ in range(5):
            secret, digest = _accounts.new_secret()
            token_id = _accounts.new_token_id()
            now = _now()
            try:
                with self._write() as conn:
                    org = _accounts.load_organisation(conn, slug)
                    conn.execute(
                        tokens.insert().values(
                            id=token_id,
                            organisation_id=org.id,
                            secret_sha256=digest,
                            label=label,
                            created=now,
                        )
                    )
                    info = TokenInfo(token_id, slug, label, now, None, None)
                    _audit.record(
                        conn,
                        organisation_id=org.id,
                        at=now,
                        actor=actor,
                        action="token.issue",
                        after=_accounts.token_audit(info),
                    )
            except exc.IntegrityError:
                # 32-bit public ids can collide; draw again.
                continue
            log.info("issued token %s for organisation %s", token_id, slug)
            return IssuedToken(info=info, secret=secret)
        raise StoreUnavailable(f"Could not draw a free token id for {slug!r}; retry.")

    @translate_db_errors
    def revoke_token(self, slug: str, token_id: str, *, actor: Actor) -> TokenInfo:
        """Revoke one token (idempotent); TokenNotFound, OrganisationNotFound."""
        now = _now()
        with self._write() as conn:
            org = _accounts.load_organisation(conn, slug)
            row = None
            if _accounts.is_token_id(token_id):
                row = conn.execute(
                    sa.select(tokens).where(
                        tokens.c.id == token_id, tokens.c.organisation_id == org.id
                    )
                ).first()
            if row is None:
                raise TokenNotFound(
                    f"Organisation {slug!r} has no token {token_id!r}; list its tokens "
                    "to see their ids."
                )
            before = _accounts.token_from_row(row, slug)
            if before.revoked is not None:
                return before

            conn.execute(
                tokens.update().where(tokens.c.id == token_id).values(revoked=now)
            )
            after = replace(before, revoked=now)
            _audit.record(
                conn,
                organisation_id=org.id,
                at=now,
                actor=actor,
                action="token.revoke",
                before=_accounts.token_audit(before),
                after=_accounts.token_audit(after),
            )
        self._forget_auth()
        log.info("revoked token %s of organisation %s", token_id, slug)
        return after

    @translate_db_errors
    def list_tokens(self, slug: str) -> list[TokenInfo]:
        """Return the organisation's tokens, revoked ones included, oldest first."""
        with self._read() as conn:
            org = _accounts.load_organisation(conn, slug)
            rows = conn.execute(
                sa.select(tokens)
                .where(tokens.c.organisation_id == org.id)
                .order_by(tokens.c.created, tokens.c.id)
            )
            return [_accounts.token_from_row(row, slug) for row in rows]

    @translate_db_errors
    def authenticate(
        self, secret: str, *, record_use: bool = True
    ) -> tuple[Organisation, TokenInfo] | None:
        """Return the organisation and token a secret belongs to.

        None for an unknown or revoked secret; StoreUnavailable when the database
        fails (never None then: a 401 would quarantine the Entra job). With
        `record_use` False the caller decides first whether the request is
        accepted and then calls `record_use` itself.
        """
        digest = _accounts.hash_secret(secret)
        cached = self._auth_cache.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            org, info = cached[1], cached[2]
        else:
            found = self._lookup(digest)
            if found is None:
                return None
            org, info = found
            # Just read from the database: its last_used is the one to trust.
            self._last_use.pop(info.id, None)
            self._remember_auth(digest, org, info)

        if record_use:
            info = self.record_use(info)
        return org, info

    def _lookup(self, digest: str) -> tuple[Organisation, TokenInfo] | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(
                    organisations,
                    tokens.c.id.label("token_id"),
                    tokens.c.label.label("token_label"),
                    tokens.c.created.label("token_created"),
                    tokens.c.last_used,
                )
                .join(tokens, tokens.c.organisation_id == organisations.c.id)
                .where(tokens.c.secret_sha256 == digest, tokens.c.revoked.is_(None))
            ).first()
        if row is None:
            return None

        org = _accounts.organisation_from_row(row)
        info = TokenInfo(
            row.token_id,
            org.slug,
            row.token_label,
            row.token_created,
            row.last_used,
            None,
        )
        return org, info

    @translate_db_errors
    def record_use(self, token: TokenInfo) -> TokenInfo:
        """Record that a request with `token` was accepted; return it updated.

        Written at most once per LAST_USED_RESOLUTION per token (and process), so
        authentication does not cost a write per request.
        """
        now = _now()
        last = self._last_use.get(token.id) or token.last_used
        if _accounts.is_recent(last, now, LAST_USED_RESOLUTION):
            return token if last is token.last_used else replace(token, last_used=last)

        self._touch(token.id, now)
        if len(self._last_use) >= AUTH_CACHE_SIZE:
            self._last_use.clear()
        self._last_use[token.id] = now
        return replace(token, last_used=now)

    def _touch(self, token_id: str, now: datetime) -> None:
        cutoff = now - timedelta(seconds=LAST_USED_RESOLUTION)
        try:
            with self._write() as conn:
                conn.execute(
                    tokens.update()
                    .where(
                        tokens.c.id == token_id,
                        sa.or_(
                            tokens.c.last_used.is_(None), tokens.c.last_used < cutoff
                        ),
                    )
                    .values(last_used=now)
                )
        except exc.OperationalError as error:
            # last_used is bookkeeping; a busy database must not fail the request.
            log.warning(
                "could not record last use of token %s: %s", token_id, error.orig
            )

    def _remember_auth(self, digest: str, org: Organisation, info: TokenInfo) -> None:
        if self._auth_cache_ttl <= 0:
            return
        with self._auth_lock:
            if len(self._auth_cache) >= AUTH_CACHE_SIZE:
                self._auth_cache.clear()
            self._auth_cache[digest] = (
                time.monotonic() + self._auth_cache_ttl,
                org,
                info,
            )

    def _forget_auth(self) -> None:
        with self._auth_lock:
            self._auth_cache.clear()

    # resources

    @translate_db_errors
    def get_resource(self, org_id: int, rtype: str, rid: str) -> StoredResource | None:
        """Return the live resource with that id, or None (archived ones too)."""
        if not _resources.is_resource_id(rid):
            return None
        found = self._hot.find_resources(org_id, rtype, {"id": rid})
        return found[0] if found else None

    @translate_db_errors
    def find_resources(
        self,
        org_id: int,
        rtype: str,
        *,
        id: str | None = None,
        user_name: str | None = None,
        external_id: str | None = None,
        display_name: str | None = None,
    ) -> list[StoredResource]:
        """Return live resources matching every given term by index, in stable order.

        userName and displayName compare case-insensitively, externalId exactly.
        """
        given = {
            "id": id,
            "user_name": user_name,
            "external_id": external_id,
            "display_name": display_name,
        }
        if id is not None and not _resources.is_resource_id(id):
            return []
        terms = {name: value for name, value in given.items() if value is not None}
        return self._hot.find_resources(org_id, rtype, terms)

    @translate_db_errors
    def list_resources(
        self, org_id: int, rtype: str, *, offset: int = 0, limit: int | None = None
    ) -> list[StoredResource]:
        """Return live resources in creation order; offset/limit page through them."""
        if offset < 0 or (limit is not None and limit < 0):
            raise ValueError(
                f"offset and limit must not be negative: {offset}, {limit}"
            )
        query = _resources.select_live(org_id, rtype).offset(offset).limit(limit)
        with self._read() as conn:
            return [_resources.resource_from_row(row) for row in conn.execute(query)]

    @translate_db_errors
    def count_resources(self, org_id: int, rtype: str) -> int:
        """Return the number of live resources of one type."""
        query = sa.select(sa.func.count()).select_from(resources)
        with self._read() as conn:
            return int(
                conn.execute(query.where(_resources.live(org_id, rtype))).scalar_one()
            )

    @translate_db_errors
    def create_resource(
        self,
        org_id: int,
        rtype: str,
        doc: dict[str, Any],
        *,
        actor: Actor,
        prompt_defaults: Mapping[str, Any] | None = None,
    ) -> tuple[StoredResource, bool]:
        """Store a new resource, or re-attach the archived User it matches (True).

        `prompt_defaults` fill Prompt extension values neither `doc` nor the
        re-attached record has. UniquenessConflict when a live User holds the
        userName (case-insensitive) or externalId (exact).
        """

        def prepare(
            given: dict[str, Any], previous: dict[str, Any] | None
        ) -> dict[str, Any]:
            if rtype != _resources.USER:
                return given
            # A shallow copy: only the Prompt extension key is replaced.
            return _resources.keep_prompt_values(dict(given), previous, prompt_defaults)

        try:
            stored, reattached = self._hot.create(
                org_id, rtype, doc, actor=actor, now=_now(), prepare=prepare
            )
        except exc.IntegrityError:
            raise self._conflict(org_id, rtype, doc, None) from None
        log.info(
            "%s %s %s in organisation %d",
            "re-attached" if reattached else "created",
            rtype,
            stored.id,
            org_id,
        )
        return stored, reattached

    @translate_db_errors
    def update_resource(
        self,
        org_id: int,
        rtype: str,
        rid: str,
        mutate: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        actor: Actor,
        action: str,
    ) -> StoredResource:
        """Apply `mutate` to a copy of the document and store the result.

        ResourceNotFound, UniquenessConflict; exceptions from `mutate` propagate and
        nothing is written; an equal result writes nothing and audits nothing.
        """
        if not _resources.is_resource_id(rid):
            raise self._not_found(org_id, rtype, rid)
        latest: dict[str, Any] = {}

        def tracked(doc: dict[str, Any]) -> dict[str, Any]:
            # Kept for the conflict message, should the write hit a unique index.
            latest["doc"] = new = mutate(doc)
            return new

        for attempt in range(UPDATE_ATTEMPTS):
            try:
                outcome, stored = self._hot.update(
                    org_id, rtype, rid, tracked, actor=actor, action=action, now=_now
                )
            except exc.IntegrityError:
                doc = latest.get("doc", {})
                raise self._conflict(org_id, rtype, doc, rid) from None
            if outcome == "missing":
                raise self._not_found(org_id, rtype, rid)
            if stored is not None:
                if outcome == "written":
                    log.info("%s %s %s in organisation %d", action, rtype, rid, org_id)
                return stored
            # The version moved under us (another writer won); read again.
            log.warning(
                "version of %s %s moved (attempt %d); retrying", rtype, rid, attempt
            )
        raise StoreUnavailable(
            f"{rtype} {rid} kept changing under {UPDATE_ATTEMPTS} attempts to update "
            "it; retry the request."
        )

    @translate_db_errors
    def archive_resource(
        self, org_id: int, rtype: str, rid: str, *, actor: Actor
    ) -> None:
        """Archive a live resource: it stays stored, but reads answer 404 for it."""
        if not _resources.is_resource_id(rid):
            raise self._not_found(org_id, rtype, rid)
        now = _now()
        with self._write() as conn:
            row = conn.execute(
                _resources.select_live(org_id, rtype, id=rid).with_for_update()
            ).first()
            if row is None:
                raise self._not_found(org_id, rtype, rid)

            conn.execute(
                resources.update()
                .where(resources.c.seq == row.seq)
                .values(archived_at=now, last_modified=now, version=row.version + 1)
            )
            _audit.record(
                conn,
                organisation_id=org_id,
                at=now,
                actor=actor,
                action="resource.archive",
                resource_type=rtype,
                resource_id=rid,
                before=row.doc,
            )
        log.info("archived %s %s in organisation %d", rtype, rid, org_id)

    def _not_found(self, org_id: int, rtype: str, rid: str) -> ResourceNotFound:
        return ResourceNotFound(f"{rtype} {rid!r} not found")

    def _conflict(
        self, org_id: int, rtype: str, doc: Mapping[str, Any], rid: str | None
    ) -> UniquenessConflict:
        with self._read() as conn:
            attribute = _resources.conflicting_attribute(conn, org_id, doc, rid)
        if attribute == "userName":
            return UniquenessConflict(
                f"userName {doc.get('userName')!r} is already taken by another "
                f"{rtype} (compared case-insensitively)"
            )
        if attribute == "externalId":
            return UniquenessConflict(
                f"externalId {doc.get('externalId')!r} is already taken by another "
                f"{rtype}"
            )
        return UniquenessConflict(
            f"userName or externalId is already taken by another {rtype}"
        )

    # audit trail

    @translate_db_errors
    def audit_events(
        self,
        slug: str | None = None,
        *,
        resource_id: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[AuditEvent]:
        """Return audit events newest first; page with before_id = last id seen."""
        if limit < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        with self._read() as conn:
            org_id = (
                None if slug is None else _accounts.load_organisation(conn, slug).id
            )
            if resource_id is not None and not _resources.is_resource_id(resource_id):
                return []
            return _audit.read(
                conn,
                organisation_id=org_id,
                resource_id=resource_id,
                limit=limit,
                before_id=before_id,
            )
