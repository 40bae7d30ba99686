"""``python -m plmscope``: the same command line as ``plmscope``."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
