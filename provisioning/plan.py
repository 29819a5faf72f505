"""Organisation file vs Prompt and Graph -> ordered changes for apply (reads only).

Order as DESIGN.md's engine; rendered as text, markdown or JSON, secrets only as
"(changed)"/"(unchanged)".
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from provisioning import _fingerprint
from provisioning.errors import TokenNotUsable, UnknownPrincipal
from provisioning.mappings import schema_drift
from provisioning.prompt import PromptAdmin
from provisioning.spec import OrganisationSpec

__all__ = [
    "Change",
    "EntraApi",
    "OrganisationPlan",
    "plan_organisation",
    "render",
]

TOKEN_LABEL = "prompt-provision"


class AppLike(Protocol):
    """What the engine needs of provisioning.entra.AppRef."""

    @property
    def application_object_id(self) -> str: ...
    @property
    def app_id(self) -> str: ...
    @property
    def service_principal_id(self) -> str: ...


class EntraApi(Protocol):
    """The provisioning.entra.Entra methods the engine calls (contract)."""

    async def find_app(self, slug: str) -> Any: ...
    async def create_app(self, slug: str, display_name: str) -> Any: ...
    async def delete_app(self, app: Any) -> None: ...
    async def get_job(self, app: Any) -> dict[str, Any] | None: ...
    async def create_job(self, app: Any) -> dict[str, Any]: ...
    async def validate_credentials(
        self,
        app: Any,
        job_id: str,
        base_address: str,
        token: str,
        *,
        renew: str | None = None,
    ) -> None: ...
    async def put_secrets(
        self,
        app: Any,
        *,
        base_address: str,
        token: str,
        sync_all: bool,
        notification_email: str | None,
    ) -> None: ...
    async def get_secrets(self, app: Any) -> dict[str, str]: ...
    async def get_schema(self, app: Any, job_id: str) -> dict[str, Any]: ...
    async def put_schema(
        self, app: Any, job_id: str, schema: dict[str, Any]
    ) -> None: ...
    async def list_assignments(self, app: Any) -> list[dict[str, Any]]: ...
    async def user_role_id(self, app: Any) -> str: ...
    async def find_user(self, upn: str) -> dict[str, Any] | None: ...
    async def find_group(self, display_name: str) -> dict[str, Any] | None: ...
    async def assign(
        self, app: Any, principal_id: str, role_id: str
    ) -> dict[str, Any]: ...
    async def unassign(self, app: Any, assignment_id: str) -> None: ...
    async def start_job(self, app: Any, job_id: str) -> None: ...
    async def pause_job(self, app: Any, job_id: str) -> None: ...
    async def restart_job(self, app: Any, job_id: str) -> None: ...
    async def provision_on_demand(
        self, app: Any, job_id: str, rule_id: str, principal_ids: list[str]
    ) -> dict[str, Any]: ...  # {principal id: {"result", "details", "steps"}}
    async def provisioning_logs(
        self, app: Any, job_id: str, *, top: int
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Change:
    """One write apply will make; `data` feeds apply and is never rendered."""

    step: str
    action: str
    target: str
    details: tuple[str, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def as_json(self) -> dict[str, Any]:
        """Return the renderable part (no data)."""
        return {
            "step": self.step,
            "action": self.action,
            "target": self.target,
            "details": list(self.details),
        }


@dataclass
class OrganisationPlan:
    """Changes for one organisation, plus what was read to compute them."""

    path: Path
    spec: OrganisationSpec
    changes: list[Change] = field(default_factory=list)
    app: Any = None
    job: dict[str, Any] | None = None
    fingerprint: _fingerprint.Fingerprint | None = None
    token_codes: tuple[str, ...] = ()

    @property
    def slug(self) -> str:
        """The organisation's slug."""
        return self.spec.organisation

    def add(
        self, step: str, action: str, target: str, *details: str, **data: Any
    ) -> None:
        """Append a change."""
        self.changes.append(Change(step, action, target, tuple(details), data))


@dataclass(frozen=True)
class _Token:
    """How the SecretToken is known: fingerprint part and, if resolvable, value."""

    fingerprint: str | None
    changed: bool
    issue: bool
    ours: tuple[str, ...] = ()  # live codes the engine issued (label TOKEN_LABEL)


