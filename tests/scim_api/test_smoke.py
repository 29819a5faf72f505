import uuid

import httpx

from tests.scim_api._server import SCIM_JSON


def test_probe_with_random_guid_answers_empty_list(acme: httpx.Client) -> None:
    for path, attr in (("/Users", "userName"), ("/Groups", "displayName")):
        r = acme.get(path, params={"filter": f'{attr} eq "{uuid.uuid4()}"'})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == SCIM_JSON
        assert r.json()["totalResults"] == 0
        assert r.json()["Resources"] == []
