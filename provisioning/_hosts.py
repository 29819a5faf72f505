"""Which hosts are this machine: where plain http, anonymous Graph and the admin key
need no further permission (the emulator, the tests, the demo).
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str) -> bool:
    """Return whether `host` (a URL's hostname) is localhost, 127.0.0.0/8 or ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