async def plan_organisation(
    path: Path,
    spec: OrganisationSpec,
    entra: EntraApi,
    graph: Any,
    prompt: PromptAdmin | None,
) -> OrganisationPlan:
    """Read Prompt and Graph; return the ordered changes that bring them in shape.

    `graph` is the GraphServiceClient behind `entra`, used for the engine's own
    fingerprint tag on the service principal.
    """
    plan = OrganisationPlan(path=path, spec=spec)
    prompt_org_exists = await _plan_prompt(plan, prompt)

    plan.app = await entra.find_app(spec.organisation)
    if plan.app is None:
        plan.add(
            "application",
            "create",
            f"enterprise application {spec.application_name!r}",
            "from the non-gallery template (Create your own application)",
            f"marker tag prompt-provisioning:{spec.organisation}",
        )
    else:
        shown = str(getattr(plan.app, "display_name", "") or "")
        if shown and shown != spec.application_name:
            plan.add(
                "application",
                "rename",
                f"enterprise application {shown!r}",
                f"displayName: {shown} -> {spec.application_name}",
            )
        plan.job = await entra.get_job(plan.app)
        plan.fingerprint = await _fingerprint.read_fingerprint(
            graph, plan.app.service_principal_id
        )
    if plan.job is None:
        plan.add("job", "create", "synchronization job (template scim, stopped)")

    await _plan_secrets(plan, entra, prompt, prompt_org_exists)
    await _plan_schema(plan, entra)
    await _plan_assignments(plan, entra)
    _plan_job_state(plan)
    _plan_revocations(plan)
    return plan


async def _plan_prompt(plan: OrganisationPlan, prompt: PromptAdmin | None) -> bool:
    """Plan the Prompt-side organisation; return whether it exists already."""
    if prompt is None:
        return False

    spec = plan.spec
    wanted: dict[str, Any] = {
        "display_name": spec.display_name,
        "tenant_id": spec.entra.tenant_id,
        "sso_enabled": True,
        "provisioning_enabled": True,
        "default_department": spec.prompt.default_department,
        "default_section": spec.prompt.default_section,
    }
    current = await prompt.get_organisation(spec.organisation)
    if current is None:
        details = [f"{name}: {_shown(value)}" for name, value in wanted.items()]
        plan.add(
            "prompt-organisation",
            "create",
            f"Prompt organisation {spec.organisation!r}",
            *details,
            fields=wanted,
        )
        return False

    changes = {
        name: value for name, value in wanted.items() if getattr(current, name) != value
    }
    if changes:
        details = [
            f"{name}: {_shown(getattr(current, name))} -> {_shown(value)}"
            for name, value in changes.items()
        ]
        plan.add(
            "prompt-organisation",
            "update",
            f"Prompt organisation {spec.organisation!r}",
            *details,
            fields=changes,
        )
    return True


async def _plan_secrets(
    plan: OrganisationPlan,
    entra: EntraApi,
    prompt: PromptAdmin | None,
    prompt_org_exists: bool,
) -> None:
    spec = plan.spec
    sync_all = spec.provisioning.scope == "all"
    email = spec.entra.notification_email
    settings = _fingerprint.settings_digest(
        base_address=spec.prompt.scim_url, sync_all=sync_all, email=email
    )
    token = await _plan_token(plan, prompt, prompt_org_exists)
    plan.token_codes = token.ours

    details: list[str] = []
    stored = plan.fingerprint
    settings_changed = stored is None or stored.settings != settings
    if plan.app is not None:
        # Graph reads the non-secret keys back unmasked: this catches a Tenant URL
        # or scope edited in the portal, which the fingerprint cannot see.
        current = await entra.get_secrets(plan.app)
        details += _readable_differences(current, spec.prompt.scim_url, sync_all, email)
        settings_changed = settings_changed or bool(details)

    if not (token.changed or settings_changed):
        return

    if token.issue:
        # Secrets are saved as one set and the issued code cannot be read back, so
        # any change of the set comes with a new code (the old one is revoked).
        # Prompt side first (DESIGN.md): the code is issued before any Entra write.
        issue = Change(
            "prompt-token",
            "issue",
            f"Provisioning Authentication Code of {spec.organisation!r}",
            ("SecretToken: (changed)",),
        )
        first_entra = next(
            (i for i, c in enumerate(plan.changes) if not c.step.startswith("prompt")),
            len(plan.changes),
        )
        plan.changes.insert(first_entra, issue)
    plan.add(
        "credentials",
        "validate",
        f"Test Connection to {spec.prompt.scim_url}",
        "SecretToken: "
        + ("(changed)" if token.changed or token.issue else "(unchanged)"),
    )
    plan.add(
        "secrets",
        "update",
        "provisioning credentials and settings",
        f"BaseAddress: {spec.prompt.scim_url}",
        "SecretToken: "
        + ("(changed)" if token.changed or token.issue else "(unchanged)"),
        f"SyncAll: {str(sync_all).lower()} (scope {spec.provisioning.scope})",
        f"notification e-mail: {email or '(none)'}",
        *details,
        settings=settings,
        token_fingerprint=token.fingerprint,
    )


