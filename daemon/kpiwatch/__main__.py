"""``python -m kpiwatch`` runs the command-line interface."""

from kpiwatch.cli import main

raise SystemExit(main())
