"""Resources: create, find, uniqueness, update, archive and re-attach, audit."""

from __future__ import annotations

from typing import Any

import pytest

from scim_service.errors import (
    ResourceNotFound,
    StoreValueRejected,
    UniquenessConflict,
)
from scim_service.storage import PROMPT_EXTENSION, Organisation, Store
from tests.scim_storage.conftest import SCIM

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def alice(**extra: Any) -> dict[str, Any]:
    doc = {
        "userName": "Alice@Acme.example",
        "externalId": "0f1e2d3c-aaaa",
        "displayName": "Alice Smith",
        "active": True,
        ENTERPRISE: {"department": "Cardiology"},
    }
    doc.update(extra)
    return doc


def test_create_then_get_and_find(store: Store, org: Organisation) -> None:
    created, reattached = store.create_resource(org.id, "User", alice(), actor=SCIM)

    assert reattached is False
    assert len(created.id) == 32
    assert created.version == 1
    assert created.doc == alice()
    assert store.get_resource(org.id, "User", created.id) == created
    assert store.get_resource(org.id, "Group", created.id) is None
    for terms in (
        {"id": created.id},
        {"user_name": "alice@acme.EXAMPLE"},
        {"external_id": "0f1e2d3c-aaaa"},
        {"display_name": "ALICE SMITH"},
        {"user_name": "alice@acme.example", "external_id": "0f1e2d3c-aaaa"},
    ):
        assert store.find_resources(org.id, "User", **terms) == [created], terms
    assert store.find_resources(org.id, "User", external_id="0F1E2D3C-AAAA") == []
    assert store.find_resources(org.id, "User", user_name="bob@acme.example") == []


def test_resources_are_per_organisation(store: Store, org: Organisation) -> None:
    beta = store.create_organisation(slug="beta", display_name="Beta", actor=SCIM)
    created, _ = store.create_resource(org.id, "User", alice(), actor=SCIM)

    twin, _ = store.create_resource(beta.id, "User", alice(), actor=SCIM)

    assert store.get_resource(beta.id, "User", created.id) is None
    assert store.find_resources(beta.id, "User", user_name="alice@acme.example") == [
        twin
    ]
    assert store.count_resources(org.id, "User") == 1


@pytest.mark.parametrize(
    ("second", "conflict"),
    [
        ({"userName": "ALICE@acme.example"}, "userName"),
        ({"userName": "bob@acme.example", "externalId": "0f1e2d3c-aaaa"}, "externalId"),
        ({"userName": "bob@acme.example", "externalId": "0F1E2D3C-AAAA"}, None),
        ({"userName": "bob@acme.example", "displayName": "Alice Smith"}, None),
    ],
)
def test_user_uniqueness_rules(
    store: Store, org: Organisation, second: dict[str, Any], conflict: str | None
) -> None:
    store.create_resource(org.id, "User", alice(), actor=SCIM)

    if conflict is None:
        store.create_resource(org.id, "User", second, actor=SCIM)
        assert store.count_resources(org.id, "User") == 2
        return
    with pytest.raises(UniquenessConflict, match=conflict):
        store.create_resource(org.id, "User", second, actor=SCIM)
    assert store.count_resources(org.id, "User") == 1


def test_groups_may_share_a_display_name(store: Store, org: Organisation) -> None:
    store.create_resource(org.id, "Group", {"displayName": "Nurses"}, actor=SCIM)
    store.create_resource(org.id, "Group", {"displayName": "nurses"}, actor=SCIM)

    assert len(store.find_resources(org.id, "Group", display_name="NURSES")) == 2
    assert store.count_resources(org.id, "User") == 0


def test_list_is_stable_and_pages(store: Store, org: Organisation) -> None:
    ids = [
        store.create_resource(org.id, "User", {"userName": f"u{i}"}, actor=SCIM)[0].id
        for i in range(5)
    ]
    store.update_resource(
        org.id, "User", ids[0], lambda d: {**d, "title": "x"}, actor=SCIM, action="put"
    )

    assert [r.id for r in store.list_resources(org.id, "User")] == ids
    page = store.list_resources(org.id, "User", offset=1, limit=2)
    assert [r.id for r in page] == ids[1:3]
    assert store.count_resources(org.id, "User") == 5


def test_update_writes_new_version_and_audit(store: Store, org: Organisation) -> None:
    created, _ = store.create_resource(org.id, "User", alice(), actor=SCIM)

    updated = store.update_resource(
        org.id,
        "User",
        created.id,
        lambda doc: {**doc, "active": False},
        actor=SCIM,
        action="resource.patch",
    )

    assert updated.version == 2
    assert updated.doc["active"] is False
    assert updated.created == created.created
    assert updated.last_modified > created.last_modified
    assert store.get_resource(org.id, "User", created.id) == updated
    event = store.audit_events("acme", resource_id=created.id)[0]
    assert event.action == "resource.patch"
    assert event.token_id == SCIM.token_id
    assert (event.before or {})["active"] is True
    assert (event.after or {})["active"] is False


