"""`PromptOrganisation`: the Entra side of one Prompt organisation as Pulumi resources.

pulumi-azuread 6.x covers the application, secrets, job and assignments (iac.md
section 1); dynamic resources built on `provisioning` cover schema, test connection
and start (section 2). Dependencies keep the order of the manual procedure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_azuread as azuread

from prompt_pulumi.errors import ScimTokenUnavailable
from prompt_pulumi.prompt_side import PromptOrganisationSettings
from prompt_pulumi.providers import (
    CredentialCheck,
    JobTarget,
    SynchronizationJobStart,
    SynchronizationSchema,
)
from provisioning.entra import CUSTOM_APP_TEMPLATE, marker
from provisioning.spec import OrganisationSpec

__all__ = [
    "COMPONENT_TYPE",
    "NON_GALLERY_TEMPLATE_ID",
    "USER_ROLE_NAME",
    "PromptOrganisation",
    "pick_user_role",
]

COMPONENT_TYPE = "prompt:index:Organisation"

# "Integrate any other application you don't find in the gallery" (global cloud).
NON_GALLERY_TEMPLATE_ID = CUSTOM_APP_TEMPLATE

# Tags Entra gives a non-gallery instance: without them the application is not
# listed under Enterprise applications. The tags argument owns the whole list.
TEMPLATE_TAGS = (
    "WindowsAzureActiveDirectoryCustomSingleSignOnApplication",
    "WindowsAzureActiveDirectoryIntegratedApp",
)

# Non-gallery apps carry the roles "User" and "msiam_access", both with value null,
# so azuread's app_role_ids map (keyed by value) has no entry for them.
USER_ROLE_NAME = "User"


class PromptOrganisation(pulumi.ComponentResource):
    """The enterprise application, its provisioning and assignments for one org."""

    application_id: pulumi.Output[str]
    application_object_id: pulumi.Output[str]
    service_principal_id: pulumi.Output[str]
    job_id: pulumi.Output[str]
    scim_url: pulumi.Output[str]
    assignment_count: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        spec: OrganisationSpec,
        *,
        scim_token: pulumi.Input[str] | None,
        graph_base_url: str,
        manage_prompt: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(COMPONENT_TYPE, name, None, opts)
        slug = spec.organisation
        child = pulumi.ResourceOptions(parent=self)

        prompt_side = None
        if manage_prompt:
            prompt_side = PromptOrganisationSettings(
                f"{slug}-prompt-organisation",
                spec=spec,
                token_from_config=scim_token is not None,
                opts=child,
            )
        token = _scim_token(slug, scim_token, prompt_side)

        # Entra instantiates the application and its service principal together.
        app = azuread.ApplicationFromTemplate(
            f"{slug}-application",
            display_name=spec.application_name,
            template_id=NON_GALLERY_TEMPLATE_ID,
            opts=child,
        )
        app_id = azuread.get_application_output(
            object_id=app.application_object_id,
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).client_id

        # use_existing adopts the service principal the instantiation created, to
        # add the toolkit's marker tag (`prompt-provision status` finds the app by
        # it) and require assignment. retain_on_delete: the adopted object is
        # never deleted on its own; deleting the application removes it.
        service_principal = azuread.ServicePrincipal(
            f"{slug}-service-principal",
            client_id=app_id,
            use_existing=True,
            # The instance's own setting; azuread's default (false) would flip it.
            app_role_assignment_required=True,
            tags=[*TEMPLATE_TAGS, marker(slug)],
            opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True),
        )
        sp_object_id = service_principal.object_id

        secret = azuread.SynchronizationSecret(
            f"{slug}-synchronization-secret",
            service_principal_id=service_principal.id,
            credentials=_credentials(spec, token),
            opts=child,
        )

        # Created stopped: with enabled=True azuread starts the job at once, with
        # the template's default mappings (Groups on, mailNickname as externalId).
        # SynchronizationJobStart owns the running state, hence ignore_changes.
        job = azuread.SynchronizationJob(
            f"{slug}-synchronization-job",
            service_principal_id=service_principal.id,
            template_id="scim",
            enabled=False,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[secret], ignore_changes=["enabled"]
            ),
        )
        job_id = job.id.apply(_job_id)

        target = JobTarget(
            service_principal_id=sp_object_id,
            application_object_id=app.application_object_id,
            app_id=app_id,
            job_id=job_id,
            tenant_id=spec.entra.tenant_id,
            graph_base_url=graph_base_url,
        )
        check = CredentialCheck(
            f"{slug}-credential-check",
            base_address=spec.prompt.scim_url,
            token=token,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secret]),
            target=target,
        )
        schema = SynchronizationSchema(
            f"{slug}-synchronization-schema",
            groups=spec.provisioning.groups,
            matching=spec.provisioning.matching,
            user_attributes=dict(spec.provisioning.user_attributes),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[check]),
            target=target,
        )

        role_id = service_principal.app_roles.apply(pick_user_role)
        assignments = self._assignments(spec, role_id, sp_object_id, schema)

        SynchronizationJobStart(
            f"{slug}-synchronization-start",
            enabled=spec.provisioning.enabled,
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[schema, check, *assignments]
            ),
            target=target,
        )

        self.application_id = app_id
        self.application_object_id = app.application_object_id
        self.service_principal_id = sp_object_id
        self.job_id = job_id
        self.scim_url = pulumi.Output.from_input(spec.prompt.scim_url)
        self.assignment_count = pulumi.Output.from_input(len(assignments))
        self.register_outputs(
            {
                "application_id": self.application_id,
                "application_object_id": self.application_object_id,
                "service_principal_id": self.service_principal_id,
                "job_id": self.job_id,
                "scim_url": self.scim_url,
                "assignment_count": self.assignment_count,
            }
        )

    def _assignments(
        self,
        spec: OrganisationSpec,
        role_id: pulumi.Output[str],
        sp_object_id: pulumi.Output[str],
        schema: pulumi.Resource,
    ) -> list[azuread.AppRoleAssignment]:
        """Assign each configured user and group, after the mappings are in place."""
        slug = spec.organisation
        lookup = pulumi.InvokeOutputOptions(parent=self)
        principals: list[tuple[str, pulumi.Output[str]]] = []
        for upn in spec.assignments.users:
            user = azuread.get_user_output(user_principal_name=upn, opts=lookup)
            principals.append((f"{slug}-user-{_name_part(upn)}", user.object_id))
        for display_name in spec.assignments.groups:
            group = azuread.get_group_output(display_name=display_name, opts=lookup)
            name = f"{slug}-group-{_name_part(display_name)}"
            principals.append((name, group.object_id))

        return [
            azuread.AppRoleAssignment(
                name,
                app_role_id=role_id,
                principal_object_id=principal_id,
                resource_object_id=sp_object_id,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[schema]),
            )
            for name, principal_id in principals
        ]


def pick_user_role(app_roles: Sequence[Any] | None) -> str:
    """Return the id of the enabled app role named "User" (graph.md section 9)."""
    for role in app_roles or []:
        display_name = _field(role, "display_name", "displayName")
        enabled = _field(role, "enabled", "enabled")
        if display_name == USER_ROLE_NAME and enabled is not False:
            return str(_field(role, "id", "id"))
    names = sorted(_role_label(role) for role in app_roles or [])
    raise ValueError(
        f"the service principal has no enabled app role {USER_ROLE_NAME!r} "
        f"(it has: {', '.join(names) or 'none'}); was the application created from "
        f"the non-gallery template {NON_GALLERY_TEMPLATE_ID}?"
    )


def _role_label(role: Any) -> str:
    name = str(_field(role, "display_name", "displayName"))
    return f"{name} (disabled)" if _field(role, "enabled", "enabled") is False else name


def _field(role: Any, attribute: str, key: str) -> Any:
    # azuread's output types are dicts with property getters; plain dicts (from
    # a direct call) use the wire's camelCase keys.
    if hasattr(type(role), attribute):
        return getattr(role, attribute)
    return role.get(key) if isinstance(role, dict) else None


def _scim_token(
    slug: str,
    from_config: pulumi.Input[str] | None,
    prompt_side: PromptOrganisationSettings | None,
) -> pulumi.Output[str]:
    if from_config is not None:
        return pulumi.Output.secret(from_config)
    if prompt_side is not None:
        return pulumi.Output.secret(prompt_side.token)
    raise ScimTokenUnavailable(
        f"organisation {slug!r} has prompt.token {{issue: true}} but the Prompt side "
        "is not managed here; set prompt:managePromptOrganisation true, or give the "
        "token with `pulumi config set --secret prompt:scimToken`"
    )


def _credentials(
    spec: OrganisationSpec, token: pulumi.Output[str]
) -> list[azuread.SynchronizationSecretCredentialArgs]:
    """BaseAddress, SecretToken, SyncAll (scope), SyncNotificationSettings."""
    pairs: list[tuple[str, pulumi.Input[str]]] = [
        ("BaseAddress", spec.prompt.scim_url),
        ("SecretToken", token),
        # "Sync only assigned users and groups" is SyncAll=false (graph.md section 5).
        ("SyncAll", str(spec.provisioning.scope == "all").lower()),
    ]
    # The same complete set provisioning.entra.Entra.put_secrets saves.
    email = spec.entra.notification_email
    notify = {"Enabled": bool(email), "Recipients": email or ""}
    pairs.append(("SyncNotificationSettings", json.dumps(notify)))
    return [
        azuread.SynchronizationSecretCredentialArgs(key=key, value=value)
        for key, value in pairs
    ]


def _job_id(resource_id: str) -> str:
    # azuread's id is /servicePrincipals/{sp}/synchronization/jobs/{jobId}.
    return resource_id.rsplit("/", 1)[-1]


def _name_part(text: str) -> str:
    # Lower case keeps the resource (and so the assignment) when only case changes.
    return re.sub(r"[^a-z0-9@._-]+", "-", text.lower()).strip("-")
