"""``python -m rmse_ext``: the command line (see rmse_ext.cli); with no
arguments, the demonstration."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
