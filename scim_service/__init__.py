"""Prompt's SCIM 2.0 service (RFC 7643/7644), as Entra ID provisioning calls it."""
