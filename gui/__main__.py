"""``python -m gui …`` = ``satwin gui …``, also from a checkout where the entry point is not installed."""

import sys

from gui.cli import register
from twin.app import cli

if __name__ == "__main__":  # a spawned worker process imports this module too: it must not start a GUI
    register(cli.app)
    sys.argv[1:1] = [] if sys.argv[1:2] == ["gui"] else ["gui"]
    cli.main()
