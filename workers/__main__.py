"""`python -m workers run`: the same as the `juice-worker` console script."""

from __future__ import annotations

import sys

from workers.entrypoint import main

if __name__ == "__main__":
    sys.exit(main())
