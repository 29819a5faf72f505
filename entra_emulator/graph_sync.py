"""Graph v1.0 routes for synchronization (jobs, secrets, schema) and provisioning logs.

Follows graph.md sections 4-8 and 10: jobs are created stopped, secrets read back
masked, the schema is replaced by PUT (PATCH answers 404 as the real service does),
validateCredentials probes the SCIM endpoint, provisionOnDemand is limited to 5
requests per 10 seconds.
"""

from __future__ import annotations

import copy
import logging
import math
import time
import uuid
from typing import Any

from starlette.responses import Response

from ._paging import LOG_FILTERS, collection
from .errors import ExpressionError, GraphError, ScimRequestFailed
from .expressions import evaluate, parse, to_source_json
from .graph_apps import service_principal
from .jobs import Job
from .mappings import first_matching_target, rule_ids, validate_schema
from .routing import Ctx, json_response, no_content, now_iso, route
from .schema_template import default_schema
from .scim_client import ScimClient

logger = logging.getLogger(__name__)

TEMPLATES = ("scim", "customappsso")
SECRET_KEY_NAMES = {
    "None", "UserName", "Password", "SecretToken", "AppKey", "BaseAddress",
    "ClientIdentifier",
    "ClientSecret", "SingleSignOnType", "Sandbox", "Url", "Domain", "ConsumerKey",
    "ConsumerSecret", "TokenKey", "TokenExpiration", "Oauth2AccessToken",
    "Oauth2AccessTokenCreationTime", "Oauth2RefreshToken", "SyncAll", "InstanceName",
    "Oauth2ClientId", "Oauth2ClientSecret", "CompanyId", "UpdateKeyOnSoftDelete",
    "SynchronizationSchedule", "SystemOfRecord", "SandboxName", "EnforceDomain",
    "SyncNotificationSettings", "SkipOutOfScopeDeletions", "Oauth2AuthorizationCode",
    "Oauth2RedirectUri", "ApplicationTemplateIdentifier", "Oauth2TokenExchangeUri",
    "Oauth2AuthorizationUri", "AuthenticationType", "Server",
    "PerformInboundEntitlementGrants",
    "HardDeletesEnabled", "SyncAgentCompatibilityKey", "SyncAgentADContainer",
    "ValidateDomain", "TestReferences", "ConnectionString",
}  # fmt: skip


def job_of(ctx: Ctx) -> Job:
    """Return the job named in the path, or 404 (also while replication hides it)."""
    sp = service_principal(ctx, ctx.params["sp"])
    with ctx.emulator.lock:
        job = ctx.emulator.jobs.get(ctx.params["job"])
    if job is None or job.sp_id != sp["id"] or ctx.emulator.faults.is_hidden(job.id):
        raise GraphError(
            404,
            "NotFound",
            f"The synchronization job '{ctx.params['job']}' was not found on service "
            f"principal '{ctx.params['sp']}'.",
        )
    return job


@route("GET", "/servicePrincipals/{sp}/synchronization")
async def get_synchronization(ctx: Ctx) -> Response:
    sp = service_principal(ctx, ctx.params["sp"])
    return json_response(
        {"id": sp["id"], "secrets": ctx.emulator.masked_secrets(sp["id"])}
    )


@route("GET", "/servicePrincipals/{sp}/synchronization/templates")
async def list_templates(ctx: Ctx) -> Response:
    sp = service_principal(ctx, ctx.params["sp"])
    template = {
        "id": "scim",
        "applicationId": sp["appId"],
        "default": True,
        "description": "SCIM 2.0 provisioning for non-gallery applications",
        "discoverable": True,
        "factoryTag": "scim",
        "metadata": [],
        "schema": default_schema("scim"),
    }
    return collection(ctx, [template])


# -- jobs ---------------------------------------------------------------------------


@route("GET", "/servicePrincipals/{sp}/synchronization/jobs")
async def list_jobs(ctx: Ctx) -> Response:
    sp = service_principal(ctx, ctx.params["sp"])
    with ctx.emulator.lock:
        jobs = [j.to_json() for j in ctx.emulator.jobs.values() if j.sp_id == sp["id"]]
    return collection(ctx, jobs)


