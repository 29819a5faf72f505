"""Races Entra and several workers produce: identical creates, concurrent updates."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa

from scim_service.errors import UniquenessConflict
from scim_service.storage import Organisation, Store
from scim_service.storage.tables import resources
from tests.scim_storage.conftest import SCIM

T = TypeVar("T")
THREADS = 16


@pytest.fixture
def stores(database_url: str, store: Store) -> Iterator[list[Store]]:
    """Two stores on one database, standing for two worker processes."""
    second = Store.open(database_url)
    yield [store, second]
    second.close()


def race(count: int, work: Callable[[int], T]) -> list[T | BaseException]:
    """Run work(i) in `count` threads released at the same instant."""
    barrier = threading.Barrier(count)
    results: list[T | BaseException] = [RuntimeError("did not run")] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as error:
            results[i] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def rows_named(store: Store, user_name: str) -> int:
    with store.engine.connect() as conn:
        query = sa.select(sa.func.count()).where(
            resources.c.user_name_lower == user_name.lower()
        )
        return int(conn.execute(query).scalar_one())


@pytest.mark.parametrize(
    "doc",
    [
        {"userName": "alice@acme.example", "externalId": "e-1"},
        {"userName": "alice@acme.example"},
    ],
)
def test_identical_creates_yield_one_row(
    stores: list[Store], org: Organisation, doc: dict[str, Any]
) -> None:
    results = race(
        THREADS,
        lambda i: stores[i % 2].create_resource(org.id, "User", dict(doc), actor=SCIM),
    )

    successes = [r for r in results if isinstance(r, tuple)]
    conflicts = [r for r in results if isinstance(r, UniquenessConflict)]
    assert len(successes) == 1, results
    assert len(conflicts) == THREADS - 1, results
    assert rows_named(stores[0], "alice@acme.example") == 1
    assert all("tok_" not in str(c) for c in conflicts)


def test_identical_creates_reattach_once(
    stores: list[Store], org: Organisation
) -> None:
    doc = {"userName": "alice@acme.example", "externalId": "e-1"}
    old, _ = stores[0].create_resource(org.id, "User", doc, actor=SCIM)
    stores[0].archive_resource(org.id, "User", old.id, actor=SCIM)

    results = race(
        THREADS,
        lambda i: stores[i % 2].create_resource(org.id, "User", dict(doc), actor=SCIM),
    )

    successes = [r for r in results if isinstance(r, tuple)]
    assert len(successes) == 1, results
    assert successes[0][1] is True
    assert successes[0][0].id == old.id
    assert all(isinstance(r, UniquenessConflict) for r in results if r not in successes)
    assert rows_named(stores[0], "alice@acme.example") == 1


def test_concurrent_updates_lose_nothing(
    stores: list[Store], org: Organisation
) -> None:
    created, _ = stores[0].create_resource(
        org.id, "User", {"userName": "counter", "tally": []}, actor=SCIM
    )
    per_thread = 3

    def work(i: int) -> None:
        for n in range(per_thread):
            stores[i % 2].update_resource(
                org.id,
                "User",
                created.id,
                lambda doc, mark=f"{i}-{n}": {**doc, "tally": [*doc["tally"], mark]},
                actor=SCIM,
                action="resource.patch",
            )

    results = race(THREADS, work)

    assert results == [None] * THREADS
    final = stores[0].get_resource(org.id, "User", created.id)
    assert final is not None
    assert len(final.doc["tally"]) == THREADS * per_thread
    assert len(set(final.doc["tally"])) == THREADS * per_thread
    assert final.version == 1 + THREADS * per_thread
    events = stores[0].audit_events(resource_id=created.id, limit=1000)
    assert len(events) == 1 + THREADS * per_thread
