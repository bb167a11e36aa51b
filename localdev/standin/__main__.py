"""`python -m localdev.standin`: run the stand-in on its own until Ctrl-C."""

import sys

from localdev.standin import main

sys.exit(main())
