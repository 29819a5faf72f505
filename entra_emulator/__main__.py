"""`python -m entra_emulator` runs the `entra-emulator` command line."""

from .cli import main

main()
