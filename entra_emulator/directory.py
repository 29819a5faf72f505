"""The emulated tenant directory: users and groups as Graph v1.0 shows them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from .errors import AdminRequestInvalid, NotFound

# Graph user properties the emulator stores (camelCase, as on the wire).
USER_PROPERTIES = (
    "userPrincipalName",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "accountEnabled",
    "department",
    "jobTitle",
    "employeeId",
    "preferredLanguage",
    "officeLocation",
    "mobilePhone",
    "city",
    "country",
    "state",
    "streetAddress",
    "postalCode",
    "companyName",
)

# Graph answers GET /users without $select with this default property set only.
DEFAULT_USER_SELECT = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


@dataclass
class User:
    """One directory user; `soft_deleted` users sit in the recycle bin."""

    id: str
    properties: dict[str, Any]
    soft_deleted: bool = False

    @property
    def upn(self) -> str:
        return str(self.properties["userPrincipalName"])

    @property
    def enabled(self) -> bool:
        return bool(self.properties.get("accountEnabled", True))

    def graph_json(self) -> dict[str, Any]:
        """Return every stored property the way Graph names them."""
        body: dict[str, Any] = {"id": self.id, "businessPhones": []}
        for name in USER_PROPERTIES:
            body[name] = self.properties.get(name)
        return body

    def admin_json(self) -> dict[str, Any]:
        return {**self.graph_json(), "softDeleted": self.soft_deleted}


@dataclass
class Group:
    """One security group; `members` holds user or group object ids (direct only)."""

    id: str
    display_name: str
    description: str | None = None
    members: list[str] = field(default_factory=list)

    def graph_json(self) -> dict[str, Any]:
        nickname = "".join(ch for ch in self.display_name if ch.isalnum()) or "group"
        return {
            "id": self.id,
            "displayName": self.display_name,
            "description": self.description,
            "mailNickname": nickname,
            "mailEnabled": False,
            "securityEnabled": True,
            "groupTypes": [],
        }

    def admin_json(self) -> dict[str, Any]:
        return {**self.graph_json(), "members": list(self.members)}


def _clean_user_properties(data: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(data) - set(USER_PROPERTIES) - {"id"})
    if unknown:
        raise AdminRequestInvalid(
            f"Unknown user properties {unknown}; allowed: {', '.join(USER_PROPERTIES)}."
        )
    return {key: value for key, value in data.items() if key != "id"}


class Directory:
    """Users and groups of the emulated tenant; callers hold the emulator lock."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}

    def add_user(self, data: dict[str, Any]) -> User:
        """Create a user; userPrincipalName is required and unique."""
        props = _clean_user_properties(data)
        upn = props.get("userPrincipalName")
        if not isinstance(upn, str) or "@" not in upn:
            raise AdminRequestInvalid(
                "A user needs a userPrincipalName like a@b.example."
            )
        if self.find_user_by_upn(upn, include_deleted=True) is not None:
            raise AdminRequestInvalid(f"A user with userPrincipalName {upn} exists.")

        props.setdefault("displayName", upn.split("@")[0])
        props.setdefault("mailNickname", upn.split("@")[0])
        props.setdefault("accountEnabled", True)
        user_id = str(data.get("id") or uuid.uuid4())
        if user_id in self.users or user_id in self.groups:
            raise AdminRequestInvalid(f"Object id {user_id} is already used.")
        user = User(id=user_id, properties=props)
        self.users[user.id] = user
        return user

    def update_user(self, ref: str, changes: dict[str, Any]) -> User:
        user = self.user(ref, include_deleted=True)
        props = _clean_user_properties(changes)
        new_upn = props.get("userPrincipalName")
        changed = isinstance(new_upn, str) and new_upn.lower() != user.upn.lower()
        if changed and self.find_user_by_upn(str(new_upn), include_deleted=True):
            raise AdminRequestInvalid(
                f"A user with userPrincipalName {new_upn} exists."
            )
        user.properties.update(props)
        return user

    def hard_delete_user(self, ref: str) -> User:
        """Remove a user for good, and from every group."""
        user = self.user(ref, include_deleted=True)
        del self.users[user.id]
        for group in self.groups.values():
            if user.id in group.members:
                group.members.remove(user.id)
        return user

    def find_user_by_upn(
        self, upn: str, *, include_deleted: bool = False
    ) -> User | None:
        for user in self.users.values():
            if user.upn.lower() == upn.lower() and (
                include_deleted or not user.soft_deleted
            ):
                return user
        return None

    def user(self, ref: str, *, include_deleted: bool = False) -> User:
        """Return the user with this object id or userPrincipalName."""
        user = self.users.get(ref)
        if user is None and "@" in ref:
            user = self.find_user_by_upn(ref, include_deleted=True)
        if user is None or (user.soft_deleted and not include_deleted):
            raise NotFound(f"No user {ref!r} in the emulated directory.")
        return user

    def add_group(
        self, display_name: str, members: list[str], group_id: str | None = None
    ) -> Group:
        if not display_name:
            raise AdminRequestInvalid("A group needs a displayName.")
        gid = group_id or str(uuid.uuid4())
        if gid in self.groups or gid in self.users:
            raise AdminRequestInvalid(f"Object id {gid} is already used.")
        group = Group(id=gid, display_name=display_name)
        self.groups[gid] = group
        for member in members:
            self.add_member(gid, member)
        return group

    def group(self, ref: str) -> Group:
        """Return the group with this object id or displayName."""
        group = self.groups.get(ref)
        if group is None:
            group = next(
                (g for g in self.groups.values() if g.display_name == ref), None
            )
        if group is None:
            raise NotFound(f"No group {ref!r} in the emulated directory.")
        return group

    def add_member(self, group_ref: str, member_ref: str) -> Group:
        """Add a user (id or UPN) or a group (id or name) as a direct member."""
        group = self.group(group_ref)
        member_id = self._member_id(member_ref)
        if member_id == group.id:
            raise AdminRequestInvalid("A group cannot be a member of itself.")
        if member_id not in group.members:
            group.members.append(member_id)
        return group

    def remove_member(self, group_ref: str, member_ref: str) -> Group:
        group = self.group(group_ref)
        member_id = self._member_id(member_ref)
        if member_id in group.members:
            group.members.remove(member_id)
        return group

    def delete_group(self, ref: str) -> Group:
        group = self.group(ref)
        del self.groups[group.id]
        for other in self.groups.values():
            if group.id in other.members:
                other.members.remove(group.id)
        return group

    def _member_id(self, ref: str) -> str:
        if ref in self.users or ref in self.groups:
            return ref
        if "@" in ref:
            return self.user(ref, include_deleted=True).id
        return self.group(ref).id
