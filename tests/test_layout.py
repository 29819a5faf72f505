import importlib


def test_packages_import() -> None:
    for name in ("scim_service", "provisioning", "entra_emulator"):
        assert importlib.import_module(name).__doc__
