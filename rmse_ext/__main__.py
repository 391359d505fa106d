"""``python -m rmse_ext``: the demonstration (see rmse_ext.demo)."""
import sys

from .demo import main

if __name__ == "__main__":
    sys.exit(main())
