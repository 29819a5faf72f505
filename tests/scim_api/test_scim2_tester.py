"""The peer suite scim2-tester (python-scim) against the live service."""

from __future__ import annotations

from collections import Counter

import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server
from scim2_tester.utils import Status

from tests.scim_api._server import Service


def test_scim2_tester_finds_no_error(service: Service) -> None:
    service.organisation("peer")
    headers = {"Authorization": f"Bearer {service.token('peer')}"}
    with httpx2.Client(base_url=service.scim, headers=headers, timeout=10) as http:
        client = SyncSCIMClient(http)
        client.discover()
        results = check_server(client)

    counts = Counter(result.status.name for result in results)
    failures = [
        f"{r.status.name} {r.title}: {r.reason}"
        for r in results
        if r.status in (Status.ERROR, Status.CRITICAL)
    ]
    skipped = [f"{r.title}: {r.reason}" for r in results if r.status == Status.SKIPPED]
    print(dict(counts), *skipped, sep="\n")
    assert counts["SUCCESS"] > 50
    assert failures == [], "\n".join(failures)
