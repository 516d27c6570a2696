"""`python -m udl` is the `udl` command."""

import sys

from udl.cli import main

sys.exit(main())
