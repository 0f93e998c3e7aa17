"""``python -m childspace`` runs the ``childspace`` command."""

from childspace.run.cli import main

raise SystemExit(main())
