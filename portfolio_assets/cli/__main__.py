"""`python -m portfolio_assets.cli`: the `portfolio-assets` command."""

import sys

from .main import main

__all__: list[str] = []

sys.exit(main())