async def _plan_token(
    plan: OrganisationPlan, prompt: PromptAdmin | None, prompt_org_exists: bool
) -> _Token:
    """Decide whether the SecretToken saved in Entra is the configured one."""
    spec = plan.spec
    ref = spec.prompt.token
    stored = plan.fingerprint.token if plan.fingerprint else None

    if ref.issue:
        assert prompt is not None  # spec validation: issue needs admin_url
        tokens = (
            await prompt.list_tokens(spec.organisation) if prompt_org_exists else []
        )
        live = [t for t in tokens if not t.revoked]
        return _Token(
            fingerprint=None,
            changed=stored not in {t.id for t in live},
            issue=True,
            ours=tuple(t.id for t in live if t.label == TOKEN_LABEL),
        )

    secret = ref.resolve(plan.path.parent)
    assert secret is not None
    if prompt is not None:
        if not prompt_org_exists:
            raise TokenNotUsable(
                f"prompt.token of {spec.organisation!r} ({ref.describe()}) cannot be a "
                "code of an organisation that does not exist in Prompt yet: use "
                "{issue: true}, or create the organisation and issue a code first."
            )
        token_id = await prompt.verify_token(spec.organisation, secret)
        if token_id is None:
            raise TokenNotUsable(
                f"The code in {ref.describe()} is not a live Provisioning "
                f"Authentication Code of {spec.organisation!r} in Prompt: issue one "
                f"(prompt-scim token issue {spec.organisation}) or use {{issue: true}}."
            )
        return _Token(fingerprint=token_id, changed=stored != token_id, issue=False)

    if stored is not None and _fingerprint.token_matches(stored, secret):
        return _Token(fingerprint=stored, changed=False, issue=False)
    return _Token(
        fingerprint=_fingerprint.token_digest(secret), changed=True, issue=False
    )


def _readable_differences(
    current: dict[str, str], url: str, sync_all: bool, email: str | None
) -> list[str]:
    """Show secrets Graph returned unmasked that differ (values other than '*')."""
    lines = []
    notify = current.get("SyncNotificationSettings")
    if notify and notify != "*":
        try:
            recipients = json.loads(notify).get("Recipients") or None
        except (ValueError, AttributeError):
            recipients = notify
        if recipients != email:
            lines.append(f"notification e-mail was {recipients or '(none)'}")
    base = current.get("BaseAddress")
    if base and base != "*" and base.rstrip("/") != url:
        lines.append(f"BaseAddress was {base}")
    flag = current.get("SyncAll")
    if flag and flag != "*" and flag.lower() != str(sync_all).lower():
        lines.append(f"SyncAll was {flag.lower()}")
    return lines


async def _plan_schema(plan: OrganisationPlan, entra: EntraApi) -> None:
    settings = plan.spec.provisioning
    if plan.job is None:
        attributes = ", ".join(settings.user_attributes)
        plan.add(
            "schema",
            "update",
            "attribute mappings",
            f"Groups object mapping {'enabled' if settings.groups else 'disabled'}",
            f"Users attribute mappings exactly: {attributes}",
            f"matching attribute {settings.matching}",
        )
        return

    current = await entra.get_schema(plan.app, str(plan.job["id"]))
    drift = schema_drift(current, settings)
    if drift:
        plan.add("schema", "update", "attribute mappings", *drift)


async def _plan_assignments(plan: OrganisationPlan, entra: EntraApi) -> None:
    wanted: dict[str, str] = {}
    for upn in plan.spec.assignments.users:
        user = await entra.find_user(upn)
        if user is None:
            raise UnknownPrincipal(
                f"User {upn!r} (assignments.users of {plan.slug!r}) does not exist in "
                f"tenant {plan.spec.entra.tenant_id}: fix the user principal name."
            )
        wanted[str(user["id"])] = f"user {upn}"
    for name in plan.spec.assignments.groups:
        group = await entra.find_group(name)
        if group is None:
            raise UnknownPrincipal(
                f"Group {name!r} (assignments.groups of {plan.slug!r}) does not exist "
                f"in tenant {plan.spec.entra.tenant_id}: fix the display name."
            )
        wanted[str(group["id"])] = f"group {name}"

    current: list[dict[str, Any]] = []
    role_id: str | None = None
    if plan.app is not None:
        current = await entra.list_assignments(plan.app)
        role_id = await entra.user_role_id(plan.app)

    held = {str(a.get("principalId")) for a in current if a.get("appRoleId") == role_id}
    for principal_id, shown in wanted.items():
        if principal_id not in held:
            plan.add(
                "assignments",
                "assign",
                shown,
                "app role User",
                principal_id=principal_id,
            )

    for assignment in current:
        if str(assignment.get("principalId")) not in wanted:
            kind = str(assignment.get("principalType") or "principal").lower()
            who = assignment.get("principalDisplayName") or assignment["principalId"]
            plan.add(
                "assignments",
                "unassign",
                f"{kind} {who}",
                "not listed in assignments",
                assignment_id=str(assignment["id"]),
            )


