"""`python -m bncert_tui` is what the cron entry runs: an absolute interpreter path never goes stale."""

from bncert_tui.cli import main

raise SystemExit(main())
