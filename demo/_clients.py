"""HTTP clients the demo plays its parts with: Entra admin, Graph, Prompt admin/SCIM.

The emulator's /_emulator API stands in for the Entra admin center (directory
changes, "run a cycle now"); Graph calls are the ones the portal makes; Prompt is
read through its admin API and SCIM with a read code issued to the demo (never shown).
"""

from __future__ import annotations

from typing import Any

import httpx

PROMPT_EXT = "urn:prompt:params:scim:schemas:extension:prompt:2.0:User"


class DemoFailed(Exception):
    """Something did not answer what the flow expects; the message says what."""


def _json(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 300:
        detail = response.text[:300].replace("\n", " ")
        raise DemoFailed(f"{what}: HTTP {response.status_code}: {detail}")
    return response.json() if response.content else None


class EntraAdmin:
    """The emulated tenant: its admin API and its Graph surface."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=300)

    def close(self) -> None:
        self.http.close()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self.http.request(method, f"/_emulator{path}", json=body)
        return _json(response, f"emulator {method} {path}")

    def graph(self, method: str, path: str) -> Any:
        response = self.http.request(method, f"/v1.0{path}")
        return _json(response, f"Graph {method} {path}")

    def job(self) -> dict[str, Any]:
        jobs = self.admin("GET", "/jobs")["value"]
        if len(jobs) != 1:
            raise DemoFailed(f"expected one provisioning job, found {len(jobs)}")
        job: dict[str, Any] = jobs[0]
        return job

    def cycle(self) -> dict[str, Any]:
        """Run a provisioning cycle now (Entra would run it within 40 minutes)."""
        summary: dict[str, Any] = self.admin("POST", f"/jobs/{self.job()['id']}/cycle")
        return summary

    def unassign(self, upn: str) -> str:
        """Remove the user's direct assignment, as "Users and groups > Remove" does."""
        user_id = self.admin("GET", f"/users/{upn}")["id"]
        sp = self.job()["servicePrincipalId"]
        assignments = self.graph("GET", f"/servicePrincipals/{sp}/appRoleAssignedTo")
        for assignment in assignments["value"]:
            if assignment["principalId"] == user_id:
                self.graph(
                    "DELETE",
                    f"/servicePrincipals/{sp}/appRoleAssignedTo/{assignment['id']}",
                )
                return str(assignment["principalDisplayName"])
        raise DemoFailed(f"{upn} is not assigned to the application directly")


class Prompt:
    """Prompt's side: the admin API (admin key) and SCIM reads (a demo code)."""

    def __init__(self, url: str, admin_key: str) -> None:
        self.admin_http = httpx.Client(
            base_url=f"{url}/admin",
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=60,
        )
        self.scim: httpx.Client | None = None
        self.url = url

    def close(self) -> None:
        self.admin_http.close()
        if self.scim is not None:
            self.scim.close()

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        response = self.admin_http.request(method, path, json=body)
        return _json(response, f"Prompt admin {method} {path}")

    def organisation(self, slug: str) -> dict[str, Any]:
        org: dict[str, Any] = self.admin("GET", f"/organisations/{slug}")
        return org

    def open_scim(self, slug: str) -> None:
        """Issue a code labelled demo-viewer for reading users (kept in memory only)."""
        issued = self.admin(
            "POST", f"/organisations/{slug}/tokens", {"label": "demo-viewer"}
        )
        self.scim = httpx.Client(
            base_url=f"{self.url}/scim/v2",
            headers={"Authorization": f"Bearer {issued['secret']}"},
            timeout=60,
        )

    def count(self) -> int:
        assert self.scim is not None
        body = _json(self.scim.get("/Users", params={"count": 0}), "SCIM count")
        return int(body["totalResults"])

    def users(self) -> dict[str, dict[str, Any]]:
        """Every user of the organisation, by SCIM id (paged, RFC 7644 3.4.2.4)."""
        assert self.scim is not None
        found: dict[str, dict[str, Any]] = {}
        start = 1
        while True:
            page = _json(
                self.scim.get("/Users", params={"startIndex": start, "count": 200}),
                "SCIM list users",
            )
            resources = page.get("Resources") or []
            for user in resources:
                found[user["id"]] = user
            start += len(resources)
            if not resources or start > int(page["totalResults"]):
                return found

    def audit_actions(self, slug: str, after_id: int) -> list[dict[str, Any]]:
        """Resource events newer than `after_id`, oldest first."""
        page = self.admin("GET", f"/organisations/{slug}/audit?limit=1000")
        events = [
            e
            for e in page["events"]
            if e["id"] > after_id and str(e["action"]).startswith("resource.")
        ]
        return list(reversed(events))

    def last_event_id(self, slug: str) -> int:
        page = self.admin("GET", f"/organisations/{slug}/audit?limit=1")
        return int(page["events"][0]["id"]) if page["events"] else 0
