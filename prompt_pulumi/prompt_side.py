"""Dynamic resource for the Prompt side of an organisation (SCIM service admin API).

Uses provisioning.prompt.PromptAdmin; the admin key is read from the environment
(PROMPT_SCIM_ADMIN_KEY) inside each method, so it is never an input or in state.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from provisioning.prompt import ORGANISATION_FIELDS, PromptAdmin
from provisioning.spec import OrganisationSpec

__all__ = ["PromptOrganisationSettings", "PromptOrganisationSettingsProvider"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What the manual procedure sets in Prompt before Entra is touched, as the admin
# API names it.
SETTINGS = ORGANISATION_FIELDS


class PromptOrganisationSettingsProvider(ResourceProvider):
    """Creates or adopts the organisation, keeps its settings, issues the code.

    With `issue_token` a Provisioning Authentication Code is issued once and kept
    as the secret output `token`; `read` notices when it was revoked, and the next
    `pulumi up` issues a new one. `delete` revokes the issued code and keeps the
    organisation and its users (nothing is destroyed by provisioning).
    """

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["slug"], self._apply(props, None))

    def update(
        self, _id: str, olds: dict[str, Any], news: dict[str, Any]
    ) -> UpdateResult:
        return UpdateResult(self._apply(news, olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        async def step(admin: PromptAdmin) -> dict[str, Any] | None:
            organisation = await admin.get_organisation(props["slug"])
            if organisation is None:
                return None
            outs = {**_inputs(props), **_settings(organisation)}
            if props.get("token_id"):
                live = {
                    t.id
                    for t in await admin.list_tokens(props["slug"])
                    if not t.revoked
                }
                outs["token_live"] = props["token_id"] in live
            return outs

        outs = _run(props["admin_url"], step)
        return ReadResult("", {}) if outs is None else ReadResult(id_, outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [
            key
            for key in ("admin_url", "issue_token", *SETTINGS)
            if news.get(key) == pulumi.UNKNOWN or olds.get(key) != news.get(key)
        ]
        if news.get("issue_token") and olds.get("token_live") is False:
            changed.append("token")
        replaces = ["slug"] if olds.get("slug") != news.get("slug") else []
        return DiffResult(changes=bool(changed or replaces), replaces=replaces)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        async def step(admin: PromptAdmin) -> None:
            if props.get("token_id") and props.get("token_live", True):
                await admin.revoke_token(props["slug"], props["token_id"])
            logger.info(
                "kept Prompt organisation %s and its users; only the code was revoked",
                props["slug"],
            )

        _run(props["admin_url"], step)

    def _apply(
        self, props: dict[str, Any], olds: dict[str, Any] | None
    ) -> dict[str, Any]:
        wanted = {key: props[key] for key in SETTINGS}

        async def step(admin: PromptAdmin) -> dict[str, Any]:
            slug = props["slug"]
            organisation = await admin.get_organisation(slug)
            if organisation is None:
                organisation = await admin.create_organisation(slug, **wanted)
            else:
                changes = {
                    key: value
                    for key, value in wanted.items()
                    if getattr(organisation, key) != value
                }
                if changes:
                    organisation = await admin.update_organisation(slug, **changes)

            outs = {**_inputs(props), **_settings(organisation)}
            outs.update(await _token(admin, props, olds))
            return outs

        return _run(props["admin_url"], step)


class PromptOrganisationSettings(
    Resource, module="prompt", name="PromptOrganisationSettings"
):
    """The organisation in Prompt: tenant, SSO and provisioning on, defaults."""

    token: pulumi.Output[str]
    token_id: pulumi.Output[str]
    token_live: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        *,
        spec: OrganisationSpec,
        token_from_config: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if spec.prompt.admin_url is None:
            raise ValueError(
                f"organisation {spec.organisation!r} has no prompt.admin_url; set it "
                "or set prompt:managePromptOrganisation false"
            )
        props = {
            "slug": spec.organisation,
            "admin_url": spec.prompt.admin_url,
            "display_name": spec.display_name,
            "tenant_id": spec.entra.tenant_id,
            "sso_enabled": True,
            "provisioning_enabled": True,
            "default_department": spec.prompt.default_department,
            "default_section": spec.prompt.default_section,
            "issue_token": bool(spec.prompt.token.issue) and not token_from_config,
            "token": None,
            "token_id": None,
            "token_live": None,
        }
        opts = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(additional_secret_outputs=["token"])
        )
        super().__init__(PromptOrganisationSettingsProvider(), name, props, opts)


async def _token(
    admin: PromptAdmin, props: dict[str, Any], olds: dict[str, Any] | None
) -> dict[str, Any]:
    """Keep the issued code while it is live; issue one when there is none."""
    if not props["issue_token"]:
        return {"token": None, "token_id": None, "token_live": None}

    olds = olds or {}
    if olds.get("token") and olds.get("token_id"):
        live = {t.id for t in await admin.list_tokens(props["slug"]) if not t.revoked}
        if olds["token_id"] in live:
            return {
                "token": olds["token"],
                "token_id": olds["token_id"],
                "token_live": True,
            }

    record, secret = await admin.issue_token(props["slug"], label="pulumi")
    return {"token": secret, "token_id": record.id, "token_live": True}


def _settings(organisation: Any) -> dict[str, Any]:
    return {key: getattr(organisation, key) for key in SETTINGS}


def _inputs(props: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in props.items() if not k.startswith("__")}


def _run(admin_url: str, step: Callable[[PromptAdmin], Awaitable[T]]) -> T:
    async def main() -> T:
        admin = PromptAdmin.from_env(admin_url)
        try:
            return await step(admin)
        finally:
            await admin.aclose()

    return asyncio.run(main())
