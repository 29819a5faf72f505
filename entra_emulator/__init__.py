"""A local stand-in for Microsoft Graph and Entra's provisioning service, for tests."""
