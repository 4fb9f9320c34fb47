"""`python -m app`: the same as the `parseql` command."""

import sys

from app.cli import main

sys.exit(main())
