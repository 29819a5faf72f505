"""Entra's provisioning cycles, emulated, into the real SCIM service (issue 4).

Each test runs for both PATCH shapes (see conftest). The directory is changed
through the emulator's admin API, assignments through `prompt-provision apply`,
and Prompt is read through its SCIM endpoint and admin audit API.
"""

from __future__ import annotations

from typing import Any

import pytest

from ._stack import ASSIGNED_ENABLED, FLAG, PROMPT_EXT, SLUG, Stack, Wire

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def resource_events(stack: Stack) -> list[dict[str, Any]]:
    return [e for e in stack.audit() if e["action"].startswith("resource.")]


def patches(stack: Stack) -> list[Wire]:
    return [w for w in stack.wire.writes() if w.method == "PATCH"]


def active_value(stack: Stack, value: bool) -> bool | str:
    """`active` on the wire: a JSON boolean with the flag, "True"/"False" without."""
    if stack.flag:
        return value
    return "True" if value else "False"


def after_first_cycle(stack: Stack) -> dict[str, dict[str, Any]]:
    summary = stack.cycle()
    assert summary["state"] == "Succeeded", summary
    stack.wire.clear()
    return stack.users()


def test_initial_cycle_creates_exactly_the_assigned_enabled_users(
    stack: Stack,
) -> None:
    summary = stack.cycle()

    # dave is disabled, erin unassigned, frank only in a nested group (not expanded).
    users = stack.users()
    assert sorted(users) == ASSIGNED_ENABLED
    assert (summary["state"], summary["created"], summary["writes"]) == (
        "Succeeded",
        3,
        3,
    )
    for upn, user in users.items():
        source = stack.emulator.user(upn)
        props = source.properties
        assert user["externalId"] == source.id
        assert user["displayName"] == props["displayName"]
        assert user["name"] == {
            "givenName": props["givenName"],
            "familyName": props["surname"],
        }
        assert user["emails"] == [
            {"type": "work", "primary": True, "value": props["mail"]}
        ]
        assert user["active"] is True
        assert user[PROMPT_EXT] == {"department": "Nursing", "section": "Ward 3"}

    posts = stack.wire.writes()
    assert [w.method for w in posts] == ["POST"] * 3
    assert {w.body["active"] for w in posts} == {active_value(stack, True)}
    created = [e for e in resource_events(stack) if e["action"] == "resource.create"]
    assert sorted(e["after"]["userName"] for e in created) == ASSIGNED_ENABLED
    assert {e["actor_kind"] for e in created} == {"scim"}


def test_unchanged_cycle_sends_no_writes(stack: Stack) -> None:
    after_first_cycle(stack)
    events_before = len(stack.audit())

    summary = stack.cycle()

    assert summary["writes"] == 0
    assert summary["state"] == "Succeeded"
    assert stack.wire.writes() == []
    assert {w.method for w in stack.wire.requests} == {"GET"}
    assert len(stack.audit()) == events_before


def test_attribute_change_sends_one_patch(stack: Stack) -> None:
    before = after_first_cycle(stack)["alice@example.org"]

    stack.emu(
        "PATCH",
        "/users/alice@example.org",
        {"surname": "Liddell", "displayName": "Alice Liddell"},
    )
    summary = stack.cycle()

    (patch,) = patches(stack)
    assert patch.path == f"/scim/v2/Users/{before['id']}"
    assert (summary["updated"], summary["writes"]) == (1, 1)
    operations = patch.body["Operations"]
    assert patch.body["schemas"] == [PATCH_OP]
    if stack.flag:
        # Several single-valued replaces collapse into one path-less op.
        assert operations == [
            {
                "op": "replace",
                "value": {"displayName": "Alice Liddell", "name.familyName": "Liddell"},
            }
        ]
    else:
        assert sorted(operations, key=lambda op: op["path"]) == [
            {"op": "Replace", "path": "displayName", "value": "Alice Liddell"},
            {"op": "Replace", "path": "name.familyName", "value": "Liddell"},
        ]
    after = stack.users()["alice@example.org"]
    assert (after["id"], after["displayName"]) == (before["id"], "Alice Liddell")
    assert after["name"]["familyName"] == "Liddell"
    assert after[PROMPT_EXT] == before[PROMPT_EXT]

    stack.wire.clear()
    assert stack.cycle()["writes"] == 0
    assert stack.wire.writes() == []


def test_disable_and_unassign_deactivate_and_keep_the_users(stack: Stack) -> None:
    before = after_first_cycle(stack)

    stack.emu("POST", "/users/bob@example.org/disable")
    stack.emu("DELETE", "/groups/Prompt Users/members/carol@example.org")
    # alice loses her direct assignment: apply unassigns what the file no longer lists.
    stack.org_file.write_text(
        stack.org_file.read_text().replace(
            "  users:\n    - alice@example.org\n", "  users: []\n"
        )
    )
    stack.apply()
    summary = stack.cycle()

    assert summary["disabled"] == 3
    assert [w.method for w in stack.wire.writes()] == ["PATCH"] * 3
    for wire in patches(stack):
        active = [op for op in wire.body["Operations"] if op.get("path") == "active"]
        assert [op["value"] for op in active] == [active_value(stack, False)]
    users = stack.users()
    assert sorted(users) == ASSIGNED_ENABLED  # still present
    for upn in ASSIGNED_ENABLED:
        assert users[upn]["active"] is False
        assert users[upn]["id"] == before[upn]["id"]
        (found,) = stack.find(upn)  # still found by the matching filter
        assert found["active"] is False
        by_id = stack.reader.get(f"/Users/{before[upn]['id']}")
        assert by_id.status_code == 200
        assert by_id.json()["active"] is False

    stack.wire.clear()
    assert stack.cycle()["writes"] == 0
    assert stack.wire.writes() == []


