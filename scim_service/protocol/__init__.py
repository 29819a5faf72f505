"""SCIM protocol rules with no I/O: schemas, filters, PATCH, resource shaping.

RFC 7643 (core schema) and RFC 7644 (protocol), plus what Entra ID really sends
(see README "Entra compatibility"). Every function here is pure: it takes and
returns plain JSON-like dicts and raises ScimError for input it refuses.
"""
