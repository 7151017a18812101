"""`python -m npe` is the `npe` command."""

import sys

from npe.cli import main

sys.exit(main())
