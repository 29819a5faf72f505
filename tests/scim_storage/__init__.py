"""Tests of scim_service.storage on SQLite and PostgreSQL."""
