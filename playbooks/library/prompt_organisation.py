"""Ansible module: apply one Prompt organisation file (Prompt side and Entra side).

Runs the provisioning engine's plan and apply (provisioning package); check mode plans.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.prompt_provisioning import (
    COMMON_ARGUMENTS,
    EngineFailure,
    diff_of,
    engine_from_params,
)

DOCUMENTATION = r"""
---
module: prompt_organisation
short_description: Apply a Prompt organisation file to Prompt and Entra ID
description:
  - Brings one Prompt organisation and its Microsoft Entra ID automatic user
    provisioning to the state its organisation file describes, through the
    C(provisioning) engine (the same plan and apply as C(prompt-provision apply)).
  - Prompt side (with C(prompt.admin_url)) - organisation, SSO and provisioning
    enabled, tenant id, default department and section, provisioning token.
  - Entra side - enterprise application (found again by its marker, never by name),
    synchronization job, secrets (tenant URL, token, scope, notification e-mail),
    attribute mappings, assignments, job started or paused.
  - With O(state=absent) the enterprise application is deleted (with its job and
    assignments) and provisioning is turned off on the Prompt side; users already
    in Prompt stay.
  - Check mode computes the plan and writes nothing; C(changed) then says whether
    the plan has changes. Diff mode shows the plan's changes as before and after.
  - C(changed) is true exactly when something was written to Prompt or Entra.
  - A second run with the same file writes nothing and reports C(changed=false).
version_added: "0.1.0"
author:
  - Prompt platform team
requirements:
  - the C(provisioning) package importable by the interpreter running the module
    (set C(ansible_python_interpreter) to C({{ ansible_playbook_python }}), as the
    C(prompt_organisations) inventory does)
options:
  path:
    description:
      - Organisation file (YAML) to apply.
    type: path
    required: true
  state:
    description:
      - V(present) configures the organisation; V(absent) offboards it.
    type: str
    choices: [present, absent]
    default: present
  graph_url:
    description:
      - Microsoft Graph base URL. Plain C(http) only on loopback (the Entra emulator).
      - Falls back to the environment variable E(PROMPT_GRAPH_URL).
    type: str
    default: https://graph.microsoft.com/v1.0
  graph_credential:
    description:
      - How the engine signs in to Graph.
      - V(default) uses azure-identity's DefaultAzureCredential (environment
        E(AZURE_CLIENT_ID), E(AZURE_TENANT_ID), E(AZURE_CLIENT_SECRET), workload or
        managed identity, Azure CLI).
      - V(client-secret) and V(workload-identity) read the matching E(AZURE_*)
        variables; V(anonymous) sends no token and is refused unless O(graph_url) is
        on loopback.
      - Falls back to the environment variable E(PROMPT_GRAPH_CREDENTIAL).
    type: str
    choices: [default, client-secret, workload-identity, anonymous]
    default: default
  prompt_admin_key:
    description:
      - Admin key of the bundled Prompt SCIM service, used for organisations whose
        file sets C(prompt.admin_url).
      - Falls back to the environment variable E(PROMPT_SCIM_ADMIN_KEY). Never logged.
    type: str
attributes:
  check_mode:
    support: full
    description: Computes the plan; nothing is written.
  diff_mode:
    support: full
    description: The plan's changes, each as before and after.
notes:
  - "Secrets in the organisation file are references (C({env: NAME}),
    C({file: path}) or C({issue: true})); the module resolves them on the host that
    runs it and never returns them."
  - Graph masks the secret token on read, so a token change is found by a
    fingerprint the engine keeps, not by comparing values.
seealso:
  - module: prompt_organisation_status
"""

EXAMPLES = r"""
- name: Configure one organisation
  prompt_organisation:
    path: organisations/acme.yaml

- name: Configure against the Entra emulator on loopback
  prompt_organisation:
    path: organisations/acme.yaml
    graph_url: http://127.0.0.1:8900/v1.0
    graph_credential: anonymous

- name: Every organisation of the inventory, admin key from a vault
  prompt_organisation:
    path: "{{ prompt_organisation_file }}"
    prompt_admin_key: "{{ vault_prompt_admin_key }}"
  register: applied

- name: Offboard an organisation
  prompt_organisation:
    path: organisations/acme.yaml
    state: absent
"""

RETURN = r"""
organisation:
  description: Slug of the organisation (its C(organisation) key).
  returned: always
  type: str
  sample: acme
summary:
  description: One line saying what happened, for summaries.
  returned: always
  type: str
  sample: applied 9 changes
changes:
  description:
    - The plan's changes; in check mode those that would be made, otherwise those
      that were made. Empty when the organisation was in shape.
  returned: always
  type: list
  elements: dict
  contains:
    step:
      description:
        - The step of the engine, in the order apply runs them
          (C(prompt-organisation), C(prompt-token), C(application), C(job),
          C(credentials), C(secrets), C(schema), C(assignment), C(job-state));
          C(offboard) for O(state=absent).
      type: str
      sample: schema
    action:
      description: What the change does (C(create), C(update), C(issue),
        C(validate), C(assign), C(unassign), C(start), C(pause), C(restart),
        C(delete)).
      type: str
      sample: update
    target:
      description: What it changes.
      type: str
      sample: attribute mappings
    details:
      description: The change in words, one line each; secrets only as
        C((changed)).
      type: list
      elements: str
      sample: ["Groups object mapping is enabled (want disabled)"]
application:
  description: The Entra enterprise application after the run (absent when none).
  returned: when an application exists
  type: dict
  contains:
    application_object_id:
      description: Object id of the application.
      type: str
    app_id:
      description: Application (client) id.
      type: str
    service_principal_id:
      description: Object id of the service principal (enterprise application).
      type: str
writes:
  description: Number of changes written to Prompt and Graph (0 in check mode).
  returned: always
  type: int
  sample: 9
engine_log:
  description:
    - The provisioning engine's log lines of this run (INFO, one per change made in
      Prompt or Entra; WARNING, retries). Never contains a token or secret. Also
      returned when the task fails.
  returned: always
  type: list
  elements: str
  sample: ["INFO created synchronization job scim.3f... for acme"]
"""


def main() -> None:
    """Plan (check mode) or apply the organisation file."""
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "state": {
                "type": "str",
                "choices": ["present", "absent"],
                "default": "present",
            },
            **COMMON_ARGUMENTS,
        },
        supports_check_mode=True,
    )
    engine = engine_from_params(module.params)

    try:
        outcome = engine.run(
            module.params["path"],
            state=module.params["state"],
            check=module.check_mode,
        )
    except EngineFailure as failure:
        module.fail_json(msg=str(failure), **failure.details)

    result = outcome.result()
    if module._diff:
        offboarded = module.params["state"] == "absent"
        result["diff"] = diff_of(
            outcome.changes, "offboarded" if offboarded else "organisation file"
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
