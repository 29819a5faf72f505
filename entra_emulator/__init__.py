"""A local stand-in for Microsoft Graph and Entra's provisioning service, for tests."""

from .server import Emulator, EmulatorConfig

__all__ = ["Emulator", "EmulatorConfig"]
