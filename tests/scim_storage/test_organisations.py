"""Organisations: create, read, update, slug rules, audit."""

from __future__ import annotations

import pytest

from scim_service.errors import (
    OrganisationExists,
    OrganisationInvalid,
    OrganisationNotFound,
)
from scim_service.protocol.endpoints import ENDPOINTS
from scim_service.storage import Organisation, Store
from scim_service.storage._accounts import validate_slug
from tests.scim_storage.conftest import ADMIN


def test_create_get_list(store: Store, org: Organisation) -> None:
    other = store.create_organisation(slug="beta-2", display_name="Beta", actor=ADMIN)

    assert store.get_organisation("acme") == org
    assert [o.slug for o in store.list_organisations()] == ["acme", "beta-2"]
    assert org.default_department == "Nursing"
    assert org.sso_enabled is True
    assert other.provisioning_enabled is True
    assert org.created.tzinfo is not None


def test_create_twice_is_refused(store: Store, org: Organisation) -> None:
    with pytest.raises(OrganisationExists, match="acme"):
        store.create_organisation(slug="acme", display_name="Again", actor=ADMIN)


@pytest.mark.parametrize(
    "slug",
    [
        "a",
        "x" * 64,
        "Acme",
        "acme_health",
        "-acme",
        "acme-",
        "acme health",
        "users",
        "groups",
        "schemas",
        "resourcetypes",
        "serviceproviderconfig",
        "bulk",
        "me",
        ".search",
        "",
    ],
)
def test_invalid_slug_is_refused(slug: str) -> None:
    with pytest.raises(OrganisationInvalid, match="slug"):
        validate_slug(slug)


@pytest.mark.parametrize("slug", ["ab", "acme", "st-mary-2", "9lives", "x" * 63])
def test_valid_slug_is_accepted(slug: str) -> None:
    assert validate_slug(slug) == slug


@pytest.mark.parametrize("word", sorted(ENDPOINTS))
def test_every_endpoint_word_of_the_router_is_refused_as_a_slug(
    store: Store, word: str
) -> None:
    # /scim/v2/{word}/Users is routed as that endpoint, so an organisation
    # with the slug could never be provisioned.
    with pytest.raises(OrganisationInvalid, match="slug"):
        store.create_organisation(slug=word, display_name="X", actor=ADMIN)

    assert store.list_organisations() == []


def test_store_refuses_invalid_slug(store: Store) -> None:
    with pytest.raises(OrganisationInvalid, match="SCIM endpoint"):
        store.create_organisation(slug="users", display_name="X", actor=ADMIN)

    assert store.list_organisations() == []


def test_update_changes_fields_and_audits(store: Store, org: Organisation) -> None:
    updated = store.update_organisation(
        "acme", actor=ADMIN, default_section="Ward 4", sso_enabled=False
    )

    assert updated.default_section == "Ward 4"
    assert updated.sso_enabled is False
    assert updated.updated > org.updated
    assert store.get_organisation("acme") == updated
    event = store.audit_events("acme")[0]
    assert event.action == "organisation.update"
    assert (event.before or {})["default_section"] == "Ward 3"
    assert (event.after or {})["default_section"] == "Ward 4"


def test_update_without_change_writes_nothing(store: Store, org: Organisation) -> None:
    events = len(store.audit_events("acme"))

    same = store.update_organisation("acme", actor=ADMIN, default_section="Ward 3")

    assert same == org
    assert len(store.audit_events("acme")) == events


@pytest.mark.parametrize(
    "changes",
    [
        {"slug": "other"},
        {"id": 7},
        {"sso_enabled": "yes"},
        {"display_name": ""},
        {"tenant_id": "not-a-guid"},
        {"tenant_id": "11111111-2222-3333-4444-55555555555"},
    ],
)
def test_update_refuses_bad_fields(
    store: Store, org: Organisation, changes: dict[str, object]
) -> None:
    with pytest.raises(OrganisationInvalid):
        store.update_organisation("acme", actor=ADMIN, **changes)

    assert store.get_organisation("acme") == org


def test_unknown_organisation(store: Store) -> None:
    with pytest.raises(OrganisationNotFound, match="nobody"):
        store.get_organisation("nobody")
    with pytest.raises(OrganisationNotFound):
        store.update_organisation("nobody", actor=ADMIN, display_name="X")
    with pytest.raises(OrganisationNotFound):
        store.audit_events("nobody")


def test_create_is_audited(store: Store, org: Organisation) -> None:
    (event,) = store.audit_events("acme")

    assert event.action == "organisation.create"
    assert event.actor_kind == "admin"
    assert event.request_id == "req-admin"
    assert event.before is None
    assert (event.after or {})["slug"] == "acme"


def test_tenant_id_must_be_a_guid(store: Store) -> None:
    with pytest.raises(OrganisationInvalid, match="Overview > Tenant ID"):
        store.create_organisation(
            slug="gamma", display_name="Gamma", tenant_id="not-guid", actor=ADMIN
        )

    made = store.create_organisation(
        slug="gamma",
        display_name="Gamma",
        tenant_id="AAAAAAAA-2222-3333-4444-555555555555",
        actor=ADMIN,
    )
    assert made.tenant_id == "AAAAAAAA-2222-3333-4444-555555555555"
