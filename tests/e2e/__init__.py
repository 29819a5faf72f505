"""End-to-end tests: organisation file -> Entra emulator -> SCIM service."""
