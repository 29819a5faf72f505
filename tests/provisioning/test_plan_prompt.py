"""provisioning.prompt against the real SCIM service admin API on loopback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from provisioning.errors import (
    PromptAdminError,
    PromptAdminOriginRefused,
    PromptAdminUnauthorized,
    PromptAdminUnreachable,
)
from provisioning.prompt import PromptAdmin, check_admin_origin

from .engine_support import PromptService, free_port


def test_organisation_and_token_lifecycle(
    prompt_service: PromptService, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        admin = PromptAdmin.from_env(prompt_service.admin_url)
        assert await admin.get_organisation("acme") is None

        created = await admin.create_organisation(
            "acme", display_name="Acme", default_department="Nursing"
        )
        assert created.provisioning_enabled is True
        updated = await admin.update_organisation("acme", default_section="Ward 3")
        assert (updated.default_department, updated.default_section) == (
            "Nursing",
            "Ward 3",
        )

        token, secret = await admin.issue_token("acme", label="prompt-provision")
        assert await admin.verify_token("acme", secret) == token.id
        assert await admin.verify_token("acme", secret + "x") is None
        await admin.revoke_token("acme", token.id)
        assert await admin.verify_token("acme", secret) is None
        (listed,) = await admin.list_tokens("acme")
        assert listed.id == token.id
        assert listed.revoked
        await admin.aclose()

        assert secret not in caplog.text

    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
    assert "issued Provisioning Authentication Code tok_" in caplog.text


def test_wrong_admin_key_is_actionable(prompt_service: PromptService) -> None:
    async def scenario() -> None:
        admin = PromptAdmin(prompt_service.admin_url, "wrong-key")
        try:
            await admin.get_organisation("acme")
        finally:
            await admin.aclose()

    with pytest.raises(PromptAdminUnauthorized, match="PROMPT_SCIM_ADMIN_KEY"):
        asyncio.run(scenario())


def test_missing_admin_key_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPT_SCIM_ADMIN_KEY", raising=False)
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_ORIGINS", "https://prompt.example.com")

    with pytest.raises(PromptAdminUnauthorized, match="is not: export"):
        PromptAdmin.from_env("https://prompt.example.com/admin")


def test_unreachable_admin_api() -> None:
    async def scenario() -> None:
        admin = PromptAdmin(f"http://127.0.0.1:{free_port()}/admin", "k")
        try:
            await admin.list_tokens("acme")
        finally:
            await admin.aclose()

    with pytest.raises(PromptAdminUnreachable, match=r"check prompt\.admin_url"):
        asyncio.run(scenario())


def test_refused_change_names_the_reason(prompt_service: PromptService) -> None:
    async def scenario() -> None:
        admin = PromptAdmin.from_env(prompt_service.admin_url)
        try:
            await admin.create_organisation("users", display_name="x")
        finally:
            await admin.aclose()

    with pytest.raises(PromptAdminError, match=r"422 .*SCIM endpoint name"):
        asyncio.run(scenario())


ORIGINS = [
    # (PROMPT_SCIM_ADMIN_ORIGINS, prompt.admin_url, allowed)
    ("", "http://127.0.0.1:8000/admin", True),
    ("", "http://127.9.9.9/admin", True),
    ("", "http://localhost:9/admin", True),
    ("", "https://LocalHost/admin", True),
    ("", "http://[::1]:8000/admin", True),
    ("", "https://prompt.example.com/admin", False),
    ("", "https://127.0.0.1.attacker.example/admin", False),
    ("", "https://localhost.attacker.example/admin", False),
    ("https://prompt.example.com", "https://prompt.example.com/admin", True),
    ("https://prompt.example.com", "https://PROMPT.example.com:443/admin", True),
    ("https://prompt.example.com:443/", "https://prompt.example.com/admin", True),
    (" https://a.example , ,https://prompt.example.com ", "https://prompt.example.com",
     True),
    ("https://prompt.example.com", "https://prompt.example.com:8443/admin", False),
    ("https://prompt.example.com:8443", "https://prompt.example.com/admin", False),
    ("http://prompt.example.com", "https://prompt.example.com/admin", False),
    ("https://prompt.example.com", "https://prompt.example.com.attacker.example/a",
     False),
    ("https://prompt.example.com", "https://attacker.example/admin", False),
]  # fmt: skip


@pytest.mark.parametrize(("allowed", "admin_url", "ok"), ORIGINS)
def test_admin_key_goes_only_to_loopback_or_allowed_origins(
    allowed: str, admin_url: str, ok: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_ORIGINS", allowed)

    if ok:
        check_admin_origin(admin_url)
        return
    with pytest.raises(PromptAdminOriginRefused, match="not an allowed admin origin"):
        PromptAdmin.from_env(admin_url, source="organisations/acme.yaml")


def test_refused_origin_names_the_file_and_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMPT_SCIM_ADMIN_ORIGINS", raising=False)

    with pytest.raises(PromptAdminOriginRefused) as caught:
        PromptAdmin.from_env(
            "https://x.example:8443/admin", source="organisations/acme.yaml"
        )

    assert str(caught.value) == (
        "organisations/acme.yaml: prompt.admin_url https://x.example:8443/admin is "
        "not an allowed admin origin; set PROMPT_SCIM_ADMIN_ORIGINS="
        "https://x.example:8443 to allow sending the admin key there"
    )


@pytest.mark.parametrize(
    "entry", ["prompt.example.com", "https://prompt.example.com/admin", "ftp://x"]
)
def test_malformed_allowed_origin_is_named(
    entry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROMPT_SCIM_ADMIN_ORIGINS", f"https://ok.example,{entry}")

    with pytest.raises(PromptAdminOriginRefused, match=f"holds '{entry}', which is"):
        check_admin_origin("https://ok.example/admin")


def test_admin_url_with_a_password_is_refused_without_repeating_it() -> None:
    with pytest.raises(PromptAdminOriginRefused) as caught:
        check_admin_origin("https://user:p4ss@prompt.example.com/admin")

    assert "p4ss" not in str(caught.value)