@route("POST", "/servicePrincipals/{sp}/synchronization/jobs")
async def create_job(ctx: Ctx) -> Response:
    sp = service_principal(ctx, ctx.params["sp"])
    template_id = (await ctx.body()).get("templateId")
    if template_id not in TEMPLATES:
        raise GraphError(
            400,
            "BadRequest",
            f"templateId {template_id!r} is not a template of this application; "
            "use 'scim'.",
        )
    tenant = ctx.emulator.config.tenant_id.replace("-", "")
    job_id = f"{template_id}.{tenant}.{uuid.uuid4()}"
    with ctx.emulator.lock:
        if any(
            j.sp_id == sp["id"] and j.template_id == template_id
            for j in ctx.emulator.jobs.values()
        ):
            raise GraphError(
                409,
                "Conflict",
                f"A synchronization job from template '{template_id}' already exists "
                f"on service principal '{sp['id']}'.",
            )
        job = Job(
            id=job_id,
            sp_id=sp["id"],
            template_id=template_id,
            schema=default_schema(job_id),
        )
        ctx.emulator.jobs[job_id] = job
        body = job.to_json()
    ctx.created(job_id)
    logger.info("created synchronization job %s", job_id)
    return json_response(body, 201)


@route("GET", "/servicePrincipals/{sp}/synchronization/jobs/{job}")
async def get_job(ctx: Ctx) -> Response:
    job = job_of(ctx)
    with ctx.emulator.lock:
        return json_response(job.to_json())


@route("DELETE", "/servicePrincipals/{sp}/synchronization/jobs/{job}")
async def delete_job(ctx: Ctx) -> Response:
    job = job_of(ctx)
    with ctx.emulator.lock:
        ctx.emulator.jobs.pop(job.id, None)
    logger.info("deleted synchronization job %s", job.id)
    return no_content()


@route("POST", "/servicePrincipals/{sp}/synchronization/jobs/{job}/start")
async def start_job(ctx: Ctx) -> Response:
    job = job_of(ctx)
    config = ctx.emulator.config
    with ctx.emulator.lock:
        job.start(config.cycle_interval)
        delay = 0.0 if config.cycle_on_start else config.cycle_interval
        job.runtime.next_cycle_at = time.monotonic() + delay
    logger.info("started synchronization job %s", job.id)
    return no_content()


@route("POST", "/servicePrincipals/{sp}/synchronization/jobs/{job}/pause")
async def pause_job(ctx: Ctx) -> Response:
    job = job_of(ctx)
    with ctx.emulator.lock:
        job.pause()
        job.runtime.next_cycle_at = None
    logger.info("paused synchronization job %s", job.id)
    return no_content()


@route("POST", "/servicePrincipals/{sp}/synchronization/jobs/{job}/restart")
async def restart_job(ctx: Ctx) -> Response:
    job = job_of(ctx)
    criteria = (await ctx.body()).get("criteria") or {}
    scope = criteria.get("resetScope") or "" if isinstance(criteria, dict) else ""
    if not isinstance(scope, str):
        raise GraphError(
            400, "BadRequest", "criteria.resetScope must be a flags string."
        )
    with ctx.emulator.lock:
        job.restart(scope)
        if job.schedule_state == "Active":
            job.runtime.next_cycle_at = time.monotonic() + (
                0.0
                if ctx.emulator.config.cycle_on_start
                else ctx.emulator.config.cycle_interval
            )
    logger.info("restarted synchronization job %s (resetScope %r)", job.id, scope)
    return no_content()


# -- secrets and credentials --------------------------------------------------------


def _pairs(raw: Any, what: str) -> list[dict[str, str]]:
    if not isinstance(raw, list):
        raise GraphError(400, "BadRequest", f"{what} must be a list of {{key, value}}.")
    pairs = []
    for item in raw:
        if not isinstance(item, dict) or item.get("key") not in SECRET_KEY_NAMES:
            raise GraphError(
                400,
                "BadRequest",
                f"{what}: unknown synchronization secret key in {item!r}.",
            )
        pairs.append({"key": str(item["key"]), "value": str(item.get("value") or "")})
    return pairs


