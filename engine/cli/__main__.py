"""`python -m engine.cli`: how the dashboard and the job worker start engine commands."""

import sys

from engine.cli import main

sys.exit(main())