def _plan_revocations(plan: OrganisationPlan) -> None:
    """Revoke codes the engine issued that Entra does not hold, last of all.

    An apply interrupted after issuing a code leaves it live and unused; a new
    code replaces the old one only once it is saved in Entra (rotation overlap).
    """
    issue = next((c for c in plan.changes if c.step == "prompt-token"), None)
    stored = plan.fingerprint.token if plan.fingerprint else None
    ours: tuple[str, ...] = plan.token_codes
    kept = None if issue is not None else stored
    for token_id in ours:
        if token_id != kept:
            plan.add(
                "prompt-token",
                "revoke",
                f"unused Provisioning Authentication Code {token_id}",
                "no longer held by Entra",
                token_id=token_id,
            )


def _plan_job_state(plan: OrganisationPlan) -> None:
    enabled = plan.spec.provisioning.enabled
    job = plan.job or {}
    state = str((job.get("schedule") or {}).get("state") or "Disabled")
    status = job.get("status") or {}
    code = str(status.get("code") or "NotConfigured")
    secrets_changed = any(change.step == "secrets" for change in plan.changes)

    if not enabled:
        if plan.job is not None and state == "Active":
            plan.add("job-state", "pause", "synchronization job", "provisioning Off")
        return

    if code == "Quarantine":
        if secrets_changed:
            # New credentials: clear the quarantine instead of waiting for the
            # next back-off attempt (graph.md 10.1).
            plan.add(
                "job-state",
                "restart",
                "synchronization job",
                "quarantined; restart with the new credentials",
            )
        return
    if state != "Active" or code == "Paused":
        plan.add(
            "job-state", "start", "synchronization job", f"was {state}; provisioning On"
        )


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# -- rendering -------------------------------------------------------------------

_SYMBOL = {
    "create": "+",
    "issue": "+",
    "assign": "+",
    "unassign": "-",
    "delete": "-",
    "pause": "~",
    "update": "~",
    "validate": "?",
    "start": ">",
    "restart": ">",
}


def render(plans: list[OrganisationPlan], fmt: str) -> str:
    """Render plans as "text", "markdown" or "json"."""
    if fmt == "json":
        return json.dumps(
            {
                "organisations": [
                    {
                        "organisation": plan.slug,
                        "file": str(plan.path),
                        "changes": [change.as_json() for change in plan.changes],
                    }
                    for plan in plans
                ],
                "changes": sum(len(plan.changes) for plan in plans),
            },
            indent=2,
        )
    if fmt == "markdown":
        return _markdown(plans)
    return _text(plans)


def _text(plans: list[OrganisationPlan]) -> str:
    lines: list[str] = []
    for plan in plans:
        if not plan.changes:
            lines.append(f"{plan.slug} ({plan.path}): no changes")
            continue
        lines.append(f"{plan.slug} ({plan.path}): {len(plan.changes)} change(s)")
        for change in plan.changes:
            symbol = _SYMBOL.get(change.action, "~")
            lines.append(f"  {symbol} {change.action} {change.step}: {change.target}")
            lines.extend(f"      {detail}" for detail in change.details)
    total = sum(len(plan.changes) for plan in plans)
    lines.append(f"Plan: {total} change(s) in {len(plans)} organisation(s).")
    return "\n".join(lines)


# GitHub refuses comments over 65,536 characters; keep room for a marker line.
MARKDOWN_LIMIT = 60_000


def _markdown(plans: list[OrganisationPlan]) -> str:
    total = sum(len(plan.changes) for plan in plans)
    head = [
        "### prompt-provision plan",
        "",
        f"**{total} change(s)** in {len(plans)} organisation(s).",
        "",
        "| Organisation | File | Changes |",
        "|---|---|---|",
    ]
    head += [f"| `{p.slug}` | `{p.path}` | {len(p.changes)} |" for p in plans]

    body: list[str] = []
    for plan in plans:
        if not plan.changes:
            continue
        summary = f"<code>{plan.slug}</code>: {len(plan.changes)} change(s)"
        body += ["", f"<details><summary>{summary}</summary>", "", "```diff"]
        for change in plan.changes:
            symbol = {"+": "+", "-": "-"}.get(_SYMBOL.get(change.action, "~"), "!")
            body.append(f"{symbol} {change.action} {change.step}: {change.target}")
            body.extend(f"#     {detail}" for detail in change.details)
        body += ["```", "", "</details>"]

    text = "\n".join(head + body)
    if len(text) <= MARKDOWN_LIMIT:
        return text
    note = (
        "\n\nThe details are left out: they exceed what a pull-request comment can "
        "hold. Run `prompt-provision plan` on the changed files to see them."
    )
    return "\n".join(head)[: MARKDOWN_LIMIT - len(note)] + note
