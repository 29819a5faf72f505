"""Tests of the pure SCIM protocol layer (scim_service.protocol)."""
