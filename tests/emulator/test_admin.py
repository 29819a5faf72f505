"""The admin API under /_emulator, the seed file and the sample tenant generator."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from entra_emulator.directory import Directory
from entra_emulator.errors import SeedFileInvalid
from entra_emulator.seed import generate_tenant, load_into, load_seed_file

from .graph_sdk import HTTP, TEMPLATE


def test_directory_changes_through_admin_api(graph_url: str) -> None:
    admin = graph_url + "/_emulator"
    created = HTTP.post(
        admin + "/users",
        json={"userPrincipalName": "new.person@contoso.example", "department": "Ops"},
    )
    assert created.status_code == 201
    user_id = created.json()["id"]

    renamed = HTTP.patch(f"{admin}/users/{user_id}", json={"displayName": "New P."})
    assert renamed.json()["displayName"] == "New P."
    disabled = HTTP.post(admin + "/users/new.person@contoso.example/disable")
    assert disabled.json()["accountEnabled"] is False
    graph_user = HTTP.get(
        f"{graph_url}/v1.0/users/{user_id}", params={"$select": "accountEnabled"}
    )
    assert graph_user.json() == {"accountEnabled": False}

    group = HTTP.post(
        admin + "/groups", json={"displayName": "Ops", "members": [user_id]}
    )
    assert group.json()["members"] == [user_id]
    HTTP.delete(f"{admin}/groups/Ops/members/{user_id}")
    assert HTTP.get(admin + "/groups/Ops").json()["members"] == []

    assert (
        HTTP.post(f"{admin}/users/{user_id}/soft-delete").json()["softDeleted"] is True
    )
    assert HTTP.get(f"{graph_url}/v1.0/users/{user_id}").status_code == 404
    assert HTTP.post(f"{admin}/users/{user_id}/restore").json()["softDeleted"] is False
    assert HTTP.delete(f"{admin}/users/{user_id}").status_code == 200
    assert HTTP.get(f"{admin}/users/{user_id}").status_code == 404


def test_admin_api_refuses_bad_input(graph_url: str) -> None:
    admin = graph_url + "/_emulator"
    assert (
        HTTP.post(admin + "/users", json={"displayName": "no upn"}).status_code == 400
    )
    unknown = HTTP.post(
        admin + "/users", json={"userPrincipalName": "a@b.example", "shoeSize": 44}
    )
    assert unknown.status_code == 400
    assert "shoeSize" in unknown.json()["error"]
    assert HTTP.post(admin + "/users/nobody@x.example/disable").status_code == 404


def test_state_writes_and_reset(graph_url: str) -> None:
    admin = graph_url + "/_emulator"
    HTTP.post(
        f"{graph_url}/v1.0/applicationTemplates/{TEMPLATE}/instantiate",
        json={"displayName": "Prompt"},
    )
    HTTP.get(f"{graph_url}/v1.0/servicePrincipals")

    state = HTTP.get(admin + "/state").json()
    assert [a["displayName"] for a in state["applications"]] == ["Prompt"]
    assert state["writes"]["total"] == 1
    assert HTTP.get(admin + "/requests").json()["GET /servicePrincipals"] == 1

    HTTP.post(admin + "/writes/reset")
    assert HTTP.get(admin + "/writes").json() == {"total": 0, "byRoute": {}}

    HTTP.post(admin + "/reset")
    state = HTTP.get(admin + "/state").json()
    assert state["applications"] == []
    assert len(state["users"]) == 6  # the seed directory is back


def test_seed_file_round_trip(tmp_path: Path) -> None:
    data = generate_tenant(300, 5, disabled=3)
    path = tmp_path / "tenant.yaml"
    path.write_text(yaml.safe_dump(data))

    loaded = load_seed_file(path)
    directory = Directory()
    load_into(directory, loaded)

    assert len(directory.users) == 300
    assert sum(not u.enabled for u in directory.users.values()) == 3
    assert len({u.upn for u in directory.users.values()}) == 300
    assert [len(g.members) for g in directory.groups.values()] == [60] * 5


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("users: {}", "must be a list"),
        ("people: []", "users: and groups:"),
        ("users:\n  - displayName: x", "userPrincipalName"),
        ("groups:\n  - displayName: G\n    members: [ghost@x.example]", "ghost"),
    ],
)
def test_seed_file_errors_name_the_problem(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SeedFileInvalid, match=why):
        load_seed_file(path)
