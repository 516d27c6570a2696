"""`python -m udl` is the `udl` command."""

import sys

from udl.app.cli import main

sys.exit(main())
