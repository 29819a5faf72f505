"""A failing database raises StoreUnavailable (503), never a None that reads as 401."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from scim_service.errors import StoreUnavailable
from scim_service.storage import Store
from tests.conftest import free_port
from tests.scim_storage.conftest import ADMIN, SCIM

SECRET = "pscim_" + "s3cr3t" * 8

CALLS: list[tuple[str, Callable[[Store], Any]]] = [
    ("ping", lambda s: s.ping()),
    ("authenticate", lambda s: s.authenticate(SECRET)),
    ("get_resource", lambda s: s.get_resource(1, "User", "0" * 32)),
    ("find_resources", lambda s: s.find_resources(1, "User", user_name="a")),
    ("list_organisations", lambda s: s.list_organisations()),
    (
        "create_resource",
        lambda s: s.create_resource(1, "User", {"userName": "a"}, actor=SCIM),
    ),
    ("issue_token", lambda s: s.issue_token("acme", actor=ADMIN)),
    ("audit_events", lambda s: s.audit_events()),
]


def assert_unavailable(store: Store, call: Callable[[Store], Any]) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        call(store)

    digest = hashlib.sha256(SECRET.encode()).hexdigest()
    texts = [str(caught.value), str(caught.value.__cause__)]
    assert all(SECRET not in text and digest not in text for text in texts)


@pytest.mark.postgres
@pytest.mark.parametrize(("name", "call"), CALLS)
def test_postgresql_nobody_listening(name: str, call: Callable[[Store], Any]) -> None:
    store = Store.open(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/scim")
    try:
        assert_unavailable(store, call)
    finally:
        store.close()


@pytest.mark.parametrize(("name", "call"), CALLS)
def test_sqlite_directory_removed(
    tmp_path: Path, name: str, call: Callable[[Store], Any]
) -> None:
    url = f"sqlite:///{tmp_path / 'gone' / 'scim.db'}"
    (tmp_path / "gone").mkdir()
    first = Store.open(url)
    first.migrate()
    first.create_organisation(slug="acme", display_name="Acme", actor=ADMIN)
    first.close()
    shutil.rmtree(tmp_path / "gone")

    store = Store.open(url)
    try:
        assert_unavailable(store, call)
    finally:
        store.close()


def test_unmigrated_database_is_unavailable_with_a_hint(database_url: str) -> None:
    store = Store.open(database_url)
    try:
        with pytest.raises(StoreUnavailable, match="migrate"):
            store.authenticate(SECRET)
    finally:
        store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "mysql://x/y"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="sqlite:///"):
        Store.open(url)
