"""`python -m extreme3d` is the `extreme3d` command."""

from extreme3d.cli import main

raise SystemExit(main())
