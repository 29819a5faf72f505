"""Run the Pulumi program under the SDK's mocks and record what it registers.

No Pulumi CLI or provider plugin is needed: a MockMonitor subclass keeps every
RegisterResourceRequest (inputs on the wire, dependencies, options). Not named
conftest.py: test folders without __init__.py would shadow tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import runpy
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "pulumi" / "__main__.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The editable install maps prompt_pulumi; the checkout (appended, so that the
# SDK, not the pulumi/ program folder, is `pulumi`) covers a venv installed
# before pyproject listed the package.
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))

import pulumi  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from pulumi.runtime import mocks as pulumi_mocks  # noqa: E402
from pulumi.runtime import rpc  # noqa: E402

APP_OBJECT_ID = "0a0a0a0a-0000-4000-8000-000000000001"
APP_ID = "0b0b0b0b-0000-4000-8000-000000000002"
SP_OBJECT_ID = "0c0c0c0c-0000-4000-8000-000000000003"
JOB_ID = f"scim.0123456789abcdef0123456789abcdef.{SP_OBJECT_ID}"
USER_ROLE_ID = "18d14569-c3bd-439b-9a66-3a2aee01d14f"
MSIAM_ROLE_ID = "b9632174-c057-4f7e-951b-be3adc52bfe6"
ISSUED_TOKEN = "issued-by-the-mocked-admin-api"
TENANT = "11111111-2222-3333-4444-555555555555"
# The engine adds the serialized provider to every props dict it hands a provider.
PROVIDER_BLOB = "serialized provider"

AZUREAD = "azuread:index/"
APPLICATION = AZUREAD + "applicationFromTemplate:ApplicationFromTemplate"
SERVICE_PRINCIPAL = AZUREAD + "servicePrincipal:ServicePrincipal"
SECRET = AZUREAD + "synchronizationSecret:SynchronizationSecret"
JOB = AZUREAD + "synchronizationJob:SynchronizationJob"
ASSIGNMENT = AZUREAD + "appRoleAssignment:AppRoleAssignment"
DYNAMIC = "pulumi-python:dynamic/prompt:"
SCHEMA = DYNAMIC + "SynchronizationSchema"
CHECK = DYNAMIC + "CredentialCheck"
START = DYNAMIC + "SynchronizationJobStart"
PROMPT_SIDE = DYNAMIC + "PromptOrganisationSettings"


def principal_id(kind: str, name: str) -> str:
    """The object id the mocked directory gives a user or group."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}:{name.lower()}"))


