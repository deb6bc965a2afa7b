"""``python -m gui …`` = ``satwin gui …``, also from a checkout where the entry point is not installed."""

import sys

from gui.cli import register
from twin import cli

register(cli.app)
sys.argv[1:1] = [] if sys.argv[1:2] == ["gui"] else ["gui"]
cli.main()
