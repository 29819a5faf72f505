"""Provisioning Authentication Codes: issue, authenticate, rotate, revoke."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from scim_service.errors import OrganisationNotFound, TokenNotFound
from scim_service.storage import Organisation, Store
from scim_service.storage.tables import audit_events, tokens
from tests.scim_storage.conftest import ADMIN


def test_issued_secret_is_long_random_and_stored_only_as_sha256(
    store: Store, org: Organisation
) -> None:
    issued = store.issue_token("acme", actor=ADMIN, label="entra")

    assert issued.secret.startswith("pscim_")
    # 32 random bytes in URL-safe base64 are 43 characters: 256 bits.
    assert len(issued.secret) >= len("pscim_") + 43
    assert re.fullmatch(r"tok_[0-9a-f]{8}", issued.info.id)
    assert issued.secret not in repr(issued)
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(tokens)).all()
    assert len(rows) == 1
    assert issued.secret not in str(tuple(rows[0]))
    digest = hashlib.sha256(issued.secret.encode()).hexdigest()
    assert rows[0].secret_sha256 == digest


def test_authenticate_returns_organisation_and_token(
    store: Store, org: Organisation
) -> None:
    issued = store.issue_token("acme", actor=ADMIN, label="entra")

    result = store.authenticate(issued.secret)

    assert result is not None
    found_org, info = result
    assert found_org == org
    assert info.id == issued.info.id
    assert info.label == "entra"
    assert info.last_used is not None


@pytest.mark.parametrize("secret", ["", "pscim_wrong", "x" * 5000])
def test_unknown_secret_is_refused(
    store: Store, org: Organisation, secret: str
) -> None:
    store.issue_token("acme", actor=ADMIN)

    assert store.authenticate(secret) is None


def test_rotation_overlap_then_revoke(store: Store, org: Organisation) -> None:
    old = store.issue_token("acme", actor=ADMIN, label="old")
    new = store.issue_token("acme", actor=ADMIN, label="new")

    assert store.authenticate(old.secret) is not None
    assert store.authenticate(new.secret) is not None

    revoked = store.revoke_token("acme", old.info.id, actor=ADMIN)

    assert revoked.revoked is not None
    assert store.authenticate(old.secret) is None
    assert store.authenticate(new.secret) is not None
    listed = {info.id: info for info in store.list_tokens("acme")}
    assert listed[old.info.id].revoked is not None
    assert listed[new.info.id].revoked is None


def test_revocation_reaches_another_process_within_the_cache_ttl(
    database_url: str, store: Store, org: Organisation
) -> None:
    other = Store.open(database_url, auth_cache_ttl=0)
    try:
        issued = store.issue_token("acme", actor=ADMIN)
        assert other.authenticate(issued.secret) is not None

        store.revoke_token("acme", issued.info.id, actor=ADMIN)

        assert other.authenticate(issued.secret) is None
    finally:
        other.close()


def test_revoke_is_idempotent_and_audited_once(store: Store, org: Organisation) -> None:
    issued = store.issue_token("acme", actor=ADMIN)

    first = store.revoke_token("acme", issued.info.id, actor=ADMIN)
    second = store.revoke_token("acme", issued.info.id, actor=ADMIN)

    assert first == second
    actions = [event.action for event in store.audit_events("acme")]
    assert actions == ["token.revoke", "token.issue", "organisation.create"]


def test_revoke_unknown_token(store: Store, org: Organisation) -> None:
    store.create_organisation(slug="beta", display_name="Beta", actor=ADMIN)
    beta_token = store.issue_token("beta", actor=ADMIN)

    with pytest.raises(TokenNotFound, match="tok_"):
        store.revoke_token("acme", beta_token.info.id, actor=ADMIN)
    with pytest.raises(OrganisationNotFound):
        store.issue_token("nobody", actor=ADMIN)

    assert store.authenticate(beta_token.secret) is not None


def test_token_belongs_to_its_organisation(store: Store, org: Organisation) -> None:
    beta = store.create_organisation(slug="beta", display_name="Beta", actor=ADMIN)
    acme_token = store.issue_token("acme", actor=ADMIN)
    beta_token = store.issue_token("beta", actor=ADMIN)

    acme_result = store.authenticate(acme_token.secret)
    beta_result = store.authenticate(beta_token.secret)

    assert acme_result is not None
    assert acme_result[0].slug == "acme"
    assert beta_result is not None
    assert beta_result[0] == beta
    assert [t.id for t in store.list_tokens("beta")] == [beta_token.info.id]


def test_last_used_is_written_at_most_once_a_minute(
    database_url: str, store: Store, org: Organisation
) -> None:
    uncached = Store.open(database_url, auth_cache_ttl=0)
    try:
        issued = store.issue_token("acme", actor=ADMIN)
        first = uncached.authenticate(issued.secret)
        second = uncached.authenticate(issued.secret)
        assert first is not None
        assert second is not None
        assert first[1].last_used == second[1].last_used

        # Pretend the last use was two minutes ago: the next use records itself.
        earlier = datetime.now(UTC) - timedelta(minutes=2)
        with uncached.engine.begin() as conn:
            conn.execute(tokens.update().values(last_used=earlier))
        third = uncached.authenticate(issued.secret)
    finally:
        uncached.close()

    assert third is not None
    assert third[1].last_used is not None
    assert third[1].last_used > earlier + timedelta(minutes=1)
    (stored,) = store.list_tokens("acme")
    assert stored.last_used == third[1].last_used


def test_no_secret_reaches_audit_or_logs(
    store: Store, org: Organisation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    issued = store.issue_token("acme", actor=ADMIN, label="entra")
    store.authenticate(issued.secret)
    store.revoke_token("acme", issued.info.id, actor=ADMIN)
    store.authenticate(issued.secret)

    digest = hashlib.sha256(issued.secret.encode()).hexdigest()
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_events)).all()
    dumped = json.dumps([list(map(str, row)) for row in rows])
    events = store.audit_events("acme")
    assert [e.action for e in events][:2] == ["token.revoke", "token.issue"]
    assert (events[1].after or {})["id"] == issued.info.id
    assert (events[1].after or {})["label"] == "entra"
    for text in (dumped, caplog.text):
        assert issued.secret not in text
        assert issued.secret[len("pscim_") :] not in text
        assert digest not in text