@route("PUT", "/servicePrincipals/{sp}/synchronization/secrets")
async def put_secrets(ctx: Ctx) -> Response:
    sp = service_principal(ctx, ctx.params["sp"])
    pairs = _pairs((await ctx.body()).get("value"), "value")
    with ctx.emulator.lock:
        # Omitted keys keep their value: the real merge semantics are undocumented.
        stored = {s["key"]: s for s in ctx.emulator.secrets.get(sp["id"], [])}
        stored.update({p["key"]: p for p in pairs})
        ctx.emulator.secrets[sp["id"]] = list(stored.values())
    logger.info("saved synchronization secrets of service principal %s", sp["id"])
    return no_content()


@route("GET", "/servicePrincipals/{sp}/synchronization/secrets")
async def get_secrets(ctx: Ctx) -> Response:
    sp = service_principal(ctx, ctx.params["sp"])
    return json_response({"value": ctx.emulator.masked_secrets(sp["id"])})


async def probe_credentials(
    ctx: Ctx, schema: dict[str, Any], base_address: str, token: str
) -> None:
    """Run Entra's Test Connection against the SCIM endpoint; 400 when it fails."""
    if not base_address or not token:
        raise GraphError(
            400, "BadRequest", "BaseAddress and SecretToken are both required."
        )
    user_attribute = first_matching_target(schema, "User") or "userName"
    group_attribute = first_matching_target(schema, "Group") or "displayName"
    client = ScimClient(base_address, token, timeout=ctx.emulator.config.scim_timeout)
    try:
        await client.probe(user_attribute, group_attribute)
    except ScimRequestFailed as exc:
        raise GraphError(
            400,
            "BadRequest",
            f"Test connection to the Tenant URL failed ({exc.error_code}): "
            f"{exc.reason} "
            "Check the Tenant URL and the Secret Token.",
        ) from exc
    finally:
        await client.aclose()


@route(
    "POST",
    "/servicePrincipals/{sp}/synchronization/jobs/{job}/validateCredentials",
    write=False,
)
async def validate_credentials(ctx: Ctx) -> Response:
    job = job_of(ctx)
    body = await ctx.body()
    if body.get("useSavedCredentials"):
        values = ctx.emulator.secret_values(job.sp_id)
    else:
        values = {
            p["key"]: p["value"]
            for p in _pairs(body.get("credentials") or [], "credentials")
        }
    with ctx.emulator.lock:
        schema = copy.deepcopy(job.schema)
    await probe_credentials(
        ctx, schema, values.get("BaseAddress", ""), values.get("SecretToken", "")
    )
    return no_content()


@route(
    "POST",
    "/servicePrincipals/{sp}/synchronization/jobs/validateCredentials",
    write=False,
)
async def validate_credentials_without_job(ctx: Ctx) -> Response:
    service_principal(ctx, ctx.params["sp"])
    body = await ctx.body()
    values = {
        p["key"]: p["value"]
        for p in _pairs(body.get("credentials") or [], "credentials")
    }
    schema = default_schema(str(body.get("templateId") or "scim"))
    await probe_credentials(
        ctx, schema, values.get("BaseAddress", ""), values.get("SecretToken", "")
    )
    return no_content()


# -- schema ---------------------------------------------------------------------------


@route("GET", "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema")
async def get_schema(ctx: Ctx) -> Response:
    job = job_of(ctx)
    with ctx.emulator.lock:
        return json_response(copy.deepcopy(job.schema))


@route("PUT", "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema")
async def put_schema(ctx: Ctx) -> Response:
    job = job_of(ctx)
    schema = await ctx.body()
    validate_schema(schema)
    with ctx.emulator.lock:
        version = int(str(job.schema.get("version", "")).rsplit(":", 1)[-1] or 0) + 1
        schema["id"] = job.id
        schema["version"] = f"Date:{now_iso()};MappingsVersion:{version}"
        job.schema = schema
    logger.info("replaced the schema of synchronization job %s", job.id)
    return no_content()


@route(
    "PATCH", "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema", write=False
)
async def patch_schema(ctx: Ctx) -> Response:
    # The real service only routes PUT; msgraph-sdk's schema.patch() gets this 404.
    raise GraphError(
        404,
        "UnknownError",
        '{"Message":"No HTTP resource was found that matches the request URI '
        f"'https://syncfabric.windowsazure.com/api/servicePrincipals/{ctx.params['sp']}"
        f"/synchronization/jobs/{ctx.params['job']}/schema?api-version=2.0'.\"}}",
    )


