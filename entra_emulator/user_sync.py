"""One user through Entra's pipeline: scope, evaluate mappings, match, export.

The per-user rules of scim-entra.md 1.2-1.6: GET by matching attribute (then the
cached id), POST when missing, PATCH only differences, `active` false when out of
scope, disabled or soft-deleted (and no create for those), DELETE on hard delete.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import AdminRequestInvalid, ExpressionError, GraphError, ScimRequestFailed
from .expressions import evaluate
from .group_sync import GroupView
from .mappings import AttributeRule, ObjectRule, object_rule
from .scim_client import ScimClient
from .scim_paths import (
    TargetPath,
    create_body,
    parse_target,
    patch_body,
    read,
    same,
    wire_value,
)

if TYPE_CHECKING:
    from .jobs import Job
    from .server import Emulator


@dataclass
class Outcome:
    """What happened to one user; becomes a provisioning-log entry."""

    user_id: str
    display_name: str
    action: str  # create | update | disable | delete | other
    status: str  # success | failure | skipped
    bucket: str  # created | updated | disabled | deleted | skipped | failed
    target_id: str | None = None
    error_code: str | None = None
    reason: str = ""
    modified: list[dict[str, Any]] = field(default_factory=list)
    identity_type: str = "User"


@dataclass
class Snapshot:
    base: str
    token: str
    sync_all: bool
    skip_out_of_scope: bool
    user_rule: ObjectRule | None
    group_rule: ObjectRule | None
    groups: dict[str, GroupView]
    groups_in_scope: set[str]
    users: dict[str, dict[str, Any]]
    inactive: set[str]
    in_scope: set[str]
    sp_name: str


def _source_attributes(user_id: str, props: dict[str, Any]) -> dict[str, Any]:
    return {
        **props,
        "objectId": user_id,
        "mobile": props.get("mobilePhone"),
        "physicalDeliveryOfficeName": props.get("officeLocation"),
        "telephoneNumber": None,
        "facsimileTelephoneNumber": None,
        "manager": None,  # manager references are not emulated
    }


def _flag(secrets: dict[str, str], key: str) -> bool:
    return secrets.get(key, "false").strip().lower() == "true"


def take_snapshot(emulator: Emulator, job: Job) -> Snapshot:
    """Copy what a cycle reads, under the emulator lock, so the cycle runs lock-free."""
    with emulator.lock:
        secrets = emulator.secret_values(job.sp_id)
        directory = emulator.directory
        users = {
            u.id: _source_attributes(u.id, dict(u.properties))
            for u in directory.users.values()
        }
        inactive = {
            u.id for u in directory.users.values() if u.soft_deleted or not u.enabled
        }
        sync_all = _flag(secrets, "SyncAll")
        in_scope: set[str] = set(users) if sync_all else set()
        groups_in_scope: set[str] = set(directory.groups) if sync_all else set()
        for assignment in emulator.assignments.values():
            if assignment["resourceId"] != job.sp_id:
                continue
            principal = assignment["principalId"]
            if principal in users:
                in_scope.add(principal)
            elif (group := directory.groups.get(principal)) is not None:
                # Only direct members of an assigned group are in scope (MS-HOW).
                in_scope.update(m for m in group.members if m in users)
                groups_in_scope.add(group.id)
        groups = {
            g.id: GroupView(g.id, g.display_name, list(g.members))
            for g in directory.groups.values()
        }
        sp = emulator.service_principals.get(job.sp_id) or {}
        schema = copy.deepcopy(job.schema)
    try:
        user_rule = object_rule(schema, "User")
        group_rule = object_rule(schema, "Group")
    except (GraphError, ExpressionError) as exc:
        raise AdminRequestInvalid(
            f"The schema of job {job.id} is invalid: {exc}"
        ) from exc
    return Snapshot(
        base=secrets.get("BaseAddress", ""),
        token=secrets.get("SecretToken", ""),
        sync_all=sync_all,
        skip_out_of_scope=_flag(secrets, "SkipOutOfScopeDeletions"),
        user_rule=user_rule,
        group_rule=group_rule,
        groups=groups,
        groups_in_scope=groups_in_scope,
        users=users,
        inactive=inactive,
        in_scope=in_scope,
        sp_name=str(sp.get("displayName") or ""),
    )


class UserSync:
    """The per-user pipeline shared by cycles and provision on demand."""

    def __init__(
        self, job: Job, snap: Snapshot, client: ScimClient, compliant: bool
    ) -> None:
        self.job = job
        self.snap = snap
        self.client = client
        self.compliant = compliant
        self.rule = snap.user_rule
        self.runtime = job.runtime

    def values(
        self, user_id: str, soft: bool
    ) -> list[tuple[AttributeRule, TargetPath, Any]]:
        assert self.rule is not None
        source = {**self.snap.users[user_id], "IsSoftDeleted": soft}
        out = []
        for attribute in self.rule.attributes:
            value = evaluate(attribute.node, source)
            if value in ("", []):
                value = None
            out.append((attribute, parse_target(attribute.target), value))
        return out

    async def find(
        self, user_id: str, values: list[tuple[AttributeRule, TargetPath, Any]]
    ) -> dict[str, Any] | None:
        """Query by matching attributes in precedence order, then the cached id."""
        assert self.rule is not None
        by_target = {a.target: v for a, _, v in values}
        for attribute in self.rule.matching:
            value = by_target.get(attribute.target)
            if value is None:
                continue
            hits = await self.client.query(
                "Users",
                attribute.target,
                str(wire_value(parse_target(attribute.target), value, compliant=False)),
            )
            if len(hits) > 1:
                raise ScimRequestFailed(
                    200,
                    "SystemForCrossDomainIdentityManagementMultipleEntriesInResponse",
                    f"{len(hits)} users match {attribute.target} eq {value!r}.",
                )
            if hits:
                return hits[0]
        known = self.runtime.target_ids.get(user_id)
        return await self.client.get("Users", known) if known else None

    async def sync(self, user_id: str) -> Outcome | None:
        """Bring one user in line; None when nothing needed doing."""
        if user_id not in self.snap.users:
            return await self.hard_delete(user_id)
        assert self.rule is not None
        name = str(self.snap.users[user_id].get("displayName") or user_id)
        in_scope = user_id in self.snap.in_scope
        soft = not in_scope or user_id in self.snap.inactive
        values = self.values(user_id, soft)
        flows = self.rule.flow_types

        resource = await self.find(user_id, values)
        if resource is None:
            self.runtime.managed.discard(user_id)
            if soft:
                if not in_scope:
                    return None
                return Outcome(
                    user_id,
                    name,
                    "create",
                    "skipped",
                    "skipped",
                    reason="The user is disabled or deleted in the directory; "
                    "Entra does not create disabled users.",
                )
            if "Add" not in flows:
                return Outcome(
                    user_id,
                    name,
                    "create",
                    "skipped",
                    "skipped",
                    reason="The Users mapping does not allow Add.",
                )
            return await self.create(user_id, name, values)

        scim_id = str(resource.get("id"))
        self.runtime.target_ids[user_id] = scim_id
        if in_scope:
            self.runtime.managed.add(user_id)
        changes = []
        for attribute, path, value in values:
            if value is None or attribute.flow_type == "ObjectAddOnly":
                continue
            if not in_scope and (
                self.snap.skip_out_of_scope or not attribute.follows_soft_delete
            ):
                continue  # out of scope: only the disable, unless skipped (MS-SKIP)
            current = read(resource, path)
            wire = wire_value(path, value, self.compliant)
            if not same(wire, current):
                changes.append((path, wire, current))
        if not changes:
            self._release_if_out_of_scope(user_id, in_scope)
            return None
        if "Update" not in flows:
            return Outcome(
                user_id,
                name,
                "update",
                "skipped",
                "skipped",
                scim_id,
                reason="The Users mapping does not allow Update.",
            )

        body = patch_body(
            [(p, w, c is not None) for p, w, c in changes], self.compliant
        )
        await self.client.patch("Users", scim_id, body)
        self._release_if_out_of_scope(user_id, in_scope)
        disabling = any(
            p.is_boolean and str(w).lower() == "false" for p, w, _ in changes
        )
        modified = [
            {
                "displayName": p.raw,
                "oldValue": None if c is None else str(c),
                "newValue": str(w),
            }
            for p, w, c in changes
        ]
        action = "disable" if disabling else "update"
        bucket = "disabled" if disabling else "updated"
        return Outcome(
            user_id, name, action, "success", bucket, scim_id, modified=modified
        )

    def _release_if_out_of_scope(self, user_id: str, in_scope: bool) -> None:
        # An out-of-scope user is disabled once, then no longer managed (MS-HOW); a
        # failed disable leaves it managed so the next cycle tries again.
        if not in_scope:
            self.runtime.managed.discard(user_id)

    async def create(
        self,
        user_id: str,
        name: str,
        values: list[tuple[AttributeRule, TargetPath, Any]],
    ) -> Outcome:
        pairs = []
        for attribute, path, evaluated in values:
            # "Default value if null" applies on create only (MS-ATTR).
            value = attribute.default_value if evaluated is None else evaluated
            if value is not None:
                pairs.append((path, wire_value(path, value, self.compliant)))
        created = await self.client.create("Users", create_body(pairs))
        scim_id = str(created["id"])
        self.runtime.target_ids[user_id] = scim_id  # Entra caches the id forever
        self.runtime.managed.add(user_id)
        modified = [
            {"displayName": p.raw, "oldValue": None, "newValue": str(v)}
            for p, v in pairs
        ]
        return Outcome(
            user_id, name, "create", "success", "created", scim_id, modified=modified
        )

    async def hard_delete(self, user_id: str) -> Outcome | None:
        """Send DELETE for a managed user deleted for good (if Delete is allowed)."""
        assert self.rule is not None
        scim_id = self.runtime.target_ids.get(user_id)
        if scim_id is None:
            self.runtime.managed.discard(user_id)
            return None
        if "Delete" not in self.rule.flow_types:
            self.runtime.managed.discard(user_id)
            return Outcome(
                user_id,
                user_id,
                "delete",
                "skipped",
                "skipped",
                scim_id,
                reason="The Users mapping does not allow Delete.",
            )
        try:
            await self.client.delete("Users", scim_id)
        except ScimRequestFailed as exc:
            if exc.status != 404:
                raise  # still managed: the next cycle tries again
        self.runtime.managed.discard(user_id)
        self.runtime.target_ids.pop(user_id, None)
        return Outcome(user_id, user_id, "delete", "success", "deleted", scim_id)
