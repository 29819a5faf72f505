"""The words that name SCIM endpoints in a path (RFC 7644 section 3.2).

Shared by the router, which reads them as endpoints, and the store, which keeps
them from naming an organisation: /scim/v2/{word}/Users would never reach it.
"""

from __future__ import annotations

# First path segments that name a SCIM endpoint (compared case-insensitively),
# mapped to the endpoint; anything else in first position is an organisation.
ENDPOINTS = {
    "users": "Users",
    "groups": "Groups",
    "serviceproviderconfig": "ServiceProviderConfig",
    "serviceproviderconfigs": "ServiceProviderConfig",
    "schemas": "Schemas",
    "resourcetypes": "ResourceTypes",
    "bulk": "Bulk",
    ".search": ".search",
    "me": "Me",
}
