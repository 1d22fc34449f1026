"""Entry point for ``python -m litgen``."""

from litgen.cli import main

main()