def test_update_hands_mutate_a_copy(store: Store, org: Organisation) -> None:
    created, _ = store.create_resource(org.id, "User", alice(), actor=SCIM)

    def vandalise(doc: dict[str, Any]) -> dict[str, Any]:
        doc[ENTERPRISE]["department"] = "Changed in place"
        raise ValueError("mutate failed")

    with pytest.raises(ValueError, match="mutate failed"):
        store.update_resource(
            org.id, "User", created.id, vandalise, actor=SCIM, action="patch"
        )

    assert store.get_resource(org.id, "User", created.id) == created
    assert created.doc[ENTERPRISE]["department"] == "Cardiology"
    assert len(store.audit_events("acme", resource_id=created.id)) == 1


def test_equal_update_writes_nothing(store: Store, org: Organisation) -> None:
    created, _ = store.create_resource(org.id, "User", alice(), actor=SCIM)

    same = store.update_resource(
        org.id, "User", created.id, lambda doc: doc, actor=SCIM, action="patch"
    )

    assert same == created
    assert store.get_resource(org.id, "User", created.id) == created
    assert len(store.audit_events("acme", resource_id=created.id)) == 1


def test_update_case_of_own_user_name_is_no_conflict(
    store: Store, org: Organisation
) -> None:
    created, _ = store.create_resource(org.id, "User", alice(), actor=SCIM)

    updated = store.update_resource(
        org.id,
        "User",
        created.id,
        lambda doc: {**doc, "userName": "ALICE@ACME.EXAMPLE"},
        actor=SCIM,
        action="patch",
    )

    assert updated.doc["userName"] == "ALICE@ACME.EXAMPLE"
    assert store.find_resources(org.id, "User", user_name="alice@acme.example") == [
        updated
    ]


def test_update_into_another_users_name_conflicts(
    store: Store, org: Organisation
) -> None:
    store.create_resource(org.id, "User", alice(), actor=SCIM)
    bob, _ = store.create_resource(org.id, "User", {"userName": "bob"}, actor=SCIM)

    with pytest.raises(UniquenessConflict, match="userName"):
        store.update_resource(
            org.id,
            "User",
            bob.id,
            lambda doc: {**doc, "userName": "alice@ACME.example"},
            actor=SCIM,
            action="patch",
        )

    assert store.get_resource(org.id, "User", bob.id) == bob


def test_archive_hides_but_keeps(store: Store, org: Organisation) -> None:
    created, _ = store.create_resource(org.id, "User", alice(), actor=SCIM)

    store.archive_resource(org.id, "User", created.id, actor=SCIM)

    assert store.get_resource(org.id, "User", created.id) is None
    assert store.find_resources(org.id, "User", id=created.id) == []
    assert store.find_resources(org.id, "User", user_name="alice@acme.example") == []
    assert store.list_resources(org.id, "User") == []
    assert store.count_resources(org.id, "User") == 0
    with pytest.raises(ResourceNotFound):
        store.archive_resource(org.id, "User", created.id, actor=SCIM)
    with pytest.raises(ResourceNotFound):
        store.update_resource(
            org.id, "User", created.id, lambda d: d, actor=SCIM, action="patch"
        )
    event = store.audit_events("acme")[0]
    assert event.action == "resource.archive"
    assert event.before == created.doc
    assert event.after is None


@pytest.mark.parametrize(
    "again",
    [
        {"userName": "renamed@acme.example", "externalId": "0f1e2d3c-aaaa"},
        {"userName": "ALICE@acme.example"},
        {"userName": "alice@acme.example", "externalId": "0f1e2d3c-aaaa"},
    ],
)
def test_create_reattaches_archived_person(
    store: Store, org: Organisation, again: dict[str, Any]
) -> None:
    prompt = {PROMPT_EXTENSION: {"department": "Theatre", "section": "Ward 9"}}
    created, _ = store.create_resource(org.id, "User", alice(**prompt), actor=SCIM)
    store.archive_resource(org.id, "User", created.id, actor=SCIM)

    back, reattached = store.create_resource(org.id, "User", again, actor=SCIM)

    assert reattached is True
    assert back.id == created.id
    assert back.version == 3
    assert back.created == created.created
    assert back.doc == {**again, **prompt}
    assert store.get_resource(org.id, "User", created.id) == back
    assert store.count_resources(org.id, "User") == 1
    event = store.audit_events("acme")[0]
    assert event.action == "resource.reattach"
    assert event.resource_id == created.id


def test_reattach_prefers_external_id_then_keeps_given_prompt_values(
    store: Store, org: Organisation
) -> None:
    by_name, _ = store.create_resource(org.id, "User", {"userName": "a"}, actor=SCIM)
    by_id, _ = store.create_resource(
        org.id,
        "User",
        {"userName": "b", "externalId": "X", PROMPT_EXTENSION: {"section": "S1"}},
        actor=SCIM,
    )
    store.archive_resource(org.id, "User", by_name.id, actor=SCIM)
    store.archive_resource(org.id, "User", by_id.id, actor=SCIM)

    back, reattached = store.create_resource(
        org.id,
        "User",
        {"userName": "a", "externalId": "X", PROMPT_EXTENSION: {"section": "S2"}},
        actor=SCIM,
    )

    assert reattached is True
    assert back.id == by_id.id
    assert back.doc[PROMPT_EXTENSION] == {"section": "S2"}
    assert store.get_resource(org.id, "User", by_name.id) is None