@route("DELETE", "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema")
async def delete_schema(ctx: Ctx) -> Response:
    job = job_of(ctx)
    with ctx.emulator.lock:
        job.schema = default_schema(job.id)
    return no_content()


@route(
    "POST",
    "/servicePrincipals/{sp}/synchronization/jobs/{job}/schema/parseExpression",
    write=False,
)
async def parse_expression(ctx: Ctx) -> Response:
    job_of(ctx)
    body = await ctx.body()
    text = body.get("expression")
    if not isinstance(text, str):
        raise GraphError(400, "BadRequest", "expression must be a string.")
    answer: dict[str, Any] = {
        "error": None,
        "evaluationResult": None,
        "evaluationSucceeded": False,
        "parsedExpression": None,
        "parsingSucceeded": False,
    }
    try:
        node = parse(text)
        answer["parsedExpression"] = to_source_json(node)
        answer["parsingSucceeded"] = True
        test_input = body.get("testInputObject")
        if isinstance(test_input, dict):
            source = {
                str(p.get("key")): p.get("value")
                for p in test_input.get("properties") or []
                if isinstance(p, dict)
            }
            value = evaluate(node, source)
            values = value if isinstance(value, list) else [value]
            answer["evaluationResult"] = [str(v) for v in values if v is not None]
            answer["evaluationSucceeded"] = True
    except ExpressionError as exc:
        answer["error"] = {"code": "ExpressionError", "message": str(exc)}
    return json_response(answer)


# -- provision on demand and logs -----------------------------------------------------


def _check_on_demand_rate(ctx: Ctx, job: Job) -> None:
    config = ctx.emulator.config
    now = time.monotonic()
    with ctx.emulator.lock:
        times = [
            t for t in job.runtime.on_demand_times if now - t < config.on_demand_window
        ]
        if len(times) >= config.on_demand_limit:
            wait = math.ceil(config.on_demand_window - (now - times[0]))
            job.runtime.on_demand_times = times
            raise GraphError(
                429,
                "TooManyRequests",
                f"provisionOnDemand allows {config.on_demand_limit} requests per "
                f"{config.on_demand_window:g} seconds.",
                headers={"Retry-After": str(max(wait, 1))},
            )
        times.append(now)
        job.runtime.on_demand_times = times


@route("POST", "/servicePrincipals/{sp}/synchronization/jobs/{job}/provisionOnDemand")
async def provision_on_demand(ctx: Ctx) -> Response:
    from .provisioner import provision_on_demand as run_on_demand

    job = job_of(ctx)
    _check_on_demand_rate(ctx, job)
    parameters = (await ctx.body()).get("parameters")
    if not isinstance(parameters, list) or not parameters:
        raise GraphError(
            400, "RequestParameterInvalid", "parameters must be a non-empty list."
        )
    with ctx.emulator.lock:
        known_rules = rule_ids(job.schema)
    subjects: list[tuple[str, str]] = []
    for parameter in parameters:
        if (
            not isinstance(parameter, dict)
            or parameter.get("ruleId") not in known_rules
        ):
            raise GraphError(
                400,
                "RequestParameterInvalid",
                f"The job does not include the rule {parameter.get('ruleId')!r}; "
                "take ruleId from the job schema's synchronizationRules.",
            )
        for subject in parameter.get("subjects") or []:
            subjects.append(
                (str(subject.get("objectId")), str(subject.get("objectTypeName")))
            )
    if len(subjects) != 1:
        raise GraphError(
            400,
            "RequestParameterInvalid",
            "provisionOnDemand takes exactly one subject.",
        )
    return json_response(await run_on_demand(ctx.emulator, job, *subjects[0]))


@route("GET", "/auditLogs/provisioning")
async def provisioning_logs(ctx: Ctx) -> Response:
    with ctx.emulator.lock:
        items = ctx.emulator.logs[::-1]  # entries are never changed once recorded
    return collection(ctx, items, default_top=50, filterable=LOG_FILTERS)
