"""Ansible module: report the provisioning status of one Prompt organisation.

Reads only (provisioning engine's status); optionally fails when unhealthy.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.prompt_provisioning import (
    COMMON_ARGUMENTS,
    EngineFailure,
    engine_from_params,
)

DOCUMENTATION = r"""
---
module: prompt_organisation_status
short_description: Report the Entra ID provisioning status of a Prompt organisation
description:
  - Reads, for the organisation of one organisation file, the state of its Entra
    synchronization job, the counts of the last provisioning cycle, quarantine and
    its reason, recent provisioning-log failures, and whether the configuration has
    drifted from the file (the pending plan).
  - Uses the C(provisioning) engine (the same as C(prompt-provision status)).
  - Never writes anything, so C(changed) is always false and check mode is the same
    run.
  - With O(fail_when_unhealthy=true) the task fails when the organisation is
    unhealthy, with the reasons in C(msg).
version_added: "0.1.0"
author:
  - Prompt platform team
requirements:
  - the C(provisioning) package importable by the interpreter running the module
options:
  path:
    description:
      - Organisation file (YAML) whose organisation to inspect.
    type: path
    required: true
  fail_when_unhealthy:
    description:
      - Fail the task when the organisation is unhealthy (no application, job not
        running while the file wants it on, quarantine, recent failures).
    type: bool
    default: false
  graph_url:
    description:
      - Microsoft Graph base URL. Plain C(http) only on loopback (the Entra emulator).
      - Falls back to the environment variable E(PROMPT_GRAPH_URL).
    type: str
    default: https://graph.microsoft.com/v1.0
  graph_credential:
    description:
      - How the engine signs in to Graph; see M(prompt_organisation).
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
    description: Reads only, in both modes.
  diff_mode:
    support: none
seealso:
  - module: prompt_organisation
"""

EXAMPLES = r"""
- name: Status of one organisation, failing when unhealthy
  prompt_organisation_status:
    path: organisations/acme.yaml
    fail_when_unhealthy: true

- name: Status of every organisation, report only
  prompt_organisation_status:
    path: "{{ prompt_organisation_file }}"
  register: status

- name: Show quarantined organisations
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }}: {{ status.status.quarantine }}"
  when: status.status.quarantine is not none
"""

RETURN = r"""
organisation:
  description: Slug of the organisation.
  returned: always
  type: str
  sample: acme
healthy:
  description: Whether the organisation is healthy (C(problems) is empty).
  returned: always
  type: bool
  sample: true
problems:
  description: Why the organisation is unhealthy, one actionable line each.
  returned: always
  type: list
  elements: str
  sample: ["synchronization job is quarantined: EncounteredQuarantineException"]
summary:
  description: One line for summaries.
  returned: always
  type: str
  sample: healthy (job Active)
status:
  description: The engine's status report of the organisation.
  returned: always
  type: dict
  contains:
    state:
      description: Schedule state of the synchronization job (C(Active),
        C(Disabled), ...); C(-) when there is no job.
      type: str
      sample: Active
    code:
      description: Status code of the job (C(NotRun), C(Active), C(Paused),
        C(Quarantine), ...).
      type: str
    last_cycle:
      description: State of the last provisioning cycle, C(never run) before the
        first one.
      type: str
    counts:
      description: Counts of the last cycle as Graph reports them
        (C(countImported), C(countExported), C(countEscrowed)).
      type: dict
    quarantine:
      description: Quarantine reason and error, null when not quarantined.
      type: str
    failures:
      description: Recent failed provisioning-log entries, one line each.
      type: list
      elements: str
drift:
  description:
    - Pending changes that would bring the organisation back to its file (the plan,
      as M(prompt_organisation) returns it in check mode). Drift alone does not make
      the organisation unhealthy; a plan that cannot be computed does.
  returned: always
  type: list
  elements: dict
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
    """Report the status; fail on request when unhealthy."""
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "fail_when_unhealthy": {"type": "bool", "default": False},
            **COMMON_ARGUMENTS,
        },
        supports_check_mode=True,
    )
    engine = engine_from_params(module.params)

    try:
        report = engine.status(module.params["path"])
    except EngineFailure as failure:
        module.fail_json(msg=str(failure), **failure.details)

    result = report.result()
    if module.params["fail_when_unhealthy"] and not result["healthy"]:
        problems = "; ".join(result["problems"])
        module.fail_json(
            msg=f"{result['organisation']} is unhealthy: {problems}", **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
