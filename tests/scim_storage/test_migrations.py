"""Alembic migrations from an empty database, and the query plans they enable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from scim_service.storage import Organisation, Store, _resources

EXPECTED_INDEXES = {
    "ux_resources_org_type_id",
    "ix_resources_org_type_user_name",
    "ix_resources_org_type_external_id",
    "ix_resources_org_type_display_name",
    "ux_resources_live_user_name",
    "ux_resources_live_external_id",
}


def test_migrate_creates_schema_from_empty_and_is_idempotent(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        store.migrate()
        store.migrate()

        inspector = sa.inspect(store.engine)
        tables = set(inspector.get_table_names())
        indexes = {index["name"] for index in inspector.get_indexes("resources")}
        with store.engine.connect() as conn:
            head = conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            versions = head.scalars().all()
            if conn.dialect.name == "postgresql":
                # The fixture isolates each test in a schema of its own.
                schema = conn.execute(sa.text("SELECT current_schema()")).scalar()
                assert str(schema).startswith("t_")
    finally:
        store.close()

    assert {"organisations", "tokens", "resources", "audit_events"} <= tables
    assert indexes >= EXPECTED_INDEXES
    assert versions == ["0001"]


@pytest.mark.parametrize(
    "term",
    [
        {"id": "0f8e"},
        {"user_name": "Alice@Acme.example"},
        {"external_id": "e-1"},
        {"display_name": "Nurses"},
    ],
)
def test_lookups_use_an_index(
    store: Store, org: Organisation, term: dict[str, str]
) -> None:
    with store.engine.begin() as conn:
        compiled = _resources.select_live(org.id, "User", **term).compile(
            dialect=conn.dialect
        )
        params = compiled.construct_params()
        if compiled.positiontup is not None:
            args: Any = tuple(params[name] for name in compiled.positiontup)
        else:
            args = params

        if conn.dialect.name == "sqlite":
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args)
            plan = " ".join(str(row[-1]) for row in rows)
            assert "SEARCH resources USING INDEX ix_resources_org_type_" in plan or (
                "SEARCH resources USING INDEX ux_resources_org_type_id" in plan
            ), plan
            assert "SCAN resources" not in plan, plan
        else:
            # An empty table is cheaper to scan; forbid that to see the index is usable.
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            rows = conn.exec_driver_sql(f"EXPLAIN {compiled}", args)
            plan = " ".join(row[0] for row in rows)
            assert "Index Scan using" in plan, plan
            assert "Seq Scan" not in plan, plan


def test_list_and_count_read_the_live_index(store: Store, org: Organisation) -> None:
    queries = [
        _resources.select_live(org.id, "User").offset(100).limit(100),
        sa.select(sa.func.count())
        .select_from(_resources.resources)
        .where(_resources.live(org.id, "User")),
    ]

    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        for query in queries:
            compiled = query.compile(dialect=conn.dialect)
            params = compiled.construct_params()
            args: Any = params
            if compiled.positiontup is not None:
                args = tuple(params[name] for name in compiled.positiontup)
            explain = (
                "EXPLAIN QUERY PLAN" if conn.dialect.name == "sqlite" else "EXPLAIN"
            )
            rows = conn.exec_driver_sql(f"{explain} {compiled}", args)
            plan = " ".join(str(row[-1]) for row in rows)

            if conn.dialect.name == "sqlite":
                assert "ix_resources_org_type_live_seq" in plan, plan
                assert "TEMP B-TREE" not in plan, plan
            else:
                # On an empty table PostgreSQL may pick any usable index and sort.
                assert "Index" in plan, plan
                assert "Seq Scan" not in plan, plan


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_migrate_gives_postgresql_planner_statistics(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        store.migrate()
        with store.engine.connect() as conn:
            # reltuples is -1 until the table is first analyzed.
            reltuples = conn.execute(
                sa.text(
                    "SELECT reltuples FROM pg_class WHERE oid = 'resources'::regclass"
                )
            ).scalar_one()
    finally:
        store.close()

    assert reltuples >= 0


def sqlite_pragmas(url: str) -> dict[str, object]:
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            pragmas = {
                name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()
                for name in (
                    "journal_mode",
                    "synchronous",
                    "foreign_keys",
                    "busy_timeout",
                )
            }
    finally:
        store.close()
    return pragmas


def test_sqlite_connections_use_wal_durable_commits_and_foreign_keys(
    tmp_path: Path,
) -> None:
    pragmas = sqlite_pragmas(f"sqlite:///{tmp_path / 'scim.db'}")

    # synchronous 2 is FULL: the WAL is fsynced at every commit.
    assert pragmas == {
        "journal_mode": "wal",
        "synchronous": 2,
        "foreign_keys": 1,
        "busy_timeout": 5000,
    }


def test_sqlite_url_can_trade_durability_for_latency(tmp_path: Path) -> None:
    pragmas = sqlite_pragmas(f"sqlite:///{tmp_path / 'scim.db'}?synchronous=normal")

    assert pragmas["synchronous"] == 1
    assert (tmp_path / "scim.db").exists()


def test_sqlite_url_with_unknown_synchronous_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"synchronous=full"):
        Store.open(f"sqlite:///{tmp_path / 'scim.db'}?synchronous=off")
