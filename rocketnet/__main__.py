"""`python -m rocketnet`: the rocketnet command (shim.cli), as the installed script."""
import sys

from shim.cli import main

sys.exit(main())