def test_prompt_defaults_fill_only_what_is_missing(
    store: Store, org: Organisation
) -> None:
    defaults = {"department": "Nursing", "section": "Ward 3"}

    fresh, _ = store.create_resource(
        org.id,
        "User",
        {"userName": "a", PROMPT_EXTENSION: {"section": "ICU"}},
        actor=SCIM,
        prompt_defaults=defaults,
    )
    store.update_resource(
        org.id,
        "User",
        fresh.id,
        lambda doc: {**doc, PROMPT_EXTENSION: {"department": "Theatre"}},
        actor=SCIM,
        action="patch",
    )
    store.archive_resource(org.id, "User", fresh.id, actor=SCIM)
    back, _ = store.create_resource(
        org.id, "User", {"userName": "A"}, actor=SCIM, prompt_defaults=defaults
    )

    assert fresh.doc[PROMPT_EXTENSION] == {"department": "Nursing", "section": "ICU"}
    assert back.doc[PROMPT_EXTENSION] == {"department": "Theatre", "section": "Ward 3"}


def test_reattach_blocked_by_live_holder(store: Store, org: Organisation) -> None:
    old, _ = store.create_resource(org.id, "User", alice(), actor=SCIM)
    store.archive_resource(org.id, "User", old.id, actor=SCIM)
    live, _ = store.create_resource(
        org.id, "User", {"userName": "alice@acme.example"}, actor=SCIM
    )
    assert live.id == old.id

    with pytest.raises(UniquenessConflict):
        store.create_resource(org.id, "User", alice(), actor=SCIM)

    assert store.count_resources(org.id, "User") == 1


def test_every_change_is_audited_once(store: Store, org: Organisation) -> None:
    created, _ = store.create_resource(org.id, "User", alice(), actor=SCIM)
    store.update_resource(
        org.id,
        "User",
        created.id,
        lambda d: {**d, "title": "RN"},
        actor=SCIM,
        action="resource.replace",
    )
    store.archive_resource(org.id, "User", created.id, actor=SCIM)
    store.create_resource(org.id, "User", alice(), actor=SCIM)
    group, _ = store.create_resource(org.id, "Group", {"displayName": "G"}, actor=SCIM)

    events = store.audit_events("acme")
    page = store.audit_events("acme", limit=2, before_id=events[1].id)

    assert [e.action for e in events] == [
        "resource.create",
        "resource.reattach",
        "resource.archive",
        "resource.replace",
        "resource.create",
        "organisation.create",
    ]
    assert events[0].resource_id == group.id
    assert [e.id for e in page] == [events[2].id, events[3].id]
    assert len(store.audit_events(resource_id=created.id)) == 4
    assert all(e.request_id == "req-scim" for e in events[:5])
    assert [e.organisation_slug for e in store.audit_events(limit=1)] == ["acme"]


def test_bad_paging_arguments_are_refused(store: Store, org: Organisation) -> None:
    with pytest.raises(ValueError, match="negative"):
        store.list_resources(org.id, "User", offset=-1)
    with pytest.raises(ValueError, match="limit"):
        store.audit_events("acme", limit=0)


def test_values_the_database_refuses_are_the_callers_fault(
    store: Store, org: Organisation
) -> None:
    # PostgreSQL refuses NUL in text (DataError); that is a bad request (400),
    # never StoreUnavailable, which Entra would retry for ever as a 503.
    search = {"user_name": "a\0"}
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(StoreValueRejected):
            store.find_resources(org.id, "User", **search)
        with pytest.raises(StoreValueRejected):
            store.create_resource(org.id, "User", alice(userName="a\0"), actor=SCIM)
    else:
        assert store.find_resources(org.id, "User", **search) == []


@pytest.mark.parametrize(
    "rid", ["\0", "x" * 33, "ABCDEF0123456789ABCDEF0123456789", "é" * 32, ""]
)
def test_ids_the_store_never_hands_out_are_not_found(
    store: Store, org: Organisation, rid: str
) -> None:
    store.create_resource(org.id, "User", alice(), actor=SCIM)

    assert store.get_resource(org.id, "User", rid) is None
    assert store.find_resources(org.id, "User", id=rid) == []
    assert store.audit_events("acme", resource_id=rid) == []
    with pytest.raises(ResourceNotFound):
        store.update_resource(
            org.id, "User", rid, lambda d: d, actor=SCIM, action="resource.patch"
        )
    with pytest.raises(ResourceNotFound):
        store.archive_resource(org.id, "User", rid, actor=SCIM)
