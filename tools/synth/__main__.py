"""``python -m tools.synth``: see the package docstring."""

import sys

from tools.synth.cli import main

sys.exit(main())
