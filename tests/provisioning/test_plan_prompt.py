"""provisioning.prompt against the real SCIM service admin API on loopback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from provisioning.errors import (
    PromptAdminError,
    PromptAdminUnauthorized,
    PromptAdminUnreachable,
)
from provisioning.prompt import PromptAdmin

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
