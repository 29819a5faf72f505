"""HTTP layer of the SCIM service: SCIM routes, admin API, health and metrics."""

from scim_service.api.app import create_app

__all__ = ["create_app"]
