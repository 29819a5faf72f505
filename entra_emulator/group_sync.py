"""Group provisioning, for when the Groups object mapping is enabled.

What Entra sends then (scim-entra.md 1.7): GET /Groups?filter=displayName eq "..."
with excludedAttributes=members, POST /Groups with empty members, PATCH members with
Add/Remove (legacy: a Remove carries a value list; aadOptscim062020: one
`remove` per member with a `members[value eq "id"]` path), DELETE when an assigned
group leaves scope. Members are the group's direct members the job provisioned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ScimRequestFailed
from .expressions import evaluate
from .mappings import ObjectRule
from .scim_paths import PATCH_OP, parse_target, read, same, wire_value

if TYPE_CHECKING:
    from .jobs import JobRuntime
    from .scim_client import ScimClient

SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM_GROUP = (
    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
)


@dataclass
class GroupView:
    id: str
    display_name: str
    members: list[str]


@dataclass
class GroupOutcome:
    group_id: str
    display_name: str
    action: str  # create | update | delete | other
    status: str  # success | failure | skipped
    target_id: str | None = None
    error_code: str | None = None
    reason: str = ""


def _member_ops(
    added: set[str], removed: set[str], compliant: bool
) -> list[dict[str, Any]]:
    ops: list[dict[str, Any]] = []
    if added:
        values = [{"value": v} for v in sorted(added)]
        ops.append(
            {"op": "add" if compliant else "Add", "path": "members", "value": values}
        )
    if removed and compliant:
        ops += [
            {"op": "remove", "path": f'members[value eq "{v}"]'}
            for v in sorted(removed)
        ]
    elif removed:
        values = [{"value": v} for v in sorted(removed)]
        ops.append({"op": "Remove", "path": "members", "value": values})
    return ops


class GroupSync:
    """Export in-scope groups and their provisioned direct members."""

    def __init__(
        self,
        rule: ObjectRule,
        runtime: JobRuntime,
        client: ScimClient,
        compliant: bool,
    ) -> None:
        self.rule = rule
        self.runtime = runtime
        self.client = client
        self.compliant = compliant

    def _values(self, group: GroupView) -> list[tuple[str, Any]]:
        source = {
            "objectId": group.id,
            "displayName": group.display_name,
            "mailNickname": group.display_name.replace(" ", ""),
        }
        return [
            (a.target, evaluate(a.node, source))
            for a in self.rule.attributes
            if a.target.lower() != "members"
        ]

    async def sync(self, group: GroupView, member_ids: set[str]) -> list[GroupOutcome]:
        """Create or update one group, then its membership; return what was done."""
        try:
            return await self._sync(group, member_ids)
        except ScimRequestFailed as exc:
            return [
                GroupOutcome(
                    group.id,
                    group.display_name,
                    "other",
                    "failure",
                    self.runtime.group_ids.get(group.id),
                    exc.error_code,
                    exc.reason,
                )
            ]

    async def _sync(self, group: GroupView, member_ids: set[str]) -> list[GroupOutcome]:
        values = [(t, v) for t, v in self._values(group) if v not in (None, "")]
        by_target = dict(values)
        found = None
        for attribute in self.rule.matching:
            value = by_target.get(attribute.target)
            if value is not None:
                hits = await self.client.query(
                    "Groups", attribute.target, str(value), excludedAttributes="members"
                )
                if hits:
                    found = hits[0]
                    break

        outcomes = []
        if found is None:
            if "Add" not in self.rule.flow_types:
                return []
            body: dict[str, Any] = {"schemas": [SCIM_GROUP, ADSCIM_GROUP]}
            body.update(
                {t: wire_value(parse_target(t), v, self.compliant) for t, v in values}
            )
            body["members"] = []
            created = await self.client.create("Groups", body)
            scim_id = str(created["id"])
            self.runtime.group_members[group.id] = set()
            outcomes.append(
                GroupOutcome(group.id, group.display_name, "create", "success", scim_id)
            )
        else:
            scim_id = str(found["id"])
            changes = [
                (t, v) for t, v in values if not same(v, read(found, parse_target(t)))
            ]
            if changes and "Update" in self.rule.flow_types:
                ops = [
                    {
                        "op": "replace" if self.compliant else "Replace",
                        "path": t,
                        "value": v,
                    }
                    for t, v in changes
                ]
                await self.client.patch(
                    "Groups", scim_id, {"schemas": [PATCH_OP], "Operations": ops}
                )
                outcomes.append(
                    GroupOutcome(
                        group.id, group.display_name, "update", "success", scim_id
                    )
                )
        self.runtime.group_ids[group.id] = scim_id

        previous = self.runtime.group_members.get(group.id, set())
        ops = _member_ops(member_ids - previous, previous - member_ids, self.compliant)
        if ops and "Update" in self.rule.flow_types:
            await self.client.patch(
                "Groups", scim_id, {"schemas": [PATCH_OP], "Operations": ops}
            )
            self.runtime.group_members[group.id] = set(member_ids)
            if not outcomes:
                outcomes.append(
                    GroupOutcome(
                        group.id, group.display_name, "update", "success", scim_id
                    )
                )
        return outcomes

    async def remove(self, group_id: str) -> GroupOutcome | None:
        """DELETE a group that left scope (if the mapping allows Delete)."""
        scim_id = self.runtime.group_ids.pop(group_id, None)
        self.runtime.group_members.pop(group_id, None)
        if scim_id is None or "Delete" not in self.rule.flow_types:
            return None
        try:
            await self.client.delete("Groups", scim_id)
        except ScimRequestFailed as exc:
            if exc.status != 404:
                return GroupOutcome(
                    group_id,
                    group_id,
                    "delete",
                    "failure",
                    scim_id,
                    exc.error_code,
                    exc.reason,
                )
        return GroupOutcome(group_id, group_id, "delete", "success", scim_id)
