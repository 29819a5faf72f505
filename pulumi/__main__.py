"""Pulumi program: the Entra side of one Prompt organisation per stack.

Stack config is described in Pulumi.yaml; the resources in prompt_pulumi.component.
"""

from pathlib import Path

import pulumi

from prompt_pulumi.component import PromptOrganisation
from prompt_pulumi.settings import read_stack_settings

# Pulumi.yaml sits one level up; organisation file paths are relative to it.
settings = read_stack_settings(Path(__file__).resolve().parent.parent)

organisation = PromptOrganisation(
    settings.spec.organisation,
    settings.spec,
    scim_token=settings.scim_token,
    graph_base_url=settings.graph_base_url,
    manage_prompt=settings.manage_prompt,
)

pulumi.export("organisation", settings.spec.organisation)
pulumi.export("applicationId", organisation.application_id)
pulumi.export("applicationObjectId", organisation.application_object_id)
pulumi.export("servicePrincipalId", organisation.service_principal_id)
pulumi.export("jobId", organisation.job_id)
pulumi.export("scimUrl", organisation.scim_url)
pulumi.export("assignmentCount", organisation.assignment_count)