def test_re_enable_reactivates_the_same_user(stack: Stack) -> None:
    before = after_first_cycle(stack)["bob@example.org"]
    stack.emu("POST", "/users/bob@example.org/disable")
    stack.cycle()
    assert stack.users()["bob@example.org"]["active"] is False
    stack.wire.clear()

    stack.emu("POST", "/users/bob@example.org/enable")
    summary = stack.cycle()

    (patch,) = patches(stack)
    assert patch.body["Operations"] == [
        {
            "op": "replace" if stack.flag else "Replace",
            "path": "active",
            "value": active_value(stack, True),
        }
    ]
    assert summary["updated"] == 1
    assert [w.method for w in stack.wire.writes()] == ["PATCH"]  # no new POST
    after = stack.users()["bob@example.org"]
    assert (after["id"], after["active"]) == (before["id"], True)


def test_hard_delete_archives_and_keeps_the_record(stack: Stack) -> None:
    before = after_first_cycle(stack)["carol@example.org"]

    stack.emu("DELETE", "/users/carol@example.org")
    summary = stack.cycle()

    assert summary["deleted"] == 1
    assert [(w.method, w.path, w.status) for w in stack.wire.writes()] == [
        ("DELETE", f"/scim/v2/Users/{before['id']}", 204)
    ]
    assert stack.reader.get(f"/Users/{before['id']}").status_code == 404
    assert stack.find("carol@example.org") == []
    assert "carol@example.org" not in stack.users()
    trail = stack.audit(resource_id=before["id"])
    assert [e["action"] for e in trail] == ["resource.create", "resource.archive"]
    assert trail[0]["after"]["userName"] == "carol@example.org"

    stack.wire.clear()
    assert stack.cycle()["writes"] == 0


def test_group_assignment_provisions_direct_members_only(stack: Stack) -> None:
    after_first_cycle(stack)
    stack.emu("POST", "/users", _new_user("gina"))
    stack.emu("POST", "/users", _new_user("hugo"))
    stack.emu("POST", "/groups/Prompt Users/members", {"member": "gina@example.org"})
    stack.emu("POST", "/groups/Contractors/members", {"member": "hugo@example.org"})

    summary = stack.cycle()

    assert summary["created"] == 1
    users = stack.users()
    assert "gina@example.org" in users
    assert "hugo@example.org" not in users  # nested group: not expanded (MS-HOW)
    assert users["gina@example.org"][PROMPT_EXT] == {
        "department": "Nursing",
        "section": "Ward 3",
    }


def _new_user(nick: str) -> dict[str, Any]:
    return {
        "userPrincipalName": f"{nick}@example.org",
        "displayName": f"{nick.title()} New",
        "givenName": nick.title(),
        "surname": "New",
        "mail": f"{nick}@example.org",
    }


def test_wrong_token_quarantines_and_rotate_token_lifts_it(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    after_first_cycle(stack)
    entra_codes = [
        t["id"]
        for t in stack.admin("GET", f"/organisations/{SLUG}/tokens")
        if t["label"] != "t" and not t["revoked"]
    ]
    for token_id in entra_codes:  # Entra's code no longer opens Prompt
        stack.admin("DELETE", f"/organisations/{SLUG}/tokens/{token_id}")
    stack.emu("POST", "/users/bob@example.org/disable")

    summary = stack.cycle()

    assert summary["quarantined"] is True
    assert summary["state"] == "Failed"
    assert stack.wire.writes() == []
    capsys.readouterr()
    assert stack.provision("status", str(stack.org_file)) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert "UNHEALTHY" in out
    assert "quarantined" in out
    assert "CredentialValidationFailure" in out or "Secret Token" in out

    assert stack.provision("rotate-token", str(stack.org_file)) == 0
    summary = stack.cycle()

    assert summary["state"] == "Succeeded"
    assert summary["disabled"] == 1
    assert stack.users()["bob@example.org"]["active"] is False
    capsys.readouterr()
    assert stack.provision("status", str(stack.org_file)) == 0
    assert "healthy" in capsys.readouterr().out


def test_the_flag_reaches_entra_as_the_tenant_url(stack: Stack) -> None:
    (sp,) = stack.emulator.state()["servicePrincipals"]
    base = stack.emulator.secret_values(sp["id"])["BaseAddress"]

    assert base == f"{stack.prompt_url}/scim/v2" + (f"?{FLAG}" if stack.flag else "")
