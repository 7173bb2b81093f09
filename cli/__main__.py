"""`python -m tierline.cli` runs the tierline command."""

from tierline.cli.main import main

main()
