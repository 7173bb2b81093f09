"""`python -m cli` runs the tierline command."""

from cli.main import main

main()
