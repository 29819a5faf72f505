"""The Prompt-side dynamic provider against the SCIM service's admin API on loopback."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from prompt_pulumi.prompt_side import PromptOrganisationSettingsProvider
from provisioning.errors import PromptAdminUnauthorized
from tests.scim_api._server import ADMIN_KEY, Service, start_service

from .pulumi_harness import PROVIDER_BLOB, TENANT


@dataclass
class Prompt:
    """The SCIM service and the slug of the organisation one test works on."""

    service: Service
    slug: str

    def props(self, **changes: Any) -> dict[str, Any]:
        base = {
            "slug": self.slug,
            "admin_url": f"{self.service.url}/admin",
            "display_name": "Acme Health",
            "tenant_id": TENANT,
            "sso_enabled": True,
            "provisioning_enabled": True,
            "default_department": "Nursing",
            "default_section": "Ward 3",
            "issue_token": True,
            "__provider": PROVIDER_BLOB,
        }
        return {**base, **changes}

    def admin(self, method: str, path: str = "", **kwargs: Any) -> httpx.Response:
        with self.service.admin() as client:
            url = f"/admin/organisations/{self.slug}{path}"
            return client.request(method, url, **kwargs)

    def organisation(self) -> dict[str, Any]:
        return dict(self.admin("GET").json())

    def token_is_live(self, token: str) -> bool:
        answer = self.admin("POST", "/tokens/verify", json={"token": token})
        return bool(answer.json()["valid"])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    database = tmp_path_factory.mktemp("scim") / "scim.db"
    yield from start_service(f"sqlite:///{database}")


@pytest.fixture
def prompt(service: Service, monkeypatch: pytest.MonkeyPatch) -> Prompt:
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_KEY", ADMIN_KEY)
    return Prompt(service, f"org-{uuid.uuid4().hex[:10]}")


def test_create_sets_up_the_organisation_and_issues_a_working_code(
    prompt: Prompt, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = PromptOrganisationSettingsProvider().create(prompt.props())

    assert created.id == prompt.slug
    assert created.outs is not None
    assert prompt.organisation()["default_section"] == "Ward 3"
    assert prompt.organisation()["tenant_id"] == TENANT
    assert prompt.token_is_live(created.outs["token"])
    assert created.outs["token_live"] is True
    assert created.outs["token"] not in caplog.text
    with prompt.service.client(created.outs["token"]) as scim:
        assert scim.get("/Users").status_code == 200


def test_create_adopts_an_existing_organisation_and_fixes_its_settings(
    prompt: Prompt,
) -> None:
    prompt.service.organisation(
        prompt.slug, default_department="Surgery", sso_enabled=False
    )

    PromptOrganisationSettingsProvider().create(prompt.props())

    assert prompt.organisation()["default_department"] == "Nursing"
    assert prompt.organisation()["sso_enabled"] is True


def test_update_keeps_a_live_code_and_changes_settings(prompt: Prompt) -> None:
    provider = PromptOrganisationSettingsProvider()
    created = provider.create(prompt.props())
    news = prompt.props(default_section="Ward 4")

    assert provider.diff(prompt.slug, created.outs or {}, news).changes is True
    updated = provider.update(prompt.slug, created.outs or {}, news)

    assert updated.outs is not None
    assert updated.outs["token"] == (created.outs or {})["token"]
    assert prompt.organisation()["default_section"] == "Ward 4"
    assert provider.diff(prompt.slug, updated.outs, news).changes is False


def test_read_sees_a_revoked_code_and_update_issues_a_new_one(prompt: Prompt) -> None:
    provider = PromptOrganisationSettingsProvider()
    outs = provider.create(prompt.props()).outs or {}
    assert prompt.admin("DELETE", f"/tokens/{outs['token_id']}").is_success

    read = provider.read(prompt.slug, outs)
    assert read.outs is not None
    assert read.outs["token_live"] is False
    assert provider.diff(prompt.slug, read.outs, prompt.props()).changes is True

    updated = provider.update(prompt.slug, read.outs, prompt.props())
    assert updated.outs is not None
    assert updated.outs["token"] != outs["token"]
    assert prompt.token_is_live(updated.outs["token"])


def test_read_sees_settings_changed_in_prompt(prompt: Prompt) -> None:
    provider = PromptOrganisationSettingsProvider()
    created = provider.create(prompt.props())
    prompt.admin("PATCH", json={"provisioning_enabled": False})

    read = provider.read(prompt.slug, created.outs or {})

    assert read.outs is not None
    assert read.outs["provisioning_enabled"] is False
    assert provider.diff(prompt.slug, read.outs, prompt.props()).changes is True


def test_read_of_a_missing_organisation_reports_it_gone(prompt: Prompt) -> None:
    read = PromptOrganisationSettingsProvider().read(prompt.slug, prompt.props())

    assert read.id == ""


def test_delete_revokes_the_code_and_keeps_the_organisation(prompt: Prompt) -> None:
    provider = PromptOrganisationSettingsProvider()
    created = provider.create(prompt.props())

    provider.delete(prompt.slug, created.outs or {})

    assert not prompt.token_is_live((created.outs or {})["token"])
    assert prompt.organisation()["slug"] == prompt.slug


def test_without_issue_token_no_code_is_issued(prompt: Prompt) -> None:
    provider = PromptOrganisationSettingsProvider()
    created = provider.create(prompt.props(issue_token=False))

    assert created.outs is not None
    assert created.outs["token"] is None
    assert prompt.admin("GET", "/tokens").json() == []


def test_admin_key_comes_only_from_the_environment(
    prompt: Prompt, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMPT_SCIM_ADMIN_KEY")

    with pytest.raises(PromptAdminUnauthorized, match="PROMPT_SCIM_ADMIN_KEY"):
        PromptOrganisationSettingsProvider().create(prompt.props())
    assert prompt.admin("GET").status_code == 404
