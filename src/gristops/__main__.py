"""`python -m gristops` runs the CLI."""

from gristops.cli.main import main

main()
