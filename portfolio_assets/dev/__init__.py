"""For developers: the generated sample world (`sample.py`, also `portfolio-assets sample`)
and the benchmark (`python -m portfolio_assets.dev.benchmark`)."""

__all__: list[str] = []
