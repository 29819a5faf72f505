"""`make demo` (python -m demo): the whole flow of demo/flow.py."""

import sys

from demo.flow import main

sys.exit(main())