class GraphMocks(pulumi.runtime.Mocks):
    """Answers as pulumi-azuread would, with the ids a template instance has."""

    def __init__(self) -> None:
        self.calls: list[pulumi.runtime.MockCallArgs] = []

    def new_resource(
        self, args: pulumi.runtime.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        sp_path = f"/servicePrincipals/{SP_OBJECT_ID}"
        if args.typ == APPLICATION:
            return f"/applications/{APP_OBJECT_ID}", {
                **inputs,
                "applicationId": f"/applications/{APP_OBJECT_ID}",
                "applicationObjectId": APP_OBJECT_ID,
                "servicePrincipalId": sp_path,
                "servicePrincipalObjectId": SP_OBJECT_ID,
            }
        if args.typ == SERVICE_PRINCIPAL:
            roles = [
                {"displayName": "msiam_access", "id": MSIAM_ROLE_ID, "enabled": True},
                {"displayName": "User", "id": USER_ROLE_ID, "enabled": True},
            ]
            return sp_path, {**inputs, "objectId": SP_OBJECT_ID, "appRoles": roles}
        if args.typ == SECRET:
            return inputs["servicePrincipalId"], inputs
        if args.typ == JOB:
            return f"{inputs['servicePrincipalId']}/synchronization/jobs/{JOB_ID}", {
                **inputs
            }
        if args.typ == PROMPT_SIDE:
            token = ISSUED_TOKEN if inputs["issue_token"] else None
            return args.name, {**inputs, "token": token, "token_id": "t1"}
        if args.typ == ASSIGNMENT:
            return str(uuid.uuid4()), inputs
        return (args.name if args.custom else None), inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.calls.append(args)
        if args.token == "azuread:index/getApplication:getApplication":
            return {"objectId": args.args["objectId"], "clientId": APP_ID}
        if args.token == "azuread:index/getUser:getUser":
            upn = args.args["userPrincipalName"]
            return {"objectId": principal_id("user", upn), "userPrincipalName": upn}
        if args.token == "azuread:index/getGroup:getGroup":
            name = args.args["displayName"]
            return {"objectId": principal_id("group", name), "displayName": name}
        raise AssertionError(f"unexpected invoke {args.token}")


@dataclass
class Registered:
    """One resource as the program registered it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]  # wire form: camelCase, secrets still wrapped
    dependencies: list[str]
    retain_on_delete: bool
    ignore_changes: list[str]
    additional_secret_outputs: list[str]


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """MockMonitor that also keeps each registration request."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registered: list[Registered] = []

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registered.append(
                Registered(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=json_format.MessageToDict(request.object),
                    dependencies=list(request.dependencies),
                    retain_on_delete=request.retainOnDelete,
                    ignore_changes=list(request.ignoreChanges),
                    additional_secret_outputs=list(request.additionalSecretOutputs),
                )
            )
        return response


@dataclass
class ProgramRun:
    """What one run of pulumi/__main__.py under mocks produced."""

    registered: list[Registered]
    outputs: dict[str, Any]  # the component's outputs
    calls: list[pulumi.runtime.MockCallArgs] = field(default_factory=list)
    exports: dict[str, Any] = field(default_factory=dict)  # pulumi.export(...)

    def one(self, type_: str) -> Registered:
        found = [r for r in self.registered if r.type == type_]
        assert len(found) == 1, f"{len(found)} resources of type {type_}"
        return found[0]

    def all(self, type_: str) -> list[Registered]:
        return [r for r in self.registered if r.type == type_]

    def depends_on(self, later: Registered, earlier: Registered) -> bool:
        """True when `later` waits for `earlier`, directly or through others."""
        by_urn = {r.urn: r for r in self.registered}
        seen: set[str] = set()
        todo = list(later.dependencies)
        while todo:
            urn = todo.pop()
            if urn == earlier.urn:
                return True
            if urn in seen or urn not in by_urn:
                continue
            seen.add(urn)
            todo.extend(by_urn[urn].dependencies)
        return False


def secret_value(wire: Any) -> Any:
    """The value inside a wire-form secret; fails when `wire` is not a secret."""
    assert isinstance(wire, dict), wire
    assert wire.get(rpc._special_sig_key) == rpc._special_secret_sig, wire
    return wire["value"]


def run_program(
    stack: str,
    config: dict[str, str],
    secret_keys: tuple[str, ...] = (),
    mocks: pulumi.runtime.Mocks | None = None,
) -> ProgramRun:
    """Run pulumi/__main__.py for `stack` with `config` (prompt:* keys) under mocks.

    `mocks` default to GraphMocks (fixed ids, nothing called).
    """
    # The SDK's mocks use the thread's event loop; an earlier asyncio.run() (any
    # provider call) leaves the main thread without one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    # The mocks answer invokes in executor threads, each making itself an event
    # loop it never closes; left to the garbage collector, such a loop can fail
    # in __del__ (an unraisable exception). Give each thread a loop we close.
    thread_loops: list[asyncio.AbstractEventLoop] = []
    executor = ThreadPoolExecutor(initializer=_thread_loop, initargs=(thread_loops,))
    loop.set_default_executor(executor)
    mocks = mocks or GraphMocks()
    monitor = RecordingMonitor(mocks)
    # set_mocks makes a root Stack only when there is none: one per run, so that
    # `exports` holds this run's pulumi.export() calls and no earlier run's.
    pulumi.runtime.settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(
        mocks, project="prompt", stack=stack, preview=False, monitor=monitor
    )
    pulumi.runtime.set_all_config(config, list(secret_keys))
    root = pulumi.runtime.get_root_resource()
    outputs: dict[str, Any] = {}
    exports: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        namespace = runpy.run_path(str(PROGRAM), run_name="__pulumi_program__")
        stack_outputs = root.outputs  # type: ignore[union-attr]
        exported = pulumi.Output.all(**stack_outputs).apply(exports.update)
        organisation = namespace["organisation"]
        names = [
            "application_id",
            "application_object_id",
            "service_principal_id",
            "job_id",
            "scim_url",
            "assignment_count",
        ]
        component = pulumi.Output.all(*(getattr(organisation, n) for n in names))
        return pulumi.Output.all(
            component.apply(
                lambda values: outputs.update(zip(names, values, strict=True))
            ),
            exported,
        )

    try:
        program()
    finally:
        pulumi.runtime.set_all_config({})
        asyncio.set_event_loop(None)
        loop.close()
        executor.shutdown(wait=True)
        for thread_loop in thread_loops:
            thread_loop.close()
    return ProgramRun(monitor.registered, outputs, getattr(mocks, "calls", []), exports)


def _thread_loop(loops: list[asyncio.AbstractEventLoop]) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loops.append(loop)
