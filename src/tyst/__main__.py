"""``python -m tyst`` runs the command line (used to start service processes)."""

from tyst.cli import main

main()
