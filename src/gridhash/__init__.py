"""gridhash: plan, run and settle a power plant shared between the grid and Bitcoin mining."""

__version__ = "0.1.0"
